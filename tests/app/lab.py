"""A network lab for SIP tests: network namespaces joined by veth pairs, with nftables rules, that
the test makes and removes. Nothing in it can reach any address outside its namespaces (they have
no link to the host's interfaces), and faxbridge nodes, Kamailio, rtpengine or scanners run inside
them with `ip netns exec`."""
import json
import os
import random
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import time

import fbtest
from offramp_test import ALICE_HASH


def sh(*args, check=True):
    p = subprocess.run(list(args), capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError("%s: %s" % (" ".join(args), p.stderr))
    return p


class Lab:
    def __init__(self):
        self.tag = "%04x" % random.getrandbits(16)
        self.namespaces = []
        self.procs = []
        self.links = 0

    def ns(self, name):
        full = "fb%s-%s" % (self.tag, name)
        sh("ip", "netns", "add", full)
        self.namespaces.append(full)
        sh("ip", "-n", full, "link", "set", "lo", "up")
        return full

    def link(self, a, a_ip, b, b_ip):
        """A veth pair between namespaces a and b, with addresses "10.1.0.2/24" style."""
        self.links += 1
        ea, eb = "v%s%da" % (self.tag, self.links), "v%s%db" % (self.tag, self.links)
        sh("ip", "link", "add", ea, "netns", a, "type", "veth", "peer", "name", eb, "netns", b)
        for ns, dev, ip in ((a, ea, a_ip), (b, eb, b_ip)):
            sh("ip", "-n", ns, "addr", "add", ip, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        return ea, eb

    def resolver(self, ns, nameserver):
        """The DNS server processes in `ns` ask: `ip netns exec` mounts /etc/netns/NS/resolv.conf
        over /etc/resolv.conf (removed with the lab)."""
        d = os.path.join("/etc/netns", ns)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "resolv.conf"), "w") as f:
            f.write("nameserver %s\n" % nameserver)

    def route(self, ns, *args):
        sh("ip", "-n", ns, "route", "add", *args)

    def forward(self, ns):
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")

    def nft(self, ns, ruleset):
        p = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=ruleset, capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError("nft in %s: %s\n%s" % (ns, p.stderr, ruleset))

    def exec(self, ns, *args, **kw):
        return subprocess.run(["ip", "netns", "exec", ns, *args], capture_output=True, text=True, **kw)

    def spawn(self, ns, args, log_path, **kw):
        log = open(log_path, "w")
        p = subprocess.Popen(["ip", "netns", "exec", ns, *args], stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, **kw)
        self.procs.append((p, log))
        return p

    def close(self):
        for p, log in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
            log.close()
        for ns in self.namespaces:  # their veths go with them
            sh("ip", "netns", "del", ns, check=False)
            d = os.path.join("/etc/netns", ns)
            if os.path.isdir(d):
                shutil.rmtree(d, ignore_errors=True)


class LabNode:
    """A faxbridge node in a namespace: SMTP and HTTP on that namespace's loopback (2525, 8025
    unless told),
    SIP where `sip` says (fixed ports are fine: every namespace has its own)."""

    def __init__(self, lab, ns, workdir, sip, trunk, sip_extra="", trunk_extra="", extra="", smtp=2525, http=8025):
        self.lab, self.ns, self.dir = lab, ns, workdir
        self.smtp_port, self.http_port = smtp, http
        os.makedirs(workdir, exist_ok=True)
        cfg = ["[node]", 'data_dir = "%s"' % os.path.join(workdir, "var"), "",
               "[smtp]", 'listen = ["127.0.0.1:%d"]' % smtp, 'domains = ["fax.test"]', 'hostname = "fax.test"',
               'trusted_networks = ["127.0.0.0/8"]', "", "[[smtp.user]]", 'name = "alice"',
               'password_hash = "%s"' % ALICE_HASH, "",
               "[http]", 'listen = "127.0.0.1:%d"' % http, "",
               "[sip]", 'listen = ["udp:%s", "tcp:%s"]' % (sip, sip), sip_extra, "",
               "[[trunk]]", 'name = "t"', 'uri = "%s"' % trunk, trunk_extra, "", extra]
        self.config = os.path.join(workdir, "faxbridge.toml")
        with open(self.config, "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.log = os.path.join(workdir, "serve.log")
        self.proc = lab.spawn(ns, [fbtest.FAXBRIDGE, "serve", "--config", self.config], self.log, cwd=workdir)
        deadline = time.time() + 20
        while "faxbridge: ready" not in self.text():
            if time.time() > deadline or self.proc.poll() is not None:
                raise AssertionError("node in %s did not start: %s" % (ns, self.text()))
            time.sleep(0.1)

    def text(self):
        with open(self.log) as f:
            return f.read()

    def token(self):
        with open(os.path.join(self.dir, "var", "admin.token")) as f:
            return f.read().strip()

    def jobs(self):
        p = self.lab.exec(self.ns, fbtest.FAXBRIDGE, "jobs", "--json", "--server", "http://127.0.0.1:%d" % self.http_port,
                          "--config", self.config, timeout=30)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    def send_tiff(self, to, tif):
        code = ("import smtplib, email.message, sys\n"
                "m = email.message.EmailMessage()\n"
                "m['From'], m['To'], m['Subject'] = 'alice@example.com', %r, 'fax'\n"
                "m.add_attachment(open(%r, 'rb').read(), maintype='image', subtype='tiff', filename='f.tif')\n"
                "s = smtplib.SMTP('127.0.0.1', %d, timeout=30)\n"
                "assert s.send_message(m) == {}\n"
                "s.quit()\n") % (to, tif, self.smtp_port)
        p = self.lab.exec(self.ns, "python3", "-c", code, timeout=60)
        assert p.returncode == 0, p.stderr

    def send_many(self, numbers, tif):
        """One fax of `tif` to each number, in one SMTP session."""
        code = ("import smtplib, email.message\n"
                "data = open(%r, 'rb').read()\n"
                "s = smtplib.SMTP('127.0.0.1', %d, timeout=60)\n"
                "for n in %r:\n"
                "    m = email.message.EmailMessage()\n"
                "    m['From'], m['To'], m['Subject'] = 'alice@example.com', 'FAX=%%s@fax.test' %% n, 'fax'\n"
                "    m.add_attachment(data, maintype='image', subtype='tiff', filename='f.tif')\n"
                "    assert s.send_message(m) == {}\n"
                "s.quit()\n") % (tif, self.smtp_port, list(numbers))
        p = self.lab.exec(self.ns, "python3", "-c", code, timeout=300)
        assert p.returncode == 0, p.stderr

    def events(self, job_id):
        """The job's event lines, from the node's store."""
        with sqlite3.connect(os.path.join(self.dir, "var", "faxbridge.db")) as db:
            return [e for (e,) in db.execute("SELECT text FROM events WHERE job_id = ?", (job_id,))]

    def usage(self):
        """CPU seconds used so far and resident memory (kB) of the serve process."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        with open("/proc/%d/status" % self.proc.pid) as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return cpu, rss

    def settle(self, states, timeout=240):
        deadline = time.time() + timeout
        while time.time() < deadline:
            jobs = self.jobs()
            if jobs and all(j["state"] in states for j in jobs):
                return jobs
            time.sleep(0.5)
        raise AssertionError("did not settle: %s\n%s" % (self.jobs(), self.text()[-3000:]))
