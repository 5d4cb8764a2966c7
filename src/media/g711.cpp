// g711.cpp — G.711 through spandsp's inline coders (see g711.hpp).
#include "media/g711.hpp"

#include <spandsp.h>

namespace g711 {

void decode(Law law, std::span<const uint8_t> in, std::span<int16_t> out) {
  for (size_t i = 0; i < in.size() && i < out.size(); ++i) out[i] = law == Law::ulaw ? ulaw_to_linear(in[i]) : alaw_to_linear(in[i]);
}

void encode(Law law, std::span<const int16_t> in, std::span<uint8_t> out) {
  for (size_t i = 0; i < in.size() && i < out.size(); ++i) out[i] = law == Law::ulaw ? linear_to_ulaw(in[i]) : linear_to_alaw(in[i]);
}

}  // namespace g711
