// http_message.cpp — HTTP/1.1 request parsing and response serialisation (see the header).
#include "api/http_message.hpp"

#include <charconv>
#include <cstdio>
#include <string>

namespace api {
namespace {

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

}  // namespace

std::string lower_ascii(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = char(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

Response error_response(int status, const std::string& why) {
  std::string escaped;
  for (char c : why) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char u[8];
      std::snprintf(u, sizeof u, "\\u%04x", unsigned(static_cast<unsigned char>(c)));
      escaped += u;
      continue;
    }
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return {status, "{\"error\":\"" + escaped + "\"}\n"};
}

ParseOutcome parse_request(std::string_view data) {
  ParseOutcome out;
  auto head_end = data.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (data.size() > kMaxHeaderBytes) {
      out.complete = true;
      out.error = error_response(431, "request head too large");
    }
    return out;
  }
  std::string_view head = data.substr(0, head_end);
  auto line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  auto sp1 = request_line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  out.complete = true;
  if (sp2 == std::string_view::npos || request_line.substr(sp2 + 1).substr(0, 7) != "HTTP/1.") {
    out.error = error_response(400, "malformed request line");
    return out;
  }
  Request req;
  req.method = std::string(request_line.substr(0, sp1));
  req.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
  if (req.target.empty() || req.target[0] != '/') {
    out.error = error_response(400, "the target must be a path");
    return out;
  }
  size_t length = 0;
  std::string_view headers = line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
  while (!headers.empty()) {
    auto e = headers.find("\r\n");
    std::string_view h = headers.substr(0, e);
    headers = e == std::string_view::npos ? std::string_view{} : headers.substr(e + 2);
    auto colon = h.find(':');
    if (colon == std::string_view::npos) {
      out.error = error_response(400, "malformed header line");
      return out;
    }
    std::string name = lower_ascii(h.substr(0, colon));
    if (name.empty() || name.find_first_of(" \t") != std::string::npos) {
      out.error = error_response(400, "malformed header field name");  // RFC 9112 §5.1: no space before the colon
      return out;
    }
    std::string_view value = h.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (req.headers.size() == kMaxHeaders) {
      out.error = error_response(431, "too many header fields");
      return out;
    }
    if ((name == "host" || name == "authorization" || name == "origin") && req.header(name)) {
      out.error = error_response(400, "more than one " + name + " field");  // RFC 9112 §3.2
      return out;
    }
    req.headers.emplace_back(name, std::string(value));
    if (name == "transfer-encoding") {
      out.error = error_response(411, "chunked requests are not supported: send Content-Length");
      return out;
    }
    if (name == "content-length") {
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (ec != std::errc() || p != value.data() + value.size()) {
        out.error = error_response(400, "bad Content-Length");
        return out;
      }
      // A fax's documents may be larger than any other request: the upload route takes more.
      const std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
      const bool upload = req.method == "POST" && (path == "/api/v1/faxes" || path == "/api/v1/faxes/");
      if (length > (upload ? kMaxUploadBytes : kMaxBodyBytes)) {
        out.error = error_response(413, "request body too large");
        return out;
      }
    }
  }
  std::string_view rest = data.substr(head_end + 4);
  if (rest.size() < length) {
    out.complete = false;
    out.head = std::move(req);
    out.body_length = length;
    return out;
  }
  req.body = std::string(rest.substr(0, length));
  out.request = std::move(req);
  return out;
}

std::string serialize(const Response& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\nContent-Type: " +
                    r.content_type + "\r\n";
  if (!r.stream) out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  for (const auto& [n, v] : r.headers) out += n + ": " + v + "\r\n";
  return out + "Connection: close\r\n\r\n" + r.body;
}

}  // namespace api
