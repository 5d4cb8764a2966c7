// webhook_url.cpp — see webhook_url.hpp.
#include "api/webhook_url.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace api {
namespace {

std::string hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

}  // namespace

std::optional<WebhookUrl> parse_webhook_url(std::string_view url, std::string* why) {
  auto fail = [&](const std::string& w) {
    if (why) *why = w;
    return std::nullopt;
  };
  if (url.empty()) return fail("is empty");
  if (url.size() > kMaxWebhookUrl) return fail("is longer than " + std::to_string(kMaxWebhookUrl) + " octets");
  for (char c : url) {
    if (c <= ' ' || c > '~') return fail("holds a space, a control character or a non-ASCII octet");
  }
  WebhookUrl u;
  std::string_view rest;
  auto lower_starts = [&](std::string_view p) {
    if (url.size() < p.size()) return false;
    for (size_t i = 0; i < p.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(url[i])) != p[i]) return false;
    }
    return true;
  };
  if (lower_starts("https://")) {
    u.tls = true;
    rest = url.substr(8);
  } else if (lower_starts("http://")) {
    rest = url.substr(7);
  } else {
    return fail("is not an http:// or https:// URL");
  }
  const size_t end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, end);
  std::string_view path = rest.substr(end);
  if (const size_t hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) return fail("has user information (put secrets elsewhere)");
  std::string_view host = authority, port;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("has an unclosed [ in its host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return fail("has something after its [address]");
      port = after.substr(1);
    }
    in6_addr a6{};
    if (::inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1) return fail("has a bad IPv6 address");
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return fail("has no host");
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_'))
      return fail("has a bad host");
  }
  if (authority.empty() || authority[0] != '[') {
    if (host.find(':') != std::string_view::npos) return fail("has a bad host");
  }
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos || std::stoi(std::string(port)) == 0 ||
        std::stoi(std::string(port)) > 65535)
      return fail("has a bad port");
  }
  u.host = std::string(host);
  for (auto& c : u.host) c = char(std::tolower(static_cast<unsigned char>(c)));
  u.port = port.empty() ? (u.tls ? "443" : "80") : std::string(port);
  u.target = path.empty() || path[0] != '/' ? "/" + std::string(path) : std::string(path);
  return u;
}

std::string webhook_signature(std::string_view secret, int64_t t, std::string_view body) {
  const std::string signed_text = std::to_string(t) + "." + std::string(body);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), secret.data(), int(secret.size()), reinterpret_cast<const unsigned char*>(signed_text.data()),
            signed_text.size(), md, &n)) {
    return "";
  }
  return "t=" + std::to_string(t) + ",v1=" + hex(md, n);
}

int http_status_of(std::string_view head) {
  if (head.size() < 12 || head.substr(0, 7) != "HTTP/1." || head[8] != ' ') return 0;
  int code = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(head[i]))) return 0;
    code = code * 10 + (head[i] - '0');
  }
  return code >= 100 ? code : 0;
}


std::optional<int64_t> parse_rfc3339(std::string_view v) {
  int y, mo, d, h, mi, sec, n = 0;
  const std::string s(v.substr(0, 64));
  // YYYY-MM-DDTHH:MM:SS, every digit a digit (sscanf alone would take signs and spaces).
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
      s[16] != ':') {
    return std::nullopt;
  }
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18}) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  }
  if (s.size() < 20 || std::sscanf(s.c_str(), "%4d-%2d-%2d%*[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6) {
    return std::nullopt;
  }
  if (n != 19 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970) return std::nullopt;
  size_t at = 19;
  if (at < s.size() && s[at] == '.') {
    ++at;
    const size_t digits = at;
    while (at < s.size() && std::isdigit(static_cast<unsigned char>(s[at]))) ++at;
    if (at == digits) return std::nullopt;
  }
  int64_t offset = 0;
  if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    ++at;
  } else if (at + 6 == s.size() && (s[at] == '+' || s[at] == '-') && s[at + 3] == ':' &&
             std::isdigit(static_cast<unsigned char>(s[at + 1])) && std::isdigit(static_cast<unsigned char>(s[at + 2])) &&
             std::isdigit(static_cast<unsigned char>(s[at + 4])) && std::isdigit(static_cast<unsigned char>(s[at + 5]))) {
    const int oh = (s[at + 1] - '0') * 10 + (s[at + 2] - '0'), om = (s[at + 4] - '0') * 10 + (s[at + 5] - '0');
    if (oh > 23 || om > 59) return std::nullopt;
    offset = (s[at] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != s.size() || v.size() != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec == 60 ? 59 : sec;
  const int64_t t = int64_t(timegm(&tm));
  std::tm back{};
  const std::time_t tt = std::time_t(t);
  gmtime_r(&tt, &back);
  if (back.tm_mday != d) return std::nullopt;  // (February 30th)
  return t - offset;
}


}  // namespace api
