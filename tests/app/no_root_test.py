"""serve gives up root (issue 14, app/privileges.hpp): started as root it runs as [node] user, so do
the converters it starts; it owns its data directory, works under a private (0700) parent, and takes
over a data directory an earlier run as root made."""
import glob
import os
import pwd
import subprocess
import time
import unittest

import fbtest
from offramp_test import Node


CAP_SYS_NICE = 1 << 23


def seccomp_mode(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return [int(line.split()[1]) for line in f if line.startswith("Seccomp:")][0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def creds(pid):
    """(uids, the union of the permitted and effective capabilities) of every thread of `pid`."""
    uids, caps = set(), 0
    for task in glob.glob("/proc/%d/task/*/status" % pid):
        try:
            with open(task) as f:
                for line in f:
                    if line.startswith("Uid:"):
                        uids.update(int(x) for x in line.split()[1:])
                    elif line.startswith(("CapPrm:", "CapEff:")):
                        caps |= int(line.split()[1], 16)
        except FileNotFoundError:
            pass  # the thread ended
    return uids, caps


def descendants(pid):
    """{pid: has children} for every process below `pid`."""
    parent = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parent[int(stat.split("/")[2])] = int(fields[1])
    below, todo = {}, [pid]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p and c not in below:
                below[c] = False
                todo.append(c)
    for c in below:
        below[c] = any(pp == c for pp in parent.values())
    return below


@unittest.skipUnless(os.geteuid() == 0, "serve drops root only when started as root")
class NoRootTest(fbtest.TempDirTest):
    def setUp(self):
        super().setUp()
        self.fb = pwd.getpwnam("faxbridge")

    def send_text(self, node, pages=1):
        body = "\r\n".join("line %d of a long letter" % i for i in range(60 * pages))
        with node.smtp() as s:
            s.sendmail("alice@example.com", ["FAX=+15550100@fax.test"],
                       ("From: alice@example.com\r\nTo: FAX=+15550100@fax.test\r\nSubject: t\r\n\r\n%s\r\n" % body).encode())

    def test_serve_and_its_converters_run_as_the_node_user_without_capabilities(self):
        # The data directory's parent is private to root, as a checkout under /root is.
        self.assertEqual(os.stat(self.dir).st_mode & 0o777, 0o700)
        workdir = self.path("node")
        os.makedirs(workdir, mode=0o700)
        node = Node(workdir)
        self.addCleanup(node.stop)
        uids, caps = creds(node.proc.pid)
        self.assertEqual(uids, {self.fb.pw_uid}, "every thread's real, effective, saved and file uid")
        # Only the media threads' priority (where the test machine grants it at all); no port
        # below 1024 is configured, so no CAP_NET_BIND_SERVICE.
        self.assertEqual(caps & ~CAP_SYS_NICE, 0, "a thread kept a capability: %x" % caps)
        with open("/proc/%d/status" % node.proc.pid) as f:
            bounding = [int(line.split()[1], 16) for line in f if line.startswith("CapBnd:")][0]
        self.assertEqual(bounding & ~CAP_SYS_NICE, 0, "the bounding set still holds %x" % bounding)
        # The converter: catch it at work on a long text and look at who it runs as.
        self.send_text(node, pages=600)
        seen, workers, looks = set(), {}, 0
        deadline = time.time() + 60
        # The converter and its jail: every process below serve runs as the node's user, and the
        # one that reads the document (under seccomp) holds no capability, not even in its user
        # namespace.
        while not workers and time.time() < deadline:
            for c in descendants(node.proc.pid):
                u, caps = creds(c)
                seen |= u
                if seccomp_mode(c) == 2:
                    workers[c] = caps
            looks += 1
            if not workers:
                time.sleep(0.01)
        self.assertTrue(workers, "no document process was seen in %d looks" % looks)
        self.assertEqual(seen, {self.fb.pw_uid})
        self.assertEqual(list(workers.values()), [0] * len(workers), "the document's process holds a capability")
        [job] = node.wait_jobs(1, timeout=120)
        self.assertNotEqual(job["state"], "failed", job)
        self.assertGreater(job["pages"], 1)
        # What it wrote is its own; nothing is left to root.
        var = os.path.join(workdir, "var")
        for path in [var, os.path.join(var, "faxbridge.db"), os.path.join(var, "admin.token")] + \
                glob.glob(os.path.join(var, "spool", "*", "*")):
            with self.subTest(path=path):
                self.assertEqual(os.lstat(path).st_uid, self.fb.pw_uid)

    def test_a_data_directory_made_by_root_is_taken_over(self):
        workdir = self.path("node")
        os.makedirs(workdir)
        first = Node(workdir, node_extra='user = "root"')
        self.send_text(first)
        first.wait_jobs(1, states=("ready", "sending", "retry"), timeout=60)
        first.stop()
        var = os.path.join(workdir, "var")
        self.assertEqual(os.stat(os.path.join(var, "faxbridge.db")).st_uid, 0)
        self.assertEqual(pwd.getpwuid(os.stat(var).st_uid).pw_name, "root")
        node = Node(workdir)
        self.addCleanup(node.stop)
        with open(node.log.name) as f:
            self.assertRegex(f.read(), r"took ownership of \d+ file\(s\) in %s for faxbridge" % var)
        # It goes on with what the root run queued, and takes new mail.
        self.send_text(node)
        jobs = node.wait_jobs(2, states=("ready", "sending", "retry"), timeout=60)
        self.assertEqual(len(jobs), 2)
        for path in glob.glob(os.path.join(var, "**"), recursive=True):
            with self.subTest(path=path):
                self.assertEqual(os.lstat(path).st_uid, self.fb.pw_uid)

    def test_an_unknown_user_or_a_system_directory_is_a_start_up_error(self):
        cases = [('[node]\ndata_dir = "%s"\nuser = "no-such-fax-user"\n' % self.path("var"),
                  "[node] user no-such-fax-user: no such user"),
                 ('[node]\ndata_dir = "/var"\n', "data_dir /var is a system directory"),
                 ('[node]\ndata_dir = "/etc/faxbridge-test"\n', "data_dir /etc/faxbridge-test is a system directory"),
                 ('[node]\ndata_dir = "%s"\n' % self.path("alices"), "data_dir %s belongs to nobody" % self.path("alices"))]
        os.makedirs(self.path("alices"))
        os.chown(self.path("alices"), 65534, 65534)  # a directory of another user's (a home)
        for toml, message in cases:
            with self.subTest(message=message):
                cfg = self.path("bad.toml")
                with open(cfg, "w") as f:
                    f.write(toml + '[smtp]\nlisten = []\n[http]\nlisten = []\n[sip]\nlisten = []\n')
                p = subprocess.run([fbtest.FAXBRIDGE, "serve", "--config", cfg], capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(message, p.stderr)
        self.assertEqual(os.stat("/var").st_uid, 0)
        self.assertFalse(os.path.exists("/etc/faxbridge-test"))
        self.assertEqual(os.stat(self.path("alices")).st_uid, 65534)


if __name__ == "__main__":
    unittest.main()
