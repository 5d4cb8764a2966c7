"""SIP across real network paths, in network namespaces this test makes and removes (lab.py):

- NAT: a node behind an nftables masquerade (fully random source ports, only the SIP port
  forwarded) faxes to and receives from a node on the "public" side, both directions, with
  [sip] advertise and symmetric latching; without advertise the same call loses its ACK behind
  the NAT and is cut (shown once).
- A proxy: two nodes that can reach each other only through Kamailio (record-routing between
  two interfaces) and rtpengine (relaying the media between them), Kamailio also challenging
  every in-dialog request with 407 as a carrier's SBC does: a fax completes both ways, the ACK and
  BYE are seen passing the proxy, and our BYE and re-INVITE answer the challenge.
- DNS (RFC 3263): a trunk named only by its domain, located through dnsmasq's NAPTR, SRV and A
  records: the first SRV target refuses, the call goes to the next; OPTIONS find the dead address
  and, once every address is silent, the trunk down; the records change and the nodes follow
  them after their TTL; the DNS server dies and the node keeps what it knew."""
import json
import os
import threading
import time
import unittest

import fbtest
from fax_loss_test import FINAL_IN, FINAL_OUT
from lab import Lab, LabNode


def can_lab():
    return os.geteuid() == 0 and os.path.exists("/usr/sbin/nft")


class LabBase(fbtest.TempDirTest):
    def setUp(self):
        super().setUp()
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        if not can_lab():
            self.skipTest("needs root and nftables for network namespaces")
        self.lab = Lab()
        self.addCleanup(self.lab.close)
        self.one = self.path("one.tif")
        fbtest.run("convert", "-o", self.one, fbtest.itu_chart(1), check=0)
        self.two = self.path("two.tif")
        fbtest.run("convert", "-o", self.two, fbtest.itu_chart(1), fbtest.itu_chart(4), check=0)

    def wait_log(self, proc, log, text, timeout=20):
        """Polls `log` until it shows `text`, failing if `proc` exits or the time runs out."""
        deadline = time.time() + timeout
        while True:
            with open(log, errors="replace") as f:
                seen = f.read()
            if text in seen:
                return
            self.assertIsNone(proc.poll(), seen[-3000:])
            self.assertLess(time.time(), deadline, "%r not in %s: %s" % (text, log, seen[-3000:]))
            time.sleep(0.05)

    def poll(self, probe, done, timeout, context):
        """Calls `probe` until `done(value)` holds, failing with `context()` after `timeout`
        seconds; returns the value that satisfied it. The exact condition asserted, never a sleep."""
        deadline = time.time() + timeout
        while True:
            value = probe()
            if done(value):
                return value
            self.assertLess(time.time(), deadline, (value, context()))
            time.sleep(0.5)

    def last_job(self, node, timeout=240):
        """The node's newest job once it is final (FINAL_OUT)."""
        return self.poll(lambda: max(node.jobs(), key=lambda j: j["id"]), lambda j: j["state"] in FINAL_OUT, timeout,
                         lambda: node.text()[-3000:])

    def both(self, *fns):
        """Runs the functions at once; returns their results, raising the first error."""
        results, errors = {}, {}

        def run(i, fn):
            try:
                results[i] = fn()
            except Exception as e:  # raised below, once both ended
                errors[i] = e

        threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(fns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise next(iter(errors.values()))
        return [results[i] for i in range(len(fns))]


class NatLabTest(LabBase):
    def test_a_node_behind_nat_faxes_both_ways_with_advertise_and_latching(self):
        lab = self.lab
        pub, rtr, priv = lab.ns("pub"), lab.ns("rtr"), lab.ns("priv")
        rtr_pub, _ = lab.link(rtr, "198.51.100.254/24", pub, "198.51.100.1/24")
        lab.link(rtr, "10.77.0.1/24", priv, "10.77.0.2/24")
        lab.route(priv, "default", "via", "10.77.0.1")
        lab.forward(rtr)
        # A home/office router: only SIP forwarded in; everything out masqueraded to random ports
        # (so the media's source port is never the one the SDP names).
        lab.nft(rtr, """
table ip nat {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "%(pub)s" udp dport 5060 dnat to 10.77.0.2:5060
  }
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "%(pub)s" ip saddr 10.77.0.0/24 masquerade fully-random
  }
}
""" % {"pub": rtr_pub})
        p = LabNode(lab, pub, self.path("p"), "198.51.100.1:5060", "sip:198.51.100.254:5060")
        n = LabNode(lab, priv, self.path("n"), "10.77.0.2:5060", "sip:198.51.100.1:5060",
                    sip_extra='advertise = "198.51.100.254"')

        def n_to_p():
            n.send_tiff("FAX=+15550100@fax.test", self.one)
            return n.settle(FINAL_OUT)

        def p_to_n():
            p.send_tiff("FAX=+15550100@fax.test", self.one)
            return p.settle(FINAL_OUT)

        self.both(n_to_p, p_to_n)
        for node in (n, p):
            jobs = {j["direction"]: j for j in node.settle(FINAL_OUT + FINAL_IN)}
            out, inn = jobs["out"], jobs["in"]
            self.assertEqual((out["state"], out["pages_done"], out["bad_rows"]), ("done", 1, 0), (out, node.text()[-3000:]))
            self.assertEqual((inn["state"], inn["pages"], inn["bad_rows"]), ("done", 1, 0), (inn, node.text()[-3000:]))
        # Our INVITE from behind the NAT named the public address everywhere.
        self.assertNotIn("10.77.0.2", p.text())

        # The same node without advertise: its Contact names 10.77.0.2, which the public side
        # cannot reach, so the ACK of its 200 never arrives and the call is cut (RFC 3261 §13.3.1.4).
        n.proc.terminate()
        n.proc.wait(15)
        bare = LabNode(lab, priv, self.path("bare"), "10.77.0.2:5060", "sip:198.51.100.1:5060")
        p.send_tiff("FAX=+15550100@fax.test", self.two)
        last = self.last_job(p)
        self.assertNotEqual(last["state"], "done", (last, bare.text()[-3000:]))
        # The node that gave up on the ACK logs it as its call ends, which may be just after the
        # caller saw its BYE: waited for, not read once.
        self.wait_log(bare.proc, bare.log, "no ACK", timeout=60)


class DnsLabTest(LabBase):
    def dnsmasq(self, ns, b_ip, with_dead=True):
        args = ["dnsmasq", "--keep-in-foreground", "--no-daemon", "--no-resolv", "--no-hosts", "--user=root",
                "--pid-file=", "--conf-file=/dev/null", "--listen-address=10.78.0.1", "--bind-interfaces",
                "--local-ttl=10", "--log-queries", "--local=/carrier.test/",
                "--naptr-record=carrier.test,10,50,s,SIP+D2T,,_sip._tcp.carrier.test",
                "--naptr-record=carrier.test,20,50,s,SIP+D2U,,_sip._udp.carrier.test",
                "--srv-host=_sip._tcp.carrier.test,b.carrier.test,5060,20,0",
                "--srv-host=_sip._udp.carrier.test,b.carrier.test,5060,10,0",
                "--host-record=b.carrier.test,%s" % b_ip]
        if with_dead:
            args += ["--srv-host=_sip._tcp.carrier.test,dead.carrier.test,5060,10,0",
                     "--host-record=dead.carrier.test,10.78.0.13"]
        log = self.path("dnsmasq-%d.log" % len(self.lab.procs))
        p = self.lab.spawn(ns, args, log)
        self.wait_log(p, log, "started")
        return p

    def trunk(self, node):
        p = self.lab.exec(node.ns, "python3", "-c",
                          "import urllib.request; print(urllib.request.urlopen(urllib.request.Request("
                          "'http://127.0.0.1:%d/api/trunks', headers={'Authorization': 'Bearer %s'}), timeout=10).read().decode())"
                          % (node.http_port, node.token()), timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        [t] = json.loads(p.stdout)
        return t

    def test_a_trunk_named_by_its_domain_follows_naptr_srv_and_a_records(self):
        lab = self.lab
        pub, a = lab.ns("pub"), lab.ns("a")
        _, pub_if = lab.link(a, "10.78.0.2/24", pub, "10.78.0.1/24")
        for ip in ("10.78.0.11/24", "10.78.0.12/24", "10.78.0.13/24"):  # B, C, and an address where nothing listens
            lab.exec(pub, "ip", "addr", "add", ip, "dev", pub_if)
        lab.resolver(a, "10.78.0.1")
        dns = self.dnsmasq(pub, "10.78.0.11")
        b = LabNode(lab, pub, self.path("b"), "10.78.0.11:5060", "sip:10.78.0.2:5060")
        c = LabNode(lab, pub, self.path("c"), "10.78.0.12:5060", "sip:10.78.0.2:5060", smtp=2526, http=8026)
        n = LabNode(lab, a, self.path("a"), "10.78.0.2:5060", "sip:carrier.test")

        # NAPTR: TCP first (order 10), then UDP; SRV for TCP: dead (priority 10), then B (20).
        t = self.trunk(n)
        self.assertEqual(t["addresses"], ["10.78.0.13:5060/TCP", "10.78.0.11:5060/TCP", "10.78.0.11:5060/UDP"], t)
        self.assertEqual(t["state"], "up", t)

        def a_to_b():
            n.send_tiff("FAX=+15550100@fax.test", self.one)
            return n.settle(FINAL_OUT)

        def b_to_a():  # B is trusted by A: one of its trunk's addresses
            b.send_tiff("FAX=+15550100@fax.test", self.one)
            return b.settle(FINAL_OUT)

        self.both(a_to_b, b_to_a)
        jobs = {j["direction"]: j for j in n.settle(FINAL_OUT + FINAL_IN)}
        out, inn = jobs["out"], jobs["in"]
        self.assertEqual((out["state"], out["pages_done"], out["bad_rows"]), ("done", 1, 0), (out, n.text()[-3000:]))
        self.assertEqual((inn["state"], inn["pages"], inn["bad_rows"]), ("done", 1, 0), (inn, n.text()[-3000:]))
        got = [j for j in b.settle(FINAL_OUT + FINAL_IN) if j["direction"] == "in"]
        self.assertEqual([(j["state"], j["pages"]) for j in got], [("done", 1)], b.text()[-3000:])
        # The refused first target is in the job's story; the call went over TCP (NAPTR order).
        events = n.events(out["id"])
        self.assertTrue(any("10.78.0.13:5060/TCP" in e and "next address 10.78.0.11:5060/TCP" in e for e in events), events)
        # B's own requests in that call came over TCP from the address it listens on (its host's
        # first address, 10.78.0.1, is not the trunk's and would have been refused).
        self.assertNotIn("refused", n.text())

        # OPTIONS to each address: the dead one is down, the trunk up; with B gone too, every
        # address is silent and the trunk is down.
        d = LabNode(lab, a, self.path("d"), "10.78.0.2:5062", "sip:carrier.test", trunk_extra="options_interval_s = 1",
                    smtp=2527, http=8027)
        self.poll(lambda: self.trunk(d), lambda t: (t.get("down_addresses"), t["state"]) == (["10.78.0.13:5060/TCP"], "up"),
                  60, lambda: d.text()[-2000:])
        b.proc.terminate()
        b.proc.wait(15)
        # 90 s: the UDP address takes a 32 s OPTIONS timeout.
        down = self.poll(lambda: self.trunk(d), lambda t: t["state"] == "down", 90, lambda: d.text()[-2000:])
        self.assertIn("from any of its 3 addresses", down["state_reason"])

        # The records change: B's name now leads to C, the dead target is gone. The node follows
        # within the 10 s TTL (and the lookup after it).
        os.killpg(dns.pid, 15)
        dns.wait(15)
        dns = self.dnsmasq(pub, "10.78.0.12", with_dead=False)
        c_addresses = ["10.78.0.12:5060/TCP", "10.78.0.12:5060/UDP"]
        self.poll(lambda: self.trunk(n), lambda t: t["addresses"] == c_addresses, 60, lambda: n.text()[-2000:])
        self.assertIn("carrier.test now leads to 10.78.0.12:5060/TCP", n.text())
        # The other node follows too, and its trunk is up again on C's answers.
        self.poll(lambda: self.trunk(d), lambda t: (t["addresses"], t["state"]) == (c_addresses, "up"), 60,
                  lambda: d.text()[-2000:])

        # DNS dies: the node keeps the addresses it knew and still faxes to them.
        os.killpg(dns.pid, 15)
        dns.wait(15)
        self.wait_log(n.proc, n.log, "keeping its 2 known addresses", timeout=60)
        n.send_tiff("FAX=+15550101@fax.test", self.one)
        last = self.last_job(n)
        self.assertEqual((last["state"], last["pages_done"]), ("done", 1), (last, n.text()[-3000:]))
        got = [j for j in c.settle(FINAL_OUT + FINAL_IN) if j["direction"] == "in"]
        self.assertEqual([(j["state"], j["pages"]) for j in got], [("done", 1)], c.text()[-3000:])
        self.assertEqual(self.trunk(n)["state"], "up")


KAMAILIO_LAB_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=2
disable_tcp=yes
mhomed=1
listen=udp:10.1.0.1:5060
listen=udp:10.2.0.1:5060
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "auth.so"
loadmodule "xlog.so"
loadmodule "rtpengine.so"
modparam("rr", "enable_double_rr", 1)
modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:2223")

request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (is_method("ACK|BYE")) { xlog("L_INFO", "relaying $rm from $si\\n"); }
    if (has_totag()) {
        # As a carrier's SBC does: every request inside a dialog proves who sends it.
        if (!is_method("ACK|CANCEL")) {
            if (!pv_proxy_authenticate("$fd", "secret", "0")) {
                xlog("L_INFO", "challenging in-dialog $rm from $si\\n");
                proxy_challenge("$fd", "0");
                exit;
            }
            consume_credentials();
            xlog("L_INFO", "authenticated in-dialog $rm from $si\\n");
        }
        if (loose_route()) {
            if (is_method("BYE")) { rtpengine_delete(); }
            else if (has_body("application/sdp")) { rtpengine_manage("replace-origin replace-session-connection"); }
            t_on_reply("media");
            t_relay();
            exit;
        }
        if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
    if (is_method("OPTIONS")) { sl_send_reply("200", "OK"); exit; }
    if (!is_method("INVITE")) { sl_send_reply("403", "Forbidden"); exit; }
    record_route();
    if ($si == "10.1.0.2") {
        $du = "sip:10.2.0.2:5060";
        rtpengine_manage("direction=a direction=b replace-origin replace-session-connection");
    } else {
        $du = "sip:10.1.0.2:5060";
        rtpengine_manage("direction=b direction=a replace-origin replace-session-connection");
    }
    t_on_reply("media");
    t_relay();
}

onreply_route[media] {
    if (has_body("application/sdp")) { rtpengine_manage("replace-origin replace-session-connection"); }
}
"""


class ProxyLabTest(LabBase):
    def test_two_nodes_fax_both_ways_only_through_kamailio_and_rtpengine(self):
        lab = self.lab
        a, k, b = lab.ns("a"), lab.ns("k"), lab.ns("b")
        lab.link(k, "10.1.0.1/24", a, "10.1.0.2/24")
        lab.link(k, "10.2.0.1/24", b, "10.2.0.2/24")
        # No forwarding in k: A and B reach each other only through the proxy and the relay.
        rtp = lab.spawn(k, ["rtpengine", "--interface=a/10.1.0.1", "--interface=b/10.2.0.1", "--listen-ng=127.0.0.1:2223",
                            "--foreground", "--log-stderr", "--table=-1", "--port-min=30000", "--port-max=30999",
                            "--pidfile=" + self.path("rtpengine.pid")], self.path("rtpengine.log"))
        self.wait_log(rtp, self.path("rtpengine.log"), "Startup complete")
        cfg = self.path("kamailio.cfg")
        with open(cfg, "w") as f:
            f.write(KAMAILIO_LAB_CFG)
        kam_log = self.path("kamailio.log")
        kam = lab.spawn(k, ["kamailio", "-f", cfg, "-DD", "-E", "-Y", self.dir, "-w", self.dir], kam_log)
        # Kamailio is up once its rtpengine module has pinged the relay (after its children start).
        self.wait_log(rtp, self.path("rtpengine.log"), "Replying to 'ping'")
        self.assertIsNone(kam.poll(), open(kam_log).read()[-3000:])
        creds = 'username = "fax"\npassword = "secret"'
        na = LabNode(lab, a, self.path("na"), "10.1.0.2:5060", "sip:10.1.0.1:5060", trunk_extra=creds)
        nb = LabNode(lab, b, self.path("nb"), "10.2.0.2:5060", "sip:10.2.0.1:5060", trunk_extra=creds)

        def a_to_b():
            na.send_tiff("FAX=+15550100@fax.test", self.one)
            return na.settle(FINAL_OUT)

        def b_to_a():
            nb.send_tiff("FAX=+15550100@fax.test", self.one)
            return nb.settle(FINAL_OUT)

        self.both(a_to_b, b_to_a)
        for node in (na, nb):
            jobs = {j["direction"]: j for j in node.settle(FINAL_OUT + FINAL_IN)}
            self.assertEqual(sorted(jobs), ["in", "out"], "%s\n%s\n%s" % (
                node.text()[-3000:], open(kam_log).read()[-4000:], open(self.path("rtpengine.log")).read()[-2000:]))
            out, inn = jobs["out"], jobs["in"]
            self.assertEqual((out["state"], out["pages_done"], out["bad_rows"]), ("done", 1, 0), (out, node.text()[-3000:]))
            self.assertEqual((inn["state"], inn["pages"], inn["bad_rows"]), ("done", 1, 0), (inn, node.text()[-3000:]))
        log = open(kam_log).read()
        for line in ("relaying ACK from 10.1.0.2", "relaying ACK from 10.2.0.2", "relaying BYE from",
                     "challenging in-dialog BYE", "authenticated in-dialog BYE"):
            self.assertIn(line, log, log[-3000:])
        # Our re-INVITEs (the switch to T.38) were challenged too, and answered.
        self.assertIn("authenticated in-dialog INVITE", log, log[-3000:])
        # The media went through the relay: neither node ever saw the other's address.
        self.assertNotIn("10.2.0.2", na.text())
        self.assertNotIn("10.1.0.2", nb.text())


class FloodLabTest(LabBase):
    """The front door under fire: sipvicious (svmap, svwar, svcrack) and a SIPp flood of 2,000
    INVITEs a second from four untrusted addresses for 60 s, while 50 faxes run between two
    trusted nodes. Every fax completes whole; the scanners get no 100 and at most one 403 a minute
    per address, and make no call; the node's CPU and memory during the flood are reported."""

    FLOOD_S = 60
    RATE = 500  # per scanner address: 4 x 500 = 2,000 INVITEs a second

    def test_scanners_and_a_flood_do_not_touch_fifty_faxes(self):
        lab = self.lab
        srv, scan = lab.ns("srv"), lab.ns("scan")
        srv_dev, scan_dev = lab.link(srv, "10.9.0.1/24", scan, "10.9.0.66/24")
        lab.exec(srv, "ip", "addr", "add", "10.9.0.2/24", "dev", srv_dev)
        scanners = ["10.9.0.%d" % i for i in (67, 68, 69, 70)]
        for ip in scanners:
            lab.exec(scan, "ip", "addr", "add", ip + "/24", "dev", scan_dev)
        room = "max_channels = 60\ncalls_per_second = 20"
        b = LabNode(lab, srv, self.path("b"), "10.9.0.1:5060", "sip:10.9.0.2:5060", trunk_extra=room)
        a = LabNode(lab, srv, self.path("a"), "10.9.0.2:5060", "sip:10.9.0.1:5060", trunk_extra=room,
                    smtp=2526, http=8026)
        counts = self.path("responses.json")
        sniffer = lab.spawn(scan, ["python3", os.path.join(os.path.dirname(__file__), "lab_sniff.py"), "10.9.0.1", counts],
                            self.path("sniff.log"))
        deadline = time.time() + 10
        while not os.path.exists(counts + ".ready"):
            self.assertLess(time.time(), deadline, open(self.path("sniff.log")).read())
            time.sleep(0.05)

        # The real scanner first, as it knocks every day: map, extensions, passwords.
        for tool in (["svmap", "-t", "0.5", "10.9.0.1"], ["svwar", "-t", "0.5", "-e", "100-150", "10.9.0.1"],
                     ["svcrack", "-t", "0.5", "-u", "100", "-r", "1-300", "10.9.0.1"]):
            lab.exec(scan, *tool, timeout=120)
        cpu0, rss0 = b.usage()
        floods = [lab.spawn(scan, ["sipp", "-sf", os.path.join(fbtest.SIPP_DIR, "uac_flood.xml"), "-i", ip,
                                   "-p", "5070", "-r", str(self.RATE), "-m", str(self.RATE * self.FLOOD_S), "-nostdin",
                                   "-timeout", "%ds" % (self.FLOOD_S + 30), "-nr",
                                   "10.9.0.1:5060"], self.path("flood-%s.log" % ip)) for ip in scanners]
        numbers = ["+1555010%04d" % i for i in range(50)]
        t0 = time.time()
        a.send_many(numbers, self.one)
        samples = []
        while any(f.poll() is None for f in floods):
            cpu, rss = b.usage()
            samples.append((time.time() - t0, cpu, rss))
            time.sleep(1)
        flood_s = time.time() - t0
        cpu1, rss1 = b.usage()
        out = a.settle(FINAL_OUT, timeout=400)
        inn = b.settle(FINAL_IN, timeout=400)
        sniffer.terminate()
        sniffer.wait(10)
        with open(counts) as f:
            got = json.load(f)

        peak = max(r for _, _, r in samples)
        print("flood: %.0f s, node B CPU %.0f%% of one core, RSS %d MB before, %d MB peak, %d MB after" % (
            flood_s, 100 * (cpu1 - cpu0) / flood_s, rss0 // 1024, peak // 1024, rss1 // 1024))
        print("responses to the scanners: %s" % json.dumps(got))
        self.assertEqual(len(out), 50)
        self.assertEqual([j for j in out if (j["state"], j["pages_done"], j["bad_rows"]) != ("done", 1, 0)], [])
        self.assertEqual(len(inn), 50, "a scanner made a call")
        self.assertEqual([j for j in inn if (j["state"], j["pages"], j["bad_rows"]) != ("done", 1, 0)], [])
        windows = int(flood_s // 60) + 2  # the tools before the flood, and each minute of it
        for ip in ["10.9.0.66"] + scanners:
            statuses = got.get(ip, {})
            self.assertNotIn("100", statuses, (ip, statuses))
            self.assertLessEqual(sum(statuses.values()), windows, (ip, statuses))
            self.assertEqual(set(statuses) - {"403"}, set(), (ip, statuses))
        log = b.text()
        for ip in scanners:
            self.assertIn("sip: refused %s: INVITE" % ip, log)
        self.assertLess(rss1 - rss0, 64 * 1024, "memory grew under the flood: %d kB" % (rss1 - rss0))


if __name__ == "__main__":
    unittest.main()
