// digest.cpp — Digest client (see digest.hpp).
#include "sip/digest.hpp"

#include <openssl/evp.h>

#include <cstdio>

#include "sip/message.hpp"

namespace sip {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// auth-param list: name=token or name="quoted", comma separated.
std::vector<std::pair<std::string, std::string>> auth_params(std::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',' || s[i] == '\t')) ++i;
    size_t eq = s.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string name(trim(s.substr(i, eq - i)));
    i = eq + 1;
    while (i < s.size() && s[i] == ' ') ++i;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value += s[i];
      }
      ++i;
    } else {
      size_t end = s.find(',', i);
      value = std::string(trim(s.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i)));
      i = end == std::string_view::npos ? s.size() : end;
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

}  // namespace

std::optional<Challenge> parse_challenge(std::string_view value) {
  value = trim(value);
  if (value.size() < 7 || !iequals(value.substr(0, 6), "Digest") || (value[6] != ' ' && value[6] != '\t')) return std::nullopt;
  Challenge c;
  bool qop_given = false;
  for (auto& [name, v] : auth_params(value.substr(7))) {
    if (iequals(name, "realm")) c.realm = v;
    else if (iequals(name, "nonce")) c.nonce = v;
    else if (iequals(name, "opaque")) c.opaque = v;
    else if (iequals(name, "stale")) c.stale = iequals(v, "true");
    else if (iequals(name, "algorithm")) c.algorithm = v;
    else if (iequals(name, "qop")) {
      qop_given = true;
      size_t pos = 0;
      while (pos <= v.size()) {
        size_t comma = v.find(',', pos);
        if (iequals(trim(std::string_view(v).substr(pos, comma == std::string::npos ? std::string::npos : comma - pos)), "auth")) c.qop_auth = true;
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    }
  }
  if (c.nonce.empty()) return std::nullopt;
  if (qop_given && !c.qop_auth) return std::nullopt;  // auth-int only
  for (std::string_view known : {"MD5", "MD5-sess", "SHA-256", "SHA-256-sess"}) {
    if (iequals(c.algorithm, known)) {
      c.algorithm = std::string(known);
      return c;
    }
  }
  return std::nullopt;
}

std::string hex_hash(std::string_view algorithm, std::string_view data) {
  const EVP_MD* md = algorithm.starts_with("SHA-256") ? EVP_sha256() : EVP_md5();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  std::string hex;
  char buf[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", out[i]);
    hex += buf;
  }
  return hex;
}

std::string authorization(const Challenge& c, const DigestRequest& r) {
  const std::string& alg = c.algorithm;
  std::string cnonce = r.cnonce.empty() ? random_token(16) : r.cnonce;
  char nc[9];
  std::snprintf(nc, sizeof nc, "%08x", r.nc);
  std::string ha1 = hex_hash(alg, r.username + ":" + c.realm + ":" + r.password);
  if (alg.ends_with("-sess")) ha1 = hex_hash(alg, ha1 + ":" + c.nonce + ":" + cnonce);
  std::string ha2 = hex_hash(alg, r.method + ":" + r.uri);
  std::string response = c.qop_auth ? hex_hash(alg, ha1 + ":" + c.nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
                                    : hex_hash(alg, ha1 + ":" + c.nonce + ":" + ha2);
  std::string out = "Digest username=\"" + r.username + "\", realm=\"" + c.realm + "\", nonce=\"" + c.nonce +
                    "\", uri=\"" + r.uri + "\", response=\"" + response + "\", algorithm=" + alg;
  if (c.qop_auth) out += ", qop=auth, nc=" + std::string(nc) + ", cnonce=\"" + cnonce + "\"";
  if (!c.opaque.empty()) out += ", opaque=\"" + c.opaque + "\"";
  return out;
}

}  // namespace sip
