// sql.cpp — the backend-independent parts of sql.hpp.
#include "queue/sql.hpp"

#include <chrono>

#include "core/metrics.hpp"

namespace queue::sql {

fb::Result<Stmt, StoreError> Stmt::prepare(Connection& db, std::string_view sql, std::string op) {
  auto s = db.prepare(sql, op);
  if (!s) return s.error();
  return Stmt(std::move(*s));
}

StoreStatus Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r) return r.error();
    if (!*r) return fb::Unit{};
  }
}

fb::Result<Tx, StoreError> Tx::begin(Connection& db, std::string op) {
  if (auto r = db.begin(op + ": begin"); !r) return r.error();
  return Tx(&db, std::move(op));
}

fb::Result<Tx, StoreError> Tx::begin_claim(Connection& db, std::string op) {
  if (auto r = db.begin_claim(op + ": begin"); !r) return r.error();
  return Tx(&db, std::move(op));
}

StoreStatus Tx::commit() {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = db_->commit(op_ + ": commit");
  fb::metrics::observe("faxbridge_store_commit_seconds", "Time the job store takes to commit a transaction durably",
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (r) db_ = nullptr;
  return r;
}

Tx::~Tx() {
  if (db_) db_->rollback();
}

}  // namespace queue::sql
