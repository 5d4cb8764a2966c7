// fuzz_rtp.cpp — libFuzzer target: RTP and RTCP datagrams from the network, through every parser
// of an audio stream (RTP header, RTCP compound, RFC 2198 red, RFC 4733 events) and into the
// playout buffer. A packet that decodes re-encodes to one that decodes to the same header and
// payload; red blocks never reach outside the datagram; whatever arrives, playing out gives
// exactly the samples asked for.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "media/audio_stream.hpp"
#include "media/rfc2198.hpp"
#include "media/rfc4733.hpp"
#include "media/rtp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> d(data, size);
  if (auto p = rtp::decode(d)) {
    const rtp::Bytes encoded = rtp::encode(p->header, p->payload);  // `again` points into it
    auto again = rtp::decode(encoded);
    if (!again || again->header.seq != p->header.seq || again->header.timestamp != p->header.timestamp ||
        again->header.ssrc != p->header.ssrc || again->header.payload_type != p->header.payload_type ||
        !std::equal(again->payload.begin(), again->payload.end(), p->payload.begin(), p->payload.end())) {
      __builtin_trap();
    }
    if (auto blocks = rfc2198::decode(p->payload)) {
      for (const auto& b : *blocks) {
        if (b.data.data() < p->payload.data() || b.data.data() + b.data.size() > p->payload.data() + p->payload.size()) __builtin_trap();
      }
    }
    (void)rfc4733::decode(p->payload);
  }
  (void)rtp::decode_rtcp(d);
  // A stream that takes red and events: split the input into datagrams at each 0xFF 0xFF pair.
  static audio::Stream* stream = new audio::Stream({g711::Law::ulaw, rtp::pt::pcmu, 101, 96, 2, 1});
  size_t start = 0;
  uint32_t now = 0;
  for (size_t i = 0; i + 1 < size; ++i) {
    if (i >= start && data[i] == 0xFF && data[i + 1] == 0xFF) {
      stream->receive(d.subspan(start, i - start), now += 160);
      start = i + 2;
    }
  }
  if (start < size) stream->receive(d.subspan(start), now += 160);
  std::vector<int16_t> out(160);
  std::vector<playout::Gap> gaps;
  stream->play(out, &gaps);
  size_t missing = 0;
  for (const auto& g : gaps) {
    if (g.offset + g.length > out.size()) __builtin_trap();
    missing += g.length;
  }
  if (missing > out.size()) __builtin_trap();
  return 0;
}
