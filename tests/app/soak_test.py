"""Soak: many fax mails to many destinations with mixed outcomes, and every one ends in exactly one
final report that matches what really happened.

Node A routes by prefix: +1555... to node B (which receives the faxes over T.38), +1666... to a
SIPp trunk that answers 486 Busy Here, +1777... to one that never answers. Each message has one
recipient and asks NOTIFY=SUCCESS,FAILURE; its sender has a mailbox of its own. When the queue has
drained: every sender holds exactly one DSN — delivered 2.0.0 for the faxes B received (B has
one inbound job per fax), failed 5.4.1 for busy and unanswered numbers — and no job is left
unfinished. SOAK_MESSAGES sets the count (100 in `make test`, 1000 in `make soak`)."""
import os
import subprocess
import time
import unittest

import fbtest
from offramp_test import Node
from onramp_test import mails
from sip_peers_test import SIPP, free_udp_port

N = int(os.environ.get("SOAK_MESSAGES", "100"))


class SoakTest(fbtest.TempDirTest):
    def test_every_message_ends_in_exactly_one_final_report(self):
        tif = self.path("page.tif")
        with open(self.path("page.txt"), "w") as f:
            f.write("Soak test page.\n")
        fbtest.run("convert", "-o", tif, self.path("page.txt"), check=0)
        busy_port, silent_port = free_udp_port(), free_udp_port()
        sipps = [subprocess.Popen(["sipp", "-sf", os.path.join(SIPP, sc), "-i", "127.0.0.1", "-p", str(port),
                                   "-nostdin"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir)
                 for sc, port in (("uas_busy.xml", busy_port), ("uas_ring_forever.xml", silent_port))]
        os.makedirs(self.path("b"))
        b = Node(self.path("b"), trunk_extra="max_channels = 60")
        os.makedirs(self.path("a"))
        trunks = """
[[trunk]]
name = "busy"
uri = "sip:127.0.0.1:%d"
prefixes = ["+1666"]
max_channels = 60

[[trunk]]
name = "silent"
uri = "sip:127.0.0.1:%d"
prefixes = ["+1777"]
ring_timeout_s = 2
max_channels = 60

[retry]
max_dials = 2
busy_delay_s = 2
no_answer_delay_s = 2
failure_delay_s = 5
""" % (busy_port, silent_port)
        a = Node(self.path("a"), trunk="sip:127.0.0.1:%d" % b.sip_port,
                 trunk_extra='prefixes = ["+1555"]\nmax_channels = 60', extra=trunks,
                 smtp_extra="max_recipients = 10000\nsender_messages_per_hour = 0\nsender_recipients_per_hour = 0")
        try:
            kinds = ["ok", "busy", "silent"]
            plan = {}
            with open(tif, "rb") as f:
                data = f.read()
            import email.message
            s = a.smtp()
            for i in range(N):
                kind = kinds[i % 3]
                number = {"ok": "+1555", "busy": "+1666", "silent": "+1777"}[kind] + "%07d" % i
                sender = "s%d@example.com" % i
                msg = email.message.EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = sender, "FAX=%s@fax.test" % number, "soak %d" % i
                msg.add_attachment(data, maintype="image", subtype="tiff", filename="page.tif")
                s.sendmail(sender, ["FAX=%s@fax.test" % number], msg.as_bytes(), rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
                plan[sender] = (kind, number)
            s.quit()
            t0 = time.monotonic()
            jobs = a.settle(("done", "failed"), timeout=600 + N)
            drained = time.monotonic() - t0
            self.assertEqual(len(jobs), N)
            maildir = os.path.join(a.dir, "var", "mail")
            deadline = time.time() + 120
            while sum(1 for s in plan if mails(maildir, s)) < N and time.time() < deadline:
                time.sleep(1)
            time.sleep(2)  # nothing more may come
            wrong = []
            for sender, (kind, number) in plan.items():
                got = mails(maildir, sender)
                if len(got) != 1:
                    wrong.append((sender, kind, "%d reports" % len(got)))
                    continue
                _, status, _ = list(got[0].iter_parts())
                rcpt = status.get_payload()[1]
                want = ("delivered", "2.0.0") if kind == "ok" else ("failed", "5.4.1")
                if (rcpt["Action"], rcpt["Status"]) != want or number not in rcpt["Final-Recipient"]:
                    wrong.append((sender, kind, rcpt["Action"], rcpt["Status"]))
            self.assertEqual(wrong, [])
            inbound = [j for j in b.settle(("done", "failed"), timeout=120) if j["direction"] == "in"]
            self.assertEqual(sorted(j["number"] for j in inbound),
                             sorted(n for k, n in plan.values() if k == "ok"))
            print("soak: %d messages drained in %.0f s" % (N, drained))
        finally:
            a.stop()
            b.stop()
            for p in sipps:
                p.kill()
                p.wait()


if __name__ == "__main__":
    unittest.main()
