// users_api.cpp — /api/v1/users (see users_api.hpp).
#include "api/users_api.hpp"

#include <cctype>
#include <string>

#include <nlohmann/json.hpp>

#include "api/access.hpp"
#include "api/faxes_api.hpp"
#include "api/webhook_url.hpp"
#include "queue/job_store.hpp"

namespace api {
namespace {

constexpr size_t kMaxBody = 64 * 1024;

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Response store_failure(const queue::StoreError& e) {
  switch (e.code) {
    case queue::StoreErrc::invalid: return v1_error(400, "bad_request", e.message);
    case queue::StoreErrc::not_found: return v1_error(404, "not_found", e.message);
    case queue::StoreErrc::conflict: return v1_error(409, "conflict", e.message);
    default: return v1_error(503, "unavailable", e.message);
  }
}

Response list(queue::UserStore& users) {
  auto all = users.list();
  if (!all) return store_failure(all.error());
  auto items = nlohmann::ordered_json::array();
  for (const auto& u : *all) {  // never the webhook secret: it was shown once, when made
    nlohmann::ordered_json o{{"name", u.name}, {"admin", u.admin}, {"mailboxes", u.mailboxes},
                             {"created", queue::format_utc(u.created)}, {"tokens", u.tokens}};
    o["webhook_url"] = u.webhook_url ? nlohmann::ordered_json(*u.webhook_url) : nlohmann::ordered_json(nullptr);
    items.push_back(o);
  }
  return {200, dump({{"items", items}})};
}

Response add(queue::UserStore& users, const Request& req) {
  if (req.body.size() > kMaxBody) return v1_error(400, "bad_request", "the body is over 64 KiB");
  auto j = nlohmann::json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return v1_error(400, "bad_request", "the body is not a JSON object");
  if (!j.contains("name") || !j["name"].is_string()) return v1_error(400, "bad_request", "name is a string");
  const std::string name = j["name"];
  if (auto why = queue::UserStore::check_name(name)) return v1_error(400, "bad_request", *why);
  bool admin = false;
  if (j.contains("admin")) {
    if (!j["admin"].is_boolean()) return v1_error(400, "bad_request", "admin is true or false");
    admin = j["admin"];
  }
  std::vector<std::string> mailboxes;
  if (j.contains("mailboxes")) {
    if (!j["mailboxes"].is_array()) return v1_error(400, "bad_request", "mailboxes is a list of addresses");
    for (const auto& m : j["mailboxes"]) {
      if (!m.is_string()) return v1_error(400, "bad_request", "mailboxes is a list of addresses");
      mailboxes.push_back(m);
    }
  }
  std::optional<std::string> webhook;
  if (j.contains("webhook_url") && !j["webhook_url"].is_null()) {
    std::string why;
    if (!j["webhook_url"].is_string() || !parse_webhook_url(j["webhook_url"].get<std::string>(), &why)) {
      return v1_error(400, "bad_request", "webhook_url: " + (why.empty() ? std::string("a string") : why));
    }
    webhook = j["webhook_url"].get<std::string>();
  }
  const std::string token = new_token();
  auto secret = users.add_token(name, admin, mailboxes, token_hash(token), new_secret());
  if (!secret) return store_failure(secret.error());
  if (webhook) {
    if (auto w = users.set_webhook(name, webhook); !w) return store_failure(w.error());
  }
  nlohmann::ordered_json out{{"name", name}, {"admin", admin}, {"mailboxes", mailboxes}, {"token", token},
                             {"webhook_secret", *secret}};
  out["webhook_url"] = webhook ? nlohmann::ordered_json(*webhook) : nlohmann::ordered_json(nullptr);
  return {201, dump(out)};
}

asio::awaitable<Response> route(queue::UserStore* users, Request req) {
  if (!req.admin) co_return v1_error(403, "refused", "users and tokens are the admin's");
  std::string_view target = std::string_view(req.target).substr(0, req.target.find('?'));
  if (target == "/api/v1/users") {
    if (req.method == "GET") co_return list(*users);
    if (req.method == "POST") co_return add(*users, req);
    co_return v1_error(405, "method_not_allowed", "use GET or POST");
  }
  const std::string_view prefix = "/api/v1/users/";
  if (target.substr(0, prefix.size()) != prefix) co_return v1_error(404, "not_found", "no such resource");
  std::string name;  // %XX-decoded: a browser writes "@" as %40
  for (size_t i = prefix.size(); i < target.size(); ++i) {
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    if (target[i] == '%' && i + 2 < target.size() && hex(target[i + 1]) && hex(target[i + 2])) {
      name += char(std::stoi(std::string(target.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      name += target[i];
    }
  }
  if (req.method != "DELETE") co_return v1_error(405, "method_not_allowed", "use DELETE");
  if (queue::UserStore::check_name(name)) co_return v1_error(404, "not_found", "no user " + name.substr(0, 64));
  if (auto s = users->revoke(name); !s) co_return store_failure(s.error());
  co_return Response{200, dump({{"name", name}, {"revoked", true}})};
}

}  // namespace

Handler users_handler(queue::UserStore& users, asio::any_io_executor store_exec) {
  return [&users, store_exec](Request req) -> asio::awaitable<Response> {
    return asio::co_spawn(store_exec, route(&users, std::move(req)), asio::use_awaitable);
  };
}

}  // namespace api
