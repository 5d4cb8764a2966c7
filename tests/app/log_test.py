"""Structured logs (issue 16): `[log] format = "json"` makes every line the daemon writes one JSON
object with time, level, component and, on every line about a job, the job's id, and on every
line about a call its SIP Call-ID; `t30_trace` brings spandsp's T.30 trace of each call into the
same log, each line with its job and call; `logfmt`
writes key=value lines. Observed on a real fax over T.38 from the node to itself."""
import json
import re
import unittest

import fbtest
from offramp_test import Node


class StructuredLogTest(fbtest.TempDirTest):
    def test_json_lines_with_jobs_and_the_t30_trace(self):
        node = Node(self.dir, trunk="self", extra='[log]\nformat = "json"\nt30_trace = true\n')
        self.addCleanup(node.stop)
        with node.smtp() as s:
            s.sendmail("a@example.com", ["FAX=+15550100@fax.test"],
                       b"From: a@example.com\r\nSubject: logged\r\n\r\nA LOGGED FAX\r\n")
        jobs = node.settle({"done", "failed"})
        node.stop()
        lines = open(node.log.name).read().splitlines()
        self.assertTrue(lines)
        objs = []
        for line in lines:
            o = json.loads(line)  # every line, or this fails naming it
            self.assertEqual(list(o)[:3], ["time", "level", "component"], line)
            self.assertRegex(o["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn(o["level"], ("debug", "info", "warn", "error"))
            # A line that names a job carries it as a field.
            m = re.search(r"(?<![A-Za-z0-9])job (\d+)(?![A-Za-z0-9])", o["msg"])
            if m:
                self.assertEqual(o.get("job"), int(m.group(1)), line)
            objs.append(o)
        self.assertIn("ready", [o["msg"] for o in objs])
        out = [j for j in jobs if j["direction"] == "out"][0]
        inn = [j for j in jobs if j["direction"] == "in"][0]
        self.assertEqual(out["state"], "done")
        # The T.30 trace of both ends, each line with its job.
        t30 = [o for o in objs if o["component"] == "t30"]
        self.assertTrue(any(o.get("job") == out["id"] for o in t30), t30[:5])
        self.assertTrue(any(o.get("job") == inn["id"] for o in t30), t30[:5])
        self.assertTrue(any("DCS" in o["msg"] for o in t30))
        self.assertTrue(any(o["component"] == "job" and o.get("job") == out["id"] and "done" in o["msg"] for o in objs))
        # The call: dialled, answered and ended, each line with its job and the SIP Call-ID; the
        # node called itself, so both ends name the same Call-ID, and so do their T.30 lines.
        calls = [o for o in objs if o["component"] == "call"]
        dialled = [o for o in calls if o.get("job") == out["id"] and "dialling +15550100 on trunk t" in o["msg"]]
        self.assertEqual(len(dialled), 1, calls)
        cid = dialled[0]["call"]
        self.assertRegex(cid, r"^\S+$")
        self.assertTrue(any(o.get("job") == out["id"] and o.get("call") == cid and "ended: done" in o["msg"] for o in calls), calls)
        self.assertTrue(any(o.get("job") == inn["id"] and o.get("call") == cid and "answering a call" in o["msg"] for o in calls), calls)
        self.assertTrue(any(o.get("job") == inn["id"] and o.get("call") == cid and "1 page(s) received" in o["msg"] for o in calls), calls)
        self.assertTrue(all(o.get("call") == cid for o in t30), [o for o in t30 if o.get("call") != cid][:3])

    def test_logfmt_lines(self):
        node = Node(self.dir, extra='[log]\nformat = "logfmt"\n')
        node.stop()
        lines = open(node.log.name).read().splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, r'^time=\S+Z level=(debug|info|warn|error) component=\S+( job=\d+)?( call=\S+)? msg=("(\\.|[^"\\])*"|\S+)$')
        self.assertIn("msg=ready", "\n".join(lines))


if __name__ == "__main__":
    unittest.main()
