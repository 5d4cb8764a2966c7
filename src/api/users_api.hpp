// users_api.hpp — the API's users and their tokens, for admins (what `faxbridge token add|list|
// revoke` does from the shell; the dashboard's Users view):
//
//   GET    /api/v1/users          {"items": [{"name", "admin", "mailboxes", "created", "tokens", "webhook_url"}]}
//   POST   /api/v1/users          JSON {"name", "admin"?: bool, "mailboxes"?: [address, ...], "webhook_url"?:
//                                 URL told of each fax received for those mailboxes} ->
//                                 201 {"name", "admin", "mailboxes", "token", "webhook_secret", "webhook_url"}: a new
//                                 token for the user (created if new; an existing user's admin flag
//                                 and mailboxes are replaced), shown this once (the store keeps its hash)
//   DELETE /api/v1/users/{name}   the user and every token of it -> 200 {"name", "revoked": true}
//
// Errors as faxes_api's: 400 (bad JSON, name or mailbox; a body over 64 KiB), 403 (not an admin
// token), 404 (an unknown name), 405, 503 (the store).
// THREADS: runs on the store executor, where `users` lives.
#pragma once

#include <asio.hpp>

#include "api/http_server.hpp"
#include "queue/user_store.hpp"

namespace api {

Handler users_handler(queue::UserStore& users, asio::any_io_executor store_exec);

}  // namespace api
