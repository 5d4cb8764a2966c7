"""Received faxes delivered into a real mail store and read back over IMAP.

- LMTP into a private Dovecot: the route's mailbox gets the fax; a mailbox Dovecot does not know
  (550 5.1.1 at RCPT) is a permanent failure, and the postmaster's mailbox gets the fax with the
  reason; both read back with imaplib. With archive_days = 0 the next start purges the fax.
- SMTP to a private Postfix smarthost that demands STARTTLS and AUTH (SASL by Dovecot, as an
  Exchange receive connector for a fax partner demands an authenticated submission), relaying over
  LMTP into the same Dovecot: an Exchange UM partner fax arrives there with its partner headers, from
  a node that authenticates with a password and from one that presents a client certificate.
  A node with a wrong password keeps its delivery pending (temporary), never bounces the fax."""
import email
import email.policy
import imaplib
import os
import socket
import subprocess
import threading
import time
import unittest

import fbtest
from fax_peer_test import Peer
from offramp_test import Node, free_port
from onramp_test import CONTEXT, parts, referred_by
from postfix_test import MASTER_CF, POSTFIX, Postfix

DOVECOT_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 8
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service auth {{
  inet_listener {{
    address = 127.0.0.1
    port = {auth}
  }}
}}
"""

USERS = ["dave@example.com", "erin@example.com", "postmaster@example.com", "fax@example.com"]


class Dovecot:
    """A private Dovecot (IMAP, LMTP, and SASL for Postfix) for USERS, password "secret"; mail
    is stored as the system user `mail` (Dovecot refuses uid 0). quota: {user: Dovecot quota
    rule} for more users, whose mailboxes are that small (the quota plugin: LMTP answers 552
    5.2.2 to mail over it)."""

    def __init__(self, workdir, quota=None):
        self.dir = os.path.join(workdir, "dovecot")
        for sub in ("", "/run", "/state", "/mail"):
            os.makedirs(self.dir + sub, exist_ok=True)
        os.chmod(workdir, 0o755)
        os.chmod(self.dir, 0o755)
        os.chown(self.dir + "/mail", 8, 8)
        self.imap, self.lmtp, self.auth = free_port(), free_port(), free_port()
        with open(self.dir + "/passwd", "w") as f:
            for u in USERS:
                f.write("%s:{PLAIN}secret:8:8::%s/mail/%s\n" % (u, self.dir, u))
            for u, rule in (quota or {}).items():
                f.write("%s:{PLAIN}secret:8:8::%s/mail/%s::userdb_quota_rule=%s\n" % (u, self.dir, u, rule))
        self.conf = self.dir + "/dovecot.conf"
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(dir=self.dir, imap=self.imap, lmtp=self.lmtp, auth=self.auth))
            if quota:
                f.write("mail_plugins = $mail_plugins quota\nplugin {\n  quota = maildir:User quota\n}\n")
        self.out = open(self.dir + "/dovecot.out", "w")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf], stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        for port in (self.imap, self.lmtp, self.auth):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if self.proc.poll() is not None or time.time() > deadline:
                        raise AssertionError("dovecot did not start: %s" % self.log())
                    time.sleep(0.05)

    def log(self):
        try:
            with open(self.dir + "/dovecot.log") as f:
                return f.read()
        except FileNotFoundError:
            return "(no log)"

    def inbox(self, user, count, timeout=240):
        """The first `count` messages of user's INBOX over IMAP, parsed."""
        deadline = time.time() + timeout
        while True:
            imap = imaplib.IMAP4("127.0.0.1", self.imap)
            try:
                imap.login(user, "secret")
                _, data = imap.select("INBOX")
                n = int(data[0])
                if n >= count:
                    out = []
                    for i in range(1, n + 1):
                        _, msg = imap.fetch(str(i), "(RFC822)")
                        out.append(email.message_from_bytes(msg[0][1], policy=email.policy.default))
                    return out
            finally:
                imap.logout()
            if time.time() > deadline:
                raise AssertionError("%s has %d message(s), wanted %d\n%s" % (user, n, count, self.log()[-3000:]))
            time.sleep(0.5)

    def count(self, user):
        """How many messages user's INBOX holds now."""
        imap = imaplib.IMAP4("127.0.0.1", self.imap)
        try:
            imap.login(user, "secret")
            _, data = imap.select("INBOX")
            return int(data[0])
        finally:
            imap.logout()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


# What a private test instance of a smarthost needs besides its role: everything under its directory,
# no DNS, no local delivery (shared by the smarthosts of these tests).
SMARTHOST_INSTANCE = """\
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
mydomain = smarthost.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
"""

# A smarthost as an Exchange receive connector for a fax partner is: STARTTLS, then AUTH, and
# only authenticated clients may send. It hands the mail to Dovecot over LMTP.
SMARTHOST_CF = """\
compatibility_level = 3.6
myhostname = smarthost.test
mynetworks = 192.0.2.1/32
smtpd_tls_security_level = may
smtpd_tls_cert_file = {dir}/cert.pem
smtpd_tls_key_file = {dir}/key.pem
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:%(auth)d
smtpd_tls_ask_ccert = yes
smtpd_tls_CAfile = {dir}/client-ca.pem
smtpd_tls_fingerprint_digest = sha256
relay_clientcerts = texthash:{dir}/etc/clientcerts
smtpd_relay_restrictions = permit_sasl_authenticated, permit_tls_clientcerts, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, permit_tls_clientcerts, reject
virtual_mailbox_domains = example.com
virtual_transport = lmtp:inet:127.0.0.1:%(lmtp)d
smtpd_tls_received_header = yes

default_transport = error:5.7.1 test smarthost delivers only to example.com
""" + SMARTHOST_INSTANCE
SMARTHOST_MASTER = MASTER_CF + "lmtp      unix  - - n - - lmtp\ntlsmgr    unix  - - n 1000? 1 tlsmgr\n"


def fax_in(node, tif, *extra):
    """The fax test peer sends `tif` to the node's DID +15550100."""
    d = os.path.join(node.dir, "peer-%d" % time.monotonic_ns())
    os.makedirs(d)
    return Peer(d, "call", "--to", "sip:+15550100@127.0.0.1:%d" % node.sip_port, "--tiff", tif, *extra)


class MailStoreTest(fbtest.TempDirTest):
    def setUp(self):
        super().setUp()
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        self.tif = self.path("two.tif")
        fbtest.run("convert", "-o", self.tif, fbtest.itu_chart(1), fbtest.itu_chart(4), check=0)
        self.dovecot = Dovecot(self.dir)
        self.addCleanup(self.dovecot.stop)

    def test_lmtp_into_dovecot_and_the_postmaster_gets_a_refused_mailbox(self):
        os.makedirs(self.path("lmtp-node"))
        node = Node(self.path("lmtp-node"), extra="""
[[route]]
did = "+15550100"
mailbox = ["dave@example.com", "nobody@example.com"]

[delivery]
mode = "lmtp"
lmtp = "127.0.0.1:%d"
from = "fax@example.com"
postmaster = "postmaster@example.com"
""" % self.dovecot.lmtp)
        try:
            self.assertEqual(fax_in(node, self.tif).result()["pages"], 2)
            [msg] = self.dovecot.inbox("dave@example.com", 1)
            self.assertEqual((msg["X-Fax-Pages"], msg["To"]), ("2", "dave@example.com, nobody@example.com"))
            tifs = [d for ct, _, d in parts(msg) if ct == "image/tiff"]
            self.assertEqual(len(tifs), 1)
            got = self.path("imap.tif")
            with open(got, "wb") as f:
                f.write(tifs[0])
            self.assertEqual(len(fbtest.decode_with_libtiff(got, self.dir)), 2)
            [pm] = self.dovecot.inbox("postmaster@example.com", 1)
            self.assertTrue(pm["Subject"].startswith("Undelivered: Fax from"), pm["Subject"])
            body = pm.get_body(("plain",)).get_content()
            self.assertIn("delivery to nobody@example.com failed: RCPT TO: 550 5.1.1", body)
            self.assertEqual([ct for ct, _, _ in parts(pm) if ct == "image/tiff"], ["image/tiff"])
            # Same Message-ID family: the postmaster copy is its own message.
            self.assertNotEqual(pm["Message-ID"], msg["Message-ID"])
            [inn] = node.settle(("done",), timeout=60)
            self.assertEqual(inn["direction"], "in")
            archived = os.path.join(node.dir, "var", "spool", "archive", "%d.tif" % inn["id"])
            self.assertTrue(os.path.exists(archived))
            # Retention: with archive_days = 0 the next start purges the record and the archive.
            node.stop()
            with open(node.config) as f:
                text = f.read()
            with open(node.config, "w") as f:
                f.write(text.replace('postmaster = "postmaster@example.com"',
                                     'postmaster = "postmaster@example.com"\narchive_days = 0'))
            node.log = open(node.log.name, "a")
            node.proc = subprocess.Popen([fbtest.FAXBRIDGE, "serve", "--config", node.config], stderr=node.log,
                                         cwd=node.dir)
            deadline = time.time() + 30
            while "purged 1 fax(es)" not in open(node.log.name).read():
                self.assertLess(time.time(), deadline, open(node.log.name).read()[-2000:])
                time.sleep(0.1)
            self.assertFalse(os.path.exists(archived))
            deadline = time.time() + 10
            while True:
                try:
                    self.assertEqual(node.jobs(), [])
                    break
                except (AssertionError, ValueError):
                    self.assertLess(time.time(), deadline)
                    time.sleep(0.2)
        finally:
            node.stop()

    @unittest.skipUnless(os.path.exists(POSTFIX), "Postfix is not installed")
    def test_partner_fax_through_an_authenticating_postfix_smarthost(self):
        pdir = self.path("postfix")
        os.makedirs(pdir)
        cert, key = os.path.join(pdir, "cert.pem"), os.path.join(pdir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        os.chmod(key, 0o600)
        # The partner's client certificate: Postfix relays for it by its fingerprint (mutual TLS,
        # the other way Exchange accepts a partner's submission).
        ccert, ckey = self.path("client.pem"), self.path("client.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=faxbridge partner", "-keyout", ckey, "-out", ccert], check=True, capture_output=True)
        with open(os.path.join(pdir, "client-ca.pem"), "w") as f:
            f.write(open(ccert).read())
        fp = subprocess.run(["openssl", "x509", "-in", ccert, "-noout", "-fingerprint", "-sha256"],
                            capture_output=True, text=True, check=True).stdout.strip().split("=", 1)[1]
        cf = SMARTHOST_CF % {"auth": self.dovecot.auth, "lmtp": self.dovecot.lmtp}
        postfix = Postfix(pdir, 0, main_cf=cf, master_cf=SMARTHOST_MASTER,
                          extra_files=(("clientcerts", "%s partner\n" % fp),))
        self.addCleanup(postfix.stop)
        delivery = """
[delivery]
mode = "smtp"
smarthost = "127.0.0.1:%d"
username = "fax@example.com"
password = "%s"
from = "fax@example.com"
postmaster = "postmaster@example.com"

[exchange]
servers = ["127.0.0.1/32"]
recipient_domains = ["example.com"]
"""
        env = dict(os.environ, SSL_CERT_FILE=cert)  # trust the smarthost's self-signed certificate
        os.makedirs(self.path("good"))
        os.makedirs(self.path("bad"))
        os.makedirs(self.path("cert"))
        by_cert = Node(self.path("cert"), env=env, extra="""
[delivery]
mode = "smtp"
smarthost = "127.0.0.1:%d"
tls_client_cert = "%s"
tls_client_key = "%s"
from = "fax@example.com"
postmaster = "postmaster@example.com"

[exchange]
servers = ["127.0.0.1/32"]
recipient_domains = ["example.com"]
""" % (postfix.port, ccert, ckey))
        good = Node(self.path("good"), extra=delivery % (postfix.port, "secret"), env=env)
        bad = Node(self.path("bad"), extra=delivery % (postfix.port, "wrong"), env=env)
        try:
            peers = [fax_in(good, self.tif, "--header", referred_by("erin@example.com")),
                     fax_in(bad, self.tif, "--header", referred_by("dave@example.com")),
                     fax_in(by_cert, self.tif, "--header", referred_by("fax@example.com"))]
            for p in peers:
                self.assertEqual(p.result()["pages"], 2)
            [msg] = self.dovecot.inbox("erin@example.com", 1)
            self.assertEqual(msg["To"], "erin@example.com")
            self.assertEqual(msg["Content-Class"], "MS-Exchange-UM-Partner")
            self.assertEqual(msg["X-MS-Exchange-UM-PartnerContext"], CONTEXT)
            self.assertEqual(msg["X-MS-Exchange-UM-PartnerStatus"], "2.0.0")
            self.assertEqual(msg["X-FaxNumberOfPages"], "2")
            self.assertEqual([ct for ct, _, _ in parts(msg)], ["text/plain", "image/tiff"])
            # It came through the smarthost over TLS, authenticated as the partner's account.
            received = " ".join(msg.get_all("Received"))
            self.assertIn("smarthost.test", received)
            self.assertRegex(received, r"\(using TLSv1\.[23]")
            self.assertRegex(postfix.log(), r"sasl_method=PLAIN, sasl_username=fax@example.com")
            [inn] = good.settle(("done",), timeout=60)
            # Mutual TLS instead of a password: relayed for the certificate alone.
            [by_tls] = self.dovecot.inbox("fax@example.com", 1)
            self.assertEqual(by_tls["X-MS-Exchange-UM-PartnerStatus"], "2.0.0")
            self.assertIn('Client CN "faxbridge partner"', " ".join(by_tls.get_all("Received")))
            # A refused password is the admin's to fix: the delivery waits, the fax is not bounced.
            deadline = time.time() + 60
            while True:
                with bad.db() as db:
                    events = [t for (t,) in db.execute("SELECT text FROM events ORDER BY id")]
                if any("delivery deferred" in t for t in events):
                    break
                self.assertLess(time.time(), deadline, "%s\n%s" % (events, open(bad.log.name).read()[-2000:]))
                time.sleep(0.5)
            self.assertTrue(any("AUTH: 535" in t for t in events), events)
            [binn] = [j for j in bad.jobs() if j["direction"] == "in"]
            self.assertEqual(binn["state"], "delivering")
            self.assertEqual(self.dovecot.count("dave@example.com"), 0)
        finally:
            good.stop()
            bad.stop()
            by_cert.stop()


if __name__ == "__main__":
    unittest.main()


class StartTlsInjectionTest(fbtest.TempDirTest):
    """RFC 3207 §4.2 (the STARTTLS command injection class, CVE-2011-0411): a smarthost (or a man
    in the middle) that sends "250 ..." together with its 220 to STARTTLS gets the session ended
    before TLS, and the fax's mail is not taken as delivered: it waits to be sent again."""

    def test_bytes_sent_with_the_220_to_starttls_end_the_session(self):
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        tif = self.path("one.tif")
        fbtest.run("convert", "-o", tif, fbtest.itu_chart(1), check=0)
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        self.addCleanup(srv.close)
        seen, sessions = [], []

        def serve():
            while True:
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                sessions.append(1)
                f = c.makefile("rb")
                c.sendall(b"220 evil.test ESMTP\r\n")
                for line in f:
                    seen.append(line)
                    if line.upper().startswith((b"EHLO", b"LHLO")):
                        c.sendall(b"250-evil.test\r\n250 STARTTLS\r\n")
                    elif line.upper().startswith(b"STARTTLS"):
                        # The injection: a reply for the command the client will send next.
                        c.sendall(b"220 go ahead\r\n250 2.0.0 injected\r\n")
                    else:
                        c.sendall(b"250 ok\r\n")
                c.close()

        threading.Thread(target=serve, daemon=True).start()
        os.makedirs(self.path("node"))
        node = Node(self.path("node"), extra="""
[delivery]
mode = "smtp"
smarthost = "127.0.0.1:%d"
from = "fax@example.com"
postmaster = "postmaster@example.com"
""" % srv.getsockname()[1])
        self.addCleanup(node.stop)
        self.assertEqual(fax_in(node, tif).result()["pages"], 1)
        deadline = time.time() + 60
        while "after its 220 to STARTTLS" not in open(node.log.name).read():
            self.assertLess(time.time(), deadline, open(node.log.name).read()[-3000:])
            time.sleep(0.2)
        # Nothing after STARTTLS went out in clear, and the fax was not taken as delivered.
        self.assertEqual([l for l in seen if not l.upper().startswith((b"EHLO", b"STARTTLS"))], [], seen)
        [job] = node.jobs()
        self.assertNotEqual(job["state"], "done", job)


class FakeSmarthost:
    """A scripted SMTP server on a loopback port, one thread per session, recording each session's
    lines. starttls: offer STARTTLS and, when asked, answer 220 and then break the handshake (the
    ClientHello gets plain text back); slow_dot_s: seconds to wait after the final dot before 250;
    extensions: more EHLO keywords to offer (b"SMTPUTF8", b"AUTH PLAIN": any AUTH gets 235)."""

    def __init__(self, test, starttls=False, slow_dot_s=0, extensions=()):
        self.sessions = []  # one list of lines per session
        self.delivered = []  # one entry per message answered 250 after its final dot
        self.starttls, self.slow_dot_s, self.extensions = starttls, slow_dot_s, extensions
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        test.addCleanup(self.srv.close)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,), daemon=True).start()

    def session(self, c):
        lines = []
        self.sessions.append(lines)
        f = c.makefile("rb")
        try:
            c.sendall(b"220 fake.test ESMTP\r\n")
            in_data = False
            for line in f:
                lines.append(line)
                if in_data:
                    if line == b".\r\n":
                        in_data = False
                        time.sleep(self.slow_dot_s)
                        c.sendall(b"250 2.0.0 queued\r\n")
                        self.delivered.append(time.time())
                    continue
                cmd = line.upper()
                if cmd.startswith(b"EHLO"):
                    c.sendall(b"250-fake.test\r\n" + (b"250-STARTTLS\r\n" if self.starttls else b"") +
                              b"".join(b"250-%s\r\n" % e for e in self.extensions) + b"250 8BITMIME\r\n")
                elif cmd.startswith(b"STARTTLS"):
                    c.sendall(b"220 2.0.0 go ahead\r\n")
                    c.recv(4096)  # the ClientHello
                    c.sendall(b"this is not TLS\r\n")
                    break
                elif cmd.startswith(b"AUTH"):
                    c.sendall(b"235 2.7.0 authenticated\r\n")
                elif cmd.startswith(b"DATA"):
                    in_data = True
                    c.sendall(b"354 go on\r\n")
                elif cmd.startswith(b"QUIT"):
                    c.sendall(b"221 bye\r\n")
                    break
                else:
                    c.sendall(b"250 ok\r\n")
        except OSError:
            pass
        c.close()


class SmarthostBase(fbtest.TempDirTest):
    """A node delivering received faxes to a FakeSmarthost (no tests of its own)."""

    def setUp(self):
        super().setUp()
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        self.tif = self.path("one.tif")
        fbtest.run("convert", "-o", self.tif, fbtest.itu_chart(1), check=0)

    def node(self, host, tls=""):
        os.makedirs(self.path("node"))
        node = Node(self.path("node"), extra="""
[delivery]
mode = "smtp"
smarthost = "127.0.0.1:%d"
from = "fax@example.com"
postmaster = "postmaster@example.com"
%s
""" % (host.port, tls))
        self.addCleanup(node.stop)
        return node

    def wait_job(self, node, state, timeout):
        deadline = time.time() + timeout
        while True:
            jobs = node.jobs()
            if jobs and jobs[0]["state"] == state:
                return jobs[0]
            self.assertLess(time.time(), deadline, (jobs, open(node.log.name).read()[-3000:]))
            time.sleep(0.5)


class SmarthostPolicyTest(SmarthostBase):
    """[delivery] tls levels, against a scripted smarthost."""

    def test_a_broken_tls_handshake_at_level_may_sends_in_clear(self):
        host = FakeSmarthost(self, starttls=True)
        node = self.node(host)  # no credentials: the default level is may
        self.assertEqual(fax_in(node, self.tif).result()["pages"], 1)
        self.wait_job(node, "done", 120)
        # The first session asked for TLS and got garbage; the second went in clear, at once.
        self.assertEqual(len(host.delivered), 1)
        first, second = host.sessions[0], host.sessions[1]
        self.assertTrue(any(l.upper().startswith(b"STARTTLS") for l in first), first)
        self.assertFalse(any(l.upper().startswith(b"STARTTLS") for l in second), second)
        self.assertTrue(any(l.upper().startswith(b"MAIL FROM:<FAX@EXAMPLE.COM>") for l in second), second)
        self.assertIn(b"Content-Type: multipart/mixed", b"".join(second))

    def test_level_encrypt_never_sends_in_clear(self):
        host = FakeSmarthost(self, starttls=False)
        node = self.node(host, 'tls = "encrypt"')
        self.assertEqual(fax_in(node, self.tif).result()["pages"], 1)
        deadline = time.time() + 60
        while "does not offer STARTTLS, and [delivery] tls = encrypt" not in open(node.log.name).read():
            self.assertLess(time.time(), deadline, open(node.log.name).read()[-3000:])
            time.sleep(0.2)
        self.assertEqual(host.delivered, [])
        self.assertFalse(any(l.upper().startswith(b"MAIL") for s in host.sessions for l in s), host.sessions)
        [job] = node.jobs()
        self.assertEqual(job["state"], "delivering", job)


class SlowSmarthostTest(SmarthostBase):
    """RFC 5321 §4.5.3.2.6: a smarthost that takes 90 s to answer the final dot (a virus scan) has
    the mail already: the client waits for it (10 minutes allowed) and delivers once, not twice."""

    def test_ninety_seconds_after_the_dot_is_one_delivery(self):
        host = FakeSmarthost(self, slow_dot_s=90)
        node = self.node(host)
        self.assertEqual(fax_in(node, self.tif).result()["pages"], 1)
        self.wait_job(node, "done", 300)
        self.assertEqual(len(host.delivered), 1, host.sessions)
        self.assertEqual(sum(1 for s in host.sessions for l in s if l.upper().startswith(b"DATA")), 1)
