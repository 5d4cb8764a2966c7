// user_store.hpp — the API's users and their tokens (INTERFACES.md: `token add|list|revoke`).
//
// A user has a name, an admin flag, the mailboxes whose received faxes it may see, and a
// webhook secret (the key that signs its webhooks, issue 16). A token belongs to one user; the
// store keeps only its hash (api::token_hash), so the file gives no token away.
// STORAGE: tables api_users and api_tokens in the job store's database (its SQLite file, or the
// PostgreSQL database a cluster shares, so every node knows every token), created when absent
// (their own tables: the job store's schema and migrations are not touched), on a connection of
// their own with the job store's settings (sql.hpp).
// THREADS: one thread at a time, like JobStore (the daemon's store thread, or the CLI).
// LIMITS: a name is 1–64 characters of [A-Za-z0-9._@-]; at most 16 mailboxes per user.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <memory>

#include "queue/sql.hpp"
#include "queue/store_error.hpp"
#include "queue/webhook_target.hpp"

namespace queue {

struct ApiUser {
  std::string name;
  bool admin = false;
  std::vector<std::string> mailboxes;
  std::string webhook_secret;
  int64_t created = 0;
  int tokens = 0;  // live tokens (list())
  std::optional<std::string> webhook_url;  // where its received faxes are announced (list())
};

class UserStore {
 public:
  // `location`: a SQLite file's path, or a postgresql:// URL (is_postgresql_url).
  static fb::Result<UserStore, StoreError> open(const std::string& location, int busy_timeout_ms = 5000);

  // Creates the user if needed (with `new_secret` as its webhook secret; an existing user's admin
  // flag and mailboxes are updated) and records a token by its hash, in one transaction. Returns
  // the user's webhook secret. invalid for a bad name or mailbox; conflict for a hash known.
  fb::Result<std::string, StoreError> add_token(const std::string& name, bool admin,
                                                const std::vector<std::string>& mailboxes,
                                                const std::string& token_hash, const std::string& new_secret);
  fb::Result<std::vector<ApiUser>, StoreError> list();
  // Removes the user's tokens (and the user); not_found for an unknown name.
  StoreStatus revoke(const std::string& name);
  // The webhook secret of a user; nullopt for an unknown one (removed since).
  fb::Result<std::optional<std::string>, StoreError> webhook_secret(const std::string& name);
  // Sets (or, with nullopt, clears) where the user's received faxes are announced: the faxes
  // routed to one of its mailboxes. not_found for an unknown name. The URL is checked by the caller.
  StoreStatus set_webhook(const std::string& name, const std::optional<std::string>& url);
  // The users with a webhook whose mailboxes include one of `recipients` (case-insensitive).
  fb::Result<std::vector<WebhookTarget>, StoreError> webhook_targets(const std::vector<std::string>& recipients);
  // The user a token hash belongs to; nullopt for none.
  fb::Result<std::optional<ApiUser>, StoreError> find(const std::string& token_hash);

  static std::optional<std::string> check_name(const std::string& name);  // why it is not a valid name

 private:
  explicit UserStore(std::unique_ptr<sql::Connection> db) : db_(std::move(db)) {}
  std::unique_ptr<sql::Connection> db_;
};

}  // namespace queue
