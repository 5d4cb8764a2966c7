"""End-to-end fax over SIP and T.38: a real `faxbridge serve` whose trunk points at its own SIP
listener (the `loopback` trunk of the embedded default), fed by swaks. The mail is rendered,
dialled, sent over T.38 in real time, received by the same node and recorded as an inbound job;
the received bitmaps are compared with the sent ones row by row (below the page header line the
sender adds), and the T.30 subaddress of the RFC 3192 address arrives in the SUB frame."""
import os
import time
import unittest

import fbtest
from offramp_test import Node


def normalised_rows(page):
    """Rows of a decoded page as bytes, black = 1, MSB first, whatever the TIFF said."""
    width, height, raster, photometric, fillorder = page
    if fillorder == 2:
        raster = bytes(int("{:08b}".format(b)[::-1], 2) for b in raster)
    if photometric == 1:
        raster = bytes(b ^ 0xFF for b in raster)
    stride = (width + 7) // 8
    return [raster[i * stride:(i + 1) * stride] for i in range(height)]


def wait_for(node, predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        jobs = node.jobs()
        if predicate(jobs):
            return jobs
        time.sleep(0.5)
    raise AssertionError("timed out; jobs: %s\n%s" % (node.jobs(), open(node.log.name).read()))


class FaxLoopTest(fbtest.TempDirTest):
    def test_itu_charts_arrive_bit_exact_with_subaddress_and_idents(self):
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        charts = self.path("charts.tif")
        fbtest.run("convert", "--resolution", "fine", "-o", charts, fbtest.itu_chart(1), fbtest.itu_chart(4), check=0)
        os.makedirs(self.path("node"))
        node = Node(self.path("node"), trunk="self")
        try:
            node.send_tiff("FAX=+15550100/T33S=42@fax.test", charts)
            jobs = wait_for(node, lambda js: len(js) == 2 and all(j["state"] in ("done", "failed")
                                                                  for j in js), 240)
            out = next(j for j in jobs if j["direction"] == "out")
            inn = next(j for j in jobs if j["direction"] == "in")
            self.assertEqual((out["state"], out["pages"], out["pages_done"], out["bad_rows"], out["error"]),
                             ("done", 2, 2, 0, None), out)
            self.assertEqual(out["remote_ident"], "+15550100")  # the receiver's CSID: our station id
            self.assertEqual((inn["state"], inn["number"], inn["caller"], inn["subaddress"]),
                             ("done", "+15550100", "+15550100", "42"), inn)
            self.assertEqual((inn["pages"], inn["bad_rows"], inn["remote_ident"]), (2, 0, "+15550100"))

            spool = os.path.join(node.dir, "var", "spool")
            sent = fbtest.decode_with_libtiff(os.path.join(spool, "fax", "%d.tif" % out["id"]), self.dir)
            got = fbtest.decode_with_libtiff(fbtest.received_tiff(node.dir, inn["id"]), self.dir)
            self.assertEqual(len(got), 2)
            for n, (s, g) in enumerate(zip(sent, got), 1):
                with self.subTest(page=n):
                    srows, grows = normalised_rows(s), normalised_rows(g)
                    self.assertEqual(g[0], 1728)
                    header = len(grows) - len(srows)
                    self.assertGreater(header, 0, "the header line adds rows above the page")
                    self.assertLess(header, 100)
                    self.assertTrue(any(any(r) for r in grows[:header]), "the header band has text")
                    self.assertEqual(grows[header:], srows, "the page below the header differs from what was sent")
        finally:
            node.stop()

    def test_kill_9_mid_fax_leaves_no_job_without_an_owner(self):
        """kill -9 while a fax is in flight (the node is both ends): after the restart the
        outbound job is due again and the inbound one is closed, with what reached the spool."""
        if not fbtest.have_itu():
            self.skipTest("no ITU corpus")
        charts = self.path("charts.tif")
        fbtest.run("convert", "-o", charts, fbtest.itu_chart(1), fbtest.itu_chart(2), fbtest.itu_chart(3), check=0)
        os.makedirs(self.path("node"))
        node = Node(self.path("node"), trunk="self")
        try:
            node.send_tiff("FAX=+15550100@fax.test", charts)
            # Kill once the first page has arrived and the call is still on.
            wait_for(node, lambda js: any(j["direction"] == "in" for j in js) and os.path.exists(
                os.path.join(node.dir, "var", "spool", "in", "%d.tif" % max(j["id"] for j in js))) and os.path.getsize(
                os.path.join(node.dir, "var", "spool", "in", "%d.tif" % max(j["id"] for j in js))) > 20000, 120)
            node.proc.kill()
            node.proc.wait()
        finally:
            node.stop()
        node = Node(self.path("node"), trunk="self", extra="[retry]\nfailure_delay_s = 600\n")
        try:
            jobs = wait_for(node, lambda js: any(j["id"] == 2 and j["state"] != "receiving" for j in js), 30)
            first = {j["id"]: j for j in jobs if j["id"] <= 2}
            out, inn = first[1], first[2]
            self.assertEqual(out["direction"], "out")
            # Due again at once: it may already be on its second call.
            self.assertIn(out["state"], ("ready", "sending", "retry", "done"), out)
            self.assertIn(inn["state"], ("delivering", "done", "failed"), inn)
            self.assertIn("The node stopped during the reception", inn["error"])
            if inn["state"] != "failed":
                self.assertGreaterEqual(inn["pages"], 1)
        finally:
            node.stop()


if __name__ == "__main__":
    unittest.main()
