// guard.cpp — origin checks and bearer tokens before any API route (see guard.hpp).
#include "api/guard.hpp"

#include <nlohmann/json.hpp>

#include "api/faxes_api.hpp"

#include <memory>
#include <optional>

#include "api/access.hpp"

namespace api {
namespace {

bool loopback(const std::string& peer) {
  std::error_code ec;
  auto a = asio::ip::make_address(peer, ec);
  if (ec) return false;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a.is_loopback();
}

struct Guard {
  Handler next;
  GuardOptions options;
  queue::UserStore* users;
  asio::any_io_executor store_exec;

  Response refuse(const Request& req, Response r, const std::string& reason) const {
    if (options.log) options.log("http: refused " + req.peer + ": " + std::to_string(r.status) + " " + reason);
    // /api/v1 speaks {"error": {"code", "message"}} (INTERFACES.md), its refusals too.
    if (req.target.rfind("/api/v1/", 0) == 0) {
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      const std::string message = j.is_object() && j.contains("error") && j["error"].is_string()
                                      ? j["error"].get<std::string>()
                                      : reason;
      Response v1 = v1_error(r.status, r.status == 401 ? "unauthorized" : r.status == 403 ? "forbidden" : "bad_request",
                             message);
      v1.headers = std::move(r.headers);  // WWW-Authenticate
      return v1;
    }
    return r;
  }
};

// Which user a token hash names, on the store thread; a store failure is nullopt and logged.
asio::awaitable<std::optional<queue::ApiUser>> lookup(queue::UserStore* users, std::string hash,
                                                       std::function<void(const std::string&)> log) {
  auto u = users->find(hash);
  if (!u) {
    if (log) log("http: token lookup failed: " + u.error().message);
    co_return std::nullopt;
  }
  co_return *u;
}

// Decides whether `req` may go on (nullopt, with its user, admin flag and mailboxes set) or is
// refused (the response), logging each refusal once.
asio::awaitable<std::optional<Response>> authorize(std::shared_ptr<const Guard> g, Request& req) {
  if (auto refused = check_origin(req, g->options.hosts)) {
    co_return g->refuse(req, *refused, "host/origin: " + refused->body.substr(0, 200));
  }
  if (!g->options.tokens_required) {
    req.user = "admin";
    req.admin = true;
    co_return std::nullopt;
  }
  // A scraper on this host needs no token for /metrics (INTERFACES.md); any other client does.
  if (std::string_view(req.target).substr(0, req.target.find('?')) == "/metrics" && loopback(req.peer)) {
    co_return std::nullopt;
  }
  auto token = bearer_token(req);
  if (!token) {
    bool given = req.header("authorization").has_value();
    co_return g->refuse(req, unauthorized(given ? "a malformed Authorization field: send Authorization: Bearer <token>"
                                                : "this API needs a token: send Authorization: Bearer <token>",
                                          given),
                        given ? "malformed Authorization" : "no token");
  }
  const std::string hash = token_hash(*token);
  const bool admin = !g->options.admin_hash.empty() && same_hash(hash, g->options.admin_hash);
  if (admin) {
    req.user = "admin";
    req.admin = true;
    co_return std::nullopt;
  }
  if (!g->users) co_return g->refuse(req, unauthorized("the token is not valid (unknown or revoked)", true), "bad token");
  auto user = co_await asio::co_spawn(g->store_exec, lookup(g->users, hash, g->options.log), asio::use_awaitable);
  if (!user) co_return g->refuse(req, unauthorized("the token is not valid (unknown or revoked)", true), "bad token");
  // A user token: the /api/v1/faxes routes, which show it its own faxes only; everything else
  // needs an admin token.
  const std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
  const bool own_view = path == "/api/v1/faxes" || path.rfind("/api/v1/faxes/", 0) == 0 || path == "/api/v1/openapi.json" ||
                        path == "/api/v1/events" || path == "/api/v1/me";
  if (!user->admin && !own_view) {
    co_return g->refuse(req, error_response(403, "user " + user->name + " may not use this route (it needs an admin token)"),
                        "user " + user->name + " not admin");
  }
  req.user = user->name;
  req.admin = user->admin;
  req.mailboxes = user->mailboxes;
  co_return std::nullopt;
}

asio::awaitable<Response> handle(std::shared_ptr<const Guard> g, Request req) {
  if (auto refused = co_await authorize(g, req)) co_return *refused;
  co_return co_await g->next(std::move(req));
}

asio::awaitable<std::optional<Response>> check_head(std::shared_ptr<const Guard> g, Request head) {
  co_return co_await authorize(g, head);
}

}  // namespace

Handler guarded(Handler next, GuardOptions options, queue::UserStore* users, asio::any_io_executor store_exec) {
  auto g = std::make_shared<const Guard>(Guard{std::move(next), std::move(options), users, std::move(store_exec)});
  return [g](Request req) { return handle(g, std::move(req)); };
}

HeadCheck guarded_head(GuardOptions options, queue::UserStore* users, asio::any_io_executor store_exec) {
  auto g = std::make_shared<const Guard>(Guard{nullptr, std::move(options), users, std::move(store_exec)});
  return [g](Request head) { return check_head(g, std::move(head)); };
}

}  // namespace api
