"""Three nodes as one service (issue 17), with everything in front as docs/cluster.md deploys it:
PostgreSQL (pg.py), a real Postfix relaying the fax domain to the three nodes (the numbers spread
over them, each node a fallback for the others), and a real Kamailio as the carrier: it spreads
inbound calls over the nodes with its dispatcher module (OPTIONS probing, failover on 503 and
timeouts) and routes the nodes' outbound calls by number to a fax peer that receives them, to a
SIPp that is always busy, or to a SIPp that rings and never answers. The same fax peer (a node on
its own store) makes the inbound calls.

FB_CLUSTER_MAILS fax mails (default 300: two in three to the receiving peer, the rest busy or not
answered) go in through Postfix, FB_CLUSTER_CALLS inbound calls (default 100) through Kamailio.
While calls are going (and mail may still be rendering), one node is killed with SIGKILL; later PostgreSQL is stopped (mail to a node
gets 451 4.3.0, a call 503) and started again. Afterwards:
- every accepted message has exactly one final DSN, across the nodes' mailboxes, and it says what
  happened (delivered for the received numbers, failed for busy and unanswered ones);
- every inbound fax the peer sent is in the postmaster's mailbox exactly once;
- no number received its fax twice, except those whose call was in progress on the killed node;
- the jobs the killed node had not rendered were rendered by the others (a takeover event each)."""
import email
import email.message
import email.policy
import glob
import os
import smtplib
import subprocess
import sys
import time

import fbtest
import pg
from lifecycle_test import call_is_refused
from kamailio_test import Kamailio
from offramp_test import Node
from postfix_test import MAIN_CF, MASTER_CF, POSTFIX, Postfix
from sip_peers_test import free_udp_port

MAILS = int(os.environ.get("FB_CLUSTER_MAILS", "300"))
CALLS = int(os.environ.get("FB_CLUSTER_CALLS", "100"))

KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=4
disable_tcp=yes
listen=udp:127.0.0.1:%(port)d
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "dispatcher.so"
modparam("dispatcher", "list_file", "%(dir)s/dispatcher.list")
modparam("dispatcher", "ds_ping_interval", 2)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_ping_reply_codes", "class=2")
modparam("dispatcher", "flags", 2)
modparam("tm", "fr_timer", 3000)

request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (has_totag()) {
        if (loose_route()) { t_relay(); exit; }
        if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
    if (is_method("OPTIONS")) { sl_send_reply("200", "OK"); exit; }
    record_route();
    if ($rU =~ "^\\+1555090") {
        # The carrier's inbound calls: spread over the nodes; a node down or refusing (503),
        # or silent (408), hands the call to the next.
        if (!ds_select_dst("1", "4")) { sl_send_reply("503", "No fax node"); exit; }
        t_on_failure("NEXT_NODE");
        t_relay();
        exit;
    }
    if ($rU =~ "^\\+1555060") { $du = "sip:127.0.0.1:%(peer)d"; }
    else if ($rU =~ "^\\+1555070") { $du = "sip:127.0.0.1:%(busy)d"; }
    else if ($rU =~ "^\\+1555080") { $du = "sip:127.0.0.1:%(silent)d"; }
    else { sl_send_reply("404", "No such number"); exit; }
    t_relay();
}

failure_route[NEXT_NODE] {
    if (t_is_canceled()) { exit; }
    if (t_check_status("503|408") && ds_next_dst()) {
        if (t_check_status("503")) { xlog("L_INFO", "failover: 503 from a node, next node $du\n"); }
        else { xlog("L_INFO", "failover: no answer from a node, next node $du\n"); }
        t_on_failure("NEXT_NODE");
        t_relay();
    }
}
"""

# Postfix spreads the numbers over the nodes by their last digit, and falls back to the others.
TRANSPORT = """\
/^FAX=\\+[0-9]*[0-2]@fax\\.test$/ smtp:[127.0.0.1]:{p0}
/^FAX=\\+[0-9]*[3-5]@fax\\.test$/ smtp:[127.0.0.1]:{p1}
/^FAX=\\+[0-9]*[6-9]@fax\\.test$/ smtp:[127.0.0.1]:{p2}
/@sender\\.test$/ discard:the senders' own mail is not read here
"""


def kamailio(workdir, port, nodes, peer, busy, silent):
    """The carrier's proxy (KAMAILIO_CFG), its dispatcher list naming the nodes."""
    with open(os.path.join(workdir, "dispatcher.list"), "w") as f:
        for n in nodes:
            f.write("1 sip:127.0.0.1:%d\n" % n.sip_port)
    text = KAMAILIO_CFG % {"port": port, "dir": workdir, "peer": peer, "busy": busy, "silent": silent}
    return Kamailio(workdir, port=port, config=text.replace("%", "%%"))


def sipp(test, scenario, log):
    """A SIPp UAS for any number of calls, on a free port; stopped by the test's cleanup."""
    port = free_udp_port()
    p = subprocess.Popen(["sipp", "-sf", os.path.join(fbtest.SIPP_DIR, scenario), "-i", "127.0.0.1", "-p", str(port),
                          "-nostdin"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    test.addCleanup(lambda: (p.kill(), p.wait()))
    deadline = time.time() + 10
    while True:
        with open("/proc/net/udp") as f:
            if ("0100007F:%04X " % port) in f.read() and p.poll() is None:  # bound on 127.0.0.1, by SIPp
                return port
        if p.poll() is not None or time.time() > deadline:
            raise AssertionError("SIPp %s did not start (exit %s)" % (scenario, p.poll()))
        time.sleep(0.05)  # a poll interval inside the deadline loop


def maildir_mails(nodes, address):
    out = []
    for n in nodes:
        for f in sorted(glob.glob(os.path.join(n.dir, "var", "mail", address, "new", "*"))):
            with open(f, "rb") as fh:
                out.append(email.message_from_binary_file(fh, policy=email.policy.default))
    return out


class ClusterChaosTest(fbtest.TempDirTest):
    def setUp(self):
        super().setUp()
        os.chmod(self.dir, 0o755)  # the postfix user reaches its queue below it
        if not os.path.exists(POSTFIX):
            self.skipTest("Postfix is not installed")
        self.pg = pg.PgServer()
        self.addCleanup(self.pg.close)

    def node(self, name, kam_port):
        os.makedirs(self.path(name), exist_ok=True)
        n = Node(self.path(name), trunk="sip:127.0.0.1:%d" % kam_port,
                 trunk_extra="max_channels = 30\nring_timeout_s = 4",
                 node_extra='name = "%s"\nlease_s = 10' % name,
                 smtp_extra="sender_messages_per_hour = 0\nsender_recipients_per_hour = 0",
                 extra='[store]\nurl = "%s"\n\n[retry]\nmax_dials = 3\nbusy_delay_s = 2\nno_answer_delay_s = 2\n'
                       'congestion_delay_s = 2\nfailure_delay_s = 2\npartial_delay_s = 2\n' % self.pg.url())
        self.addCleanup(n.stop)
        return n

    def test_three_nodes_lose_nothing_through_a_kill_and_a_database_restart(self):
        log = open(self.path("sipp.log"), "w")
        self.addCleanup(log.close)
        busy, silent = sipp(self, "uas_busy.xml", log), sipp(self, "uas_ring_forever.xml", log)
        kam_port = free_udp_port()  # the nodes' trunk: Kamailio, started once they listen
        nodes = [self.node("n%d" % i, kam_port) for i in range(3)]
        os.makedirs(self.path("faxes"))
        peer = Node(self.path("faxes"), trunk="sip:127.0.0.1:%d" % kam_port,
                    trunk_extra="max_channels = 200\nring_timeout_s = 10",
                    smtp_extra="max_recipients = 1000\nsender_messages_per_hour = 0\nsender_recipients_per_hour = 0",
                    extra="[retry]\nmax_dials = 100\nmax_tries = 10\nbusy_delay_s = 5\nno_answer_delay_s = 2\n"
                          "congestion_delay_s = 2\nfailure_delay_s = 2\npartial_delay_s = 2\n")
        self.addCleanup(peer.stop)
        os.makedirs(self.path("kamailio"))
        kam = kamailio(self.path("kamailio"), kam_port, nodes, peer.sip_port, busy, silent)
        self.addCleanup(kam.stop)

        os.makedirs(self.path("postfix"))
        fallback = ", ".join("[127.0.0.1]:%d" % n.smtp_port for n in nodes)
        relay = Postfix(self.path("postfix"), nodes[0].smtp_port,
                        main_cf=MAIN_CF + "smtp_fallback_relay = %s\nqueue_run_delay = 2s\n"
                                          "minimal_backoff_time = 2s\nmaximal_backoff_time = 4s\n" % fallback,
                        master_cf=MASTER_CF,
                        extra_files=(("transport.regexp", TRANSPORT.format(
                            p0=nodes[0].smtp_port, p1=nodes[1].smtp_port, p2=nodes[2].smtp_port)),))
        self.addCleanup(relay.stop)

        # Mail: two in three received, the rest busy or unanswered; the last `late` after the kill.
        expect = {}
        late = MAILS // 10

        def send(i):
            kind = ("060", "060", "070", "060", "060", "080")[i % 6]
            number = "+1555%s%04d" % (kind, i)
            envid = "m%d" % i
            expect[envid] = (number, "delivered" if kind == "060" else "failed")
            relay.send(["FAX=%s@fax.test" % number], "Mail %d" % i, mail_options=["ENVID=" + envid],
                       rcpt_options=["NOTIFY=SUCCESS,FAILURE"])

        for i in range(MAILS - late):
            send(i)
        # Inbound calls: one mail at the peer with a recipient per DID.
        s = peer.smtp()
        dids = ["+1555090%04d" % i for i in range(CALLS)]
        self.assertEqual(s.sendmail("peer@example.com", ["FAX=%s@fax.test" % d for d in dids],
                                    "From: peer@example.com\r\nSubject: inbound\r\n\r\nOne inbound page.\r\n"), {})
        s.quit()

        # A node killed while it carries calls, once every mail sent so far is accepted: its
        # outbound calls are taken over after its lease (the far end may have had the page in
        # flight), and the messages it accepted and had not rendered yet are rendered by another
        # node once its claim on them runs out.
        victim = nodes[1]
        deadline = time.time() + 480
        while True:
            rows = self.pg.psql("fax", "SELECT count(*) FROM jobs WHERE owner = 'n1' AND state IN ('sending', 'receiving')")
            if int(rows[0][0]) >= 3 and \
                    int(self.pg.psql("fax", "SELECT count(*) FROM jobs WHERE direction = 'out'")[0][0]) == MAILS - late:
                break
            self.assertLess(time.time(), deadline, "n1 never carried calls")
            time.sleep(0.2)  # a poll interval inside the deadline loop
        victim.proc.kill()
        victim.proc.wait()
        in_flight = {r[0] for r in self.pg.psql("fax", "SELECT number FROM jobs WHERE owner = 'n1' AND "
                                                       "direction = 'out' AND state = 'sending'")}
        # Its jobs not rendered yet: rendered by a live node once n1's claim on them runs out.
        unrendered = {r[0] for r in self.pg.psql(
            "fax", "SELECT j.id FROM jobs j JOIN messages m ON m.id = j.message_id "
                   "WHERE m.owner = 'n1' AND j.state IN ('queued', 'rendering')")}
        # Receptions n1 had in progress: a fax whose last page it had confirmed is on n1's disk only.
        cut = {r[0] for r in self.pg.psql("fax", "SELECT number FROM jobs WHERE owner = 'n1' AND "
                                                "direction = 'in' AND state = 'receiving'")}
        for i in range(MAILS - late, MAILS):  # a third of these go to n1 first: Postfix falls back
            send(i)
        live = [nodes[0], nodes[2]]

        # Later, PostgreSQL restarted while the rest goes on: nothing acknowledged meanwhile.
        deadline = time.time() + 300
        while int(self.pg.psql("fax", "SELECT count(*) FROM jobs WHERE state IN ('done', 'failed')")[0][0]) < \
                (MAILS + CALLS) // 3:
            self.assertLess(time.time(), deadline, "a third of the faxes not final in time")
            time.sleep(0.5)  # a poll interval inside the deadline loop
        self.pg.stop()
        msg = email.message.EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "alice@example.com", "FAX=+15550600000@fax.test", "store down"
        msg.set_content("Not taken while PostgreSQL is down.")
        spooled = os.path.join(live[0].dir, "var", "spool", "msg")
        before = set(os.listdir(spooled))
        s = live[0].smtp()
        with self.assertRaises(smtplib.SMTPDataError) as e:
            s.sendmail("alice@example.com", ["FAX=+15550600000@fax.test"], msg.as_bytes())
        self.assertEqual((e.exception.smtp_code, e.exception.smtp_error[:5]), (451, b"4.3.0"))
        s.quit()
        call_is_refused(self, live[0], "503: the job store is unavailable")
        # The same through Kamailio: the node it picks refuses, it hands the call to the next node,
        # which refuses too; the caller hears 500 (a proxy passes no 503 on: RFC 3261 16.7).
        call_is_refused(self, live[1], "503: the job store is unavailable",
                        to="sip:+15550909999@127.0.0.1:%d" % kam.port, status=500)
        self.assertLessEqual(set(os.listdir(spooled)), before)  # nothing of the refused mail kept
        self.pg.start()

        # Everything final: the outbound jobs (one per mail), the peer's calls.
        deadline = time.time() + 420
        while True:
            try:
                out = [j for j in live[0].jobs() if j["direction"] == "out"]
            except (AssertionError, subprocess.TimeoutExpired):  # (its store may still be reconnecting)
                out = []
            peer_jobs = [j for j in peer.jobs() if j["direction"] == "out"]
            if len(out) == MAILS and all(j["state"] in ("done", "failed") for j in out) and \
                    len(peer_jobs) == CALLS and all(j["state"] in ("done", "failed") for j in peer_jobs):
                break
            self.assertLess(time.time(), deadline, "not all final: %d/%d out, %d/%d peer" % (
                sum(j["state"] in ("done", "failed") for j in out), MAILS,
                sum(j["state"] in ("done", "failed") for j in peer_jobs), CALLS))
            time.sleep(2)  # a poll interval inside the deadline loop (each poll lists every job)

        # Every message: exactly one final DSN, saying what happened (counted once nothing is left
        # to mail: a second report would be there by then).
        deadline = time.time() + 120
        while self.pg.psql("fax", "SELECT (SELECT count(*) FROM deliveries WHERE state = 'pending') + "
                                  "(SELECT count(*) FROM messages WHERE state = 'active') + "
                                  "(SELECT count(*) FROM jobs WHERE direction = 'in' AND state = 'delivering')") != [["0"]]:
            self.assertLess(time.time(), deadline, "mail still to go out")
            time.sleep(1)  # a poll interval inside the deadline loop
        while True:
            reports, named = {}, {}
            for m in maildir_mails(nodes, "bob@sender.test"):
                status = [p for p in m.walk() if p.get_content_type() == "message/delivery-status"]
                if not status:
                    continue
                fields = status[0].get_payload()
                envid = fields[0].get("Original-Envelope-Id")
                reports.setdefault(envid, []).append(fields[1].get("Action"))
                named[envid] = fields[1].get("X-Fax-Node")
            if len(reports) >= MAILS:
                break
            self.assertLess(time.time(), deadline, "%d of %d messages reported" % (len(reports), MAILS))
            time.sleep(1)  # a poll interval inside the deadline loop
        wrong = {e: (expect[e], a) for e, a in reports.items() if a != [expect[e][1]]}
        self.assertEqual(wrong, {})
        self.assertEqual(sorted(reports), sorted(expect))
        # Each report names the node that made the recipient's last call.
        owners = {e: o for e, o in self.pg.psql("fax", "SELECT m.envid, j.owner FROM jobs j JOIN messages m "
                                                       "ON m.id = j.message_id WHERE j.direction = 'out'")}
        self.assertEqual({e: (n, owners.get(e)) for e, n in named.items() if n != owners.get(e)}, {})
        self.assertLessEqual(set(named.values()), {"n0", "n1", "n2"})
        taken = {r[0] for r in self.pg.psql("fax", "SELECT job_id FROM events WHERE text LIKE "
                                                   "'to be rendered by %: the node that held it stopped'")}
        self.assertLessEqual(unrendered, taken)

        # Every inbound fax the peer sent: in the postmaster's mailbox exactly once.
        sent = {j["number"] for j in peer_jobs if j["state"] == "done"}
        self.assertEqual(sent, set(dids), [j for j in peer_jobs if j["state"] != "done"])
        deadline = time.time() + 120
        while True:
            seen = {}
            for m in maildir_mails(nodes, "postmaster@localhost"):
                if int(m.get("X-Fax-Pages", "0")) > 0:  # (not a missed-fax notice of a call cut short)
                    seen[m["X-Fax-Called"]] = seen.get(m["X-Fax-Called"], 0) + 1
            if set(dids) - set(seen) <= cut:
                break
            self.assertLess(time.time(), deadline, "%d of %d inbound faxes mailed" % (len(seen), len(dids)))
            time.sleep(1)  # a poll interval inside the deadline loop
        self.assertEqual({d: c for d, c in seen.items() if c != 1}, {})
        # (n1 puts each page in the store as it arrives; a page confirmed in the moment before the
        # kill may not have reached it, and a fax cut before its first page is a missed-fax notice.)
        self.assertLessEqual(set(dids) - set(seen), cut)

        # No number received its fax twice, but those in flight on the killed node.
        received = {}
        for j in peer.jobs():
            if j["direction"] == "in" and j["state"] == "done" and j["pages"] > 0:
                received[j["number"]] = received.get(j["number"], 0) + 1
        twice = {n for n, c in received.items() if c > 1}
        self.assertLessEqual(twice, in_flight)
        # Kamailio handed the call made while PostgreSQL was down over to the next node.
        self.assertIn("failover: 503 from a node", kam.text())
        self.assertEqual(set(received), {n for n, o in expect.values() if o == "delivered"})
        print("\n%d messages, %d reported once each (%d delivered); %d inbound faxes mailed once each; killed n1 with "
              "%d outbound calls and %d receptions in flight and %d job(s) not rendered (rendered by the others); "
              "%d number(s) received twice; %d Kamailio failovers"
              % (MAILS, len(reports), sum(1 for e in expect.values() if e[1] == "delivered"), len(seen),
                 len(in_flight), len(cut), len(unrendered), len(twice), kam.text().count("failover:")), file=sys.stderr)
