// fuzz_sdp.cpp — libFuzzer target: SDP from the network. A description that parses must
// serialise to one that parses to the same thing; its T.38 parameters, if any, must answer
// without violating the rules (never an error-correction scheme that was not offered).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sip/fax_sdp.hpp"
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
  // Answers to whatever fax stream it offers have one m-line per offered one and parse again.
  fax_sdp::Origin o{"192.0.2.1", 1, 1};
  if (auto a = fax_sdp::find_audio(*s)) {
    auto ans = sdp::parse(fax_sdp::answer_audio(*s, *a, o, 4000, true, true));
    if (!ans || ans->media.size() != s->media.size() || !fax_sdp::find_audio(*ans)) __builtin_trap();
  }
  if (auto t = fax_sdp::find_t38(*s)) {
    auto ans = sdp::parse(fax_sdp::answer_t38(*s, *t, o, 4000, sdp::T38Capabilities{}).sdp);
    if (!ans || ans->media.size() != s->media.size() || !fax_sdp::find_t38(*ans)) __builtin_trap();
  }
  return 0;
}
