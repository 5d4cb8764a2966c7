"""The life of an outbound fax job against the fax test peer:

- a partial send (the called peer hangs up after page 2 of 5) is retried, resumes at page 3 (the
  second peer receives exactly pages 3 to 5, bit-exact below the header line), completes, and the
  sender gets a delayed report (4.4.2) at the first retry and a success report saying 5 of 5;
- `faxbridge cancel` during a call hangs the call up (the peer sees our BYE), the job ends
  cancelled and stays so, and the sender is told (failed, 5.0.0, cancelled);
- kill -9 three times while a busy number waits for its retries: one delayed and one failed
  report, never a second of either."""
import datetime
import email.message
import json
import os
import smtplib
import subprocess
import time
import unittest

import fbtest
from fax_loop_test import normalised_rows
from fax_peer_test import FAX_PEER, Peer
from offramp_test import Node
from onramp_test import mails, wait_mails
from sip_peers_test import free_udp_port


def pbm_pages(workdir, n):
    """n distinct A4 pages at fine resolution: page k has k black bars, so pages are told apart."""
    paths = []
    for k in range(1, n + 1):
        w, h = 1728, 2200
        stride = w // 8
        rows = bytearray(stride * h)
        for bar in range(k):
            top = 200 + bar * 300
            for y in range(top, top + 120):
                rows[y * stride + 20: y * stride + stride - 20] = b"\xff" * (stride - 40)
        p = os.path.join(workdir, "page%d.pbm" % k)
        with open(p, "wb") as f:
            f.write(b"P4\n%d %d\n" % (w, h) + bytes(rows))
        paths.append(p)
    return paths


class AnsweringPeer:
    """fax_peer answering one call on a fixed UDP port (so a second one can take the retry)."""

    def __init__(self, workdir, name, port, *args):
        self.report = os.path.join(workdir, name + ".json")
        self.rx = os.path.join(workdir, name + ".tif")
        self.proc = subprocess.Popen([FAX_PEER, "answer", "--listen", "127.0.0.1:%d" % port, "--report", self.report,
                                      "--timeout", "200", "--rx", self.rx, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def result(self, timeout=240):
        import json
        out, _ = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0 or not os.path.exists(self.report):
            raise AssertionError("fax_peer failed (%s): %s" % (self.proc.returncode, out))
        with open(self.report) as f:
            return json.load(f)


def send(node, tif, notify):
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@example.com", "FAX=+15550123@fax.test", "five pages"
    with open(tif, "rb") as f:
        msg.add_attachment(f.read(), maintype="image", subtype="tiff", filename="five.tif")
    s = node.smtp()
    s.sendmail("alice@example.com", ["FAX=+15550123@fax.test"], msg.as_bytes(), rcpt_options=["NOTIFY=" + notify])
    s.quit()


def dsn_lines(maildir):
    out = []
    for m in mails(maildir, "alice@example.com"):
        human, status, _ = list(m.iter_parts())
        rcpt = status.get_payload()[1]
        out.append((rcpt["Action"], rcpt["Status"], human.get_content()))
    return out


class LifecycleTest(fbtest.TempDirTest):
    def setUp(self):
        super().setUp()
        self.pages = pbm_pages(self.dir, 5)
        self.tif = self.path("five.tif")
        fbtest.run("convert", "--resolution", "fine", "-o", self.tif, *self.pages, check=0)

    def test_partial_send_resumes_at_the_first_unconfirmed_page(self):
        port = free_udp_port()
        first = AnsweringPeer(self.dir, "first", port, "--hangup-after-page", "2")
        os.makedirs(self.path("node"))
        node = Node(self.path("node"), trunk="sip:127.0.0.1:%d" % port, extra="[retry]\nfailure_delay_s = 3\n")
        try:
            send(node, self.tif, "SUCCESS,DELAY")
            r1 = first.result()
            self.assertIn(r1["pages"], (1, 2), r1)  # the MCF of page 2 may or may not beat the BYE
            deadline = time.time() + 30
            while True:
                [job] = node.jobs()
                if job["state"] == "retry":
                    break
                self.assertLess(time.time(), deadline, job)
                time.sleep(0.2)
            self.assertEqual(job["pages"], 5, job)
            done = job["pages_done"]
            self.assertIn(done, (1, 2), job)
            second = AnsweringPeer(self.dir, "second", port)
            r2 = second.result()
            self.assertEqual((r2["pages"], r2["success"]), (5 - done, True), r2)
            [job] = node.settle(("done", "failed"), timeout=120)
            self.assertEqual((job["state"], job["pages"], job["pages_done"]), ("done", 5, 5), job)
            # The second call carried pages 3, 4 and 5, no page twice.
            sent = fbtest.decode_with_libtiff(os.path.join(node.dir, "var", "spool", "fax", "%d.tif" % job["id"]),
                                              self.dir)
            got = fbtest.decode_with_libtiff(second.rx, self.dir)
            self.assertEqual(len(got), 5 - done)
            for s, g in zip(sent[done:], got):
                srows, grows = normalised_rows(s), normalised_rows(g)
                self.assertEqual(grows[len(grows) - len(srows):], srows)
            maildir = os.path.join(node.dir, "var", "mail")
            wait_mails(maildir, "alice@example.com", 2, timeout=60, log=node.log.name)
            reports = sorted(dsn_lines(maildir))
            self.assertEqual([(a, s) for a, s, _ in reports], [("delayed", "4.4.2"), ("delivered", "2.0.0")])
            self.assertIn("%d of 5 pages went through so far" % done, reports[0][2])
            self.assertIn("Sent to +15550123: 5 of 5 pages confirmed", reports[1][2])
            self.assertIn("resuming at page %d" % (done + 1), open(node.log.name).read())
            # One accounting record per call attempt, in the store and as JSON lines.
            import json
            with open(os.path.join(node.dir, "var", "accounting.jsonl")) as f:
                calls = [json.loads(line) for line in f]
            self.assertEqual([(c["direction"], c["outcome"], c["pages"], c["pages_total"]) for c in calls],
                             [("out", "partial", done, 5), ("out", "done", 5, 5)])
            for c in calls:
                self.assertEqual((c["job"], c["number"], c["trunk"], c["media"], c["sender"]),
                                 (job["id"], "+15550123", "t", "pcmu+t38", "alice@example.com"))
                self.assertGreater(c["bit_rate"], 0)
                self.assertGreater(c["duration_s"], 0)
                self.assertRegex(c["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            with node.db() as db:
                self.assertEqual(db.execute("SELECT COUNT(*) FROM accounting").fetchone()[0], 2)
        finally:
            node.stop()
            for p in (first.proc,):
                if p.poll() is None:
                    p.kill()

    def test_a_queued_job_the_policy_now_refuses_fails_when_dialled_with_5_7_1(self):
        """The dialling policy is checked again as each job is dialled: a job accepted under a wider
        policy and still queued (held by its sending window, then made due) when the node restarts
        with the default — the station's own country only — fails with 5.7.1 and is never dialled."""
        d = self.path("node")
        os.makedirs(d)
        now = datetime.datetime.now(datetime.timezone.utc)
        opens, closes = now + datetime.timedelta(hours=2), now + datetime.timedelta(hours=3)
        wide = ('[dialing]\nallow = ["+"]\n\n[[window]]\nprefixes = ["+44"]\nhours = "%s-%s"\ntimezone = "UTC"\n'
                % (opens.strftime("%H:%M"), closes.strftime("%H:%M")))
        node = Node(d, extra=wide)
        try:
            msg = email.message.EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "alice@example.com", "FAX=+442079460000@fax.test", "abroad"
            msg.set_content("Held until the window opens.")
            s = node.smtp()
            s.sendmail("alice@example.com", ["FAX=+442079460000@fax.test"], msg.as_bytes(), rcpt_options=["NOTIFY=FAILURE"])
            s.quit()
            deadline = time.time() + 60
            while True:
                jobs = node.jobs()
                if jobs and jobs[0]["state"] == "ready" and jobs[0]["retry_at"]:
                    break
                self.assertLess(time.time(), deadline, jobs)
                time.sleep(0.2)
        finally:
            node.stop()
        with node.db() as db:  # due now: the window's hold is over
            db.execute("UPDATE jobs SET retry_at = ? WHERE id = ?", (int(time.time()) - 1, jobs[0]["id"]))
        node = Node(d)  # the default policy: +1 only, and no window
        try:
            deadline = time.time() + 60
            while True:
                [job] = node.jobs()
                if job["state"] == "failed":
                    break
                self.assertLess(time.time(), deadline, job)
                time.sleep(0.2)
            self.assertIn("not an allowed destination", job["error"])
            maildir = os.path.join(node.dir, "var", "mail")
            wait_mails(maildir, "alice@example.com", 1, timeout=60, log=node.log.name)
            [(action, status, text)] = dsn_lines(maildir)
            self.assertEqual((action, status), ("failed", "5.7.1"), text)
            # Never dialled: nothing reached the trunk (the node's black hole).
            node.blackhole.setblocking(False)
            with self.assertRaises(BlockingIOError):
                node.blackhole.recv(65536)
        finally:
            node.stop()

    def test_cancel_during_a_call_hangs_it_up(self):
        port = free_udp_port()
        peer = AnsweringPeer(self.dir, "peer", port)
        os.makedirs(self.path("node"))
        node = Node(self.path("node"), trunk="sip:127.0.0.1:%d" % port)
        try:
            send(node, self.tif, "FAILURE")
            deadline = time.time() + 60
            while True:
                [job] = node.jobs()
                if job["state"] == "sending":
                    break
                self.assertLess(time.time(), deadline, job)
                time.sleep(0.2)
            time.sleep(6)  # well into the T.30 exchange
            p = node.cli("cancel", str(job["id"]))
            self.assertEqual(p.returncode, 0, p.stderr)
            t0 = time.monotonic()
            r = peer.result(timeout=60)
            self.assertLess(time.monotonic() - t0, 15, "the call was not hung up")
            self.assertEqual(r["end"], "remote hangup", r)
            self.assertLess(r.get("pages", 0), 5)
            time.sleep(2)
            [job] = node.jobs()
            self.assertEqual(job["state"], "cancelled", job)
            self.assertIn("cancelled during its call", open(node.log.name).read())
            maildir = os.path.join(node.dir, "var", "mail")
            wait_mails(maildir, "alice@example.com", 1, timeout=60, log=node.log.name)
            [(action, status, text)] = dsn_lines(maildir)
            self.assertEqual((action, status), ("failed", "5.0.0"))
        finally:
            node.stop()
            if peer.proc.poll() is None:
                peer.proc.kill()

    def test_kill_9_during_a_call_resends_at_most_the_page_in_flight(self):
        """kill -9 mid-call, once page 2 is confirmed: after the restart the job resumes after the
        last confirmed page (stored as each MCF came), and the sender gets one report, delivered."""
        port = free_udp_port()
        first = AnsweringPeer(self.dir, "first", port)
        os.makedirs(self.path("node"))
        node = Node(self.path("node"), trunk="sip:127.0.0.1:%d" % port)
        try:
            send(node, self.tif, "SUCCESS,FAILURE,DELAY")
            deadline = time.time() + 180
            while True:
                jobs = node.jobs()
                if jobs and jobs[0]["state"] == "sending" and jobs[0]["pages_done"] >= 2:
                    break
                self.assertLess(time.time(), deadline, jobs)
                time.sleep(0.1)
            node.proc.kill()
            node.proc.wait()
            first.proc.kill()  # the call dies with the node (no BYE will come)
            first.proc.wait()
            with node.db() as db:
                job_id, done, state = db.execute("SELECT id, pages_done, state FROM jobs").fetchone()
            self.assertEqual(state, "sending")
            self.assertIn(done, (2, 3, 4))
            received_first = len(fbtest.decode_with_libtiff(first.rx, self.dir)) if os.path.exists(first.rx) else None
            second = AnsweringPeer(self.dir, "second", port)
            node.proc = subprocess.Popen([fbtest.FAXBRIDGE, "serve", "--config", node.config], stderr=node.log,
                                         cwd=node.dir)
            r2 = second.result()
            self.assertEqual((r2["pages"], r2["success"]), (5 - done, True), r2)
            [job] = node.settle(("done", "failed"), timeout=120)
            self.assertEqual((job["state"], job["pages"], job["pages_done"]), ("done", 5, 5), job)
            # The second call carried exactly the pages after the last confirmed one, bit-exact.
            sent = fbtest.decode_with_libtiff(os.path.join(node.dir, "var", "spool", "fax", "%d.tif" % job_id),
                                              self.dir)
            got = fbtest.decode_with_libtiff(second.rx, self.dir)
            self.assertEqual(len(got), 5 - done)
            for s, g in zip(sent[done:], got):
                srows, grows = normalised_rows(s), normalised_rows(g)
                self.assertEqual(grows[len(grows) - len(srows):], srows)
            # The far end saw at most one page twice: the one in flight at the kill.
            if received_first is not None:
                self.assertIn(received_first, (done, done + 1))
            self.assertIn("resuming at page %d" % (done + 1), open(node.log.name).read())
            # One report, the final one: our own stop is not a delay the sender hears of.
            maildir = os.path.join(node.dir, "var", "mail")
            wait_mails(maildir, "alice@example.com", 1, timeout=60, log=node.log.name)
            time.sleep(2)
            reports = dsn_lines(maildir)
            self.assertEqual([(a, s) for a, s, _ in reports], [("delivered", "2.0.0")])
            self.assertIn("5 of 5 pages confirmed", reports[0][2])
            # Both call attempts are accounted: the one our stop cut, then the one that finished.
            import json
            with open(os.path.join(node.dir, "var", "accounting.jsonl")) as f:
                calls = [json.loads(line) for line in f]
            self.assertEqual([(c["outcome"], c["pages"], c["pages_total"]) for c in calls],
                             [("interrupted", done, 5), ("done", 5, 5)])
        finally:
            node.stop()
            for p in (first.proc,):
                if p.poll() is None:
                    p.kill()

    def test_kill_9_during_retry_waits_reports_each_state_once(self):
        """The node is killed at seeded moments while a busy number waits for its retries; after
        each restart the job goes on, and the sender gets one delayed and one failed report."""
        import random
        from sip_peers_test import SIPP
        rng = random.Random(11)
        port = free_udp_port()
        uas = subprocess.Popen(["sipp", "-sf", os.path.join(SIPP, "uas_busy.xml"), "-i", "127.0.0.1", "-p", str(port),
                                "-nostdin"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir)
        os.makedirs(self.path("node"))
        node = Node(self.path("node"), trunk="sip:127.0.0.1:%d" % port,
                    extra="[retry]\nmax_dials = 4\nbusy_delay_s = 3\n")
        try:
            send(node, self.tif, "FAILURE,DELAY")
            for k in range(3):
                time.sleep(rng.uniform(1.0, 4.0))
                node.proc.kill()
                node.proc.wait()
                node.proc = subprocess.Popen([fbtest.FAXBRIDGE, "serve", "--config", node.config], stderr=node.log,
                                             cwd=node.dir)
                deadline = time.time() + 20
                while open(node.log.name).read().count("faxbridge: ready") < k + 2:
                    self.assertLess(time.time(), deadline)
                    time.sleep(0.05)
            [job] = node.settle(("failed", "done"), timeout=120)
            self.assertEqual(job["state"], "failed", job)
            self.assertIn("Busy", job["error"])
            maildir = os.path.join(node.dir, "var", "mail")
            wait_mails(maildir, "alice@example.com", 2, timeout=60, log=node.log.name)
            time.sleep(2)
            self.assertEqual(sorted((a, s) for a, s, _ in dsn_lines(maildir)),
                             [("delayed", "4.4.1"), ("failed", "5.4.1")])
        finally:
            node.stop()
            uas.kill()
            uas.wait()


class DailyCapTest(fbtest.TempDirTest):
    """[dialing] daily caps over the last 24 hours: seeded from the store's accounting after a
    restart, refused at RCPT (450 4.7.1) once reached, and checked again as each job is dialled
    (failed with 5.7.1, never dialled, when its pages would pass the cap)."""

    def fax(self, node, sender, tif, name):
        msg = email.message.EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, "FAX=+15550123@fax.test", name
        with open(tif, "rb") as f:
            msg.add_attachment(f.read(), maintype="image", subtype="tiff", filename=name + ".tif")
        s = node.smtp()
        s.sendmail(sender, ["FAX=+15550123@fax.test"], msg.as_bytes(), rcpt_options=["NOTIFY=FAILURE"])
        s.quit()

    def test_caps_refuse_at_rcpt_and_when_dialled(self):
        d = self.path("node")
        os.makedirs(d)
        caps = "[dialing]\nsender_calls_per_day = 1\npages_per_day = 4\n"
        node = Node(d, extra=caps)
        node.stop()
        now = int(time.time())
        with node.db() as db:  # earlier calls: carol's 2 h ago (3 pages), dave's 25 h ago (too old to count)
            for t, sender, pages in ((now - 7200, "Carol@Example.com", 3), (now - 25 * 3600, "dave@example.com", 50)):
                db.execute("INSERT INTO accounting (time, direction, job_id, number, caller, trunk, media, pages, "
                           "pages_total, bit_rate, duration, outcome, sender) VALUES "
                           "(?, 'out', 0, '+15550123', '+15550100', 't', 't38', ?, ?, 9600, 60, 'done', ?)",
                           (t, pages, pages, sender))
        node = Node(d, extra=caps)
        self.addCleanup(node.stop)
        with open(node.log.name) as f:
            self.assertIn("used in the last 24 hours: 1 calls, 3 pages", f.read())

        # carol has had her one call today: refused at RCPT, before any DATA.
        s = node.smtp()
        s.mail("carol@example.com")
        code, text = s.rcpt("FAX=+15550123@fax.test")
        self.assertEqual(code, 450, text)
        self.assertIn(b"4.7.1 <FAX=+15550123@fax.test>: the daily cap of 1 fax calls for this sender is reached", text)
        s.quit()

        os.makedirs(self.path("pages"))
        pages = pbm_pages(self.path("pages"), 2)
        one = self.path("one.tif")
        fbtest.run("convert", "-o", one, pages[0], check=0)
        two = self.path("two.tif")
        fbtest.run("convert", "-o", two, *pages, check=0)
        # alice's page fits (3 + 1 = 4) and is dialled; bob's two would make 6: failed, not dialled.
        self.fax(node, "alice@example.com", one, "one")
        self.fax(node, "bob@example.com", two, "two")
        deadline = time.time() + 60  # polled: the exact end states, with a deadline
        while sorted(j["state"] for j in node.jobs()) not in (["failed", "sending"], ["failed", "retry"]):
            self.assertLess(time.time(), deadline, node.jobs())
            time.sleep(0.2)
        failed = next(j for j in node.jobs() if j["state"] == "failed")
        dialled = next(j for j in node.jobs() if j["state"] != "failed")
        self.assertEqual((failed["pages"], dialled["pages"]), (2, 1))
        self.assertIn("Not dialled: the daily cap of 4 fax pages would be passed (3 sent in the last 24 hours)",
                      failed["error"])
        self.assertIsNone(failed["media"])  # no call was made for it
        maildir = os.path.join(node.dir, "var", "mail")
        wait_mails(maildir, "bob@example.com", 1, timeout=60, log=node.log.name)
        [report] = mails(maildir, "bob@example.com")
        human, status, _ = list(report.iter_parts())
        rcpt = status.get_payload()[1]
        self.assertEqual((rcpt["Action"], rcpt["Status"]), ("failed", "5.7.1"))
        self.assertIn("Not dialled: the daily cap of 4 fax pages would be passed", human.get_content())
        # alice has had her call now: her next message waits for tomorrow.
        s = node.smtp()
        s.mail("alice@example.com")
        self.assertEqual(s.rcpt("FAX=+15550123@fax.test")[0], 450)
        s.quit()


    def test_an_authenticated_user_is_one_sender_whatever_its_envelope_senders(self):
        """The per-sender caps count the SMTP AUTH user, so a stolen account cannot pass its cap by
        changing MAIL FROM."""
        os.makedirs(self.path("node"))
        node = Node(self.path("node"), trusted=False, tls=True, extra="[dialing]\nsender_calls_per_day = 1\n")
        self.addCleanup(node.stop)

        def as_alice(mail_from):
            s = node.smtp()
            s.starttls()
            s.ehlo("client.test")
            s.login("alice", "secret")
            s.mail(mail_from)
            return s

        s = as_alice("alice@example.com")
        self.assertEqual(s.rcpt("FAX=+15550123@fax.test")[0], 250)
        code, text = s.data(b"Subject: one\r\n\r\nOne page of text.\r\n")
        self.assertEqual(code, 250, text)
        s.quit()
        deadline = time.time() + 60  # polled until the job was dialled, which takes alice's one call
        while not [j for j in node.jobs() if j["state"] in ("sending", "retry")]:
            self.assertLess(time.time(), deadline, node.jobs())
            time.sleep(0.2)
        s = as_alice("someone-else@example.net")
        code, text = s.rcpt("FAX=+15550123@fax.test")
        self.assertEqual(code, 450, text)
        self.assertIn(b"4.7.1 <FAX=+15550123@fax.test>: the daily cap of 1 fax calls for this sender is reached", text)
        s.quit()


def store_down_refuses(test, node, msg, to):
    """While the node's store cannot be written: DATA gets 451 4.3.0 and a call 503 (logged as
    such), and the spool keeps nothing of the mail."""
    s = node.smtp()
    with test.assertRaises(smtplib.SMTPDataError) as e:
        s.sendmail("alice@example.com", [to], msg.as_bytes())
    test.assertEqual((e.exception.smtp_code, e.exception.smtp_error[:5]), (451, b"4.3.0"))
    s.quit()
    call_is_refused(test, node, "503: the job store is unavailable")
    test.assertEqual(os.listdir(os.path.join(node.dir, "var", "spool", "msg")), [])


def call_is_refused(test, node, logged, to=None, status=503):
    """A one-page call from a fax peer to the node (or to the SIP URI `to`, a proxy in front):
    answered `status` (503), the node's log saying `logged`."""
    peer_dir = test.path("peer")
    os.makedirs(peer_dir, exist_ok=True)
    tif = test.path("one.tif")
    fbtest.run("convert", "-o", tif, *pbm_pages(test.dir, 1), check=0)
    peer = Peer(peer_dir, "call", "--to", to or "sip:+15550100@127.0.0.1:%d" % node.sip_port, "--tiff", tif)
    peer.proc.communicate(timeout=120)
    with open(peer.report) as f:
        test.assertEqual(json.load(f).get("sip_status"), status)
    with open(node.log.name) as f:
        test.assertIn(logged, f.read())


class DiskSpaceTest(fbtest.TempDirTest):
    """[node] min_free_mb on a data directory that is a small tmpfs: below it MAIL gets 452 4.3.1
    (before any DATA is sent) and an inbound call 503; what was taken before stays; with room
    again, mail is taken again."""

    def test_below_min_free_mb_mail_gets_452_and_calls_503_and_nothing_is_lost(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        d = self.path("node")
        var = os.path.join(d, "var")
        os.makedirs(var)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", var], capture_output=True).returncode:
            self.skipTest("cannot mount a tmpfs here")
        try:
            node = Node(d, node_extra="min_free_mb = 40")
            try:
                self.check_full_disk(node, var)
            finally:
                node.stop()
        finally:
            # Before TempDirTest's tearDown removes the directory the mount sits in.
            subprocess.run(["umount", var], check=False)

    def check_full_disk(self, node, var):
        msg = email.message.EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "alice@example.com", "FAX=+15550123@fax.test", "before"
        msg.set_content("Taken while there is room.")
        s = node.smtp()
        self.assertEqual(s.sendmail("alice@example.com", ["FAX=+15550123@fax.test"], msg.as_bytes()), {})
        s.quit()
        ballast = os.path.join(var, "ballast")
        with open(ballast, "wb") as f:
            f.write(b"\xa5" * (30 << 20))  # 64 MB - 30 MB < 40 MB
        s = node.smtp()
        code, text = s.mail("alice@example.com")
        self.assertEqual((code, text.decode()[:5]), (452, "4.3.1"), text)
        s.quit()
        call_is_refused(self, node, "503: low on disk space")
        # Nothing taken before is lost; no inbound job was made.
        jobs = node.jobs()
        self.assertEqual([j["direction"] for j in jobs], ["out"], jobs)
        os.remove(ballast)
        s = node.smtp()
        self.assertEqual(s.mail("alice@example.com")[0], 250)
        s.quit()


class StoreUnavailableTest(fbtest.TempDirTest):
    """While the job store cannot be written (another process holds it locked past the busy
    timeout), the node takes nothing it cannot commit: a mail's DATA gets 451 4.3.0 and an
    inbound call 503 with Retry-After; once the store is back both are taken again."""

    def test_mail_gets_451_and_calls_503_while_the_store_is_locked(self):
        import sqlite3
        node = Node(self.dir)
        self.addCleanup(node.stop)
        msg = email.message.EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "alice@example.com", "FAX=+15550123@fax.test", "locked out"
        msg.set_content("Not taken while the store is locked.")
        lock = sqlite3.connect(os.path.join(self.dir, "var", "faxbridge.db"), timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # every writer now waits, then gives up
        try:
            store_down_refuses(self, node, msg, "FAX=+15550123@fax.test")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        # The store is back: the same mail is taken, and nothing of the refused one was kept.
        s = node.smtp()
        self.assertEqual(s.sendmail("alice@example.com", ["FAX=+15550123@fax.test"], msg.as_bytes()), {})
        s.quit()
        jobs = node.wait_jobs(1, states=("queued",) + Node.RENDERED)
        self.assertEqual([(j["direction"], j["number"]) for j in jobs], [("out", "+15550123")])
        self.assertEqual(len(os.listdir(os.path.join(self.dir, "var", "spool", "msg"))), 1)


if __name__ == "__main__":
    unittest.main()

