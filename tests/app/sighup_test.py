"""SIGHUP reloads the configuration without dropping a call (issue 16, app/reload.hpp).

- ReloadTest: while a fax is on a real T.38 call (the node's trunk is its own SIP port), a reload
  adds a trunk and a route and lowers an SMTP limit; the fax completes and is routed as before,
  the next fax to the new route's number goes out on the new trunk and lands in the new route's
  mailbox, the new limit holds; a setting that cannot be reloaded is named in the log; the trunk
  taken out again leaves the trunks list; a file with an error changes nothing."""
import os
import re
import signal
import subprocess
import time

import fbtest
from offramp_test import Node
from onramp_test import wait_mails


class ReloadTest(fbtest.TempDirTest):
    def wait_log(self, node, pattern, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(node.log.name) as f:
                said = f.read()
            if re.search(pattern, said):
                return said
            time.sleep(0.2)
        raise AssertionError("the log never said %r:\n%s" % (pattern, open(node.log.name).read()[-3000:]))

    def send(self, node, number, pdf):
        p = subprocess.run([fbtest.FAXBRIDGE, "send", "--no-wait", "--to", number, pdf, "--server", node.server,
                            "--config", node.config], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return int(re.search(r"\d+", p.stdout).group(0))

    def test_a_trunk_and_a_route_added_while_a_fax_is_on_the_line(self):
        node = Node(self.dir, trunk="self", extra='[[route]]\ndefault = true\nmailbox = "first@localhost"\n')
        self.addCleanup(node.stop)
        os.chmod(self.dir, 0o755)  # the node runs as faxbridge: it reads its configuration again
        pdf = self.path("letter.pdf")
        with open(pdf, "wb") as f:
            f.write(fbtest.pdf_with_pages(["RELOADED"])[0])
        maildir = os.path.join(self.dir, "var", "mail")
        first = self.send(node, "+15550100", pdf)
        # On the line: the outbound job sending and its reception under way on the same node.
        deadline = time.time() + 120
        while True:
            jobs = {(j["direction"], j["state"]) for j in node.jobs()}
            if ("out", "sending") in jobs and ("in", "receiving") in jobs:
                break
            self.assertLess(time.time(), deadline, node.jobs())
            time.sleep(0.2)
        with open(node.config) as f:
            text = f.read()
        # [smtp] hostname needs a restart; its limits do not.
        text = text.replace('hostname = "fax.test"', 'hostname = "fax2.test"\nmax_recipients = 1')
        text += ('\n[[trunk]]\nname = "t2"\nuri = "sip:127.0.0.1:%d"\nprefixes = ["+1555019"]\n\n'
                 '[[route]]\ndid = "+15550199"\nmailbox = "second@localhost"\n' % node.sip_port)
        with open(node.config, "w") as f:
            f.write(text)
        node.proc.send_signal(signal.SIGHUP)
        # The last line a reload writes: the settings it names as needing a restart.
        said = self.wait_log(node, r"reload: \[smtp\] hostname differs from the start-up file")
        self.assertIn("reload: trunk t2: added", said)
        self.assertRegex(said, r"reload: routes: 2 \[\[route\]\]")
        self.assertIn("reload: [smtp] hostname differs from the start-up file: not reloaded (a restart applies it)", said)
        self.assertIn("reload: smtp: limits, trusted networks and users in force for new sessions", said)
        p = subprocess.run([fbtest.FAXBRIDGE, "send", "--no-wait", "--to", "+15550101", "--to", "+15550102", pdf,
                            "--server", node.server, "--config", node.config], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("at most 1 per fax ([smtp] max_recipients)", p.stderr)
        # The fax on the line went on: every page sent, received and routed as before.
        deadline = time.time() + 180
        while node.api("/api/v1/faxes/%d" % first)["state"] != "done":
            self.assertLess(time.time(), deadline, node.api("/api/v1/faxes/%d" % first))
            time.sleep(0.5)
        self.assertEqual(node.api("/api/v1/faxes/%d" % first)["pages_done"], 1)
        self.assertEqual(len(wait_mails(maildir, "first@localhost", 1, log=node.log.name)), 1)
        # The next call: the new trunk (its longer prefix) and the new route.
        trunks = {t["name"]: t for t in node.api("/api/v1/trunks")}
        self.assertEqual(set(trunks), {"t", "t2"})
        self.assertEqual(trunks["t2"]["state"], "up")
        second = self.send(node, "+15550199", pdf)
        deadline = time.time() + 180
        while node.api("/api/v1/faxes/%d" % second)["state"] != "done":
            self.assertLess(time.time(), deadline, node.api("/api/v1/faxes/%d" % second))
            time.sleep(0.5)
        attempts = node.api("/api/v1/faxes/%d" % second)["attempts"]
        self.assertEqual([a["trunk"] for a in attempts], ["t2"])
        [mail] = wait_mails(maildir, "second@localhost", 1, log=node.log.name)
        self.assertEqual(mail["X-Fax-Pages"], "1")
        self.assertEqual(len(wait_mails(maildir, "first@localhost", 1)), 1)  # not to the default route
        # The trunk taken out again: no new call goes to it, and with no call left it is gone from the list.
        t2 = '\n[[trunk]]\nname = "t2"\nuri = "sip:127.0.0.1:%d"\nprefixes = ["+1555019"]\n' % node.sip_port
        self.assertIn(t2, text)
        text = text.replace(t2, "")
        with open(node.config, "w") as f:
            f.write(text)
        node.proc.send_signal(signal.SIGHUP)
        self.wait_log(node, r"reload: trunk t2: removed: no new call goes to it \(0 live call\(s\) go on\)")
        self.assertEqual({t["name"] for t in node.api("/api/v1/trunks")}, {"t"})
        # A file with an error: logged, nothing changed, the node serving on.
        with open(node.config, "a") as f:
            f.write("\n[[trunk]]\nname = \"t3\"\n")  # no uri
        node.proc.send_signal(signal.SIGHUP)
        said = self.wait_log(node, r"reload: .*: the running configuration stays")
        self.assertIn("faxbridge.toml: trunk[1].uri is required: the running configuration stays", said)
        self.assertEqual({t["name"] for t in node.api("/api/v1/trunks")}, {"t"})
        self.assertIsNone(node.proc.poll())
