// access.hpp — who may use the HTTP API, decided without I/O: bearer tokens, the Host a request
// was sent to, and the origin of the page that sent it.
//
// DEFENDS (docs/security.md): reading the queue's numbers and callers, and cancelling jobs, by
// anyone who can reach the port; a web page the operator visits doing either (CSRF); DNS
// rebinding (an attacker's name resolved to 127.0.0.1 so that the browser calls it same-origin).
// STANDARDS: RFC 6750 (Bearer tokens), RFC 9110 §7.2 (Host), RFC 6454 (Origin), Fetch metadata
// (Sec-Fetch-Site).
// TOKENS: "fbt_" and 64 hex digits (256 random bits, OpenSSL RAND_bytes). The store keeps only
// token_hash (hex SHA-256): a token has too much entropy for a slow hash to add anything, and a
// stolen store gives no token.
// HOSTS: a request's Host must be an IP literal, "localhost", or a name listed in [http] hosts
// (the names a reverse proxy or the operator uses); a rebinding attacker's name is none of them.
// ORIGIN: a request that carries Origin must come from the origin it was sent to
// (http://<Host>), and one marked Sec-Fetch-Site: cross-site is refused, for every method.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_message.hpp"

namespace api {

// nullopt: the request may go on to authentication; else the response to send: 400 without a
// Host, 403 for a Host that is not ours or a cross-origin request (the sentence says which).
std::optional<Response> check_origin(const Request& req, const std::vector<std::string>& hosts);

// The token of "Authorization: Bearer <token>" (scheme case-insensitive, RFC 6750 §2.1);
// nullopt when the field is absent, of another scheme, or not a token68.
std::optional<std::string> bearer_token(const Request& req);

std::string new_token();                       // "fbt_" + 64 hex digits
std::string new_secret();                      // 64 hex digits (a webhook signing key)
std::string token_hash(std::string_view token);  // 64 hex digits of SHA-256
bool same_hash(std::string_view a, std::string_view b);  // constant time in the length

// 401 with WWW-Authenticate: Bearer realm="faxbridge" (and error="invalid_token" when a token was
// given), {"error": why}.
Response unauthorized(const std::string& why, bool token_given);

}  // namespace api
