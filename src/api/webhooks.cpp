// webhooks.cpp — see webhooks.hpp.
#include "api/webhooks.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <ctime>

#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>
#include <nlohmann/json.hpp>

namespace api {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kMaxResponseHead = 16 * 1024;
using tcp = asio::ip::tcp;

// One attempt: the request sent, the status line's code read; 0 and why when there is none.
struct Attempt {
  int status = 0;
  std::string why;
};

// The resolved addresses a webhook may go to: all of them, or the public ones.
asio::awaitable<Attempt> resolve(tcp::resolver& r, const WebhookUrl& u, bool allow_private,
                                 std::vector<tcp::endpoint>& out) {
  auto [ec, results] = co_await r.async_resolve(u.host, u.port, kNoThrow);
  if (ec) co_return Attempt{0, "cannot resolve " + u.host + ": " + ec.message()};
  std::string refused;
  for (const auto& e : results) {
    if (!allow_private && is_private_address(e.endpoint().address())) {
      refused = e.endpoint().address().to_string();
      continue;
    }
    out.push_back(e.endpoint());
  }
  if (out.empty()) {
    co_return Attempt{0, u.host + " is at a private address (" + refused +
                             "), where webhooks do not go ([http] webhook_allow_private)"};
  }
  co_return Attempt{};
}

template <typename Stream>
asio::awaitable<Attempt> round_trip(Stream& s, const std::string& request) {
  auto [wec, wn] = co_await asio::async_write(s, asio::buffer(request), kNoThrow);
  if (wec) co_return Attempt{0, "cannot send: " + wec.message()};
  std::string head;
  std::array<char, 4096> buf;
  while (head.find("\r\n") == std::string::npos && head.size() < kMaxResponseHead) {
    auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), kNoThrow);
    head.append(buf.data(), n);
    if (rec) break;
  }
  const int code = http_status_of(head);
  if (code == 0) co_return Attempt{0, head.empty() ? "no response" : "not an HTTP response"};
  co_return Attempt{code, ""};
}

asio::awaitable<Attempt> post_once(WebhookUrl u, std::string request, std::shared_ptr<asio::ssl::context> tls,
                                   bool allow_private, int timeout_s) {
  auto ex = co_await asio::this_coro::executor;
  // What the watchdog touches is shared with it, not borrowed from this frame: its handler may
  // run after this coroutine returned (the timer fired in the pass that completed the exchange).
  struct Io {
    explicit Io(const asio::any_io_executor& e) : sock(e), resolver(e) {}
    tcp::socket sock;
    tcp::resolver resolver;
    bool expired = false;
  };
  auto io = std::make_shared<Io>(ex);
  asio::steady_timer watchdog(ex, std::chrono::seconds(timeout_s));
  watchdog.async_wait([io](std::error_code ec) {
    if (ec) return;
    io->expired = true;
    io->resolver.cancel();
    std::error_code ignored;
    io->sock.close(ignored);
  });
  auto timed_out = [&](Attempt a) {
    watchdog.cancel();
    if (io->expired) a.why = "no answer within " + std::to_string(timeout_s) + " s";
    return a;
  };
  std::vector<tcp::endpoint> eps;
  Attempt r = co_await resolve(io->resolver, u, allow_private, eps);
  if (!r.why.empty()) co_return timed_out(r);
  auto [cec, ep] = co_await asio::async_connect(io->sock, eps, kNoThrow);
  if (cec) co_return timed_out(Attempt{0, "cannot connect to " + u.host + ":" + u.port + ": " + cec.message()});
  if (!u.tls) co_return timed_out(co_await round_trip(io->sock, request));
  asio::ssl::stream<tcp::socket&> stream(io->sock, *tls);
  SSL* ssl = stream.native_handle();
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  std::error_code not_ip;
  asio::ip::make_address(u.host, not_ip);
  if (not_ip) {
    SSL_set1_host(ssl, u.host.c_str());
    SSL_set_tlsext_host_name(ssl, u.host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u.host.c_str());
  }
  auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kNoThrow);
  if (hec) co_return timed_out(Attempt{0, "TLS with " + u.host + " failed: " + hec.message()});
  co_return timed_out(co_await round_trip(stream, request));
}

}  // namespace

bool is_private_address(const asio::ip::address& a) {
  if (a.is_loopback() || a.is_unspecified() || a.is_multicast()) return true;
  if (a.is_v4()) {
    const uint32_t v = a.to_v4().to_uint();
    auto in = [&](uint32_t net, int bits) { return (v >> (32 - bits)) == (net >> (32 - bits)); };
    // RFC 1918, link-local, RFC 6598 shared, "this network", IETF protocol assignments
    // (192.0.0.0/24), benchmarking (198.18.0.0/15), reserved 240/4 and broadcast.
    return in(0x0A000000, 8) || in(0xAC100000, 12) || in(0xC0A80000, 16) || in(0xA9FE0000, 16) ||
           in(0x64400000, 10) || in(0x00000000, 8) || in(0xC0000000, 24) || in(0xC6120000, 15) ||
           in(0xF0000000, 4);
  }
  const auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return is_private_address(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
  const auto b = v6.to_bytes();
  auto v4_at = [&](size_t i) { return asio::ip::address_v4({b[i], b[i + 1], b[i + 2], b[i + 3]}); };
  // An IPv4 address inside: NAT64 (64:ff9b::/96, 64:ff9b:1::/48) and 6to4 (2002::/16) reach it.
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
    if (b[4] == 0x00 && b[5] == 0x01) return true;  // 64:ff9b:1::/48, local-use NAT64 (RFC 8215)
    return is_private_address(v4_at(12));
  }
  if (b[0] == 0x20 && b[1] == 0x02) return is_private_address(v4_at(2));
  return v6.is_link_local() || (b[0] & 0xfe) == 0xfc || v6.is_site_local();
}

int64_t webhook_backoff_s(int attempts) {
  int64_t s = 30;
  for (int i = 1; i < attempts && s < 3600; ++i) s *= 2;
  return std::min<int64_t>(s, 3600);
}

struct WebhookSender::Prepared {
  queue::WebhookEvent event;
  std::optional<WebhookUrl> url;
  std::string body;
  std::optional<std::string> secret;
  std::string problem;  // why it cannot be sent at all (given up at once)
};

WebhookSender::WebhookSender(asio::io_context& io, asio::any_io_executor store_exec, queue::JobStore& store,
                             queue::UserStore& users, WebhookOptions opt)
    : io_(io), store_exec_(std::move(store_exec)), store_(store), users_(users), opt_(std::move(opt)), timer_(io) {
  tls_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  std::error_code ec;
  tls_->set_default_verify_paths(ec);
}

WebhookSender::~WebhookSender() = default;

int64_t WebhookSender::now() const { return opt_.clock ? opt_.clock() : int64_t(std::time(nullptr)); }

void WebhookSender::start() { scan(); }

void WebhookSender::stop() {
  stopped_ = true;
  timer_.cancel();
}

void WebhookSender::scan() {
  if (stopped_) return;
  if (scanning_) {
    rescan_ = true;
    return;
  }
  scanning_ = true;
  const int64_t t = now();
  const int limit = int(kMaxInFlight) - int(in_flight_.size());
  // Claimed until the attempt's time is surely over: never sent twice at once, by this node or
  // another; one whose outcome cannot be recorded goes again after that, not in a loop.
  const int64_t until = t + opt_.timeout_s + 30;
  asio::post(store_exec_, [this, t, until, limit] {
    std::vector<Prepared> ready;
    auto due = store_.claim_webhooks(t, until, limit);
    if (!due && opt_.log) opt_.log("webhooks: " + due.error().message);
    for (auto& e : due ? *due : std::vector<queue::WebhookEvent>{}) {
      Prepared p;
      p.event = e;
      std::string why;
      p.url = parse_webhook_url(e.url, &why);
      if (!p.url) p.problem = "the webhook URL " + why;
      auto job = store_.job(e.job_id);
      auto secret = users_.webhook_secret(e.user);
      if (!job || !secret) {
        if (opt_.log) opt_.log("webhooks: " + (!job ? job.error().message : secret.error().message));
        continue;  // (the store will answer later)
      }
      p.secret = *secret;
      if (!p.secret && p.problem.empty()) p.problem = "user " + e.user + " is gone: nothing signs its webhooks";
      nlohmann::json body = {{"id", e.id},
                             {"event", e.event},
                             {"state", e.state},
                             {"time", queue::format_utc(e.time)},
                             {"job", nlohmann::json::parse(queue::to_json(*job))}};
      p.body = body.dump();
      ready.push_back(std::move(p));
    }
    asio::post(io_, [this, ready = std::move(ready)]() mutable {
      scanning_ = false;
      if (stopped_) return;
      for (auto& p : ready) {
        if (in_flight_.size() >= kMaxInFlight) break;
        if (!in_flight_.count(p.event.id)) send(std::move(p));
      }
      // State changes are written by the store wherever they happen: looked for every second
      // (one indexed query), so a receiver hears of a change within about a second.
      timer_.expires_after(std::chrono::seconds(1));
      timer_.async_wait([this](std::error_code ec) {
        if (!ec) scan();
      });
      if (rescan_) {
        rescan_ = false;
        scan();
      }
    });
  });
}

void WebhookSender::send(Prepared p) {
  const int64_t id = p.event.id;
  in_flight_.insert(id);
  if (!p.problem.empty()) {
    finish(id, p.event.job_id, p.event.attempts + 1, p.event.time, -1, p.problem);
    return;
  }
  const int64_t t = now();
  const WebhookUrl& u = *p.url;
  const bool v6 = u.host.find(':') != std::string::npos;
  const bool default_port = u.port == (u.tls ? "443" : "80");
  std::string request = "POST " + u.target + " HTTP/1.1\r\nHost: " + (v6 ? "[" + u.host + "]" : u.host) +
                        (default_port ? "" : ":" + u.port) +
                        "\r\nUser-Agent: faxbridge\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(p.body.size()) + "\r\nFaxbridge-Event: " + p.event.event +
                        "\r\nFaxbridge-Event-Id: " + std::to_string(id) +
                        "\r\nFaxbridge-Signature: " + webhook_signature(*p.secret, t, p.body) +
                        "\r\nConnection: close\r\n\r\n" + p.body;
  const int attempts = p.event.attempts + 1;
  const int64_t changed = p.event.time, job = p.event.job_id;
  asio::co_spawn(io_, post_once(u, std::move(request), tls_, opt_.allow_private, opt_.timeout_s),
                 [this, id, job, attempts, changed](std::exception_ptr e, Attempt a) {
                   if (e) a = Attempt{0, "the attempt failed unexpectedly"};
                   finish(id, job, attempts, changed, a.status, a.status ? "" : a.why);
                 });
}

// `status`: the HTTP status, 0 for none (why), -1 for an event that cannot be sent (why).
void WebhookSender::finish(int64_t id, int64_t job, int attempts, int64_t changed, int status, const std::string& why) {
  const int64_t t = now();
  std::string state = "pending", error = why;
  int64_t next_at = 0;
  if (status >= 200 && status < 300) {
    state = "delivered";
  } else {
    if (status > 0) error = "HTTP status " + std::to_string(status);
    next_at = t + webhook_backoff_s(attempts);
    if (status < 0 || next_at - changed > kWebhookGiveUpS) state = "failed";
  }
  if (opt_.log) {
    opt_.log("webhook event " + std::to_string(id) + " of job " + std::to_string(job) +
             (state == "delivered" ? " delivered"
              : state == "failed"  ? " given up: " + error
                                   : " deferred to " + queue::format_utc(next_at) + ": " + error));
  }
  std::optional<std::string> kept = state == "delivered" ? std::nullopt : std::optional<std::string>(error);
  asio::post(store_exec_, [this, id, state, next_at, kept] {
    auto r = store_.webhook_attempted(id, state, next_at, kept);
    if (!r && opt_.log) opt_.log("webhooks: " + r.error().message);
    asio::post(io_, [this, id] {
      in_flight_.erase(id);
      scan();
    });
  });
}

}  // namespace api
