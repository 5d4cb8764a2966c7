"""faxbridge against the fax test peer (tests/peer/fax_peer.cpp), which holds a real T.30
exchange and injects faults: a session refresh by re-INVITE or by UPDATE in the middle of a
transfer changes nothing (every page arrives, no bad row, the call goes on) whichever side
receives it; a caller that hangs up after page 1 of 3 leaves an inbound job with that one page,
marked incomplete; a called peer that stops sending mid-fax ends our call with a clear result."""
import json
import os
import re
import signal
import subprocess
import threading
import time
import unittest

import fbtest
from fax_loss_test import FINAL_IN, FINAL_OUT
from offramp_test import Node

FAX_PEER = os.environ.get("FAX_PEER", os.path.join(os.path.dirname(fbtest.FAXBRIDGE), "fax_peer"))


class Peer:
    def __init__(self, workdir, mode, *args):
        self.report = os.path.join(workdir, "peer-report.json")
        port_file = os.path.join(workdir, "peer-port")
        self.proc = subprocess.Popen([FAX_PEER, mode, "--listen", "127.0.0.1:0", "--port-file", port_file,
                                      "--report", self.report, "--timeout", "200", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 10
        while not self._read(port_file):
            if time.time() > deadline or self.proc.poll() is not None:
                raise AssertionError("fax_peer did not start: %s" % self.proc.communicate()[0])
            time.sleep(0.05)
        self.port = int(self._read(port_file))

    @staticmethod
    def _read(path):
        try:
            with open(path) as f:
                return f.read().strip()
        except FileNotFoundError:
            return ""

    def result(self, timeout=240):
        out, _ = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0 or not os.path.exists(self.report):
            raise AssertionError("fax_peer failed (%s): %s" % (self.proc.returncode, out))
        with open(self.report) as f:
            return json.load(f)


class FaxPeerTest(fbtest.TempDirTest):
    def setUp(self):
        super().setUp()
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        self.charts = self.path("charts.tif")
        fbtest.run("convert", "-o", self.charts, fbtest.itu_chart(1), fbtest.itu_chart(2), fbtest.itu_chart(4), check=0)
        self.two = self.path("two.tif")
        fbtest.run("convert", "-o", self.two, fbtest.itu_chart(1), fbtest.itu_chart(4), check=0)

    def sub(self, name):
        d = self.path(name)
        os.makedirs(d)
        return d

    def test_session_refreshes_and_faults_concurrently(self):
        slow = "[retry]\nfailure_delay_s = 600\nbusy_delay_s = 600\nno_answer_delay_s = 600\n"
        results, errors = {}, {}

        def we_send_peer_refreshes_by_reinvite():
            d = self.sub("reinvite")
            peer = Peer(d, "answer", "--refresh-at", "8", "--refresh-method", "invite", "--rx", os.path.join(d, "rx.tif"))
            node = Node(d, trunk="sip:127.0.0.1:%d" % peer.port, extra=slow)
            try:
                node.send_tiff("FAX=+15550100@fax.test", self.two)
                report = peer.result()
                [job] = node.settle(FINAL_OUT)
                return report, job
            finally:
                node.stop()

        def peer_sends_and_refreshes_by_update():
            d = self.sub("update")
            node = Node(d)
            try:
                peer = Peer(d, "call", "--to", "sip:+15550100@127.0.0.1:%d" % node.sip_port, "--tiff", self.two,
                            "--refresh-at", "8", "--refresh-method", "update")
                report = peer.result()
                [job] = node.settle(FINAL_IN)
                return report, job
            finally:
                node.stop()

        def peer_hangs_up_after_page_1_of_3():
            d = self.sub("hangup")
            node = Node(d)
            try:
                peer = Peer(d, "call", "--to", "sip:+15550100@127.0.0.1:%d" % node.sip_port, "--tiff", self.charts,
                            "--hangup-after-page", "1")
                report = peer.result()
                [job] = node.settle(FINAL_IN)
                return report, job
            finally:
                node.stop()

        def called_peer_goes_silent():
            d = self.sub("silent")
            peer = Peer(d, "answer", "--stop-media-at", "10", "--rx", os.path.join(d, "rx.tif"))
            node = Node(d, trunk="sip:127.0.0.1:%d" % peer.port, extra=slow)
            try:
                node.send_tiff("FAX=+15550100@fax.test", self.charts)
                t0 = time.monotonic()
                [job] = node.settle(FINAL_OUT)
                return peer.result(), job, time.monotonic() - t0
            finally:
                node.stop()

        def run(name, fn):
            try:
                results[name] = fn()
            except Exception as e:
                errors[name] = e

        threads = [threading.Thread(target=run, args=(f.__name__, f)) for f in
                   (we_send_peer_refreshes_by_reinvite, peer_sends_and_refreshes_by_update,
                    peer_hangs_up_after_page_1_of_3, called_peer_goes_silent)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, {})
        for name, r in sorted(results.items()):
            print("%s: peer %s | job %s %s/%s bad %s (%s)" % (name, json.dumps(r[0]), r[1]["state"], r[1]["pages_done"],
                                                              r[1]["pages"], r[1]["bad_rows"], r[1]["error"]))

        with self.subTest("re-INVITE refresh while we send"):
            report, job = results["we_send_peer_refreshes_by_reinvite"]
            self.assertEqual(report["refresh_status"], [200], report)
            self.assertLess(report["refresh_sent_at_page"], 2, "the refresh must fall inside the transfer")
            self.assertEqual((report["success"], report["pages"], report["bad_rows"]), (True, 2, 0), report)
            self.assertEqual((job["state"], job["pages_done"], job["bad_rows"]), ("done", 2, 0), job)
        with self.subTest("UPDATE refresh while we receive"):
            report, job = results["peer_sends_and_refreshes_by_update"]
            self.assertEqual(report["refresh_status"], [200], report)
            self.assertLess(report["refresh_sent_at_page"], 2)
            self.assertEqual((report["success"], report["pages"]), (True, 2), report)
            self.assertEqual((job["state"], job["pages"], job["bad_rows"], job["error"]), ("done", 2, 0, None), job)
        with self.subTest("caller hangs up after page 1 of 3"):
            report, job = results["peer_hangs_up_after_page_1_of_3"]
            self.assertEqual(report["pages"], 1, report)
            self.assertEqual((job["state"], job["pages"]), ("done", 1), job)
            self.assertIsNotNone(job["error"], "an incomplete fax is marked as such")
        with self.subTest("called peer stops sending mid-fax"):
            report, job, seconds = results["called_peer_goes_silent"]
            self.assertNotEqual(job["state"], "done", job)
            self.assertIsNotNone(job["error"])
            self.assertLess(seconds, 10 + 30 + 15, "ended within 30 s of the silence (10 s in, plus set-up)")


class InboundCapTest(fbtest.TempDirTest):
    """Inbound caps: a call past [fax] max_inbound_pages is cut, its pages kept and mailed as an
    incomplete fax naming the cap; missed-call notices are mailed only so often per caller."""

    def test_a_call_past_the_page_cap_is_cut_and_its_pages_kept(self):
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        three = self.path("three.tif")
        fbtest.run("convert", "-o", three, fbtest.itu_chart(1), fbtest.itu_chart(2), fbtest.itu_chart(4), check=0)
        node = Node(self.dir, extra="[fax]\nmax_inbound_pages = 1\n")
        self.addCleanup(node.stop)
        peer = Peer(self.dir, "call", "--to", "sip:+15550100@127.0.0.1:%d" % node.sip_port, "--tiff", three)
        report = peer.result()
        self.assertLess(report["pages"], 3, report)
        [job] = node.settle(FINAL_IN)
        self.assertEqual((job["state"], job["pages"]), ("done", 2), job)  # page 2 passed the cap of 1
        maildir = os.path.join(node.dir, "var", "mail")
        from onramp_test import wait_mails
        [msg] = wait_mails(maildir, "postmaster@localhost", 1, timeout=120, log=node.log.name)
        self.assertEqual(msg["Subject"], "Undelivered: [incomplete] Fax from +15550199, 2 pages")  # no route: the postmaster
        self.assertIn("The call was cut after 2 pages, more than [fax] max_inbound_pages (1).",
                      msg.get_body(("plain",)).get_content())
        with open(node.log.name) as f:
            self.assertIn("The call was cut after 2 pages, more than [fax] max_inbound_pages (1). Hanging up.", f.read())

    def test_missed_call_notices_are_rate_limited_per_caller(self):
        node = Node(self.dir, extra="[fax]\nmissed_notices_per_caller_per_hour = 1\n")
        self.addCleanup(node.stop)
        one = self.path("one.tif")
        fbtest.run("convert", "-o", one, os.path.join(fbtest.DATA, "text.pdf"), check=0)
        for n in range(2):
            d = self.path("call%d" % n)
            os.makedirs(d)
            Peer(d, "call", "--to", "sip:+15550100@127.0.0.1:%d" % node.sip_port, "--tiff", one,
                 "--stop-media-at", "0").result()
            deadline = time.time() + 60
            while not (len(node.jobs()) == n + 1 and all(j["state"] in FINAL_IN for j in node.jobs())):
                self.assertLess(time.time(), deadline, node.jobs())
                time.sleep(0.2)
        jobs = sorted(node.jobs(), key=lambda j: j["id"])
        self.assertEqual([(j["state"], j["pages"]) for j in jobs], [("failed", 0), ("failed", 0)])
        from onramp_test import mails
        maildir = os.path.join(node.dir, "var", "mail")
        notices = mails(maildir, "postmaster@localhost")
        self.assertEqual(len(notices), 1, [m["Subject"] for m in notices])
        self.assertEqual(notices[0]["Subject"], "Undelivered: Missed fax from +15550199")
        with node.db() as db:
            texts = [r[0] for r in db.execute("SELECT text FROM events WHERE job_id = ?", (jobs[1]["id"],))]
        self.assertTrue(any("no notice mailed: 1 already sent for calls from" in t and
                            "missed_notices_per_caller_per_hour" in t for t in texts), texts)


class WarmServerTest(fbtest.TempDirTest):
    """The converter's warm render server (app/render_server.hpp): one server per worker renders
    message after message, each in a fresh process of its own; a server that dies is replaced."""

    RENDERED = re.compile(r"message (\w+): rendered by process (\d+) of render server (\d+)")

    def renders(self, node):
        with open(node.log.name) as f:
            return [(m.group(1), int(m.group(2)), int(m.group(3))) for m in self.RENDERED.finditer(f.read())]

    def send(self, node, n):
        import email.message
        with node.smtp() as s:
            m = email.message.EmailMessage()
            m["From"], m["To"], m["Subject"] = "sender%d@example.com" % n, "FAX=+15550124@fax.test", "note %d" % n
            m.set_content("Note number %d, from its own sender." % n)
            s.sendmail(m["From"], ["FAX=+15550124@fax.test"], m.as_bytes())

    def wait_renders(self, node, count):
        deadline = time.time() + 120
        while len(self.renders(node)) < count:
            self.assertLess(time.time(), deadline, open(node.log.name).read()[-3000:])
            time.sleep(0.05)
        return self.renders(node)

    def test_one_warm_server_a_fresh_process_per_document_and_a_new_server_after_a_crash(self):
        node = Node(self.dir, extra="[converter]\nworkers = 1\n")
        self.addCleanup(node.stop)
        for n in range(3):
            self.send(node, n)
        first = self.wait_renders(node, 3)
        self.assertEqual(len({server for _, _, server in first}), 1, first)
        self.assertEqual(len({worker for _, worker, _ in first}), 3, "a document shared a process: %s" % first)
        jobs = node.wait_jobs(3, states=("ready", "sending", "retry"), timeout=60)
        self.assertTrue(all(j["pages"] == 1 for j in jobs), jobs)
        # The server killed (a crash of its own): the next message gets a new one.
        server = first[0][2]
        os.kill(server, signal.SIGKILL)
        # Polled until it has exited (a zombie, or reaped): a message sent while it is still
        # ending may be rendered by its jail, which lives on for a moment (and renders a page
        # in ~15 ms now), and the test would then be about that race, not about a new server.
        deadline = time.time() + 30
        while True:
            try:
                with open("/proc/%d/stat" % server) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break
            except FileNotFoundError:
                break
            self.assertLess(time.time(), deadline, "the killed render server did not exit")
            time.sleep(0.01)
        self.send(node, 3)
        after = self.wait_renders(node, 4)
        self.assertNotEqual(after[3][2], server, after)
        node.wait_jobs(4, states=("ready", "sending", "retry"), timeout=60)


class ConverterPoolTest(fbtest.TempDirTest):
    """[converter] workers: a document that holds its renderer to the time limit fails alone
    (5.6.x to its sender) while 20 other messages are rendered beside it and a fax is received
    whole meanwhile."""

    def test_a_stuck_document_fails_alone(self):
        from lifecycle_test import dsn_lines
        node = Node(self.dir, extra="[converter]\nworkers = 2\ntime_limit_s = 3\n")
        self.addCleanup(node.stop)
        one = self.path("one.tif")
        fbtest.run("convert", "-o", one, os.path.join(fbtest.DATA, "text.pdf"), check=0)
        peer_dir = self.path("peer")
        os.makedirs(peer_dir)
        peer = Peer(peer_dir, "call", "--to", "sip:+15550100@127.0.0.1:%d" % node.sip_port, "--tiff", one)

        import email.message
        s = node.smtp()
        # 830 pages of text take about 5 s to render here, unloaded: this one is stopped at 3 s.
        m = email.message.EmailMessage()
        m["From"], m["To"], m["Subject"] = "alice@example.com", "FAX=+15550123@fax.test", "stuck"
        m.set_content("\n".join("line %d of a letter that goes on and on" % i for i in range(55000)))
        s.sendmail("alice@example.com", ["FAX=+15550123@fax.test"], m.as_bytes())
        for n in range(20):
            m = email.message.EmailMessage()
            m["From"], m["To"], m["Subject"] = "bob@example.com", "FAX=+15550124@fax.test", "note %d" % n
            m.set_content("Note number %d." % n)
            s.sendmail("bob@example.com", ["FAX=+15550124@fax.test"], m.as_bytes())
        s.quit()

        jobs = node.wait_jobs(21, timeout=300)
        outs = [j for j in jobs if j["direction"] == "out"]
        stuck = [j for j in outs if j["number"] == "+15550123"]
        notes = [j for j in outs if j["number"] == "+15550124"]
        self.assertEqual(len(notes), 20)
        self.assertEqual([j["state"] for j in stuck], ["failed"], stuck)
        self.assertIn("took longer than the limit of 3 s", stuck[0]["error"])
        for j in notes:
            self.assertIn(j["state"], ("ready", "sending", "retry"), j)
            self.assertEqual(j["pages"], 1, j)
        # Beside it, not after it: the first note was rendered while the stuck one still ran (with
        # one worker every note would wait for it to be stopped). Whole seconds: 3 s apart at least.
        with node.db() as db:
            ready = db.execute("SELECT MIN(time) FROM events WHERE text = 'state ready' AND job_id IN (%s)"
                               % ",".join(str(n["id"]) for n in notes)).fetchone()[0]
            failed = db.execute("SELECT MIN(time) FROM events WHERE text LIKE 'state failed%%' AND job_id = ?",
                                (stuck[0]["id"],)).fetchone()[0]
        self.assertLess(ready, failed)
        report = peer.result()
        self.assertTrue(report["success"], report)
        deadline = time.time() + 60
        while True:
            inbound = [j for j in node.jobs() if j["direction"] == "in"]
            if inbound and inbound[0]["state"] in FINAL_IN:
                break
            self.assertLess(time.time(), deadline, inbound)
            time.sleep(0.2)
        self.assertEqual((inbound[0]["state"], inbound[0]["pages"], inbound[0]["bad_rows"]), ("done", 2, 0), inbound[0])  # text.pdf: 2 pages
        maildir = os.path.join(node.dir, "var", "mail")
        from onramp_test import wait_mails
        wait_mails(maildir, "alice@example.com", 1, timeout=60, log=node.log.name)
        [(action, status, _)] = dsn_lines(maildir)
        self.assertEqual(action, "failed")
        self.assertTrue(status.startswith("5.6."), status)


if __name__ == "__main__":
    unittest.main()
