"""Our SIP user agent against real peers and hostile bytes: SIPp scenarios (sip-tester) for the
T.38 offer/answer rules, an unparsable SDP, a busy trunk and a trunk that never answers (our
ring timeout must CANCEL cleanly); raw UDP for what SIPp cannot send — a request from a host
that is not a trunk (403), offers the trunk cannot carry (488 saying why), OPTIONS, and a seeded flood of
malformed messages that must get 400s and leave the node answering."""
import os
import json
import random
import re
import socket
import subprocess
import time
import unittest

import fbtest
from offramp_test import Node, free_port
from onramp_test import mails, wait_mails

SIPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sip", "sipp")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sipp(scenario, *args, timeout=60):
    return subprocess.run(["sipp", "-sf", os.path.join(SIPP, scenario), "-i", "127.0.0.1", "-nostdin",
                           "-timeout", "%ds" % (timeout - 5), "-timeout_error", *args],
                          capture_output=True, text=True, timeout=timeout)


class Udp:
    """A bare SIP peer: sends bytes, reads what comes back."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(5)
        self.port = self.s.getsockname()[1]

    def request(self, method, node_port, body="", extra="", branch=None, call_id=None):
        branch = branch or "z9hG4bK%08x" % random.getrandbits(32)
        call_id = call_id or "%x@test" % random.getrandbits(48)
        msg = ("%s sip:+15550100@127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
               "From: <sip:+15550199@127.0.0.1>;tag=t%x\r\nTo: <sip:+15550100@127.0.0.1>\r\n"
               "Call-ID: %s\r\nCSeq: 1 %s\r\nContact: <sip:peer@127.0.0.1:%d>\r\nMax-Forwards: 70\r\n%s"
               "Content-Length: %d\r\n\r\n%s" % (method, node_port, self.port, branch, random.getrandbits(32),
                                                  call_id, method, self.port, extra, len(body.encode()), body))
        return msg.encode()

    def send(self, data, port):
        self.s.sendto(data, ("127.0.0.1", port))

    def final(self):
        """The next final response's status line and text."""
        while True:
            data, _ = self.s.recvfrom(65536)
            text = data.decode(errors="replace")
            m = re.match(r"SIP/2.0 (\d{3}) ([^\r\n]*)", text)
            if m and int(m.group(1)) >= 200:
                return int(m.group(1)), m.group(2), text

    def invites(self, calls, until, want=None, status=None):
        """Collects the INVITEs that come until `until` (or until `want` calls were seen) into
        `calls`: Call-ID -> when the first copy came (time.time()). With `status`, each INVITE
        gets that final response (e.g. "404 Not Found"); else none (the call rings on)."""
        self.s.settimeout(0.2)
        while time.time() < until and (want is None or len(calls) < want):
            try:
                data, addr = self.s.recvfrom(65536)
            except socket.timeout:
                continue
            text = data.decode(errors="replace")
            m = re.search(r"^Call-ID: *(\S+)", text, re.M | re.I)
            if not text.startswith("INVITE ") or not m:
                continue  # ACKs of our responses, retransmissions' CANCELs
            calls.setdefault(m.group(1), time.time())
            if status:
                head = [line for line in text.split("\r\n\r\n")[0].split("\r\n")[1:]
                        if line.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq")]
                head = [line + ";tag=peer" if line.lower().startswith("to:") else line for line in head]
                self.s.sendto(("SIP/2.0 %s\r\n%s\r\nContent-Length: 0\r\n\r\n" % (status, "\r\n".join(head))).encode(),
                              addr)
        return calls

    def close(self):
        self.s.close()


AUDIO_SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio 40000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n")


class SipPeersTest(fbtest.TempDirTest):
    def node(self, **kw):
        os.makedirs(self.path("node"), exist_ok=True)
        n = Node(self.path("node"), **kw)
        self.addCleanup(n.stop)
        return n

    def test_sipp_t38_offer_of_9600_with_fec_is_answered_9600_fec(self):
        n = self.node(trunk="self")
        p = sipp("uac_t38_9600_fec.xml", "127.0.0.1:%d" % n.sip_port, "-p", str(free_udp_port()), "-m", "1",
                 "-mp", str(free_udp_port()))
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])

    def test_sipp_unparsable_sdp_gets_488_with_the_reason(self):
        n = self.node(trunk="self")
        p = sipp("uac_bad_sdp.xml", "127.0.0.1:%d" % n.sip_port, "-p", str(free_udp_port()), "-m", "1")
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])

    def test_busy_unanswered_and_invalid_numbers_retry_and_report_as_the_table_says(self):
        """dsn-and-status.md: a delayed DSN once, when the first retry is scheduled; a failed DSN
        when the dials run out; an unallocated number fails at once with 5.1.1."""
        cases = (  # scenario, calls SIPp takes, ring timeout, [retry], the job's end, its reports
            ("uas_busy.xml", 2, 60, "max_dials = 2\nbusy_delay_s = 2\n", "failed", "486 Busy Here",
             [("delayed", "4.4.1"), ("failed", "5.4.1")]),
            ("uas_ring_forever.xml", 1, 3, "no_answer_delay_s = 600\n", "retry", "No answer within 3 s",
             [("delayed", "4.4.1")]),
            ("uas_404.xml", 1, 60, "", "failed", "404 Not Found", [("failed", "5.1.1")]),
        )
        for scenario, calls, ring, retry, end, expect, reports in cases:
            with self.subTest(scenario=scenario):
                port = free_udp_port()
                d = self.path(scenario)
                os.makedirs(d)
                uas = subprocess.Popen(["sipp", "-sf", os.path.join(SIPP, scenario), "-i", "127.0.0.1", "-p", str(port),
                                        "-m", str(calls), "-nostdin", "-timeout", "60s", "-timeout_error"],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                n = Node(d, trunk="sip:127.0.0.1:%d" % port, trunk_extra="ring_timeout_s = %d" % ring,
                         extra="[retry]\n" + retry)
                try:
                    s = n.smtp()
                    s.sendmail("alice@example.com", ["FAX=+15550123@fax.test"],
                               "From: alice@example.com\r\nSubject: x\r\n\r\nHello.\r\n")
                    s.quit()
                    out, _ = uas.communicate(timeout=90)
                    self.assertEqual(uas.returncode, 0, out[-3000:])
                    deadline = time.time() + 30
                    while time.time() < deadline:
                        [job] = n.jobs()
                        if job["state"] == end:
                            break
                        time.sleep(0.2)
                    self.assertEqual(job["state"], end, job)
                    self.assertIn(expect, job["error"])
                    if end == "retry":
                        self.assertIsNotNone(job["retry_at"])
                    got = wait_mails(os.path.join(d, "var", "mail"), "alice@example.com", len(reports), timeout=60,
                                     log=n.log.name)
                    time.sleep(1)  # nothing more may come: one report per state
                    got = mails(os.path.join(d, "var", "mail"), "alice@example.com")
                    seen = []
                    for m in got:
                        self.assertEqual(m.get_content_type(), "multipart/report")
                        _, status, _ = list(m.iter_parts())
                        rcpt = status.get_payload()[1]
                        seen.append((rcpt["Action"], rcpt["Status"]))
                        self.assertEqual(rcpt["Final-Recipient"], "rfc822; FAX=+15550123@fax.test")
                        if rcpt["Action"] == "delayed":
                            self.assertIsNotNone(rcpt["Will-Retry-Until"])
                    self.assertEqual(sorted(seen), sorted(reports))
                finally:
                    n.stop()
                    if uas.poll() is None:
                        uas.kill()

    def test_fax_over_tls_and_a_certificate_not_trusted(self):
        """A faxes B over SIP/TLS (B's self-signed certificate trusted through SSL_CERT_FILE); C,
        which does not trust it, fails at once with the reason instead of waiting for timer B."""
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        tif = self.path("chart.tif")
        fbtest.run("convert", "-o", tif, fbtest.itu_chart(1), check=0)
        for d in ("a", "b", "c"):
            os.makedirs(self.path(d))
        b = Node(self.path("b"), sip_tls=True)
        self.addCleanup(b.stop)
        uri = "sip:127.0.0.1:%d;transport=tls" % b.sip_tls_port
        slow = "[retry]\nfailure_delay_s = 600\n"
        a = Node(self.path("a"), trunk=uri, extra=slow, env=dict(os.environ, SSL_CERT_FILE=b.sip_cert))
        self.addCleanup(a.stop)
        c = Node(self.path("c"), trunk=uri, extra=slow)
        self.addCleanup(c.stop)
        a.send_tiff("FAX=+15550100@fax.test", tif)
        t0 = time.monotonic()
        c.send_tiff("FAX=+15550100@fax.test", tif)
        [refused] = c.settle(("retry", "failed", "done"))
        self.assertLess(time.monotonic() - t0, 15, "a failed handshake must not wait for timer B")
        self.assertEqual(refused["state"], "retry", refused)
        self.assertIn("connection to trunk t failed", refused["error"])
        [out] = a.settle(("done", "failed", "retry"), timeout=120)
        [inn] = b.settle(("done", "failed"), timeout=30)
        self.assertEqual((out["state"], out["pages_done"], out["bad_rows"]), ("done", 1, 0), out)
        self.assertEqual((inn["state"], inn["pages"]), ("done", 1), inn)

    def test_a_503_fails_over_to_the_next_trunk(self):
        """Two trunks serve +1: the first (SIPp) answers 503, so the call goes out through the
        second, this node's own listener, and the fax arrives."""
        port = free_udp_port()
        uas = subprocess.Popen(["sipp", "-sf", os.path.join(SIPP, "uas_503.xml"), "-i", "127.0.0.1", "-p", str(port),
                                "-m", "1", "-nostdin", "-timeout", "60s", "-timeout_error"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        n = self.node(trunk="sip:127.0.0.1:%d" % port, trunk_extra='prefixes = ["+1"]',
                      extra='[[trunk]]\nname = "second"\nuri = "sip:127.0.0.1:{self_sip}"\nprefixes = ["+1"]\n')
        try:
            s = n.smtp()
            s.sendmail("alice@example.com", ["FAX=+15550100@fax.test"], "From: a@example.com\r\nSubject: x\r\n\r\nHi.\r\n")
            s.quit()
            out, _ = uas.communicate(timeout=60)
            self.assertEqual(uas.returncode, 0, out[-3000:])
            jobs = n.settle(("done", "failed", "retry", "delivering"), timeout=120)
            out_job = next(j for j in jobs if j["direction"] == "out")
            self.assertEqual(out_job["state"], "done", jobs)
            with n.db() as db:
                events = [e for (e,) in db.execute("SELECT text FROM events WHERE job_id = ?", (out_job["id"],))]
            self.assertTrue(any(e.startswith("call via second over ") and ": done" in e for e in events), events)
        finally:
            if uas.poll() is None:
                uas.kill()

    def test_a_trunks_calls_per_second_spaces_its_invites(self):
        """calls_per_second = 2: five faxes dialled at once leave as five INVITEs at least 0.5 s
        apart (measured here, as the trunk sees them); each is refused 404 and its job fails with
        it, none lost on the way."""
        peer = Udp()
        self.addCleanup(peer.close)
        n = self.node(trunk="sip:127.0.0.1:%d" % peer.port, trunk_extra="calls_per_second = 2")
        s = n.smtp()
        s.sendmail("alice@example.com", ["FAX=+155501%02d@fax.test" % i for i in range(5)],
                   "From: alice@example.com\r\nSubject: x\r\n\r\nHello.\r\n")
        s.quit()
        first = peer.invites({}, time.time() + 60, want=5, status="404 Not Found")
        self.assertEqual(len(first), 5)
        times = sorted(first.values())
        gaps = [round(b - a, 3) for a, b in zip(times, times[1:])]
        self.assertGreaterEqual(min(gaps), 0.49, gaps)
        deadline = time.time() + 30
        while time.time() < deadline:
            jobs = n.jobs()
            if len(jobs) == 5 and all(j["state"] == "failed" for j in jobs):
                break
            time.sleep(0.2)
        self.assertEqual([j["state"] for j in jobs], ["failed"] * 5, jobs)
        for j in jobs:
            self.assertIn("404", j["error"])

    def test_a_call_cancelled_while_it_waits_for_its_turn_is_never_placed(self):
        """calls_per_second = 1 and a trunk that never answers: ten faxes leave one a second; the
        tenth, cancelled while it waits (its turn 9 s after the first: room for a loaded machine's
        slow CLI), ends cancelled without an INVITE, and its channel is free again (the trunk shows
        the nine calls ringing)."""
        peer = Udp()
        self.addCleanup(peer.close)
        n = self.node(trunk="sip:127.0.0.1:%d" % peer.port, trunk_extra="calls_per_second = 1\nring_timeout_s = 60")
        s = n.smtp()
        s.sendmail("alice@example.com", ["FAX=+155502%02d@fax.test" % i for i in range(10)],
                   "From: alice@example.com\r\nSubject: x\r\n\r\nHello.\r\n")
        s.quit()
        calls = {}
        peer.invites(calls, time.time() + 30, want=1)
        self.assertEqual(len(calls), 1)
        last = max(n.jobs(), key=lambda j: j["id"])
        self.assertEqual(n.cli("cancel", str(last["id"])).returncode, 0)
        deadline = time.time() + 10
        state = lambda: next(j["state"] for j in n.jobs() if j["id"] == last["id"])
        while state() != "cancelled" and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(state(), "cancelled")
        peer.invites(calls, time.time() + 25, want=9)
        first = min(calls.values())
        peer.invites(calls, first + 11.5)  # past the tenth call's turn (9 s after the first)
        self.assertEqual(len(calls), 9, "the cancelled call was placed, or another was not")
        [trunk] = n.api("/api/trunks")
        self.assertEqual(trunk["channels_in_use"], 9, trunk)

    def test_requests_from_a_host_that_is_no_trunk_get_one_403_and_no_state(self):
        """The front door: a flood of INVITEs from a host that is no trunk gets one stateless 403
        (no 100 Trying, no call, no job) and one log line naming the source; with unknown_sources
        = "drop", nothing at all."""
        for policy in ("reject", "drop"):
            os.makedirs(self.path(policy))
            n = Node(self.path(policy), trunk="sip:127.0.0.2:5060", sip_extra='unknown_sources = "%s"\n' % policy)
            self.addCleanup(n.stop)
            u = Udp()
            try:
                for _ in range(200):
                    u.send(u.request("INVITE", n.sip_port, body=AUDIO_SDP, extra="Content-Type: application/sdp\r\n"),
                           n.sip_port)
                got = []
                u.s.settimeout(2)
                try:
                    while True:
                        got.append(u.s.recvfrom(65536)[0].decode(errors="replace"))
                except socket.timeout:
                    pass
                statuses = [int(t.split(" ")[1]) for t in got if t.startswith("SIP/2.0 ")]
                if policy == "reject":
                    self.assertEqual(statuses, [403], got[:3])
                    self.assertIn("127.0.0.1 is not a trunk", got[0].split("\r\n")[0])
                else:
                    self.assertEqual(statuses, [])
                self.assertEqual(n.jobs(), [])
                deadline = time.time() + 10
                while "sip: refused 127.0.0.1" not in open(n.log.name).read() and time.time() < deadline:
                    time.sleep(0.1)
                log = open(n.log.name).read()
                self.assertEqual(log.count("sip: refused 127.0.0.1"), 1, log[-2000:])
            finally:
                u.close()

    def test_a_junk_fax_caller_gets_603_and_leaves_no_job(self):
        # [reject] callers: declined before anything is received; the offer does not matter.
        n = self.node(trunk="self", extra='[reject]\ncallers = ["+1555019"]\n')
        u = Udp()
        try:
            u.send(u.request("INVITE", n.sip_port, body=AUDIO_SDP, extra="Content-Type: application/sdp\r\n"), n.sip_port)
            code, reason, _ = u.final()
            self.assertEqual((code, reason), (603, "Decline"))
            self.assertEqual(n.jobs(), [])
        finally:
            u.close()

    def test_offers_the_trunk_cannot_carry_get_488_saying_why(self):
        """An audio-only trunk (t38 = "off") refuses a T.38-only offer; any trunk refuses audio
        without PCMU or PCMA. Neither leaves a job."""
        t38_only = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                    "m=image 40000 udptl t38\r\na=T38FaxVersion:0\r\n")
        g729 = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                "m=audio 40000 RTP/AVP 18 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
        n = self.node(trunk="self", trunk_extra='t38 = "off"')
        u = Udp()
        try:
            for body, why in ((t38_only, "G.711 (PCMU/PCMA) only"), (g729, "PCMU/PCMA")):
                u.send(u.request("INVITE", n.sip_port, body=body, extra="Content-Type: application/sdp\r\n"), n.sip_port)
                code, reason, _ = u.final()
                self.assertEqual(code, 488)
                self.assertIn(why, reason)
            self.assertEqual(n.jobs(), [])  # nothing was accepted, nothing recorded
        finally:
            u.close()

    def test_a_seeded_flood_of_malformed_messages_gets_400s_and_no_crash(self):
        n = self.node(trunk="self")
        u = Udp()
        rng = random.Random(4475)
        good = u.request("OPTIONS", n.sip_port)
        sent_answerable = 0
        try:
            for i in range(600):
                data = bytearray(u.request("OPTIONS", n.sip_port))
                kind = i % 4
                if kind == 0:  # a Content-Length longer than the body: answerable, 400
                    data = data.replace(b"Content-Length: 0", b"Content-Length: 99")
                    sent_answerable += 1
                elif kind == 1:  # a broken CSeq method: answerable, 400
                    data = data.replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE")
                    sent_answerable += 1
                elif kind == 2:  # random bytes flipped anywhere
                    for _ in range(rng.randint(1, 20)):
                        data[rng.randrange(len(data))] = rng.randrange(256)
                else:  # pure noise
                    data = bytearray(rng.randbytes(rng.randint(1, 1500)))
                u.send(bytes(data), n.sip_port)
                if i % 50 == 49:
                    time.sleep(0.01)  # 5,000 messages/s: a flood, not a buffer-overflow test
            got_400 = 0
            u.s.settimeout(2)
            try:
                while True:
                    data, _ = u.s.recvfrom(65536)
                    if data.startswith(b"SIP/2.0 400 "):
                        got_400 += 1
            except socket.timeout:
                pass
            self.assertGreaterEqual(got_400, sent_answerable)
            u.s.settimeout(5)
            u.send(good, n.sip_port)
            code, _, text = u.final()
            self.assertEqual(code, 200)
            self.assertIn("Allow: INVITE", text)
            self.assertIsNone(n.proc.poll(), "the node died")
        finally:
            u.close()


if __name__ == "__main__":
    unittest.main()
