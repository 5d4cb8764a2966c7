"""Per-client SMTP limits (mail/client_limits.hpp) against a running node:

- hydra (the Debian package) guesses alice's password 1,000 times over SMTP AUTH, the right one
  last: the client is blocked after the configured failures (exactly that many passwords are
  checked, the right one never is), even the right password is then refused, and a T.38 fax
  going through the same node at the same time completes with 0 bad rows;
- an untrusted client is held to its connections at once and its MAILs per minute, each refusal
  is one audit line with the client's address, and past the soft error limit replies slow down."""
import os
import re
import shutil
import smtplib
import socket
import subprocess
import time
import unittest

import fbtest
from fax_loop_test import wait_for
from offramp_test import Node


class HydraTest(fbtest.TempDirTest):
    def test_guessing_is_blocked_and_a_fax_goes_on(self):
        if not shutil.which("hydra"):
            self.skipTest("hydra is not installed (scripts/install-deps)")
        os.makedirs(self.path("node"))
        node = Node(self.path("node"), trunk="self", smtp_extra="client_auth_failures_per_hour = 5")
        self.addCleanup(node.stop)
        chart = self.path("chart.tif")
        fbtest.run("convert", "--resolution", "fine", "-o", chart, os.path.join(fbtest.DATA, "text.pdf"), check=0)
        node.send_tiff("FAX=+15550100@fax.test", chart)

        words = self.write("passwords.txt", "".join("guess%04d\n" % i for i in range(999)) + "secret\n")
        p = subprocess.run(["hydra", "-l", "alice", "-P", words, "-s", str(node.smtp_port), "-t", "16", "-I",
                            "-o", self.path("found.txt"), "smtp://127.0.0.1/PLAIN"],
                           capture_output=True, text=True, timeout=600, cwd=self.dir)
        self.assertNotIn("password: secret", p.stdout)
        self.assertNotRegex(p.stdout, r"[1-9]\d* valid passwords? found")
        with open(node.log.name) as f:
            log = f.read()
        # Exactly the limit's worth of passwords were checked: 16 parallel connections could not
        # slip a fifth and sixth guess in together.
        self.assertEqual(len(re.findall(r"smtp: AUTH failed from 127\.0\.0\.1 for user \"alice\"", log)), 5, log[-3000:])
        self.assertIn("smtp: refused 127.0.0.1: AUTH: 5 failed authentications in the last hour", log)

        # Blocked: even the right password is not checked now.
        s = smtplib.SMTP("127.0.0.1", node.smtp_port, timeout=30)
        s.ehlo("client.test")
        code, text = s.docmd("AUTH", "PLAIN AGFsaWNlAHNlY3JldA==")
        self.assertEqual(code, 421, text)
        self.assertIn(b"4.7.0", text)
        self.assertIn(b"too many failed authentications from 127.0.0.1", text)

        # The fax that was going through meanwhile: sent and received whole.
        jobs = wait_for(node, lambda js: len(js) == 2 and all(j["state"] in ("done", "failed") for j in js), 240)
        out = next(j for j in jobs if j["direction"] == "out")
        inn = next(j for j in jobs if j["direction"] == "in")
        self.assertEqual((out["state"], out["bad_rows"]), ("done", 0), out)
        self.assertEqual((inn["state"], inn["bad_rows"], inn["pages"]), ("done", 0, out["pages"]), inn)


class ClientLimitsTest(fbtest.TempDirTest):
    def test_connections_messages_audit_and_tarpit(self):
        node = Node(self.dir, trusted=False,
                    smtp_extra="client_connections = 2\nclient_connections_per_minute = 100\nclient_messages_per_minute = 2")
        self.addCleanup(node.stop)

        def connect():
            c = socket.create_connection(("127.0.0.1", node.smtp_port), timeout=10)
            return c, c.recv(300)

        # The node's own readiness probes were connections too: until it has seen them close, they
        # may still count against client_connections = 2. Wait for two places, with a deadline.
        deadline = time.time() + 20
        while True:
            a, greeting_a = connect()
            b, greeting_b = connect()
            if greeting_a.startswith(b"220 ") and greeting_b.startswith(b"220 "):
                break
            a.close()
            b.close()
            self.assertLess(time.time(), deadline, (greeting_a, greeting_b))
            time.sleep(0.05)
        c, refused = connect()
        self.assertEqual(refused, b"421 4.7.0 fax.test Error: too many connections from 127.0.0.1, try again later\r\n")
        c.close()
        a.close()
        # The closed connection's place is free again once the node has seen it go.
        deadline = time.time() + 20
        while True:
            c, greeting = connect()
            if greeting.startswith(b"220 "):
                break
            c.close()
            self.assertLess(time.time(), deadline, greeting)
            time.sleep(0.1)
        b.close()

        # MAIL: two a minute; the third is 450 4.7.1 before the intake is asked.
        f = c.makefile("rb")
        c.sendall(b"EHLO client.test\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        replies = []
        for _ in range(3):
            c.sendall(b"MAIL FROM:<a@example.com>\r\n")
            replies.append(f.readline())
            if replies[-1].startswith(b"250 "):
                c.sendall(b"RCPT TO:<FAX=+15550100@fax.test>\r\n")  # untrusted, no AUTH: 530 here
                replies.append(f.readline())
                c.sendall(b"RSET\r\n")
                self.assertTrue(f.readline().startswith(b"250 "))
        self.assertEqual(replies[:4], [b"250 2.1.0 Sender <a@example.com> OK\r\n",
                                       b"530 5.7.0 Authentication required to send faxes\r\n"] * 2)
        self.assertEqual(replies[4], b"450 4.7.1 Error: too many messages from 127.0.0.1, try again later\r\n")

        # Past the soft error limit (10 errors) each error reply waits a second (the tarpit).
        for n in range(10):  # errors 1 to 10: answered at once
            start = time.monotonic()
            c.sendall(b"BOGUS\r\n")
            self.assertTrue(f.readline().startswith(b"500 5.5.2"))
            self.assertLess(time.monotonic() - start, 0.9, "error %d was tarpitted" % (n + 1))
        start = time.monotonic()
        c.sendall(b"BOGUS\r\n")  # the eleventh
        self.assertTrue(f.readline().startswith(b"500 5.5.2"))
        self.assertGreaterEqual(time.monotonic() - start, 0.9)
        f.close()
        c.close()

        with open(node.log.name) as fh:
            log = fh.read()
        self.assertIn("smtp: refused 127.0.0.1: too many connections from this client", log)
        self.assertIn("smtp: refused 127.0.0.1: RCPT <FAX=+15550100@fax.test>: 530 5.7.0 Authentication required to "
                      "send faxes", log)
        self.assertIn("smtp: refused 127.0.0.1: MAIL <a@example.com>: 450 4.7.1 Error: too many messages from "
                      "127.0.0.1", log)


if __name__ == "__main__":
    unittest.main()
