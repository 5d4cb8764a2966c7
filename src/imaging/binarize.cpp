// binarize.cpp — region-classified threshold / clustered-dot halftone (see binarize.hpp).
#include "imaging/binarize.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include <emmintrin.h>

namespace imaging {
namespace {

constexpr int kTile = 8;
constexpr int kMidLo = 16, kMidHi = 216;  // "mid-grey": neither ink nor paper
constexpr int kPhotoShare = 30;           // percent of mid-grey pixels (3x3 tiles) that makes a photo

// 8x8 clustered-dot screen (a 45-degree dot growing from the cell centre), thresholds 0..63.
constexpr uint8_t kScreen[8][8] = {
    {24, 10, 12, 26, 35, 47, 49, 37}, {8, 0, 2, 14, 45, 59, 61, 51}, {22, 6, 4, 16, 43, 57, 63, 53},
    {30, 20, 18, 28, 33, 41, 55, 39}, {34, 46, 48, 36, 25, 11, 13, 27}, {44, 58, 60, 50, 9, 1, 3, 15},
    {42, 56, 62, 52, 23, 7, 5, 17}, {32, 40, 54, 38, 31, 21, 19, 29},
};

// Grey level below which a pixel is ink, per screen cell: ink where the cell's threshold is
// below the pixel's darkness, (255 - v) * 64 / 255, precomputed once.
struct ScreenLevels {
  uint8_t at[8][8];
  ScreenLevels() {
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 8; ++x) {
        int v = 0;
        while (v < 256 && (255 - v) * 64 / 255 > kScreen[y][x]) ++v;
        at[y][x] = uint8_t(v);
      }
    }
  }
};
const ScreenLevels kLevels;

// SSE2 (every x86-64 has it): 16 pixels compared at once; movemask gives bit i for pixel i,
// the reversal table turns that into the MSB-first order of a fax row.
struct Reverse {
  uint8_t at[256];
  Reverse() {
    for (int v = 0; v < 256; ++v) {
      int r = 0;
      for (int b = 0; b < 8; ++b) r |= ((v >> b) & 1) << (7 - b);
      at[v] = uint8_t(r);
    }
  }
};
const Reverse kReverse;

// 16 pixels to two output bytes: ink where grey < level (levels given per pixel).
inline void pack16(const uint8_t* src, const uint8_t* level, uint8_t* out) {
  const __m128i bias = _mm_set1_epi8(char(0x80));  // unsigned compare via signed compare
  __m128i v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)), bias);
  __m128i l = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(level)), bias);
  unsigned m = unsigned(_mm_movemask_epi8(_mm_cmplt_epi8(v, l)));
  out[0] = kReverse.at[m & 0xFF];
  out[1] = kReverse.at[m >> 8];
}

// Mid-grey pixels among 16 (kMidLo <= v <= kMidHi), counted per 8-pixel half (SAD of the 0/1
// bytes sums each half: no popcount instruction in the x86-64 baseline).
inline void count_mid16(const uint8_t* src, uint16_t* tiles) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
  __m128i in = _mm_and_si128(_mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(char(kMidLo))), v),
                             _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(char(kMidHi))), v));
  __m128i sums = _mm_sad_epu8(_mm_and_si128(in, _mm_set1_epi8(1)), _mm_setzero_si128());
  tiles[0] = uint16_t(tiles[0] + _mm_cvtsi128_si32(sums));
  tiles[1] = uint16_t(tiles[1] + _mm_extract_epi16(sums, 4));
}

bool all_white16(const uint8_t* p) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(char(0xFF)))) == 0xFFFF;
}

// 64 pixels of paper (most of a page): one test instead of four.
bool all_white64(const uint8_t* p) {
  const __m128i* q = reinterpret_cast<const __m128i*>(p);
  __m128i v = _mm_and_si128(_mm_and_si128(_mm_loadu_si128(q), _mm_loadu_si128(q + 1)),
                            _mm_and_si128(_mm_loadu_si128(q + 2), _mm_loadu_si128(q + 3)));
  return _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(char(0xFF)))) == 0xFFFF;
}

// Up to 8 pixels into one output byte (MSB first), ink where grey < level[i].
uint8_t pack(const uint8_t* src, const uint8_t* level, int n) {
  unsigned byte = 0;
  for (int i = 0; i < n; ++i) byte |= unsigned(src[i] < level[i]) << (7 - i);
  return uint8_t(byte);
}

}  // namespace

void ink_where_above(const uint8_t* coverage, int width, int level, uint8_t* dst) {
  // coverage > level  <=>  (255 - coverage) < 255 - level: the grey comparison of pack16.
  uint8_t lv[16];
  std::memset(lv, 255 - level, sizeof lv);
  uint8_t inv[16];
  int x = 0;
  for (; x + 16 <= width; x += 16) {
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(coverage + x));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(c, _mm_setzero_si128())) == 0xFFFF) {
      dst[x >> 3] = dst[(x >> 3) + 1] = 0;
      continue;
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(inv), _mm_xor_si128(c, _mm_set1_epi8(char(0xFF))));
    pack16(inv, lv, dst + (x >> 3));
  }
  for (; x < width; x += 8) {
    int n = std::min(8, width - x);
    for (int i = 0; i < n; ++i) inv[i] = uint8_t(255 - coverage[x + i]);
    dst[x >> 3] = pack(inv, lv, n);
  }
}

Bitmap threshold(const uint8_t* grey, int width, int rows, int stride, int level) {
  Bitmap bm(width, rows);
  uint8_t lv[8];
  std::memset(lv, level, sizeof lv);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = grey + size_t(y) * stride;
    uint8_t* dst = bm.row(y);
    int x = 0;
    uint8_t lv16[16];
    std::memset(lv16, level, sizeof lv16);
    for (; x + 16 <= width; x += 16) {
      if (!all_white16(src + x)) pack16(src + x, lv16, dst + (x >> 3));
    }
    for (; x < width; x += 8) dst[x >> 3] = pack(src + x, lv, std::min(8, width - x));
  }
  return bm;
}

Bitmap binarize(const uint8_t* grey, int width, int rows, int stride) {
  static_assert(kTile == 8, "one tile is one output byte");
  const int tw = (width + kTile - 1) / kTile, th = (rows + kTile - 1) / kTile;
  std::vector<uint16_t> mid(size_t(tw) * th, 0);
  std::vector<uint8_t> photo(size_t(tw), 0);  // of the tile row being binarized
  Bitmap bm(width, rows);
  uint8_t text_level[16];
  std::memset(text_level, kTextThreshold, sizeof text_level);
  // Mid-grey pixels per tile of tile row `ty`.
  auto count = [&](int ty) {
    uint16_t* trow = mid.data() + size_t(ty) * tw;
    for (int y = ty * kTile; y < std::min(rows, (ty + 1) * kTile); ++y) {
      const uint8_t* src = grey + size_t(y) * stride;
      int x = 0;
      for (; x + 64 <= width; x += 64) {
        if (all_white64(src + x)) continue;
        for (int k = x; k < x + 64; k += 16) {
          if (!all_white16(src + k)) count_mid16(src + k, trow + (k >> 3));
        }
      }
      for (; x + 16 <= width; x += 16) {
        if (!all_white16(src + x)) count_mid16(src + x, trow + (x >> 3));
      }
      for (; x < width; x += 8) {
        int n = std::min(8, width - x);
        unsigned m = 0;
        for (int i = 0; i < n; ++i) m += unsigned(src[x + i] - kMidLo) <= unsigned(kMidHi - kMidLo);
        trow[x >> 3] = uint16_t(trow[x >> 3] + m);
      }
    }
  };
  // A tile is photo-like when its 3x3 neighbourhood is at least kPhotoShare percent mid-grey;
  // false for all of tile row `ty` when none of it is (the common case: text).
  auto classify = [&](int ty) {
    bool any = false;
    for (int y = std::max(0, ty - 1); y <= std::min(th - 1, ty + 1) && !any; ++y) {
      const uint16_t* r = mid.data() + size_t(y) * tw;
      any = std::any_of(r, r + tw, [](uint16_t m) { return m != 0; });
    }
    if (!any) {
      std::fill(photo.begin(), photo.end(), uint8_t(0));
      return false;
    }
    for (int tx = 0; tx < tw; ++tx) {
      unsigned m = 0, c = 0;
      for (int y = std::max(0, ty - 1); y <= std::min(th - 1, ty + 1); ++y) {
        int rows_in = std::min(kTile, rows - y * kTile);
        for (int x = std::max(0, tx - 1); x <= std::min(tw - 1, tx + 1); ++x) {
          m += mid[size_t(y) * tw + x];
          c += unsigned(rows_in * std::min(kTile, width - x * kTile));
        }
      }
      photo[size_t(tx)] = c && m * 100 >= c * kPhotoShare;
    }
    return true;
  };
  // The rows of tile row `ty`: the text threshold, or the screen where a tile is photo.
  auto levels = [&](int ty, bool photos) {
    for (int y = ty * kTile; y < std::min(rows, (ty + 1) * kTile); ++y) {
      const uint8_t* src = grey + size_t(y) * stride;
      uint8_t* dst = bm.row(y);
      uint8_t screen[16];
      for (int i = 0; i < 16; ++i) screen[i] = kLevels.at[y & 7][i & 7];
      int x = 0;
      for (; x + 16 <= width; x += 16) {
        if ((x & 63) == 0 && x + 64 <= width && all_white64(src + x)) {
          x += 48;  // (and 16 by the loop)
          continue;
        }
        if (all_white16(src + x)) continue;
        if (!photos) {
          pack16(src + x, text_level, dst + (x >> 3));
          continue;
        }
        const uint8_t p0 = photo[size_t(x >> 3)], p1 = photo[size_t(x >> 3) + 1];
        if (p0 == p1) {
          pack16(src + x, p0 ? screen : text_level, dst + (x >> 3));
        } else {
          uint8_t mixed[16];
          std::memcpy(mixed, p0 ? screen : text_level, 8);
          std::memcpy(mixed + 8, p1 ? screen : text_level, 8);
          pack16(src + x, mixed, dst + (x >> 3));
        }
      }
      for (; x < width; x += 8) {
        int n = std::min(8, width - x);
        dst[x >> 3] = pack(src + x, photo[size_t(x >> 3)] ? screen : text_level, n);
      }
    }
  };
  // One pass over the page, a band at a time (its pixels still in cache when binarized): the
  // counts of tile row ty + 1 are taken before tile row ty is classified and binarized.
  if (th > 0) count(0);
  for (int ty = 0; ty < th; ++ty) {
    if (ty + 1 < th) count(ty + 1);
    levels(ty, classify(ty));
  }
  return bm;
}

}  // namespace imaging
