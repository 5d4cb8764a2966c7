// store_paths.cpp — see store_paths.hpp.
#include "queue/store_paths.hpp"

#include <tuple>
#include <utility>
#include <vector>

#include "queue/sqlite.hpp"

namespace queue {

fb::Result<int, StoreError> rebase_stored_paths(const std::string& db_path,
                                                const std::function<std::string(const std::string&)>& rebase) {
  const std::string op = "rebase stored paths";
  auto db = sqlite::open(db_path);
  if (!db) return db.error();
  if (auto r = sqlite::configure(db->get(), 5000); !r) return r.error();
  auto tx = sqlite::Tx::begin(db->get(), op);
  if (!tx) return tx.error();
  if (auto r = sqlite::exec(db->get(), "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT",
                            op);
      !r) {
    return r.error();
  }
  {
    auto s = sqlite::Stmt::prepare(db->get(), "SELECT value FROM store_meta WHERE key = 'paths'", op);
    if (!s) return s.error();
    auto row = s->step();
    if (!row) return row.error();
    if (*row && s->text(0) == "data_dir") return 0;
  }
  int changed = 0;
  for (const auto& [table, key, column] : {std::tuple{"messages", "id", "spool_path"},
                                           std::tuple{"deliveries", "id", "mail_path"}}) {
    std::vector<std::pair<std::string, std::string>> rows;  // key, path
    {
      auto s = sqlite::Stmt::prepare(db->get(), std::string("SELECT ") + key + ", " + column + " FROM " + table, op);
      if (!s) return s.error();
      for (;;) {
        auto row = s->step();
        if (!row) return row.error();
        if (!*row) break;
        rows.emplace_back(s->text(0), s->text(1));
      }
    }
    for (const auto& [k, path] : rows) {
      const std::string now = rebase(path);
      if (now == path) continue;
      auto u = sqlite::Stmt::prepare(db->get(), std::string("UPDATE ") + table + " SET " + column + " = ?1 WHERE " + key + " = ?2", op);
      if (!u) return u.error();
      if (auto r = u->bind_text(1, now).bind_text(2, k).run(); !r) return r.error();
      ++changed;
    }
  }
  if (auto r = sqlite::exec(db->get(), "INSERT OR REPLACE INTO store_meta (key, value) VALUES ('paths', 'data_dir')", op); !r) {
    return r.error();
  }
  if (auto r = tx->commit(); !r) return r.error();
  return changed;
}

}  // namespace queue
