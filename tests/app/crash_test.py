"""Crash test of the OffRamp intake (ARCHITECTURE.md, Durability): kill -9 the server while
messages stream in; after a restart every message that got its 250 is queued exactly once,
with its job, and nothing else is queued — except, possibly, the one message whose 250 was in
flight when the process died (committed, but the client never heard: the unavoidable window
of every MTA, RFC 1047; the client sends it again, which is a duplicate, never a loss)."""
import os
import random
import re
import signal
import smtplib
import sqlite3
import subprocess
import threading
import time
import unittest

import fbtest
from offramp_test import Node


class Streamer(threading.Thread):
    """Sends numbered messages one after another until the server dies."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.acked = {}      # number -> queue id from the 250
        self.in_flight = None
        self.stop = False
        self.refused = None  # a 4xx/5xx before the kill would make the test meaningless

    def run(self):
        n = 0
        while not self.stop:
            try:
                s = smtplib.SMTP("127.0.0.1", self.port, timeout=10)
                s.ehlo("crash.test")
                while not self.stop:
                    n += 1
                    self.in_flight = n
                    s.mail("sender@example.com")
                    s.rcpt("FAX=+15550100@fax.test")
                    code, text = s.data("Subject: crash-%d\r\n\r\nmessage %d\r\n" % (n, n))
                    if code != 250:
                        self.refused = (code, text)
                        return
                    self.acked[n] = re.search(rb"queued as ([0-9a-f]{16})", text).group(1).decode()
                    self.in_flight = None
            except (smtplib.SMTPResponseException) as e:
                if e.smtp_code != 421:
                    self.refused = (e.smtp_code, e.smtp_error)
                return
            except (OSError, smtplib.SMTPException):
                return  # the server is gone


class CrashTest(fbtest.TempDirTest):
    def stored_subjects(self, node):
        """Message number -> count of its copies in the spool that have a job store row."""
        with node.db() as db:
            rows = db.execute("SELECT m.id, m.spool_path, COUNT(j.id) FROM messages m "
                              "LEFT JOIN jobs j ON j.message_id = m.id GROUP BY m.id").fetchall()
        seen = {}
        for mid, path, jobs in rows:
            self.assertEqual(jobs, 1, "message %s has %d jobs" % (mid, jobs))
            # Stored relative to the data directory, which serve works in.
            with open(os.path.join(node.dir, "var", path), "rb") as f:
                m = re.search(rb"Subject: crash-(\d+)", f.read())
            self.assertIsNotNone(m, path)
            seen[int(m.group(1))] = seen.get(int(m.group(1)), 0) + 1
        return seen, {r[0] for r in rows}

    def test_kill_9_during_a_stream_of_submissions(self):
        rng = random.Random(20261122)
        for round_ in range(3):
            with self.subTest(round=round_):
                workdir = os.path.join(self.dir, "round%d" % round_)
                os.makedirs(workdir)
                unlimited = "sender_messages_per_hour = 0\nsender_recipients_per_hour = 0"
                node = Node(workdir, smtp_extra=unlimited)
                streamer = Streamer(node.smtp_port)
                streamer.start()
                # Kill at a random moment once a few messages have their 250 (waited for, not
                # slept for: under load the first ones may take a while).
                deadline = time.time() + 60
                while len(streamer.acked) < 4 and streamer.is_alive() and time.time() < deadline:
                    time.sleep(0.02)
                time.sleep(rng.random() * 0.4)
                node.proc.send_signal(signal.SIGKILL)
                node.proc.wait()
                streamer.join(timeout=20)
                self.assertFalse(streamer.refused, streamer.refused)
                node.log.close()
                if node.blackhole:
                    node.blackhole.close()
                acked, in_flight = dict(streamer.acked), streamer.in_flight
                self.assertGreater(len(acked), 3, "too few messages were sent before the kill")

                node = Node(workdir, smtp_extra=unlimited)  # restart on the same data: recovery runs
                self.addCleanup(node.stop)
                seen, ids = self.stored_subjects(node)
                for n, qid in acked.items():
                    self.assertEqual(seen.get(n), 1, "acknowledged message %d (%s) is queued %s times"
                                     % (n, qid, seen.get(n, 0)))
                    self.assertIn(qid, ids)
                extra = set(seen) - set(acked)
                print("round %d: %d acknowledged before kill -9, in flight: %s, queued without a 250: %s"
                      % (round_, len(acked), in_flight, sorted(extra) or "none"))
                self.assertLessEqual(extra, {in_flight} if in_flight else set(),
                                     "queued without a 250: %s" % sorted(extra))
                spool = os.path.join(workdir, "var", "spool")
                self.assertEqual(os.listdir(os.path.join(spool, "incoming")), [], "partial files survived")
                on_disk = {f[:-4] for f in os.listdir(os.path.join(spool, "msg"))}
                self.assertEqual(on_disk, ids, "spool files without jobs, or jobs without files")
                node.wait_jobs(len(ids), timeout=120)  # every job is rendered after the restart
                node.stop()

    def test_a_second_serve_on_the_same_data_directory_is_refused(self):
        """A second serve would take the first one's half-written files for a crash's leftovers."""
        workdir = self.path("node")
        os.makedirs(workdir)
        node = Node(workdir)
        self.addCleanup(node.stop)
        second = subprocess.run([fbtest.FAXBRIDGE, "serve", "--config", node.config], cwd=workdir,
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(second.returncode, 1, second.stderr)
        self.assertIn("another faxbridge serve is running on %s" % os.path.join(workdir, "var"), second.stderr)
        self.assertIsNone(node.proc.poll(), "the first serve must go on")
        # After a kill -9 the lock is free again: the restart of the crash tests depends on it.
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait()
        node.log.close()
        if node.blackhole:
            node.blackhole.close()
        again = Node(workdir)
        self.addCleanup(again.stop)
        self.assertIsNone(again.proc.poll())


class TakeoverTest(fbtest.TempDirTest):
    def test_a_dead_nodes_call_is_taken_over_once_its_claim_runs_out(self):
        """A call claimed by another node (issue 17) that stops renewing its claim: this node, running,
        takes the job over once the claim has run out (never before), puts it back to ready with its
        confirmed pages kept, and accounts the dead node's call as interrupted."""
        import datetime
        now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
        opens, closes = now + datetime.timedelta(hours=2), now + datetime.timedelta(hours=3)
        # A closed sending window holds the job in ready, so the test can hand it to a "ghost".
        node = Node(self.dir, node_extra='name = "alpha"\nlease_s = 6',
                    extra='[[window]]\nprefixes = ["+1555"]\nhours = "%s-%s"\ntimezone = "UTC"\n'
                          % (opens.strftime("%H:%M"), closes.strftime("%H:%M")))
        try:
            with node.smtp() as s:
                s.sendmail("alice@example.com", ["FAX=+15550123@fax.test"],
                           b"Subject: held\r\n\r\nTaken over.\r\n")
            deadline = time.time() + 60
            jobs = []
            while time.time() < deadline:
                jobs = node.jobs()
                if jobs and jobs[0]["state"] == "ready" and jobs[0]["retry_at"]:
                    break
                time.sleep(0.2)
            self.assertTrue(jobs, "the mail did not become a job")
            job = jobs[0]
            self.assertEqual(job["state"], "ready")
            lease_until = int(time.time()) + 10  # room for a slow CLI call under load
            with node.db() as db:
                db.execute("UPDATE jobs SET state = 'sending', owner = 'ghost', lease_until = ?, attempt = 1, "
                           "pages_done = 0, retry_at = NULL WHERE id = ?", (lease_until, job["id"]))
            # Still the ghost's while its claim holds.
            self.assertEqual(node.jobs()[0]["state"], "sending")
            deadline = time.time() + 30
            while time.time() < deadline:
                with node.db() as db:
                    row = db.execute("SELECT state, owner, error FROM jobs WHERE id = ?", (job["id"],)).fetchone()
                if row[0] != "sending":
                    break
                time.sleep(0.2)
            self.assertEqual(row[0], "ready", row)
            self.assertEqual(row[2], "The node ghost stopped during the call; it will be tried again.")
            with node.db() as db:
                events = db.execute("SELECT time, text FROM events WHERE job_id = ? ORDER BY id", (job["id"],)).fetchall()
                accounting = db.execute("SELECT outcome, job_id FROM accounting").fetchall()
            taken = [t for t, text in events if text == "taken over from ghost, whose claim ran out"]
            self.assertEqual(len(taken), 1, events)
            self.assertGreaterEqual(taken[0], lease_until, "taken over before the ghost's claim ran out")
            self.assertEqual(accounting, [("interrupted", job["id"])])
            with open(os.path.join(self.dir, "var", "accounting.jsonl")) as f:
                self.assertIn('"outcome":"interrupted"', f.read())
        finally:
            node.stop()


if __name__ == "__main__":
    unittest.main()
