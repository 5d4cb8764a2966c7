// pg_server.hpp — a private PostgreSQL server for the store tests (testing-peers.md): Debian's
// postgresql, initdb'd in a temporary directory and started with pg_ctl on a Unix socket in that
// directory only (no TCP port), as the postgres user when the tests run as root. Started at first
// use, stopped and removed when the test process ends. Each test gets a schema of its own in one
// database, so a store opened in it starts empty.
//
// The server runs with fsync off: its data are scratch, and what the tests check is the store's
// logic. The store still asks for synchronous commits (postgres.hpp).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <libpq-fe.h>
#include <cerrno>
#include <fcntl.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace queue_test {

class PgServer {
 public:
  // The server, started at the first call; nullptr (and a test failure naming why) when it
  // cannot start.
  static PgServer* get() {
    static std::unique_ptr<PgServer> server = start();
    return server.get();
  }

  // A libpq URI of the test database with `schema` first in the search path.
  std::string url(const std::string& schema) const {
    return "postgresql:///fbtest?host=" + dir_ + "&port=5432&user=postgres&options=-csearch_path%3D" + schema;
  }

  // The directory of the server's Unix socket (.s.PGSQL.5432).
  const std::string& socket_dir() const { return dir_; }

  // The schema of a test's directory (every open in one test reaches the same store),
  // created at its first use.
  std::string schema_for(const std::string& dir) {
    auto it = schemas_.find(dir);
    if (it != schemas_.end()) return it->second;
    const std::string name = "t" + std::to_string(schemas_.size() + 1);
    if (!exec("fbtest", "CREATE SCHEMA " + name)) ADD_FAILURE() << "CREATE SCHEMA " << name;
    return schemas_[dir] = name;
  }

  // One value of `sql` in `schema`, read as psql would show it: "<none>" without a row,
  // "<null>" for NULL, "<error>" when it fails.
  std::string scalar(const std::string& schema, const std::string& sql) const {
    PGconn* c = PQconnectdb(url(schema).c_str());
    std::string out = "<error>";
    if (PQstatus(c) == CONNECTION_OK) {
      PGresult* r = PQexec(c, sql.c_str());
      if (PQresultStatus(r) == PGRES_TUPLES_OK)
        out = PQntuples(r) == 0 ? "<none>" : PQgetisnull(r, 0, 0) ? "<null>" : PQgetvalue(r, 0, 0);
      PQclear(r);
    }
    PQfinish(c);
    return out;
  }

  ~PgServer() {
    if (getpid() != owner_ || reaper_ <= 0) return;  // a forked test process leaves the server alone
    close(keep_alive_);  // the reaper stops the server and removes its directory
    waitpid(reaper_, nullptr, 0);
  }

 private:
  static std::string newest_bin() {
    std::string best;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      const std::string bin = e.path().string() + "/bin";
      if (std::filesystem::exists(bin + "/pg_ctl") && bin > best) best = bin;
    }
    return best;
  }

  // As the postgres user when root (initdb and postgres refuse to run as root).
  int run(const std::string& cmd) const {
    return std::system(((geteuid() == 0 ? "runuser -u postgres -- " : "") + cmd).c_str());
  }

  bool exec(const std::string& db, const std::string& sql) const {
    PGconn* c = PQconnectdb(("postgresql:///" + db + "?host=" + dir_ + "&port=5432&user=postgres").c_str());
    bool ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
      PGresult* r = PQexec(c, sql.c_str());
      ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      if (!ok) ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
      PQclear(r);
    } else {
      ADD_FAILURE() << "connect to the test PostgreSQL: " << PQerrorMessage(c);
    }
    PQfinish(c);
    return ok;
  }

  static std::unique_ptr<PgServer> start() {
    auto s = std::unique_ptr<PgServer>(new PgServer);
    s->bin_ = newest_bin();
    if (s->bin_.empty()) {
      ADD_FAILURE() << "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/pg_ctl): run scripts/install-deps";
      return nullptr;
    }
    std::string tmpl = "/tmp/fb-pg-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      ADD_FAILURE() << "mkdtemp " << tmpl;
      return nullptr;
    }
    s->dir_ = tmpl;
    if (geteuid() == 0) {
      const passwd* pw = getpwnam("postgres");
      if (!pw || chown(s->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        ADD_FAILURE() << "no postgres user to run the test PostgreSQL as";
        return nullptr;
      }
    }
    const std::string d = s->dir_;
    if (s->run(s->bin_ + "/initdb -D " + d + "/data -A trust -U postgres -E UTF8 --no-sync >" + d +
               "/initdb.log 2>&1") != 0) {
      ADD_FAILURE() << "initdb failed: see " << d << "/initdb.log";
      return nullptr;
    }
    if (s->run(s->bin_ + "/pg_ctl -D " + d + "/data -l " + d + "/server.log -w -t 60 -o \"-k " + d +
               " -p 5432 -c listen_addresses='' -c fsync=off -c full_page_writes=off\" start >/dev/null") != 0) {
      ADD_FAILURE() << "pg_ctl start failed: see " << d << "/server.log";
      return nullptr;
    }
    // A reaper stops the server and removes it once this process is gone, however it ends (a
    // crash or a kill as well): it waits for the end of a pipe only this process holds open.
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return nullptr;
    s->reaper_ = fork();
    if (s->reaper_ == 0) {
      setsid();  // a timeout that kills the test's process group leaves the reaper to clean up
      close(fds[1]);
      char c;
      while (read(fds[0], &c, 1) != 0 && errno == EINTR) {
      }
      s->run(s->bin_ + "/pg_ctl -D " + d + "/data -m immediate -w stop >/dev/null 2>&1");
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
      _exit(0);
    }
    close(fds[0]);
    s->keep_alive_ = fds[1];
    if (!s->exec("postgres", "CREATE DATABASE fbtest")) return nullptr;
    return s;
  }

  PgServer() : owner_(getpid()) {}

  std::string bin_, dir_;
  pid_t owner_;
  pid_t reaper_ = -1;
  int keep_alive_ = -1;
  std::map<std::string, std::string> schemas_;
};

}  // namespace queue_test
