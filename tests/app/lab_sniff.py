"""Counts the SIP responses a namespace's interface receives from one address (run inside the
namespace with `ip netns exec`): an AF_PACKET socket sees every IPv4/UDP datagram, whoever it is
for. Writes {"<dst ip>": {"<status>": count}} as JSON to the file given when SIGTERM comes."""
import json
import signal
import socket
import struct
import sys

src, out = sys.argv[1], sys.argv[2]
counts = {}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.settimeout(0.5)
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
with open(out + ".ready", "w") as f:
    f.write("1")
while running:
    try:
        frame = s.recv(65535)
    except socket.timeout:
        continue
    except InterruptedError:
        continue
    ip = frame[14:]
    if len(ip) < 28 or ip[9] != 17:
        continue
    if socket.inet_ntoa(ip[12:16]) != src:
        continue
    ihl = (ip[0] & 15) * 4
    payload = ip[ihl + 8:]
    if not payload.startswith(b"SIP/2.0 "):
        continue
    dst = socket.inet_ntoa(ip[16:20])
    status = payload[8:11].decode(errors="replace")
    counts.setdefault(dst, {}).setdefault(status, 0)
    counts[dst][status] += 1
with open(out, "w") as f:
    json.dump(counts, f)
