"""`faxbridge send` and POST /api/v1/faxes (issue 16, INTERFACES.md): documents submitted through
the HTTP API become fax jobs like a mail's, sent over a real T.38 call (the node's trunk is its own
SIP port), and followed to the end.

- SendTest: the plain view line by line, exit 0 once every page went, the job done with its pages
  and the node's own reception of them; the terminal view through a pseudo-terminal, one live line
  per recipient redrawn in place; --no-wait; each refusal's exit code and sentence.
- FaxesApiTest: the v1 routes' JSON (errors as {"error": {"code", "message"}}, the list with its
  cursor) without a call.
- WebhookTest: a submission's webhooks over a real T.38 call, signed and in order; a private
  address refused. WebhookRetryTest: a failing receiver, retried, the order kept."""
import calendar
import json
import os
import pty
import re
import select
import socket
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import fbtest
from offramp_test import Node, free_port


def send(node, *args, token=None):
    cmd = [fbtest.FAXBRIDGE, "send", *args, "--server", node.server]
    cmd += ["--token", token] if token is not None else ["--config", node.config]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


class SendTest(fbtest.TempDirTest):
    def setUp(self):
        super().setUp()
        self.pdf = self.path("letter.pdf")
        with open(self.pdf, "wb") as f:
            f.write(fbtest.pdf_with_pages(["A LETTER BY FAX"])[0])
        self.node = Node(self.dir, trunk="self", extra='[dialing]\ndeny = ["+1900"]\n')
        self.addCleanup(self.node.stop)

    def test_plain_lines_then_done_and_exit_0(self):
        p = send(self.node, "--to", "+15550100", self.pdf)
        self.assertEqual(p.returncode, 0, (p.stdout, p.stderr))
        lines = p.stdout.splitlines()
        m = re.match(r"job (\d+) to \+15550100: rendering$", lines[0])
        self.assertTrue(m, lines)
        job = int(m.group(1))
        # A line each time the recipient's state changed, ending with every page sent.
        self.assertEqual(lines[-1], "job %d to +15550100: done: 1 of 1 page(s) sent" % job)
        self.assertEqual(len(lines), len(set(lines)), lines)  # no line repeated
        self.assertTrue(any("dialling" in l or "sending" in l for l in lines), lines)
        out = self.node.api("/api/v1/faxes/%d" % job)
        self.assertEqual((out["state"], out["pages"], out["pages_done"], out["number"]), ("done", 1, 1, "+15550100"))
        # The call was real: the node received the page on its own DID.
        inbound = [j for j in self.node.jobs() if j["direction"] == "in"]
        self.assertEqual([j["pages"] for j in inbound], [1])
        # Its pages, as sent and as received: PDF, TIFF, and a page preview.
        for fax in (job, inbound[0]["id"]):
            pdf = self.get(self.node, "/api/v1/faxes/%d/document.pdf" % fax)
            self.assertTrue(pdf.startswith(b"%PDF-"), pdf[:20])
            path = self.path("got-%d.pdf" % fax)
            with open(path, "wb") as f:
                f.write(pdf)
            info = subprocess.run(["pdfinfo", path], capture_output=True, text=True)
            self.assertRegex(info.stdout, r"Pages:\s+1\n", info.stdout + info.stderr)
            text = subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", path, self.path("p%d" % fax)],
                                  capture_output=True)
            self.assertEqual(text.returncode, 0, text.stderr)
            ocr = subprocess.run(["tesseract", self.path("p%d.png" % fax), "-"], capture_output=True, text=True)
            self.assertIn("LETTER", ocr.stdout.upper(), ocr.stdout)  # the words faxed, read back
            tif = self.get(self.node, "/api/v1/faxes/%d/document.tif" % fax)
            self.assertIn(tif[:4], (b"II*\x00", b"MM\x00*"))
            png = self.get(self.node, "/api/v1/faxes/%d/pages/1.png?width=300" % fax)
            self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
            self.assertEqual(int.from_bytes(png[16:20], "big"), 300)  # IHDR width
        with self.assertRaises(urllib.error.HTTPError) as e:
            self.get(self.node, "/api/v1/faxes/%d/pages/2.png" % job)
        self.assertEqual(e.exception.code, 404)
        # A received fax is not cancelled: 409, saying why.
        req = urllib.request.Request(self.node.server + "/api/v1/faxes/%d/cancel" % inbound[0]["id"], method="POST",
                                     headers={"Authorization": "Bearer " + self.node.token()})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(e.exception.code, 409)
        self.assertEqual(json.loads(e.exception.read())["error"]["message"], "a received fax cannot be cancelled")

    def get(self, node, path):
        req = urllib.request.Request(node.server + path, headers={"Authorization": "Bearer " + node.token()})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.read()

    def test_the_terminal_view_redraws_one_line_per_recipient(self):
        pid, fd = pty.fork()
        if pid == 0:  # the child: faxbridge send on the pseudo-terminal
            os.execv(fbtest.FAXBRIDGE, [fbtest.FAXBRIDGE, "send", "--to", "+15550100", "--to", "+15550101", self.pdf,
                                        "--server", self.node.server, "--config", self.node.config])
        out = b""
        deadline = time.time() + 300
        while True:
            self.assertLess(time.time(), deadline, out[-2000:])
            r, _, _ = select.select([fd], [], [], 1)
            if not r:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child has gone
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        text = out.decode(errors="replace")
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, text)
        # Two lines, redrawn in place: the cursor goes up two lines and each line is cleared.
        self.assertIn("\x1b[2A", text)
        self.assertIn("\r\x1b[2K", text)
        screen = screen_of(text)
        self.assertEqual(len(screen), 2, screen)
        self.assertRegex(screen[0], r"^job \d+ to \+15550100: done: 1 of 1 page\(s\) sent$")
        self.assertRegex(screen[1], r"^job \d+ to \+15550101: done: 1 of 1 page\(s\) sent$")

    def test_no_wait_and_each_refusal(self):
        p = send(self.node, "--to", "+15550100", "--no-wait", self.pdf)
        self.assertEqual(p.returncode, 0, p.stderr)
        [job] = p.stdout.split()
        self.assertEqual(self.node.api("/api/v1/faxes/%s" % job)["number"], "+15550100")
        # 2: a file that cannot be read, named; a number that is none; nothing that can be faxed.
        p = send(self.node, "--to", "+15550100", self.path("missing.pdf"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("missing.pdf: cannot be read: No such file or directory", p.stderr)
        p = send(self.node, "--to", "twelve", self.pdf)
        self.assertEqual(p.returncode, 2)
        self.assertIn('"twelve" is not a fax number', p.stderr)
        exe = self.path("tool.exe")
        with open(exe, "wb") as f:
            f.write(b"MZ\x90\x00" + bytes(200))
        p = send(self.node, "--to", "+15550100", exe)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("tool.exe", p.stderr)
        # 7: the dialling policy; a token the node does not know.
        p = send(self.node, "--to", "+19005550100", self.pdf)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertIn("+19005550100", p.stderr)
        p = send(self.node, "--to", "+15550100", self.pdf, token="fbt_" + "0" * 64)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertIn("not valid", p.stderr)
        # 6: no node there.
        p = subprocess.run([fbtest.FAXBRIDGE, "send", "--to", "+15550100", self.pdf, "--server",
                            "http://127.0.0.1:%d" % free_port(), "--token", "x"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 6, p.stderr)
        # None of the refused ones made a job: only the --no-wait one is there.
        self.assertEqual([j["id"] for j in self.node.jobs() if j["direction"] == "out"], [int(job)])


def screen_of(text):
    """The lines a terminal shows after `text` (cursor-up, carriage return and clear-line obeyed)."""
    lines, row = [""], 0
    i = 0
    while i < len(text):
        m = re.match(r"\x1b\[(\d*)([AK])", text[i:])
        if m:
            if m.group(2) == "A":
                row = max(0, row - int(m.group(1) or 1))
            else:
                lines[row] = ""
            i += m.end()
            continue
        c = text[i]
        if c == "\r":
            pass
        elif c == "\n":
            row += 1
            if row == len(lines):
                lines.append("")
        else:
            lines[row] += c
        i += 1
    return [l for l in lines if l]


class ResolutionTest(fbtest.TempDirTest):
    """[fax] resolution: sent faxes rendered at standard resolution go over T.38 as such and are
    received at it (half the rows of fine)."""

    def test_standard_resolution_is_sent_and_received_as_such(self):
        node = Node(self.dir, trunk="self", extra='[fax]\nresolution = "standard"\n')
        self.addCleanup(node.stop)
        pdf = self.path("letter.pdf")
        with open(pdf, "wb") as f:
            f.write(fbtest.pdf_with_pages(["STANDARD"])[0])
        p = send(node, "--to", "+15550100", pdf)
        self.assertEqual(p.returncode, 0, (p.stdout, p.stderr))
        deadline = time.time() + 120
        while True:
            received = [j for j in node.jobs() if j["direction"] == "in" and j["state"] in ("delivering", "done")]
            if received:
                break
            self.assertLess(time.time(), deadline, node.jobs())
            time.sleep(0.3)
        for job in (received[0]["id"], [j for j in node.jobs() if j["direction"] == "out"][0]["id"]):
            req = urllib.request.Request(node.server + "/api/v1/faxes/%d/document.tif" % job,
                                         headers={"Authorization": "Bearer " + node.token()})
            tif = self.path("fax-%d.tif" % job)
            with urllib.request.urlopen(req, timeout=60) as r, open(tif, "wb") as f:
                f.write(r.read())
            info = json.loads(subprocess.run([fbtest.FAXBRIDGE, "inspect", tif], capture_output=True, text=True).stdout)
            [page] = info["page"]
            self.assertEqual((page["xres"], page["yres"], page["width"]), (204, 98, 1728), (job, info))
            self.assertLess(page["rows"], 1300, info)  # an A4 page at 98 lines per inch: about 1145 rows


class FaxesApiTest(fbtest.TempDirTest):
    def request(self, node, path, method="GET", body=None, ctype=None, token=None):
        headers = {"Authorization": "Bearer " + (token or node.token())}
        if ctype:
            headers["Content-Type"] = ctype
        req = urllib.request.Request(node.server + path, method=method, data=body, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_errors_and_the_list(self):
        node = Node(self.dir)  # its trunk goes nowhere: jobs wait
        self.addCleanup(node.stop)
        status, body = self.request(node, "/api/v1/faxes", "POST", b"to=+15550100", "application/x-www-form-urlencoded")
        self.assertEqual(status, 415)
        self.assertEqual(body["error"]["code"], "unsupported_media_type")
        form = (b"--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+15550100\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"fax_quality\"\r\n\r\nhigh\r\n--b--\r\n")
        status, body = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b")
        self.assertEqual((status, body["error"]["code"]), (400, "bad_request"))
        self.assertIn("fax_quality", body["error"]["message"])
        # Each bad field refused by name, nothing queued.
        for field, value, why in (("webhook_url", "ftp://x/", "webhook_url is not an http:// or https:// URL"),
                                  ("webhook_url", "http://u:p@x/", "webhook_url has user information (put secrets elsewhere)"),
                                  ("webhook_url", "http://x/", "the node's own token has no webhook secret"),
                                  ("send_after", "tomorrow", "send_after is not a time like"),
                                  ("send_after", "2026-02-30T08:00:00Z", "send_after is not a time like"),
                                  ("send_after", "2026-12-05T 8:-5:00Z", "send_after is not a time like"),
                                  ("send_after", "2999-01-01T00:00:00Z", "send_after is more than 30 days ahead")):
            form = form_data([("to", "+15550100"), (field, value), ("document", "a.txt", "text/plain", b"Hello fax")])
            status, body = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b")
            self.assertEqual((status, body["error"]["code"]), (400, "bad_request"), body)
            self.assertTrue(body["error"]["message"].startswith(why), body)
        ids = []
        for n in ("+15550100", "+15550101", "+15550102"):
            form = (b"--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n" + n.encode() + b"\r\n"
                    b"--b\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.txt\"\r\n"
                    b"Content-Type: text/plain\r\n\r\nHello fax\r\n--b--\r\n")
            status, body = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b")
            self.assertEqual(status, 201, body)
            [job] = body["items"]
            self.assertEqual(job["number"], n)
            ids.append(job["id"])
        status, page = self.request(node, "/api/v1/faxes?direction=out&limit=2")
        self.assertEqual(status, 200)
        self.assertEqual([j["id"] for j in page["items"]], [ids[2], ids[1]])  # newest first
        self.assertEqual(page["next_cursor"], str(ids[1]))
        status, rest = self.request(node, "/api/v1/faxes?direction=out&limit=2&cursor=" + page["next_cursor"])
        self.assertEqual([j["id"] for j in rest["items"]], [ids[0]])
        self.assertIsNone(rest["next_cursor"])
        status, one = self.request(node, "/api/v1/faxes?number=%2B15550101")
        self.assertEqual([j["id"] for j in one["items"]], [ids[1]])
        status, body = self.request(node, "/api/v1/faxes/999999")
        self.assertEqual((status, body["error"]["code"]), (404, "not_found"))
        status, body = self.request(node, "/api/v1/faxes/%d/cancel" % ids[0], "POST")
        self.assertEqual((status, body["state"]), (200, "cancelled"))
        status, body = self.request(node, "/api/v1/faxes/%d/cancel" % ids[0], "POST")
        self.assertEqual((status, body["error"]["code"]), (409, "conflict"))
        # A send_after an hour ahead, written with an offset: rendered, then ready until then.
        later = int(time.time()) + 3600
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+02:00", time.gmtime(later + 7200)).encode()
        form = (b"--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+15550199\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"send_after\"\r\n\r\n" + stamp + b"\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.txt\"\r\n"
                b"Content-Type: text/plain\r\n\r\nLater\r\n--b--\r\n")
        status, body = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b")
        self.assertEqual(status, 201, body)
        held = body["items"][0]["id"]
        deadline = time.time() + 60
        while self.request(node, "/api/v1/faxes/%d" % held)[1]["state"] != "ready":
            self.assertLess(time.time(), deadline)
            time.sleep(0.2)
        d = self.request(node, "/api/v1/faxes/%d" % held)[1]
        self.assertEqual(d["retry_at"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(later)))
        self.assertEqual(d["attempts"], [])
        status, body = self.request(node, "/api/v1/faxes/%d/cancel" % held, "POST")
        self.assertEqual(status, 200, body)
        # A cover page first, its comment the text given, then the document.
        form = (b"--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+15550198\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"cover\"\r\n\r\nPlease call Dana back today\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.txt\"\r\n"
                b"Content-Type: text/plain\r\n\r\nThe document itself\r\n--b--\r\n")
        status, body = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b")
        self.assertEqual(status, 201, body)
        covered = body["items"][0]["id"]
        deadline = time.time() + 60
        while self.request(node, "/api/v1/faxes/%d" % covered)[1]["state"] in ("queued", "rendering"):
            self.assertLess(time.time(), deadline)
            time.sleep(0.2)
        self.assertEqual(self.request(node, "/api/v1/faxes/%d" % covered)[1]["pages"], 2)
        req = urllib.request.Request(node.server + "/api/v1/faxes/%d/document.pdf" % covered,
                                     headers={"Authorization": "Bearer " + node.token()})
        pdf = self.path("covered.pdf")
        with urllib.request.urlopen(req, timeout=60) as r, open(pdf, "wb") as f:
            f.write(r.read())
        tif = self.path("covered-1.png")
        subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-r", "200", "-gray", "-png", pdf, self.path("covered")],
                       check=True, timeout=60)
        page1 = [f for f in os.listdir(self.dir) if f.startswith("covered-") and f.endswith(".png")][0]
        ocr = subprocess.run(["tesseract", self.path(page1), "-"], capture_output=True, text=True, timeout=120).stdout
        self.assertIn("Dana", ocr)
        self.assertIn("+15550198", ocr.replace(" ", ""))
        self.request(node, "/api/v1/faxes/%d/cancel" % covered, "POST")

    def test_every_response_matches_the_openapi_document(self):
        import jsonschema
        node = Node(self.dir)  # its trunk goes nowhere: jobs wait
        self.addCleanup(node.stop)
        status, doc = self.request(node, "/api/v1/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(doc["openapi"], "3.1.0")
        seen = []

        def check(template, method, status, body):
            """The response's body against the schema the document gives this route and status."""
            op = doc["paths"][template][method.lower()]
            self.assertIn(str(status), op["responses"], (template, method, status, body))
            resp = op["responses"][str(status)]
            if "$ref" in resp:
                resp = doc["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
            schema = dict(resp["content"]["application/json"]["schema"])
            schema["components"] = doc["components"]
            schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
            jsonschema.Draft202012Validator(schema).validate(body)
            seen.append((template, method, status))

        form = (b"--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+15550100\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.txt\"\r\n"
                b"Content-Type: text/plain\r\n\r\nHello fax\r\n--b--\r\n")
        status, body = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b")
        check("/api/v1/faxes", "POST", status, body)
        job = body["items"][0]["id"]
        # Its states as it renders and waits for a line: each a valid job object.
        node.wait_jobs(1)
        for path, template in (("/api/v1/faxes?limit=1", "/api/v1/faxes"), ("/api/v1/faxes/%d" % job, "/api/v1/faxes/{id}")):
            status, body = self.request(node, path)
            check(template, "GET", status, body)
        for method, path, template, payload, ctype in (
                ("POST", "/api/v1/faxes", "/api/v1/faxes", b"x", "text/plain"),
                ("POST", "/api/v1/faxes", "/api/v1/faxes", b"--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n"
                 b"nonsense\r\n--b\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.txt\"\r\n\r\nx\r\n"
                 b"--b--\r\n", "multipart/form-data; boundary=b"),
                ("GET", "/api/v1/faxes?limit=0", "/api/v1/faxes", None, None),
                ("GET", "/api/v1/faxes/424242", "/api/v1/faxes/{id}", None, None),
                ("POST", "/api/v1/faxes/%d/cancel" % job, "/api/v1/faxes/{id}/cancel", None, None),
                ("POST", "/api/v1/faxes/%d/cancel" % job, "/api/v1/faxes/{id}/cancel", None, None),
                ("GET", "/api/v1/me", "/api/v1/me", None, None)):
            status, body = self.request(node, path, method, payload, ctype)
            check(template, method, status, body)
        # A bad token, refused by the guard: the same error shape.
        req = urllib.request.Request(node.server + "/api/v1/faxes", headers={"Authorization": "Bearer fbt_" + "1" * 64})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        check("/api/v1/faxes", "GET", e.exception.code, json.loads(e.exception.read()))
        self.assertEqual([s for _, _, s in seen], [201, 200, 200, 415, 400, 400, 404, 200, 409, 200, 401])

    def test_retry_now(self):
        # Its trunk goes nowhere: the call times out and the job waits an hour to retry, unless asked.
        node = Node(self.dir, extra="[retry]\ncongestion_delay_s = 3600\n")
        self.addCleanup(node.stop)
        form = (b"--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+15550100\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.txt\"\r\n"
                b"Content-Type: text/plain\r\n\r\nHello fax\r\n--b--\r\n")
        status, body = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b")
        job = body["items"][0]["id"]
        status, body = self.request(node, "/api/v1/faxes/%d/retry" % job, "POST")
        self.assertEqual((status, body["error"]["code"]), (409, "conflict"))  # not waiting for a retry yet
        deadline = time.time() + 180
        while True:
            status, fax = self.request(node, "/api/v1/faxes/%d" % job)
            if fax["state"] == "retry":
                break
            self.assertLess(time.time(), deadline, fax)
            time.sleep(0.5)
        self.assertIsNotNone(fax["retry_at"])
        self.assertGreater(calendar.timegm(time.strptime(fax["retry_at"], "%Y-%m-%dT%H:%M:%SZ")),
                           time.time() + 600)  # an hour away on its own
        status, body = self.request(node, "/api/v1/faxes/%d/retry" % job, "POST")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["state"], "retry")
        with node.db() as db:
            events = [t for (t,) in db.execute("SELECT text FROM events WHERE job_id = ?", (job,))]
        self.assertIn("retry now, asked by admin", events)
        # Due now: the dispatcher dials it again (a second attempt), not at the old retry time.
        deadline = time.time() + 60
        while True:
            with node.db() as db:
                attempt = db.execute("SELECT attempt FROM jobs WHERE id = ?", (job,)).fetchone()[0]
            if attempt >= 2:
                break
            self.assertLess(time.time(), deadline, "no second attempt")
            time.sleep(0.2)

    def test_an_upload_is_judged_by_its_head_before_its_body_is_read(self):
        node = Node(self.dir)
        self.addCleanup(node.stop)
        head = ("POST /api/v1/faxes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                "Content-Length: %d\r\n%s\r\n")
        # No token and 30 MB announced: refused at once, not one byte of the body sent.
        with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as c:
            c.sendall((head % (30000000, "")).encode())
            reply = c.makefile("rb").readline()
        self.assertEqual(reply.split()[1], b"401", reply)
        # With the token, a 2 MiB form is read whole and judged by its fields.
        field = b"--b\r\nContent-Disposition: form-data; name=\"fax_quality\"\r\n\r\nhigh\r\n"
        pad = b"--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+15550100" + b" " * (2 << 20) + b"\r\n"
        body = pad + field + b"--b--\r\n"
        status, answer = self.request(node, "/api/v1/faxes", "POST", body, "multipart/form-data; boundary=b")
        self.assertEqual((status, answer["error"]["code"]), (400, "bad_request"), answer)
        self.assertIn("unknown field `fax_quality`", answer["error"]["message"])

    def test_a_user_sees_and_cancels_only_its_own_faxes(self):
        node = Node(self.dir)  # its trunk goes nowhere: jobs wait
        self.addCleanup(node.stop)

        def token(name, *extra):
            p = subprocess.run([fbtest.FAXBRIDGE, "token", "add", name, *extra, "--config", node.config],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            return re.search(r"token: (fbt_[0-9a-f]{64})", p.stdout).group(1)
        bob, carol = token("bob", "--mailbox", "bob@example.com"), token("carol")
        form = (b"--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+15550100\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.txt\"\r\n"
                b"Content-Type: text/plain\r\n\r\nHello fax\r\n--b--\r\n")
        status, body = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b", token=bob)
        self.assertEqual(status, 201, body)
        [by_bob] = body["items"]
        # By mail from bob's mailbox: his too.
        with node.smtp() as s:
            s.sendmail("bob@example.com", ["FAX=+15550101@fax.test"], b"From: bob@example.com\r\nSubject: x\r\n\r\nby mail\r\n")
        status, body = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b", token=carol)
        [by_carol] = body["items"]
        deadline = time.time() + 30
        while len(self.request(node, "/api/v1/faxes")[1]["items"]) < 3:  # the admin sees all three
            self.assertLess(time.time(), deadline)
            time.sleep(0.2)
        status, mine = self.request(node, "/api/v1/faxes", token=bob)
        self.assertEqual(sorted(j["number"] for j in mine["items"]), ["+15550100", "+15550101"])
        self.assertNotIn(by_carol["id"], [j["id"] for j in mine["items"]])
        # Carol's fax does not exist for bob: not readable, not cancellable.
        status, body = self.request(node, "/api/v1/faxes/%d" % by_carol["id"], token=bob)
        self.assertEqual((status, body["error"]["code"]), (404, "not_found"))
        status, body = self.request(node, "/api/v1/faxes/%d/cancel" % by_carol["id"], "POST", token=bob)
        self.assertEqual(status, 404)
        self.assertNotEqual(self.request(node, "/api/v1/faxes/%d" % by_carol["id"])[1]["state"], "cancelled")
        status, body = self.request(node, "/api/v1/faxes/%d/cancel" % by_bob["id"], "POST", token=bob)
        self.assertEqual((status, body["state"]), (200, "cancelled"))
        # The admin routes stay the admin's.
        req = urllib.request.Request(node.server + "/api/jobs", headers={"Authorization": "Bearer " + bob})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(e.exception.code, 403)

    def test_the_event_stream_shows_each_change_of_the_faxes_the_token_sees(self):
        node = Node(self.dir)  # its trunk goes nowhere: jobs wait
        self.addCleanup(node.stop)
        bob = self.add_token(node, "bob")
        carol = self.add_token(node, "carol")
        bobs, admins = EventStream(node, bob), EventStream(node, node.token())
        self.addCleanup(bobs.close)
        self.addCleanup(admins.close)
        self.assertEqual((bobs.status, bobs.ctype), (200, "text/event-stream"))
        form = (b"--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+15550100\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.txt\"\r\n"
                b"Content-Type: text/plain\r\n\r\nHello fax\r\n--b--\r\n")
        [by_bob] = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b", token=bob)[1]["items"]
        [by_carol] = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b", token=carol)[1]["items"]
        # Live: each stream hears of the fax without asking again (no new request is made here).
        first = bobs.wait(lambda e: e["id"] == by_bob["id"])
        self.assertEqual(first["number"], "+15550100")
        admins.wait(lambda e: e["id"] == by_carol["id"])
        self.assertEqual(self.request(node, "/api/v1/faxes/%d/cancel" % by_bob["id"], "POST", token=bob)[0], 200)
        bobs.wait(lambda e: e["id"] == by_bob["id"] and e["state"] == "cancelled")
        admins.wait(lambda e: e["id"] == by_bob["id"] and e["state"] == "cancelled")
        # Each event is a new state or new pages, never the same job object twice in a row.
        mine = [e for e in bobs.events if e["id"] == by_bob["id"]]
        for a, b in zip(mine, mine[1:]):
            self.assertNotEqual(a, b)
        self.assertTrue(all(e["id"] != by_carol["id"] for e in bobs.events), bobs.events)  # carol's is not bob's
        self.assertEqual(self.request(node, "/api/v1/me", token=bob), (200, {"user": "bob", "admin": False, "mailboxes": []}))
        status, body = self.request(node, "/api/v1/events?since=soon")
        self.assertEqual((status, body["error"]["code"]), (400, "bad_request"))

    def test_an_admin_makes_and_revokes_users_through_the_api(self):
        node = Node(self.dir)
        self.addCleanup(node.stop)
        body = json.dumps({"name": "dana", "mailboxes": ["dana@example.com"]}).encode()
        status, made = self.request(node, "/api/v1/users", "POST", body, "application/json")
        self.assertEqual(status, 201, made)
        self.assertRegex(made["token"], r"^fbt_[0-9a-f]{64}$")
        self.assertRegex(made["webhook_secret"], r"^[0-9a-f]{64}$")
        self.assertEqual(self.request(node, "/api/v1/me", token=made["token"]),
                         (200, {"user": "dana", "admin": False, "mailboxes": ["dana@example.com"]}))
        status, users = self.request(node, "/api/v1/users")
        [dana] = [u for u in users["items"] if u["name"] == "dana"]
        self.assertEqual((dana["admin"], dana["mailboxes"], dana["tokens"]), (False, ["dana@example.com"], 1))
        self.assertNotIn("webhook_secret", dana)  # shown once, when made
        # Not for a user token; the CLI sees the same store.
        self.assertEqual(self.request(node, "/api/v1/users", token=made["token"])[0], 403)
        listed = subprocess.run([fbtest.FAXBRIDGE, "token", "list", "--config", node.config], capture_output=True, text=True)
        self.assertIn("dana", listed.stdout)
        for payload, why in ((b"[]", "JSON object"), (b'{"name": "a b"}', "name"), (b'{"name": "x", "admin": "yes"}', "admin"),
                             (b'{"name": "x", "mailboxes": "x@y"}', "mailboxes")):
            status, body = self.request(node, "/api/v1/users", "POST", payload, "application/json")
            self.assertEqual(status, 400, payload)
            self.assertIn(why, body["error"]["message"])
        self.assertEqual(self.request(node, "/api/v1/users/dana", "DELETE"), (200, {"name": "dana", "revoked": True}))
        self.assertEqual(self.request(node, "/api/v1/me", token=made["token"])[0], 401)  # its token is gone
        self.assertEqual(self.request(node, "/api/v1/users/dana", "DELETE")[0], 404)
        # A name with "@", as a browser writes it in a path.
        body = json.dumps({"name": "ops@example.com"}).encode()
        self.assertEqual(self.request(node, "/api/v1/users", "POST", body, "application/json")[0], 201)
        self.assertEqual(self.request(node, "/api/v1/users/ops%40example.com", "DELETE"),
                         (200, {"name": "ops@example.com", "revoked": True}))

    def add_token(self, node, name, *extra):
        p = subprocess.run([fbtest.FAXBRIDGE, "token", "add", name, *extra, "--config", node.config],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return re.search(r"token: (fbt_[0-9a-f]{64})", p.stdout).group(1)


class EventStream:
    """GET /api/v1/events, read on a thread: the job objects of its events, in order."""

    def __init__(self, node, token):
        import http.client
        import threading
        self.conn = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=60)
        self.conn.request("GET", "/api/v1/events", headers={"Authorization": "Bearer " + token})
        self.sock = self.conn.sock  # the response keeps reading it after the connection lets go
        self.resp = self.conn.getresponse()  # held: its collection would close the file being read
        self.status, self.ctype, self.fp = self.resp.status, self.resp.getheader("Content-Type"), self.resp.fp
        self.events, self.cond = [], threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        kind, data = None, None
        try:
            for raw in iter(self.fp.readline, b""):
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and kind == "job":
                    with self.cond:
                        self.events.append(json.loads(data))
                        self.cond.notify_all()
                    kind = data = None
        except (OSError, ValueError):
            pass  # closed by the test

    def wait(self, pred, timeout=60):
        with self.cond:
            if not self.cond.wait_for(lambda: any(pred(e) for e in self.events), timeout):
                raise AssertionError("no such event in %s" % self.events)
            return next(e for e in self.events if pred(e))

    def close(self):
        import socket
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # the reader sees the end, and lets the file go
        except OSError:
            pass
        self.thread.join(10)
        self.resp.close()


class Receiver:
    """The test's own webhook receiver: an HTTP server on loopback that keeps every POST (its
    headers and the bytes of its body) and answers `status`."""

    def __init__(self, status=204, first=()):
        """first: the statuses of the first POSTs, in order; `status` for the rest."""
        import http.server
        import threading
        self.posts, self.status, self.first, self.lock = [], status, list(first), threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.posts.append((self.path, dict(self.headers), body))
                    answer = outer.first.pop(0) if outer.first else outer.status
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def got(self):
        with self.lock:
            return list(self.posts)


def form_data(fields):
    """multipart/form-data of (name, value) and (name, filename, content_type, bytes) fields."""
    out = b""
    for f in fields:
        if len(f) == 2:
            out += b"--b\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (f[0].encode(), f[1].encode())
        else:
            out += (b"--b\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\nContent-Type: %s\r\n\r\n"
                    % (f[0].encode(), f[1].encode(), f[2].encode())) + f[3] + b"\r\n"
    return out + b"--b--\r\n"


class WebhookTest(fbtest.TempDirTest):
    """Webhooks (issue 16, INTERFACES.md) against a real T.38 call: a PDF and a .docx submitted to
    two numbers by a user, each state change POSTed to the test's receiver, signed with the
    user's webhook secret, in order, matching the fax's detail; the detail's pages and the PDF
    download of the pages faxed; a user's own webhook told of the fax received for its mailbox."""
    request = FaxesApiTest.request

    def test_every_state_change_is_posted_signed_and_in_order(self):
        import hashlib
        import hmac
        from convert_cli_test import docx
        node = Node(self.dir, trunk="self", http_extra="webhook_allow_private = true",
                    extra='[[route]]\ndid = "+15550101"\nmailbox = "Ivan@example.com"\n')
        self.addCleanup(node.stop)
        p = subprocess.run([fbtest.FAXBRIDGE, "token", "add", "alice", "--config", node.config],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        token = re.search(r"token: (fbt_[0-9a-f]{64})", p.stdout).group(1)
        secret = re.search(r"webhook_secret: ([0-9a-f]{64})", p.stdout).group(1)
        hook = Receiver()
        self.addCleanup(hook.stop)
        # Ivan is told of each fax received for his mailbox, on his own webhook.
        ivans = Receiver()
        self.addCleanup(ivans.stop)
        p = subprocess.run([fbtest.FAXBRIDGE, "token", "add", "ivan", "--mailbox", "ivan@example.com", "--webhook",
                            ivans.url, "--config", node.config], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        ivan_token = re.search(r"token: (fbt_[0-9a-f]{64})", p.stdout).group(1)
        ivan_secret = re.search(r"webhook_secret: ([0-9a-f]{64})", p.stdout).group(1)
        pdf = fbtest.pdf_with_pages(["A LETTER BY FAX"])[0]
        form = form_data([("to", "+15550100"), ("to", "+15550101"), ("webhook_url", hook.url),
                          ("document", "letter.pdf", "application/pdf", pdf),
                          ("document", "memo.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                           docx(["Memo by fax", "Second line of the memo"]))])
        status, body = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b", token=token)
        self.assertEqual(status, 201, body)
        jobs = [j["id"] for j in body["items"]]
        self.assertEqual(len(jobs), 2)
        # Both calls end, and the receiver hears of it: polled, each with a deadline.
        deadline = time.time() + 240
        details = {}
        while True:
            details = {j: self.request(node, "/api/v1/faxes/%d" % j, token=token)[1] for j in jobs}
            done = all(d["state"] in ("done", "failed", "cancelled") for d in details.values())
            heard = {json.loads(b)["event"] for _, _, b in hook.got()}
            if done and all(d["webhooks"] and all(w["status"] == "delivered" for w in d["webhooks"])
                            for d in details.values()) and "job.done" in heard:
                break
            self.assertLess(time.time(), deadline, (details, hook.got()))
            time.sleep(0.3)
        posts = hook.got()
        for j in jobs:
            d = details[j]
            self.assertEqual((d["state"], d["pages"], d["pages_done"]), ("done", 2, 2), d)
            # Its call, and each page as T.30 confirmed it.
            [call] = d["attempts"]
            self.assertEqual((call["trunk"], call["sip_status"], call["result"], call["pages_sent"]), ("t", 200, "done", 2), call)
            self.assertTrue(call["node"] and call["media"], call)
            self.assertEqual([(p["page"], p["state"]) for p in d["page_results"]], [(1, "sent"), (2, "sent")])
            self.assertTrue(all(p["rows"] > 1000 and p["bad_rows"] == 0 for p in d["page_results"]), d["page_results"])
            # Exactly what the store announced for this job, each once, in its order.
            mine = [(h, json.loads(b), b) for _, h, b in posts if json.loads(b)["job"]["id"] == j]
            self.assertEqual([m["id"] for _, m, _ in mine], [w["id"] for w in d["webhooks"]])
            events = [m["event"] for _, m, _ in mine]
            self.assertEqual(events[0], "job.queued")
            self.assertEqual(events[-1], "job.done")
            it = iter(events)  # rendering, ready and sending in between, in that order
            self.assertTrue(all(e in it for e in ("job.rendering", "job.ready", "job.sending")), events)
            for headers, m, raw in mine:
                self.assertEqual(m["state"], m["event"][len("job."):])
                self.assertEqual(headers["Faxbridge-Event"], m["event"])
                self.assertEqual(headers["Faxbridge-Event-Id"], str(m["id"]))
                sig = dict(kv.split("=", 1) for kv in headers["Faxbridge-Signature"].split(","))
                want = hmac.new(secret.encode(), sig["t"].encode() + b"." + raw, hashlib.sha256).hexdigest()
                self.assertTrue(hmac.compare_digest(sig["v1"], want), headers)
                self.assertLess(abs(int(sig["t"]) - time.time()), 600)
            # The PDF download holds the pages faxed.
            req = urllib.request.Request(node.server + "/api/v1/faxes/%d/document.pdf" % j,
                                         headers={"Authorization": "Bearer " + token})
            with urllib.request.urlopen(req, timeout=60) as r:
                pdf_path = self.path("fax-%d.pdf" % j)
                with open(pdf_path, "wb") as f:
                    f.write(r.read())
            info = subprocess.run(["pdfinfo", pdf_path], capture_output=True, text=True, timeout=30).stdout
            self.assertRegex(info, r"Pages:\s+2\n")
        # The node received both faxes itself (its trunk is its own SIP port): each reception's
        # detail has its call and its pages as received.
        deadline = time.time() + 120
        while True:
            received = self.request(node, "/api/v1/faxes?direction=in")[1]["items"]
            if len(received) == 2 and all(r["state"] in ("delivering", "done") for r in received):
                break
            self.assertLess(time.time(), deadline, received)
            time.sleep(0.3)
        for r in received:
            d = self.request(node, "/api/v1/faxes/%d" % r["id"])[1]
            self.assertEqual([(a["result"], a["pages_sent"], a["sip_status"]) for a in d["attempts"]], [("received", 2, None)], d)
            self.assertEqual([(p["page"], p["state"]) for p in d["page_results"]], [(1, "received"), (2, "received")])
            self.assertTrue(all(p["rows"] > 1000 for p in d["page_results"]), d["page_results"])
        # Ivan's webhook: the one fax routed to his mailbox, once, signed with his secret.
        deadline = time.time() + 60
        while not ivans.got():
            self.assertLess(time.time(), deadline, "ivan's webhook heard nothing")
            time.sleep(0.2)
        [(_, headers, raw)] = ivans.got()
        m = json.loads(raw)
        self.assertEqual((m["event"], m["job"]["direction"], m["job"]["number"]), ("fax.received", "in", "+15550101"))
        self.assertEqual(headers["Faxbridge-Event"], "fax.received")
        sig = dict(kv.split("=", 1) for kv in headers["Faxbridge-Signature"].split(","))
        self.assertTrue(hmac.compare_digest(
            sig["v1"], hmac.new(ivan_secret.encode(), sig["t"].encode() + b"." + raw, hashlib.sha256).hexdigest()))
        self.assertNotIn("fax.received", [json.loads(b)["event"] for _, _, b in hook.got()])  # alice's hears none
        # And it is his to see: the detail lists the announcement.
        status, d = self.request(node, "/api/v1/faxes/%d" % m["job"]["id"], token=ivan_token)
        self.assertEqual((status, [(w["event"], w["status"]) for w in d["webhooks"]]), (200, [("fax.received", "delivered")]))
        # A signature over other bytes does not verify (the check above can fail).
        _, m, raw = mine[0]
        self.assertNotEqual(hmac.new(secret.encode(), b"0." + raw, hashlib.sha256).hexdigest(),
                            dict(kv.split("=", 1) for kv in mine[0][0]["Faxbridge-Signature"].split(","))["v1"])

    def test_a_private_address_is_refused_unless_allowed(self):
        node = Node(self.dir)  # webhook_allow_private is false; its trunk goes nowhere
        self.addCleanup(node.stop)
        p = subprocess.run([fbtest.FAXBRIDGE, "token", "add", "bob", "--config", node.config],
                           capture_output=True, text=True, timeout=30)
        token = re.search(r"token: (fbt_[0-9a-f]{64})", p.stdout).group(1)
        hook = Receiver()
        self.addCleanup(hook.stop)
        form = form_data([("to", "+15550100"), ("webhook_url", hook.url),
                          ("document", "a.txt", "text/plain", b"Hello fax")])
        status, body = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b", token=token)
        self.assertEqual(status, 201, body)
        job = body["items"][0]["id"]
        deadline = time.time() + 60
        while True:
            hooks = self.request(node, "/api/v1/faxes/%d" % job, token=token)[1]["webhooks"]
            if hooks and hooks[0]["attempts"] >= 1:
                break
            self.assertLess(time.time(), deadline, hooks)
            time.sleep(0.2)
        self.assertEqual((hooks[0]["event"], hooks[0]["status"]), ("job.queued", "pending"))
        self.assertEqual(hooks[0]["error"], "127.0.0.1 is at a private address (127.0.0.1), where webhooks do not go "
                                            "([http] webhook_allow_private)")
        self.assertEqual(hook.got(), [])


class WebhookRetryTest(fbtest.TempDirTest):
    """A receiver that fails: the announcement is kept and tried again after its backoff (30 s),
    and the job's later announcements wait behind it, so the receiver still hears them in order."""
    request = FaxesApiTest.request

    def test_a_failed_announcement_is_retried_and_the_rest_wait_behind_it(self):
        node = Node(self.dir, http_extra="webhook_allow_private = true")  # its trunk goes nowhere
        self.addCleanup(node.stop)
        p = subprocess.run([fbtest.FAXBRIDGE, "token", "add", "carol", "--config", node.config],
                           capture_output=True, text=True, timeout=30)
        token = re.search(r"token: (fbt_[0-9a-f]{64})", p.stdout).group(1)
        hook = Receiver(first=[500])  # the first POST fails, every later one succeeds
        self.addCleanup(hook.stop)
        form = form_data([("to", "+15550100"), ("webhook_url", hook.url),
                          ("document", "a.txt", "text/plain", b"Hello fax")])
        status, body = self.request(node, "/api/v1/faxes", "POST", form, "multipart/form-data; boundary=b", token=token)
        self.assertEqual(status, 201, body)
        job = body["items"][0]["id"]

        def detail():
            return self.request(node, "/api/v1/faxes/%d" % job, token=token)[1]
        deadline = time.time() + 30
        while not (hook.got() and detail()["webhooks"][0]["attempts"] >= 1):
            self.assertLess(time.time(), deadline, detail())
            time.sleep(0.2)
        first = detail()["webhooks"]
        self.assertEqual((first[0]["event"], first[0]["error"]), ("job.queued", "HTTP status 500"))
        # After its 30 s backoff: delivered, then the job's later ones, which waited behind it.
        deadline = time.time() + 120
        while True:
            hooks = detail()["webhooks"]  # (the job may go on changing: one snapshot)
            if len(hooks) >= 3 and all(w["status"] == "delivered" for w in hooks):
                break
            self.assertLess(time.time(), deadline, hooks)
            time.sleep(0.5)
        events = [json.loads(b)["event"] for _, _, b in hook.got()]
        self.assertEqual(events[:1 + len(hooks)], ["job.queued"] + [w["event"] for w in hooks])
        self.assertEqual(events[:4], ["job.queued", "job.queued", "job.rendering", "job.ready"])
        self.assertEqual(hooks[0]["attempts"], 2)
        self.assertIsNone(hooks[0]["error"])  # (delivered: the failure is history)

if __name__ == "__main__":
    unittest.main()
