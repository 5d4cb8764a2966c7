// sqlite.hpp — RAII over the SQLite C API for the job store: a connection, a prepared
// statement, a write transaction. Internal to queue/.
//
// The handles are declared, not defined, here so that job_store.hpp does not drag
// <sqlite3.h> into everything that includes it. Every failure becomes a StoreError whose
// message is "<operation>: <sqlite3_errmsg>".
// A connection is used by one thread at a time (the daemon's store thread): it is opened
// with SQLITE_OPEN_NOMUTEX.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "queue/sql.hpp"
#include "queue/store_error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace queue::sqlite {

struct DbClose {
  void operator()(sqlite3* db) const noexcept;
};
using Db = std::unique_ptr<sqlite3, DbClose>;

// Opens (creating if needed) a database file for reading and writing.
fb::Result<Db, StoreError> open(const std::string& path);

// The connection's last error as a StoreError (SQLITE_BUSY/LOCKED -> busy,
// SQLITE_CONSTRAINT -> conflict, anything else -> db).
StoreError last_error(sqlite3* db, std::string_view op);

// The store's pragmas: busy timeout, WAL (readers go on while one connection writes),
// synchronous=FULL (a COMMIT is on disk when it returns: what SMTP's 250 relies on), foreign keys.
StoreStatus configure(sqlite3* db, int busy_timeout_ms);

// Runs SQL that returns no rows we need (pragmas, DDL, BEGIN/COMMIT).
StoreStatus exec(sqlite3* db, const char* sql, std::string_view op);

// The job store's view of a connection (sql.hpp): BEGIN IMMEDIATE ... COMMIT.
std::unique_ptr<sql::Connection> connection(Db db);

class Stmt {
 public:
  static fb::Result<Stmt, StoreError> prepare(sqlite3* db, std::string_view sql, std::string op);

  // Binding errors (only possible through programming mistakes or SQLITE_TOOBIG) are kept
  // and reported by the next step(), so call sites can chain binds without checks.
  Stmt& bind_int(int i, int64_t v);
  Stmt& bind_opt_int(int i, std::optional<int64_t> v);
  Stmt& bind_text(int i, std::string_view v);
  Stmt& bind_blob(int i, std::string_view bytes);
  Stmt& bind_opt_text(int i, const std::optional<std::string>& v);

  fb::Result<bool, StoreError> step();  // true: a row is ready to read
  StoreStatus run();                    // steps to the end, ignoring rows
  void reset();                         // ready to bind and run again

  int64_t int64(int col) const;
  std::optional<int64_t> opt_int64(int col) const;
  std::string text(int col) const;
  std::string blob(int col) const;
  std::optional<std::string> opt_text(int col) const;

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* s) const noexcept;
  };
  Stmt(sqlite3* db, sqlite3_stmt* s, std::string op) : db_(db), s_(s), op_(std::move(op)) {}
  Stmt& note_bind(int rc);

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalize> s_;
  std::string op_;
  int bind_rc_ = 0;
};

// BEGIN IMMEDIATE ... COMMIT. IMMEDIATE takes the write lock at the start, so a second
// connection (another process, a CLI) waits for busy_timeout instead of failing when it
// would later upgrade a read lock. Destroyed without commit(): rolled back.
class Tx {
 public:
  static fb::Result<Tx, StoreError> begin(sqlite3* db, std::string op);
  Tx(Tx&& o) noexcept : db_(std::exchange(o.db_, nullptr)), op_(std::move(o.op_)) {}
  Tx& operator=(Tx&&) = delete;
  ~Tx();
  StoreStatus commit();

 private:
  Tx(sqlite3* db, std::string op) : db_(db), op_(std::move(op)) {}
  sqlite3* db_;
  std::string op_;
};

}  // namespace queue::sqlite
