// http_message.hpp — HTTP/1.1 requests parsed and responses written, sans I/O.
//
// STANDARDS: RFC 9112 (HTTP/1.1 message syntax), the subset a JSON API needs: Content-Length
// bodies, no chunked requests (411), one request per connection.
// LIMITS: kMaxHeaderBytes request head (431 past it), kMaxBodyBytes body (kMaxUploadBytes for
// POST /api/v1/faxes; 413 past it), kMaxHeaders
// header fields (431 past it).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace api {

inline constexpr size_t kMaxHeaderBytes = 16 * 1024;
inline constexpr size_t kMaxBodyBytes = 1024 * 1024;
inline constexpr size_t kMaxUploadBytes = 32 * 1024 * 1024;  // POST /api/v1/faxes (documents)
inline constexpr size_t kMaxHeaders = 100;

using Headers = std::vector<std::pair<std::string, std::string>>;  // names lower-cased, values trimmed

struct Request {
  std::string method;
  std::string target;  // path and query, e.g. "/api/jobs?state=ready"
  std::string body;
  Headers headers;
  std::string peer;  // the client's address, set by the server (for audit lines)
  std::string user;  // who the token names, set by the guard ("admin": the node's own token)
  bool admin = false;                  // the guard: an admin token (sees and may do everything)
  std::vector<std::string> mailboxes;  // the guard: the user's mailboxes (whose faxes it sees)
  // The first field of that (lower-case) name; nullopt when absent. A repeated Host or
  // Authorization is refused by parse_request, so for those "the first" is "the one".
  std::optional<std::string_view> header(std::string_view name) const;
};

class BodyStream;  // http_server.hpp

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  Headers headers;  // extra fields, e.g. WWW-Authenticate
  // Set: the body is written as it comes (server-sent events) after `body`, and the head has no
  // Content-Length (the connection's close ends it). HttpServer drives it.
  std::shared_ptr<BodyStream> stream;
};

// Parses one request head and body from `data`; nullopt while incomplete, or a Response
// (an error to send) when malformed. Exposed for tests and fuzzing.
struct ParseOutcome {
  bool complete = false;
  std::optional<Request> request;
  std::optional<Response> error;
  // Incomplete, with the head read: the request without its body, and the body's declared
  // length (the server may refuse it before reading a large body: HttpServer's head check).
  std::optional<Request> head;
  size_t body_length = 0;
};
ParseOutcome parse_request(std::string_view data);
std::string serialize(const Response& r);
// ASCII lower case (header names, schemes, host names).
std::string lower_ascii(std::string_view s);

// {"error": why} with `status`.
Response error_response(int status, const std::string& why);

}  // namespace api
