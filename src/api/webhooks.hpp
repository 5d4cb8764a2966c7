// webhooks.hpp — announcing the state changes of API submissions to their webhooks (issue 16).
//
// WHAT: every queue::WebhookEvent the store wrote (a trigger writes one per state change of a job
// whose submission named a webhook_url) is POSTed to that URL as one JSON object:
//   {"id": <event id>, "event": "job.<state>", "state": "<state>", "time": "<when the job entered it, UTC>",
//    "job": <the job as it is when this is sent (queue::to_json)>}
// with the headers
//   Faxbridge-Signature: t=<unix time of sending>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the
//                        submitting user's webhook secret (`faxbridge token add` printed it)>
//   Faxbridge-Event: job.<state>       Faxbridge-Event-Id: <event id>
// A receiver checks the signature over the bytes it got and that t is recent (replays), and may
// see an event twice (a 2xx lost on the way back): the id tells.
// DELIVERY: a 2xx delivers an event; anything else (no answer within timeout_s, a refused
// address, a 3xx — redirects are not followed —, 4xx, 5xx) is retried after 30 s, doubled per
// attempt up to 1 h, until 72 h after the change; then it is given up (failed, kept in the job's
// detail) and the job's later events go on. A job's events are sent one at a time, oldest first,
// so a receiver sees them in order; different jobs' go side by side (kMaxInFlight). Each is
// claimed in the store before it is sent (JobStore::claim_webhooks), so two senders never send
// one at once, and one whose outcome could not be recorded goes again after its claim.
// Nothing here is on a call's path: coroutines on the io thread; the store on its executor.
// SAFETY: a webhook URL is chosen by an API user, and the node must not become their way into
// its own network: unless allow_private, a host that resolves only to loopback, private
// (RFC 1918, RFC 4193), link-local, shared (RFC 6598) or unspecified addresses is refused.
// STANDARDS: RFC 9110/9112 (POST, Content-Length, Connection: close), RFC 2104 (HMAC), TLS
// (https) verified against the system's CAs and the URL's host.
// LIMITS: parse_webhook_url's (webhook_url.hpp); kMaxInFlight events in flight; a response's status line read
// within its first 16 KiB.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "api/webhook_url.hpp"
#include "queue/job_store.hpp"
#include "queue/user_store.hpp"

namespace api {

// Loopback, private, link-local, shared, multicast or unspecified: not somewhere a webhook goes.
bool is_private_address(const asio::ip::address& a);

// Retry delay after `attempts` failed attempts (1 = the first): 30 s doubled, at most 1 h.
int64_t webhook_backoff_s(int attempts);
inline constexpr int64_t kWebhookGiveUpS = 72 * 3600;

struct WebhookOptions {
  bool allow_private = false;  // [http] webhook_allow_private
  int timeout_s = 10;          // [http] webhook_timeout_s: one attempt, connect to status line
  std::function<void(const std::string&)> log;
  std::function<int64_t()> clock;  // unix seconds (tests); time(nullptr) when empty
};

class WebhookSender {
 public:
  static constexpr size_t kMaxInFlight = 16;
  // `store` and `users` are used on `store_exec` only.
  WebhookSender(asio::io_context& io, asio::any_io_executor store_exec, queue::JobStore& store,
                queue::UserStore& users, WebhookOptions opt);
  ~WebhookSender();
  void start();
  void stop();

 private:
  struct Prepared;
  void scan();
  void send(Prepared p);
  void finish(int64_t id, int64_t job, int attempts, int64_t changed, int status, const std::string& why);
  int64_t now() const;

  asio::io_context& io_;
  asio::any_io_executor store_exec_;
  queue::JobStore& store_;
  queue::UserStore& users_;
  WebhookOptions opt_;
  asio::steady_timer timer_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::set<int64_t> in_flight_;
  bool scanning_ = false, rescan_ = false, stopped_ = false;
};

}  // namespace api
