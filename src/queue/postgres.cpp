// postgres.cpp — a PostgreSQL connection through libpq (see postgres.hpp).
#include "queue/postgres.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <libpq-fe.h>

#include "core/log.hpp"

namespace queue::postgres {

namespace {

constexpr unsigned kByteaOid = 17, kInt8Oid = 20, kTextOid = 25;
// The store's writer lock (pg_advisory_xact_lock): "faxbridge" in its first eight letters' bits.
// With it, the transaction's id: what is asked of the server when a COMMIT loses its connection.
constexpr const char* kWriterLock = "SELECT pg_advisory_xact_lock(7378697629483820646), txid_current()";
// Claims share it with each other (each locks the rows it takes), and exclude the other writers.
constexpr const char* kClaimLock = "SELECT pg_advisory_xact_lock_shared(7378697629483820646), txid_current()";

// A session idle inside a transaction this long is ended by the server (the store's transactions
// do not wait between statements, but for store copy, which lifts it; this is a node stopped in
// the middle of one).
constexpr int kIdleInTransactionMs = 10000;

struct PgClose {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct PgClear {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, PgClose>;
using Res = std::unique_ptr<PGresult, PgClear>;

std::string trimmed(const char* s) {
  std::string out = s ? s : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

StoreErrc code_of(const PGresult* r) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  if (!state) return StoreErrc::db;
  if (std::strncmp(state, "23", 2) == 0) return StoreErrc::conflict;
  if (!std::strcmp(state, "40001") || !std::strcmp(state, "40P01") || !std::strcmp(state, "55P03"))
    return StoreErrc::busy;
  return StoreErrc::db;
}

StoreError error_of(PGconn* c, const PGresult* r, std::string_view op) {
  std::string why = trimmed(r ? PQresultErrorMessage(r) : nullptr);
  if (why.empty()) why = trimmed(PQerrorMessage(c));
  if (why.empty()) why = "the connection to PostgreSQL failed";
  // libpq starts its messages with "ERROR:  "; one line is enough.
  if (why.rfind("ERROR:  ", 0) == 0) why.erase(0, 8);
  if (auto nl = why.find('\n'); nl != std::string::npos) why.resize(nl);
  return StoreError{code_of(r), std::string(op) + ": " + why};
}

// bytea's text output: "\\x" then two hex digits per byte (bytea_output = hex, the default).
std::string from_hex_bytea(const std::string& t) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  if (t.size() < 2 || t[0] != '\\' || t[1] != 'x') return out;
  out.reserve((t.size() - 2) / 2);
  for (size_t i = 2; i + 1 < t.size(); i += 2) out += char((nibble(t[i]) << 4) | nibble(t[i + 1]));
  return out;
}

bool ok(const PGresult* r) {
  const auto st = PQresultStatus(r);
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

class PgConnection;

class PgStatement final : public sql::Statement {
 public:
  PgStatement(PgConnection& c, std::string sql, std::string op) : c_(c), sql_(std::move(sql)), op_(std::move(op)) {}
  void bind_int(int i, int64_t v) override { set(i, std::to_string(v), kInt8Oid); }
  void bind_text(int i, std::string_view v) override { set(i, valid_text(v), kTextOid); }
  void bind_null(int i, bool text) override {
    if (i < 1) return;
    slot(i);
    values_[size_t(i - 1)].reset();
    types_[size_t(i - 1)] = text ? kTextOid : kInt8Oid;
  }
  // Sent in binary (no escaping, any bytes); read back as PostgreSQL's hex text form.
  void bind_blob(int i, std::string_view v) override {
    set(i, std::string(v), kByteaOid);
    formats_[size_t(i - 1)] = 1;
  }
  fb::Result<bool, StoreError> step() override;
  void reset() override {
    res_.reset();
    row_ = -1;
    values_.clear();
    types_.clear();
    formats_.clear();
  }
  bool is_null(int col) const override { return PQgetisnull(res_.get(), row_, col) != 0; }
  int64_t int64(int col) const override {
    const char* v = PQgetvalue(res_.get(), row_, col);
    if (!std::strcmp(v, "t")) return 1;  // a boolean expression
    if (!std::strcmp(v, "f")) return 0;
    return std::strtoll(v, nullptr, 10);
  }
  std::string text(int col) const override {
    return std::string(PQgetvalue(res_.get(), row_, col), size_t(PQgetlength(res_.get(), row_, col)));
  }
  std::string blob(int col) const override { return from_hex_bytea(text(col)); }

 private:
  void slot(int i) {
    if (i < 1) return;
    if (values_.size() < size_t(i)) {
      values_.resize(size_t(i));
      types_.resize(size_t(i), 0);
      formats_.resize(size_t(i), 0);
    }
  }
  void set(int i, std::string v, unsigned type) {
    if (i < 1) return;
    slot(i);
    values_[size_t(i - 1)] = std::move(v);
    types_[size_t(i - 1)] = type;
    formats_[size_t(i - 1)] = 0;
  }

  PgConnection& c_;
  std::string sql_, op_;
  std::vector<std::optional<std::string>> values_;
  std::vector<Oid> types_;
  std::vector<int> formats_;  // 1: binary (a blob)
  Res res_;
  int row_ = -1;
};

class PgConnection final : public sql::Connection {
 public:
  PgConnection(Conn c, int busy_timeout_ms) : c_(std::move(c)), busy_timeout_ms_(busy_timeout_ms) {}

  StoreStatus setup() {
    PQsetNoticeProcessor(c_.get(), [](void*, const char*) {}, nullptr);  // "already exists, skipping" and the like
    // The server ends this session when the node stops in the middle of a transaction (a node
    // frozen, or gone without a word: a power cut, a network partition) — else its writer lock
    // would stop every node's writes, and its leader lock every report, until the server's
    // own TCP keepalives (two hours by default) noticed.
    const std::string set = "SET synchronous_commit = on; SET lock_timeout = " + std::to_string(busy_timeout_ms_) +
                            "; SET idle_in_transaction_session_timeout = " + std::to_string(kIdleInTransactionMs) +
                            "; SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"
                            "; SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC'; SET bytea_output = 'hex'";
    return run_simple(set, "open: session settings");
  }

  sql::Dialect dialect() const override { return sql::Dialect::postgresql; }

  fb::Result<std::unique_ptr<sql::Statement>, StoreError> prepare(std::string_view sql, const std::string& op) override {
    return std::unique_ptr<sql::Statement>(new PgStatement(*this, numbered_parameters(sql), op));
  }

  StoreStatus exec(const std::string& sql, std::string_view op) override {
    if (!in_tx_) {
      if (auto r = revive(op); !r) return r;
    }
    return run_simple(sql, op);
  }

  StoreStatus begin(const std::string& op) override { return begin_with(kWriterLock, op); }
  StoreStatus begin_claim(const std::string& op) override { return begin_with(kClaimLock, op); }

  StoreStatus begin_with(const char* lock_sql, const std::string& op) {
    if (auto r = revive(op); !r) return r;
    if (auto r = run_simple("BEGIN", op); !r) {
      // Found dead by BEGIN itself (PostgreSQL restarted since the last statement): BEGIN did
      // nothing, so it is asked again on a new connection.
      if (PQstatus(c_.get()) == CONNECTION_OK || !revive(op)) return r;
      if (auto again = run_simple("BEGIN", op); !again) return again;
    }
    in_tx_ = true;
    txid_.clear();
    Res lock(PQexec(c_.get(), lock_sql));
    if (!ok(lock.get())) {
      auto e = error_of(c_.get(), lock.get(), op);
      rollback();
      return e;
    }
    if (PQntuples(lock.get()) == 1 && PQnfields(lock.get()) == 2) txid_ = PQgetvalue(lock.get(), 0, 1);
    return fb::Unit{};
  }

  StoreStatus commit(const std::string& op) override {
    in_tx_ = false;
    Res r(PQexec(c_.get(), "COMMIT"));
    if (!ok(r.get())) {
      auto e = error_of(c_.get(), r.get(), op);
      // The connection went with the COMMIT: the server may have committed before it went.
      if (PQstatus(c_.get()) != CONNECTION_OK && !txid_.empty()) return outcome_of(txid_, std::move(e), op);
      return e;
    }
    // PostgreSQL answers COMMIT of a transaction that failed with ROLLBACK, and no error.
    if (std::strcmp(PQcmdStatus(r.get()), "COMMIT") != 0)
      return StoreError{StoreErrc::db, std::string(op) + ": the transaction was rolled back"};
    return fb::Unit{};
  }

  void rollback() noexcept override {
    in_tx_ = false;
    if (PQtransactionStatus(c_.get()) != PQTRANS_IDLE && PQstatus(c_.get()) == CONNECTION_OK)
      Res(PQexec(c_.get(), "ROLLBACK"));
  }

  int64_t changes() const override { return changes_; }
  uint64_t session() const override { return session_; }

  // One statement of a PgStatement: executed at its first step.
  fb::Result<Res, StoreError> execute(const std::string& sql, const std::vector<std::optional<std::string>>& values,
                                      const std::vector<Oid>& types, const std::vector<int>& formats,
                                      const std::string& op) {
    // Outside a transaction a dropped connection is opened again; inside one, the
    // transaction is lost with it and the statement fails.
    if (!in_tx_) {
      if (auto r = revive(op); !r) return r.error();
    }
    std::vector<const char*> v(values.size());
    std::vector<int> lengths(values.size(), 0);
    for (size_t i = 0; i < values.size(); ++i) {
      v[i] = values[i] ? values[i]->data() : nullptr;
      lengths[i] = values[i] ? int(values[i]->size()) : 0;
    }
    auto run = [&] {
      return Res(PQexecParams(c_.get(), sql.c_str(), int(values.size()), types.empty() ? nullptr : types.data(),
                              v.empty() ? nullptr : v.data(), lengths.empty() ? nullptr : lengths.data(),
                              formats.empty() ? nullptr : formats.data(), 0));
    };
    Res r = run();
    // A connection found dead by this statement (PostgreSQL restarted since the last one): a
    // query outside a transaction is asked again on a new one. A write is not: it may have been
    // done before the connection went, and the caller hears of the failure.
    if (!ok(r.get()) && !in_tx_ && PQstatus(c_.get()) != CONNECTION_OK && is_query(sql)) {
      if (revive(op)) r = run();
    }
    if (!ok(r.get())) return error_of(c_.get(), r.get(), op);
    const char* n = PQcmdTuples(r.get());
    changes_ = (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
    return r;
  }

 private:
  StoreStatus run_simple(const std::string& sql, std::string_view op) {
    Res r(PQexec(c_.get(), sql.c_str()));
    if (!ok(r.get())) return error_of(c_.get(), r.get(), op);
    return fb::Unit{};
  }

  // A COMMIT whose answer was lost with the connection: done or not, as the server says on a new
  // connection (txid_status), asked until it knows or the busy timeout has passed (at least 2 s,
  // a restart's time). Never known: `lost`, and the caller treats the work as not done (an SMTP
  // 451: at worst the message comes twice, never lost).
  StoreStatus outcome_of(const std::string& txid, StoreError lost, std::string_view op) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(busy_timeout_ms_, 2000));
    for (;;) {
      if (revive(op)) {
        Res r(PQexec(c_.get(), ("SELECT txid_status(" + txid + ")").c_str()));
        const char* st = ok(r.get()) && PQntuples(r.get()) == 1 && !PQgetisnull(r.get(), 0, 0) ? PQgetvalue(r.get(), 0, 0)
                                                                                            : "";
        if (!std::strcmp(st, "committed")) {
          fb::log(fb::LogLevel::warn, "store",
                  std::string(op) + ": the connection was lost with the COMMIT; the server had committed it");
          return fb::Unit{};
        }
        if (!std::strcmp(st, "aborted"))
          return StoreError{lost.code, lost.message + "; the transaction was not committed"};
        // "in progress": its session has not yet noticed the connection's end.
      }
      if (std::chrono::steady_clock::now() >= deadline)
        return StoreError{lost.code, lost.message + "; whether the transaction was committed is not known"};
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a poll interval inside the deadline loop
    }
  }

  // Outside a transaction, a connection PostgreSQL dropped is opened again.
  StoreStatus revive(std::string_view op) {
    if (PQstatus(c_.get()) == CONNECTION_OK) return fb::Unit{};
    PQreset(c_.get());
    if (PQstatus(c_.get()) != CONNECTION_OK) return error_of(c_.get(), nullptr, op);
    ++session_;
    return setup();
  }

  Conn c_;
  int busy_timeout_ms_;
  int64_t changes_ = 0;
  bool in_tx_ = false;
  std::string txid_;  // the open transaction's id (txid_current), digits only
  uint64_t session_ = 1;
};

fb::Result<bool, StoreError> PgStatement::step() {
  if (row_ < 0 && !res_) {
    auto r = c_.execute(sql_, values_, types_, formats_, op_);
    if (!r) return r.error();
    res_ = std::move(*r);
  }
  if (row_ + 1 < PQntuples(res_.get())) {
    ++row_;
    return true;
  }
  return false;
}

}  // namespace

bool is_query(std::string_view sql) {
  while (!sql.empty() && (sql.front() == ' ' || sql.front() == '\n')) sql.remove_prefix(1);
  return sql.size() >= 7 && (sql.substr(0, 7) == "SELECT " || sql.substr(0, 7) == "select ");
}

std::string numbered_parameters(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote) {
      if (c == quote) quote = 0;  // a doubled quote closes and opens again: the same result
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      out += '$';
      continue;
    }
    out += c;
  }
  return out;
}

std::string valid_text(std::string_view s) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
    if (c >= 0x01 && c <= 0x7F) len = 1;
    else if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    bool good = len > 0 && i + len <= n;
    for (size_t k = 1; good && k < len; ++k) {
      const unsigned char b = p[i + k];
      good = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    }
    if (good) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

std::string redacted(const std::string& url) {
  std::string out = url;
  // postgresql://user:password@host/...: the password is between the first ':' after the
  // scheme and the '@' that ends the authority.
  if (const auto scheme = out.find("://"); scheme != std::string::npos) {
    const auto start = scheme + 3;
    const auto end = out.find('/', start);  // (libpq reads the authority up to the first '/')
    const auto at = out.rfind('@', end == std::string::npos ? std::string::npos : end);
    const auto colon = out.find(':', start);
    if (at != std::string::npos && at >= start && colon != std::string::npos && colon < at)
      out = out.substr(0, colon + 1) + "***" + out.substr(at);
  }
  // ...?password=...: the parameter's value.
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    if (p == 0 || (out[p - 1] != '?' && out[p - 1] != '&')) continue;
    const auto v = p + 9;
    const auto e = out.find_first_of("&#", v);
    out.replace(v, (e == std::string::npos ? out.size() : e) - v, "***");
  }
  return out;
}

fb::Result<std::unique_ptr<sql::Connection>, StoreError> connect(const std::string& url, int busy_timeout_ms) {
  // Defaults the URL may override (it comes after them): a server that vanishes from the network
  // is noticed within about half a minute, not the kernel's two hours — so a node's calls are not
  // left unrenewed while its store thread waits, and a dead leader's lock goes with its session.
  const char* keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                        "tcp_user_timeout", "dbname", nullptr};
  const char* values[] = {"10", "1", "10", "5", "3", "30000", url.c_str(), nullptr};
  Conn c(PQconnectdbParams(keys, values, 1));
  if (!c || PQstatus(c.get()) != CONNECTION_OK) {
    std::string why = c ? trimmed(PQerrorMessage(c.get())) : "out of memory";
    if (auto nl = why.find('\n'); nl != std::string::npos) why.resize(nl);
    return StoreError{StoreErrc::db, "open " + redacted(url) + ": " + why};
  }
  auto pc = std::make_unique<PgConnection>(std::move(c), busy_timeout_ms);
  if (auto r = pc->setup(); !r) return r.error();
  return std::unique_ptr<sql::Connection>(std::move(pc));
}

}  // namespace queue::postgres
