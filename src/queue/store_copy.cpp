// store_copy.cpp — one node's store and spool into a shared store (store_copy.hpp).
#include "queue/store_copy.hpp"

#include <ctime>
#include <filesystem>
#include <functional>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <variant>

#include "queue/job_store.hpp"

namespace queue {

namespace fs = std::filesystem;
using sql::Stmt;

namespace {

struct Column {
  std::string name;
  bool integer = false;
};

using Value = std::optional<std::variant<int64_t, std::string>>;

struct Table {
  std::string name;
  std::vector<Column> columns;
  int index(const std::string& column) const {
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i].name == column) return int(i);
    }
    return -1;
  }
};

std::string quoted(const std::string& name) { return "\"" + name + "\""; }

// The target's columns of `table`, in order, with their kind.
fb::Result<Table, StoreError> target_table(sql::Connection& to, const std::string& table) {
  auto s = Stmt::prepare(to,
                         "SELECT column_name, data_type FROM information_schema.columns "
                         "WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
                         "store copy: columns of " + table);
  if (!s) return s.error();
  s->bind_text(1, table);
  Table t{table, {}};
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) break;
    const std::string type = s->text(1);
    t.columns.push_back({s->text(0), type == "bigint" || type == "integer" || type == "smallint"});
  }
  if (t.columns.empty()) return StoreError{StoreErrc::db, "store copy: the target has no table " + table};
  return t;
}

// Every row of `table` in the source, in id order (rowid for a table without one).
fb::Result<std::vector<std::vector<Value>>, StoreError> source_rows(sql::Connection& from, const Table& t,
                                                                    const std::string& order) {
  std::string cols;
  for (const auto& c : t.columns) cols += (cols.empty() ? "" : ", ") + quoted(c.name);
  auto s = Stmt::prepare(from, "SELECT " + cols + " FROM " + t.name + " ORDER BY " + order,
                         "store copy: read " + t.name);
  if (!s) return s.error();
  std::vector<std::vector<Value>> rows;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) break;
    std::vector<Value> r;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (t.columns[i].integer) {
        auto v = s->opt_int64(int(i));
        r.emplace_back(v ? Value(*v) : Value());
      } else {
        auto v = s->opt_text(int(i));
        r.emplace_back(v ? Value(std::move(*v)) : Value());
      }
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

// Inserts `row` (without its id column when `new_id`); returns the id the target gave it.
fb::Result<int64_t, StoreError> insert(sql::Connection& to, const Table& t, const std::vector<Value>& row,
                                       bool new_id) {
  std::string cols, params;
  int n = 0;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (new_id && t.columns[i].name == "id") continue;
    cols += (cols.empty() ? "" : ", ") + quoted(t.columns[i].name);
    params += (params.empty() ? "?" : ", ?") + std::to_string(++n);
  }
  auto s = Stmt::prepare(to,
                         "INSERT INTO " + t.name + " (" + cols + ") VALUES (" + params + ")" +
                             (new_id ? " RETURNING id" : ""),
                         "store copy: write " + t.name);
  if (!s) return s.error();
  n = 0;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (new_id && t.columns[i].name == "id") continue;
    ++n;
    const Value& v = row[i];
    if (!v) {
      t.columns[i].integer ? s->bind_opt_int(n, std::nullopt) : s->bind_opt_text(n, std::nullopt);
    } else if (std::holds_alternative<int64_t>(*v)) {
      s->bind_int(n, std::get<int64_t>(*v));
    } else {
      s->bind_text(n, std::get<std::string>(*v));
    }
  }
  auto r = s->step();
  if (!r) return r.error();
  return new_id && *r ? s->int64(0) : int64_t(0);
}

int64_t integer(const Value& v) { return v && std::holds_alternative<int64_t>(*v) ? std::get<int64_t>(*v) : 0; }
std::string text(const Value& v) { return v && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : ""; }

fb::Result<bool, StoreError> exists(sql::Connection& to, const std::string& sql,
                                    const std::function<void(Stmt&)>& bind) {
  auto s = Stmt::prepare(to, sql, "store copy: check the target");
  if (!s) return s.error();
  bind(*s);
  auto r = s->step();
  if (!r) return r.error();
  return *r;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return std::nullopt;
  return ss.str();
}

}  // namespace

std::string renamed_document(const std::string& name, const std::map<int64_t, int64_t>& jobs,
                             const std::map<int64_t, int64_t>& deliveries) {
  static const std::regex tif(R"((fax|in|archive)/([0-9]{1,18})\.tif)");
  static const std::regex out(R"(out/([0-9]{1,18})(-([0-9]{1,18}))?\.(eml|pdf))");
  static const std::regex api(R"(out/api-([0-9]{1,18})-(.*))");
  std::smatch m;
  auto job = [&](const std::string& id) -> std::optional<int64_t> {
    auto it = jobs.find(std::stoll(id));
    return it == jobs.end() ? std::nullopt : std::optional<int64_t>(it->second);
  };
  if (std::regex_match(name, m, tif)) {
    auto j = job(m[2]);
    if (!j) return "";
    return (m[1] == "fax" ? "fax/" : "in/") + std::to_string(*j) + ".tif";
  }
  if (std::regex_match(name, m, out)) {
    auto j = job(m[1]);
    if (!j) return "";
    std::string n;
    if (m[3].matched) {
      auto d = deliveries.find(std::stoll(m[3]));
      n = "-" + (d == deliveries.end() ? std::string(m[3]) : std::to_string(d->second));
    }
    return "out/" + std::to_string(*j) + n + "." + std::string(m[4]);
  }
  if (std::regex_match(name, m, api)) {
    auto j = job(m[1]);
    if (!j) return "";
    return "out/api-" + std::to_string(*j) + "-" + std::string(m[2]);
  }
  return name;
}

fb::Result<CopyReport, StoreError> copy_store(sql::Connection& from, sql::Connection& to, const std::string& spool_dir,
                                              const std::string& data_dir) {
  const std::string op = "store copy";
  const std::string spool = fs::path(spool_dir).lexically_normal().string();
  // A row's path as a file here (a relative one is below the data directory).
  auto absolute = [&](const std::string& path) {
    return fs::path(path).is_absolute() ? path : (fs::path(data_dir) / path).lexically_normal().string();
  };
  auto tx = sql::Tx::begin(to, op);  // rolled back unless committed
  if (!tx) return tx.error();
  // Between its statements the copy reads the old store and the spool's files, which may take
  // longer than the session's idle-in-transaction limit (postgres.hpp): none for this one.
  if (to.dialect() == sql::Dialect::postgresql) {
    if (auto r = to.exec("SET LOCAL idle_in_transaction_session_timeout = 0", op); !r) return r.error();
  }
  CopyReport report;
  std::map<int64_t, int64_t> deliveries;
  std::map<std::string, Table> tables;
  for (const char* name : {"messages", "jobs", "events", "deliveries", "accounting", "webhook_events", "api_users",
                           "api_tokens"}) {
    auto t = target_table(to, name);
    if (!t) return t.error();
    tables.emplace(name, std::move(*t));
  }
  // A path below the spool, as the target's rows keep it (renumbered); "" when it is not one.
  auto repath = [&](const std::string& path) -> std::string {
    const std::string name = document_name(spool, absolute(path));
    if (name.empty()) return path;
    const std::string to_name = renamed_document(name, report.jobs, deliveries);
    if (to_name.empty()) return path;
    // As the source wrote it: relative paths stay relative to the data directory.
    const std::string dir =
        fs::path(path).is_absolute() ? spool : fs::path(spool).lexically_relative(data_dir).string();
    return dir == "." ? to_name : dir + "/" + to_name;
  };
  std::set<std::string> documents;  // target names, with their source files
  std::map<std::string, std::string> document_files;
  std::vector<std::string> outside;  // paths rows name that are not below the spool
  auto want_document = [&](const std::string& row_path) {
    const std::string source_path = absolute(row_path);
    const std::string name = document_name(spool, source_path);
    if (name.empty()) {
      if (!row_path.empty()) outside.push_back(row_path);
      return;
    }
    const std::string to_name = renamed_document(name, report.jobs, deliveries);
    if (to_name.empty() || document_files.count(to_name)) return;
    document_files[to_name] = source_path;
  };

  // Messages: kept with their ids; one the target has already means this store was copied before.
  const Table& messages = tables["messages"];
  auto msgs = source_rows(from, messages, "id");
  if (!msgs) return msgs.error();
  for (auto& row : *msgs) {
    const std::string id = text(row[size_t(messages.index("id"))]);
    auto dup = exists(to, "SELECT 1 FROM messages WHERE id = ?1", [&](Stmt& s) { s.bind_text(1, id); });
    if (!dup) return dup.error();
    if (*dup) {
      return StoreError{StoreErrc::conflict, op + ": message " + id +
                                                 " is in the target store already (was this store copied before?)"};
    }
    const int path = messages.index("spool_path");
    if (text(row[size_t(messages.index("state"))]) == "active") want_document(text(row[size_t(path)]));  // (done: removed)
    row[size_t(path)] = repath(text(row[size_t(path)]));
    if (auto r = insert(to, messages, row, false); !r) return r.error();
  }
  report.rows["messages"] = int(msgs->size());

  // Jobs: renumbered.
  const Table& jobs = tables["jobs"];
  auto job_rows = source_rows(from, jobs, "id");
  if (!job_rows) return job_rows.error();
  auto unannounce = Stmt::prepare(to, "DELETE FROM webhook_events WHERE job_id = ?1", op);
  if (!unannounce) return unannounce.error();
  for (auto& row : *job_rows) {
    auto col = [&](const char* c) -> Value& { return row[size_t(jobs.index(c))]; };
    if (text(col("direction")) == "in") {
      auto dup = exists(to, "SELECT 1 FROM jobs WHERE direction = 'in' AND number = ?1 AND caller = ?2 AND created = ?3",
                        [&](Stmt& s) {
                          s.bind_text(1, text(col("number"))).bind_text(2, text(col("caller"))).bind_int(3, integer(col("created")));
                        });
      if (!dup) return dup.error();
      if (*dup) {
        return StoreError{StoreErrc::conflict, op + ": the fax received from " + text(col("caller")) + " for " +
                                                   text(col("number")) +
                                                   " is in the target store already (was this store copied before?)"};
      }
    }
    const int64_t old = integer(col("id"));
    auto id = insert(to, jobs, row, true);
    if (!id) return id.error();
    report.jobs[old] = *id;
    // The target's trigger announced the job as new: its announcements are the source's, below.
    unannounce->reset();
    if (auto r = unannounce->bind_int(1, *id).run(); !r) return r.error();
  }
  report.rows["jobs"] = int(job_rows->size());

  // Rows that name a job: renumbered with it (accounting may name a job purged since: job 0).
  auto copy_by_job = [&](const char* name, bool renumber_deliveries) -> StoreStatus {
    const Table& t = tables[name];
    auto rows = source_rows(from, t, "id");
    if (!rows) return rows.error();
    const int job = t.index("job_id");
    int copied = 0;
    for (auto& row : *rows) {
      Value& j = row[size_t(job)];
      if (j) {
        auto it = report.jobs.find(integer(j));
        if (it != report.jobs.end()) {
          j = it->second;
        } else if (std::string(name) != "accounting") {
          continue;  // (its job is gone: nothing shows it)
        } else {
          j = int64_t(0);  // a call of a job purged since: its old id may be another job's there
        }
      }
      const int64_t old = integer(row[size_t(t.index("id"))]);
      const int path = t.index("mail_path");
      std::string source_path;
      if (path >= 0) source_path = text(row[size_t(path)]);
      auto id = insert(to, t, row, true);
      if (!id) return id.error();
      if (renumber_deliveries) {
        deliveries[old] = *id;
        if (text(row[size_t(t.index("state"))]) == "pending") want_document(source_path);  // (else removed)
        // The path renamed now that the delivery's own id is known.
        auto s = Stmt::prepare(to, "UPDATE deliveries SET mail_path = ?1 WHERE id = ?2", op);
        if (!s) return s.error();
        if (auto r = s->bind_text(1, repath(source_path)).bind_int(2, *id).run(); !r) return r;
      }
      ++copied;
    }
    report.rows[name] = copied;
    return fb::Unit{};
  };
  for (auto [name, renumber] : {std::pair{"events", false}, std::pair{"deliveries", true},
                                std::pair{"accounting", false}, std::pair{"webhook_events", false}}) {
    if (auto r = copy_by_job(name, renumber); !r) return r.error();
  }

  // API users: one the target has already stays as it is there (with its tokens).
  const Table& users = tables["api_users"];
  auto user_rows = source_rows(from, users, "name");
  if (!user_rows) return user_rows.error();
  std::set<std::string> copied_users;
  for (auto& row : *user_rows) {
    const std::string name = text(row[size_t(users.index("name"))]);
    auto dup = exists(to, "SELECT 1 FROM api_users WHERE name = ?1", [&](Stmt& s) { s.bind_text(1, name); });
    if (!dup) return dup.error();
    if (*dup) {
      report.users_kept.push_back(name);
      continue;
    }
    if (auto r = insert(to, users, row, false); !r) return r.error();
    copied_users.insert(name);
  }
  report.rows["api_users"] = int(copied_users.size());
  const Table& tokens = tables["api_tokens"];
  auto token_rows = source_rows(from, tokens, "hash");
  if (!token_rows) return token_rows.error();
  int copied_tokens = 0;
  for (auto& row : *token_rows) {
    if (!copied_users.count(text(row[size_t(tokens.index("user"))]))) continue;
    if (auto r = insert(to, tokens, row, false); !r) return r.error();
    ++copied_tokens;
  }
  report.rows["api_tokens"] = copied_tokens;

  // Documents: each job's pages (rendered, received, or archived after delivery) besides the
  // messages and mails named above.
  for (const auto& [old, id] : report.jobs) {
    (void)id;
    for (const char* dir : {"fax", "in", "archive"}) {
      const std::string path = spool + "/" + dir + "/" + std::to_string(old) + ".tif";
      std::error_code ec;
      if (fs::exists(path, ec)) want_document(path);
    }
  }
  if (!outside.empty()) {
    return StoreError{StoreErrc::invalid, op + ": " + outside.front() + " is not below the spool " + spool +
                                              " (the node's spool_dir: name it with --spool)"};
  }
  for (const auto& [name, path] : document_files) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      report.missing.push_back(name);  // (a message or a mail still to be sent)
      continue;
    }
    auto bytes = read_file(path);
    if (!bytes) return StoreError{StoreErrc::db, op + ": cannot read " + path};
    auto s = Stmt::prepare(to, "INSERT INTO documents (name, data, created) VALUES (?1, ?2, ?3)", op);
    if (!s) return s.error();
    if (auto r = s->bind_text(1, name).bind_blob(2, *bytes).bind_int(3, int64_t(std::time(nullptr))).run(); !r) {
      return r.error();
    }
    ++report.documents;
  }
  if (auto r = tx->commit(); !r) return r.error();
  return report;
}

}  // namespace queue
