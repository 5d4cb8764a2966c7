"""Two faxbridge nodes fax through a real Kamailio proxy that challenges every INVITE with 407
(digest, pv_proxy_authenticate) and record-routes the dialog: node A answers the challenge with
its trunk's credentials, the fax crosses over T.38, node B receives the ITU charts bit-exact
(below the header line) with the /T33S= subaddress from the SUB frame. A node with the wrong
password fails its job with the proxy's 407, after exactly one retry of the challenge. Kamailio also
adds an Exchange UM Referred-By (append_hf), which makes B the fax partner: the fax is mailed to the
referred recipient as the partner contract."""
import os
import signal
import subprocess
import sys
import time
import unittest

import fbtest
from fax_loop_test import normalised_rows
from fax_loss_test import FINAL_IN, FINAL_OUT
from offramp_test import Node
from onramp_test import CONTEXT, mails, parts
from sip_peers_test import free_udp_port

KAMAILIO_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
memdbg=5
memlog=5
children=2
tcp_children=1
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
loadmodule "auth.so"
loadmodule "xlog.so"

request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (has_totag()) {
        if (loose_route()) { t_relay(); exit; }
        if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
    if (is_method("INVITE")) {
        if (!pv_proxy_authenticate("$fd", "secret", "0")) {
            xlog("L_INFO", "challenging $rm from $si\\n");
            proxy_challenge("$fd", "0");
            exit;
        }
        consume_credentials();
        xlog("L_INFO", "authenticated $rm from $si\\n");
        # As Exchange UM's REFER makes a gateway do (RFC 3892): B becomes its fax partner.
        append_hf("Referred-By: <sip:um1.example.com;msExchUMFaxRecipient=smtp:grace@example.com;msExchUMContext=%(context)s>\\r\\n");
    }
    record_route();
    $du = "sip:127.0.0.1:%(b_port)d";
    t_relay();
}
"""


class Kamailio:
    """A Kamailio in the foreground of its own session. config: the kamailio.cfg text, with
    %(port)d where it listens (default: this test's proxy, relaying to b_port); port: the UDP port
    (default: a free one)."""

    def __init__(self, workdir, b_port=None, config=None, port=None):
        self.port = port or free_udp_port()
        self.cfg = os.path.join(workdir, "kamailio.cfg")
        with open(self.cfg, "w") as f:
            if config is None:
                f.write(KAMAILIO_CFG % {"port": self.port, "b_port": b_port, "context": CONTEXT.replace("=", "%3D")})
            else:
                f.write(config % {"port": self.port})
        self.log = open(os.path.join(workdir, "kamailio.log"), "w")
        self.proc = subprocess.Popen(["kamailio", "-f", self.cfg, "-DD", "-E", "-Y", workdir, "-w", workdir],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        # A reaper in a session of its own kills Kamailio's process group once this process is gone
        # without stopping it (a failure, a kill, a CTest timeout): it waits for the end of a pipe
        # only this process holds; stop() tells it first that Kamailio is stopped.
        self._reaper = subprocess.Popen(
            [sys.executable, "-c", "import os, sys\nif not sys.stdin.read():\n"
             "    try: os.killpg(int(sys.argv[1]), 9)\n    except OSError: pass", str(self.proc.pid)],
            stdin=subprocess.PIPE, start_new_session=True)
        deadline = time.time() + 10
        while not self._listening():
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError("kamailio did not start: " + self.text())
            time.sleep(0.1)  # a poll interval inside the deadline loop

    def _listening(self):
        with open("/proc/net/udp") as f:
            return (":%04X " % self.port) in f.read()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._reaper.poll() is None:
            self._reaper.stdin.write(b"stopped")
            self._reaper.stdin.close()
            self._reaper.wait(timeout=30)
        self.log.close()

    def text(self):
        with open(self.log.name) as f:
            return f.read()


class KamailioTest(fbtest.TempDirTest):
    def test_fax_through_kamailio_with_digest_auth(self):
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        tif = self.path("charts.tif")
        fbtest.run("convert", "--resolution", "fine", "-o", tif, fbtest.itu_chart(2), fbtest.itu_chart(5), check=0)
        for d in ("a", "bad", "b"):
            os.makedirs(self.path(d))
        # Kamailio, on loopback, stands for the gateway that follows Exchange UM's REFER.
        b = Node(self.path("b"), extra='[exchange]\nservers = ["127.0.0.1/32"]\nrecipient_domains = ["example.com"]\n')
        k = Kamailio(self.dir, b.sip_port)
        slow = "[retry]\nfailure_delay_s = 600\nbusy_delay_s = 600\nno_answer_delay_s = 600\n"
        a = Node(self.path("a"), trunk="sip:127.0.0.1:%d" % k.port,
                 trunk_extra='username = "fax"\npassword = "secret"\ncaller_id = "+15550199"', extra=slow)
        bad = Node(self.path("bad"), trunk="sip:127.0.0.1:%d" % k.port,
                   trunk_extra='username = "fax"\npassword = "wrong"', extra=slow)
        try:
            a.send_tiff("FAX=+15550100/T33S=77@fax.test", tif)
            bad.send_tiff("FAX=+15550100@fax.test", tif)
            [out] = a.settle(FINAL_OUT)
            [refused] = bad.settle(FINAL_OUT)
            [inn] = b.settle(FINAL_IN)
            log = k.text()
            self.assertGreaterEqual(log.count("challenging INVITE"), 3, log[-3000:])  # a once, bad twice
            self.assertEqual(log.count("authenticated INVITE"), 1, log[-3000:])

            self.assertEqual((out["state"], out["pages_done"], out["bad_rows"]), ("done", 2, 0), out)
            self.assertEqual((inn["state"], inn["pages"], inn["bad_rows"], inn["subaddress"], inn["caller"]),
                             ("done", 2, 0, "77", "+15550199"), inn)
            sent = fbtest.decode_with_libtiff(os.path.join(a.dir, "var", "spool", "fax", "%d.tif" % out["id"]), self.dir)
            got = fbtest.decode_with_libtiff(fbtest.received_tiff(b.dir, inn["id"]), self.dir)
            self.assertEqual(len(got), 2)
            for s, g in zip(sent, got):
                srows, grows = normalised_rows(s), normalised_rows(g)
                self.assertEqual(grows[len(grows) - len(srows):], srows)

            # The referral Kamailio added routed the fax: partner mail to grace, pages and all.
            [msg] = mails(os.path.join(b.dir, "var", "mail"), "grace@example.com")
            self.assertEqual((msg["Content-Class"], msg["X-MS-Exchange-UM-PartnerStatus"], msg["X-FaxNumberOfPages"],
                              msg["X-MS-Exchange-UM-PartnerContext"]), ("MS-Exchange-UM-Partner", "2.0.0", "2", CONTEXT))
            self.assertEqual([ct for ct, _, _ in parts(msg)], ["text/plain", "image/tiff"])
            self.assertEqual(msg["X-CallingTelephoneNumber"], "+15550199")

            self.assertEqual(refused["state"], "failed", refused)
            self.assertIn("407", refused["error"])
        finally:
            for n in (a, bad, b):
                n.stop()
            k.stop()


if __name__ == "__main__":
    unittest.main()
