// faxes_api.cpp — /api/v1/faxes (see faxes_api.hpp).
#include "api/faxes_api.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <atomic>
#include <chrono>
#include <map>
#include <variant>

#include <memory>

#include <asio/experimental/as_tuple.hpp>
#include <nlohmann/json.hpp>

#include "api/openapi.hpp"
#include "api/webhook_url.hpp"
#include "api/query.hpp"
#include "mail/form_data.hpp"

namespace api {
namespace {

const char* code_of(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 403: return "refused";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 415: return "unsupported_media_type";
    case 422: return "unprocessable";
    case 429: return "over_cap";
    case 501: return "not_implemented";
    default: return status >= 500 ? "unavailable" : "error";
  }
}

Response fail(int status, const std::string& message) {
  return v1_error(status, code_of(status), message);
}

std::string items(const std::vector<queue::Job>& jobs) {
  std::string body = "[";
  for (size_t i = 0; i < jobs.size(); ++i) body += (i ? "," : "") + queue::to_json(jobs[i]);
  return body + "]";
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// What a user token may see (an admin sees all): the faxes it sent — through the API (the
// message's user) or by mail from one of its mailboxes, or with SMTP AUTH as that user — and
// the received faxes mailed to one of its mailboxes.
bool visible(queue::JobStore& store, const Request& req, const queue::Job& j) {
  if (req.admin) return true;
  auto mine = [&](const std::string& address) {
    const std::string a = lower(address);
    return std::any_of(req.mailboxes.begin(), req.mailboxes.end(), [&](const std::string& m) { return lower(m) == a; });
  };
  if (j.direction == queue::Direction::out) {
    if (!j.message_id) return false;
    auto m = store.message(*j.message_id);
    return m && ((m->auth_user && *m->auth_user == req.user) || (!m->sender.empty() && mine(m->sender)));
  }
  auto ds = store.deliveries(j.id);
  return ds && std::any_of(ds->begin(), ds->end(), [&](const queue::Delivery& d) {
           return d.kind != queue::DeliveryKind::postmaster && mine(d.recipient);
         });
}

Response list(queue::JobStore& store, const Request& req, std::string_view query) {
  queue::JobFilter f;
  if (auto s = query_value(query, "state"); !s.empty()) {
    if (!queue::is_state(queue::Direction::out, s) && !queue::is_state(queue::Direction::in, s)) {
      return fail(400, "no state \"" + s + "\"");
    }
    f.state = s;
  }
  if (auto d = query_value(query, "direction"); !d.empty()) {
    if (d != "out" && d != "in") return fail(400, "direction is out or in");
    f.direction = d == "out" ? queue::Direction::out : queue::Direction::in;
  }
  int limit = 50;
  if (auto l = query_value(query, "limit"); !l.empty()) {
    auto n = parse_id(l);
    if (!n || *n > 500) return fail(400, "limit is 1 to 500");
    limit = int(*n);
  }
  std::optional<int64_t> cursor;
  if (auto c = query_value(query, "cursor"); !c.empty()) {
    cursor = parse_id(c);
    if (!cursor) return fail(400, "not a cursor: " + c);
  }
  if (auto n = query_value(query, "number"); !n.empty()) f.number = n;
  // Newest first, in chunks from the cursor on; a user token's page skips others' faxes, and at
  // most kScan jobs are read per request (the cursor then says where to go on).
  constexpr int kChunk = 200, kScan = 2000;
  f.before_id = cursor;
  f.limit = kChunk;
  std::vector<queue::Job> page;
  bool more = false;
  int scanned = 0;
  std::optional<int64_t> last;
  while (!more) {
    auto jobs = store.jobs(f);
    if (!jobs) return fail(503, jobs.error().message);
    for (const auto& j : *jobs) {
      if (int(page.size()) == limit || scanned == kScan) {
        more = true;
        break;
      }
      ++scanned;
      last = j.id;
      if (visible(store, req, j)) page.push_back(j);
    }
    if (int(jobs->size()) < kChunk) break;
    f.before_id = jobs->back().id;
  }
  if (more && !page.empty() && int(page.size()) == limit) last = page.back().id;
  std::string next = more && last ? "\"" + std::to_string(*last) + "\"" : "null";
  return {200, "{\"items\":" + items(page) + ",\"next_cursor\":" + next + "}\n"};
}

constexpr int64_t kMaxSendAfterS = 30 * 86400;
constexpr size_t kMaxCoverBytes = 10000;

// The form's fields as a request, or the refusal.
std::variant<FaxRequest, Response> read_form(const Request& req) {
  auto ct = req.header("content-type");
  if (!ct) return fail(415, "send multipart/form-data (RFC 7578) with `to` and `document` fields");
  auto fields = mail::parse_form_data(*ct, req.body);
  if (!fields) return fail(fields.error().find("not multipart/form-data") != std::string::npos ? 415 : 400, fields.error());
  FaxRequest fr;
  for (auto& f : *fields) {
    if (f.name == "to") {
      // One number per field; a comma list is taken too.
      for (size_t at = 0; at <= f.data.size();) {
        size_t comma = f.data.find(',', at);
        if (comma == std::string::npos) comma = f.data.size();
        std::string_view n = std::string_view(f.data).substr(at, comma - at);
        const size_t first = n.find_first_not_of(" \t\r\n"), last = n.find_last_not_of(" \t\r\n");
        if (first != std::string_view::npos) fr.to.emplace_back(n.substr(first, last - first + 1));
        if (fr.to.size() > 1000) return fail(400, "too many numbers in one request");
        at = comma + 1;
      }
    } else if (f.name == "document") {
      if (!f.filename) return fail(400, "the `document` field is a file (Content-Disposition with a filename)");
      if (f.data.empty()) return fail(400, "document " + *f.filename + " is empty");
      fr.documents.push_back({*f.filename, f.content_type, std::move(f.data)});
    } else if (f.name == "priority") {
      if (f.data == "urgent") fr.priority = 1;
      else if (f.data == "non-urgent") fr.priority = -1;
      else if (f.data != "normal") return fail(400, "priority is urgent, normal or non-urgent");
    } else if (f.name == "webhook_url") {
      std::string why;
      if (!parse_webhook_url(f.data, &why)) return fail(400, "webhook_url " + why);
      fr.webhook_url = f.data;
    } else if (f.name == "send_after") {
      auto t = parse_rfc3339(f.data);
      if (!t) return fail(400, "send_after is not a time like 2026-12-05T08:00:00Z (RFC 3339, UTC or with an offset)");
      const int64_t now = int64_t(std::time(nullptr));
      if (*t > now + kMaxSendAfterS) return fail(400, "send_after is more than 30 days ahead");
      if (*t > now) fr.send_after = *t;  // (a time past: now)
    } else if (f.name == "cover") {
      if (f.data.size() > kMaxCoverBytes) return fail(400, "cover is longer than 10000 octets");
      fr.cover = std::move(f.data);
    } else {
      return fail(400, "unknown field `" + f.name + "`");
    }
  }
  return fr;
}

asio::awaitable<Response> submit_fax(queue::JobStore* store, Submitter submit, Request req) {
  auto form = read_form(req);
  if (auto* r = std::get_if<Response>(&form)) co_return *r;
  FaxRequest fr = std::move(std::get<FaxRequest>(form));
  fr.user = req.user.empty() ? "admin" : req.user;  // (the guard sets it)
  if (fr.webhook_url && fr.user == "admin") {
    co_return fail(400, "the node's own token has no webhook secret to sign with: send with a user's token "
                        "(faxbridge token add)");
  }
  // The commit is a group commit on this executor: wait for its answer without blocking it.
  FaxAccepted a = co_await asio::async_initiate<decltype(asio::use_awaitable), void(FaxAccepted)>(
      [&](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        submit(std::move(fr), [h](FaxAccepted a) {
          auto ex = asio::get_associated_executor(*h);
          asio::post(ex, [h, a]() mutable { std::move(*h)(a); });
        });
      },
      asio::use_awaitable);
  if (a.status != 201) co_return fail(a.status, a.error);
  std::vector<queue::Job> jobs;
  for (int64_t id : a.jobs) {
    if (auto j = store->job(id)) jobs.push_back(*j);
  }
  if (jobs.empty() || jobs.size() != a.jobs.size()) {
    // Committed, but not readable now: say so rather than answer 201 with nothing to follow.
    co_return fail(503, "the fax was queued, but its jobs cannot be read now; list them with GET /api/v1/faxes");
  }
  co_return Response{201, "{\"items\":" + items(jobs) + "}\n"};
}

// A fax's detail (INTERFACES.md): the job object, then `attempts` (its calls, oldest first),
// `page_results` (each page of the document, or each page received: its rows and bad rows as
// T.30 reported them when it went, and its state: sent, not_sent, received), `webhooks`, and for
// a received fax `routing`: how it was routed, as its mail says (what was read on its cover page
// and the score, or the candidates; null before it was routed).
std::string detail_json(const queue::Job& job, const std::vector<queue::AccountingRecord>& calls,
                        const std::vector<queue::WebhookEvent>& hooks, const std::vector<queue::Event>& events) {
  nlohmann::json j = nlohmann::json::parse(queue::to_json(job));
  if (job.direction == queue::Direction::in) {
    nlohmann::json routing = nullptr;  // the OnRamp's event, the latest (a fax routed again after a crash)
    for (const auto& e : events)
      if (e.text.starts_with("routed by ") || e.text.starts_with("to the postmaster (")) routing = e.text;
    j["routing"] = std::move(routing);
  }
  nlohmann::json attempts = nlohmann::json::array();
  std::map<int, queue::AccountingRecord::Page> went;  // page -> its latest result
  int previous = 0;  // pages confirmed before this call (outbound records are cumulative)
  for (const auto& c : calls) {
    auto opt = [](const std::string& v) { return v.empty() ? nlohmann::json(nullptr) : nlohmann::json(v); };
    int sent = c.has_page_results ? int(c.page_results.size()) : std::max(0, c.pages - previous);
    if (c.direction == queue::Direction::out) previous = std::max(previous, c.pages);
    attempts.push_back({{"time", queue::format_utc(c.time)},
                        {"node", opt(c.node)},
                        {"trunk", opt(c.trunk)},
                        {"media", opt(c.media)},
                        {"sip_status", c.sip_status ? nlohmann::json(c.sip_status) : nlohmann::json(nullptr)},
                        {"result", c.outcome},
                        {"pages_sent", sent}});
    for (const auto& p : c.page_results) went[p.page] = p;
  }
  nlohmann::json pages = nlohmann::json::array();
  const bool in = job.direction == queue::Direction::in;
  const int count = in ? std::max(job.pages, went.empty() ? 0 : went.rbegin()->first) : job.pages;
  for (int n = 1; n <= count; ++n) {
    auto it = went.find(n);
    const bool done = it != went.end() || (in ? n <= job.pages : n <= job.pages_done);
    pages.push_back({{"page", n},
                     {"rows", it != went.end() ? nlohmann::json(it->second.rows) : nlohmann::json(nullptr)},
                     {"bad_rows", it != went.end() ? nlohmann::json(it->second.bad_rows) : nlohmann::json(nullptr)},
                     {"state", in ? "received" : done ? "sent" : "not_sent"}});
  }
  j["attempts"] = std::move(attempts);
  j["page_results"] = std::move(pages);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& h : hooks) {
    list.push_back({{"id", h.id},
                    {"event", h.event},
                    {"time", queue::format_utc(h.time)},
                    {"status", h.status},
                    {"attempts", h.attempts},
                    {"error", h.error ? nlohmann::json(*h.error) : nlohmann::json(nullptr)}});
  }
  j["webhooks"] = std::move(list);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// GET /api/v1/events: the jobs the token sees, each time one changes (server-sent events). The
// store is read once a second for the jobs changed since a few seconds before the newest change
// seen (a job's `updated` second, so other nodes' changes are seen too, and a transaction that
// committed late with an older time is not missed); a job is sent again only when its JSON
// differs. A stream lasts kStreamLife at most: the client reconnects, and a revoked token is
// refused then. At most kMaxStreams at once (503 past it).
constexpr auto kStreamLife = std::chrono::minutes(5);
constexpr int kMaxStreams = 64;
constexpr int64_t kLookBehind = 5;  // seconds re-read behind the newest change seen
std::atomic<int> g_streams{0};

class JobEvents final : public BodyStream {
 public:
  JobEvents(queue::JobStore* store, asio::any_io_executor store_exec, Request req, int64_t since)
      : store_(store), store_exec_(std::move(store_exec)), req_(std::move(req)), since_(since) {}
  ~JobEvents() override { --g_streams; }

  asio::awaitable<std::optional<std::string>> next() override {
    const auto now = std::chrono::steady_clock::now();
    if (now - began_ >= kStreamLife) co_return std::nullopt;
    if (!first_) {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::seconds(1));
      auto [ec] = co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) co_return std::nullopt;
    }
    first_ = false;
    std::string out = co_await asio::co_spawn(store_exec_, poll(), asio::use_awaitable);
    if (out.empty() && now - last_write_ >= std::chrono::seconds(15)) out = ": keep-alive\n\n";
    if (!out.empty()) last_write_ = now;
    co_return out;
  }

 private:
  // On the store executor: the changed jobs this token sees, as events ("" when none).
  asio::awaitable<std::string> poll() {
    queue::JobFilter f;
    f.updated_since = since_;
    auto jobs = store_->jobs(f);
    if (!jobs) co_return "";  // the store is busy or away: the next second tries again
    std::string out;
    int64_t newest = since_;
    for (auto it = jobs->rbegin(); it != jobs->rend(); ++it) {  // oldest id first
      newest = std::max(newest, it->updated);
      std::string json = queue::to_json(*it);
      auto seen = sent_.find(it->id);
      if (seen != sent_.end() && seen->second.second == json) continue;
      // Not (yet) this token's: looked at again while in the window (a received fax becomes its
      // user's once routed, with no change to its JSON).
      if (!visible(*store_, req_, *it)) continue;
      sent_[it->id] = {it->updated, json};
      out += "event: job\nid: " + std::to_string(it->id) + "\ndata: " + json + "\n\n";
    }
    // Never ahead of this node's clock: a row stamped in the future must not hide what follows.
    newest = std::min(newest, int64_t(std::time(nullptr)));
    since_ = std::max(since_, newest - kLookBehind);
    std::erase_if(sent_, [&](const auto& e) { return e.second.first < since_; });
    co_return out;
  }

  queue::JobStore* store_;
  asio::any_io_executor store_exec_;
  Request req_;
  int64_t since_;
  std::map<int64_t, std::pair<int64_t, std::string>> sent_;  // id -> (updated, JSON sent), in the window
  bool first_ = true;
  const std::chrono::steady_clock::time_point began_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_write_ = std::chrono::steady_clock::now();
};

Response events(queue::JobStore* store, asio::any_io_executor store_exec, Request req, std::string_view query) {
  const int64_t now = int64_t(std::time(nullptr));
  int64_t since = now;
  if (auto v = query_value(query, "since"); !v.empty()) {
    auto n = parse_id(v);
    if (!n) return fail(400, "since is a unix time in seconds");
    since = std::clamp(*n, now - 3600, now);  // at most an hour back: the list is for older ones
  }
  if (++g_streams > kMaxStreams) {
    --g_streams;
    return fail(503, "too many event streams open on this node; try again later");
  }
  Response r{200, "retry: 3000\n\n", "text/event-stream"};
  r.headers = {{"Cache-Control", "no-store"}, {"X-Accel-Buffering", "no"}};
  r.stream = std::make_shared<JobEvents>(store, std::move(store_exec), std::move(req), since);
  return r;
}

asio::awaitable<Response> make_document(Documents documents, queue::Job job, std::string what, int width) {
  co_return documents(job, what, width);
}

asio::awaitable<Response> route(queue::JobStore* store, asio::any_io_executor store_exec,
                                std::shared_ptr<const FaxRoutes> r, Request req) {
  const Submitter& submit = r->submit;
  std::string_view target = req.target;
  std::string_view query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    query = target.substr(q + 1);
    target = target.substr(0, q);
  }
  if (target == "/api/v1/openapi.json") {
    if (req.method != "GET") co_return fail(405, "use GET");
    co_return Response{200, std::string(openapi_json())};
  }
  if (target == "/api/v1/me") {
    if (req.method != "GET") co_return fail(405, "use GET");
    nlohmann::ordered_json me;
    me["user"] = req.user.empty() ? std::string("admin") : req.user;
    me["admin"] = req.admin;
    me["mailboxes"] = req.mailboxes;
    co_return Response{200, me.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n"};
  }
  if (target == "/api/v1/events") {
    if (req.method != "GET") co_return fail(405, "use GET");
    co_return events(store, std::move(store_exec), std::move(req), query);
  }
  if (target == "/api/v1/faxes" || target == "/api/v1/faxes/") {
    if (req.method == "POST") co_return co_await submit_fax(store, submit, std::move(req));
    if (req.method != "GET") co_return fail(405, "use GET or POST");
    co_return list(*store, req, query);
  }
  const std::string_view prefix = "/api/v1/faxes/";
  if (target.substr(0, prefix.size()) != prefix) co_return fail(404, "no such resource");
  std::string_view rest = target.substr(prefix.size());
  std::string action;  // "" the fax itself, "cancel", "retry", or a document
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    action = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
  }
  auto id = parse_id(rest);
  if (!id) co_return fail(404, "no fax " + std::string(rest));
  // Unknown, and another user's, read the same: 404 before anything else is said of it.
  queue::Job seen;
  {
    auto j = store->job(*id);
    if (!j && j.error().code != queue::StoreErrc::not_found) co_return fail(503, j.error().message);
    if (!j || !visible(*store, req, *j)) co_return fail(404, "no fax " + std::to_string(*id));
    seen = *j;
  }
  const bool page = action.rfind("pages/", 0) == 0 && action.size() > 10 && action.substr(action.size() - 4) == ".png";
  if (action == "document.pdf" || action == "document.tif" || page) {
    if (req.method != "GET") co_return fail(405, "use GET");
    // Pages still being written (a reception under way, a rendering) are not served half done.
    if (seen.state == queue::state::receiving || seen.state == queue::state::queued ||
        seen.state == queue::state::rendering) {
      co_return fail(409, "fax " + std::to_string(*id) + " is " + seen.state + ": its pages are not complete yet");
    }
    int width = 600;
    if (auto w = query_value(query, "width"); !w.empty()) {
      auto n = parse_id(w);
      if (!n || *n < 16 || *n > 1728) co_return fail(400, "width is 16 to 1728 pixels");
      width = int(*n);
    }
    if (page && !parse_id(action.substr(6, action.size() - 10))) co_return fail(404, "no such page");
    if (!r->documents) co_return fail(501, "documents are not served by this node");
    co_return co_await asio::co_spawn(r->documents_exec, make_document(r->documents, seen, action, width),
                                      asio::use_awaitable);
  }
  if (action == "cancel") {
    if (req.method != "POST") co_return fail(405, "use POST");
    if (seen.direction != queue::Direction::out) co_return fail(409, "a received fax cannot be cancelled");
    if (auto s = store->cancel(*id); !s) {
      const auto c = s.error().code;
      co_return fail(c == queue::StoreErrc::conflict || c == queue::StoreErrc::invalid ? 409 : 503, s.error().message);
    }
    if (r->on_cancelled) r->on_cancelled(*id);
  } else if (action == "retry") {
    if (req.method != "POST") co_return fail(405, "use POST");
    if (seen.direction != queue::Direction::out || seen.state != queue::state::retry) {
      co_return fail(409, "fax " + std::to_string(*id) + " is " + seen.state + ": only a fax waiting for its retry can be tried now");
    }
    // Due now, with its event, in one compare-and-set on the job as read (not claimed since).
    const std::string event = "retry now, asked by " + (req.user.empty() ? std::string("admin") : req.user);
    if (auto s = store->postpone_waiting(*id, seen.attempt, int64_t(std::time(nullptr)), event); !s) {
      co_return fail(s.error().code == queue::StoreErrc::conflict ? 409 : 503, s.error().message);
    }
    if (r->on_retry) r->on_retry();
  } else if (!action.empty()) {
    co_return fail(404, "no such resource");
  } else if (req.method != "GET") {
    co_return fail(405, "use GET");
  }
  auto job = store->job(*id);
  if (!job) {
    const bool missing = job.error().code == queue::StoreErrc::not_found;
    co_return fail(missing ? 404 : 503, missing ? "no fax " + std::to_string(*id) : job.error().message);
  }
  auto hooks = store->webhooks(*id);
  if (!hooks) co_return fail(503, hooks.error().message);
  auto calls = store->calls(*id);
  if (!calls) co_return fail(503, calls.error().message);
  auto events = store->events(*id);
  if (!events) co_return fail(503, events.error().message);
  co_return Response{200, detail_json(*job, *calls, *hooks, *events) + "\n"};
}

}  // namespace

Response v1_error(int status, const std::string& code, const std::string& message) {
  nlohmann::json j;
  j["error"] = {{"code", code}, {"message", message}};
  return {status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

asio::awaitable<Response> trunks_v1(std::shared_ptr<const FaxRoutes> r, Request req) {
  if (req.method != "GET") co_return fail(405, "use GET");
  if (!req.admin) co_return fail(403, "the trunks are the admin's to see");
  co_return Response{200, trunks_json(r->trunks ? r->trunks() : std::vector<TrunkInfo>{})};
}

Handler faxes_handler(queue::JobStore& store, asio::any_io_executor store_exec, FaxRoutes routes) {
  auto r = std::make_shared<const FaxRoutes>(std::move(routes));
  return [&store, store_exec, r](Request req) -> asio::awaitable<Response> {
    // The trunks are call control's, read on this (io) thread; the rest is the store's.
    if (std::string_view(req.target).substr(0, req.target.find('?')) == "/api/v1/trunks") return trunks_v1(r, std::move(req));
    return asio::co_spawn(store_exec, route(&store, store_exec, r, std::move(req)), asio::use_awaitable);
  };
}

}  // namespace api
