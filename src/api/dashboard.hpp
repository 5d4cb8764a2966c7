// dashboard.hpp — the web dashboard's static files (web/, built by the project's build with
// esbuild from npm packages pinned by web/package-lock.json, embedded in the binary by
// cmake/embed_files.cmake), served at / without a token: the page asks for one and every API
// request it makes carries it.
//
// Served: GET of /, /index.html, /app.js, /app.css, /favicon.svg, with a Content-Security-Policy that
// allows only this origin (and blob: images, the page previews it fetches with the token).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "api/http_message.hpp"

namespace api {

struct DashboardAsset {
  std::string_view path;  // "/index.html"
  const unsigned char* data;
  size_t size;
};
const std::vector<DashboardAsset>& dashboard_assets();  // generated

// The file a request asks for; nullopt when it is not a dashboard file (the API's routes then).
std::optional<Response> dashboard_file(const Request& req);

}  // namespace api
