// fuzz_webhook_url.cpp — libFuzzer target for api/webhook_url.hpp: an API user's webhook_url and
// send_after, and a webhook receiver's status line. Any bytes give a value or nothing (a URL with
// the reason), never a crash, an undefined behaviour or a leak; what is accepted is well formed:
// the host is non-empty and has no character that could break a request line or a header.
// Seeds: fuzz/corpus/webhook_url/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/webhook_url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string why;
  if (auto u = api::parse_webhook_url(in, &why)) {
    if (u->host.empty() || u->port.empty() || u->target.empty() || u->target[0] != '/') abort();
    for (const std::string* part : {&u->host, &u->port, &u->target}) {
      for (char c : *part) {
        if (c <= ' ' || c > '~') abort();  // nothing that could end a line or a field
      }
    }
    if (u->port.size() > 5) abort();
  } else if (why.empty()) {
    abort();
  }
  if (auto t = api::parse_rfc3339(in)) {
    if (*t < -86400 || *t > int64_t(253402300800)) abort();  // years 1970..9999, give or take a day
  }
  const int code = api::http_status_of(in);
  if (code != 0 && (code < 100 || code > 999)) abort();
  return 0;
}
