// client.cpp — HTTP requests to a running node and their rendering for a terminal.
#include "app/client.hpp"

#include <cstdlib>
#include <iostream>
#include <optional>

#include <asio.hpp>
#include <nlohmann/json.hpp>

#include "app/config.hpp"
#include "app/tokens.hpp"

namespace app {
namespace {

struct HttpResult {
  int status = 0;
  std::string body;
};

struct Url {
  std::string host, port;
};

std::optional<Url> parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return std::nullopt;
  std::string rest = url.substr(scheme.size());
  if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  Url u;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = rest.substr(1, close - 1);
    u.port = close + 2 <= rest.size() && rest[close + 1] == ':' ? rest.substr(close + 2) : "80";
  } else {
    auto colon = rest.rfind(':');
    u.host = rest.substr(0, colon);
    u.port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  }
  if (u.host.empty() || u.port.empty()) return std::nullopt;
  return u;
}

// One request; nullopt (with `why`) when the server cannot be reached.
std::optional<HttpResult> request(const Remote& remote, const std::string& method, const std::string& target,
                                  std::string& why) {
  const std::string& server = remote.server;
  auto url = parse_url(server);
  if (!url) {
    why = "--server must be http://HOST:PORT, not " + server;
    return std::nullopt;
  }
  try {
    asio::io_context io;
    asio::ip::tcp::socket sock(io);
    asio::ip::tcp::resolver resolver(io);
    asio::connect(sock, resolver.resolve(url->host, url->port));
    const bool v6 = url->host.find(':') != std::string::npos;
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + (v6 ? "[" + url->host + "]" : url->host) + ":" +
                      url->port + "\r\nContent-Length: 0\r\n" +
                      (remote.token.empty() ? "" : "Authorization: Bearer " + remote.token + "\r\n") +
                      "Connection: close\r\n\r\n";
    asio::write(sock, asio::buffer(req));
    std::string resp;
    std::error_code ec;
    std::array<char, 8192> buf;
    for (;;) {
      size_t n = sock.read_some(asio::buffer(buf), ec);
      resp.append(buf.data(), n);
      if (ec) break;
    }
    auto sp = resp.find(' ');
    auto head_end = resp.find("\r\n\r\n");
    if (sp == std::string::npos || head_end == std::string::npos) {
      why = "the server at " + server + " sent no HTTP response";
      return std::nullopt;
    }
    return HttpResult{std::atoi(resp.c_str() + sp + 1), resp.substr(head_end + 4)};
  } catch (const std::exception& e) {
    why = "cannot reach " + server + ": " + e.what();
    return std::nullopt;
  }
}

std::string cell(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "-";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

void print_table(const nlohmann::json& jobs) {
  std::printf("%-6s %-4s %-10s %-16s %-16s %-7s %-9s %-9s %s\n", "ID", "DIR", "STATE", "NUMBER", "CALLER", "PAGES",
              "MEDIA", "FAX BY", "ERROR");
  for (const auto& j : jobs) {
    std::string pages = cell(j, "pages_done") + "/" + cell(j, "pages");
    std::printf("%-6s %-4s %-10s %-16s %-16s %-7s %-9s %-9s %s\n", cell(j, "id").c_str(), cell(j, "direction").c_str(),
                cell(j, "state").c_str(), cell(j, "number").c_str(), cell(j, "caller").c_str(), pages.c_str(),
                cell(j, "media").c_str(), cell(j, "detected_by").c_str(),
                j.contains("error") && !j["error"].is_null() ? j["error"].get<std::string>().c_str() : "");
  }
}

std::string error_of(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  return body;
}

int fail(const std::string& cmd, const std::string& msg, int code) {
  std::cerr << "faxbridge " << cmd << ": " << msg << "\n";
  return code;
}

// 401/403: the node refused us (exit 7), with its reason and, for 401, what to do.
std::optional<int> refused(const std::string& cmd, const HttpResult& r) {
  if (r.status != 401 && r.status != 403) return std::nullopt;
  std::string hint = r.status == 401 ? " (give --token, set $FAXBRIDGE_TOKEN, or run where the node's admin.token is readable)" : "";
  return fail(cmd, error_of(r.body) + hint, 7);
}

bool valid_id(const std::string& id) {
  return !id.empty() && id.size() < 19 && std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string find_token(const std::optional<std::string>& flag, const std::optional<std::string>& config_path,
                       const std::string& server) {
  if (flag) return *flag;
  if (const char* env = std::getenv("FAXBRIDGE_TOKEN"); env && *env) return env;
  // The node-local admin token goes only to a node on this host.
  auto url = parse_url(server);
  if (!url || !(url->host == "localhost" || url->host == "::1" || url->host.rfind("127.", 0) == 0)) return "";
  std::string data_dir = config::embedded_default().node.data_dir;
  if (config_path) {
    auto cfg = config::load_file(*config_path);
    if (cfg) data_dir = cfg->node.data_dir;
  }
  return read_admin_token(data_dir).value_or("");
}

int cmd_jobs(const Remote& remote, bool json) {
  std::string why;
  auto r = request(remote, "GET", "/api/jobs", why);
  if (!r) return fail("jobs", why, 6);
  if (auto code = refused("jobs", *r)) return *code;
  if (r->status != 200) return fail("jobs", error_of(r->body), 6);
  if (json) {
    std::cout << r->body;
    return 0;
  }
  print_table(nlohmann::json::parse(r->body));
  return 0;
}

int cmd_job(const Remote& remote, const std::string& id, bool json) {
  if (!valid_id(id)) return fail("job", "no job " + id, 1);
  std::string why;
  auto r = request(remote, "GET", "/api/jobs/" + id, why);
  if (!r) return fail("job", why, 6);
  if (auto code = refused("job", *r)) return *code;
  if (r->status == 404) return fail("job", "no job " + id, 1);
  if (r->status != 200) return fail("job", error_of(r->body), 6);
  if (json) {
    std::cout << r->body;
    return 0;
  }
  auto j = nlohmann::json::parse(r->body);
  for (auto it = j.begin(); it != j.end(); ++it) std::printf("%-12s %s\n", it.key().c_str(), cell(j, it.key().c_str()).c_str());
  return 0;
}

int cmd_cancel(const Remote& remote, const std::string& id) {
  if (!valid_id(id)) return fail("cancel", "no job " + id, 1);
  std::string why;
  auto r = request(remote, "POST", "/api/jobs/" + id + "/cancel", why);
  if (!r) return fail("cancel", why, 6);
  if (auto code = refused("cancel", *r)) return *code;
  if (r->status == 404) return fail("cancel", "no job " + id, 1);
  if (r->status == 409) return fail("cancel", error_of(r->body), 1);
  if (r->status != 200) return fail("cancel", error_of(r->body), 6);
  std::cout << "job " << id << " cancelled\n";
  return 0;
}

}  // namespace app
