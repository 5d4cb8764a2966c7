"""Late bounces of received-fax mail (issue 15): over SMTP a received fax's mail leaves from a VERP
address naming its delivery (fax+<delivery>.<tag>@<our domain>), which our own SMTP intake
accepts from anyone; a delivery report (RFC 3464) that it failed marks the delivery failed and
sends the postmaster the fax with the bounce's reason, exactly once.

- LateBounceTest: against a scripted smarthost, what each kind of mail to a bounce address gets:
  a wrong tag 550 5.1.1, a second recipient 452 4.5.3, a delay report an event, a person's reply
  passed to the postmaster, the failure the postmaster's copy, and the same bounce again nothing.
- PostfixLateBounceTest: through a real Postfix smarthost into a real Dovecot whose recipient is
  over quota: Postfix accepts the mail, fails it at LMTP later, and returns the bounce to a node
  that was killed with SIGKILL meanwhile; restarted, the node hears the retried bounce and the
  postmaster's IMAP inbox holds the fax with the reason, once."""
import email
import email.policy
import os
import re
import signal
import smtplib
import sqlite3
import subprocess
import time
import unittest

import fbtest
from mailstore_test import SMARTHOST_INSTANCE, SMARTHOST_MASTER, Dovecot, FakeSmarthost, fax_in
from offramp_test import Node
from onramp_test import parts
from postfix_test import POSTFIX, Postfix

ROUTE = """
[[route]]
did = "+15550100"
mailbox = ["%s"]
"""


def dsn(to, final_recipient, action, status, diagnostic):
    """A delivery status notification as an MTA returns it to `to` (the envelope sender)."""
    return ("From: MAILER-DAEMON@mx.example.com\r\nTo: %s\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
            "--B\r\nContent-Type: text/plain\r\n\r\nYour mail could not be delivered.\r\n\r\n"
            "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
            "Final-Recipient: rfc822; %s\r\nAction: %s\r\nStatus: %s\r\nDiagnostic-Code: smtp; %s\r\n\r\n"
            "--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: fax@example.com\r\nSubject: Fax\r\n\r\n--B--\r\n"
            % (to, final_recipient, action, status, diagnostic))


def send(node, sender, rcpts, message):
    """One SMTP transaction to the node: {rcpt: (code, text)} for refused RCPTs and the DATA reply."""
    with smtplib.SMTP("127.0.0.1", node.smtp_port, timeout=30) as s:
        s.ehlo("mx.example.com")
        code, text = s.mail(sender)
        assert code == 250, (code, text)
        refused = {}
        for r in rcpts:
            code, text = s.rcpt(r)
            if code != 250:
                refused[r] = (code, text.decode())
        if len(refused) == len(rcpts):
            return refused, None
        code, text = s.data(message.encode())
        return refused, (code, text.decode())


def host_mails(host):
    """The mails the scripted smarthost accepted: (MAIL FROM path, [RCPT paths], data)."""
    out = []
    for lines in list(host.sessions):
        sender, rcpts, data, in_data = None, [], [], False
        for line in lines:
            if in_data:
                if line == b".\r\n":
                    out.append((sender, rcpts, b"".join(data)))
                    sender, rcpts, data, in_data = None, [], [], False
                else:
                    data.append(line)
                continue
            m = re.match(rb"MAIL FROM:<([^>]*)>", line, re.I)
            if m:
                sender = m.group(1).decode()
            m = re.match(rb"RCPT TO:<([^>]*)>", line, re.I)
            if m:
                rcpts.append(m.group(1).decode())
            if line.upper().startswith(b"DATA"):
                in_data = True
    return out


def wait_for(what, fn, timeout, log=None):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s%s" % (what, "\n" + log() if log else ""))
        time.sleep(0.2)


def deliveries(node, kind="!= 'forward'"):
    """The received fax's deliveries (by default; mail passed on to the postmaster with kind="= 'forward'")."""
    with node.db() as db:
        return db.execute("SELECT id, recipient, kind, state, error, tag FROM deliveries WHERE kind %s ORDER BY id"
                          % kind).fetchall()


def events(node):
    with node.db() as db:
        return [t for (t,) in db.execute("SELECT text FROM events ORDER BY id")]


class LateBounceTest(fbtest.TempDirTest):
    def setUp(self):
        super().setUp()
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        self.tif = self.path("one.tif")
        fbtest.run("convert", "-o", self.tif, fbtest.itu_chart(1), check=0)

    def test_each_kind_of_mail_to_a_bounce_address(self):
        host = FakeSmarthost(self)
        os.makedirs(self.path("node"))
        # Not trusted, no AUTH: a bounce comes from anyone's MTA.
        node = Node(self.path("node"), trusted=False, extra=ROUTE % "dave@example.com" + """
[delivery]
mode = "smtp"
smarthost = "127.0.0.1:%d"
from = "fax@fax.test"
postmaster = "postmaster@example.com"
""" % host.port)
        self.addCleanup(node.stop)
        log = lambda: read(node.log.name)[-3000:]
        self.assertEqual(fax_in(node, self.tif).result()["pages"], 1)
        wait_for("the job done", lambda: node.jobs() and node.jobs()[0]["state"] == "done", 120, log)
        [(sender, rcpts, _)] = host_mails(host)
        self.assertEqual(rcpts, ["dave@example.com"])
        # The envelope sender names the delivery, with its tag, at our SMTP domain.
        [(did, _, kind, state, _, tag)] = deliveries(node)
        self.assertEqual((kind, state), ("mailbox", "done"))
        self.assertRegex(tag, r"^[0-9a-f]{16}$")
        bounce = "fax+%d.%s@fax.test" % (did, tag)
        self.assertEqual(sender, bounce)

        # A wrong tag names no mail of ours (the address itself is well formed: refused at DATA).
        wrong = "fax+%d.%s@fax.test" % (did, "0" * 16 if tag != "0" * 16 else "1" * 16)
        _, reply = send(node, "", [wrong], dsn(wrong, "dave@example.com", "failed", "5.1.1", "550 no"))
        self.assertEqual(reply[0], 550, reply)
        self.assertIn("5.1.1 <%s>: no such bounce address" % wrong, reply[1])
        # A bounce address takes a transaction of its own.
        refused, _ = send(node, "", [bounce, "postmaster@fax.test"], "Subject: x\r\n\r\nx\r\n")
        self.assertEqual(refused["postmaster@fax.test"][0], 452, refused)
        self.assertIn("4.5.3", refused["postmaster@fax.test"][1])
        # Fax recipients still need authentication from this client.
        refused, _ = send(node, "", ["FAX=+15550199@fax.test"], "Subject: x\r\n\r\nx\r\n")
        self.assertEqual(refused["FAX=+15550199@fax.test"][0], 530, refused)
        # A delay warning is noted on the job; nothing else changes.
        _, reply = send(node, "", [bounce], dsn(bounce, "dave@example.com", "delayed", "4.2.2", "452 over quota, trying"))
        self.assertEqual(reply, (250, "2.0.0 Ok: report noted"))
        self.assertIn("the mail to dave@example.com: delayed, 4.2.2 (452 over quota, trying), reported by mx.example.com",
                      events(node))
        self.assertEqual(deliveries(node)[0][3], "done")
        # An out-of-office reply to the Return-Path (RFC 3834) is noted, not passed on.
        _, reply = send(node, "", [bounce], "From: dave@example.com\r\nAuto-Submitted: auto-replied\r\n"
                                            "Subject: Out of office\r\n\r\nAway until Monday.\r\n")
        self.assertEqual(reply, (250, "2.0.0 Ok: automatic reply noted"))
        self.assertIn("an automatic reply (Auto-Submitted: auto-replied) came back to the bounce address of the mail "
                      "to dave@example.com", events(node))
        # A person's reply to the bounce address is no report: passed on to the postmaster.
        _, reply = send(node, "dave@example.com", [bounce], "From: dave@example.com\r\nSubject: Re: Fax\r\n\r\nThanks!\r\n")
        self.assertEqual(reply[0], 250, reply)
        self.assertIn("for the postmaster (not a delivery report)", reply[1])
        fwd = wait_for("the reply passed on", lambda: [m for m in host_mails(host) if b"Thanks!" in m[2]], 60, log)
        self.assertEqual((fwd[0][0], fwd[0][1]), ("", ["postmaster@example.com"]))

        # The failure: the delivery is failed, and the postmaster gets the fax with the reason.
        failed = dsn(bounce, "dave@example.com", "failed", "5.2.2", "552 5.2.2 Mailbox full")
        _, reply = send(node, "", [bounce], failed)
        self.assertEqual(reply, (250, "2.0.0 Ok: bounce recorded; the fax goes to the postmaster"))
        ds = deliveries(node)
        self.assertEqual([(d[1], d[2]) for d in ds], [("dave@example.com", "mailbox"),
                                                      ("postmaster@example.com", "postmaster")])
        self.assertEqual(ds[0][3], "failed")
        self.assertEqual(ds[0][4], "bounced: 5.2.2 (552 5.2.2 Mailbox full), reported by mx.example.com")
        pm = wait_for("the postmaster's copy", lambda: [m for m in host_mails(host) if m[1] == ["postmaster@example.com"]
                                                         and b"bounced after it was sent" in m[2]], 60, log)
        self.assertEqual(len(pm), 1)
        msg = email.message_from_bytes(pm[0][2], policy=email.policy.default)
        self.assertTrue(msg["Subject"].startswith("Undelivered: Fax from"), msg["Subject"])
        body = msg.get_body(("plain",)).get_content()
        self.assertIn("the mail to dave@example.com bounced after it was sent: 5.2.2 (552 5.2.2 Mailbox full)",
                      " ".join(body.split()))
        self.assertEqual([ct for ct, _, _ in parts(msg)].count("image/tiff"), 1)
        # ... itself from its own bounce address.
        self.assertEqual(pm[0][0], "fax+%d.%s@fax.test" % (ds[1][0], ds[1][5]))
        [job] = node.jobs()
        self.assertEqual(job["state"], "done")  # a final job stays final; its history tells
        # The same bounce again (its 250 was lost): accepted, and nothing more happens.
        _, reply = send(node, "", [bounce], failed)
        self.assertEqual(reply, (250, "2.0.0 Ok: that bounce was recorded already"))
        self.assertEqual(len(deliveries(node)), 2)
        self.assertEqual(sum(1 for e in events(node) if "bounced" in e), 1, events(node))
        # Passed on to the postmaster: the two mails that were no report (the reply, and the one
        # whose second recipient was refused), each from <>.
        self.assertEqual(len(deliveries(node, "= 'forward'")), 2)


class PostfixLateBounceTest(fbtest.TempDirTest):
    @unittest.skipUnless(os.path.exists(POSTFIX), "Postfix is not installed")
    def test_a_full_mailbox_bounces_after_a_kill_9_and_the_postmaster_gets_the_fax_once(self):
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        tif = self.path("one.tif")
        fbtest.run("convert", "-o", tif, fbtest.itu_chart(1), check=0)
        dovecot = Dovecot(self.dir, quota={"full@example.com": "*:storage=1K"})
        self.addCleanup(dovecot.stop)
        os.makedirs(self.path("node"))
        os.makedirs(self.path("postfix"))
        # The smarthost: mail for example.com into Dovecot over LMTP, held (defer_transports) until
        # the node is down; bounces to the node's domain fax.test back to the node's SMTP port
        # (known once the node runs: set then).
        postfix = Postfix(self.path("postfix"), 0, main_cf=SMARTHOST_CF_PLAIN % {"lmtp": dovecot.lmtp},
                          master_cf=SMARTHOST_MASTER)
        self.addCleanup(postfix.stop)
        node = Node(self.path("node"), extra=ROUTE % "full@example.com" + """
[delivery]
mode = "smtp"
smarthost = "127.0.0.1:%d"
from = "fax@fax.test"
postmaster = "postmaster@example.com"
""" % postfix.port)
        try:
            p = subprocess.run(["postconf", "-c", postfix.config, "-e",
                                "transport_maps = inline:{ fax.test=smtp:[127.0.0.1]:%d }" % node.smtp_port],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(postfix.postfix("reload").returncode, 0)
            log = lambda: read(node.log.name)[-3000:] + "\nmaillog:\n" + postfix.log()[-3000:]
            self.assertEqual(fax_in(node, tif).result()["pages"], 1)
            # Postfix took the mail (250): the delivery is done; the mailbox has not seen it yet.
            wait_for("delivered to the smarthost", lambda: any(d[3] == "done" for d in deliveries(node)), 120, log)
            [(did, _, kind, _, _, tag)] = deliveries(node)
            self.assertEqual(kind, "mailbox")
            postfix.wait_log(r"from=<fax\+%d\.%s@fax\.test>" % (did, tag))
            # The node dies hard; only then does Postfix try the mailbox, which is full.
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait()
            release(postfix)
            postfix.wait_log(r"to=<full@example\.com>.*status=bounced.*5\.2\.2", timeout=120)
            # The bounce finds the node down and waits in Postfix's queue.
            postfix.wait_log(r"to=<fax\+%d\.%s@fax\.test>.*status=deferred" % (did, tag), timeout=120)
            node = restart(node)
            postfix.postfix("flush")
            postfix.wait_log(r"to=<fax\+%d\.%s@fax\.test>.*status=sent \(250 2\.0\.0 Ok: bounce recorded; the fax goes "
                             r"to the postmaster\)" % (did, tag), timeout=120)
            ds = deliveries(node)
            self.assertEqual([(d[1], d[3]) for d in ds][0], ("full@example.com", "failed"))
            self.assertRegex(ds[0][4], r"^bounced: 5\.2\.2 \(552 5\.2\.2 <full@example\.com> Quota exceeded")
            self.assertEqual([d[1] for d in ds], ["full@example.com", "postmaster@example.com"])
            [pm] = dovecot.inbox("postmaster@example.com", 1)
            self.assertTrue(pm["Subject"].startswith("Undelivered: Fax from"), pm["Subject"])
            body = " ".join(pm.get_body(("plain",)).get_content().split())
            self.assertIn("the mail to full@example.com bounced after it was sent: 5.2.2 (552 5.2.2 <full@example.com> "
                          "Quota exceeded", body)
            self.assertIn("reported by smarthost.test", body)
            self.assertEqual([ct for ct, _, _ in parts(pm)].count("image/tiff"), 1)
            # Once: the postmaster's copy is delivered, and no second one follows (the flush
            # retried everything Postfix held).
            wait_for("the postmaster's copy done", lambda: deliveries(node)[-1][3] == "done", 120, log)
            # Nothing left anywhere that could still arrive: Postfix's queue empty, the node's
            # deliveries all final; then exactly one copy was delivered.
            postfix.postfix("flush")
            wait_for("Postfix's queue empty", lambda: "Mail queue is empty" in subprocess.run(
                ["postqueue", "-c", postfix.config, "-p"], capture_output=True, text=True).stdout, 120, log)
            self.assertEqual(len(re.findall(r"to=<postmaster@example\.com>.*status=sent", postfix.log())), 1,
                             postfix.log()[-3000:])
            self.assertEqual(len(deliveries(node)), 2)
            self.assertEqual(dovecot.count("postmaster@example.com"), 1)
            self.assertEqual(dovecot.count("full@example.com"), 0)
        finally:
            node.stop()


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def restart(node):
    """The node's serve process again on its config and data (after a stop or a SIGKILL)."""
    started = read(node.log.name).count("faxbridge: ready")
    node.log = open(node.log.name, "a")
    node.proc = subprocess.Popen([fbtest.FAXBRIDGE, "serve", "--config", node.config], stderr=node.log, cwd=node.dir)
    deadline = time.time() + 30
    while read(node.log.name).count("faxbridge: ready") <= started:
        if node.proc.poll() is not None or time.time() > deadline:
            raise AssertionError("serve did not start again: " + read(node.log.name)[-3000:])
        time.sleep(0.05)
    return node


def release(postfix):
    """Lets the held mail go: defer_transports emptied, reloaded, flushed."""
    p = subprocess.run(["postconf", "-c", postfix.config, "-e", "defer_transports ="], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert postfix.postfix("reload").returncode == 0
    postfix.postfix("flush")


# A smarthost without TLS or AUTH (mynetworks relays): what this test needs of it is the later bounce.
SMARTHOST_CF_PLAIN = """\
compatibility_level = 3.6
myhostname = smarthost.test
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = example.com
virtual_transport = lmtp:inet:127.0.0.1:%(lmtp)d
defer_transports = lmtp
smtp_tls_security_level = none
# Retried at once when flushed; a bounce is sent at once.
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s

default_transport = error:5.7.1 test smarthost delivers only to example.com and fax.test
""" + SMARTHOST_INSTANCE


if __name__ == "__main__":
    unittest.main()
