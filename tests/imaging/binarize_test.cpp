// binarize_test.cpp — text thresholded sharp, grey fills and photos halftoned.
#include "imaging/binarize.hpp"

#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "common/test_data.hpp"

using namespace imaging;

namespace {

TEST(Binarize, BlackOnWhiteIsThresholdedExactly) {
  const int w = 64, h = 64;
  std::vector<uint8_t> g(size_t(w) * h, 255);
  for (int y = 10; y < 12; ++y)
    for (int x = 5; x < 60; ++x) g[size_t(y) * w + x] = 0;  // a 2-pixel rule
  Bitmap bm = binarize(g.data(), w, h, w);
  EXPECT_EQ(testdata::black_pixels(bm, 0, 0, w, h), 2 * 55);
  EXPECT_TRUE(bm.get(5, 10));
  EXPECT_FALSE(bm.get(4, 10));
}

TEST(Binarize, LightGreyTextStaysVisible) {
  const int w = 64, h = 64;
  std::vector<uint8_t> g(size_t(w) * h, 255);
  for (int x = 0; x < 64; ++x) g[size_t(30) * w + x] = 153;  // #999999 rule
  Bitmap bm = binarize(g.data(), w, h, w);
  EXPECT_EQ(testdata::black_pixels(bm, 0, 30, w, 31), 64);
}

TEST(Binarize, UniformGreyFillIsHalftonedNotABlot) {
  const int w = 128, h = 128;
  std::vector<uint8_t> g(size_t(w) * h, 128);
  Bitmap bm = binarize(g.data(), w, h, w);
  int black = testdata::black_pixels(bm, 0, 0, w, h);
  double share = double(black) / (w * h);
  EXPECT_GT(share, 0.40);
  EXPECT_LT(share, 0.60);
  // Light grey gives few dots, dark grey many: the tone is kept.
  std::vector<uint8_t> light(size_t(w) * h, 215), dark(size_t(w) * h, 60);
  double l = double(testdata::black_pixels(binarize(light.data(), w, h, w), 0, 0, w, h)) / (w * h);
  double d = double(testdata::black_pixels(binarize(dark.data(), w, h, w), 0, 0, w, h)) / (w * h);
  EXPECT_LT(l, 0.25);
  EXPECT_GT(d, 0.65);
}

TEST(Binarize, ThresholdOnlyNeverHalftones) {
  const int w = 32, h = 32;
  std::vector<uint8_t> g(size_t(w) * h, 128);
  EXPECT_EQ(testdata::black_pixels(threshold(g.data(), w, h, w), 0, 0, w, h), w * h);
  std::vector<uint8_t> g2(size_t(w) * h, 200);
  EXPECT_EQ(testdata::black_pixels(threshold(g2.data(), w, h, w), 0, 0, w, h), 0);
}

TEST(Binarize, StrideAndOddWidthsAreRespected) {
  const int w = 13, h = 3, stride = 16;
  std::vector<uint8_t> g(size_t(stride) * h, 0);  // padding bytes black too
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) g[size_t(y) * stride + x] = 255;
  Bitmap bm = binarize(g.data(), w, h, stride);
  EXPECT_EQ(bm.width, 13);
  EXPECT_EQ(bm.stride, 2);
  for (uint8_t b : bm.bits) EXPECT_EQ(b, 0);
}

// A fax-width page, its rows not a whole number of tiles: the page is binarized a band of tile
// rows at a time, and a grey area near a band's edge or in the last partial band is halftoned
// while text beside it stays sharp.
TEST(Binarize, GreyAreasAtBandEdgesAreHalftonedAndTextBesideThemIsSharp) {
  const int w = 1728, h = 301;
  std::vector<uint8_t> g(size_t(w) * h, 255);
  auto box = [&](int x0, int y0, int x1, int y1, uint8_t v) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) g[size_t(y) * w + x] = v;
  };
  box(0, 50, w, 51, 0);          // a black rule across the page
  box(703, 101, 905, 181, 128);  // a grey box starting and ending off the tiles
  box(1100, 101, 1300, 102, 0);  // a thin rule level with it, far to its side
  box(0, 250, 600, 251, 153);    // light grey text, far from any fill
  box(64, 291, 400, 301, 100);   // a grey fill in the last, partial band
  Bitmap bm = binarize(g.data(), w, h, w);
  EXPECT_EQ(testdata::black_pixels(bm, 0, 50, w, 51), w);
  EXPECT_EQ(testdata::black_pixels(bm, 1100, 101, 1300, 102), 200);
  EXPECT_EQ(testdata::black_pixels(bm, 0, 250, 600, 251), 600);
  const double inside = double(testdata::black_pixels(bm, 712, 112, 896, 176)) / (184 * 64);
  EXPECT_GT(inside, 0.35);
  EXPECT_LT(inside, 0.65);
  const double last = double(testdata::black_pixels(bm, 72, 291, 392, 301)) / (320 * 10);
  EXPECT_GT(last, 0.45);
  EXPECT_LT(last, 0.85);
  EXPECT_EQ(testdata::black_pixels(bm, 0, 190, w, 240), 0);  // paper stays paper
  EXPECT_EQ(testdata::black_pixels(bm, 0, 0, w, 50), 0);
}

}  // namespace
