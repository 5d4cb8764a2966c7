"""Postfix in front of faxbridge, configured as docs/postfix.md tells an admin to: a real Postfix
(running as root from a private config directory, on a free loopback port) relays FAX=
addresses to a real `faxbridge serve` by a regexp transport_maps entry. Checked: the DSN
parameters survive the relay (Postfix adds ORCPT itself, xtext-encoded, and faxbridge decodes
it), an invalid fax address is refused by faxbridge with 553 5.1.3 and Postfix bounces it, and
one message to two fax recipients becomes two jobs; from another network, the recipe refuses fax
recipients to clients neither on mynetworks nor authenticated (the old recipe relayed them)."""
import os
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
import unittest

from offramp_test import Node, free_port

POSTFIX = "/usr/sbin/postfix"

# The relay's main.cf: the deployment recipe of docs/postfix.md (first block) and what only a
# test instance needs (second block: everything under the temp dir, no delivery anywhere else).
MAIN_CF = """\
compatibility_level = 3.6
myhostname = relay.test
mynetworks = 127.0.0.0/8
relay_domains = fax.test
# Fax recipients only for clients on mynetworks or SASL-authenticated ones: relay_domains alone
# would let any Internet client fax anywhere (faxbridge trusts this relay).
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
    check_recipient_access regexp:{dir}/etc/fax_access.regexp, defer_unauth_destination
transport_maps = regexp:{dir}/etc/transport.regexp
# Empty on purpose: with Debian's "+", FAX=+15550100 is user "FAX=" with extension "15550100"
# (docs/postfix.md, "recipient_delimiter").
recipient_delimiter =
smtp_tls_security_level = none

# Test instance only. No DNS at all ([127.0.0.1] needs no lookup anyway).
disable_dns_lookups = yes
smtp_host_lookup = native
mail_owner = postfix
setgid_group = postdrop
queue_directory = {dir}/queue
data_directory = {dir}/data
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydomain = relay.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
smtpd_tls_security_level = none
default_transport = error:5.7.1 test relay delivers nowhere but fax.test
biff = no
"""

TRANSPORT = """\
/^FAX=\\+?[0-9]+.*@fax\\.test$/ smtp:[127.0.0.1]:{fb_port}
/^fax\\+[0-9]+\\.[0-9a-f]{{16}}@fax\\.test$/ smtp:[127.0.0.1]:{fb_port}
/@fax\\.test$/ error:5.1.1 not a fax address
/@sender\\.test$/ discard:test senders read no notifications
"""

FAX_ACCESS = """\
/^fax\\+[0-9]+\\.[0-9a-f]{16}@fax\\.test$/ OK
/@fax\\.test$/ REJECT fax recipients need an authenticated sender
"""

# Only the services this relay uses, all with chroot "n" (Debian's own master.cf chroots most).
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """A Postfix instance in its own config directory, relaying FAX= addresses to fb_port."""

    def __init__(self, workdir, fb_port, main_cf=MAIN_CF, master_cf=MASTER_CF, extra_files=(), netns=None):
        """main_cf/master_cf: templates with {dir} and {port}; extra_files: (name, text) in etc/;
        netns: the network namespace Postfix runs in (its loopback, not the host's)."""
        self.prefix = ["ip", "netns", "exec", netns] if netns else []
        # DIR/etc is the config directory (root's, like /etc/postfix); the queue, data directory
        # and maillog sit beside it, not in it, or "postfix check" warns about postfix-owned files
        # in a root-owned tree. The postfix user must be able to reach all of them.
        self.dir = workdir
        os.chmod(workdir, 0o755)
        self.config = os.path.join(workdir, "etc")
        os.mkdir(self.config, 0o755)
        self.port = free_port()
        self.maillog = os.path.join(workdir, "maillog")
        for name, text in (("main.cf", main_cf.format(dir=workdir)),
                           ("master.cf", master_cf.format(port=self.port)),
                           ("transport.regexp", TRANSPORT.format(fb_port=fb_port)),
                           ("fax_access.regexp", FAX_ACCESS), *extra_files):
            with open(os.path.join(self.config, name), "w") as f:
                f.write(text)
        # queue_directory itself is root's, as /var/spool/postfix is; "start" makes what is inside.
        os.mkdir(os.path.join(workdir, "queue"), 0o755)
        self.master_pid = None
        p = self.postfix("start")
        try:
            with open(os.path.join(workdir, "queue", "pid", "master.pid")) as f:
                self.master_pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
        if p.returncode != 0 or self.master_pid is None:
            self.stop()
            raise AssertionError("postfix start: exit %d\n%s%s\nmaillog:\n%s"
                                 % (p.returncode, p.stdout, p.stderr, self.log()))
        deadline = time.time() + 20
        while True:
            try:
                if self.prefix:
                    p = subprocess.run(self.prefix + ["python3", "-c", "import smtplib; smtplib.SMTP('127.0.0.1', %d, "
                                                      "timeout=5).noop()" % self.port], capture_output=True)
                    if p.returncode != 0:
                        raise OSError("not yet")
                else:
                    with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as s:
                        s.noop()
                return
            except OSError:
                if time.time() > deadline:
                    self.stop()
                    raise AssertionError("postfix smtpd not listening on %d\nmaillog:\n%s" % (self.port, self.log()))
                time.sleep(0.1)

    def postfix(self, *args):
        return subprocess.run(self.prefix + [POSTFIX, "-c", self.config, *args], capture_output=True, text=True,
                              timeout=60)

    def stop(self):
        if self.master_pid is None:
            return
        self.postfix("stop")
        deadline = time.time() + 10
        while time.time() < deadline and self.master_running():
            time.sleep(0.1)
        try:
            os.kill(self.master_pid, signal.SIGKILL)  # if "stop" failed; the children follow it
        except ProcessLookupError:
            pass
        self.master_pid = None

    def master_running(self):
        try:
            with open("/proc/%d/stat" % self.master_pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has stopped
        except (OSError, IndexError):
            return False

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return "(no maillog)"

    def wait_log(self, pattern, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(pattern, self.log(), re.M)
            if m:
                return m
            time.sleep(0.2)
        raise AssertionError("no maillog line matching %r:\n%s" % (pattern, self.log()))

    def send(self, rcpts, body, **kw):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as s:
            s.ehlo("client.test")
            msg = "From: bob@sender.test\r\nSubject: fax\r\n\r\n%s\r\n" % body
            return s.sendmail("bob@sender.test", rcpts, msg, **kw)


@unittest.skipUnless(os.path.exists(POSTFIX), "Postfix is not installed (/usr/sbin/postfix): apt-get install postfix")
class PostfixRelayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fbtest-postfix-")
        os.chmod(cls.tmp, 0o755)  # mkdtemp's 0700 would keep the postfix user out of its queue
        os.mkdir(os.path.join(cls.tmp, "fb"))
        os.mkdir(os.path.join(cls.tmp, "pf"))
        cls.node = cls.relay = None
        try:
            # Every number: one test sends to London (the default would allow +1 only).
            cls.node = Node(os.path.join(cls.tmp, "fb"), extra='[dialing]\nallow = ["+"]\n')
            cls.relay = Postfix(os.path.join(cls.tmp, "pf"), cls.node.smtp_port)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.relay:
            cls.relay.stop()
        if cls.node:
            cls.node.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run(self, result=None):
        # Print the relay's maillog and faxbridge's log with any failure.
        before = len(result.failures) + len(result.errors) if result else 0
        super().run(result)
        if result and len(result.failures) + len(result.errors) > before and self.relay:
            with open(os.path.join(self.node.dir, "serve.log"), errors="replace") as f:
                print("\n--- postfix maillog ---\n%s--- faxbridge serve.log ---\n%s" % (self.relay.log(), f.read()))

    def jobs_for(self, numbers, timeout=60):
        """Wait until faxbridge has a settled job for each of numbers; return them."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            jobs = [j for j in self.node.jobs() if j["number"] in numbers]
            if len(jobs) >= len(numbers) and all(j["state"] in Node.RENDERED for j in jobs):
                return jobs
            time.sleep(0.2)
        raise AssertionError("no settled jobs for %s: %s" % (numbers, self.node.jobs()))

    def test_dsn_parameters_and_xtext_orcpt_survive_the_relay(self):
        refused = self.relay.send(["FAX=+15550100@fax.test"], "DSN through Postfix",
                                  mail_options=["RET=HDRS", "ENVID=env-42"], rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
        self.assertEqual(refused, {})
        [job] = self.jobs_for(["+15550100"])
        self.assertIn(job["state"], ("ready", "sending", "retry"))
        self.assertEqual(job["direction"], "out")
        with self.node.db() as db:
            rows = db.execute("SELECT j.notify, j.orcpt, m.envid, m.ret, m.sender FROM jobs j"
                              " JOIN messages m ON m.id = j.message_id WHERE j.number = ?", ("+15550100",)).fetchall()
        self.assertEqual(rows, [("SUCCESS,FAILURE", "rfc822;FAX=+15550100@fax.test", "env-42", "HDRS",
                                 "bob@sender.test")])
        # The ORCPT came from Postfix (xtext: rfc822;FAX+3D+2B15550100@fax.test): smtplib sent none,
        # and faxbridge stores NULL then. As faxbridge offers DSN, Postfix passed NOTIFY on and sent
        # no "relayed" notice of its own: success is faxbridge's to report, once the fax is sent.
        m = self.relay.wait_log(r"^.* ([0-9A-F]+): to=<FAX=\+15550100@fax\.test>.*status=sent.*$")
        self.assertIn("relay=127.0.0.1[127.0.0.1]:%d" % self.node.smtp_port, m.group(0))
        self.relay.wait_log(r" %s: removed$" % m.group(1))
        self.assertNotIn("%s: sender delivery status notification" % m.group(1), self.relay.log())

    def test_invalid_fax_address_is_refused_by_faxbridge_and_bounced_by_postfix(self):
        refused = self.relay.send(["FAX=+1202abc@fax.test", "info@fax.test"], "not a number")
        # The relay refuses what is not a FAX= address itself (the catch-all error: transport: no
        # MX lookup for fax.test); a FAX= address it passes on, and faxbridge judges the number.
        self.assertEqual(refused, {"info@fax.test": (550, b"5.1.1 <info@fax.test>: Recipient address rejected:"
                                                          b" not a fax address")})
        line = self.relay.wait_log(r"to=<FAX=\+1202abc@fax\.test>.*status=bounced.*$").group(0)
        self.assertIn("relay=127.0.0.1[127.0.0.1]:%d" % self.node.smtp_port, line)
        self.assertRegex(line, r"said: 553 5\.1\.3 .*\(in reply to RCPT TO command\)")
        self.assertEqual([j for j in self.node.jobs() if not j["number"].startswith(("+15550", "+4420"))], [])

    def test_two_recipients_in_one_message_become_two_jobs(self):
        # regexp: tables ignore case unless told otherwise, as RFC 3191 keywords do.
        refused = self.relay.send(["FAX=+15550111@fax.test", "fax=+44-20-7946-0000@fax.test"], "two faxes")
        self.assertEqual(refused, {})
        jobs = self.jobs_for(["+15550111", "+442079460000"])
        self.assertEqual(sorted(j["number"] for j in jobs), ["+15550111", "+442079460000"])
        with self.node.db() as db:
            messages = db.execute("SELECT DISTINCT message_id FROM jobs WHERE number IN (?, ?)",
                                  ("+15550111", "+442079460000")).fetchall()
        self.assertEqual(len(messages), 1)  # one relayed message, two jobs
        m = self.relay.wait_log(r"^.* ([0-9A-F]+): to=<fax=\+44-20-7946-0000@fax\.test>.*status=sent.*$")
        self.assertRegex(self.relay.log(), r" %s: to=<FAX=\+15550111@fax\.test>.*status=sent" % m.group(1))


@unittest.skipUnless(os.path.exists(POSTFIX), "Postfix is not installed (/usr/sbin/postfix): apt-get install postfix")
class PostfixOutsideClientTest(unittest.TestCase):
    """The recipe seen from a client on another network (a network namespace joined by a veth
    pair; Postfix and faxbridge in the relay's namespace). Without smtpd_relay_restrictions, the
    relay_domains recipe let that client fax any number through faxbridge, which trusts its relay:
    shown first, on the old recipe. The recipe now refuses fax recipients to clients that are
    neither on mynetworks nor SASL-authenticated, and still takes them from mynetworks."""

    def setUp(self):
        import lab
        self.tmp = tempfile.mkdtemp(prefix="fbtest-postfix-lab-")
        os.chmod(self.tmp, 0o755)  # the postfix user reaches its queue under it
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.lab = lab.Lab()
        self.addCleanup(self.lab.close)
        self.relay_ns, self.out_ns = self.lab.ns("relay"), self.lab.ns("out")
        self.lab.link(self.relay_ns, "10.77.0.1/24", self.out_ns, "10.77.0.2/24")
        self.node = lab.LabNode(self.lab, self.relay_ns, os.path.join(self.tmp, "fb"), "127.0.0.1:5060",
                                "sip:127.0.0.1:5999")

    def relay(self, name, main_cf):
        d = os.path.join(self.tmp, name)
        os.mkdir(d)
        main_cf = main_cf.replace("inet_interfaces = 127.0.0.1", "inet_interfaces = 127.0.0.1, 10.77.0.1")
        r = Postfix(d, self.node.smtp_port, main_cf=main_cf, master_cf="10.77.0.1:25 inet n - n - - smtpd\n" + MASTER_CF,
                    netns=self.relay_ns)
        self.addCleanup(r.stop)
        return r

    def send_from(self, ns, host, port, data=True, rcpt="FAX=+15550100@fax.test", sender="mallory@evil.test"):
        """MAIL, RCPT `rcpt` (and DATA when accepted) from a client in `ns`: the RCPT reply as
        "code text"."""
        code = ("import smtplib\n"
                "s = smtplib.SMTP(%r, %d, timeout=30)\n"
                "s.ehlo('client.test')\n"
                "s.mail(%r)\n"
                "c, t = s.rcpt(%r)\n"
                "if c == 250 and %r:\n"
                "    s.data(b'From: mallory@evil.test\\r\\nSubject: fax\\r\\n\\r\\nPay this invoice.\\r\\n')\n"
                "s.quit()\n"
                "print(c, t.decode())\n") % (host, port, sender, rcpt, data)
        p = self.lab.exec(ns, "python3", "-c", code, timeout=90)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip()

    def test_fax_recipients_only_from_mynetworks_or_authenticated_clients(self):
        old_recipe = re.sub(r"smtpd_relay_restrictions = .*\n    .*\n", "", MAIN_CF)
        self.assertNotIn("smtpd_relay_restrictions", old_recipe)
        old = self.relay("old", old_recipe)
        # The hole: a stranger's mail is relayed, and faxbridge queues the fax.
        self.assertTrue(self.send_from(self.out_ns, "10.77.0.1", 25).startswith("250 "))
        deadline = time.time() + 60
        while not self.node.jobs():
            self.assertLess(time.time(), deadline, old.log())
            time.sleep(0.2)
        [job] = self.node.jobs()
        self.assertEqual(job["number"], "+15550100")
        old.stop()

        new = self.relay("new", MAIN_CF)
        self.assertEqual(self.send_from(self.out_ns, "10.77.0.1", 25),
                         "554 5.7.1 <FAX=+15550100@fax.test>: Recipient address rejected: "
                         "fax recipients need an authenticated sender")
        # From mynetworks (the relay host itself): taken, relayed, queued.
        self.assertTrue(self.send_from(self.relay_ns, "127.0.0.1", new.port).startswith("250 "))
        deadline = time.time() + 60
        while len(self.node.jobs()) < 2:
            self.assertLess(time.time(), deadline, new.log())
            time.sleep(0.2)
        new.wait_log(r"to=<FAX=\+15550100@fax\.test>.*relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d.*status=sent"
                     % self.node.smtp_port)
        self.assertIn("reject: RCPT from unknown[10.77.0.2]", new.log())
        self.assertEqual(len(self.node.jobs()), 2)  # the stranger's second try made none
        # A bounce address (a late bounce of received-fax mail, from anyone's MTA) is relayed to
        # faxbridge, which judges it: this one names no mail of ours.
        bounce = "fax+7.0123456789abcdef@fax.test"
        self.assertTrue(self.send_from(self.out_ns, "10.77.0.1", 25, rcpt=bounce, sender="").startswith("250 "))
        new.wait_log(r"to=<fax\+7\.0123456789abcdef@fax\.test>.*relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d.*"
                     r"status=bounced.*550 5\.1\.1 <fax\+7\.0123456789abcdef@fax\.test>: no such bounce address"
                     % self.node.smtp_port)


if __name__ == "__main__":
    unittest.main()
