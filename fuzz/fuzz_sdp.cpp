// fuzz_sdp.cpp — libFuzzer target: SDP from the network. A description that parses must
// serialise to one that parses to the same thing; its T.38 parameters, if any, must answer
// without violating the rules (never an error-correction scheme that was not offered).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sip/sdp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto s = sdp::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!s) return 0;
  auto again = sdp::parse(sdp::serialize(*s));
  if (!again || !(*again == *s)) __builtin_trap();
  for (const auto& m : s->media) {
    auto p = sdp::t38_params(m);
    if (!p) continue;
    auto a = sdp::answer_t38(*p, sdp::T38Capabilities{});
    if (a.ec != sdp::Ec::none && a.ec != p->ec) __builtin_trap();
    if (a.max_bit_rate > p->max_bit_rate || a.version > p->version) __builtin_trap();
  }
  return 0;
}
