// sqlite.cpp — RAII over the SQLite C API (see sqlite.hpp).
#include "queue/sqlite.hpp"

#include <chrono>
#include <cstring>
#include <mutex>

#include <sqlite3.h>
#include <sys/stat.h>

#include "core/metrics.hpp"

namespace queue::sqlite {

void DbClose::operator()(sqlite3* db) const noexcept {
  sqlite3_close_v2(db);
}
void Stmt::Finalize::operator()(sqlite3_stmt* s) const noexcept {
  sqlite3_finalize(s);
}

namespace {

StoreErrc code_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StoreErrc::busy;
    case SQLITE_CONSTRAINT:
      return StoreErrc::conflict;
    default:
      return StoreErrc::db;
  }
}

}  // namespace

namespace {

// SQLite's unix VFS turns a relative file name into an absolute one (getcwd + name) before it
// opens it. serve works inside its data directory and may not search that directory's parents
// (a checkout in /root: app/privileges.hpp), so the absolute name fails where the relative one
// works. This VFS is the unix one but keeps a relative name as it is: the process never changes
// its working directory once it has opened a store, and the unix VFS locks by inode, not name.
sqlite3_vfs* g_unix = nullptr;
sqlite3_vfs g_relative{};

int keep_relative(sqlite3_vfs*, const char* in, int out_size, char* out) {
  if (in[0] == '/') return g_unix->xFullPathname(g_unix, in, out_size, out);
  // A store that is a link: its -wal and -shm would go beside the link here, beside the file
  // for a tool that opens the other name. Two logs of one database lose commits: refuse.
  struct stat st {};
  if (::lstat(in, &st) == 0 && S_ISLNK(st.st_mode)) return SQLITE_CANTOPEN;
  const size_t n = std::strlen(in);
  if (n + 1 > size_t(out_size)) return SQLITE_CANTOPEN;
  std::memcpy(out, in, n + 1);
  return SQLITE_OK;
}

const char* relative_vfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_unix = sqlite3_vfs_find("unix");
    if (!g_unix) return;
    g_relative = *g_unix;
    g_relative.zName = "faxbridge-relative";
    g_relative.pNext = nullptr;
    g_relative.xFullPathname = keep_relative;
    if (sqlite3_vfs_register(&g_relative, 0) != SQLITE_OK) g_unix = nullptr;
  });
  return g_unix ? "faxbridge-relative" : nullptr;
}

}  // namespace

fb::Result<Db, StoreError> open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, relative_vfs());
  Db db(raw);  // a handle comes back even on failure, and must be closed
  if (rc != SQLITE_OK) {
    return StoreError{code_of(rc), "open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))};
  }
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

StoreError last_error(sqlite3* db, std::string_view op) {
  return StoreError{code_of(sqlite3_extended_errcode(db)), std::string(op) + ": " + sqlite3_errmsg(db)};
}

StoreStatus exec(sqlite3* db, const char* sql, std::string_view op) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return last_error(db, op);
  return fb::Unit{};
}

fb::Result<Stmt, StoreError> Stmt::prepare(sqlite3* db, std::string_view sql, std::string op) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.data(), int(sql.size()), &s, nullptr) != SQLITE_OK) {
    return last_error(db, op + ": prepare");
  }
  return Stmt(db, s, std::move(op));
}

Stmt& Stmt::note_bind(int rc) {
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Stmt& Stmt::bind_int(int i, int64_t v) {
  return note_bind(sqlite3_bind_int64(s_.get(), i, v));
}

Stmt& Stmt::bind_opt_int(int i, std::optional<int64_t> v) {
  return v ? bind_int(i, *v) : note_bind(sqlite3_bind_null(s_.get(), i));
}

Stmt& Stmt::bind_text(int i, std::string_view v) {
  return note_bind(sqlite3_bind_text64(s_.get(), i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

Stmt& Stmt::bind_blob(int i, std::string_view v) {
  return note_bind(sqlite3_bind_blob64(s_.get(), i, v.data(), v.size(), SQLITE_TRANSIENT));
}

Stmt& Stmt::bind_opt_text(int i, const std::optional<std::string>& v) {
  return v ? bind_text(i, *v) : note_bind(sqlite3_bind_null(s_.get(), i));
}

fb::Result<bool, StoreError> Stmt::step() {
  if (bind_rc_ != SQLITE_OK) {
    return StoreError{code_of(bind_rc_), op_ + ": bind: " + sqlite3_errstr(bind_rc_)};
  }
  int rc = sqlite3_step(s_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return last_error(db_, op_);
}

StoreStatus Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r) return r.error();
    if (!*r) return fb::Unit{};
  }
}

void Stmt::reset() {
  sqlite3_reset(s_.get());
  sqlite3_clear_bindings(s_.get());
  bind_rc_ = SQLITE_OK;
}

int64_t Stmt::int64(int col) const {
  return sqlite3_column_int64(s_.get(), col);
}

std::optional<int64_t> Stmt::opt_int64(int col) const {
  if (sqlite3_column_type(s_.get(), col) == SQLITE_NULL) return std::nullopt;
  return int64(col);
}

std::string Stmt::text(int col) const {
  // sqlite3_column_text before sqlite3_column_bytes: the first may convert the value, and the
  // length must be that of the converted text.
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_.get(), col));
  return p ? std::string(p, size_t(sqlite3_column_bytes(s_.get(), col))) : std::string();
}

std::string Stmt::blob(int col) const {
  auto p = static_cast<const char*>(sqlite3_column_blob(s_.get(), col));
  return p ? std::string(p, size_t(sqlite3_column_bytes(s_.get(), col))) : std::string();
}

std::optional<std::string> Stmt::opt_text(int col) const {
  if (sqlite3_column_type(s_.get(), col) == SQLITE_NULL) return std::nullopt;
  return text(col);
}

fb::Result<Tx, StoreError> Tx::begin(sqlite3* db, std::string op) {
  auto r = exec(db, "BEGIN IMMEDIATE", op + ": begin");
  if (!r) return r.error();
  return Tx(db, std::move(op));
}

StoreStatus Tx::commit() {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = exec(db_, "COMMIT", op_ + ": commit");
  fb::metrics::observe("faxbridge_store_commit_seconds", "Time the job store takes to commit a transaction durably",
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (r) db_ = nullptr;
  return r;
}

Tx::~Tx() {
  // A failed COMMIT may already have ended the transaction; only roll back one still open.
  if (db_ && !sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

// WAL lets readers (the API, the CLI) proceed while the store thread writes; synchronous=FULL
// makes every COMMIT durable on its own, which is what SMTP's 250 relies on.
StoreStatus configure(sqlite3* db, int busy_timeout_ms) {
  sqlite3_busy_timeout(db, busy_timeout_ms);
  auto mode = Stmt::prepare(db, "PRAGMA journal_mode = WAL", "open: journal_mode");
  if (!mode) return mode.error();
  auto row = mode->step();
  if (!row) return row.error();
  if (!*row || mode->text(0) != "wal") {
    return StoreError{StoreErrc::db, "open: journal_mode: the database cannot use WAL"};
  }
  if (auto r = exec(db, "PRAGMA synchronous = FULL", "open: synchronous"); !r) return r;
  return exec(db, "PRAGMA foreign_keys = ON", "open: foreign_keys");
}

namespace {

class SqliteStatement final : public sql::Statement {
 public:
  explicit SqliteStatement(Stmt s) : s_(std::move(s)) {}
  void bind_int(int i, int64_t v) override { s_.bind_int(i, v); }
  void bind_text(int i, std::string_view v) override { s_.bind_text(i, v); }
  void bind_null(int i, bool) override { s_.bind_opt_int(i, std::nullopt); }
  void bind_blob(int i, std::string_view v) override { s_.bind_blob(i, v); }
  fb::Result<bool, StoreError> step() override { return s_.step(); }
  void reset() override { s_.reset(); }
  bool is_null(int col) const override { return !s_.opt_int64(col); }
  int64_t int64(int col) const override { return s_.int64(col); }
  std::string text(int col) const override { return s_.text(col); }
  std::string blob(int col) const override { return s_.blob(col); }

 private:
  Stmt s_;
};

class SqliteConnection final : public sql::Connection {
 public:
  explicit SqliteConnection(Db db) : db_(std::move(db)) {}
  sql::Dialect dialect() const override { return sql::Dialect::sqlite; }
  fb::Result<std::unique_ptr<sql::Statement>, StoreError> prepare(std::string_view sql,
                                                                 const std::string& op) override {
    auto s = Stmt::prepare(db_.get(), sql, op);
    if (!s) return s.error();
    return std::unique_ptr<sql::Statement>(new SqliteStatement(std::move(*s)));
  }
  StoreStatus exec(const std::string& sql, std::string_view op) override {
    return sqlite::exec(db_.get(), sql.c_str(), op);
  }
  // IMMEDIATE takes the write lock at the start: a second connection waits for the busy
  // timeout instead of failing when it would later upgrade a read lock.
  StoreStatus begin(const std::string& op) override { return sqlite::exec(db_.get(), "BEGIN IMMEDIATE", op); }
  StoreStatus commit(const std::string& op) override { return sqlite::exec(db_.get(), "COMMIT", op); }
  void rollback() noexcept override {
    // A failed COMMIT may already have ended the transaction; only roll back one still open.
    if (!sqlite3_get_autocommit(db_.get())) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  int64_t changes() const override { return sqlite3_changes64(db_.get()); }

 private:
  Db db_;
};

}  // namespace

std::unique_ptr<sql::Connection> connection(Db db) {
  return std::make_unique<SqliteConnection>(std::move(db));
}

}  // namespace queue::sqlite
