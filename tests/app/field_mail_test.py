"""Mail as the field sends it (issue 15), end to end through a running node.

- SMTP as Postfix takes it: bare paths in MAIL and RCPT (scanners and copiers send them);
  one number written two ways in one message makes one job;
- loop protection: more than 50 Received: fields (554 5.4.6, Postfix's hopcount_limit), an
  Auto-Submitted message (RFC 3834) and a message From: the node's own address (554 5.7.1) are
  refused before anything is queued.
"""
import os
import smtplib
import time

import fbtest
from offramp_test import Node


def note(sender="bob@example.com", extra_headers=""):
    return ("From: %s\r\nTo: fax\r\nSubject: a note\r\n%s\r\nA short note to fax.\r\n" % (sender, extra_headers))


class SmtpFieldTest(fbtest.TempDirTest):
    def node(self):
        n = Node(self.dir)
        self.addCleanup(n.stop)
        return n

    def test_bare_paths_as_scanners_send_them(self):
        n = self.node()
        s = n.smtp()
        self.assertEqual(s.docmd("MAIL", "FROM: scanner@copier.example")[0], 250)
        code, text = s.docmd("RCPT", "TO:FAX=+15550100@fax.test")
        self.assertEqual(code, 250, text)
        self.assertEqual(s.docmd("DATA")[0], 354)
        s.send(note("scanner@copier.example").encode() + b".\r\n")
        code, text = s.getreply()
        self.assertEqual(code, 250, text)
        s.quit()
        [job] = n.wait_jobs(1)
        self.assertEqual(job["number"], "+15550100")
        with n.db() as db:
            self.assertEqual(db.execute("SELECT sender FROM messages").fetchall(), [("scanner@copier.example",)])

    def test_one_number_written_two_ways_is_one_job(self):
        n = self.node()
        s = n.smtp()
        refused = s.sendmail("bob@example.com", ["FAX=+15550100@fax.test", "FAX=+1-555-0100@FAX.TEST",
                                                 "FAX=+1.555.0100@fax.test", "FAX=+15550100/T33S=7@fax.test"],
                             note())
        self.assertEqual(refused, {})  # every recipient got its 250
        s.quit()
        jobs = n.wait_jobs(2)  # (a message's jobs are committed together: none can come later)
        self.assertEqual(sorted((j["number"], j.get("subaddress") or "") for j in jobs),
                         [("+15550100", ""), ("+15550100", "7")])

    def refused_at_data(self, n, msg, code, enhanced, words):
        s = n.smtp()
        with self.assertRaises(smtplib.SMTPDataError) as e:
            s.sendmail("bob@example.com", ["FAX=+15550100@fax.test"], msg)
        s.quit()
        self.assertEqual(e.exception.smtp_code, code, e.exception.smtp_error)
        self.assertTrue(e.exception.smtp_error.startswith(enhanced.encode()), e.exception.smtp_error)
        self.assertIn(words.encode(), e.exception.smtp_error)
        return e.exception.smtp_error

    def test_loops_are_refused_before_anything_is_queued(self):
        n = self.node()
        hops = "".join("Received: from relay%d.example by relay%d.example; Thu, 3 Dec 2026 10:00:00 +0000\r\n"
                       % (i, i + 1) for i in range(51))
        self.refused_at_data(n, hops + note(), 554, "5.4.6", "too many hops (it came with 51 Received: fields, at most 50)")
        self.refused_at_data(n, note(extra_headers="Auto-Submitted: auto-replied; owner-email=\"x@y\"\r\n"), 554,
                             "5.7.1", "an automatic message (Auto-Submitted: auto-replied) is not faxed")
        self.refused_at_data(n, note(sender="Fax <FAX@fax.test>"), 554, "5.7.1",
                             "it comes from this fax server itself (From: fax@fax.test)")
        self.assertEqual(n.jobs(), [])
        self.assertEqual(os.listdir(os.path.join(self.dir, "var", "spool", "msg")), [])
        # The limit itself, and Auto-Submitted: no, are faxed.
        s = n.smtp()
        self.assertEqual(s.sendmail("bob@example.com", ["FAX=+15550100@fax.test"], hops[hops.index("\r\n") + 2:] + note()), {})
        self.assertEqual(s.sendmail("bob@example.com", ["FAX=+15550101@fax.test"],
                                    note(extra_headers="Auto-Submitted: no\r\n")), {})
        s.quit()
        self.assertEqual(len(n.wait_jobs(2)), 2)

