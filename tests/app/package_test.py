"""The Debian package (issue 16, docs/install.md): `scripts/make-deb` (what `make deb` runs) packs
the Release build with its systemd unit and configuration; the package installs with
`apt-get install ./faxbridge_*.deb` on this machine, `systemd-analyze verify` accepts its unit,
and `faxbridge serve --config /etc/faxbridge/faxbridge.toml` runs as the faxbridge user and tells
systemd READY=1 (sd_notify, Type=notify). The package is purged afterwards. The daemon runs in a
network namespace of its own, so the packaged configuration's fixed loopback ports meet no other
test's."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import unittest

import fbtest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("dpkg-deb") and shutil.which("apt-get"),
                     "needs root and dpkg (the CI machine)")
class DebTest(fbtest.TempDirTest):
    def purge(self):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run("apt-get", "purge", "-y", "-q", "faxbridge", env=env)

    def test_the_package_installs_and_serves_as_the_faxbridge_user(self):
        build = os.path.dirname(os.path.dirname(fbtest.FAXBRIDGE))
        p = run(os.path.join(ROOT, "scripts", "make-deb"), build, self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        deb = p.stdout.strip().splitlines()[-1]
        self.assertRegex(os.path.basename(deb), r"^faxbridge_0\.1\.\d+\+g[0-9a-f]{10}_\w+\.deb$")
        fields = run("dpkg-deb", "-f", deb, "Package", "Depends", "Recommends").stdout
        self.assertIn("Package: faxbridge", fields)
        self.assertRegex(fields, r"Depends: .*libspandsp2.*libsqlite3-0.*adduser")
        self.assertIn("libreoffice-writer-nogui", fields)
        listing = run("dpkg-deb", "-c", deb).stdout
        for path in ("./usr/bin/faxbridge", "./lib/systemd/system/faxbridge.service", "./etc/faxbridge/faxbridge.toml"):
            self.assertIn(path, listing)
        self.assertEqual(run("dpkg-deb", "-f", deb, "Package").returncode, 0)

        # Installed on this machine, as a user would.
        had_data = os.path.exists("/var/lib/faxbridge")
        self.purge()
        self.addCleanup(self.purge)
        if not had_data:
            self.addCleanup(shutil.rmtree, "/var/lib/faxbridge", True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        p = run("apt-get", "install", "-y", "-q", "--no-install-recommends", deb, env=env, cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(run("dpkg-query", "-W", "-f", "${Status}", "faxbridge").stdout, "install ok installed")
        account = pwd.getpwnam("faxbridge")
        st = os.stat("/etc/faxbridge/faxbridge.toml")
        self.assertEqual((st.st_mode & 0o777, st.st_gid), (0o640, account.pw_gid))
        v = run("systemd-analyze", "verify", "/lib/systemd/system/faxbridge.service")
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertNotIn("faxbridge.service:", v.stdout + v.stderr)

        # Served from the packaged configuration, in a network namespace of its own, started as
        # root as an administrator would: it becomes the faxbridge user, and says READY=1.
        sock_path = os.path.join(self.dir, "notify.sock")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(sock_path)
        self.addCleanup(notify.close)
        os.chmod(self.dir, 0o755)
        os.chmod(sock_path, 0o777)  # (it writes after dropping root)
        log = open(os.path.join(self.dir, "serve.log"), "w")
        proc = subprocess.Popen(["unshare", "--net", "sh", "-c",
                                 "ip link set lo up && exec /usr/bin/faxbridge serve --config /etc/faxbridge/faxbridge.toml"],
                                stderr=log, env=dict(os.environ, NOTIFY_SOCKET=sock_path))
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        notify.settimeout(1)
        said = []
        deadline = time.time() + 60
        while "READY=1" not in said:
            self.assertLess(time.time(), deadline, open(log.name).read())
            self.assertIsNone(proc.poll(), open(log.name).read())
            try:
                said.append(notify.recv(4096).decode())
            except socket.timeout:
                pass
        with open("/proc/%d/status" % proc.pid) as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        self.assertEqual(set(uids), {str(account.pw_uid)})
        self.assertIn("faxbridge: ready", open(log.name).read())
        self.assertTrue(os.path.exists("/var/lib/faxbridge/faxbridge.db"))
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0, open(log.name).read())
        deadline = time.time() + 10
        while "STOPPING=1" not in said and time.time() < deadline:
            try:
                said.append(notify.recv(4096).decode())
            except socket.timeout:
                pass
        self.assertIn("STOPPING=1", said)


if __name__ == "__main__":
    unittest.main()
