"""End-to-end tests of the OffRamp intake: a real `faxbridge serve` on free loopback ports,
driven by real SMTP clients (swaks, Python smtplib), checked through the CLI and the job
store: every RCPT case of addressing.md with its exact reply, DSN parameters kept with the
jobs, STARTTLS + AUTH, content refused at DATA, and an orderly SIGTERM."""
import email.message
import json
import urllib.request
import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import time
import unittest

import fbtest
from fbtest import FAXBRIDGE

# "secret", crypt(3) SHA-512.
ALICE_HASH = "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG."


_given = set()  # ports handed out by this process: the kernel may offer a released one again


def free_port():
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given:
            _given.add(port)
            return port


def free_sip_port():
    """A port free for both TCP and UDP (SIP listens on both with one number)."""
    while True:
        with socket.socket() as t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            if port in _given:
                continue
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
            _given.add(port)
            return port


class Node:
    """A faxbridge serve process on free ports in a temporary data directory."""

    def __init__(self, workdir, trusted=True, tls=False, extra="", smtp_extra="", trunk="nowhere", trunk_extra="",
                 sip_tls=False, env=None, sip_extra="", node_extra="", http_extra=""):
        """trunk: "nowhere" (a trunk to a loopback port nobody answers: jobs render, then wait in
        sending/retry), "self" (the node's own SIP port: the loopback of the embedded default), or
        a sip: URI."""
        self.dir = workdir
        # "nowhere": a UDP port this test holds open and never reads, so no other node can be
        # listening there (a port merely found free could become another test's SIP port). Bound
        # first, so that the ports chosen below cannot be it.
        self.blackhole = None
        if trunk == "nowhere":
            self.blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.blackhole.bind(("127.0.0.1", 0))
        self.smtp_port, self.http_port, self.sip_port = free_port(), free_port(), free_sip_port()
        self.server = "http://127.0.0.1:%d" % self.http_port
        cfg = ["[node]", 'data_dir = "%s"' % os.path.join(workdir, "var"), node_extra, "",
               "[smtp]", 'listen = ["127.0.0.1:%d"]' % self.smtp_port, 'domains = ["fax.test"]',
               'hostname = "fax.test"',
               "trusted_networks = %s" % ('["127.0.0.0/8"]' if trusted else "[]"), smtp_extra]
        if tls:
            cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=fax.test", "-keyout", key, "-out", cert],
                           check=True, capture_output=True)
            cfg += ['tls_cert = "%s"' % cert, 'tls_key = "%s"' % key]
        cfg += ["[[smtp.user]]", 'name = "alice"', 'password_hash = "%s"' % ALICE_HASH, "",
                "[http]", 'listen = "127.0.0.1:%d"' % self.http_port, http_extra, "",
                "[sip]", 'listen = ["udp:127.0.0.1:%d", "tcp:127.0.0.1:%d"%s]' % (
                    self.sip_port, self.sip_port, "" if not sip_tls else ', "tls:127.0.0.1:%d"' % self._tls_port()),
                sip_extra]
        if sip_tls:  # a self-signed certificate for 127.0.0.1 (SAN IP), as peers verify it
            self.sip_cert, key = os.path.join(workdir, "sip-cert.pem"), os.path.join(workdir, "sip-key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", key, "-out", self.sip_cert], check=True, capture_output=True)
            cfg += ['tls_cert = "%s"' % self.sip_cert, 'tls_key = "%s"' % key]
        cfg += [""]
        if trunk:
            uri = {"nowhere": "sip:127.0.0.1:%d" % (self.blackhole.getsockname()[1] if self.blackhole else 0),
                   "self": "sip:127.0.0.1:%d" % self.sip_port}.get(trunk, trunk)
            cfg += ["[[trunk]]", 'name = "t"', 'uri = "%s"' % uri, trunk_extra, ""]
        cfg += [extra.replace("{self_sip}", str(self.sip_port))]  # a second trunk may point at us
        self.config = os.path.join(workdir, "faxbridge.toml")
        with open(self.config, "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.log = open(os.path.join(workdir, "serve.log"), "w")
        self.proc = subprocess.Popen([FAXBRIDGE, "serve", "--config", self.config], stderr=self.log, cwd=workdir,
                                     env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.http_port), timeout=1).close()
                self._smtp_probe()
                # SIP binds after SMTP and HTTP: "ready" is logged once every listener is up.
                with open(self.log.name) as f:
                    said = f.read()  # ([log] format text, json or logfmt)
                    if "faxbridge: ready" in said or '"msg":"ready"' in said or "msg=ready" in said:
                        return
                time.sleep(0.05)
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError("serve exited: " + open(self.log.name).read())
                time.sleep(0.1)
        raise AssertionError("serve did not start: " + open(self.log.name).read())

    def _tls_port(self):
        self.sip_tls_port = free_port()
        return self.sip_tls_port

    def _smtp_probe(self):
        """Greeting, QUIT, then the server's close: the probe's session has ended (and left the server's
        session count) before the test opens its own, so a max_sessions test is not short one."""
        with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=5) as probe:
            probe.recv(512)
            probe.sendall(b"QUIT\r\n")
            while probe.recv(512):
                pass

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self.blackhole:
            self.blackhole.close()

    def cli(self, *args):
        # --config: the CLI finds the node's admin token in its data directory.
        return subprocess.run([FAXBRIDGE, *args, "--server", self.server, "--config", self.config],
                              capture_output=True, text=True, timeout=30)

    def token(self):
        with open(os.path.join(self.dir, "var", "admin.token")) as f:
            return f.read().strip()

    def api(self, path, method="GET", headers=None):
        """GET (or another method on) an API path with the node's admin token: the JSON body."""
        req = urllib.request.Request(self.server + path, method=method,
                                     headers={"Authorization": "Bearer " + self.token(), **(headers or {})})
        return json.loads(urllib.request.urlopen(req, timeout=10).read())

    def jobs(self):
        p = self.cli("jobs", "--json")
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    # Rendered: the converter is done with the job (the dispatcher may already be dialling it).
    RENDERED = ("ready", "sending", "retry", "failed", "done")

    def wait_jobs(self, count, states=RENDERED, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            jobs = self.jobs()
            if len(jobs) >= count and all(j["state"] in states for j in jobs):
                return jobs
            time.sleep(0.2)
        raise AssertionError("jobs did not settle: %s" % self.jobs())

    def send_tiff(self, to, tif):
        """Mails `tif` as the only part (image/tiff) to `to`; asserts every recipient was accepted."""
        msg = email.message.EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "alice@example.com", to, "fax"
        with open(tif, "rb") as f:
            msg.add_attachment(f.read(), maintype="image", subtype="tiff", filename=os.path.basename(tif))
        s = self.smtp()
        refused = s.send_message(msg)
        s.quit()
        assert refused == {}, refused

    def settle(self, states, timeout=240):
        """Waits until there are jobs and every one is in `states`; returns them."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            jobs = self.jobs()
            if jobs and all(j["state"] in states for j in jobs):
                return jobs
            time.sleep(0.5)
        raise AssertionError("did not settle: %s\n%s" % (self.jobs(), open(self.log.name).read()))

    def db(self):
        return sqlite3.connect(os.path.join(self.dir, "var", "faxbridge.db"))

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30)
        s.ehlo("client.test")
        return s


class OffRampTest(fbtest.TempDirTest):
    def node(self, **kw):
        n = Node(self.dir, **kw)
        self.addCleanup(n.stop)
        return n

    def test_swaks_pdf_becomes_a_ready_job_with_its_pages(self):
        n = self.node()
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % n.smtp_port, "--to", "FAX=+15550100@fax.test",
                            "--from", "alice@example.com", "--attach", "@" + os.path.join(fbtest.DATA, "text.pdf"),
                            "--pipeline"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"<-  250 2\.0\.0 Ok: queued as [0-9a-f]{16} \(1 fax job\)")
        [job] = n.wait_jobs(1)
        self.assertIn(job["state"], ("ready", "sending", "retry"))
        self.assertEqual((job["direction"], job["number"], job["pages"], job["pages_done"]),
                         ("out", "+15550100", 3, 0))  # swaks' text body + the two PDF pages
        self.assertIsNone(job["error"])
        tif = os.path.join(self.dir, "var", "spool", "fax", "%d.tif" % job["id"])
        info = json.loads(subprocess.run([FAXBRIDGE, "inspect", tif], capture_output=True, text=True).stdout)
        self.assertEqual((info["pages"], info["profile"]), (3, "S"))
        # Nothing of it for other users: the data directory, the store, the spool (umask 027).
        var = os.path.join(self.dir, "var")
        for path in (var, os.path.join(var, "faxbridge.db"), os.path.join(var, "spool"), tif):
            self.assertEqual(os.stat(path).st_mode & 0o007, 0, path)

    def test_cover_page_for_configured_senders_names_the_number(self):
        n = self.node(extra='[fax]\ncover_senders = ["@example.com"]\n')
        for sender in ("alice@example.com", "bob@example.net"):
            p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % n.smtp_port, "--to", "FAX=+15550123@fax.test",
                                "--from", sender, "--h-Subject", "Order 7781", "--body", "Twelve boxes please.",
                                "--attach", "@" + os.path.join(fbtest.DATA, "text.pdf")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        jobs = sorted(n.wait_jobs(2), key=lambda j: j["id"])
        pages = []
        for job in jobs:
            tif = os.path.join(self.dir, "var", "spool", "fax", "%d.tif" % job["id"])
            pages.append(fbtest.ocr(tif, self.dir, page=1))
            self.assertEqual(job["pages"], 3)  # alice: cover (with her text) + 2; bob: text + 2
        for words in ("FAX", "+15550123", "Order 7781", "3 including this cover", "Twelve boxes please."):
            self.assertIn(words, pages[0])
        self.assertNotIn("including this cover", pages[1])
        self.assertIn("Twelve boxes please.", pages[1])

    def test_sending_window_holds_its_numbers_and_priority_is_kept(self):
        import datetime
        now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
        opens, closes = now + datetime.timedelta(hours=2), now + datetime.timedelta(hours=3)
        n = self.node(extra='[dialing]\nallow = ["+"]\n\n[[window]]\nprefixes = ["+1555"]\nhours = "%s-%s"\ntimezone = "UTC"\n'
                            % (opens.strftime("%H:%M"), closes.strftime("%H:%M")))
        msg = email.message.EmailMessage()
        msg["From"], msg["Subject"], msg["Priority"] = "alice@example.com", "held", "urgent"
        msg.set_content("Sent when the window opens.")
        with smtplib.SMTP("127.0.0.1", n.smtp_port, timeout=30) as smtp:
            smtp.sendmail("alice@example.com", ["FAX=+15550123@fax.test"], msg.as_bytes())
            del msg["Priority"]
            smtp.sendmail("bob@example.com", ["FAX=+4930123456@fax.test"], msg.as_bytes())
        deadline = time.time() + 60
        while time.time() < deadline:
            jobs = {j["number"]: j for j in n.jobs()}
            # The exact states asserted below: "rendering" and "ready" are on the way to them.
            if (len(jobs) == 2 and jobs["+15550123"]["retry_at"] and jobs["+15550123"]["state"] == "ready"
                    and jobs["+4930123456"]["state"] in ("sending", "retry", "failed")):
                break
            time.sleep(0.2)
        held, free = jobs["+15550123"], jobs["+4930123456"]
        # Held: not dialled, due when the window opens; the other number is dialled at once.
        self.assertEqual((held["state"], held["retry_at"]), ("ready", opens.strftime("%Y-%m-%dT%H:%M:%SZ")))
        self.assertEqual(held["priority"], 1)
        self.assertIn(free["state"], ("sending", "retry", "failed"))
        self.assertEqual(free["priority"], 0)

    def test_smtplib_dsn_parameters_are_kept_with_each_job(self):
        n = self.node(extra='[dialing]\nallow = ["+"]\n')
        s = n.smtp()
        msg = "From: bob@example.com\r\nSubject: fax\r\n\r\nPlease fax this.\r\n"
        refused = s.sendmail("bob@example.com", ["FAX=+15550100@fax.test", "FAX=+442079460000/T33S=12@fax.test"], msg,
                             mail_options=["RET=HDRS", "ENVID=QQ+2B314"],
                             rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;FAX+3D+2B15550100@fax.test"])
        s.quit()
        self.assertEqual(refused, {})
        jobs = n.wait_jobs(2)
        self.assertEqual(sorted(j["number"] for j in jobs), ["+15550100", "+442079460000"])
        with n.db() as db:
            rows = db.execute("SELECT number, subaddress, notify, orcpt FROM jobs ORDER BY id").fetchall()
            self.assertEqual(rows, [("+15550100", None, "SUCCESS,FAILURE", "rfc822;FAX=+15550100@fax.test"),
                                    ("+442079460000", "12", "SUCCESS,FAILURE", "rfc822;FAX=+15550100@fax.test")])
            self.assertEqual(db.execute("SELECT sender, ret, envid FROM messages").fetchall(),
                             [("bob@example.com", "HDRS", "QQ+314")])

    def test_every_rcpt_case_of_addressing_md(self):
        n = self.node(extra='[dialing]\nallow = ["+"]\ndeny = ["+1900"]\n')
        cases = [
            ("FAX=+12025550100@fax.test", 250, "2.1.5"),
            ("fax=+39-02-26338@fax.test", 250, "2.1.5"),
            ("FAX=+1.202.555.0100/T33S=6789@fax.test", 250, "2.1.5"),
            ("/FAX=+441632960000/@fax.test", 250, "2.1.5"),
            ('"FAX=+12025550100"@fax.test', 250, "2.1.5"),
            ("FAX=12025550100@fax.test", 553, "5.1.3"),
            ("FAX=+@fax.test", 553, "5.1.3"),
            ("FAX=+1202abc@fax.test", 553, "5.1.3"),
            ("FAX=+1202/T33S=@fax.test", 553, "5.1.3"),
            ("FAX=+1202/T33S=12a@fax.test", 553, "5.1.3"),
            ("FAX=+1202/FOO=1@fax.test", 553, "5.1.3"),
            ("FAX=+1202/T33S=1#2@fax.test", 553, "5.1.3"),
            ("@fax.test", 553, "5.1.3"),
            ("FAX=+1234567890123456@fax.test", 553, "5.1.3"),
            ("FAX=+123456789012345@fax.test", 250, "2.1.5"),
            ("FAX=+12025550100@elsewhere.example", 550, "5.7.1"),
            ("FAX=+19005550100@fax.test", 550, "5.7.1"),
        ]
        # Without [dialing] allow: the station's country (+1) only.
        os.makedirs(self.path("default"))
        d = Node(self.path("default"))
        self.addCleanup(d.stop)
        s = d.smtp()
        s.mail("alice@example.com")
        self.assertEqual(s.rcpt("FAX=+12025550100@fax.test")[0], 250)
        code, text = s.rcpt("FAX=+442079460000@fax.test")
        self.assertEqual((code, text.decode()[:5]), (550, "5.7.1"), text)
        self.assertIn("+442079460000", text.decode())
        s.rset()
        s.quit()
        s = n.smtp()
        s.mail("alice@example.com")
        for rcpt, code, enhanced in cases:
            with self.subTest(rcpt=rcpt):
                got, text = s.rcpt(rcpt)
                self.assertEqual(got, code, text)
                self.assertTrue(text.decode().startswith(enhanced), text)
        s.rset()
        s.quit()

    def test_untrusted_clients_must_authenticate(self):
        n = self.node(trusted=False)
        s = n.smtp()
        code, text = s.mail("bob@example.com")
        self.assertEqual(code, 250, text)  # the mail may be for the postmaster
        code, text = s.rcpt("FAX=+15550100@fax.test")
        self.assertEqual((code, text[:5]), (530, b"5.7.0"))
        s.rset()
        code, text = s.docmd("AUTH", "PLAIN AGFsaWNlAHNlY3JldA==")
        self.assertEqual((code, text[:6]), (538, b"5.7.11"))  # RFC 4954: not over plain text
        s.quit()

    def test_starttls_then_auth_then_send(self):
        n = self.node(trusted=False, tls=True)
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % n.smtp_port, "--to", "FAX=+15550100@fax.test",
                            "--from", "alice@example.com", "--tls", "--auth", "PLAIN", "--auth-user", "alice",
                            "--auth-password", "secret", "--body", "Hello over TLS"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("<~  235 2.7.0 Authentication successful", p.stdout)
        self.assertRegex(p.stdout, r"<~  250 2\.0\.0 Ok: queued as")
        bad = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % n.smtp_port, "--to", "FAX=+15550100@fax.test",
                              "--from", "alice@example.com", "--tls", "--auth", "LOGIN", "--auth-user", "alice",
                              "--auth-password", "wrong"], capture_output=True, text=True, timeout=60)
        self.assertIn("<~* 535 5.7.8", bad.stdout)
        n.wait_jobs(1)

    def test_unfaxable_content_is_refused_at_data_naming_the_part(self):
        n = self.node()
        msg = ("From: bob@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
               "--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\n"
               "Content-Type: application/x-msdownload; name=setup.exe\r\n"
               "Content-Disposition: attachment; filename=setup.exe\r\n\r\nMZ....\r\n--XX--\r\n")
        s = n.smtp()
        with self.assertRaises(smtplib.SMTPDataError) as e:
            s.sendmail("bob@example.com", ["FAX=+15550100@fax.test"], msg)
        self.assertEqual(e.exception.smtp_code, 554)
        self.assertIn(b"5.6.1", e.exception.smtp_error)
        self.assertIn(b"setup.exe", e.exception.smtp_error)
        s.quit()
        self.assertEqual(n.jobs(), [])
        self.assertEqual(os.listdir(os.path.join(self.dir, "var", "spool", "msg")), [])

    def test_sigterm_stops_promptly_and_cleanly(self):
        n = self.node()
        idle = n.smtp()  # an idle session is told 421 and closed
        t0 = time.time()
        n.proc.send_signal(signal.SIGTERM)
        self.assertEqual(n.proc.wait(timeout=10), 0)
        self.assertLess(time.time() - t0, 10)
        with self.assertRaises(smtplib.SMTPServerDisconnected):
            code, _ = idle.noop()
            if code == 421:
                raise smtplib.SMTPServerDisconnected("421")

    def test_overload_and_idle_timeout_get_421(self):
        n = self.node(smtp_extra="max_sessions = 2\nidle_timeout_s = 1")
        first, second = n.smtp(), n.smtp()
        third = socket.create_connection(("127.0.0.1", n.smtp_port), timeout=10)
        self.assertEqual(third.recv(200), b"421 4.7.0 fax.test Error: too many connections, try again later\r\n")
        third.close()
        for s in (first, second):  # idle: both sessions are told 421 (waited for, not slept on)
            self.assertEqual(s.sock.recv(200), b"421 4.4.2 fax.test Error: timeout exceeded\r\n")
            self.assertEqual(s.sock.recv(200), b"")  # and closed
            s.close()
        idle = socket.create_connection(("127.0.0.1", n.smtp_port), timeout=10)
        idle.recv(200)  # greeting
        self.assertEqual(idle.recv(200), b"421 4.4.2 fax.test Error: timeout exceeded\r\n")
        idle.close()

    def test_api_errors_and_cli_exit_codes(self):
        n = self.node()
        self.assertEqual(n.cli("job", "12345").returncode, 1)
        self.assertEqual(n.cli("cancel", "12345").returncode, 1)
        p = subprocess.run([FAXBRIDGE, "jobs", "--server", "http://127.0.0.1:%d" % free_port()],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 6)
        self.assertIn("cannot reach", p.stderr)


class ApiAccessTest(fbtest.TempDirTest):
    """The HTTP API's front door (api/access.hpp, api/guard.hpp): bearer tokens, Host and Origin."""

    def request(self, n, path, method="GET", headers=None, host=None):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", n.http_port, timeout=10)
        c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        c.putheader("Host", host or "127.0.0.1:%d" % n.http_port)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.putheader("Content-Length", "0")
        c.endheaders()
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, dict(r.getheaders()), json.loads(body) if body else None

    def test_tokens_hosts_and_origins(self):
        n = Node(self.dir, http_extra='hosts = ["fax.test"]')
        self.addCleanup(n.stop)
        token_file = os.path.join(self.dir, "var", "admin.token")
        self.assertEqual(os.stat(token_file).st_mode & 0o777, 0o600)
        admin = {"Authorization": "Bearer " + n.token()}
        self.assertRegex(n.token(), r"^fbt_[0-9a-f]{64}$")

        # A job to act on: it waits for a trunk nobody answers.
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % n.smtp_port, "--to", "FAX=+15550100@fax.test",
                            "--from", "alice@example.com", "--body", "one page"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        [job] = n.wait_jobs(1)
        cancel = "/api/jobs/%d/cancel" % job["id"]

        # No token, a malformed one, an unknown one: 401, and nothing about the jobs.
        status, headers, body = self.request(n, "/api/jobs")
        self.assertEqual(status, 401)
        self.assertEqual(headers["WWW-Authenticate"], 'Bearer realm="faxbridge"')
        self.assertIn("needs a token", body["error"])
        status, headers, _ = self.request(n, "/api/jobs", headers={"Authorization": "Bearer fbt_" + "0" * 64})
        self.assertEqual((status, headers["WWW-Authenticate"]), (401, 'Bearer realm="faxbridge", error="invalid_token"'))
        self.assertEqual(self.request(n, "/api/jobs", headers={"Authorization": "Basic YWxpY2U6eA=="})[0], 401)
        self.assertEqual(self.request(n, cancel, "POST")[0], 401)

        # The admin token: a cross-origin or cross-site POST is refused (CSRF), and so is a name
        # that is not this node's (DNS rebinding); the job is untouched.
        status, _, body = self.request(n, cancel, "POST", {**admin, "Origin": "http://evil.example"})
        self.assertEqual(status, 403)
        self.assertIn("another origin", body["error"])
        status, _, body = self.request(n, cancel, "POST", {**admin, "Origin": "null"})
        self.assertEqual(status, 403)
        status, _, body = self.request(n, cancel, "POST", {**admin, "Sec-Fetch-Site": "cross-site"})
        self.assertEqual(status, 403)
        status, _, body = self.request(n, "/api/jobs", headers=admin, host="rebind.attacker.example:%d" % n.http_port)
        self.assertEqual(status, 403)
        self.assertIn("rebind.attacker.example", body["error"])
        self.assertNotIn(job["state"], ("cancelled",))
        self.assertNotEqual(n.api("/api/jobs/%d" % job["id"])["state"], "cancelled")
        # The names it is reached by: IP literals, localhost, and [http] hosts.
        self.assertEqual(self.request(n, "/api/jobs", headers=admin, host="localhost:%d" % n.http_port)[0], 200)
        self.assertEqual(self.request(n, "/api/jobs", headers=admin, host="FAX.test")[0], 200)
        status, _, body = self.request(n, cancel, "POST", {**admin, "Origin": "http://127.0.0.1:%d" % n.http_port})
        self.assertEqual((status, body["state"]), (200, "cancelled"))

        # Issued tokens: shown once, kept hashed; a user token is not an admin one; revoked, gone.
        def token_cmd(*args):
            return subprocess.run([FAXBRIDGE, "token", *args, "--config", n.config], capture_output=True, text=True,
                                  timeout=30)
        add = token_cmd("add", "ops", "--admin")
        self.assertEqual(add.returncode, 0, add.stderr)
        lines = add.stdout.splitlines()
        self.assertEqual(len(lines), 2, add.stdout)
        self.assertRegex(lines[0], r"^token: fbt_[0-9a-f]{64}$")
        self.assertRegex(lines[1], r"^webhook_secret: [0-9a-f]{64}$")
        ops = lines[0].split(" ", 1)[1]
        user = token_cmd("add", "carol", "--mailbox", "carol@example.com").stdout.splitlines()[0].split(" ", 1)[1]
        self.assertEqual(self.request(n, "/api/jobs", headers={"Authorization": "Bearer " + ops})[0], 200)
        status, _, body = self.request(n, "/api/jobs", headers={"Authorization": "Bearer " + user})
        self.assertEqual(status, 403)
        self.assertIn("carol", body["error"])
        listed = token_cmd("list")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertRegex(listed.stdout, r"(?m)^carol user tokens=1 created=\S+ mailboxes=carol@example.com$")
        self.assertRegex(listed.stdout, r"(?m)^ops admin tokens=1 ")
        db = sqlite3.connect(os.path.join(self.dir, "var", "faxbridge.db"))
        hashes = [r[0] for r in db.execute("SELECT hash FROM api_tokens")]
        db.close()
        self.assertEqual(len(hashes), 2)
        for f in os.listdir(os.path.join(self.dir, "var")):
            if f.startswith("faxbridge.db"):
                with open(os.path.join(self.dir, "var", f), "rb") as fh:
                    self.assertNotIn(ops.encode(), fh.read(), f)
        self.assertEqual(token_cmd("revoke", "ops").returncode, 0)
        self.assertEqual(self.request(n, "/api/jobs", headers={"Authorization": "Bearer " + ops})[0], 401)
        self.assertEqual(token_cmd("revoke", "ops").returncode, 1)
        self.assertEqual(token_cmd("add", "bad name").returncode, 2)

        # The CLI: the admin token from the data directory; a given bad token is exit 7.
        self.assertEqual(n.cli("jobs", "--json").returncode, 0)
        p = subprocess.run([FAXBRIDGE, "jobs", "--server", n.server, "--token", "fbt_x"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertIn("not valid", p.stderr)
        p = subprocess.run([FAXBRIDGE, "jobs", "--server", n.server], capture_output=True, text=True, timeout=30,
                           env={**os.environ, "FAXBRIDGE_TOKEN": user})
        self.assertEqual(p.returncode, 7, p.stderr)

        # One audit line per refusal, with the client's address.
        with open(n.log.name) as f:
            log = f.read()
        self.assertIn("http: refused 127.0.0.1: 401 no token", log)
        self.assertIn("http: refused 127.0.0.1: 403 host/origin", log)

    def test_no_tokens_only_on_loopback(self):
        n = Node(self.dir, http_extra="tokens = false")
        self.addCleanup(n.stop)
        status, _, body = self.request(n, "/api/jobs")
        self.assertEqual((status, body), (200, []))
        self.assertEqual(self.request(n, "/api/jobs", host="evil.example")[0], 403)
        n.stop()
        with open(n.config) as f:
            cfg = f.read().replace('listen = "127.0.0.1:%d"' % n.http_port, 'listen = "0.0.0.0:%d"' % n.http_port)
        with open(n.config, "w") as f:
            f.write(cfg)
        p = subprocess.run([FAXBRIDGE, "serve", "--config", n.config], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("http.listen 0.0.0.0:%d is not a loopback address" % n.http_port, p.stderr)


if __name__ == "__main__":
    unittest.main()
