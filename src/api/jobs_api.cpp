// jobs_api.cpp — /api/jobs routes over the job store (see jobs_api.hpp).
#include "api/jobs_api.hpp"

#include <cctype>
#include <charconv>

#include "api/query.hpp"

namespace api {

std::optional<int64_t> parse_id(std::string_view s) {
  int64_t id = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || p != s.data() + s.size() || id <= 0) return std::nullopt;
  return id;
}

std::string query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    auto eq = kv.find('=');
    if (kv.substr(0, eq) == key && eq != std::string_view::npos) {
      std::string out;
      std::string_view v = kv.substr(eq + 1);
      for (size_t i = 0; i < v.size(); ++i) {
        int hi = 0, lo = 0;
        auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) ? (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10) : -1; };
        if (v[i] == '%' && i + 2 < v.size() && (hi = hex(v[i + 1])) >= 0 && (lo = hex(v[i + 2])) >= 0) {
          out.push_back(char(hi * 16 + lo));
          i += 2;
        } else {
          out.push_back(v[i]);
        }
      }
      return out;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

namespace {

std::string json_error(const std::string& why) {
  std::string e;
  for (char c : why) {
    if (c == '"' || c == '\\') e += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) e += c;
  }
  return "{\"error\":\"" + e + "\"}\n";
}

Response list(queue::JobStore& store, std::string_view query) {
  queue::JobFilter f;
  if (auto s = query_value(query, "state"); !s.empty()) f.state = s;
  if (auto d = query_value(query, "direction"); d == "out" || d == "in") {
    f.direction = d == "out" ? queue::Direction::out : queue::Direction::in;
  }
  f.limit = 1000;
  if (auto l = query_value(query, "limit"); !l.empty()) {
    if (auto n = parse_id(l)) f.limit = int(std::min<int64_t>(*n, 100000));
  }
  auto jobs = store.jobs(f);
  if (!jobs) return {500, json_error(jobs.error().message)};
  std::string body = "[";
  for (size_t i = 0; i < jobs->size(); ++i) body += (i ? "," : "") + queue::to_json((*jobs)[i]);
  return {200, body + "]\n"};
}

}  // namespace

Response handle_jobs(queue::JobStore& store, const Request& req, const std::function<void(int64_t)>& on_cancelled) {
  std::string_view target = req.target;
  std::string_view query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    query = target.substr(q + 1);
    target = target.substr(0, q);
  }
  if (target == "/api/jobs" || target == "/api/jobs/") {
    if (req.method != "GET") return {405, json_error("use GET")};
    return list(store, query);
  }
  const std::string_view prefix = "/api/jobs/";
  if (target.substr(0, prefix.size()) != prefix) return {404, json_error("no such resource")};
  std::string_view rest = target.substr(prefix.size());
  bool cancel = false;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/cancel") return {404, json_error("no such resource")};
    cancel = true;
    rest = rest.substr(0, slash);
  }
  auto id = parse_id(rest);
  if (!id) return {404, json_error("no job " + std::string(rest))};
  if (cancel) {
    if (req.method != "POST") return {405, json_error("use POST")};
    auto s = store.cancel(*id);
    if (!s) {
      int status = s.error().code == queue::StoreErrc::not_found ? 404 : 409;
      return {status, json_error(s.error().message)};
    }
    if (on_cancelled) on_cancelled(*id);
  } else if (req.method != "GET") {
    return {405, json_error("use GET")};
  }
  auto job = store.job(*id);
  if (!job) {
    int status = job.error().code == queue::StoreErrc::not_found ? 404 : 500;
    return {status, json_error(status == 404 ? "no job " + std::to_string(*id) : job.error().message)};
  }
  return {200, queue::to_json(*job) + "\n"};
}

namespace {

// A plain coroutine function: its parameters are copied into the frame by the language rules.
// (Coroutine lambdas with captures are avoided: GCC 12 mis-handles their captures.)
asio::awaitable<Response> on_store(queue::JobStore* store, Request req, std::function<void(int64_t)> on_cancelled) {
  co_return handle_jobs(*store, req, on_cancelled);
}

}  // namespace

Handler jobs_handler(queue::JobStore& store, asio::any_io_executor store_exec,
                     std::function<void(int64_t)> on_cancelled) {
  return [&store, store_exec, on_cancelled](Request req) {  // not a coroutine: returns the spawned awaitable
    return asio::co_spawn(store_exec, on_store(&store, std::move(req), on_cancelled), asio::use_awaitable);
  };
}

}  // namespace api
