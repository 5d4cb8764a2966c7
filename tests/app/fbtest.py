"""Shared helpers for the CLI integration tests: where things are, running faxbridge, and a
minimal reader for uncompressed TIFF strips (what libtiff's `tiffcp -c none` writes), so
decoded bitmaps can be compared byte for byte with the ITU charts."""
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

FAXBRIDGE = os.environ.get("FAXBRIDGE", os.path.join(os.path.dirname(__file__), "../../build/bin/faxbridge"))
SOURCE = os.environ.get("FB_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
SHARED = os.environ.get("FB_SHARED_DIR", os.path.join(SOURCE, "../shared"))
DATA = os.path.join(SOURCE, "tests/data")


def itu_chart(n):
    return os.path.join(SHARED, "corpus/itu/itu%d.pbm" % n)


def have_itu():
    return os.path.exists(itu_chart(1))


def run(*args, timeout=300, check=None):
    p = subprocess.run([FAXBRIDGE, *args], capture_output=True, text=True, timeout=timeout)
    if check is not None and p.returncode != check:
        raise AssertionError("faxbridge %s: exit %d, stderr: %s" % (" ".join(args), p.returncode, p.stderr))
    return p


SIPP_DIR = os.path.join(SOURCE, "tests/sip/sipp")


def popen_sipp(scenario, port, *args, timeout=200):
    """A SIPp scenario (a UAS, mostly) on 127.0.0.1:port for one call, started and listening."""
    tcp = "t1" in args
    p = subprocess.Popen(["sipp", "-sf", os.path.join(SIPP_DIR, scenario), "-i", "127.0.0.1", "-p", str(port),
                          "-m", "1", "-nostdin", "-timeout", "%ds" % timeout, "-timeout_error", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 10
    while time.time() < deadline and p.poll() is None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return p  # taken: SIPp is listening
        time.sleep(0.05)
    raise AssertionError("SIPp %s did not start: %s" % (scenario, p.communicate()[0] if p.poll() is not None else "timeout"))


def wait_sipp(p, timeout=300):
    out, _ = p.communicate(timeout=timeout)
    return out


def inspect(path):
    return json.loads(run("inspect", path, check=0).stdout)


def read_pbm(path):
    """P4 raster: (width, height, bytes), rows packed MSB first, 1 = black."""
    with open(path, "rb") as f:
        data = f.read()
    fields, i = [], 0
    while len(fields) < 3:
        while data[i:i + 1].isspace():
            i += 1
        if data[i:i + 1] == b"#":
            while data[i:i + 1] != b"\n":
                i += 1
            continue
        j = i
        while not data[j:j + 1].isspace():
            j += 1
        fields.append(data[i:j])
        i = j
    assert fields[0] == b"P4"
    w, h = int(fields[1]), int(fields[2])
    return w, h, data[i + 1:i + 1 + (w + 7) // 8 * h]


def tiff_directories(path):
    """Each page of a TIFF as (tags, file bytes): tags maps a SHORT or LONG tag to its values."""
    with open(path, "rb") as f:
        d = f.read()
    end = "<" if d[:2] == b"II" else ">"
    (off,) = struct.unpack(end + "I", d[4:8])
    pages = []
    sizes = {1: 1, 3: 2, 4: 4, 5: 8}
    while off:
        (n,) = struct.unpack(end + "H", d[off:off + 2])
        tags = {}
        for k in range(n):
            e = d[off + 2 + 12 * k: off + 14 + 12 * k]
            tag, typ, cnt = struct.unpack(end + "HHI", e[:8])
            size = sizes.get(typ, 1) * cnt
            raw = e[8:12] if size <= 4 else d[struct.unpack(end + "I", e[8:12])[0]:][:size]
            fmt = {3: "H", 4: "I"}.get(typ)
            if fmt:
                tags[tag] = list(struct.unpack(end + fmt * cnt, raw[:struct.calcsize(fmt) * cnt]))
        pages.append((tags, d))
        (off,) = struct.unpack(end + "I", d[off + 2 + 12 * n: off + 6 + 12 * n])
    return pages


def uncompressed_pages(path):
    """Pages of a TIFF with Compression=1 as (width, rows, raster, photometric, fillorder)."""
    pages = []
    for tags, d in tiff_directories(path):
        assert tags.get(259, [1])[0] == 1, "not uncompressed"
        raster = b"".join(d[o:o + c] for o, c in zip(tags[273], tags[279]))
        pages.append((tags[256][0], tags[257][0], raster, tags.get(262, [0])[0], tags.get(266, [1])[0]))
    return pages


def raw_strips(path):
    """Each page's coded data as the TIFF stores it (one strip a page), bit order MSB first."""
    strips = []
    for tags, d in tiff_directories(path):
        assert len(tags[273]) == 1, "one strip a page"
        strip = d[tags[273][0]:tags[273][0] + tags[279][0]]
        if tags.get(266, [1])[0] == 2:
            strip = bytes(int("{:08b}".format(b)[::-1], 2) for b in strip)
        strips.append(strip)
    return strips


def received_tiff(node_dir, job_id):
    """A received fax: in the spool until its mail is delivered, then in the archive."""
    for sub in ("archive", "in"):
        p = os.path.join(node_dir, "var", "spool", sub, "%d.tif" % job_id)
        if os.path.exists(p):
            return p
    raise AssertionError("no received TIFF for job %d under %s" % (job_id, node_dir))


def decode_with_libtiff(tif, workdir):
    """Decode a fax TIFF with libtiff's own tool (tiffcp -c none) and return its pages."""
    out = os.path.join(workdir, "decoded-%s" % os.path.basename(tif))
    subprocess.run(["tiffcp", "-c", "none", tif, out], check=True, capture_output=True)
    return uncompressed_pages(out)


def ocr(path, workdir, lang="eng", page=1, dpi=200):
    """Rasterise one page with MuPDF's mutool and read it back with tesseract."""
    png = os.path.join(workdir, "ocr-%d.png" % page)
    subprocess.run(["mutool", "draw", "-r", str(dpi), "-o", png, path, str(page)], check=True,
                   capture_output=True)
    p = subprocess.run(["tesseract", png, "-", "-l", lang, "--psm", "4"], capture_output=True, text=True,
                       check=True)
    return p.stdout


def pdf_with_pages(texts, pages_listed=None):
    """A PDF whose page tree comes first (catalog, pages, font, then each page and its content),
    with a correct cross-reference table; returns (bytes, offsets of objects 1.., xref offset)."""
    body, offsets = b"%PDF-1.4\n", []

    def obj(s):
        nonlocal body
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (len(offsets), s)
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(texts)))
    obj(b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(texts) if pages_listed is None else pages_listed))
    obj(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, t in enumerate(texts):
        content = b"BT /F1 48 Tf 72 600 Td (%s) Tj ET" % t.encode()
        obj(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % (5 + 2 * i))
        obj(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    body += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref)
    return body, offsets, xref


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fbtest-")
        # A cleanup, not tearDown: cleanups run last-in first-out after tearDown, so this one runs
        # after every node the test started has stopped (a node still running when the directory
        # went wrote its files back), and also when setUp skips or fails (tearDown is not called).
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        p = self.path(name)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return p
