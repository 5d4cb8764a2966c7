"""Faxes between two faxbridge nodes through the seeded impairment relay (impair.py): with 5% and
10% UDPTL loss, ECM and redundancy 3 deliver every row; with 2% loss and no redundancy the
result is honest (a failure, or the bad rows reported, or a clean and bit-exact page — never a
clean report of a damaged page); a far end that goes silent mid-fax ends both calls within 30 s.
The scenarios are real-time (a page takes ~20 s at 14400 bit/s), so they run concurrently."""
import os
import threading
import time
import unittest

import fbtest
from fax_loop_test import normalised_rows
from impair import Impairment, Relay
from offramp_test import Node

FINAL_OUT = ("done", "failed", "retry")
FINAL_IN = ("failed", "done")  # delivered as mail (to the postmaster: these nodes have no route)


class Pair:
    """Node A faxes through the relay to node B."""

    def __init__(self, workdir, imp, ec="redundancy"):
        os.makedirs(os.path.join(workdir, "b"))
        os.makedirs(os.path.join(workdir, "a"))
        self.b = Node(os.path.join(workdir, "b"))
        self.relay = Relay(self.b.sip_port, imp)
        slow = "[retry]\nfailure_delay_s = 600\nbusy_delay_s = 600\nno_answer_delay_s = 600\n"
        # T.38 from the first INVITE (t38 = "only"): this is about UDPTL under loss, and the relay
        # carries only what A sends through it (B's own re-INVITE would go straight to A).
        self.a = Node(os.path.join(workdir, "a"), trunk="sip:127.0.0.1:%d" % self.relay.port,
                      trunk_extra='udptl_ec = "%s"\nt38 = "only"' % ec, extra=slow)

    def send(self, tif):
        self.a.send_tiff("FAX=+15550100@fax.test", tif)

    def wait(self, timeout=240):
        deadline = time.time() + timeout
        while time.time() < deadline:
            a, b = self.a.jobs(), self.b.jobs()
            if a and a[0]["state"] in FINAL_OUT and b and b[0]["state"] in FINAL_IN:
                return a[0], b[0], time.monotonic()
            time.sleep(0.5)
        raise AssertionError("did not settle: %s %s\n%s" % (self.a.jobs(), self.b.jobs(), open(self.a.log.name).read()))

    def close(self):
        self.a.stop()
        self.b.stop()
        self.relay.close()


class FaxLossTest(fbtest.TempDirTest):
    def test_loss_scenarios_concurrently(self):
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        tif = self.path("chart.tif")
        fbtest.run("convert", "--resolution", "fine", "-o", tif, fbtest.itu_chart(1), check=0)
        scenarios = {
            "loss10": (Impairment(loss=0.10, jitter_ms=30, seed=10), "redundancy"),
            "loss5": (Impairment(loss=0.05, jitter_ms=30, duplicate=0.02, seed=5), "redundancy"),
            "loss2-noec": (Impairment(loss=0.02, seed=2), "none"),
            "silent": (Impairment(blackhole_after_s=12, seed=3), "redundancy"),
        }
        pairs, results, errors = {}, {}, {}

        def run(name, imp, ec):
            try:
                p = Pair(self.path(name), imp, ec)
                pairs[name] = p
                p.send(tif)
                results[name] = p.wait()
            except Exception as e:  # reported below, per scenario
                errors[name] = e

        threads = [threading.Thread(target=run, args=(n, *s)) for n, s in scenarios.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            self.assertEqual(errors, {})
            for name, (out, inn, ended) in sorted(results.items()):
                r = pairs[name].relay
                print("%s: media %d lost %d dup %d | out %s %s/%s bad %s (%s) | in %s %s pages bad %s (%s)" % (
                    name, r.stats["media"], r.stats["lost"], r.stats["duplicated"], out["state"], out["pages_done"],
                    out["pages"], out["bad_rows"], out["error"], inn["state"], inn["pages"], inn["bad_rows"], inn["error"]))
            for name in ("loss10", "loss5"):
                with self.subTest(scenario=name):
                    out, inn, _ = results[name]
                    relay = pairs[name].relay
                    self.assertGreater(relay.stats["lost"], 0.5 * scenarios[name][0].loss * relay.stats["media"])
                    self.assertEqual((out["state"], out["pages_done"], out["bad_rows"]), ("done", 1, 0), out)
                    self.assertEqual((inn["state"], inn["pages"], inn["bad_rows"]), ("done", 1, 0), inn)
                    self.assertEqual(self.received_rows(pairs[name], out, inn)[0], self.received_rows(pairs[name], out, inn)[1])
            with self.subTest(scenario="loss2-noec"):
                out, inn, _ = results["loss2-noec"]
                self.assertGreater(pairs["loss2-noec"].relay.stats["lost"], 0)
                if out["state"] == "done" and inn["bad_rows"] == 0 and inn["state"] == "done":
                    sent, got = self.received_rows(pairs["loss2-noec"], out, inn)
                    self.assertEqual(sent, got, "reported clean, but the page differs")
                else:
                    self.assertTrue(out["state"] != "done" or inn["bad_rows"] > 0, (out, inn))
                    self.assertTrue(out["error"] or inn["bad_rows"] or inn["error"], (out, inn))
            with self.subTest(scenario="silent"):
                out, inn, ended = results["silent"]
                relay = pairs["silent"].relay
                self.assertNotEqual(out["state"], "done", out)
                self.assertIsNotNone(out["error"])
                silent_since = relay.started + scenarios["silent"][0].blackhole_after_s
                self.assertLess(ended - silent_since, 30, "calls must end within 30 s of the far end going silent")
        finally:
            for p in pairs.values():
                p.close()

    def received_rows(self, pair, out, inn):
        sent = fbtest.decode_with_libtiff(os.path.join(pair.a.dir, "var", "spool", "fax", "%d.tif" % out["id"]), pair.a.dir)
        got = fbtest.decode_with_libtiff(fbtest.received_tiff(pair.b.dir, inn["id"]), pair.b.dir)
        srows, grows = normalised_rows(sent[0]), normalised_rows(got[0])
        return srows, grows[len(grows) - len(srows):]


if __name__ == "__main__":
    unittest.main()
