// webhook_url.hpp — the pure parts of webhooks (issue 16), each fed untrusted bytes: an API
// user's webhook URL and send_after time, a receiver's status line; and the signature.
// No I/O: built with the sanitizers and fuzzed (fuzz/fuzz_webhook_url.cpp).
// STANDARDS: RFC 3986 (the URL's scheme and authority, as far as a webhook needs), RFC 3339
// (date-time), RFC 9112 §4 (status line), RFC 2104 (HMAC).
// LIMITS: kMaxWebhookUrl octets of URL; 64 octets of time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace api {

inline constexpr size_t kMaxWebhookUrl = 2048;

struct WebhookUrl {
  bool tls = false;
  std::string host;    // a name, or an IP literal (without brackets)
  std::string port;    // "80" / "443" when not given
  std::string target;  // path and query, "/" when empty
};
// An http or https URL with a host and no user information, at most kMaxWebhookUrl octets of
// printable ASCII; nullopt (with `why`) otherwise.
std::optional<WebhookUrl> parse_webhook_url(std::string_view url, std::string* why = nullptr);

// The Faxbridge-Signature value: "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
std::string webhook_signature(std::string_view secret, int64_t t, std::string_view body);

// The status code of an HTTP/1.x status line at the start of `head`; 0 when it is not one.
int http_status_of(std::string_view head);

// An RFC 3339 date-time ("2026-12-05T08:00:00Z", "2026-12-05T09:00:00+01:00", fractions of a
// second ignored) as unix seconds; nullopt when it is not one (every digit checked).
std::optional<int64_t> parse_rfc3339(std::string_view v);

}  // namespace api
