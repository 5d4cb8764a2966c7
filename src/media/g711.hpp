// g711.hpp — G.711 µ-law (PCMU) and A-law (PCMA) to and from 16-bit linear samples.
//
// STANDARDS: ITU-T G.711 (through spandsp's g711.h, the same tables the fax modems were tested
// with), RFC 3551 §4.5.14 (PCMU payload type 0, PCMA 8, one octet per sample at 8000 Hz).
// Silence is 0xFF in µ-law and 0xD5 in A-law.
#pragma once

#include <cstdint>
#include <span>

namespace g711 {

enum class Law { ulaw, alaw };

void decode(Law law, std::span<const uint8_t> in, std::span<int16_t> out);  // out.size() >= in.size()
void encode(Law law, std::span<const int16_t> in, std::span<uint8_t> out);  // out.size() >= in.size()

}  // namespace g711
