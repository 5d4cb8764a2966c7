"""SIP as carriers, SBCs and PBXs speak it, against a real node: SIPp scenarios (tests/sip/sipp) for
the signalling, and the fax test peer for the fax itself — in "media" mode it is a fax machine on
G.711 RTP that a SIPp scenario's SDP points at, so each of these calls carries a real fax:

- a delayed offer (INVITE without SDP, the answer in the ACK);
- Require: 100rel: a reliable 180, our PRACK, then the 200;
- a carrier answering in a reliable 183 (its SDP the answer, the 200 without one);
- session timers: a caller asking the node to refresh (refresher=uas) and a 200 making the node
  the refresher (refresher=uac), each refreshed in time during a fax that outlasts half the
  interval;
- a 302 to a second node that answers: the fax goes there; a redirect target so long that the
  INVITE exceeds 1300 bytes: it goes over TCP;
- a T.38 peer offering T38FaxVersion 3; a T.38 stream moved by re-INVITE mid-fax and numbered
  from 0 again;
- a merged request (482), an unknown method (501);
- a call a PBX diverted to the fax number (RFC 5806 Diversion): routed by the number first dialled."""
import json
import os
import socket
import threading
import time
import unittest

import fbtest
from fax_loss_test import FINAL_IN, FINAL_OUT
from fax_peer_test import Peer
from offramp_test import Node
from onramp_test import wait_mails
from sip_peers_test import free_udp_port, sipp

SLOW = "[retry]\nfailure_delay_s = 600\nbusy_delay_s = 600\nno_answer_delay_s = 600\n"
AUDIO = 't38 = "off"'  # SIPp cannot take the node's T.38 re-INVITE: the fax stays on G.711


class FieldBase(fbtest.TempDirTest):
    def setUp(self):
        super().setUp()
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        self.two = self.path("two.tif")
        fbtest.run("convert", "-o", self.two, fbtest.itu_chart(1), fbtest.itu_chart(4), check=0)

    def sub(self, name):
        d = self.path(name)
        os.makedirs(d)
        return d

    def uas(self, scenario, port, *args, timeout=200):
        """A SIPp scenario listening on `port`, killed at the end of the test whatever happens."""
        p = fbtest.popen_sipp(scenario, port, *args, timeout=timeout)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.communicate()))
        return p

    def peer(self, workdir, mode, *args):
        """The fax test peer, killed at the end of the test whatever happens."""
        p = Peer(workdir, mode, *args)
        self.addCleanup(lambda: p.proc.poll() is None and (p.proc.kill(), p.proc.communicate()))
        return p

    def uac(self, scenario, node, media_port, *args, timeout=180):
        p = sipp(scenario, "127.0.0.1:%d" % node.sip_port, "-p", str(free_udp_port()), "-m", "1",
                 "-key", "rtp_port", str(media_port), *args, timeout=timeout)
        self.assertEqual(p.returncode, 0, "%s: %s" % (scenario, (p.stdout + p.stderr)[-3000:]))

    def assert_received(self, node, report, pages=2):
        """The fax peer sent `pages` pages and the node received them whole."""
        self.assertEqual((report.get("success"), report.get("pages")), (True, pages),
                         "%s\n%s" % (json.dumps(report), open(node.log.name).read()[-3000:]))
        [job] = node.settle(FINAL_IN)
        self.assertEqual((job["state"], job["pages"], job["bad_rows"], job["error"]), ("done", pages, 0, None), job)


class SipFieldInboundTest(FieldBase):
    def test_a_delayed_offer_gets_our_offer_and_the_fax_arrives(self):
        d = self.sub("delayed")
        node = Node(d, trunk_extra=AUDIO)
        self.addCleanup(node.stop)
        peer = self.peer(d, "media", "--tiff", self.two)
        self.uac("uac_delayed_offer.xml", node, peer.port)
        self.assert_received(node, peer.result())

    def test_require_100rel_gets_a_reliable_180_then_200_after_our_prack(self):
        d = self.sub("100rel")
        node = Node(d, trunk_extra=AUDIO)
        self.addCleanup(node.stop)
        peer = self.peer(d, "media", "--tiff", self.two)
        self.uac("uac_100rel.xml", node, peer.port)
        self.assert_received(node, peer.result())

    def test_a_t38_peer_offering_version_3_is_answered_0_and_its_fax_arrives(self):
        d = self.sub("v3")
        node = Node(d)
        self.addCleanup(node.stop)
        peer = self.peer(d, "call", "--to", "sip:+15550100@127.0.0.1:%d" % node.sip_port, "--tiff", self.two,
                    "--media", "t38", "--t38-version", "3")
        report = peer.result()
        self.assertIn("a=T38FaxVersion:0\r\n", report["answer_sdp"])
        self.assert_received(node, report)

    def test_a_t38_stream_moved_mid_fax_and_numbered_from_0_again_loses_nothing(self):
        d = self.sub("moved")
        node = Node(d)
        self.addCleanup(node.stop)
        peer = self.peer(d, "call", "--to", "sip:+15550100@127.0.0.1:%d" % node.sip_port, "--tiff", self.two,
                    "--media", "t38", "--move-t38-at", "8")
        report = peer.result()
        self.assertEqual(report.get("move_status"), 200, report)
        self.assertEqual(report.get("move_sent_at_page"), 0, "the move must fall inside the transfer")
        self.assert_received(node, report)

    def test_a_merged_request_gets_482_and_an_unknown_method_501(self):
        d = self.sub("merged")
        node = Node(d, extra=SLOW, trunk_extra=AUDIO)
        self.addCleanup(node.stop)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as media:
            media.bind(("127.0.0.1", 0))
            self.uac("uac_merged.xml", node, media.getsockname()[1], timeout=60)
            self.uac("uac_unknown_method.xml", node, media.getsockname()[1], timeout=30)
        jobs = node.settle(FINAL_IN)
        self.assertEqual(len(jobs), 1, "the merged copy made a second call: %s" % jobs)


    def test_a_diverted_call_is_routed_by_the_number_first_dialled(self):
        d = self.sub("diversion")
        routes = ('[[route]]\ndid = "+15550100"\nmailbox = "pilot@example.com"\n\n'
                  '[[route]]\ndid = "+15550177"\nmailbox = "team@example.com"\n\n'
                  '[[route]]\ndid = "+15550123"\nmailbox = "desk@example.com"\n')
        node = Node(d, extra=routes)
        self.addCleanup(node.stop)
        # Newest first: the team's forward, a PBX hop with no E.164 number, then the desk's own
        # (the oldest: the number first dialled), each of the two with a route.
        one = self.path("one.tif")
        fbtest.run("convert", "-o", one, fbtest.itu_chart(1), check=0)
        peer = self.peer(d, "call", "--to", "sip:+15550100@127.0.0.1:%d" % node.sip_port, "--tiff", one,
                         "--header", "Diversion: <sip:+15550177@pbx.example>;reason=unconditional;counter=1, "
                                     "<sip:2002@pbx.example>;reason=unconditional;counter=1, "
                                     "\"Desk\" <sip:+15550123@pbx.example>;reason=no-answer;counter=1")
        self.assert_received(node, peer.result(), pages=1)
        [job] = node.settle(FINAL_IN)
        self.assertEqual(job["number"], "+15550123", job)
        [mail] = wait_mails(os.path.join(d, "var", "mail"), "desk@example.com", 1)
        self.assertIn("+15550123", mail["Subject"] + str(mail["To"]) + mail.get_body(("plain",)).get_content())
        with open(node.log.name) as f:
            self.assertIn("diverted from +15550123 (no-answer): routed as +15550123", f.read())


class SipFieldOutboundTest(FieldBase):
    def test_an_answer_in_a_reliable_183_carries_the_fax(self):
        d = self.sub("183")
        peer = self.peer(d, "media", "--rx", os.path.join(d, "rx.tif"))
        port = free_udp_port()
        uas = self.uas("uas_reliable_183.xml", port, "-key", "rtp_port", str(peer.port))
        node = Node(d, trunk="sip:127.0.0.1:%d" % port, extra=SLOW, trunk_extra=AUDIO)
        self.addCleanup(node.stop)
        node.send_tiff("FAX=+15550100@fax.test", self.two)
        report = peer.result()
        self.assertEqual((report.get("success"), report.get("pages")), (True, 2), report)
        [job] = node.settle(FINAL_OUT)
        self.assertEqual((job["state"], job["pages_done"], job["bad_rows"]), ("done", 2, 0), job)
        out = fbtest.wait_sipp(uas)
        self.assertEqual(uas.returncode, 0, out[-3000:])

    def test_a_302_is_followed_to_a_second_node_that_takes_the_fax(self):
        d = self.sub("302")
        b = Node(self.sub("302-b"))
        self.addCleanup(b.stop)
        port = free_udp_port()
        uas = self.uas("uas_302.xml", port, "-key", "target", "sip:+15550100@127.0.0.1:%d" % b.sip_port)
        a = Node(d, trunk="sip:127.0.0.1:%d" % port, extra=SLOW)
        self.addCleanup(a.stop)
        a.send_tiff("FAX=+15550100@fax.test", self.two)
        [job] = a.settle(FINAL_OUT)
        self.assertEqual((job["state"], job["pages_done"], job["bad_rows"]), ("done", 2, 0), job)
        [got] = b.settle(FINAL_IN)
        self.assertEqual((got["state"], got["pages"], got["bad_rows"]), ("done", 2, 0), got)
        out = fbtest.wait_sipp(uas)
        self.assertEqual(uas.returncode, 0, out[-3000:])

    def test_an_invite_over_1300_bytes_goes_over_tcp(self):
        """A redirect target with a long routing parameter (as carriers' Contacts carry) makes the
        INVITE about 1600 bytes: the node sends it over TCP (RFC 3261 §18.1.1)."""
        d = self.sub("tcp")
        tcp_port = free_udp_port()
        busy = self.uas("uas_tcp_busy.xml", tcp_port, "-t", "t1")
        port = free_udp_port()
        target = "sip:+15550100@127.0.0.1:%d;x-route=%s" % (tcp_port, "r" * 700)
        redirect = self.uas("uas_302.xml", port, "-key", "target", target)
        node = Node(d, trunk="sip:127.0.0.1:%d" % port, extra=SLOW)
        self.addCleanup(node.stop)
        node.send_tiff("FAX=+15550100@fax.test", self.two)
        for p in (redirect, busy):
            out = fbtest.wait_sipp(p)
            self.assertEqual(p.returncode, 0, out[-3000:])
        [job] = node.settle(FINAL_OUT)
        self.assertIn("486", job["error"] or "", job)


class SipSessionTimerTest(FieldBase):
    """Each side's session refresh happens during a real fax that outlasts half the interval."""

    def setUp(self):
        super().setUp()
        self.long = self.path("long.tif")
        charts = [fbtest.itu_chart(n) for n in (1, 4, 1)]  # about 60 s: past the refresh at 45 s
        fbtest.run("convert", "-o", self.long, *charts, check=0)

    def test_refreshes_as_asked_both_ways_during_a_fax(self):
        results, errors = {}, {}

        def node_refreshes_as_uas():
            d = self.sub("uas")
            node = Node(d, trunk_extra=AUDIO)
            try:
                peer = self.peer(d, "media", "--tiff", self.long)
                self.uac("uac_session_timer.xml", node, peer.port, timeout=300)
                report = peer.result()
                [job] = node.settle(FINAL_IN)
                return report, job
            finally:
                node.stop()

        def node_refreshes_as_uac():
            d = self.sub("uac")
            peer = self.peer(d, "media", "--rx", os.path.join(d, "rx.tif"))
            port = free_udp_port()
            uas = self.uas("uas_session_timer_uac.xml", port, "-key", "rtp_port", str(peer.port), timeout=300)
            node = Node(d, trunk="sip:127.0.0.1:%d" % port, extra=SLOW, trunk_extra=AUDIO)
            try:
                node.send_tiff("FAX=+15550100@fax.test", self.long)
                report = peer.result(timeout=300)
                [job] = node.settle(FINAL_OUT, timeout=300)
                out = fbtest.wait_sipp(uas)
                if uas.returncode != 0:
                    raise AssertionError("SIPp: " + out[-3000:])
                return report, job
            finally:
                node.stop()

        def run(name, fn):
            try:
                results[name] = fn()
            except Exception as e:  # reported below, with the other side's result
                errors[name] = e

        threads = [threading.Thread(target=run, args=(f.__name__, f)) for f in (node_refreshes_as_uas, node_refreshes_as_uac)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, {})
        report, job = results["node_refreshes_as_uas"]
        self.assertEqual((report.get("success"), report.get("pages")), (True, 3), report)
        self.assertEqual((job["state"], job["pages"], job["bad_rows"]), ("done", 3, 0), job)
        report, job = results["node_refreshes_as_uac"]
        self.assertEqual((report.get("success"), report.get("pages")), (True, 3), report)
        self.assertEqual((job["state"], job["pages_done"], job["bad_rows"]), ("done", 3, 0), job)


if __name__ == "__main__":
    unittest.main()
