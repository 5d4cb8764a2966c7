// t4_encoder.cpp — T.4/T.6 run-length and two-dimensional coding (see t4_encoder.hpp).
#include "imaging/t4_encoder.hpp"

#include <algorithm>
#include <cstring>

#include "imaging/tiff_f.hpp"

namespace imaging {
namespace {

struct Code {
  uint16_t bits;
  uint8_t len;
};

// T.4 Table 2: terminating codes, run lengths 0..63.
constexpr Code kWhiteTerm[64] = {
    {0x35, 8}, {0x07, 6}, {0x07, 4}, {0x08, 4}, {0x0B, 4}, {0x0C, 4}, {0x0E, 4}, {0x0F, 4},
    {0x13, 5}, {0x14, 5}, {0x07, 5}, {0x08, 5}, {0x08, 6}, {0x03, 6}, {0x34, 6}, {0x35, 6},
    {0x2A, 6}, {0x2B, 6}, {0x27, 7}, {0x0C, 7}, {0x08, 7}, {0x17, 7}, {0x03, 7}, {0x04, 7},
    {0x28, 7}, {0x2B, 7}, {0x13, 7}, {0x24, 7}, {0x18, 7}, {0x02, 8}, {0x03, 8}, {0x1A, 8},
    {0x1B, 8}, {0x12, 8}, {0x13, 8}, {0x14, 8}, {0x15, 8}, {0x16, 8}, {0x17, 8}, {0x28, 8},
    {0x29, 8}, {0x2A, 8}, {0x2B, 8}, {0x2C, 8}, {0x2D, 8}, {0x04, 8}, {0x05, 8}, {0x0A, 8},
    {0x0B, 8}, {0x52, 8}, {0x53, 8}, {0x54, 8}, {0x55, 8}, {0x24, 8}, {0x25, 8}, {0x58, 8},
    {0x59, 8}, {0x5A, 8}, {0x5B, 8}, {0x4A, 8}, {0x4B, 8}, {0x32, 8}, {0x33, 8}, {0x34, 8},
};
constexpr Code kBlackTerm[64] = {
    {0x37, 10}, {0x02, 3},  {0x03, 2},  {0x02, 2},  {0x03, 3},  {0x03, 4},  {0x02, 4},  {0x03, 5},
    {0x05, 6},  {0x04, 6},  {0x04, 7},  {0x05, 7},  {0x07, 7},  {0x04, 8},  {0x07, 8},  {0x18, 9},
    {0x17, 10}, {0x18, 10}, {0x08, 10}, {0x67, 11}, {0x68, 11}, {0x6C, 11}, {0x37, 11}, {0x28, 11},
    {0x17, 11}, {0x18, 11}, {0xCA, 12}, {0xCB, 12}, {0xCC, 12}, {0xCD, 12}, {0x68, 12}, {0x69, 12},
    {0x6A, 12}, {0x6B, 12}, {0xD2, 12}, {0xD3, 12}, {0xD4, 12}, {0xD5, 12}, {0xD6, 12}, {0xD7, 12},
    {0x6C, 12}, {0x6D, 12}, {0xDA, 12}, {0xDB, 12}, {0x54, 12}, {0x55, 12}, {0x56, 12}, {0x57, 12},
    {0x64, 12}, {0x65, 12}, {0x52, 12}, {0x53, 12}, {0x24, 12}, {0x37, 12}, {0x38, 12}, {0x27, 12},
    {0x28, 12}, {0x58, 12}, {0x59, 12}, {0x2B, 12}, {0x2C, 12}, {0x5A, 12}, {0x66, 12}, {0x67, 12},
};
// T.4 Table 3: makeup codes for 64..1728 (index n = run / 64 - 1), then the extended makeup
// codes 1792..2560 that both colours share (T.4 Table 3/T.4, note).
constexpr Code kWhiteMakeup[27] = {
    {0x1B, 5}, {0x12, 5}, {0x17, 6}, {0x37, 7}, {0x36, 8}, {0x37, 8}, {0x64, 8}, {0x65, 8}, {0x68, 8},
    {0x67, 8}, {0xCC, 9}, {0xCD, 9}, {0xD2, 9}, {0xD3, 9}, {0xD4, 9}, {0xD5, 9}, {0xD6, 9}, {0xD7, 9},
    {0xD8, 9}, {0xD9, 9}, {0xDA, 9}, {0xDB, 9}, {0x98, 9}, {0x99, 9}, {0x9A, 9}, {0x18, 6}, {0x9B, 9},
};
constexpr Code kBlackMakeup[27] = {
    {0x0F, 10}, {0xC8, 12}, {0xC9, 12}, {0x5B, 12}, {0x33, 12}, {0x34, 12}, {0x35, 12},
    {0x6C, 13}, {0x6D, 13}, {0x4A, 13}, {0x4B, 13}, {0x4C, 13}, {0x4D, 13}, {0x72, 13},
    {0x73, 13}, {0x74, 13}, {0x75, 13}, {0x76, 13}, {0x77, 13}, {0x52, 13}, {0x53, 13},
    {0x54, 13}, {0x55, 13}, {0x5A, 13}, {0x5B, 13}, {0x64, 13}, {0x65, 13},
};
constexpr Code kExtendedMakeup[13] = {
    {0x08, 11}, {0x0C, 11}, {0x0D, 11}, {0x12, 12}, {0x13, 12}, {0x14, 12}, {0x15, 12},
    {0x16, 12}, {0x17, 12}, {0x1C, 12}, {0x1D, 12}, {0x1E, 12}, {0x1F, 12},
};
// T.4 Table 4: two-dimensional mode codes. kVertical[d + 3] for d = b1 - a1.
constexpr Code kPass = {0x1, 4}, kHorizontal = {0x1, 3}, kEol = {0x1, 12};
constexpr Code kVertical[7] = {{0x03, 7}, {0x03, 6}, {0x03, 3}, {0x1, 1}, {0x02, 3}, {0x02, 6}, {0x02, 7}};

// Bits appended MSB first into a 64-bit accumulator, written out 32 at a time into `out`
// (grown as needed, cut to length by flush()).
class BitWriter {
 public:
  explicit BitWriter(std::vector<uint8_t>& out) : out_(out) {
    if (out_.size() < 64) out_.resize(64);
  }
  void put(uint32_t bits, int len) {  // len 1..32
    acc_ = (acc_ << len) | (bits & (0xFFFFFFFFu >> (32 - len)));
    n_ += len;
    if (n_ >= 32) {
      n_ -= 32;
      const uint32_t word = uint32_t(acc_ >> n_);
      if (pos_ + 4 > out_.size()) out_.resize(out_.size() * 2);
      uint8_t* p = out_.data() + pos_;
      p[0] = uint8_t(word >> 24);
      p[1] = uint8_t(word >> 16);
      p[2] = uint8_t(word >> 8);
      p[3] = uint8_t(word);
      pos_ += 4;
    }
  }
  void put(Code c) { put(c.bits, c.len); }
  int free_bits() const { return 8 - (n_ & 7); }  // libtiff's "bit": free bits in the current byte
  // Pads the last byte with zeros, writes what is pending and cuts `out` to length.
  void flush() {
    if (n_ & 7) put(0, 8 - (n_ & 7));
    if (pos_ + 4 > out_.size()) out_.resize(out_.size() * 2);
    for (; n_ > 0; n_ -= 8) out_[pos_++] = uint8_t(acc_ >> (n_ - 8));
    out_.resize(pos_);
  }

 private:
  std::vector<uint8_t>& out_;
  size_t pos_ = 0;    // bytes written
  uint64_t acc_ = 0;
  int n_ = 0;  // bits pending in acc_ (< 32 between calls)
};

// A run's whole code (T.4 §4.1.1: the makeup code for its multiple of 64, if any, then the
// terminating code), for runs below kDirectRuns, per colour: one lookup and one write.
constexpr int kDirectRuns = 2560 + 64;
struct RunCode {
  uint32_t bits;
  uint8_t len;  // at most 13 + 12
};
struct RunCodes {
  RunCode white[kDirectRuns], black[kDirectRuns];
  RunCodes() {
    for (int black_run = 0; black_run < 2; ++black_run) {
      const Code* term = black_run ? kBlackTerm : kWhiteTerm;
      const Code* makeup = black_run ? kBlackMakeup : kWhiteMakeup;
      RunCode* table = black_run ? black : white;
      for (int run = 0; run < kDirectRuns; ++run) {
        RunCode c{0, 0};
        if (run >= 64) {
          const int n = run / 64;
          const Code m = n <= 27 ? makeup[n - 1] : kExtendedMakeup[n - 28];
          c = {m.bits, m.len};
        }
        const Code t = term[run % 64];
        table[run] = {(c.bits << t.len) | t.bits, uint8_t(c.len + t.len)};
      }
    }
  }
};
const RunCodes kRunCodes;

void put_span(BitWriter& w, int span, bool black) {
  while (span >= kDirectRuns) {  // (wider than any fax page: repeated 2560 makeups)
    w.put(kExtendedMakeup[2560 / 64 - 28]);
    span -= 2560;
  }
  const RunCode c = (black ? kRunCodes.black : kRunCodes.white)[span];
  w.put(c.bits, c.len);
}

// The changing elements of a row (T.4 §4.2.1.3.1): positions whose pixel differs from the
// one before it, with an imaginary white pixel before the first. Change k turns the row black
// when k is even, white when odd. Three sentinels at `width` follow the last change.
// Transitions are found 64 pixels at a time: w ^ (w >> 1 | previous bit) marks every change.
int row_changes(const uint8_t* row, int width, int* out) {
  const int nbytes = (width + 7) >> 3;
  int n = 0;
  uint64_t prev = 0;
  for (int byte = 0; byte < nbytes; byte += 8) {
    uint64_t w = 0;
    std::memcpy(&w, row + byte, size_t(std::min(8, nbytes - byte)));
    w = __builtin_bswap64(w);
    uint64_t t = w ^ ((w >> 1) | (prev << 63));
    prev = w & 1;
    while (t) {
      int bit = __builtin_clzll(t);
      int pos = (byte << 3) + bit;
      if (pos >= width) break;
      out[n++] = pos;
      t &= ~(uint64_t(1) << (63 - bit));
    }
  }
  out[n] = out[n + 1] = out[n + 2] = width;
  return n;
}

void encode_1d(BitWriter& w, const int* changes, int n, int width) {
  int prev = 0;
  for (int k = 0; k < n; ++k) {
    put_span(w, changes[k] - prev, k & 1);
    prev = changes[k];
  }
  put_span(w, width - prev, n & 1);
}

// T.4 §4.2.1.3 / T.6 §2.2 coding of a row against its reference row (all white above the
// first row), both given as changing elements. a0 starts before the first pixel; the first
// horizontal run counts from pixel 0 (as libtiff does).
void encode_2d(BitWriter& w, const int* cur, const int* ref, int width) {
  int a0 = -1;
  bool black = false;  // colour of a0
  int i = 0, jb = 0;   // first changes after a0 on the coding and the reference line
  for (;;) {
    while (cur[i] <= a0) ++i;
    while (ref[jb] <= a0) ++jb;
    // b1: the first change after a0 to the colour opposite a0's (even changes turn black).
    int j = jb + (((jb & 1) == 0) == black ? 1 : 0);
    const int a1 = cur[i], b1 = ref[j], b2 = ref[j + 1];
    if (b2 < a1) {
      w.put(kPass);
      a0 = b2;
    } else if (int d = b1 - a1; d >= -3 && d <= 3) {
      w.put(kVertical[d + 3]);
      a0 = a1;
      black = !black;
    } else {
      const int a2 = cur[i + 1];
      w.put(kHorizontal);
      put_span(w, a1 - std::max(a0, 0), black);
      put_span(w, a2 - a1, !black);
      a0 = a2;
    }
    if (a0 >= width) break;
  }
}

// An EOL preceded by zero fill bits so it ends on a byte boundary (T4Options fill bits), with
// the MR tag bit after it when `tag` is 0 or 1.
void put_eol(BitWriter& w, int tag) {
  int free = w.free_bits();
  if (free != 4) w.put(0, free > 4 ? free - 4 : free + 4);
  w.put(kEol);
  if (tag >= 0) w.put(uint32_t(tag), 1);
}

}  // namespace

int mr_k_factor(int ydpi) { return ydpi > 150 ? 4 : 2; }

std::vector<uint8_t> t4_encode(const Bitmap& page, Coding coding, int ydpi) {
  std::vector<uint8_t> out;
  out.reserve(size_t(page.stride) * page.rows / 8 + 64);
  BitWriter w(out);
  const int width = page.width;
  // Changing elements of the current and the reference row (the reference starts all white).
  std::vector<int> a(size_t(width) + 4), b(size_t(width) + 4);
  int* cur = a.data();
  int* ref = b.data();
  ref[0] = ref[1] = ref[2] = width;
  const int k = mr_k_factor(ydpi);
  for (int y = 0; y < page.rows; ++y) {
    int n = row_changes(page.row(y), width, cur);
    switch (coding) {
      case Coding::mh:
        put_eol(w, -1);
        encode_1d(w, cur, n, width);
        break;
      case Coding::mr:
        put_eol(w, y % k == 0 ? 1 : 0);
        if (y % k == 0) encode_1d(w, cur, n, width);
        else encode_2d(w, cur, ref, width);
        break;
      case Coding::mmr:
        encode_2d(w, cur, ref, width);
        break;
    }
    std::swap(cur, ref);
  }
  if (coding == Coding::mmr) {
    w.put(kEol);  // EOFB
    w.put(kEol);
  }
  w.flush();
  return out;
}

}  // namespace imaging
