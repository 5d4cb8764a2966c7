"""A seeded UDP impairment relay between two faxbridge nodes (testing-peers.md: netem is not
available here).

The relay stands where node A's trunk points. SIP from A is forwarded to B and B's responses
(B answers the request's source, since our Via carries rport) go back to A's Via sent-by. Every
SDP body passing through has its media port swapped for a relay media port, so the UDPTL (or the
RTP of a G.711 call) of both directions flows through the relay too. Like an SBC's media relay it
is symmetric: each side receives the other's media from the very relay port it sends to (the
offer's and the answer's ports are paired per call and m-line), which symmetric latching
(media_session.hpp) relies on. There it is impaired: loss, delay with jitter
(which reorders), duplication, and an optional blackhole from a given moment (a peer that stops
sending). Loss and duplication are drawn per datagram from random.Random(seed) per direction,
so a 2% loss test really loses the same 2% of packets on every run.
"""
import heapq
import random
import re
import select
import socket
import threading
import time


class Impairment:
    def __init__(self, loss=0.0, delay_ms=0, jitter_ms=0, duplicate=0.0, blackhole_after_s=None, seed=1):
        self.loss, self.delay_ms, self.jitter_ms, self.duplicate = loss, delay_ms, jitter_ms, duplicate
        self.blackhole_after_s = blackhole_after_s
        self.seed = seed


def _udp(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind(("127.0.0.1", port))
    return s


class Relay:
    def __init__(self, b_sip_port, impairment):
        self.b = ("127.0.0.1", b_sip_port)
        self.imp = impairment
        self.sip = _udp()
        self.port = self.sip.getsockname()[1]
        self.media = {}  # relay media socket -> destination (the original media address)
        self.partner = {}  # relay media socket -> the one standing for the other side of its stream
        self.pending = {}  # Call-ID -> the relay sockets of an offer, waiting for the answer's
        self.rng = {}    # per-direction random streams
        self.queue = []  # (due, seq, socket, data, dest)
        self.seq = 0
        self.started = None  # first media datagram: the blackhole clock starts here
        self.stats = {"media": 0, "lost": 0, "duplicated": 0}
        self.stop_flag = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def close(self):
        self.stop_flag = True
        self.thread.join(5)
        self.sip.close()
        for s in self.media:
            s.close()

    def _rewrite_sdp(self, text):
        head, sep, body = text.partition("\r\n\r\n")
        if not sep or ("m=image" not in body and "m=audio" not in body):
            return text
        addr = re.search(r"^c=IN IP4 (\S+)", body, re.M).group(1)
        call = re.search(r"(?im)^(?:Call-ID|i):\s*(\S+)", head)
        call = call.group(1) if call else ""
        made = []

        def swap_port(m):
            if m.group(2) == "0":
                made.append(None)
                return m.group(0)  # a refused stream stays refused
            s = _udp()
            self.media[s] = (addr, int(m.group(2)))
            self.rng[s] = random.Random("%d-%d" % (self.imp.seed, len(self.rng)))
            made.append(s)
            return "m=%s %d %s" % (m.group(1), s.getsockname()[1], m.group(3))

        body = re.sub(r"m=(image|audio) (\d+) (udptl|RTP/AVP)", lambda m: swap_port(m), body)
        if text.startswith("SIP/2.0"):  # an answer: paired with its offer's ports, m-line by m-line
            for a, b in zip(self.pending.pop(call, []), made):
                if a is not None and b is not None:
                    self.partner[a], self.partner[b] = b, a
        else:
            self.pending[call] = made
        head = re.sub(r"(?im)^(Content-Length|l):.*$", "Content-Length: %d" % len(body.encode()), head)
        return head + sep + body

    def _sip(self, data, src):
        text = data.decode("utf-8", errors="surrogateescape")
        if text.startswith("SIP/2.0"):
            via = re.search(r"(?im)^(?:Via|v):\s*SIP/2.0/UDP\s+([^;:\s]+):(\d+)", text)
            dest = (via.group(1), int(via.group(2)))
        else:
            dest = self.b
        self.sip.sendto(self._rewrite_sdp(text).encode("utf-8", errors="surrogateescape"), dest)

    def _media(self, s, data, now):
        self.stats["media"] += 1
        if self.started is None:
            self.started = now
        if self.imp.blackhole_after_s is not None and now - self.started >= self.imp.blackhole_after_s:
            self.stats["lost"] += 1
            return
        rng = self.rng[s]
        lost = rng.random() < self.imp.loss
        dup = rng.random() < self.imp.duplicate
        delay = (self.imp.delay_ms + rng.uniform(0, self.imp.jitter_ms)) / 1000.0
        if lost:
            self.stats["lost"] += 1
            return
        for k in range(2 if dup else 1):
            self.seq += 1
            heapq.heappush(self.queue, (now + delay + 0.001 * k, self.seq, s, data, self.media[s]))
        if dup:
            self.stats["duplicated"] += 1

    def _run(self):
        while not self.stop_flag:
            now = time.monotonic()
            while self.queue and self.queue[0][0] <= now:
                _, _, s, data, dest = heapq.heappop(self.queue)
                self.partner.get(s, s).sendto(data, dest)
            wait = min(0.05, max(0.0, self.queue[0][0] - now)) if self.queue else 0.05
            ready, _, _ = select.select([self.sip, *self.media.keys()], [], [], wait)
            for s in ready:
                try:
                    data, src = s.recvfrom(65536)
                except OSError:
                    continue
                if s is self.sip:
                    self._sip(data, src)
                else:
                    self._media(s, data, time.monotonic())
