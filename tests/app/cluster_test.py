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
import signal
import subprocess
import threading
import time
import urllib.request

import email
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
        self.assertEqual(self.pg.psql("fax", "SELECT version FROM schema_version"), [["17"]])
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
        # The fax b received, in the API of a, whose disk never had it: from the store.
        def get(path):
            req = urllib.request.Request(a2.server + path, headers={"Authorization": "Bearer " + a2.token()})
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.headers["Content-Type"], r.read()
        self.assertFalse(os.path.exists(os.path.join(a2.dir, "var", "spool", "archive", "%d.tif" % inn["id"])))
        with open(os.path.join(b.dir, "var", "spool", "archive", "%d.tif" % inn["id"]), "rb") as f:
            self.assertEqual(get("/api/v1/faxes/%d/document.tif" % inn["id"]), ("image/tiff", f.read()))
        kind, png = get("/api/v1/faxes/%d/pages/1.png?width=300" % inn["id"])
        self.assertEqual((kind, png[:8]), ("image/png", b"\x89PNG\r\n\x1a\n"))
        self.assertEqual(os.listdir(os.path.join(a2.dir, "var", "spool", "out")), [])  # (the scratch copy went)
        deadline = time.time() + 20
        while "another node routes" not in open(a2.log.name).read():
            self.assertLess(time.time(), deadline, open(a2.log.name).read())
            time.sleep(0.2)  # a poll interval inside the deadline loop


class ClusterTakeoverTest(fbtest.TempDirTest):
    """A node killed with work in hand, and a live node that takes it over without anyone
    restarting anything (lease_s = 10): node a, rendering one message at a time, is receiving a
    long fax from the far end, two pages of it confirmed, and has just accepted eight mails when it
    is killed with -9. Node b renders the mails a left unrendered and sends them (to a sink node),
    and closes a's reception, mailing the pages a had put in the store as they arrived."""

    def setUp(self):
        super().setUp()
        self.pg = pg.PgServer()
        self.addCleanup(self.pg.close)

    def test_a_dead_nodes_unrendered_mail_and_cut_reception_are_taken_over(self):
        os.makedirs(self.path("sink"))
        sink = Node(self.path("sink"), trunk="nowhere")  # where a and b send
        self.addCleanup(sink.stop)
        nodes = {}
        for name, extra in (("a", "[converter]\nworkers = 1\n"), ("b", "")):
            os.makedirs(self.path(name))
            n = Node(self.path(name), trunk="sip:127.0.0.1:%d" % sink.sip_port,
                     extra='[store]\nurl = "%s"\n%s' % (self.pg.url(), extra),
                     node_extra='name = "%s"\nlease_s = 10' % name)
            self.addCleanup(n.stop)
            nodes[name] = n
        a, b = nodes["a"], nodes["b"]
        # far -> a: a fax long enough to be cut.
        os.makedirs(self.path("far"))
        far = Node(self.path("far"), trunk="sip:127.0.0.1:%d" % a.sip_port, extra="[retry]\nmax_tries = 1\n")
        self.addCleanup(far.stop)
        long_text = "".join("Line %d of a long fax, to be cut by a kill.\r\n" % i for i in range(400))
        s = far.smtp()
        self.assertEqual(s.sendmail("carol@example.com", ["FAX=+15550300@fax.test"],
                                    "From: carol@example.com\r\nSubject: long\r\n\r\n" + long_text), {})
        s.quit()
        deadline = time.time() + 90
        while self.pg.psql("fax", "SELECT id FROM jobs WHERE direction = 'in' AND state = 'receiving' "
                                  "AND pages = 0 AND owner = 'a'") == []:
            self.assertLess(time.time(), deadline, "a never received the call")
            time.sleep(0.2)  # a poll interval inside the deadline loop
        # Two pages confirmed to the far end (its job's pages_done), the third on its way.
        deadline = time.time() + 120
        while True:
            [sending] = far.jobs()
            if sending["pages_done"] >= 2:
                break
            self.assertEqual(sending["state"], "sending", sending)
            self.assertLess(time.time(), deadline, "the far end never had two pages confirmed")
            time.sleep(0.2)  # a poll interval inside the deadline loop
        self.assertLess(sending["pages_done"], sending["pages"], "the whole fax went before the kill")
        s = a.smtp()
        for i in range(8):
            self.assertEqual(s.sendmail("alice@example.com", ["FAX=+155503%02d@fax.test" % (i + 10)],
                                        "From: alice@example.com\r\nSubject: m%d\r\n\r\nOne page.\r\n" % i), {})
        s.quit()
        a.proc.kill()
        a.proc.wait()
        [after] = far.jobs()  # pages confirmed by the kill (more may have been, while the mails went)
        left = self.pg.psql("fax", "SELECT id FROM jobs WHERE direction = 'out' AND state IN ('queued', 'rendering')")
        [[rx]] = self.pg.psql("fax", "SELECT id FROM jobs WHERE direction = 'in'")
        self.assertEqual(self.pg.psql("fax", "SELECT state FROM jobs WHERE id = %s" % rx), [["receiving"]])
        self.assertGreaterEqual(len(left), 1, "a had rendered every mail before the kill")

        # b, which nobody restarts, takes both over once a's claims have run out.
        out = wait_final(b, 9, timeout=180)
        sent = [j for j in out if j["direction"] == "out"]
        self.assertEqual([j["state"] for j in sent], ["done"] * 8, sent)
        self.assertEqual({j["node"] for j in sent if [str(j["id"])] in left}, {"b"}, sent)
        events = lambda job: [t for [t] in self.pg.psql("fax", "SELECT text FROM events WHERE job_id = %s" % job)]
        # a put each page in the store as it arrived: b mails those the far end saw confirmed (a
        # page confirmed in the moment before the kill may not have reached the store).
        cut = b.api("/api/v1/faxes/%s" % rx)
        self.assertEqual(cut["state"], "done", cut)
        self.assertIn(cut["pages"], range(sending["pages_done"] - 1, after["pages_done"] + 1), (cut, after))
        self.assertGreaterEqual(cut["pages"], 2, cut)
        self.assertIn("The node a stopped during the reception; %d page(s) were kept." % cut["pages"], cut["error"])
        maildir = os.path.join(b.dir, "var", "mail", "postmaster@localhost", "new")
        [mail] = os.listdir(maildir)
        with open(os.path.join(maildir, mail), "rb") as f:
            self.assertEqual(email.message_from_binary_file(f)["X-Fax-Pages"], str(cut["pages"]))
        taken = {str(j) for [j] in self.pg.psql(
            "fax", "SELECT job_id FROM events WHERE text = 'to be rendered by b: the node that held it stopped'")}
        self.assertLessEqual({j for [j] in left}, taken)
        self.assertIn("left unrendered by a node that stopped", open(b.log.name).read())
        self.assertIn("taken over from a, whose claim ran out", events(rx))


class ClusterChannelsTest(fbtest.TempDirTest):
    """A trunk's max_channels is the cluster's: three nodes on one PostgreSQL, each with a trunk of
    max_channels = 10 to one far end, 30 faxes due at once (10 accepted by each node). The far end
    (the trunk's peer, a node on its own store taking up to 30 calls) is sampled while they go:
    never more than 10 calls at a time, and the nodes take turns on the trunk."""

    def setUp(self):
        super().setUp()
        self.pg = pg.PgServer()
        self.addCleanup(self.pg.close)

    def test_three_nodes_never_carry_more_than_the_trunks_max_channels(self):
        os.makedirs(self.path("far"))
        far = Node(self.path("far"), trunk="nowhere", trunk_extra="max_channels = 40")
        self.addCleanup(far.stop)
        nodes = []
        for name in ("a", "b", "c"):
            os.makedirs(self.path(name))
            n = Node(self.path(name), trunk="sip:127.0.0.1:%d" % far.sip_port, trunk_extra="max_channels = 10",
                     extra='[store]\nurl = "%s"\n' % self.pg.url(), node_extra='name = "%s"' % name)
            self.addCleanup(n.stop)
            nodes.append(n)

        peak, seen = [0], []
        stop = threading.Event()

        def sample():  # the far end's calls on its trunk, as often as its API answers
            while not stop.is_set():
                [t] = far.api("/api/v1/trunks")
                peak[0] = max(peak[0], t["channels_in_use"])
                seen.append(t["channels_in_use"])
                stop.wait(0.05)  # the sampling interval (the loop ends with the test's event)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            for i, n in enumerate(nodes):
                rcpts = ["FAX=+155501%02d@fax.test" % (i * 10 + k) for k in range(10)]
                s = n.smtp()
                self.assertEqual(s.sendmail("alice@example.com", rcpts,
                                            "From: alice@example.com\r\nSubject: channels\r\n\r\nOne page.\r\n"), {})
                s.quit()
            jobs = wait_final(nodes[0], 30, timeout=300)
            far_jobs = wait_final(far, 30, timeout=60)
        finally:
            stop.set()
            sampler.join()
        self.assertEqual([j["state"] for j in jobs if j["state"] != "done"], [], jobs)
        self.assertEqual(sorted(j["number"] for j in far_jobs), sorted(j["number"] for j in jobs))
        self.assertLessEqual(peak[0], 10, seen)
        self.assertGreaterEqual(peak[0], 8, seen)  # the nodes together did fill the trunk
        self.assertGreaterEqual(len({j["node"] for j in jobs}), 2, jobs)  # more than one node dialled
        # Each node's share is shown, and the grants in the store never passed the trunk's.
        for n in nodes:
            [t] = n.api("/api/v1/trunks")
            self.assertIn("channels_granted", t)
        [[granted]] = self.pg.psql("fax", "SELECT COALESCE(SUM(granted), 0) FROM channel_grants")
        self.assertLessEqual(int(granted), 10)

    def test_inbound_calls_wait_for_a_channel_the_node_is_granted(self):
        """A node on the shared store holds one channel spare; a second call arriving at once waits
        for the grant to grow instead of getting 486, and a third finds the trunk (max 2) full:
        486, the caller tries again later. The node never carries more than 2."""
        os.makedirs(self.path("n"))
        n = Node(self.path("n"), trunk="nowhere", trunk_extra="max_channels = 2",
                 extra='[store]\nurl = "%s"\n' % self.pg.url(), node_extra='name = "n"')
        self.addCleanup(n.stop)
        os.makedirs(self.path("far"))
        far = Node(self.path("far"), trunk="sip:127.0.0.1:%d" % n.sip_port, extra="[retry]\nbusy_delay_s = 3\n")
        self.addCleanup(far.stop)
        peak, seen = [0], []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                [t] = n.api("/api/v1/trunks")
                peak[0] = max(peak[0], t["channels_in_use"])
                seen.append((t["channels_in_use"], t.get("channels_granted")))
                stop.wait(0.05)  # the sampling interval (the loop ends with the test's event)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            s = far.smtp()
            rcpts = ["FAX=+155502%02d@fax.test" % k for k in range(3)]
            self.assertEqual(s.sendmail("alice@example.com", rcpts,
                                        "From: alice@example.com\r\nSubject: in\r\n\r\nOne page.\r\n"), {})
            s.quit()
            sent = wait_final(far, 3, timeout=120)
            received = wait_final(n, 3, timeout=60)
        finally:
            stop.set()
            sampler.join()
        self.assertEqual([j["state"] for j in sent], ["done"] * 3, sent)
        self.assertEqual(sorted(j["number"] for j in received), ["+15550200", "+15550201", "+15550202"])
        self.assertEqual(peak[0], 2, seen)
        self.assertTrue(all(g is not None and g <= 2 for _, g in seen), seen)
        said = open(n.log.name).read()
        self.assertIn("waits for a channel: this node's share of trunk t is in use", said)
        self.assertIn("is in use across the nodes", said)  # the third call, while two went on


class ClusterCapsTest(fbtest.TempDirTest):
    """[dialing] daily caps count every node's calls: node b, running all along, refuses a sender
    at RCPT once the calls node a made for that sender reach the cap (read again from the shared
    store every 10 s)."""

    def setUp(self):
        super().setUp()
        self.pg = pg.PgServer()
        self.addCleanup(self.pg.close)

    def test_a_cap_reached_on_one_node_holds_on_the_others(self):
        nodes = {}
        for name in ("a", "b"):
            os.makedirs(self.path(name))
            nodes[name] = Node(self.path(name), trunk="self",
                               extra='[store]\nurl = "%s"\n\n[dialing]\nsender_calls_per_day = 2\n' % self.pg.url(),
                               node_extra='name = "%s"' % name)
            self.addCleanup(nodes[name].stop)
        a, b = nodes["a"], nodes["b"]

        def rcpt(node):
            s = node.smtp()
            try:
                s.mail("carol@example.com")
                return s.rcpt("FAX=+15550300@fax.test")
            finally:
                s.quit()

        self.assertEqual(rcpt(b)[0], 250)  # not reached yet
        # b is held while a sends (it would otherwise dial some of them and count them itself):
        # only the store can tell b of a's calls.
        os.kill(b.proc.pid, signal.SIGSTOP)
        self.addCleanup(lambda: b.proc.poll() is None and os.kill(b.proc.pid, signal.SIGCONT))
        s = a.smtp()
        self.assertEqual(s.sendmail("carol@example.com", ["FAX=+15550300@fax.test", "FAX=+15550301@fax.test"],
                                    "From: carol@example.com\r\nSubject: caps\r\n\r\nOne page.\r\n"), {})
        s.quit()
        jobs = wait_final(a, 4, timeout=120)  # two sent, two received
        self.assertEqual([(j["state"], j["node"]) for j in jobs if j["direction"] == "out"], [("done", "a")] * 2)
        os.kill(b.proc.pid, signal.SIGCONT)
        deadline = time.time() + 40
        for n in (b, a):
            while True:
                code, text = rcpt(n)
                if code != 250:
                    break
                self.assertLess(time.time(), deadline, "%s still takes carol's mail" % n.dir)
                time.sleep(0.5)  # a poll interval inside the deadline loop
            self.assertEqual(code, 450, text)
            self.assertIn(b"4.7.1 <FAX=+15550300@fax.test>: the daily cap of 2 fax calls for this sender is reached",
                          text)


class StoreCopyTest(fbtest.TempDirTest):
    """`faxbridge store copy`: a node that ran on SQLite moves into a PostgreSQL store that holds
    another node's faxes already. Its jobs are renumbered, with everything that names them; states,
    numbers, pages, deliveries and calls are kept, and its spool's files go into the store. The node,
    started on PostgreSQL, sends the fax it had waiting from the pages in the store. A second copy
    is refused, and nothing is written."""

    def setUp(self):
        super().setUp()
        self.pg = pg.PgServer()
        self.addCleanup(self.pg.close)

    def copy(self, db, *extra):
        return subprocess.run([fbtest.FAXBRIDGE, "store", "copy", "--from", "sqlite:" + db, "--to", self.pg.url(),
                               *extra], capture_output=True, text=True, timeout=120)

    def test_a_sqlite_node_moves_into_a_shared_store(self):
        # Another node's fax in the target first: its ids are taken.
        os.makedirs(self.path("other"))
        other = Node(self.path("other"), trunk="self", extra='[store]\nurl = "%s"\n' % self.pg.url(),
                     node_extra='name = "other"')
        self.addCleanup(other.stop)
        s = other.smtp()
        self.assertEqual(s.sendmail("alice@example.com", ["FAX=+15550400@fax.test"],
                                    "From: alice@example.com\r\nSubject: other\r\n\r\nOther node.\r\n"), {})
        s.quit()
        wait_final(other, 2)
        other.stop()

        # The SQLite node: a fax sent and received (mailed to the postmaster), and one waiting.
        os.makedirs(self.path("n1"))
        n1 = Node(self.path("n1"), trunk="self", node_extra='name = "n1"')
        self.addCleanup(n1.stop)
        s = n1.smtp()
        self.assertEqual(s.sendmail("alice@example.com", ["FAX=+15550401@fax.test"],
                                    "From: alice@example.com\r\nSubject: done\r\n\r\nSent before the move.\r\n"), {})
        s.quit()
        wait_final(n1, 2)
        later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(time.time()) + 3600))
        form = (b"--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+15550402\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"send_after\"\r\n\r\n" + later.encode() + b"\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"document\"; filename=\"w.txt\"\r\n"
                b"Content-Type: text/plain\r\n\r\nWaiting through the move.\r\n--b--\r\n")
        req = urllib.request.Request(n1.server + "/api/v1/faxes", data=form, method="POST",
                                     headers={"Authorization": "Bearer " + n1.token(),
                                              "Content-Type": "multipart/form-data; boundary=b"})
        with urllib.request.urlopen(req, timeout=30) as r:
            [waiting] = json.load(r)["items"]
        deadline = time.time() + 60
        while n1.api("/api/v1/faxes/%d" % waiting["id"])["state"] != "ready":
            self.assertLess(time.time(), deadline, "not rendered in time")
            time.sleep(0.2)  # a poll interval inside the deadline loop
        p = subprocess.run([fbtest.FAXBRIDGE, "token", "add", "bob", "--config", n1.config],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        before = {j["id"]: j for j in n1.jobs()}
        n1.stop()
        db = os.path.join(n1.dir, "var", "faxbridge.db")
        with open(os.path.join(n1.dir, "var", "spool", "fax", "%d.tif" % waiting["id"]), "rb") as f:
            pages = f.read()

        p = self.copy(db)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(" 3 jobs,", p.stdout)
        self.assertNotIn("not in the spool", p.stdout)  # every file a row still needs was there
        renumbered = {int(a): int(b) for a, b in
                      (line.split()[1::4] for line in p.stdout.splitlines() if line.startswith("job "))}
        self.assertEqual(sorted(renumbered), sorted(before))
        self.assertTrue(all(new > 2 for new in renumbered.values()), p.stdout)  # after the other node's two
        rows = self.pg.psql("fax", "SELECT id, direction, state, number, pages, pages_done FROM jobs WHERE id > 2 "
                                   "ORDER BY id")
        self.assertEqual(rows, [[str(renumbered[j["id"]]), j["direction"], j["state"], j["number"], str(j["pages"]),
                                 str(j["pages_done"])] for j in sorted(before.values(), key=lambda j: j["id"])])
        new_waiting = renumbered[waiting["id"]]
        received = next(j for j in before.values() if j["direction"] == "in")
        self.assertEqual(self.pg.psql("fax", "SELECT count(*) FROM accounting WHERE job_id = %d" %
                                      renumbered[received["id"]]), [["1"]])
        self.assertEqual(self.pg.psql("fax", "SELECT kind, state FROM deliveries WHERE job_id = %d" %
                                      renumbered[received["id"]]), [["postmaster", "done"]])
        docs = [r[0] for r in self.pg.psql("fax", "SELECT name FROM documents ORDER BY name")]
        self.assertIn("fax/%d.tif" % new_waiting, docs)
        # The waiting fax's message, still to be reported: its body in the store, its row's path as
        # the node wrote it (relative to its data directory).
        message_id = before[waiting["id"]]["message_id"]
        self.assertIn("msg/%s.eml" % message_id, docs)
        self.assertEqual(self.pg.psql("fax", "SELECT spool_path FROM messages WHERE id = '%s'" % message_id),
                         [["spool/msg/%s.eml" % message_id]])
        self.assertIn("in/%d.tif" % renumbered[received["id"]], docs)
        self.assertEqual(self.pg.psql("fax", "SELECT name FROM api_users WHERE name = 'bob'"), [["bob"]])

        # Again: refused, nothing written.
        count = self.pg.psql("fax", "SELECT count(*) FROM jobs")
        again = self.copy(db)
        self.assertEqual(again.returncode, 1, again.stdout)
        self.assertIn("is in the target store already (was this store copied before?)", again.stderr)
        self.assertEqual(self.pg.psql("fax", "SELECT count(*) FROM jobs"), count)
        bad = self.copy(self.path("nothing.db"))
        self.assertEqual(bad.returncode, 1)
        self.assertIn("no such database file", bad.stderr)

        # n1 on the shared store: its waiting fax, due now, goes from the pages in the store.
        self.pg.psql("fax", "UPDATE jobs SET retry_at = extract(epoch FROM now())::bigint, "
                            "not_before = extract(epoch FROM now())::bigint WHERE id = %d" % new_waiting)
        shutil.move(os.path.join(n1.dir, "var", "spool"), self.path("old-spool"))  # docs/cluster.md: set aside
        n2 = Node(self.path("n1"), trunk="self", extra='[store]\nurl = "%s"\n' % self.pg.url(), node_extra='name = "n1"')
        self.addCleanup(n2.stop)
        deadline = time.time() + 120
        while n2.api("/api/v1/faxes/%d" % new_waiting)["state"] != "done":
            self.assertLess(time.time(), deadline, open(n2.log.name).read())
            time.sleep(0.3)  # a poll interval inside the deadline loop
        with open(os.path.join(n2.dir, "var", "spool", "fax", "%d.tif" % new_waiting), "rb") as f:
            self.assertEqual(f.read(), pages)
