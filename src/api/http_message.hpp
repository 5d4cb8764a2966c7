// http_message.hpp — HTTP/1.1 requests parsed and responses written, sans I/O.
//
// STANDARDS: RFC 9112 (HTTP/1.1 message syntax), the subset a JSON API needs: Content-Length
// bodies, no chunked requests (411), one request per connection.
// LIMITS: kMaxHeaderBytes request head (431 past it), kMaxBodyBytes body (413).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace api {

inline constexpr size_t kMaxHeaderBytes = 16 * 1024;
inline constexpr size_t kMaxBodyBytes = 1024 * 1024;

struct Request {
  std::string method;
  std::string target;  // path and query, e.g. "/api/jobs?state=ready"
  std::string body;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

// Parses one request head and body from `data`; nullopt while incomplete, or a Response
// (an error to send) when malformed. Exposed for tests and fuzzing.
struct ParseOutcome {
  bool complete = false;
  std::optional<Request> request;
  std::optional<Response> error;
};
ParseOutcome parse_request(std::string_view data);
std::string serialize(const Response& r);
// {"error": why} with `status`.
Response error_response(int status, const std::string& why);

}  // namespace api
