// dashboard.cpp — serving the embedded dashboard files (see dashboard.hpp).
#include "api/dashboard.hpp"

namespace api {
namespace {

std::string type_of(std::string_view path) {
  auto ends = [&](std::string_view ext) { return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext; };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace

std::optional<Response> dashboard_file(const Request& req) {
  if (req.method != "GET") return std::nullopt;
  std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
  if (path == "/") path = "/index.html";
  for (const auto& a : dashboard_assets()) {
    if (a.path != path) continue;
    Response r{200, std::string(reinterpret_cast<const char*>(a.data), a.size), type_of(a.path)};
    r.headers = {
        {"Content-Security-Policy",
         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
         "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
        {"X-Content-Type-Options", "nosniff"},
        {"Referrer-Policy", "no-referrer"},
        {"Cache-Control", "no-cache"},
    };
    return r;
  }
  return std::nullopt;
}

}  // namespace api
