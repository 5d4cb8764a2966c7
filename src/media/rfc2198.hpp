// rfc2198.hpp — redundant audio (RTP payload "red"), sans I/O: each packet carries the previous
// packets' audio again, so a single lost packet costs nothing.
//
// Why: a G.711 fax dies of loss that a phone call shrugs off. A 20 ms gap drops a V.21 frame of
// T.30 signalling or part of an ECM block; spandsp's T.30 then retries, and at 1% random loss most
// two-page faxes run out of retries (measured in tests/fax/audio_fax_test.cpp). ITU-T V.152
// (voice-band data) names RFC 2198 redundancy for exactly this; gateways such as Cisco's offer it
// for modem and fax pass-through. We offer it (SDP `red/8000`) and use it when the peer accepts;
// a peer that does not, gets plain G.711.
// STANDARDS: RFC 2198 §3 (the block headers: F bit, block payload type, 14-bit timestamp offset,
// 10-bit block length; the last header is one octet, the primary's type; the blocks' data in the
// same order, primary last), §5 (SDP: a=rtpmap:<pt> red/8000, a=fmtp:<pt> <pt>/<pt>...).
// LIMITS: kMaxBlocks blocks per packet; offsets below 2^14 and lengths below 2^10 (RFC 2198).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace rfc2198 {

inline constexpr size_t kMaxBlocks = 8;
inline constexpr uint32_t kMaxOffset = (1u << 14) - 1;
inline constexpr size_t kMaxLength = (1u << 10) - 1;

struct Block {
  uint8_t payload_type = 0;
  uint32_t offset = 0;  // timestamp offset before the packet's timestamp (0 for the primary)
  std::span<const uint8_t> data;
};

struct DecodeError {
  std::string reason;
};

// The blocks of a red payload, redundant ones first, the primary last (offset 0).
fb::Result<std::vector<Block>, DecodeError> decode(std::span<const uint8_t> payload);
// `redundant` oldest first, then the primary.
std::vector<uint8_t> encode(std::span<const Block> redundant, uint8_t primary_pt, std::span<const uint8_t> primary);

}  // namespace rfc2198
