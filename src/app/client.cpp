// client.cpp — HTTP requests to a running node and their rendering for a terminal.
#include "app/client.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

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
                                  std::string& why, const std::string& body = "", const std::string& content_type = "") {
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
                      url->port + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
                      (content_type.empty() ? "" : "Content-Type: " + content_type + "\r\n") +
                      (remote.token.empty() ? "" : "Authorization: Bearer " + remote.token + "\r\n") +
                      "Connection: close\r\n\r\n";
    asio::write(sock, asio::buffer(req));
    if (!body.empty()) asio::write(sock, asio::buffer(body));
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

namespace {

// A document's type from its name, for the form (the server also looks at the bytes).
std::string type_of(const std::string& path) {
  static const std::map<std::string, std::string> kTypes = {
      {"pdf", "application/pdf"},  {"tif", "image/tiff"},  {"tiff", "image/tiff"}, {"png", "image/png"},
      {"jpg", "image/jpeg"},       {"jpeg", "image/jpeg"}, {"gif", "image/gif"},   {"txt", "text/plain"},
      {"html", "text/html"},       {"htm", "text/html"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"doc", "application/msword"}, {"odt", "application/vnd.oasis.opendocument.text"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"rtf", "application/rtf"}};
  const auto dot = path.rfind('.');
  if (dot == std::string::npos) return "application/octet-stream";
  std::string ext = path.substr(dot + 1);
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

// What a person reads of a job while it goes.
std::string progress_line(const nlohmann::json& j) {
  const std::string state = cell(j, "state");
  const std::string error = j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "";
  const int pages = j.value("pages", 0), done = j.value("pages_done", 0);
  if (state == "queued" || state == "rendering") return "rendering";
  if (state == "ready") return pages ? "waiting for a line (" + std::to_string(pages) + " page(s))" : "waiting for a line";
  if (state == "sending") {
    return done == 0 ? "dialling, " + std::to_string(pages) + " page(s) to send"
                     : "sending: page " + std::to_string(std::min(done + 1, pages)) + " of " + std::to_string(pages) +
                           " (" + std::to_string(done) + " confirmed)";
  }
  if (state == "retry") return "will retry at " + cell(j, "retry_at") + (error.empty() ? "" : ": " + error);
  if (state == "done") return "done: " + std::to_string(done) + " of " + std::to_string(pages) + " page(s) sent";
  if (state == "failed") return "failed: " + (error.empty() ? std::string("no reason given") : error);
  return state;
}

bool final_state(const std::string& s) {
  return s == "done" || s == "failed" || s == "cancelled";
}

// Exit code of a refused submission: the input (2), the policy or a token (7), the node (6).
int submit_refused(const HttpResult& r) {
  std::string message = r.body;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) message = e["message"].get<std::string>();
    else if (e.is_string()) message = e.get<std::string>();
  }
  const int code = r.status == 401 || r.status == 403 || r.status == 429 ? 7 : r.status >= 500 ? 6 : 2;
  std::string hint = r.status == 401 ? " (give --token, set $FAXBRIDGE_TOKEN, or run where the node's admin.token is readable)" : "";
  return fail("send", message + hint, code);
}

}  // namespace

int cmd_send(const Remote& remote, const std::vector<std::string>& to, const std::vector<std::string>& files,
             bool no_wait) {
  if (to.empty()) return fail("send", "give at least one --to NUMBER", 2);
  if (files.empty()) return fail("send", "give at least one FILE to send", 2);
  // The form (RFC 7578): a boundary that does not occur in the documents.
  std::mt19937_64 rng(std::random_device{}());
  std::string boundary;
  std::string parts;
  std::vector<std::string> datas;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) return fail("send", f + ": cannot be read: " + std::strerror(errno), 2);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return fail("send", f + ": cannot be read", 2);
    if (ss.str().empty()) return fail("send", f + ": the file is empty", 2);
    datas.push_back(ss.str());
  }
  for (;;) {
    boundary = "faxbridge-" + std::to_string(rng());
    bool clash = false;
    for (const auto& d : datas) clash = clash || d.find(boundary) != std::string::npos;
    if (!clash) break;
  }
  std::string body;
  for (const auto& n : to) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n" + n + "\r\n";
  }
  for (size_t i = 0; i < files.size(); ++i) {
    std::string name = files[i].substr(files[i].rfind('/') == std::string::npos ? 0 : files[i].rfind('/') + 1);
    for (auto& c : name) {
      if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '_';
    }
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"document\"; filename=\"" + name +
            "\"\r\nContent-Type: " + type_of(files[i]) + "\r\nContent-Transfer-Encoding: binary\r\n\r\n" + datas[i] + "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  std::string why;
  auto r = request(remote, "POST", "/api/v1/faxes", why, body, "multipart/form-data; boundary=" + boundary);
  if (!r) return fail("send", why, 6);
  if (r->status != 201) return submit_refused(*r);
  auto accepted = nlohmann::json::parse(r->body, nullptr, false);
  if (!accepted.is_object() || !accepted.contains("items") || !accepted["items"].is_array()) {
    return fail("send", "the node's answer cannot be read", 6);
  }
  std::vector<nlohmann::json> jobs(accepted["items"].begin(), accepted["items"].end());
  if (jobs.empty()) return fail("send", "the node accepted the fax but named no job", 6);
  if (no_wait) {
    for (const auto& j : jobs) std::cout << cell(j, "id") << "\n";
    return 0;
  }
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  std::vector<std::string> shown(jobs.size());
  auto label = [&](const nlohmann::json& j) { return "job " + cell(j, "id") + " to " + cell(j, "number") + ": "; };
  bool first = true;
  std::chrono::steady_clock::time_point trouble_since{};  // when polling began to fail (in_trouble)
  bool in_trouble = false;
  // On a terminal, a line longer than its width would wrap and spoil the redraw: cut it.
  size_t width = 0;
  if (tty) {
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1) width = ws.ws_col - 1;
  }
  for (;;) {
    bool all_final = true;
    std::vector<std::string> lines;
    for (const auto& j : jobs) {
      lines.push_back(label(j) + progress_line(j));
      if (width && lines.back().size() > width) lines.back().resize(width);
      all_final = all_final && final_state(cell(j, "state"));
    }
    if (tty) {
      // One live line per recipient, redrawn in place.
      if (!first && lines != shown) std::cout << "\x1b[" << lines.size() << "A";
      if (first || lines != shown) {
        for (const auto& l : lines) std::cout << "\r\x1b[2K" << l << "\n";
      }
    } else {
      for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i] != shown[i]) std::cout << lines[i] << "\n";
      }
    }
    std::cout.flush();
    shown = lines;
    first = false;
    if (all_final) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // (polling the node, not waiting on a guess)
    for (auto& j : jobs) {
      if (final_state(cell(j, "state"))) continue;
      auto g = request(remote, "GET", "/api/v1/faxes/" + cell(j, "id"), why);
      if (g && (g->status == 401 || g->status == 403)) return submit_refused(*g);
      auto now = g && g->status == 200 ? nlohmann::json::parse(g->body, nullptr, false) : nlohmann::json();
      if (!now.is_object()) {
        // The fax is queued whatever happens here: a node that restarts or a network blip is
        // waited out for a minute (and the ids said) rather than inviting a second send.
        if (!std::exchange(in_trouble, true)) trouble_since = std::chrono::steady_clock::now();
        if (std::chrono::steady_clock::now() - trouble_since > std::chrono::seconds(60)) {
          std::string ids;
          for (const auto& x : jobs) ids += (ids.empty() ? "" : " ") + cell(x, "id");
          return fail("send", (g ? "job " + cell(j, "id") + ": " + error_of(g->body) : why) +
                                  " (the fax is queued: jobs " + ids + "; follow them with faxbridge job ID)",
                      6);
        }
        continue;
      }
      in_trouble = false;
      j = now;
    }
  }
  bool all_sent = true;
  for (const auto& j : jobs) {
    all_sent = all_sent && cell(j, "state") == "done" && j.value("pages", 0) > 0 &&
               j.value("pages_done", 0) == j.value("pages", 0);
  }
  return all_sent ? 0 : 1;
}

}  // namespace app
