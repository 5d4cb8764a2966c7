// rfc2198.cpp — redundant audio payloads (see rfc2198.hpp).
#include "media/rfc2198.hpp"

namespace rfc2198 {

fb::Result<std::vector<Block>, DecodeError> decode(std::span<const uint8_t> d) {
  std::vector<Block> blocks;
  size_t pos = 0;
  std::vector<size_t> lengths;
  for (;;) {
    if (pos >= d.size()) return DecodeError{"the block headers run past the payload"};
    if (blocks.size() >= kMaxBlocks) return DecodeError{"more than " + std::to_string(kMaxBlocks) + " blocks"};
    Block b;
    b.payload_type = d[pos] & 0x7F;
    if ((d[pos] & 0x80) == 0) {  // the primary's one-octet header ends the list
      ++pos;
      blocks.push_back(b);
      break;
    }
    if (pos + 4 > d.size()) return DecodeError{"a block header is cut short"};
    b.offset = uint32_t(d[pos + 1]) << 6 | uint32_t(d[pos + 2] >> 2);
    lengths.push_back(size_t(d[pos + 2] & 0x03) << 8 | d[pos + 3]);
    pos += 4;
    blocks.push_back(b);
  }
  for (size_t i = 0; i + 1 < blocks.size(); ++i) {
    if (lengths[i] > d.size() - pos) return DecodeError{"a redundant block runs past the payload"};
    blocks[i].data = d.subspan(pos, lengths[i]);
    pos += lengths[i];
  }
  blocks.back().data = d.subspan(pos);
  return blocks;
}

std::vector<uint8_t> encode(std::span<const Block> redundant, uint8_t primary_pt, std::span<const uint8_t> primary) {
  std::vector<uint8_t> out;
  size_t n = 0;
  for (const auto& b : redundant) {
    if (n + 1 >= kMaxBlocks || b.offset > kMaxOffset || b.data.size() > kMaxLength) continue;
    out.push_back(uint8_t(0x80 | (b.payload_type & 0x7F)));
    out.push_back(uint8_t(b.offset >> 6));
    out.push_back(uint8_t((b.offset & 0x3F) << 2 | (b.data.size() >> 8)));
    out.push_back(uint8_t(b.data.size()));
    ++n;
  }
  out.push_back(uint8_t(primary_pt & 0x7F));
  n = 0;
  for (const auto& b : redundant) {
    if (n + 1 >= kMaxBlocks || b.offset > kMaxOffset || b.data.size() > kMaxLength) continue;
    out.insert(out.end(), b.data.begin(), b.data.end());
    ++n;
  }
  out.insert(out.end(), primary.begin(), primary.end());
  return out;
}

}  // namespace rfc2198
