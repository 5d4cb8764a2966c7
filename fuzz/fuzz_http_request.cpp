// fuzz_http_request.cpp — libFuzzer target: the JSON API's HTTP request parser on arbitrary
// bytes; a parse is either incomplete, a request, or an error response with a 4xx status.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/http_message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto out = api::parse_request(std::string_view(reinterpret_cast<const char*>(data), size));
  if (out.request && out.error) __builtin_trap();
  if (out.error && (out.error->status < 400 || out.error->status > 499)) __builtin_trap();
  if (out.request && (out.request->target.empty() || out.request->target[0] != '/')) __builtin_trap();
  if (out.error) (void)api::serialize(*out.error);
  return 0;
}
