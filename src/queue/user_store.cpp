// user_store.cpp — API users and token hashes in the job store's database (see user_store.hpp).
#include "queue/user_store.hpp"

#include <cctype>
#include <ctime>
#include <set>

#include "queue/job_store.hpp"
#include "queue/postgres.hpp"
#include "queue/sqlite.hpp"

namespace queue {
namespace {

using sql::Stmt;
using sql::Tx;

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS api_users (
  name TEXT PRIMARY KEY,
  admin INTEGER NOT NULL,
  mailboxes TEXT NOT NULL,          -- one per line
  webhook_secret TEXT NOT NULL,
  created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
  hash TEXT PRIMARY KEY,            -- hex SHA-256 of the token
  user TEXT NOT NULL REFERENCES api_users(name) ON DELETE CASCADE,
  created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS api_tokens_user ON api_tokens(user);
)";

// PostgreSQL: the same tables, with the column SQLite added later from the start.
constexpr const char* kPgSchema = R"(
CREATE TABLE IF NOT EXISTS api_users (
  name TEXT PRIMARY KEY,
  admin BIGINT NOT NULL,
  mailboxes TEXT NOT NULL,
  webhook_secret TEXT NOT NULL,
  created BIGINT NOT NULL,
  webhook_url TEXT
);
CREATE TABLE IF NOT EXISTS api_tokens (
  hash TEXT PRIMARY KEY,
  "user" TEXT NOT NULL REFERENCES api_users(name) ON DELETE CASCADE,
  created BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_tokens_user ON api_tokens("user");
)";

constexpr size_t kMaxMailboxes = 16;

StoreError invalid(const std::string& op, const std::string& why) { return {StoreErrc::invalid, op + ": " + why}; }

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "\n") + s;
  return out;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    auto nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// An address-like mailbox: printable ASCII, one '@', no spaces; at most 254 characters.
bool valid_mailbox(const std::string& m) {
  if (m.empty() || m.size() > 254 || m.find('@') == std::string::npos || m.find('@') != m.rfind('@')) return false;
  for (unsigned char c : m) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

ApiUser read_user(const Stmt& s) {
  return ApiUser{s.text(0), s.int64(1) != 0, split(s.text(2)), s.text(3), s.int64(4), 0};
}

}  // namespace

std::optional<std::string> UserStore::check_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return "a user name has 1 to 64 characters";
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '@' && c != '-') {
      return "a user name has only letters, digits and . _ @ -";
    }
  }
  // The node's own admin token submits as "admin": a user of that name would see its faxes.
  if (name == "admin") return "the name admin is the node's own token's; choose another";
  return std::nullopt;
}

fb::Result<UserStore, StoreError> UserStore::open(const std::string& location, int busy_timeout_ms) {
  std::unique_ptr<sql::Connection> db;
  if (is_postgresql_url(location)) {
    auto c = postgres::connect(location, busy_timeout_ms);
    if (!c) return c.error();
    db = std::move(*c);
  } else {
    auto c = sqlite::open(location);
    if (!c) return c.error();
    if (auto r = sqlite::configure(c->get(), busy_timeout_ms); !r) return r.error();
    db = sqlite::connection(std::move(*c));
  }
  {
    // (A write transaction: nodes starting together create the tables once.)
    auto tx = Tx::begin(*db, "open users");
    if (!tx) return tx.error();
    const bool pg = db->dialect() == sql::Dialect::postgresql;
    if (auto r = db->exec(pg ? kPgSchema : kSchema, "open users: schema"); !r) return r.error();
    if (!pg) {
      // Added after the table's first release: a store made before it gains the column.
      auto has = Stmt::prepare(*db, "SELECT 1 FROM pragma_table_info('api_users') WHERE name = 'webhook_url'", "open users");
      if (!has) return has.error();
      auto row = has->step();
      if (!row) return row.error();
      if (!*row) {
        if (auto r = db->exec("ALTER TABLE api_users ADD COLUMN webhook_url TEXT", "open users: webhook_url"); !r)
          return r.error();
      }
    }
    if (auto r = tx->commit(); !r) return r.error();
  }
  return UserStore(std::move(db));
}

fb::Result<std::string, StoreError> UserStore::add_token(const std::string& name, bool admin,
                                                         const std::vector<std::string>& mailboxes,
                                                         const std::string& token_hash,
                                                         const std::string& new_secret) {
  const std::string op = "token add " + name;
  if (auto why = check_name(name)) return invalid(op, *why);
  if (mailboxes.size() > kMaxMailboxes) return invalid(op, "at most 16 mailboxes per user");
  for (const auto& m : mailboxes) {
    if (!valid_mailbox(m)) return invalid(op, "not a mailbox address: " + m);
  }
  if (token_hash.size() != 64 || new_secret.empty()) return invalid(op, "no token hash or secret");
  const int64_t now = std::time(nullptr);
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto up = Stmt::prepare(*db_,
                          "INSERT INTO api_users(name, admin, mailboxes, webhook_secret, created) VALUES(?1, ?2, ?3, ?4, ?5) "
                          "ON CONFLICT(name) DO UPDATE SET admin = excluded.admin, mailboxes = excluded.mailboxes",
                          op);
  if (!up) return up.error();
  up->bind_text(1, name).bind_int(2, admin ? 1 : 0).bind_text(3, join(mailboxes)).bind_text(4, new_secret).bind_int(5, now);
  if (auto r = up->run(); !r) return r.error();
  auto tok = Stmt::prepare(*db_, "INSERT INTO api_tokens(hash, \"user\", created) VALUES(?1, ?2, ?3)", op);
  if (!tok) return tok.error();
  tok->bind_text(1, token_hash).bind_text(2, name).bind_int(3, now);
  if (auto r = tok->run(); !r) return r.error();
  auto sec = Stmt::prepare(*db_, "SELECT webhook_secret FROM api_users WHERE name = ?1", op);
  if (!sec) return sec.error();
  sec->bind_text(1, name);
  auto row = sec->step();
  if (!row) return row.error();
  std::string secret = *row ? sec->text(0) : new_secret;
  if (auto r = tx->commit(); !r) return r.error();
  return secret;
}

fb::Result<std::optional<std::string>, StoreError> UserStore::webhook_secret(const std::string& name) {
  auto s = Stmt::prepare(*db_, "SELECT webhook_secret FROM api_users WHERE name = ?1", "webhook_secret(" + name + ")");
  if (!s) return s.error();
  s->bind_text(1, name);
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(s->text(0));
}

fb::Result<std::vector<ApiUser>, StoreError> UserStore::list() {
  auto s = Stmt::prepare(*db_,
                         "SELECT u.name, u.admin, u.mailboxes, u.webhook_secret, u.created, "
                         "(SELECT count(*) FROM api_tokens t WHERE t.\"user\" = u.name), u.webhook_url FROM api_users u "
                         "ORDER BY u.name",
                         "token list");
  if (!s) return s.error();
  std::vector<ApiUser> out;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) break;
    ApiUser u = read_user(*s);
    u.tokens = int(s->int64(5));
    u.webhook_url = s->opt_text(6);
    out.push_back(std::move(u));
  }
  return out;
}

StoreStatus UserStore::revoke(const std::string& name) {
  const std::string op = "token revoke " + name;
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto s = Stmt::prepare(*db_, "DELETE FROM api_users WHERE name = ?1", op);
  if (!s) return s.error();
  s->bind_text(1, name);
  if (auto r = s->run(); !r) return r.error();
  if (db_->changes() == 0) return StoreError{StoreErrc::not_found, op + ": no user of that name"};
  return tx->commit();
}

StoreStatus UserStore::set_webhook(const std::string& name, const std::optional<std::string>& url) {
  const std::string op = "webhook of " + name;
  auto s = Stmt::prepare(*db_, "UPDATE api_users SET webhook_url = ?1 WHERE name = ?2", op);
  if (!s) return s.error();
  s->bind_opt_text(1, url).bind_text(2, name);
  if (auto r = s->run(); !r) return r.error();
  if (db_->changes() == 0) return StoreError{StoreErrc::not_found, op + ": no user of that name"};
  return fb::Unit{};
}

fb::Result<std::vector<WebhookTarget>, StoreError> UserStore::webhook_targets(const std::vector<std::string>& recipients) {
  auto lower = [](std::string v) {
    for (auto& c : v) c = char(std::tolower(static_cast<unsigned char>(c)));
    return v;
  };
  std::set<std::string> wanted;
  for (const auto& r : recipients) wanted.insert(lower(r));
  auto s = Stmt::prepare(*db_, "SELECT name, mailboxes, webhook_url FROM api_users WHERE webhook_url IS NOT NULL ORDER BY name",
                         "webhook targets");
  if (!s) return s.error();
  std::vector<WebhookTarget> out;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) break;
    for (const auto& m : split(s->text(1))) {
      if (wanted.count(lower(m))) {
        out.push_back({s->text(0), s->text(2)});
        break;
      }
    }
  }
  return out;
}

fb::Result<std::optional<ApiUser>, StoreError> UserStore::find(const std::string& token_hash) {
  auto s = Stmt::prepare(*db_,
                         "SELECT u.name, u.admin, u.mailboxes, u.webhook_secret, u.created FROM api_tokens t "
                         "JOIN api_users u ON u.name = t.\"user\" WHERE t.hash = ?1",
                         "token find");
  if (!s) return s.error();
  s->bind_text(1, token_hash);
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return std::optional<ApiUser>{};
  return std::optional<ApiUser>(read_user(*s));
}

}  // namespace queue
