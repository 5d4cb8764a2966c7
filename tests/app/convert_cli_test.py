"""End-to-end tests of `faxbridge convert` and `faxbridge inspect` (INTERFACES.md), checked
with independent tools: libtiff's tiffcp decodes what we code, tesseract reads what we
render, poppler's pdfimages tells how a PDF stores its images."""
import os
import time
import struct
import subprocess
import unittest
import zipfile
import zlib

import fbtest
from fbtest import run, inspect


def png(width, height, rows_data=None, color=0, bits=8, level=9):
    """A PNG; without rows_data every pixel is 0 (which compresses like a zip bomb)."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    if rows_data is None:
        comp = zlib.compressobj(level)
        row = b"\0" * (1 + width * (3 if color == 2 else 1))
        idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    else:
        idat = zlib.compress(b"".join(b"\0" + r for r in rows_data), level)
    ihdr = struct.pack(">IIBBBBB", width, height, bits, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def docx(paragraphs):
    """A minimal WordprocessingML document."""
    import io
    body = "".join("<w:p><w:r><w:rPr><w:sz w:val=\"36\"/></w:rPr><w:t>%s</w:t></w:r></w:p>" % p for p in paragraphs)
    files = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        "word/document.xml": '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>%s</w:body></w:document>' % body,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def docx_with_external_refs(url):
    """A .docx whose two images are external links (to `url` and to file:///etc/passwd) and
    which has an INCLUDETEXT field for /etc/passwd: what a document sent to steal from the
    converter's host looks like (the LibreOffice SSRF / local-file class)."""
    import io
    ns = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
          'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
          'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
          'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
          'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"')

    def image(rid, n):
        return ('<w:p><w:r><w:drawing><wp:inline><wp:extent cx="3000000" cy="1000000"/><wp:docPr id="%d" name="p%d"/>'
                '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic>'
                '<pic:nvPicPr><pic:cNvPr id="%d" name="p%d"/><pic:cNvPicPr/></pic:nvPicPr>'
                '<pic:blipFill><a:blip r:link="%s"/></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/>'
                '<a:ext cx="3000000" cy="1000000"/></a:xfrm><a:prstGeom prst="rect"/></pic:spPr></pic:pic>'
                '</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>') % (n, n, n, n, rid)
    body = ('<w:p><w:r><w:rPr><w:sz w:val="36"/></w:rPr><w:t>Invoice 4471</w:t></w:r></w:p>' + image("rId10", 1) +
            image("rId11", 2) + '<w:p><w:fldSimple w:instr="INCLUDETEXT &quot;/etc/passwd&quot;"><w:r><w:t>x</w:t>'
            '</w:r></w:fldSimple></w:p>')
    rel = ('<Relationship Id="%s" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" '
           'Target="%s" TargetMode="External"/>')
    files = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        "word/_rels/document.xml.rels": ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
                                         rel % ("rId10", url) + rel % ("rId11", "file:///etc/passwd") + '</Relationships>'),
        "word/document.xml": '<?xml version="1.0" encoding="UTF-8"?><w:document %s><w:body>%s</w:body></w:document>' % (ns, body),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def huge_page_claim_pdf():
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 100000 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    out, offs = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, o.encode())
    xref = len(out)
    out += b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offs)
    return out + b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref


# CI always has ../shared: there a missing corpus must fail, not skip.
@unittest.skipUnless(fbtest.have_itu() or os.environ.get("CI", "false") not in ("", "false"),
                     "ITU corpus not found in ../shared/corpus/itu")
class ItuCharts(fbtest.TempDirTest):
    """The eight ITU charts through MH, MR and MMR: libtiff decodes exactly the chart back."""

    def test_round_trip_bit_exact(self):
        for n in range(1, 9):
            w, h, ref = fbtest.read_pbm(fbtest.itu_chart(n))
            for comp in ("mh", "mr", "mmr"):
                with self.subTest(chart=n, compression=comp):
                    out = self.path("itu%d-%s.tif" % (n, comp))
                    run("convert", "--compression", comp, "-o", out, fbtest.itu_chart(n), check=0)
                    info = inspect(out)
                    self.assertEqual(info["page"][0]["compression"], comp)
                    self.assertEqual(info["profile"], "S" if comp == "mh" else "F")
                    [(pw, ph, raster, photometric, fillorder)] = fbtest.decode_with_libtiff(out, self.dir)
                    self.assertEqual((pw, ph, photometric, fillorder), (1728, h, 0, 1))
                    self.assertEqual(raster, ref, "chart %d differs after %s" % (n, comp))

    def test_mmr_size_within_one_percent_of_libtiff(self):
        for n in range(1, 9):
            with self.subTest(chart=n):
                ours = self.path("ours%d.tif" % n)
                run("convert", "--compression", "mmr", "-o", ours, fbtest.itu_chart(n), check=0)
                mh = self.path("mh%d.tif" % n)
                run("convert", "-o", mh, fbtest.itu_chart(n), check=0)
                ref = self.path("ref%d.tif" % n)
                subprocess.run(["tiffcp", "-c", "g4", mh, ref], check=True)
                a, b = _strip_bytes(ours), _strip_bytes(ref)
                self.assertLessEqual(abs(a - b), b * 0.01, "ours %d bytes, libtiff %d" % (a, b))

    def test_standard_resolution_keeps_every_pixel(self):
        w, h, ref = fbtest.read_pbm(fbtest.itu_chart(2))
        out = self.path("std.tif")
        run("convert", "--resolution", "standard", "-o", out, fbtest.itu_chart(2), check=0)
        self.assertEqual(inspect(out)["page"][0], {"width": 1728, "rows": h, "xres": 204, "yres": 98,
                                                   "compression": "mh"})
        [(_, _, raster, _, _)] = fbtest.decode_with_libtiff(out, self.dir)
        self.assertEqual(raster, ref)

    def test_fax_tiff_in_keeps_its_pixels_and_resolution_is_resampled(self):
        fine = self.path("fine.tif")
        run("convert", "-o", fine, fbtest.itu_chart(3), check=0)
        again = self.path("again.tif")
        run("convert", "--compression", "mmr", "-o", again, fine, check=0)
        self.assertEqual(fbtest.decode_with_libtiff(fine, self.dir)[0][2],
                         fbtest.decode_with_libtiff(again, self.dir)[0][2])
        std = self.path("std.tif")
        run("convert", "--resolution", "standard", "-o", std, fine, check=0)
        self.assertEqual(inspect(std)["page"][0]["rows"], 2376 // 2)

    def test_pdf_output_passes_ccitt_data_through(self):
        out = self.path("itu.pdf")
        run("convert", "-o", out, fbtest.itu_chart(1), fbtest.itu_chart(5), check=0)
        listing = subprocess.run(["pdfimages", "-list", out], capture_output=True, text=True, check=True).stdout
        rows = [l.split() for l in listing.splitlines()[2:]]
        self.assertEqual(len(rows), 2)
        for r in rows:
            self.assertEqual((r[3], r[4], r[8]), ("1728", "2376", "ccitt"))
        # Decoded by poppler's own CCITT decoder (pdfimages writes 1-bit images as PBM): the chart.
        subprocess.run(["pdfimages", "-f", "1", "-l", "1", out, self.path("img")], check=True)
        w, h, raster = fbtest.read_pbm(self.path("img-000.pbm"))
        _, _, ref = fbtest.read_pbm(fbtest.itu_chart(1))
        self.assertEqual((w, h), (1728, 2376))
        self.assertEqual(raster, ref)


def _strip_bytes(path):
    out = subprocess.run(["tiffdump", path], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("StripByteCounts"):
            return int(line.split("<")[1].split(">")[0])
    raise AssertionError("no StripByteCounts in " + path)


class TextRendering(fbtest.TempDirTest):
    SAMPLE = ("Hello world from the fax gateway\n"
              "Привет мир из факсового шлюза\n"
              "Γειά σου κόσμε\n"
              "שלום עולם\n"
              "مرحبا بالعالم\n"
              "你好，世界\n")

    def test_five_scripts_latin_and_cyrillic_read_back_by_ocr(self):
        txt = self.write("scripts.txt", self.SAMPLE)
        out = self.path("scripts.tif")
        run("convert", "-o", out, txt, check=0)
        text = fbtest.ocr(out, self.dir, lang="eng+rus")
        self.assertIn("Hello world from the fax gateway", text)
        self.assertIn("Привет мир из факсового шлюза", text)

    def test_readable_at_standard_resolution(self):
        txt = self.write("std.txt", "Standard resolution is readable too\n")
        out = self.path("std.tif")
        run("convert", "--resolution", "standard", "-o", out, txt, check=0)
        self.assertEqual(inspect(out)["page"][0]["yres"], 98)
        self.assertIn("Standard resolution is readable too", fbtest.ocr(out, self.dir))

    def test_charset_option_and_form_feed(self):
        txt = self.write("l1.txt", "Caf\xe9 M\xfcller Stra\xdfe\n\fPage two\n".encode("latin-1"))
        out = self.path("l1.tif")
        run("convert", "--charset", "iso-8859-1", "-o", out, txt, check=0)
        self.assertEqual(inspect(out)["pages"], 2)
        self.assertIn("Café", fbtest.ocr(out, self.dir, lang="eng"))  # é decoded from Latin-1
        bad = run("convert", "--charset", "no-such-charset", "-o", self.path("x.tif"), txt)
        self.assertEqual(bad.returncode, 3)
        self.assertIn("no-such-charset", bad.stderr)

    def test_enriched_text(self):
        src = self.write("e.txt", "<bold>Quarterly report</bold>\n\n<center>Centred line</center>\n\n"
                                  "Use <<bold> to make text bold.\n")
        out = self.path("e.tif")
        run("convert", "--type", "text/enriched", "-o", out, src, check=0)
        text = fbtest.ocr(out, self.dir)
        self.assertIn("Quarterly report", text)
        self.assertIn("Use <bold> to make text bold.", text)

    def test_header_line_adds_rows_and_reads_back(self):
        txt = self.write("h.txt", "Body text\n")
        plain, headed = self.path("plain.tif"), self.path("headed.tif")
        run("convert", "-o", plain, txt, check=0)
        run("convert", "--header", "ACME Corp +15550100", "-o", headed, txt, check=0)
        self.assertEqual(inspect(headed)["page"][0]["rows"], inspect(plain)["page"][0]["rows"] + 31)
        text = fbtest.ocr(headed, self.dir, dpi=300)
        self.assertIn("ACME Corp", text)
        self.assertIn("Page 1/1", text)


class Documents(fbtest.TempDirTest):
    def test_pdf_pages_sizes_and_paper(self):
        out = self.path("t.tif")
        run("convert", "-o", out, os.path.join(fbtest.DATA, "text.pdf"), check=0)
        info = inspect(out)
        self.assertEqual(info["pages"], 2)
        self.assertEqual(info["profile"], "S")
        self.assertEqual([p["rows"] for p in info["page"]], [2292, 2292])
        self.assertIn("The quick brown fox jumps over the lazy dog", fbtest.ocr(out, self.dir))
        run("convert", "--paper", "letter", "--resolution", "superfine", "-o", out,
            os.path.join(fbtest.DATA, "text.pdf"), check=0)
        info = inspect(out)
        self.assertEqual(info["profile"], "F")
        self.assertEqual(info["page"][0]["rows"], 4301)
        self.assertEqual(info["page"][0]["yres"], 391)

    def test_inputs_are_concatenated_in_order(self):
        a = self.write("a.txt", "FIRST DOCUMENT\n")
        out = self.path("all.tif")
        run("convert", "-o", out, a, os.path.join(fbtest.DATA, "text.pdf"), a, check=0)
        self.assertEqual(inspect(out)["pages"], 4)
        self.assertIn("FIRST DOCUMENT", fbtest.ocr(out, self.dir, page=4))
        self.assertIn("SECOND PAGE", fbtest.ocr(out, self.dir, page=3))

    def test_images_scaled_to_fax_width(self):
        rows = [bytes([0] * 100 + [255] * 100)] * 100  # 200x100 grey, left half black
        src = self.write("half.png", png(200, 100, rows))
        out = self.path("img.tif")
        run("convert", "-o", out, src, check=0)
        page = inspect(out)["page"][0]
        self.assertEqual(page["width"], 1728)
        self.assertAlmostEqual(page["rows"], 864 * 196 / 204, delta=3)

    def test_html_only_mail_is_ocr_readable(self):
        eml = self.write("html.eml", (
            "From: a@example.com\r\nTo: FAX=+15550100@fax.localhost\r\nSubject: html\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            "<html><body><h1>Purchase order 7781</h1><p>Please deliver twelve boxes.</p>"
            "<img src=\"http://tracker.example/pixel.png\"></body></html>\r\n"))
        out = self.path("html.tif")
        run("convert", "-o", out, eml, check=0)
        text = fbtest.ocr(out, self.dir)
        self.assertIn("Purchase order 7781", text)
        self.assertIn("Please deliver twelve boxes.", text)

    def test_mail_with_text_and_pdf_attachment(self):
        import base64
        with open(os.path.join(fbtest.DATA, "text.pdf"), "rb") as f:
            pdf = f.read()
        eml = self.write("m.eml", (
            "From: a@example.com\r\nSubject: doc\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\n"
            "Cover note for the fax\r\n--XX\r\nContent-Type: application/pdf\r\n"
            "Content-Disposition: attachment; filename=doc.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(pdf).decode() + "--XX--\r\n"))
        out = self.path("m.tif")
        run("convert", "-o", out, eml, check=0)
        self.assertEqual(inspect(out)["pages"], 3)
        self.assertIn("Cover note for the fax", fbtest.ocr(out, self.dir, page=1))

    def cover_mail(self, text, cover_header=""):
        import base64
        with open(os.path.join(fbtest.DATA, "text.pdf"), "rb") as f:
            pdf = f.read()
        return self.write("cover.eml", (
            "From: Alice Example <alice@example.com>\r\nTo: Bob <FAX=+12025550100@fax.test>\r\n"
            "Subject: Purchase order 7781\r\n" + cover_header + "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\n"
            + text + "\r\n--XX\r\nContent-Type: application/pdf\r\n"
            "Content-Disposition: attachment; filename=doc.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(pdf).decode() + "--XX--\r\n"))

    def test_cover_page_asked_by_the_mail_carries_its_text(self):
        eml = self.cover_mail("Please deliver twelve boxes.", "X-Fax-Cover: yes\r\n")
        out = self.path("c.tif")
        run("convert", "--cover-to", "+12025550100", "-o", out, eml, check=0)
        # The cover, then the PDF's 2 pages: the text is the cover's comment, not a page of its own.
        self.assertEqual(inspect(out)["pages"], 3)
        cover = fbtest.ocr(out, self.dir, page=1)
        for words in ("FAX", "+12025550100", "Alice Example", "Purchase order 7781", "3 including this cover",
                      "Please deliver twelve boxes."):
            self.assertIn(words, cover)
        self.assertNotIn("Please deliver", fbtest.ocr(out, self.dir, page=2))
        # --cover never, or no header: no cover, the text is page 1.
        run("convert", "--cover", "never", "-o", out, eml, check=0)
        self.assertEqual(inspect(out)["pages"], 3)
        self.assertNotIn("including this cover", fbtest.ocr(out, self.dir, page=1))
        plain = self.cover_mail("Please deliver twelve boxes.")
        run("convert", "-o", out, plain, check=0)
        self.assertNotIn("including this cover", fbtest.ocr(out, self.dir, page=1))
        # --cover always (a sender of [fax] cover_senders) unless the mail says no.
        run("convert", "--cover", "always", "-o", out, plain, check=0)
        self.assertIn("including this cover", fbtest.ocr(out, self.dir, page=1))
        refuse = self.cover_mail("Please deliver twelve boxes.", "X-Fax-Cover: no\r\n")
        run("convert", "--cover", "always", "-o", out, refuse, check=0)
        self.assertNotIn("including this cover", fbtest.ocr(out, self.dir, page=1))

    def test_cover_page_with_a_long_text_says_it_follows(self):
        long_text = "\r\n".join("Line %d of the order." % i for i in range(150))
        eml = self.cover_mail(long_text, "X-Fax-Cover: yes\r\n")
        out = self.path("c.tif")
        run("convert", "-o", out, eml, check=0)
        info = inspect(out)
        text_pages = info["pages"] - 3
        self.assertGreaterEqual(text_pages, 2)  # 150 lines of text at 10 pt
        cover = fbtest.ocr(out, self.dir, page=1)
        self.assertIn("text follows on the next pages", cover)
        self.assertIn("%d including this cover" % info["pages"], cover)
        self.assertIn("Line 0 of the order", fbtest.ocr(out, self.dir, page=2))

    def test_mail_with_an_executable_is_refused_naming_the_part(self):
        eml = self.write("x.eml", (
            "From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
            "--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\n"
            "Content-Type: application/x-msdownload; name=setup.exe\r\n"
            "Content-Disposition: attachment; filename=setup.exe\r\n\r\nMZ....\r\n--XX--\r\n"))
        p = run("convert", "-o", self.path("x.tif"), eml)
        self.assertEqual(p.returncode, 3)
        self.assertIn("setup.exe", p.stderr)
        self.assertFalse(os.path.exists(self.path("x.tif")))

    def test_docx_through_libreoffice_is_ocr_readable(self):
        src = self.write("letter.docx", docx(["Dear customer", "Your order number 4471 has shipped"]))
        out = self.path("docx.tif")
        run("convert", "-o", out, src, check=0, timeout=240)
        text = fbtest.ocr(out, self.dir)
        self.assertIn("Dear customer", text)
        self.assertIn("Your order number 4471 has shipped", text)

    def test_a_docx_that_reaches_out_reaches_nothing_from_the_jail(self):
        """LibreOffice run as-is (the control, first) fetches the external image from our listener;
        in the converter's jail (no network namespace interface, seccomp) the listener sees no
        connection, and the fax shows the text and nothing of /etc/passwd."""
        import socket
        import threading
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.2)
        seen, done = [], threading.Event()

        def accept():
            while not done.is_set():
                try:
                    c, addr = listener.accept()
                    seen.append(addr)
                    c.close()
                except socket.timeout:
                    pass
        t = threading.Thread(target=accept)
        t.start()
        try:
            src = self.write("invoice.docx", docx_with_external_refs("http://127.0.0.1:%d/logo.png" % listener.getsockname()[1]))
            # The control: the same document through LibreOffice outside the jail reaches out, so
            # this test would see a jail that lets it.
            control = subprocess.run(["soffice", "-env:UserInstallation=file://" + self.path("profile"), "--headless",
                                      "--convert-to", "pdf", "--outdir", self.path("control"), src],
                                     capture_output=True, text=True, timeout=240)
            self.assertTrue(os.path.exists(self.path("control/invoice.pdf")), control.stderr)
            deadline = time.time() + 10
            while not seen and time.time() < deadline:
                time.sleep(0.1)
            self.assertGreater(len(seen), 0, "LibreOffice no longer fetches external images: the test lost its control")
            seen.clear()
            out = self.path("invoice.tif")
            run("convert", "-o", out, src, check=0, timeout=240)
        finally:
            done.set()
            t.join()
            listener.close()
        self.assertEqual(seen, [])
        text = fbtest.ocr(out, self.dir)
        self.assertIn("Invoice 4471", text)
        self.assertNotIn("root:", text)
        self.assertNotIn("/bin/", text)


class HostileAndBadInput(fbtest.TempDirTest):
    def expect(self, code, args, mentions):
        p = run("convert", *args)
        self.assertEqual(p.returncode, code, p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn(mentions, lines[0])
        return lines[0]

    def test_a_pdf_cut_before_a_page_is_corrupt_and_one_cut_after_its_pages_repaired(self):
        two, offsets, _ = fbtest.pdf_with_pages(["FIRST PAGE", "LOST PAGE"])
        src = self.write("cut.pdf", two[:offsets[5]])  # ends before the second page's object
        line = self.expect(4, ["-o", self.path("x.tif"), src], "cut.pdf")
        self.assertIn("its page tree names 1 page(s) that are not in the file", line)
        # text.pdf cut at 3,000 bytes, inside its metadata after both pages: repaired and faxed,
        # and the TIFF says so.
        out = self.path("t.tif")
        p = run("convert", "-o", out, os.path.join(fbtest.DATA, "truncated.pdf"))
        self.assertEqual(p.returncode, 0, p.stderr)
        info = inspect(out)
        self.assertEqual(info["pages"], 2)
        self.assertEqual(info["page"][0]["note"], "truncated.pdf: the PDF was damaged (its cross-reference table was "
                         "broken); it was repaired and all 2 page(s) drew without error")
        self.assertNotIn("note", info["page"][1])

    def test_encrypted_pdf_is_corrupt(self):
        line = self.expect(4, ["-o", self.path("x.tif"), os.path.join(fbtest.DATA, "encrypted.pdf")], "encrypted")
        self.assertIn("password", line)

    def test_garbage_with_pdf_name_is_corrupt(self):
        src = self.write("garbage.pdf", os.urandom(4096))
        self.expect(4, ["-o", self.path("x.tif"), src], "garbage.pdf")

    def test_hundred_thousand_page_claim_is_over_the_limit(self):
        src = self.write("claim.pdf", huge_page_claim_pdf())
        self.expect(5, ["-o", self.path("x.tif"), src], "100000 pages")

    def test_zip_bomb_png_is_over_the_limit(self):
        src = self.write("bomb.png", png(40000, 40000, level=9))
        self.assertLess(os.path.getsize(src), 3_000_000)
        self.expect(5, ["-o", self.path("x.tif"), src], "bomb.png")

    def test_memory_limit_stops_a_greedy_document(self):
        src = self.write("big.png", png(9000, 9000, color=2, level=9))  # 243 MB decoded
        p = run("convert", "--memory-limit-mb", "150", "-o", self.path("x.tif"), src)
        self.assertIn(p.returncode, (4, 5), p.stderr)
        self.assertIn("big.png", p.stderr)

    def test_time_limit_kills_a_slow_conversion(self):
        src = self.write("slow.docx", docx(["slow"]))
        p = run("convert", "--time-limit", "1", "-o", self.path("x.tif"), src)
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertIn("longer than the limit", p.stderr)

    def test_unknown_type_is_unsupported(self):
        src = self.write("data.bin", b"\x00\x01\x02 not anything we know")
        self.expect(3, ["-o", self.path("x.tif"), src], "data.bin")
        src = self.write("archive.zip", b"PK\x03\x04rest")
        self.expect(3, ["-o", self.path("x.tif"), src], "archive.zip")

    def test_usage_errors(self):
        txt = self.write("a.txt", "x")
        self.expect(2, ["-o", self.path("x.tif"), self.path("missing.pdf")], "missing.pdf")
        self.expect(2, ["-o", self.path("x.png"), txt], "x.png")
        self.expect(2, ["-o", "/nonexistent-dir/x.tif", txt], "/nonexistent-dir")
        self.expect(2, ["--compression", "jbig", "-o", self.path("x.tif"), txt], "--compression")
        self.expect(2, ["--paper", "a3", "-o", self.path("x.tif"), txt], "--paper")
        self.expect(2, ["-o", self.path("x.tif")], "INPUT")
        p = run("convert", "--type", "application/x-foo", "-o", self.path("x.tif"), txt)
        self.assertEqual(p.returncode, 3)

    def test_failed_conversion_leaves_no_output(self):
        out = self.path("keep.tif")
        src = self.write("garbage.pdf", b"%PDF-1.4 broken")
        run("convert", "-o", out, src)
        self.assertFalse(os.path.exists(out))
        self.assertEqual([f for f in os.listdir(self.dir) if "tmp" in f], [])

    def test_inspect_errors(self):
        p = run("inspect", self.path("none.tif"))
        self.assertEqual(p.returncode, 2)
        p = run("inspect", self.write("x.tif", b"not a tiff"))
        self.assertEqual(p.returncode, 4)
        self.assertIn("x.tif", p.stderr)


if __name__ == "__main__":
    unittest.main()
