"""The OnRamp end to end: received faxes become mail in the right mailbox.

- The embedded default config (`faxbridge serve` with no file): swaks mails a PDF to
  FAX=+15550100@fax.localhost, the fax goes over the loopback trunk in real T.38, and the mail lands
  in var/mail/fax@localhost/new/; Python's email package reads it, libtiff decodes its TIFF (the
  pages sent, bit-exact below the header line), poppler reads its PDF (the same CCITT data).
- Routing against a real slapd: DIDs, a subaddress, a distribution list, LDAP entries (allowed and
  not allowed), no match (the postmaster), and a directory that is down (the fax waits, then is
  delivered once the directory is back).
- Exchange UM partner mode: the fax test peer calls with Exchange's Referred-By; the mail is the
  partner contract for a complete fax, an incomplete one (hang-up after page 1 of 3) and a call
  with no page.
- kill -9 during delivery: every received fax ends in exactly one mail per mailbox."""
import email
import email.message
import email.policy
import smtplib
import glob
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

import fbtest
from fax_loop_test import normalised_rows, wait_for
from fax_peer_test import Peer
from offramp_test import Node, free_port
from fbtest import FAXBRIDGE

CONTEXT = ("Q2FsbElkPWFiYyZDYWxsZXJJZD0rMTU1NTEyMzQmRXh0ZW5zaW9uPTEwMCZQaG9uZUNvbnRleHQ9ZHAmQ2FsbGVySWREaXNwbGF5"
           "TmFtZT1BbGljZQ==")  # base64 of CallId=abc&CallerId=+15551234&Extension=100&PhoneContext=dp&...


def referred_by(rcpt):
    """The Referred-By Exchange UM puts in the INVITE to its fax partner (exchange-um-partner.md)."""
    return ("Referred-By: <sip:um1.example.com;msExchUMFaxRecipient=smtp:%s;msExchUMContext=%s>"
            % (rcpt, CONTEXT.replace("=", "%3D")))


def mails(maildir, address):
    """The mails delivered to `address`, parsed, oldest first."""
    files = sorted(glob.glob(os.path.join(maildir, address.lower(), "new", "*")), key=os.path.getmtime)
    out = []
    for f in files:
        with open(f, "rb") as fh:
            out.append(email.message_from_binary_file(fh, policy=email.policy.default))
    return out


def wait_mails(maildir, address, count, timeout=240, log=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = mails(maildir, address)
        if len(got) >= count:
            return got
        time.sleep(0.5)
    raise AssertionError("%s has %d mail(s), wanted %d\n%s" % (
        address, len(mails(maildir, address)), count, open(log).read()[-4000:] if log else ""))


def parts(msg):
    """[(content type, filename, decoded bytes)] of the leaves."""
    return [(p.get_content_type(), p.get_filename(), p.get_payload(decode=True)) for p in msg.walk()
            if not p.is_multipart()]


def shape(part):
    if part.is_multipart():
        return "%s[%s]" % (part.get_content_type(), ",".join(shape(p) for p in part.iter_parts()))
    return part.get_content_type()


class Slapd:
    """A private OpenLDAP server on a loopback port, with two people who have fax numbers."""

    SCHEMA = """include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
attributetype ( 1.3.6.1.4.1.55555.1.1 NAME 'faxEnabled' EQUALITY booleanMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.55555.2.1 NAME 'faxRecipient' SUP top AUXILIARY MAY faxEnabled )
pidfile %(dir)s/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "dc=example,dc=com"
rootdn "cn=admin,dc=example,dc=com"
rootpw secret
directory %(dir)s/db
"""
    DATA = """dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: uid=carol,dc=example,dc=com
objectClass: inetOrgPerson
objectClass: faxRecipient
uid: carol
cn: Carol
sn: C
mail: carol@example.com
telephoneNumber: +1 555 0123
faxEnabled: TRUE

dn: uid=dan,dc=example,dc=com
objectClass: inetOrgPerson
objectClass: faxRecipient
uid: dan
cn: Dan
sn: D
mail: dan@example.com
telephoneNumber: +1 555 0124
faxEnabled: FALSE
"""

    def __init__(self, workdir, port):
        self.dir = os.path.join(workdir, "slapd")
        self.port = port
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
        self.conf = os.path.join(self.dir, "slapd.conf")
        with open(self.conf, "w") as f:
            f.write(self.SCHEMA % {"dir": self.dir})
        ldif = os.path.join(self.dir, "data.ldif")
        with open(ldif, "w") as f:
            f.write(self.DATA)
        subprocess.run(["slapadd", "-f", self.conf, "-l", ldif], check=True, capture_output=True)
        self.log = open(os.path.join(self.dir, "slapd.log"), "w")
        # -d keeps it in the foreground, so the test owns the process and stops it by PID.
        self.proc = subprocess.Popen(["slapd", "-f", self.conf, "-h", "ldap://127.0.0.1:%d/" % port, "-d", "0"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise AssertionError("slapd did not start: " + open(self.log.name).read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# OpenLDAP's core schema gives facsimileTelephoneNumber no equality rule (it cannot be searched);
# telephoneNumber can, and the filter is the admin's to choose.
LDAP_FILTER = '"(&(objectClass=faxRecipient)(telephoneNumber=%s))"'


class DefaultConfigTest(fbtest.TempDirTest):
    """The README's first fax, exactly as written there (fixed default ports: RESOURCE_LOCK)."""

    def test_swaks_pdf_comes_back_as_mail_in_var_mail(self):
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        pdf = self.path("doc.pdf")
        fbtest.run("convert", "-o", pdf, fbtest.itu_chart(1), fbtest.itu_chart(4), check=0)
        log = open(self.path("serve.log"), "w")
        proc = subprocess.Popen([FAXBRIDGE, "serve"], cwd=self.dir, stderr=log)
        try:
            deadline = time.time() + 30
            while "faxbridge: ready" not in open(log.name).read():
                self.assertIsNone(proc.poll(), open(log.name).read())
                self.assertLess(time.time(), deadline, "serve did not start")
                time.sleep(0.1)
            # The full loop of issue 6 beside it: a mail asking for a success report (NOTIFY=SUCCESS).
            one = self.path("one.tif")
            fbtest.run("convert", "-o", one, fbtest.itu_chart(2), check=0)
            msg = email.message.EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "alice@example.com", "FAX=+15550100@fax.localhost", "chart 2"
            msg["Message-ID"] = "<chart2@example.com>"
            msg["Disposition-Notification-To"] = "Alice <alice@example.com>"  # an MDN too (RFC 3798)
            with open(one, "rb") as f:
                msg.add_attachment(f.read(), maintype="image", subtype="tiff", filename="one.tif")
            msg.add_attachment(b"BEGIN:VCARD\r\nFN:Alice\r\nEND:VCARD\r\n", maintype="text", subtype="vcard",
                               filename="alice.vcf")  # not faxed: the report names it
            with smtplib.SMTP("127.0.0.1", 2525, timeout=30) as smtp:
                smtp.sendmail("alice@example.com", ["FAX=+15550100@fax.localhost"], msg.as_bytes(),
                              mail_options=["RET=HDRS", "ENVID=QQ314159"],
                              rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;FAX+3D+2B15550100@fax.localhost"])  # xtext
            sw = subprocess.run(["swaks", "--server", "127.0.0.1:2525", "--from", "bob@example.com",
                                 "--to", "FAX=+15550100@fax.localhost", "--attach", "@" + pdf,
                                 "--body", "Two ITU charts follow."], capture_output=True, text=True, timeout=60)
            self.assertEqual(sw.returncode, 0, sw.stdout + sw.stderr)
            maildir = os.path.join(self.dir, "var", "mail")
            got_mails = wait_mails(maildir, "fax@localhost", 2, timeout=300, log=log.name)
            [msg] = [m for m in got_mails if m["X-Fax-Pages"] == "3"]

            self.assertEqual(msg["To"], "fax@localhost")
            self.assertEqual(msg["From"], "Fax <fax@fax.localhost>")
            self.assertEqual(msg["Subject"], "Fax from +15550100, 3 pages")
            self.assertEqual(msg["X-Fax-Pages"], "3")
            self.assertEqual(msg["Auto-Submitted"], "auto-generated")
            self.assertRegex(msg["Message-ID"], r"^<fax-\d+\.\d+@fax\.localhost>$")
            self.assertIsNotNone(msg["Date"].datetime)
            self.assertEqual(shape(msg), "multipart/mixed[multipart/alternative[text/plain,multipart/related["
                                         "text/html,image/png]],application/pdf,image/tiff]")
            text = msg.get_body(("plain",)).get_content()
            self.assertIn("Pages received:   3 pages, complete", text)
            self.assertIn("Rate:             14400 bit/s", text)
            html = msg.get_body(("html",)).get_content()
            png = next(p for p in msg.walk() if p.get_content_type() == "image/png")
            self.assertIn("cid:" + png["Content-ID"].strip("<>"), html)
            self.assertEqual(png.get_payload(decode=True)[1:4], b"PNG")

            got = {ct: (name, data) for ct, name, data in parts(msg)}
            name, tif = got["image/tiff"]
            self.assertRegex(name, r"^fax-\d{8}-\d{6}-15550100\.tif$")
            name_pdf, pdf_bytes = got["application/pdf"]
            self.assertEqual(name_pdf, name[:-4] + ".pdf")
            # The TIFF holds the pages sent: libtiff decodes them, equal below the header line.
            mailed = self.path("mailed.tif")
            with open(mailed, "wb") as f:
                f.write(tif)
            jobs = wait_for_states(self.dir, ("done",), 4)
            out = next(j for j in jobs if j["direction"] == "out" and j["pages"] == 3)
            inn = next(j for j in jobs if j["direction"] == "in" and j["pages"] == 3)
            sent = fbtest.decode_with_libtiff(os.path.join(self.dir, "var", "spool", "fax", "%d.tif" % out["id"]),
                                              self.dir)
            rx = fbtest.decode_with_libtiff(mailed, self.dir)
            self.assertEqual(len(rx), 3)
            for s, g in zip(sent, rx):
                srows, grows = normalised_rows(s), normalised_rows(g)
                header = len(grows) - len(srows)
                self.assertTrue(0 < header < 100)
                self.assertEqual(grows[header:], srows)
            # The PDF is that fax data passed through: three CCITT images of the fax's width.
            mailed_pdf = self.path("mailed.pdf")
            with open(mailed_pdf, "wb") as f:
                f.write(pdf_bytes)
            info = subprocess.run(["pdfinfo", mailed_pdf], capture_output=True, text=True, check=True).stdout
            self.assertRegex(info, r"Pages:\s+3\n")
            images = subprocess.run(["pdfimages", "-list", mailed_pdf], capture_output=True, text=True,
                                    check=True).stdout.splitlines()[2:]
            self.assertEqual(len(images), 3, images)
            for line in images:
                cols = line.split()
                self.assertEqual((cols[3], cols[8]), ("1728", "ccitt"), line)
            # Delivered: the spool copy went to the archive; the composed mail is gone.
            self.assertEqual(os.listdir(os.path.join(self.dir, "var", "spool", "in")), [])

            # The success report to alice, field by field (RFC 3464); bob asked for none.
            reports = wait_mails(maildir, "alice@example.com", 2, timeout=60, log=log.name)
            [dsn] = [m for m in reports if m.get_param("report-type") == "delivery-status"]
            [mdn] = [m for m in reports if m.get_param("report-type") == "disposition-notification"]
            self.assertEqual(dsn.get_content_type(), "multipart/report")
            self.assertEqual(dsn.get_param("report-type"), "delivery-status")
            self.assertEqual(dsn["To"], "alice@example.com")
            self.assertEqual(dsn["Auto-Submitted"], "auto-replied")
            human, status, headers = list(dsn.iter_parts())
            self.assertIn("Sent to +15550100: 1 of 1 page confirmed", human.get_content())
            self.assertIn("These parts of your message were not faxed:\n  - part 2 (alice.vcf, text/vcard): vCard",
                          human.get_content())
            self.assertEqual(status.get_content_type(), "message/delivery-status")
            per_msg, per_rcpt = status.get_payload()
            self.assertEqual(per_msg["Original-Envelope-Id"], "QQ314159")
            self.assertEqual(per_msg["Reporting-MTA"], "dns; " + socket.gethostname())
            self.assertEqual(per_rcpt["Action"], "delivered")
            self.assertEqual(per_rcpt["Status"], "2.0.0")
            self.assertEqual(per_rcpt["Final-Recipient"], "rfc822; FAX=+15550100@fax.localhost")
            self.assertEqual(per_rcpt["Original-Recipient"], "rfc822;FAX=+15550100@fax.localhost")
            self.assertEqual(headers.get_content_type(), "text/rfc822-headers")
            self.assertIn("Message-ID: <chart2@example.com>", headers.get_payload())
            # The MDN she asked for: processed, about that message and that recipient.
            self.assertEqual(mdn["To"], "alice@example.com")
            self.assertEqual(mdn["Subject"], "Fax processed: sent to +15550100")
            _, disp, mdn_headers = list(mdn.iter_parts())
            self.assertEqual(disp.get_content_type(), "message/disposition-notification")
            fields = email.message_from_string(disp.get_payload() if isinstance(disp.get_payload(), str)
                                               else disp.get_payload()[0].as_string())
            self.assertEqual(fields["Disposition"], "automatic-action/MDN-sent-automatically; processed")
            self.assertEqual(fields["Original-Message-ID"], "<chart2@example.com>")
            self.assertEqual(fields["Final-Recipient"], "rfc822; FAX=+15550100@fax.localhost")
            self.assertEqual(fields["Original-Recipient"], "rfc822;FAX=+15550100@fax.localhost")
            self.assertIsNone(fields["Error"])
            self.assertEqual(mdn_headers.get_content_type(), "text/rfc822-headers")
            self.assertFalse(os.path.exists(os.path.join(maildir, "bob@example.com")))
            # Both messages are final and reported: their originals leave the spool.
            msgdir = os.path.join(self.dir, "var", "spool", "msg")
            deadline = time.time() + 30
            while [f for f in os.listdir(msgdir) if f.endswith(".eml")]:
                self.assertLess(time.time(), deadline, os.listdir(msgdir))
                time.sleep(0.2)
            # The delivered reports' composed mails are gone from the outgoing spool too.
            outdir = os.path.join(self.dir, "var", "spool", "out")
            while [f for f in os.listdir(outdir) if f.startswith(("dsn-", "mdn-"))]:
                self.assertLess(time.time(), deadline, os.listdir(outdir))
                time.sleep(0.2)
            self.assertTrue(os.path.exists(os.path.join(self.dir, "var", "spool", "archive", "%d.tif" % inn["id"])))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
            log.close()


def wait_for_states(workdir, states, count, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = subprocess.run([FAXBRIDGE, "jobs", "--json"], capture_output=True, text=True, cwd=workdir)
        if p.returncode == 0:
            import json
            jobs = json.loads(p.stdout)
            if len(jobs) >= count and all(j["state"] in states for j in jobs):
                return jobs
        time.sleep(0.5)
    raise AssertionError("jobs did not reach %s" % (states,))


class RoutingTest(fbtest.TempDirTest):
    def test_routing_table_against_a_real_slapd(self):
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        tif = self.path("one.tif")
        fbtest.run("convert", "-o", tif, fbtest.itu_chart(1), check=0)
        ldap_port = free_port()
        slapd = Slapd(self.dir, ldap_port)
        # A directory that is down: a port held bound and not listening refuses connections.
        down_sock = socket.socket()
        down_sock.bind(("127.0.0.1", 0))
        down_port = down_sock.getsockname()[1]
        routes = """
[[route]]
did = "+15550100"
mailbox = ["a@example.com", "b@example.com"]

[[route]]
subaddress = "42"
mailbox = "sales@example.com"
attach = ["tiff"]

[ldap]
uri = "ldap://127.0.0.1:%d"
base = "dc=example,dc=com"
filter = %s
allow_attribute = "faxEnabled"
"""
        os.makedirs(self.path("main"))
        os.makedirs(self.path("down"))
        node = Node(self.path("main"), trunk="self",
                    extra=routes % (ldap_port, LDAP_FILTER) + "[retry]\ncalls_per_number = 2\n")
        down = Node(self.path("down"), trunk="self",
                    extra=(routes % (down_port, LDAP_FILTER)) + "timeout_s = 2\nretry_s = 2\n")
        slapd2 = None
        try:
            table = [  # number dialled, the mailbox it must end in, what the mail must carry
                ("FAX=+15550100@fax.test", ["a@example.com", "b@example.com"], ["application/pdf", "image/tiff"]),
                ("FAX=+15550100/T33S=42@fax.test", ["sales@example.com"], ["image/tiff"]),
                ("FAX=+15550123@fax.test", ["carol@example.com"], ["application/pdf", "image/tiff"]),
                ("FAX=+15550124@fax.test", ["postmaster@localhost"], ["application/pdf", "image/tiff"]),
                ("FAX=+15550199@fax.test", ["postmaster@localhost"], ["application/pdf", "image/tiff"]),
            ]
            for rcpt, _, _ in table:
                node.send_tiff(rcpt, tif)
            down.send_tiff("FAX=+15550123@fax.test", tif)
            maildir = os.path.join(node.dir, "var", "mail")
            wait_mails(maildir, "postmaster@localhost", 2, log=node.log.name)
            for box in ("a@example.com", "b@example.com", "sales@example.com", "carol@example.com"):
                wait_mails(maildir, box, 1, log=node.log.name)
            for rcpt, boxes, attach in table:
                number = re.match(r"FAX=(\+\d+)", rcpt).group(1)
                sub = re.search(r"T33S=(\d+)", rcpt)
                for box in boxes:
                    with self.subTest(rcpt=rcpt, box=box):
                        mine = [m for m in mails(maildir, box) if m["X-Fax-Called"] == number and
                                ("sub" if sub else "") == ("sub" if "Subaddress:" in m.get_body(("plain",)).get_content() else "")]
                        self.assertEqual(len(mine), 1, [m["Subject"] for m in mails(maildir, box)])
                        types = [ct for ct, _, _ in parts(mine[0]) if ct in ("application/pdf", "image/tiff")]
                        self.assertEqual(types, attach)
            # No mailbox got anything it should not have.
            self.assertEqual(sorted(os.listdir(maildir)), ["a@example.com", "b@example.com", "carol@example.com",
                                                           "postmaster@localhost", "sales@example.com"])
            pm = {m["X-Fax-Called"]: m.get_body(("plain",)).get_content() for m in mails(maildir, "postmaster@localhost")}
            self.assertIn("the directory entry for +15550124 may not receive faxes", pm["+15550124"])
            self.assertIn("no route for the called number +15550199", pm["+15550199"])
            for m in mails(maildir, "postmaster@localhost"):
                self.assertTrue(m["Subject"].startswith("Undelivered: Fax from"), m["Subject"])
            jobs = node.settle(("done",))
            self.assertEqual(len([j for j in jobs if j["direction"] == "in"]), 5)

            # The node whose directory is down holds its fax, routed later.
            deadline = time.time() + 120
            while True:
                inn = [j for j in down.jobs() if j["direction"] == "in"]
                if inn and inn[0]["state"] == "delivering" and inn[0]["retry_at"]:
                    break
                self.assertLess(time.time(), deadline, "the fax did not wait for the directory: %s" % down.jobs())
                time.sleep(0.5)
            self.assertIn("not routed yet: the directory is unavailable", open(down.log.name).read())
            self.assertFalse(os.path.exists(os.path.join(down.dir, "var", "mail")))
            down_sock.close()
            slapd2 = Slapd(self.path("down"), down_port)
            [msg] = wait_mails(os.path.join(down.dir, "var", "mail"), "carol@example.com", 1, timeout=60,
                               log=down.log.name)
            self.assertEqual(msg["X-Fax-Called"], "+15550123")
            [inn] = [j for j in down.settle(("done",), timeout=60) if j["direction"] == "in"]
        finally:
            node.stop()
            down.stop()
            slapd.stop()
            if slapd2:
                slapd2.stop()
            down_sock.close()


class PartnerTest(fbtest.TempDirTest):
    """Exchange UM partner mode from the Referred-By of the INVITE: three calls at once from an
    [exchange] server, and two referrals that must be ignored (a recipient outside
    recipient_domains; a caller that is no [exchange] server)."""

    def test_partner_mail_for_complete_incomplete_and_missed_faxes(self):
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        two, three = self.path("two.tif"), self.path("three.tif")
        fbtest.run("convert", "-o", two, fbtest.itu_chart(1), fbtest.itu_chart(4), check=0)
        fbtest.run("convert", "-o", three, fbtest.itu_chart(1), fbtest.itu_chart(2), fbtest.itu_chart(4), check=0)
        one = self.path("one.tif")
        fbtest.run("convert", "-o", one, fbtest.itu_chart(1), check=0)
        # A route for the DID exists; an honoured referral must win over it, an ignored one not.
        node = Node(self.dir, trunk_extra='accept_from = ["127.0.0.0/8"]',
                    extra='[[route]]\ndid = "+15550100"\nmailbox = "wrong@example.com"\n\n'
                          '[exchange]\nservers = ["127.0.0.1/32"]\nrecipient_domains = ["example.com"]\n')
        try:
            scenarios = {
                "complete": ("dave@example.com", ["--tiff", two]),
                "incomplete": ("erin@example.com", ["--tiff", three, "--hangup-after-page", "1"]),
                "missed": ("frank@example.com", ["--tiff", two, "--stop-media-at", "0"]),
                # From a server, for a domain that is not ours: routed by the number.
                "forged": ("mallory@evil.example", ["--tiff", one]),
                # For one of ours, but from 127.0.0.2: no [exchange] server. Routed by the number.
                "stranger": ("grace@example.com", ["--tiff", one, "--listen", "127.0.0.2:0"]),
            }
            results = {}

            def run(name, rcpt, args):
                d = self.path(name)
                os.makedirs(d)
                peer = Peer(d, "call", "--to", "sip:+15550100@127.0.0.1:%d" % node.sip_port,
                            "--header", referred_by(rcpt), *args)
                results[name] = peer.result()

            threads = [threading.Thread(target=run, args=(n, r, a)) for n, (r, a) in scenarios.items()]
            for t in threads:
                t.start()
            for t in threads:
                t.join(300)
            maildir = os.path.join(node.dir, "var", "mail")
            want = {"complete": ("2.0.0", "2", ["text/plain", "image/tiff"]),
                    "incomplete": ("2.6.0", "1", ["text/plain", "image/tiff"]),
                    "missed": ("2.4.0", "0", ["text/plain"])}
            for name, (rcpt, _) in scenarios.items():
                if name not in want:
                    continue
                with self.subTest(scenario=name):
                    [msg] = wait_mails(maildir, rcpt, 1, timeout=120, log=node.log.name)
                    status, pages, types = want[name]
                    self.assertEqual(msg["To"], rcpt)
                    self.assertEqual(msg["Content-Class"], "MS-Exchange-UM-Partner")
                    self.assertEqual(msg["X-MS-Exchange-UM-PartnerContent"], "fax")
                    self.assertEqual(msg["X-MS-Exchange-UM-PartnerContext"], CONTEXT)
                    self.assertEqual(msg["X-MS-Exchange-UM-PartnerStatus"], status)
                    self.assertEqual(msg["X-FaxNumberOfPages"], pages)
                    self.assertRegex(msg["X-MS-Exchange-UM-PartnerAssignedID"], r"^\d+$")
                    self.assertEqual([ct for ct, _, _ in parts(msg)], types)
                    if pages != "0":
                        tif = [d for ct, _, d in parts(msg) if ct == "image/tiff"][0]
                        p = self.path(name + ".tif")
                        with open(p, "wb") as f:
                            f.write(tif)
                        self.assertEqual(len(fbtest.decode_with_libtiff(p, self.dir)), int(pages))
            # The two ignored referrals went where the number routes, as ordinary fax mail.
            routed = wait_mails(maildir, "wrong@example.com", 2, timeout=120, log=node.log.name)
            self.assertEqual(len(routed), 2)
            for m in routed:
                self.assertNotEqual(m["Content-Class"], "MS-Exchange-UM-Partner")
            for nobody in ("mallory@evil.example", "grace@example.com"):
                self.assertFalse(os.path.exists(os.path.join(maildir, nobody)), nobody)
            with open(node.log.name) as f:
                self.assertIn("ignored an Exchange UM referral from 127.0.0.2", f.read())
            # The raw header: plain base64 on one line, never RFC 2047-encoded.
            raw = open(glob.glob(os.path.join(maildir, "dave@example.com", "new", "*"))[0], "rb").read()
            self.assertIn(b"\nX-MS-Exchange-UM-PartnerContext: " + CONTEXT.encode() + b"\n", raw)
        finally:
            node.stop()


class DeliveryCrashTest(fbtest.TempDirTest):
    """kill -9 while received faxes are being delivered: after a restart every reception is
    delivered exactly once to each of its mailboxes (Maildir names derive from the delivery)."""

    def test_kill_9_during_delivery_delivers_each_fax_exactly_once(self):
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        tif = self.path("one.tif")
        fbtest.run("convert", "-o", tif, fbtest.itu_chart(1), check=0)
        rng = random.Random(5)
        os.makedirs(self.path("b"))
        boxes = ["r%d@example.com" % i for i in range(20)]  # a wide distribution list: many deliveries
        route = '[[route]]\ndid = "+15550100"\nmailbox = [%s]\n' % ", ".join('"%s"' % b for b in boxes)
        # Every reception must be mailed, a missed call's notice too: no hourly notice limit here.
        b = Node(self.path("b"), extra=route + "[fax]\nmissed_notices_per_caller_per_hour = 0\n")
        os.makedirs(self.path("a"))
        a = Node(self.path("a"), trunk="sip:127.0.0.1:%d" % b.sip_port,
                 extra="[retry]\nfailure_delay_s = 3\nbusy_delay_s = 3\nno_answer_delay_s = 3\ncalls_per_number = 10\n")
        try:
            n = 6
            for i in range(n):
                a.send_tiff("FAX=+15550100@fax.test", tif)
            maildir = os.path.join(b.dir, "var", "mail")
            kills, seen = 0, 0
            # Kill B at a seeded moment just after a delivery lands, restart it, three times.
            while kills < 3:
                deadline = time.time() + 120
                while len(glob.glob(os.path.join(maildir, "*", "new", "*"))) <= seen and time.time() < deadline:
                    time.sleep(0.002)
                if time.time() >= deadline:
                    break  # everything was delivered before we could interrupt it again
                time.sleep(rng.uniform(0.0, 0.03))
                b.proc.kill()
                b.proc.wait()
                kills += 1
                seen = len(glob.glob(os.path.join(maildir, "*", "new", "*")))
                print("kill %d after %d deliveries" % (kills, seen), flush=True)
                b.proc = subprocess.Popen([FAXBRIDGE, "serve", "--config", b.config], stderr=b.log, cwd=b.dir)
                deadline = time.time() + 20
                while open(b.log.name).read().count("faxbridge: ready") < kills + 1:
                    self.assertLess(time.time(), deadline, open(b.log.name).read()[-2000:])
                    time.sleep(0.05)
            self.assertGreaterEqual(kills, 1)
            a.settle(("done", "failed", "retry"), timeout=300)
            jobs = b.settle(("done", "failed"), timeout=300)
            # Every reception is mailed exactly once: the fax, or (for a call the kill cut before its
            # page had arrived, which the sender then sent again) the missed-fax notice.
            received = [j for j in jobs if j["direction"] == "in"]
            self.assertGreater(len([j for j in received if j["pages"] > 0]), 0)
            for box in boxes:
                ids = []
                for m in mails(maildir, box):
                    ids.append(int(m["X-Fax-Job"]))
                with self.subTest(box=box):
                    with open(b.log.name) as f:
                        tail = f.read()[-4000:]
                    self.assertEqual(sorted(ids), sorted(j["id"] for j in received),
                                     "exactly one mail per reception\n%s\n%s" % (received, tail))
            self.assertEqual(os.listdir(os.path.join(b.dir, "var", "spool", "in")), [])
            for box in boxes:
                self.assertEqual(os.listdir(os.path.join(maildir, box, "tmp")), [])
        finally:
            a.stop()
            b.stop()


if __name__ == "__main__":
    unittest.main()
