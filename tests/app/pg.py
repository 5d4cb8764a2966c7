"""A private PostgreSQL server for the tests (testing-peers.md): Debian's postgresql-15, initdb'd in
a temporary directory and started with pg_ctl, as the postgres user when the tests run as root.
It listens on a Unix socket in that directory and, when asked, on a free loopback TCP port (nodes
in network namespaces or other users reach it there). Settings are the durable defaults: fsync on,
synchronous commits (what a node's 250 relies on)."""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def _bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise AssertionError("PostgreSQL is not installed (/usr/lib/postgresql/*/bin): run scripts/install-deps")
    return os.path.dirname(found[-1])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, tcp=True):
        self.bin = _bin()
        self.dir = tempfile.mkdtemp(prefix="fb-pg-")
        os.chmod(self.dir, 0o755)  # the node's user reaches the socket here
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = _free_port() if tcp else 5432
        self.tcp = tcp
        # A reaper in a session of its own stops the server and removes it once this process is
        # gone, however it ends (a failure, a kill, a CTest timeout): it waits for the end of a
        # pipe only this process holds.
        self._reaper = subprocess.Popen(
            [sys.executable, "-c", "import sys, subprocess, shutil; sys.stdin.read(); "
             "subprocess.run(sys.argv[1:-1], capture_output=True); shutil.rmtree(sys.argv[-1], True)",
             *(["runuser", "-u", "postgres", "--"] if self.as_postgres else []),
             os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop", self.dir],
            stdin=subprocess.PIPE, start_new_session=True)
        try:
            self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
            self.start()
            self.psql("postgres", "CREATE DATABASE fax")
        except BaseException:
            self.close()
            raise

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    def _run(self, tool, *args, check=True, timeout=120):
        cmd = [os.path.join(self.bin, tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("%s failed: %s%s" % (tool, p.stdout, p.stderr))
        return p

    def start(self):
        listen = "127.0.0.1" if self.tcp else ""
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w", "-t", "60",
                  "-o", "-k %s -p %d -c listen_addresses='%s'" % (self.dir, self.port, listen), "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self):
        self.stop()
        self.start()

    def url(self, db="fax"):
        """A libpq URI for the database `db`, over TCP when the server listens there (a node that
        changed its user, or lives in another namespace, reaches it), else over the socket."""
        if self.tcp:
            return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, db)
        return "postgresql:///%s?host=%s&port=%d&user=postgres" % (db, self.dir, self.port)

    def psql(self, db, sql):
        """Runs `sql` in `db`; returns the rows as lists of strings (unaligned, tab-separated)."""
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("psql %r: %s" % (sql, p.stderr))
        return [line.split("\t") for line in p.stdout.splitlines() if line]

    def close(self):
        self.stop("immediate")
        self._reaper.stdin.close()  # the reaper finds it stopped, and removes the directory
        self._reaper.wait(timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)
