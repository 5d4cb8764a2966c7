"""Mail as the field sends it (issue 15), end to end through a running node.

- SMTP as Postfix takes it: bare paths in MAIL and RCPT (scanners and copiers send them);
  one number written two ways in one message makes one job;
- loop protection: more than 50 Received: fields (554 5.4.6, Postfix's hopcount_limit), an
  Auto-Submitted message (RFC 3834) and a message From: the node's own address (554 5.7.1) are
  refused before anything is queued;
- content: a body with no header block, a header block that runs into the body, an unknown
  charset label, a message forwarded as an attachment and one that is itself a forwarded
  message: each rendered (never failed after the 250), its pages counted and read back (OCR);
- damaged PDFs: one whose cross-reference table is broken but whose pages are all there is faxed
  and the sender's DSN says it was repaired; one that lost a page is refused in the DSN, saying so.
"""
import email
import email.policy
import json
import os
import smtplib
import time

import fbtest
from mailstore_test import FakeSmarthost
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
        s.mail("bob@example.com")
        for rcpt, options in (("FAX=+15550100@fax.test", ["NOTIFY=NEVER"]), ("FAX=+1-555-0100@FAX.TEST", ["NOTIFY=SUCCESS"]),
                              ("FAX=+1.555.0100@fax.test", []), ("FAX=+15550100/T33S=7@fax.test", ["NOTIFY=NEVER"])):
            self.assertEqual(s.rcpt(rcpt, options)[0], 250, rcpt)  # every recipient gets its 250
        self.assertEqual(s.data(note())[0], 250)
        s.quit()
        jobs = n.wait_jobs(2)  # (a message's jobs are committed together: none can come later)
        self.assertEqual(sorted((j["number"], j.get("subaddress") or "") for j in jobs),
                         [("+15550100", ""), ("+15550100", "7")])
        # The job reports as every spelling asked: SUCCESS, and the default's FAILURE and DELAY.
        with n.db() as db:
            self.assertEqual(db.execute("SELECT subaddress, notify FROM jobs ORDER BY subaddress").fetchall(),
                             [(None, "SUCCESS,FAILURE,DELAY"), ("7", "NEVER")])

    def test_merged_notify_follows_the_nodes_dsn_defaults(self):
        os.makedirs(self.path("quiet"))
        n = Node(self.path("quiet"), extra="[dsn]\ndelay = false\n")  # no DELAY unless asked
        self.addCleanup(n.stop)
        s = n.smtp()
        s.mail("bob@example.com")
        for number, options in (("+15550100", []), ("+1-555-0100", ["NOTIFY=DELAY"]),
                                ("+15550101", []), ("+1-555-0101", ["NOTIFY=SUCCESS"]),
                                ("+15550102", []), ("+1-555-0102", ["NOTIFY=FAILURE"])):
            self.assertEqual(s.rcpt("FAX=%s@fax.test" % number, options)[0], 250)
        self.assertEqual(s.data(note())[0], 250)
        s.quit()
        n.wait_jobs(3)
        with n.db() as db:
            self.assertEqual(db.execute("SELECT number, notify FROM jobs ORDER BY number").fetchall(),
                             [("+15550100", "FAILURE,DELAY"), ("+15550101", "SUCCESS,FAILURE"), ("+15550102", None)])

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
                             "5.7.1", "an automatic reply (Auto-Submitted: auto-replied) is not faxed")
        self.refused_at_data(n, note(sender="Fax <FAX@fax.test>", extra_headers="Auto-Submitted: auto-generated\r\n"),
                             554, "5.7.1", "it comes from this fax server itself (From: fax@fax.test, Auto-Submitted)")
        # A received fax a mailbox rule sends on, with a new From: still ours by its X-Fax-Job.
        self.refused_at_data(n, note(sender="boss@example.com",
                                     extra_headers="Auto-Submitted: auto-generated\r\nX-Fax-Job: 17\r\n"),
                             554, "5.7.1", "it comes from this fax server itself (From: boss@example.com, Auto-Submitted)")
        self.assertEqual(n.jobs(), [])
        self.assertEqual(os.listdir(os.path.join(self.dir, "var", "spool", "msg")), [])
        # The limit itself, Auto-Submitted: no, another system's auto-generated mail and a person
        # writing from our own address are faxed.
        s = n.smtp()
        self.assertEqual(s.sendmail("bob@example.com", ["FAX=+15550100@fax.test"], hops[hops.index("\r\n") + 2:] + note()), {})
        self.assertEqual(s.sendmail("bob@example.com", ["FAX=+15550101@fax.test"],
                                    note(extra_headers="Auto-Submitted: no\r\n")), {})
        self.assertEqual(s.sendmail("erp@example.com", ["FAX=+15550102@fax.test"],
                                    note(sender="erp@example.com", extra_headers="Auto-Submitted: auto-generated\r\n")), {})
        self.assertEqual(s.sendmail("fax@fax.test", ["FAX=+15550103@fax.test"], note(sender="fax@fax.test")), {})
        s.quit()
        self.assertEqual(len(n.wait_jobs(4)), 4)


class MessyMailTest(fbtest.TempDirTest):
    """Messages as clients and copiers really send them, faxed as their senders meant: each one's
    job is rendered (never failed after the 250) and its pages are read back with OCR."""

    def fax(self, raw):
        """Sends `raw` to one number on a fresh node; returns the job and the OCR of its pages."""
        d = self.path("node")
        os.makedirs(d)
        n = Node(d)
        self.addCleanup(n.stop)
        s = n.smtp()
        self.assertEqual(s.sendmail("bob@example.com", ["FAX=+15550100@fax.test"], raw), {})
        s.quit()
        [job] = n.wait_jobs(1)
        self.assertNotEqual(job["state"], "failed", job)
        tif = os.path.join(n.dir, "var", "spool", "fax", "%d.tif" % job["id"])
        text = " ".join(fbtest.ocr(tif, self.dir, page=p) for p in range(1, job["pages"] + 1))
        return job, " ".join(text.split())

    def test_a_body_without_a_header_block(self):
        job, text = self.fax(b"Please fax the signed contract today.\r\nThanks: Bob\r\n")
        self.assertEqual(job["pages"], 1)
        self.assertIn("signed contract", text)

    def test_a_body_whose_first_line_is_indented(self):
        job, text = self.fax(b"    Dear Sir, the indented letter begins here.\r\nRegards\r\n")
        self.assertEqual(job["pages"], 1)
        self.assertIn("indented letter begins here", text)

    def test_a_header_block_that_runs_into_the_body(self):
        job, text = self.fax(b"From: Bob <bob@example.com>\r\nSubject: Invoice\r\n"
                             b"The invoice total is forty euros.\r\n")
        self.assertEqual(job["pages"], 1)
        self.assertIn("invoice total is forty euros", text)

    def test_an_unknown_charset_label(self):
        job, text = self.fax(b"From: bob@example.com\r\nSubject: menu\r\nMIME-Version: 1.0\r\n"
                             b"Content-Type: text/plain; charset=unknown-8bit\r\n"
                             b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9 lunch menu for Tuesday\r\n")
        self.assertEqual(job["pages"], 1)
        self.assertIn("lunch menu for Tuesday", text)

    FORWARDED = (b"From: Carol Jones <carol@example.org>\r\nTo: Bob <bob@example.com>\r\n"
                 b"Date: Tue, 1 Dec 2026 09:30:00 +0100\r\nSubject: Quarterly figures\r\n"
                 b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nRevenue grew by nine percent.\r\n")

    def assert_forwarded(self, text):
        for words in ("Forwarded message", "Carol Jones", "2026", "Quarterly figures", "Revenue grew by nine percent"):
            self.assertIn(words, text)

    def test_a_message_forwarded_as_an_attachment(self):
        raw = (b"From: bob@example.com\r\nSubject: Fwd: Quarterly figures\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
               b"Please fax this on.\r\n--b1\r\nContent-Type: message/rfc822\r\n"
               b"Content-Disposition: attachment; filename=figures.eml\r\n\r\n" + self.FORWARDED + b"\r\n--b1--\r\n")
        job, text = self.fax(raw)
        self.assertEqual(job["pages"], 2)  # the note, then the forwarded message with its header
        self.assertIn("Please fax this on", text)
        self.assert_forwarded(text)

    def test_a_message_that_is_itself_a_forwarded_message(self):
        raw = (b"From: bob@example.com\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n"
               + self.FORWARDED)
        job, text = self.fax(raw)
        self.assertEqual(job["pages"], 1)
        self.assert_forwarded(text)


CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mail")


class MailCorpusTest(fbtest.TempDirTest):
    """tests/data/mail (make_corpus.py): Outlook with TNEF and with a pasted picture, Gmail HTML
    with a cid: picture, Apple Mail with a PDF between its text, Thunderbird forwards inline and
    attached, a copier's scan, a list digest, headerless mail, an unknown charset, S/MIME signed
    both ways and encrypted. Each is sent to one node over SMTP: what expected.json says faxable
    gets its 250 and is rendered (never failed after the 250) with the pages and words (OCR) it
    lists; the rest is refused at DATA with the reply it lists."""

    def test_each_message_becomes_the_pages_its_sender_meant(self):
        with open(os.path.join(CORPUS, "expected.json")) as f:
            expected = json.load(f)
        n = Node(self.dir)
        self.addCleanup(n.stop)
        queued = {}  # spool id -> corpus name
        s = n.smtp()
        for name in sorted(expected):
            with open(os.path.join(CORPUS, name + ".eml"), "rb") as f:
                raw = f.read()
            self.assertEqual(s.mail("bob@example.com")[0], 250)
            self.assertEqual(s.rcpt("FAX=+15550100@fax.test")[0], 250)
            code, reply = s.data(raw)
            reply = reply.decode()
            want = expected[name]
            if "refused" in want:
                self.assertEqual(str(code), want["refused"], (name, reply))
                for w in want["words"]:
                    self.assertIn(w, reply, name)
                continue
            self.assertEqual(code, 250, (name, reply))
            queued[reply.split("queued as ")[1].split()[0]] = name
        s.quit()
        jobs = n.wait_jobs(len(queued), timeout=240)
        self.assertEqual(len(jobs), len(queued))
        for job in jobs:
            name = queued[job["message_id"]]
            want = expected[name]
            self.assertNotEqual(job["state"], "failed", (name, job))
            self.assertEqual(job["pages"], want["pages"], (name, job))
            tif = os.path.join(n.dir, "var", "spool", "fax", "%d.tif" % job["id"])
            text = " ".join(" ".join(fbtest.ocr(tif, self.dir, page=p).split()) for p in range(1, job["pages"] + 1))
            for w in want["words"]:
                self.assertIn(w, text, (name, text))


def mail_with_pdf(name, pdf):
    import base64
    return (b"From: bob@example.com\r\nTo: fax\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: application/pdf; name=%s\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=%s\r\n\r\n" % (name.encode(), name.encode(), name.encode())
            + base64.encodebytes(pdf).replace(b"\n", b"\r\n"))


class DamagedPdfTest(fbtest.TempDirTest):
    """PDFs as they arrive after a careless gateway or an interrupted upload, through a node that
    faxes itself (the loopback trunk) and sends its reports to a smarthost."""

    def reports(self, host, count, timeout):
        """The delivery-status reports the smarthost has received, once there are `count`."""
        deadline = time.time() + timeout
        while True:
            found = []
            for lines in list(host.sessions):
                data, inside = [], False
                for line in list(lines):
                    if inside:
                        if line == b".\r\n":
                            m = email.message_from_bytes(b"".join(data), policy=email.policy.default)
                            if m.get_param("report-type") in ("delivery-status", "global-delivery-status"):
                                found.append(m)
                            data, inside = [], False
                        else:
                            data.append(line[1:] if line.startswith(b"..") else line)
                    elif line.upper().startswith(b"DATA"):
                        inside = True
            if len(found) >= count:
                return found
            self.assertLess(time.time(), deadline, ([j["state"] for j in self.n.jobs()], found))
            time.sleep(0.5)  # (a poll: the loop ends on the reports themselves, or the deadline)

    def node(self, host, trunk, delivery_extra=""):
        self.n = Node(self.dir, trunk=trunk, extra="""
[delivery]
mode = "smtp"
smarthost = "127.0.0.1:%d"
from = "fax@fax.test"
postmaster = "postmaster@example.com"
%s
""" % (host.port, delivery_extra))
        self.addCleanup(self.n.stop)
        return self.n

    def test_a_repaired_pdf_is_faxed_and_said_so_and_an_incomplete_one_refused(self):
        host = FakeSmarthost(self)
        self.node(host, "self")
        good, offsets, _ = fbtest.pdf_with_pages(["REPAIRED PAGE"])
        shifted = good[:9] + b"%inserted by a mail gateway\n" + good[9:]  # every offset 28 bytes out
        two, offsets2, _ = fbtest.pdf_with_pages(["FIRST PAGE", "LOST PAGE"])
        cut = two[:offsets2[5]]  # the file ends before the second page (object 6)
        s = self.n.smtp()
        for name, pdf in (("shifted.pdf", shifted), ("cut.pdf", cut)):
            self.assertEqual(s.mail("bob@example.com")[0], 250)
            self.assertEqual(s.rcpt("FAX=+15550100@fax.test", ["NOTIFY=SUCCESS,FAILURE"])[0], 250)
            self.assertEqual(s.data(mail_with_pdf(name, pdf))[0], 250)
        s.quit()
        dsns = self.reports(host, 2, 240)
        by_subject = {}
        for m in dsns:
            human = next(iter(m.iter_parts())).get_content().replace("\r\n", "\n")
            by_subject["shifted" if "shifted.pdf" in human else "cut"] = (m, human)
        m, human = by_subject["shifted"]
        self.assertIn("Sent to +15550100: 1 of 1 page confirmed", human)
        self.assertIn("Notes on the documents faxed:\n  - part 1 (shifted.pdf, application/pdf): the PDF was "
                      "damaged (its cross-reference table was broken); it was repaired and all 1 page(s) drew "
                      "without error", human)
        m, human = by_subject["cut"]
        self.assertIn("Could NOT be sent to +15550100", human)
        self.assertIn("cut.pdf", human)
        self.assertIn("its repair is incomplete: its page tree names 1 page(s) that are not in the file", human)
        self.assertNotIn("Notes on the documents faxed", human)

    def test_a_utf8_sender_gets_its_report_over_smtputf8_with_names_as_written(self):
        """RFC 6531/6533: the report to a UTF-8 address goes with SMTPUTF8, its human part in utf-8;
        the smarthost asks for AUTH, after which SMTPUTF8 is still what its EHLO offered."""
        host = FakeSmarthost(self, extensions=(b"AUTH PLAIN", b"SMTPUTF8"))
        n = self.node(host, "nowhere", 'username = "fax"\npassword = "secret"\ntls = "may"')
        two, offsets, _ = fbtest.pdf_with_pages(["FIRST PAGE", "LOST PAGE"])
        s = n.smtp()
        s.command_encoding = "utf-8"
        s.ehlo("client.example")
        self.assertEqual(s.docmd("MAIL", "FROM:<j\u00fcrgen@example.de> SMTPUTF8")[0], 250)
        self.assertEqual(s.rcpt("FAX=+15550100@fax.test")[0], 250)
        self.assertEqual(s.data(mail_with_pdf("vertr\u00e4ge.pdf", two[:offsets[5]])
                                .replace(b"From: bob@example.com", "From: J\u00fcrgen <j\u00fcrgen@example.de>".encode()))[0],
                         250)
        s.quit()
        [dsn] = self.reports(host, 1, 120)
        session = next(lines for lines in host.sessions if any(l.startswith(b"DATA") for l in lines))
        self.assertTrue(any(l.startswith(b"AUTH PLAIN ") for l in session), session)
        self.assertIn(b"MAIL FROM:<> SMTPUTF8\r\n", session)  # (a report's null sender; no 8-bit body)
        self.assertIn("RCPT TO:<j\u00fcrgen@example.de>\r\n".encode(), session)
        human = next(iter(dsn.iter_parts()))
        self.assertEqual(human.get_content_charset(), "utf-8")
        self.assertIn("Could NOT be sent to +15550100: the message cannot be faxed: part 1 (vertr\u00e4ge.pdf, "
                      "application/pdf): the PDF is damaged", human.get_content().replace("\r\n", "\n"))
        self.assertEqual(list(dsn.iter_parts())[2].get_content_type(), "message/global-headers")
        # The SMTPUTF8 that MAIL FROM declared is kept with the message and honoured (RFC 6533 §6.1).
        self.assertEqual(dsn.get_param("report-type"), "global-delivery-status")
        self.assertEqual(list(dsn.iter_parts())[1].get_content_type(), "message/global-delivery-status")


class PostmasterTest(fbtest.TempDirTest):
    """RFC 5321 §4.5.1: mail to <postmaster> (and postmaster at our domains) is accepted from anyone
    and passed on to [delivery] postmaster, from the null reverse path, whatever it contains."""

    def node(self, host, trusted):
        n = Node(self.dir, trusted=trusted, extra="""
[delivery]
mode = "smtp"
smarthost = "127.0.0.1:%d"
from = "fax@fax.test"
postmaster = "hostmaster@example.com"
""" % host.port)
        self.addCleanup(n.stop)
        return n

    def passed_on(self, host, subject, timeout=60):
        """The smarthost session that carried `subject` to the postmaster mailbox: its lines."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for lines in list(host.sessions):
                text = b"".join(lines)
                if subject.encode() in text and b"RCPT TO:<hostmaster@example.com>" in text:
                    return text
            time.sleep(0.2)
        raise AssertionError("nothing reached the postmaster: %s" % host.sessions)

    def test_anyone_reaches_the_postmaster_and_faxes_still_need_authentication(self):
        host = FakeSmarthost(self)
        n = self.node(host, trusted=False)
        s = n.smtp()
        self.assertEqual(s.mail("someone@remote.example")[0], 250)
        self.assertEqual(s.rcpt("postmaster")[0], 250)
        self.assertEqual(s.rcpt("PostMaster@fax.test")[0], 250)
        code, text = s.rcpt("FAX=+15550100@fax.test")
        self.assertEqual((code, text[:5]), (530, b"5.7.0"))
        self.assertNotEqual(s.rcpt("postmaster@elsewhere.example")[0], 250)  # not a relay
        # Nothing here could be faxed; for the postmaster that does not matter.
        body = ("Subject: your fax server bounced my mail\r\nContent-Type: application/octet-stream\r\n\r\n"
                "\x01\x02 not a document\r\n")
        code, text = s.data(body.encode())
        s.quit()
        self.assertEqual(code, 250, text)
        self.assertIn(b"for the postmaster", text)
        got = self.passed_on(host, "your fax server bounced my mail")
        self.assertIn(b"MAIL FROM:<>", got)
        self.assertIn(b"not a document", got)
        self.assertEqual(got.count(b"RCPT TO:"), 1, "one copy for two spellings of the postmaster")
        self.assertEqual(n.jobs(), [])
        # Delivered: the store has no pending delivery left, and the copy in the spool went.
        out = os.path.join(self.dir, "var", "spool", "out")
        deadline = time.time() + 30
        while time.time() < deadline:  # (the file goes just after the commit)
            with n.db() as db:
                state = db.execute("SELECT state FROM deliveries WHERE kind = 'forward'").fetchall()
            left = [f for f in os.listdir(out) if f.startswith("postmaster-")]
            if state == [("done",)] and not left:
                break
            time.sleep(0.2)
        self.assertEqual(state, [("done",)])
        self.assertEqual(left, [])
        # Without authentication, the postmaster takes small mail only (a bounce, a complaint).
        s = n.smtp()
        s.mail("someone@remote.example")
        s.rcpt("postmaster")
        code, text = s.data(b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 1100)  # 1.1 MB
        s.quit()
        self.assertEqual((code, text[:5]), (552, b"5.3.4"), text)
        spool = os.path.join(self.dir, "var", "spool")
        for d in ("incoming", "msg"):
            self.assertEqual(os.listdir(os.path.join(spool, d)), [], d)
        self.assertEqual([f for f in os.listdir(out) if f.startswith("postmaster-")], [])
        with n.db() as db:
            self.assertEqual(db.execute("SELECT count(*) FROM deliveries").fetchone(), (1,))

    def test_a_fax_with_the_postmaster_in_copy_is_both(self):
        host = FakeSmarthost(self)
        n = self.node(host, trusted=True)
        s = n.smtp()
        refused = s.sendmail("alice@example.com", ["FAX=+15550100@fax.test", "postmaster"],
                             b"Subject: fax and a copy\r\n\r\nPlease fax this.\r\n")
        s.quit()
        self.assertEqual(refused, {})
        self.passed_on(host, "fax and a copy")
        jobs = n.wait_jobs(1)
        self.assertEqual([j["number"] for j in jobs], ["+15550100"])
        # A trusted client is held to the message size limit only, not to the postmaster's cap.
        s = n.smtp()
        refused = s.sendmail("alice@example.com", ["postmaster"],
                             b"Subject: a big one\r\n\r\n" + (b"x" * 998 + b"\r\n") * 1100)
        s.quit()
        self.assertEqual(refused, {})
        self.assertIn(b"x" * 998, self.passed_on(host, "a big one"))
