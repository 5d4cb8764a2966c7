"""GET /metrics scraped by a real Prometheus (issue 16): during a fax over a real T.38 call (the
node's trunk is its own SIP port) Prometheus scrapes the node every second, and its query API
returns the pages sent and received, the calls by outcome, the SMTP replies by code and the
rendering time. From loopback the scrape needs no token."""
import json
import os
import subprocess
import time
import unittest
import urllib.parse
import urllib.request

import fbtest
from offramp_test import Node, free_port

PROMETHEUS = "/usr/bin/prometheus"


@unittest.skipUnless(os.path.exists(PROMETHEUS), "Prometheus is not installed (apt-get install prometheus)")
class PrometheusTest(fbtest.TempDirTest):
    def prometheus(self, target):
        d = self.path("prometheus")
        os.makedirs(d)
        with open(os.path.join(d, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: faxbridge\n    static_configs:\n"
                    "      - targets: ['%s']\n" % target)
        self.prom_port = free_port()
        log = open(os.path.join(d, "prometheus.log"), "w")
        proc = subprocess.Popen([PROMETHEUS, "--config.file", os.path.join(d, "prometheus.yml"),
                                 "--storage.tsdb.path", os.path.join(d, "data"),
                                 "--web.listen-address", "127.0.0.1:%d" % self.prom_port], stdout=log, stderr=log)

        def stop():
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        self.addCleanup(stop)
        self.prom_log = log.name
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.prom_port, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                with open(self.prom_log) as f:
                    raise AssertionError("prometheus did not start: " + f.read()[-2000:])
            time.sleep(0.2)

    def query(self, expr):
        """The instant vector of `expr`: {labels as a sorted tuple: value}."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (self.prom_port, urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=10) as r:
            data = json.loads(r.read())
        self.assertEqual(data["status"], "success", data)
        return {tuple(sorted((k, v) for k, v in x["metric"].items() if k not in ("instance", "job", "__name__"))): float(x["value"][1])
                for x in data["data"]["result"]}

    def wait_query(self, expr, want, timeout=120):
        deadline = time.time() + timeout
        while True:
            got = self.query(expr)
            if got == want:
                return
            self.assertLess(time.time(), deadline, "%s: %s, wanted %s" % (expr, got, want))
            time.sleep(0.5)

    def test_a_fax_is_counted_where_prometheus_can_read_it(self):
        node = Node(self.dir, trunk="self")
        self.addCleanup(node.stop)
        # From loopback no token is needed; the text is Prometheus's.
        with urllib.request.urlopen(node.server + "/metrics", timeout=10) as r:
            self.assertEqual(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
            text = r.read().decode()
        self.assertIn("# TYPE faxbridge_pages_total counter\n", text)
        self.assertIn('faxbridge_trunk_up{trunk="t"} 1\n', text)
        self.prometheus("127.0.0.1:%d" % node.http_port)
        self.wait_query('up{job="faxbridge"}', {(): 1.0})
        # A fax by mail (SMTP replies) to the node's own DID: sent and received over T.38.
        pdf = self.path("letter.pdf")
        with open(pdf, "wb") as f:
            f.write(fbtest.pdf_with_pages(["COUNTED"])[0])
        faxes = 1
        if fbtest.have_itu():
            tif = self.path("chart.tif")
            fbtest.run("convert", "-o", tif, fbtest.itu_chart(1), check=0)
            node.send_tiff("FAX=+15550100@fax.test", tif)
            faxes = 2
        p = subprocess.run([fbtest.FAXBRIDGE, "send", "--to", "+15550100", pdf, "--server", node.server, "--config",
                            node.config], capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, (p.stdout, p.stderr))
        node.settle(("done",))
        self.wait_query("faxbridge_pages_total", {(("direction", "out"),): float(faxes), (("direction", "in"),): float(faxes)})
        self.wait_query('faxbridge_calls_total{direction="out"}', {(("direction", "out"), ("outcome", "done")): float(faxes)})
        self.wait_query('faxbridge_jobs{state="done"}', {(("direction", "out"), ("state", "done")): float(faxes),
                                                         (("direction", "in"), ("state", "done")): float(faxes)})
        if fbtest.have_itu():
            got = self.query('faxbridge_smtp_replies_total{code="250"}')
            self.assertGreaterEqual(list(got.values())[0], 4.0, got)  # EHLO, MAIL, RCPT, DATA
        got = self.query("faxbridge_convert_seconds_count")
        self.assertEqual(sum(got.values()), float(faxes), got)
        self.assertEqual(self.query("faxbridge_trunk_channels_in_use"), {(("trunk", "t"),): 0.0})


if __name__ == "__main__":
    unittest.main()
