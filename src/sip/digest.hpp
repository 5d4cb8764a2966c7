// digest.hpp — HTTP Digest authentication for SIP, client side (a UAC answering 401 and 407).
//
// STANDARDS: RFC 3261 §22 (SIP's use of Digest: WWW-Authenticate/Authorization for 401,
// Proxy-Authenticate/Proxy-Authorization for 407), RFC 7616 (MD5, SHA-256 and their -sess
// forms, qop=auth), RFC 2617 (the same without qop), RFC 8760 (SHA-256 in SIP).
// We never offer or accept qop=auth-int (no peer we meet asks for it): a challenge that offers
// only auth-int, or an unknown algorithm, is refused by parse_challenge().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sip {

struct Challenge {
  std::string realm;
  std::string nonce;
  std::string opaque;                // "" when absent
  std::string algorithm = "MD5";     // MD5 | MD5-sess | SHA-256 | SHA-256-sess
  bool qop_auth = false;             // the server offered qop=auth
  bool stale = false;
};

// The value of a WWW-Authenticate or Proxy-Authenticate field; nullopt when it is not a Digest
// challenge we can answer.
std::optional<Challenge> parse_challenge(std::string_view value);

struct DigestRequest {
  std::string username;
  std::string password;
  std::string method;  // "INVITE"
  std::string uri;     // the Request-URI, as sent
  uint32_t nc = 1;
  std::string cnonce;  // "" to draw one
};

// The Authorization / Proxy-Authorization field value answering `c`.
std::string authorization(const Challenge& c, const DigestRequest& r);

// Lower-case hex of the digest of `data` by algorithm "MD5" or "SHA-256" (a -sess suffix ignored).
std::string hex_hash(std::string_view algorithm, std::string_view data);

}  // namespace sip
