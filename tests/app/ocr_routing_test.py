"""Routing by reading (issue 18): a central number ([[route]] ocr = true, ocr_copy = true) whose
faxes go to the person their cover page names, looked up in a real slapd directory (covers.py:
two Schmidts, two Martins, names not in it). Eight covers are faxed over T.38 at once, in four
languages and five layouts: full names reach their people, a
QR code's address and a Code 128 route key route at standard resolution, and the two covers
that must not be routed (a surname two people share, a name nobody has) reach only the central
mailbox, the first with both Schmidts named as candidates. The node sends at standard resolution
(the coarsest a fax has: the fine covers are sent at standard too). Every mail says how it was
routed, and so does each job's routed_by and its detail's routing."""
import os

import covers
import fbtest
from offramp_test import Node, free_port
from onramp_test import Slapd, mails, wait_mails


class DirectorySlapd(Slapd):
    DATA = covers.ldif()


def body(msg):
    return msg.get_body(preferencelist=("plain",)).get_content()


class CoverRoutingTest(fbtest.TempDirTest):
    def test_covers_reach_the_people_they_name_and_doubtful_ones_the_central_mailbox(self):
        C = covers.Cover
        sent = [
            C(1, "en", "lines", "DejaVu Sans", 12, "fine", "Anna Schmidt", "anna.schmidt@example.com", "known"),
            C(2, "de", "table", "DejaVu Serif", 12, "standard", "Herrn Hans Müller", "hans.mueller@example.com",
              "known"),
            C(3, "fr", "columns", "Nimbus Roman", 13, "standard", "Mme Françoise Dubois",
              "francoise.dubois@example.com", "known"),
            C(4, "es", "attn", "Noto Sans", 12, "fine", "José García López", "jose.garcia@example.com", "known"),
            C(5, "en", "stacked", "Nimbus Sans", 12, "standard", "Mr. Schmidt", None, "shared"),
            C(6, "de", "lines", "DejaVu Sans", 12, "fine", "Robert Fischer", None, "unknown"),
            C(7, "en", "lines", "DejaVu Sans", 12, "standard", "Reception", "carol.martin@example.com", "barcode",
              code=("QRCODE", "mailto:carol.martin@example.com")),
            C(8, "es", "lines", "DejaVu Serif", 12, "standard", "Recepción", "sales@example.com", "barcode",
              code=("CODE128", "route:42")),
        ]
        tiffs = [c.tiff(self.dir) for c in sent]
        ldap_port = free_port()
        slapd = DirectorySlapd(self.dir, ldap_port)
        self.addCleanup(slapd.stop)
        os.makedirs(self.path("node"))
        node = Node(self.path("node"), trunk="self", extra="""
[fax]
resolution = "standard"

[[route]]
did = "+15550100"
mailbox = "central@example.com"
ocr = true
ocr_copy = true

[[route]]
subaddress = "42"
mailbox = "sales@example.com"

[ldap]
uri = "ldap://127.0.0.1:%d"
base = "dc=example,dc=com"
filter = "(telephoneNumber=%%s)"
allow_attribute = "faxEnabled"

[ocr]
languages = ["eng", "deu", "fra", "spa"]
max_delay_s = 600

[retry]
calls_per_number = 4
""" % ldap_port)
        self.addCleanup(node.stop)
        for tif in tiffs:
            node.send_tiff("FAX=+15550100@fax.test", tif)
        maildir = os.path.join(node.dir, "var", "mail")
        # The central mailbox gets a copy of each routed fax and the two it keeps: all eight.
        central = wait_mails(maildir, "central@example.com", len(sent), timeout=900, log=node.log.name)
        self.assertEqual(len(central), len(sent))
        for c in sent:
            if c.expect is None:
                continue
            got = mails(maildir, c.expect)
            self.assertEqual(len(got), 1, "%r: %d mails\n%s" % (c, len(got), [body(m) for m in central]))
            how = "barcode" if c.kind == "barcode" else "OCR: read"
            self.assertIn("Routed by:", body(got[0]))
            self.assertIn(how, body(got[0]), c)
            self.assertIn("copy to DID +15550100", body(got[0]))
        # Nobody else got anything: not Peter Schmidt, not Dan (not allowed faxes), not Sophie.
        for who in ("peter.schmidt@example.com", "sophie.martin@example.com", "dan@example.com"):
            self.assertEqual(mails(maildir, who), [], who)
        # The two kept centrally say why, the first with both Schmidts as candidates.
        kept = [m for m in central if "not routed by its cover page" in body(m)]
        self.assertEqual(len(kept), 2, [body(m) for m in central])
        shared = [body(m) for m in kept if "could be any of" in body(m)]
        self.assertEqual(len(shared), 1, [body(m) for m in kept])
        self.assertIn("Anna Schmidt <anna.schmidt@example.com>", shared[0])
        self.assertIn("Peter Schmidt <peter.schmidt@example.com>", shared[0])
        unknown = [body(m) for m in kept if "is no one in the directory" in body(m)]
        self.assertEqual(len(unknown), 1, [body(m) for m in kept])
        self.assertIn("Fischer", unknown[0])
        # The API says the same.
        inbound = [j for j in node.jobs() if j["direction"] == "in" and j["pages"] > 0]
        by = sorted(j["routed_by"] for j in inbound)
        self.assertEqual(by, ["barcode", "barcode", "did", "did", "ocr", "ocr", "ocr", "ocr"], inbound)
        # A fax's detail has the whole sentence: the text matched and its score.
        for j in inbound:
            routing = node.api("/api/v1/faxes/%d" % j["id"])["routing"]
            if j["routed_by"] == "ocr":
                self.assertRegex(routing, r'^routed by OCR: read ".+" on the cover page \(score [01]\.\d\d\), matched ', j)
            elif j["routed_by"] == "did":
                self.assertIn("not routed by its cover page", routing)
