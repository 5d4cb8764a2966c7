#!/usr/bin/env python3
"""Writes the field-mail corpus (issue 15): messages shaped as Outlook/Exchange, Apple Mail,
Thunderbird, a copier, a mailing list and S/MIME clients send them, and expected.json, what each
must become (pages, words OCR finds, or the refusal). Run once; the outputs are committed so that
tests do not depend on this script's tools (openssl, pdftoppm) or on the time of signing.

    python3 tests/data/mail/make_corpus.py

Also writes the fuzz seeds for the TNEF and S/MIME targets (fuzz/corpus/tnef, fuzz/corpus/smime).
The TNEF streams are written here from [MS-OXTNEF]; the PDF pages are tests/data/text.pdf (two
pages) and a one-page PDF made here; the picture is that PDF's page as a PNG (pdftoppm)."""
import base64
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
TEXT_PDF = open(os.path.join(HERE, "..", "text.pdf"), "rb").read()  # FAXBRIDGE TEST PAGE, 2 pages


def one_page_pdf(words, size=48):
    """A one-page PDF (A5 landscape) with `words` in large Helvetica."""
    content = b"BT /F1 %d Tf 30 200 Td (%s) Tj ET" % (size, words.encode())
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 420] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, o)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def png_of(pdf, dpi=60):
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "p.pdf"), "wb").write(pdf)
        subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-singlefile", os.path.join(d, "p.pdf"),
                        os.path.join(d, "p")], check=True)
        return open(os.path.join(d, "p.png"), "rb").read()


# ---------------------------------------------------------------------------------------------
# TNEF ([MS-OXTNEF] §2.1.3): signature, key, then attributes: level, id (type << 16 | id),
# length, data, a 16-bit sum of the data bytes.
PT_LONG, PT_STRING8, PT_BINARY = 3, 30, 258


def attribute(level, att, data):
    return struct.pack("<BII", level, att, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def mapi(props):
    out = struct.pack("<I", len(props))
    for typ, pid, val in props:
        out += struct.pack("<I", pid << 16 | typ)
        if typ == PT_LONG:
            out += struct.pack("<I", val)
        else:
            out += struct.pack("<II", 1, len(val)) + val + b"\0" * (-len(val) % 4)
    return out


def stored_rtf(rtf):
    """PR_RTF_COMPRESSED holding the RTF uncompressed ([MS-OXRTFCP] "MELA")."""
    return struct.pack("<II", len(rtf) + 12, len(rtf)) + b"MELA" + struct.pack("<I", 0) + rtf


def tnef(rtf=None, plain=None, files=()):
    s = b"\x78\x9f\x3e\x22" + struct.pack("<H", 0x1234)
    s += attribute(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    s += attribute(1, 0x00069007, struct.pack("<II", 1252, 0))     # attOemCodepage
    props = []
    if plain is not None:
        props.append((PT_STRING8, 0x1000, plain + b"\0"))         # PR_BODY
    if rtf is not None:
        props.append((PT_BINARY, 0x1009, stored_rtf(rtf)))         # PR_RTF_COMPRESSED
    s += attribute(1, 0x00069003, mapi(props))                     # attMAPIProps
    for name, mime, data in files:
        s += attribute(2, 0x00069002, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))  # attAttachRenddata
        s += attribute(2, 0x00018010, name + b"\0")               # attAttachTitle
        s += attribute(2, 0x0006800F, data)                        # attAttachData
        s += attribute(2, 0x00069005, mapi([(PT_STRING8, 0x3707, name + b"\0"),  # PR_ATTACH_LONG_FILENAME
                                            (PT_STRING8, 0x370E, mime + b"\0")]))  # PR_ATTACH_MIME_TAG
    return s


def b64(data):
    e = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return e


# ---------------------------------------------------------------------------------------------
# S/MIME through the openssl command, with a throwaway signer.

def cms(args, data, d):
    src = os.path.join(d, "in")
    open(src, "wb").write(data)
    out = subprocess.run(["openssl", "cms", "-in", src, "-outform", "DER"] + args, check=True,
                         capture_output=True).stdout
    return out


def make_signer(d):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj",
                    "/CN=Alice Sender/emailAddress=alice@example.com", "-keyout", os.path.join(d, "key.pem"),
                    "-out", os.path.join(d, "cert.pem")], check=True, capture_output=True)
    return os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")


HDR = ("From: {frm}\r\nTo: FAX=+15550100@fax.test\r\nSubject: {subject}\r\n"
       "Date: Wed, 2 Dec 2026 10:15:00 +0100\r\nMessage-ID: <{name}@corpus.test>\r\nMIME-Version: 1.0\r\n")


def message(name, subject, body, frm="Bob Sender <bob@example.com>", extra=""):
    return (HDR.format(frm=frm, subject=subject, name=name) + extra).encode() + body


def main():
    msgs, expected = {}, {}
    order_pdf = TEXT_PDF
    picture_pdf = one_page_pdf("PICTURE SEVEN")
    picture = png_of(picture_pdf)
    invoice_pdf = one_page_pdf("INVOICE 4711", 40)

    # Outlook through Exchange: the text body beside winmail.dat, which holds the rich-text copy
    # of the body (not faxed twice) and the real attachment.
    rtf = rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0 Arial;}}\f0\fs28 Please fax the attached order form.\par}"
    w = tnef(rtf=rtf, files=[(b"order.pdf", b"application/pdf", order_pdf)])
    msgs["outlook-tnef"] = message("outlook-tnef", "Order form", (
        b"Content-Type: multipart/mixed; boundary=\"tnef\"\r\n\r\n--tnef\r\n"
        b"Content-Type: text/plain; charset=\"us-ascii\"\r\n\r\nPlease fax the attached order form.\r\n\r\n"
        b"--tnef\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\n"
        b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"winmail.dat\"\r\n\r\n"
        + b64(w) + b"\r\n--tnef--\r\n"), frm="Olivia Outlook <olivia@example.com>")
    expected["outlook-tnef"] = {"pages": 3, "words": ["attached order form", "FAXBRIDGE TEST PAGE"]}
    seeds_tnef = {"outlook-tnef": w}

    # Exchange's other shape: the whole message is TNEF (rich text only), with a picture attached.
    rtf2 = rb"{\rtf1\ansi\deff0{\fonttbl{\f0 Arial;}}\f0\fs32 The rich text body of the weekly report.\par}"
    w2 = tnef(rtf=rtf2, plain=b"The plain copy.", files=[(b"chart.png", b"image/png", picture)])
    msgs["outlook-tnef-only"] = message("outlook-tnef-only", "Weekly report", (
        b"Content-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64(w2)), frm="Olivia Outlook <olivia@example.com>")
    expected["outlook-tnef-only"] = {"pages": 2, "words": ["rich text body of the weekly report", "PICTURE SEVEN"]}
    seeds_tnef["outlook-tnef-only"] = w2

    # Outlook HTML with a pasted picture: related(alternative(text, html), png); the HTML is faxed.
    msgs["outlook-inline-image"] = message("outlook-inline-image", "See the picture", (
        b"Content-Type: multipart/related; boundary=\"rel\"; type=\"multipart/alternative\"\r\n\r\n"
        b"--rel\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
        b"--alt\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\r\nThe picture is below.\r\n\r\n[cid:image001.png]\r\n"
        b"--alt\r\nContent-Type: text/html; charset=\"us-ascii\"\r\n\r\n"
        b"<html><body><p>The picture is below.</p><p><img width=400 src=\"cid:image001.png@01DB44F1.5C3A2B10\"></p>"
        b"</body></html>\r\n--alt--\r\n\r\n"
        b"--rel\r\nContent-Type: image/png; name=\"image001.png\"\r\nContent-Description: image001.png\r\n"
        b"Content-Disposition: inline; filename=\"image001.png\"\r\nContent-ID: <image001.png@01DB44F1.5C3A2B10>\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(picture) + b"\r\n--rel--\r\n"),
        frm="Olivia Outlook <olivia@example.com>")
    expected["outlook-inline-image"] = {"pages": 1, "words": ["picture is below", "PICTURE SEVEN"]}

    # Gmail/Apple shape: alternative(text, related(html, png)).
    msgs["html-cid-image"] = message("html-cid-image", "Floor plan", (
        b"Content-Type: multipart/alternative; boundary=\"a\"\r\n\r\n"
        b"--a\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\nHere is the floor plan.\r\n[image: plan.png]\r\n"
        b"--a\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n"
        b"--r\r\nContent-Type: text/html; charset=\"UTF-8\"\r\n\r\n"
        b"<div dir=\"ltr\">Here is the floor plan.<br><img src=\"cid:ii_lq2plan\" alt=\"plan.png\" width=\"400\"></div>\r\n"
        b"--r\r\nContent-Type: image/png; name=\"plan.png\"\r\nContent-Disposition: inline; filename=\"plan.png\"\r\n"
        b"Content-Transfer-Encoding: base64\r\nContent-ID: <ii_lq2plan>\r\nX-Attachment-Id: ii_lq2plan\r\n\r\n"
        + b64(picture) + b"\r\n--r--\r\n--a--\r\n"))
    expected["html-cid-image"] = {"pages": 1, "words": ["floor plan", "PICTURE SEVEN"]}

    # Apple Mail: a PDF placed between two pieces of text.
    msgs["apple-inline-pdf"] = message("apple-inline-pdf", "Invoice", (
        b"Content-Type: multipart/alternative; boundary=\"Apple-Mail-A\"\r\n\r\n"
        b"--Apple-Mail-A\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHere is the invoice.\r\n\r\n\r\n\r\nBest regards, Bob\r\n"
        b"--Apple-Mail-A\r\nContent-Type: multipart/mixed; boundary=\"Apple-Mail-B\"\r\n\r\n"
        b"--Apple-Mail-B\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<html><body>Here is the invoice.<br></body></html>\r\n"
        b"--Apple-Mail-B\r\nContent-Disposition: inline; filename=invoice.pdf\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(invoice_pdf) +
        b"\r\n--Apple-Mail-B\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<html><body><br>Best regards, Bob</body></html>\r\n"
        b"--Apple-Mail-B--\r\n--Apple-Mail-A--\r\n"), extra="X-Mailer: Apple Mail (2.3731)\r\n")
    expected["apple-inline-pdf"] = {"pages": 2, "words": ["Here is the invoice", "INVOICE 4711"]}

    # Thunderbird, forwarded inline and as an attachment.
    msgs["thunderbird-forward-inline"] = message("thunderbird-forward-inline", "Fwd: Meeting", (
        b"Content-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Please fax this to the venue.\r\n\r\n-------- Forwarded Message --------\r\nSubject: \tMeeting\r\n"
        b"Date: \tTue, 1 Dec 2026 16:00:00 +0100\r\nFrom: \tCarol <carol@example.org>\r\n\r\n"
        b"The meeting moves to room twelve.\r\n"), extra="User-Agent: Mozilla Thunderbird\r\n")
    expected["thunderbird-forward-inline"] = {"pages": 1, "words": ["fax this to the venue", "moves to room twelve"]}

    inner = (b"From: Carol <carol@example.org>\r\nTo: Bob <bob@example.com>\r\nSubject: Signed contract\r\n"
             b"Date: Mon, 30 Nov 2026 08:00:00 +0100\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=\"in\"\r\n\r\n--in\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
             b"The contract is attached.\r\n--in\r\nContent-Type: application/pdf; name=\"contract.pdf\"\r\n"
             b"Content-Disposition: attachment; filename=\"contract.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             + b64(invoice_pdf) + b"\r\n--in--\r\n")
    msgs["thunderbird-forward-attached"] = message("thunderbird-forward-attached", "Fwd: Signed contract", (
        b"Content-Type: multipart/mixed; boundary=\"fw\"\r\n\r\n--fw\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
        b"Forwarding the contract for the fax.\r\n--fw\r\nContent-Type: message/rfc822; name=\"Signed contract.eml\"\r\n"
        b"Content-Disposition: attachment; filename=\"Signed contract.eml\"\r\n\r\n" + inner + b"\r\n--fw--\r\n"),
        extra="User-Agent: Mozilla Thunderbird\r\n")
    expected["thunderbird-forward-attached"] = {"pages": 3, "words": ["Forwarding the contract", "Signed contract",
                                                                      "contract is attached", "INVOICE 4711"]}

    # A copier's scan-to-mail: no text at all, a PDF named by the device.
    msgs["copier-scan"] = message("copier-scan", "Scanned from MFP-3F", (
        b"Content-Type: multipart/mixed; boundary=\"----=_Part_0\"\r\n\r\n------=_Part_0\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\n\r\n------=_Part_0\r\n"
        b"Content-Type: application/octet-stream; name=\"SCAN0001.PDF\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64(order_pdf) + b"\r\n------=_Part_0--\r\n"), frm="scanner@example.com")
    expected["copier-scan"] = {"pages": 2, "words": ["FAXBRIDGE TEST PAGE"]}

    # A mailing-list digest (RFC 2046 §5.1.5): its contents, then each message.
    def post(n, text):
        return (b"From: member%d@example.org\r\nSubject: Topic %d\r\nDate: Mon, 30 Nov 2026 1%d:00:00 +0000\r\n\r\n%s\r\n"
                % (n, n, n, text))
    msgs["list-digest"] = message("list-digest", "fax-users Digest, Vol 7, Issue 3", (
        b"Content-Type: multipart/mixed; boundary=\"d0\"\r\n\r\n--d0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        b"Today's Topics: 1. Topic 1  2. Topic 2\r\n--d0\r\nContent-Type: multipart/digest; boundary=\"d1\"\r\n\r\n"
        b"--d1\r\n\r\n" + post(1, b"The first post is about toner.") + b"--d1\r\n\r\n"
        + post(2, b"The second post is about paper jams.") + b"--d1--\r\n--d0--\r\n"),
        frm="fax-users-request@lists.example.org", extra="List-Id: <fax-users.lists.example.org>\r\n")
    expected["list-digest"] = {"pages": 3, "words": ["Today's Topics", "first post is about toner",
                                                     "second post is about paper jams"]}

    # Headerless and unknown-charset mail.
    msgs["headerless"] = b"Please fax the delivery note today.\r\nThanks, the warehouse\r\n"
    expected["headerless"] = {"pages": 1, "words": ["fax the delivery note today"]}
    msgs["unknown-charset"] = message("unknown-charset", "Menu", (
        b"Content-Type: text/plain; charset=\"windows-1252x\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Caf\xe9 lunch menu for Thursday \x96 soup and bread\r\n"))
    expected["unknown-charset"] = {"pages": 1, "words": ["menu for Thursday", "soup and bread"]}

    # S/MIME: signed both ways, and encrypted.
    seeds_smime = {}
    with tempfile.TemporaryDirectory() as d:
        cert, key = make_signer(d)
        entity = (b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
                  b"Signed purchase order number 4711 for forty chairs.\r\n")
        opaque = cms(["-sign", "-nodetach", "-binary", "-signer", cert, "-inkey", key], entity, d)
        seeds_smime["signed"] = opaque
        msgs["smime-opaque-signed"] = message("smime-opaque-signed", "Purchase order", (
            b"Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"\r\n"
            b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n"
            + b64(opaque)), frm="Alice Sender <alice@example.com>")
        expected["smime-opaque-signed"] = {"pages": 1, "words": ["purchase order number 4711"]}
        detached = cms(["-sign", "-binary", "-signer", cert, "-inkey", key], entity, d)
        seeds_smime["detached"] = detached
        msgs["smime-detached-signed"] = message("smime-detached-signed", "Purchase order", (
            b"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"s\"\r\n\r\n"
            b"--s\r\n" + entity + b"\r\n--s\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
            b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n"
            + b64(detached) + b"\r\n--s--\r\n"), frm="Alice Sender <alice@example.com>")
        expected["smime-detached-signed"] = {"pages": 1, "words": ["purchase order number 4711"]}
        # A signed file (CAdES, as e-signature tools make them), not signed mail: the PDF itself.
        contract = cms(["-sign", "-nodetach", "-binary", "-signer", cert, "-inkey", key],
                       one_page_pdf("SIGNED CONTRACT 42"), d)
        msgs["cades-signed-pdf"] = message("cades-signed-pdf", "Signed contract", (
            b"Content-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\nThe contract, signed.\r\n--c\r\n"
            b"Content-Type: application/pkcs7-mime; name=\"contract.pdf.p7m\"\r\n"
            b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"contract.pdf.p7m\"\r\n\r\n"
            + b64(contract) + b"--c--\r\n"), frm="Alice Sender <alice@example.com>")
        expected["cades-signed-pdf"] = {"pages": 2, "words": ["The contract, signed", "SIGNED CONTRACT 42"]}
        sealed = cms(["-encrypt", "-aes256", cert], entity, d)
        seeds_smime["enveloped"] = sealed
        msgs["smime-encrypted"] = message("smime-encrypted", "Secret", (
            b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\r\n"
            b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n"
            + b64(sealed)), frm="Alice Sender <alice@example.com>")
        expected["smime-encrypted"] = {"refused": "554", "words": ["smime.p7m", "encrypted"]}

    for name, raw in msgs.items():
        open(os.path.join(HERE, name + ".eml"), "wb").write(raw)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    for corpus, seeds in (("tnef", seeds_tnef), ("smime", seeds_smime)):
        d = os.path.join(ROOT, "fuzz", "corpus", corpus)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            open(os.path.join(d, name), "wb").write(data)


if __name__ == "__main__":
    sys.exit(main())
