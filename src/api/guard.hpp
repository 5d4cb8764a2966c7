// guard.hpp — the HTTP API's front door: every request passes check_origin (access.hpp), then
// needs a bearer token, before a route sees it.
//
// A token is the node's own admin token (admin_hash: the hash of <data_dir>/admin.token, which
// `serve` writes and the CLI reads) or one issued by `faxbridge token add` (UserStore, looked up
// on the store executor). A user token reaches only the /api/v1/faxes routes, /api/v1/events and /api/v1/me, which show it its
// own faxes (faxes_api.hpp); every other route needs an admin token (403, no data). The guard
// sets Request::user, admin and mailboxes for the routes; GET /metrics from loopback needs none.
// Each refusal is logged once as an audit line: "http: refused <peer>: <status> <reason>".
// PARAMETERS: [http] tokens (false: no token needed; config allows it only on loopback),
// [http] hosts.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <asio.hpp>

#include "api/http_server.hpp"
#include "queue/user_store.hpp"

namespace api {

struct GuardOptions {
  bool tokens_required = true;
  std::vector<std::string> hosts;
  std::string admin_hash;  // token_hash of the node's admin token ("" for none)
  std::function<void(const std::string&)> log;
};

// `users` lives on `store_exec` (may be null: only the admin token is known).
Handler guarded(Handler next, GuardOptions options, queue::UserStore* users, asio::any_io_executor store_exec);
// The same checks on an upload's head, before its body is read (HttpServer): nothing but the
// token is needed to refuse a stranger's 32 MiB.
HeadCheck guarded_head(GuardOptions options, queue::UserStore* users, asio::any_io_executor store_exec);

}  // namespace api
