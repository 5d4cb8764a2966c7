// sql.hpp — one SQL database as the job store sees it: a connection, a statement, a write
// transaction. Internal to queue/. Two backends implement it: SQLite (sqlite.hpp, the embedded
// default) and PostgreSQL through libpq (postgres.hpp, the cluster store), so the store's
// operations (sql_job_store.hpp) are written once.
//
// SQL DIALECT: the statements are written in the SQL both understand. Parameters are written
// ?1, ?2, ... (SQLite's numbered form; the PostgreSQL backend rewrites them to $1, $2, ...);
// integers are 64-bit, booleans are integers 0/1, and a statement that needs a backend's own
// form asks dialect().
// ERRORS: every failure is a StoreError "<operation>: <the database's message>"; a lock not
// obtained in time (or a serialization failure) is busy, a constraint violation conflict,
// anything else db.
// THREADS: a connection is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "queue/store_error.hpp"

namespace queue::sql {

enum class Dialect { sqlite, postgresql };

// One backend's statement: bind by 1-based index, then step through the rows.
class Statement {
 public:
  virtual ~Statement() = default;
  virtual void bind_int(int i, int64_t v) = 0;
  virtual void bind_text(int i, std::string_view v) = 0;
  virtual void bind_null(int i, bool text) = 0;  // a NULL of the integer or the text type
  virtual void bind_blob(int i, std::string_view bytes) = 0;  // any bytes (SQLite BLOB, PostgreSQL bytea)
  [[nodiscard]] virtual fb::Result<bool, StoreError> step() = 0;  // true: a row is ready to read
  virtual void reset() = 0;  // ready to bind and run again; the bindings are cleared
  virtual bool is_null(int col) const = 0;
  virtual int64_t int64(int col) const = 0;
  virtual std::string text(int col) const = 0;
  virtual std::string blob(int col) const = 0;  // the bytes of a blob column
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  [[nodiscard]] virtual fb::Result<std::unique_ptr<Statement>, StoreError> prepare(std::string_view sql,
                                                                                 const std::string& op) = 0;
  // SQL that returns no rows we need (DDL, several statements separated by ';').
  [[nodiscard]] virtual StoreStatus exec(const std::string& sql, std::string_view op) = 0;
  // A write transaction: writers of one store are serialized from begin() to commit(), so a
  // transaction that reads a row and then writes it sees no other writer between the two.
  [[nodiscard]] virtual StoreStatus begin(const std::string& op) = 0;
  // A claim's transaction (JobStore::claim): serialized with every begin() transaction, but not
  // with other claims, which lock the rows they take (PostgreSQL: SELECT ... FOR UPDATE SKIP
  // LOCKED; a claim of a row another claim holds skips it). Where writers are one at a time
  // anyway (SQLite), the same as begin().
  [[nodiscard]] virtual StoreStatus begin_claim(const std::string& op) { return begin(op); }
  [[nodiscard]] virtual StoreStatus commit(const std::string& op) = 0;  // durable when it returns
  virtual void rollback() noexcept = 0;                                 // when one is still open
  virtual int64_t changes() const = 0;  // the rows the last INSERT, UPDATE or DELETE changed
  // Which session this is: a new number each time the connection is opened again (what a
  // session holds, such as an advisory lock, did not survive the change).
  virtual uint64_t session() const { return 1; }
};

// A statement with chained binds (an error in one is reported by the next step()).
class Stmt {
 public:
  [[nodiscard]] static fb::Result<Stmt, StoreError> prepare(Connection& db, std::string_view sql, std::string op);

  Stmt& bind_int(int i, int64_t v) {
    s_->bind_int(i, v);
    return *this;
  }
  Stmt& bind_opt_int(int i, std::optional<int64_t> v) {
    v ? s_->bind_int(i, *v) : s_->bind_null(i, false);
    return *this;
  }
  Stmt& bind_text(int i, std::string_view v) {
    s_->bind_text(i, v);
    return *this;
  }
  Stmt& bind_opt_text(int i, const std::optional<std::string>& v) {
    v ? s_->bind_text(i, *v) : s_->bind_null(i, true);
    return *this;
  }
  Stmt& bind_blob(int i, std::string_view bytes) {
    s_->bind_blob(i, bytes);
    return *this;
  }

  [[nodiscard]] fb::Result<bool, StoreError> step() { return s_->step(); }
  [[nodiscard]] StoreStatus run();  // steps to the end, ignoring rows
  void reset() { s_->reset(); }

  int64_t int64(int col) const { return s_->int64(col); }
  std::optional<int64_t> opt_int64(int col) const {
    return s_->is_null(col) ? std::nullopt : std::optional<int64_t>(s_->int64(col));
  }
  std::string text(int col) const { return s_->text(col); }
  std::optional<std::string> opt_text(int col) const {
    return s_->is_null(col) ? std::nullopt : std::optional<std::string>(s_->text(col));
  }
  std::string blob(int col) const { return s_->blob(col); }

 private:
  explicit Stmt(std::unique_ptr<Statement> s) : s_(std::move(s)) {}
  std::unique_ptr<Statement> s_;
};

// begin() ... commit(); destroyed without commit(): rolled back. The commit's time is observed
// as faxbridge_store_commit_seconds.
class Tx {
 public:
  [[nodiscard]] static fb::Result<Tx, StoreError> begin(Connection& db, std::string op);
  [[nodiscard]] static fb::Result<Tx, StoreError> begin_claim(Connection& db, std::string op);  // Connection::begin_claim
  Tx(Tx&& o) noexcept : db_(std::exchange(o.db_, nullptr)), op_(std::move(o.op_)) {}
  Tx& operator=(Tx&&) = delete;
  ~Tx();
  [[nodiscard]] StoreStatus commit();

 private:
  Tx(Connection* db, std::string op) : db_(db), op_(std::move(op)) {}
  Connection* db_;
  std::string op_;
};

}  // namespace queue::sql
