"""Searchable faxes (issue 18): a node with [ocr] receives a typed fax over T.38 (its own trunk, at
standard resolution: the coarsest a fax has) and mails it with a PDF whose invisible text layer
pdftotext reads, over page images that are the received CCITT data bit for bit (pdfimages), and
a body holding each page's first lines. A page with nothing typed on it (only the header line the
sender adds) delivers with no more text than that line. A language not installed stops `serve`
with its name."""
import os
import subprocess

import fbtest
from offramp_test import Node, free_port
from onramp_test import parts, wait_mails

TYPED = """QUARTERLY STATEMENT 2026-Q4

To: Accounts Payable, Northwind Traders
Attn: Maria Anders, Berlin office
From: Contoso Supplies, 12 Harbour Road, Portsmouth

Please find below the amounts due for the deliveries of October,
November and December. Payment is requested within thirty days of
this notice. Questions about this statement go to our billing desk
at extension 2207 or to billing@contoso.example.

Invoice 4711 pallets of copier paper, grade A
Invoice 4712 toner cartridges, black and cyan
Invoice 4713 delivery and handling charges
"""


class SearchableFaxTest(fbtest.TempDirTest):
    def test_a_received_fax_is_mailed_with_its_text_over_its_unchanged_pages(self):
        typed = self.path("typed.txt")
        with open(typed, "w") as f:
            f.write(TYPED + "\f \n")  # and a second page with nothing on it
        tif = self.path("typed.tif")
        fbtest.run("convert", "--resolution", "standard", "-o", tif, typed, check=0)
        os.makedirs(self.path("node"))
        node = Node(self.path("node"), trunk="self", extra='[ocr]\nlanguages = ["eng", "deu"]\nmax_delay_s = 300\n')
        self.addCleanup(node.stop)
        node.send_tiff("FAX=+15550100@fax.test", tif)
        maildir = os.path.join(node.dir, "var", "mail")
        [msg] = wait_mails(maildir, "postmaster@localhost", 1, timeout=600, log=node.log.name)
        [inn] = [j for j in node.jobs() if j["direction"] == "in"]
        self.assertEqual(inn["pages"], 2, inn)
        [pdf] = [body for ctype, _, body in parts(msg) if ctype == "application/pdf"]
        with open(self.path("fax.pdf"), "wb") as f:
            f.write(pdf)

        # The text layer: pdftotext finds the typed words (at least 95% of them).
        text = subprocess.run(["pdftotext", "-layout", self.path("fax.pdf"), "-"], capture_output=True, text=True,
                              check=True).stdout
        pages_text = text.split("\f")
        # (Words as a search finds them: without the punctuation after them, which standard
        # resolution leaves a row or two high.)
        found = [w.rstrip(".,;:") for w in pages_text[0].split()]
        want = [w.rstrip(".,;:") for w in TYPED.split()]
        hits = 0
        for w in want:
            if w in found:
                found.remove(w)
                hits += 1
        self.assertGreaterEqual(hits * 100, len(want) * 95, "%d of %d words: %s" % (hits, len(want), text))
        # The blank page: only the header line the sender put on every page (date, time, station).
        self.assertLessEqual(len(pages_text[1].split()), 8, pages_text[1])
        self.assertFalse(set(pages_text[1].split()) & set(want), pages_text[1])

        # The images are the received CCITT data, bit for bit.
        subprocess.run(["pdfimages", "-ccitt", self.path("fax.pdf"), self.path("img")], check=True)
        images = sorted(f for f in os.listdir(self.dir) if f.startswith("img-") and f.endswith(".ccitt"))
        self.assertEqual(len(images), 2, images)
        received = fbtest.raw_strips(fbtest.received_tiff(node.dir, inn["id"]))
        for n, (name, strip) in enumerate(zip(images, received), 1):
            with open(self.path(name), "rb") as f:
                self.assertEqual(f.read(), strip, "page %d's image is not the received data" % n)

        # The body: each page's first lines, the blank page said so.
        body = msg.get_body(preferencelist=("plain",)).get_content()
        self.assertIn("The first lines read from its pages (by OCR, which may misread):", body)
        page1 = body[body.index("Page 1: "):body.index("Page 2: ")]
        for word in ("QUARTERLY", "STATEMENT", "Accounts", "Payable", "Northwind"):  # (under the header line)
            self.assertIn(word, page1)
        self.assertIn("read 2 of 2 page(s) in", open(node.log.name).read())

    def test_a_missing_language_stops_the_node_with_its_name(self):
        os.makedirs(self.path("node"))
        cfg = self.path("bad.toml")
        with open(cfg, "w") as f:
            f.write('[node]\ndata_dir = "%s"\n[smtp]\nlisten = ["127.0.0.1:%d"]\n[http]\nlisten = "127.0.0.1:%d"\n'
                    '[sip]\nlisten = ["udp:127.0.0.1:%d"]\n[ocr]\nlanguages = ["eng", "tlh"]\n'
                    % (self.path("node"), free_port(), free_port(), free_port()))
        p = subprocess.run([fbtest.FAXBRIDGE, "serve", "--config", cfg], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('[ocr]: the OCR language "tlh" is not installed (Debian: apt install tesseract-ocr-tlh)', p.stderr)
