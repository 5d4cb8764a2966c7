// binarize.cpp — region-classified threshold / clustered-dot halftone (see binarize.hpp).
#include "imaging/binarize.hpp"

#include <vector>

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

}  // namespace

Bitmap threshold(const uint8_t* grey, int width, int rows, int stride, int level) {
  Bitmap bm(width, rows);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = grey + size_t(y) * stride;
    uint8_t* dst = bm.row(y);
    for (int x = 0; x < width; ++x) {
      if (src[x] < level) dst[x >> 3] |= uint8_t(0x80 >> (x & 7));
    }
  }
  return bm;
}

Bitmap binarize(const uint8_t* grey, int width, int rows, int stride) {
  const int tw = (width + kTile - 1) / kTile, th = (rows + kTile - 1) / kTile;
  std::vector<uint16_t> mid(size_t(tw) * th, 0), count(size_t(tw) * th, 0);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = grey + size_t(y) * stride;
    for (int x = 0; x < width; ++x) {
      size_t t = size_t(y / kTile) * tw + x / kTile;
      mid[t] += (src[x] >= kMidLo && src[x] <= kMidHi);
      count[t] += 1;
    }
  }
  std::vector<uint8_t> photo(size_t(tw) * th, 0);
  for (int ty = 0; ty < th; ++ty) {
    for (int tx = 0; tx < tw; ++tx) {
      unsigned m = 0, c = 0;
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          int x = tx + dx, y = ty + dy;
          if (x < 0 || y < 0 || x >= tw || y >= th) continue;
          m += mid[size_t(y) * tw + x];
          c += count[size_t(y) * tw + x];
        }
      }
      photo[size_t(ty) * tw + tx] = c && m * 100 >= c * kPhotoShare;
    }
  }
  Bitmap bm(width, rows);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = grey + size_t(y) * stride;
    uint8_t* dst = bm.row(y);
    const uint8_t* prow = photo.data() + size_t(y / kTile) * tw;
    for (int x = 0; x < width; ++x) {
      bool ink;
      if (prow[x / kTile]) {
        // Map grey 0..255 onto the 65 dot sizes: ink where the cell threshold is below darkness.
        int dark = (255 - src[x]) * 64 / 255;
        ink = kScreen[y & 7][x & 7] < dark;
      } else {
        ink = src[x] < kTextThreshold;
      }
      if (ink) dst[x >> 3] |= uint8_t(0x80 >> (x & 7));
    }
  }
  return bm;
}

}  // namespace imaging
