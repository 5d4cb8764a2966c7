"""Nodes on the PostgreSQL store (issue 17): a private PostgreSQL server (pg.py), real `faxbridge
serve` processes with [store] url = "postgresql://...", faxes over real T.38 calls.

PgNodeTest: one node on PostgreSQL does what it does on SQLite — a mail becomes a fax to its own
DID over T.38, received and delivered to the postmaster's Maildir — with every row in PostgreSQL
and no SQLite file; a token made by `faxbridge token add` against the same store opens the API;
a restart finds every job again. While PostgreSQL is down the node acknowledges nothing: DATA gets
451 4.3.0 and a call 503, nothing of either is kept; once it is back, both are taken again on the
node's own connection.

TwoNodesTest: a fax accepted and rendered by node a is dialled by node b from the pages in the
store (a has stopped), received by b and mailed by the leading node; a, started again, follows
and shows b's work."""
import json
import os
import shutil
import subprocess
import time
import urllib.request

import email.message
import smtplib

import fbtest
import pg
from lifecycle_test import store_down_refuses
from offramp_test import Node


def wait_final(node, count, timeout=120):
    """The node's jobs once there are `count` and all are final; polled until the deadline."""
    deadline = time.time() + timeout
    jobs = []
    while time.time() < deadline:
        jobs = node.jobs()
        if len(jobs) == count and all(j["state"] in ("done", "failed", "cancelled") for j in jobs):
            return jobs
        time.sleep(0.3)  # a poll interval inside the deadline loop
    raise AssertionError("jobs not final in %d s: %s\n%s" % (timeout, jobs, open(node.log.name).read()))


class PgNodeTest(fbtest.TempDirTest):
    def setUp(self):
        super().setUp()
        self.pg = pg.PgServer()
        self.addCleanup(self.pg.close)

    def node(self):
        n = Node(self.path("node"), trunk="self", extra='[store]\nurl = "%s"\n' % self.pg.url(),
                 node_extra='name = "n1"')
        self.addCleanup(n.stop)
        return n

    def test_a_node_on_postgresql_sends_receives_and_restarts(self):
        os.makedirs(self.path("node"))
        n = self.node()
        s = n.smtp()
        refused = s.sendmail("alice@example.com", ["FAX=+15550100@fax.test"],
                             "From: alice@example.com\r\nTo: FAX=+15550100@fax.test\r\nSubject: pg\r\n\r\n"
                             "Hello from the cluster store.\r\n")
        s.quit()
        self.assertEqual(refused, {})
        jobs = wait_final(n, 2)
        out = next(j for j in jobs if j["direction"] == "out")
        inn = next(j for j in jobs if j["direction"] == "in")
        self.assertEqual((out["state"], out["pages"], out["pages_done"], out["node"]), ("done", 1, 1, "n1"), out)
        self.assertEqual((inn["state"], inn["pages"], inn["number"]), ("done", 1, "+15550100"), inn)

        # Every row is in PostgreSQL, none in a SQLite file.
        self.assertFalse(os.path.exists(os.path.join(n.dir, "var", "faxbridge.db")))
        rows = self.pg.psql("fax", "SELECT direction, state, owner FROM jobs ORDER BY id")
        self.assertEqual(rows, [["out", "done", "n1"], ["in", "done", "n1"]])
        self.assertEqual(self.pg.psql("fax", "SELECT kind, state FROM deliveries"), [["postmaster", "done"]])
        self.assertEqual(self.pg.psql("fax", "SELECT version FROM schema_version"), [["14"]])
        maildir = os.path.join(n.dir, "var", "mail", "postmaster@localhost", "new")
        [mail] = os.listdir(maildir)
        with open(os.path.join(maildir, mail), "rb") as f:
            self.assertIn(b"+15550100", f.read())

        # A token made against the same store opens the API.
        p = subprocess.run([fbtest.FAXBRIDGE, "token", "add", "bob", "--mailbox", "bob@example.com",
                            "--config", n.config], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        token = p.stdout.split("token: ")[1].split()[0]
        self.assertEqual(self.pg.psql("fax", "SELECT name FROM api_users"), [["bob"]])
        req = urllib.request.Request(n.server + "/api/v1/me", headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(json.load(r)["user"], "bob")

        # A restart reads everything back from PostgreSQL.
        n.stop()
        n2 = self.node()
        self.assertEqual(sorted((j["id"], j["state"]) for j in n2.jobs()), sorted((j["id"], j["state"]) for j in jobs))

    def test_while_postgresql_is_down_nothing_is_acknowledged_and_afterwards_all_is_taken(self):
        os.makedirs(self.path("node"))
        n = self.node()
        msg = email.message.EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "alice@example.com", "FAX=+15550100@fax.test", "store down"
        msg.set_content("Not taken while PostgreSQL is down.")
        self.pg.stop()
        store_down_refuses(self, n, msg, "FAX=+15550100@fax.test")
        self.pg.start()
        # The node opens its connections again by itself: the same mail is taken and faxed.
        deadline = time.time() + 30
        while True:
            s = n.smtp()
            try:
                self.assertEqual(s.sendmail("alice@example.com", ["FAX=+15550100@fax.test"], msg.as_bytes()), {})
                break
            except smtplib.SMTPDataError as again:
                self.assertEqual(again.smtp_code, 451)
                self.assertLess(time.time(), deadline, "still refused: %s" % again)
            finally:
                s.quit()
            time.sleep(0.5)  # a poll interval inside the deadline loop
        jobs = wait_final(n, 2)
        self.assertEqual(sorted((j["direction"], j["state"]) for j in jobs), [("in", "done"), ("out", "done")])
        self.assertEqual(self.pg.psql("fax", "SELECT count(*) FROM jobs"), [["2"]])


class TwoNodesTest(fbtest.TempDirTest):
    def setUp(self):
        super().setUp()
        self.pg = pg.PgServer()
        self.addCleanup(self.pg.close)

    def node(self, name, trunk):
        os.makedirs(self.path(name), exist_ok=True)
        n = Node(self.path(name), trunk=trunk, extra='[store]\nurl = "%s"\n' % self.pg.url(),
                 node_extra='name = "%s"' % name)
        self.addCleanup(n.stop)
        return n

    def post(self, n, form):
        req = urllib.request.Request(n.server + "/api/v1/faxes", data=form, method="POST",
                                     headers={"Authorization": "Bearer " + n.token(),
                                              "Content-Type": "multipart/form-data; boundary=b"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def test_a_fax_accepted_by_one_node_is_sent_by_another_and_mailed_by_the_leader(self):
        a = self.node("a", "nowhere")
        later = int(time.time()) + 3600  # a never reaches it (brought forward below, once a has stopped)
        form = (b"--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+15550100\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"send_after\"\r\n\r\n" +
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(later)).encode() + b"\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.txt\"\r\n"
                b"Content-Type: text/plain\r\n\r\nRendered on a, sent by b.\r\n--b--\r\n")
        [job] = self.post(a, form)["items"]
        deadline = time.time() + 60
        while a.api("/api/v1/faxes/%d" % job["id"])["state"] != "ready":
            self.assertLess(time.time(), deadline, "not rendered in time")
            time.sleep(0.2)  # a poll interval inside the deadline loop
        a.stop()  # before its send_after: a never dials it
        a_fax = os.path.join(a.dir, "var", "spool", "fax", "%d.tif" % job["id"])
        self.assertTrue(os.path.exists(a_fax))
        self.assertEqual(self.pg.psql("fax", "SELECT owner, attempt FROM jobs WHERE id = %d" % job["id"]), [["", "0"]])
        # Its send_after brought forward: due now, for whichever node has a free channel (only b runs).
        self.pg.psql("fax", "UPDATE jobs SET retry_at = extract(epoch FROM now())::bigint, "
                            "not_before = extract(epoch FROM now())::bigint WHERE id = %d" % job["id"])

        b = self.node("b", "self")
        jobs = wait_final(b, 2, timeout=150)
        out = next(j for j in jobs if j["direction"] == "out")
        inn = next(j for j in jobs if j["direction"] == "in")
        self.assertEqual((out["id"], out["state"], out["pages_done"], out["node"]), (job["id"], "done", 1, "b"), out)
        self.assertEqual((inn["state"], inn["pages"], inn["node"]), ("done", 1, "b"), inn)
        # b dialled from the pages a rendered, fetched from the store: the same bytes.
        with open(a_fax, "rb") as f, open(os.path.join(b.dir, "var", "spool", "fax", "%d.tif" % job["id"]), "rb") as g:
            self.assertEqual(f.read(), g.read())
        [mail] = os.listdir(os.path.join(b.dir, "var", "mail", "postmaster@localhost", "new"))
        docs = [r[0] for r in self.pg.psql("fax", "SELECT name FROM documents ORDER BY name")]
        self.assertIn("fax/%d.tif" % out["id"], docs)
        self.assertIn("in/%d.tif" % inn["id"], docs)
        self.assertIn("out/%d.eml" % inn["id"], docs)

        # a again: b leads now; a follows, and its API shows b's work.
        a2 = self.node("a", "nowhere")
        seen = {j["id"]: (j["state"], j["node"]) for j in a2.jobs()}
        self.assertEqual(seen, {out["id"]: ("done", "b"), inn["id"]: ("done", "b")})
        deadline = time.time() + 20
        while "another node routes" not in open(a2.log.name).read():
            self.assertLess(time.time(), deadline, open(a2.log.name).read())
            time.sleep(0.2)  # a poll interval inside the deadline loop
