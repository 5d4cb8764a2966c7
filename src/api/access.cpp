// access.cpp — token, Host and Origin checks of the HTTP API (see access.hpp).
#include "api/access.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace api {
namespace {

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

std::string random_hex(size_t bytes) {
  std::array<unsigned char, 64> b{};
  if (bytes > b.size() || RAND_bytes(b.data(), int(bytes)) != 1) throw std::runtime_error("no random bytes from OpenSSL");
  return hex(b.data(), bytes);
}

// The host part of a Host value ("name", "name:port", "[v6]:port"), lower-cased; "" when malformed.
std::string host_part(std::string_view v) {
  if (!v.empty() && v.front() == '[') {
    auto close = v.find(']');
    if (close == std::string_view::npos) return "";
    std::string_view rest = v.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return "";
    return lower_ascii(v.substr(1, close - 1));
  }
  auto colon = v.find(':');
  return lower_ascii(v.substr(0, colon));
}

bool ip_literal(const std::string& h) {
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

Response forbidden(const std::string& why) { return error_response(403, why); }

}  // namespace

std::optional<Response> check_origin(const Request& req, const std::vector<std::string>& hosts) {
  auto host = req.header("host");
  if (!host || host->empty()) return error_response(400, "no Host field (RFC 9110 §7.2)");
  std::string name = host_part(*host);
  if (name.empty()) return error_response(400, "malformed Host field");
  bool ours = ip_literal(name) || name == "localhost" ||
              std::any_of(hosts.begin(), hosts.end(), [&](const std::string& h) { return lower_ascii(h) == name; });
  if (!ours) {
    return forbidden("this node is not reached by the name " + name + " (add it to [http] hosts if it is)");
  }
  if (auto site = req.header("sec-fetch-site"); site && lower_ascii(*site) == "cross-site") {
    return forbidden("a cross-site request (Sec-Fetch-Site) is refused");
  }
  if (auto origin = req.header("origin")) {
    // The page's origin must be the node itself: scheme, host and port as the Host field says.
    std::string o = lower_ascii(*origin);
    if (o != "http://" + lower_ascii(*host) && o != "https://" + lower_ascii(*host)) {
      return forbidden("a request from another origin (" + std::string(o.substr(0, 100)) + ") is refused");
    }
  }
  return std::nullopt;
}

std::optional<std::string> bearer_token(const Request& req) {
  auto v = req.header("authorization");
  if (!v) return std::nullopt;
  std::string_view s = *v;
  if (s.size() < 7 || lower_ascii(s.substr(0, 7)) != "bearer ") return std::nullopt;
  s.remove_prefix(7);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  if (s.empty() || s.size() > 200) return std::nullopt;
  // token68 (RFC 9110 §11.2)
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("-._~+/=").find(c) == std::string_view::npos) {
      return std::nullopt;
    }
  }
  return std::string(s);
}

std::string new_token() { return "fbt_" + random_hex(32); }
std::string new_secret() { return random_hex(32); }

std::string token_hash(std::string_view token) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(token.data(), token.size(), md, &n, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed in OpenSSL");
  }
  return hex(md, n);
}

bool same_hash(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Response unauthorized(const std::string& why, bool token_given) {
  Response r = error_response(401, why);
  r.headers.emplace_back("WWW-Authenticate",
                         token_given ? "Bearer realm=\"faxbridge\", error=\"invalid_token\"" : "Bearer realm=\"faxbridge\"");
  return r;
}

}  // namespace api
