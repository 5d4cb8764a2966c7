// t4_encoder_test.cpp — our T.4/T.6 coder writes exactly what libtiff's encoder writes
// (byte for byte) for the ITU charts and edge-case rows, at every coding and resolution.
#include "imaging/t4_encoder.hpp"

#include <filesystem>
#include <random>

#include <gtest/gtest.h>
#include <tiffio.h>

#include "common/test_data.hpp"
#include "imaging/tiff_f.hpp"

using namespace imaging;
namespace fs = std::filesystem;

namespace {

// The strip libtiff's own encoder produces for `bm` with the TIFF-F options we use.
std::vector<uint8_t> libtiff_strip(const Bitmap& bm, Coding coding, int ydpi) {
  std::string path = (fs::temp_directory_path() / ("fb-t4enc-" + std::to_string(::getpid()) + ".tif")).string();
  TIFF* t = TIFFOpen(path.c_str(), "w");
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, uint32_t(bm.width));
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, uint32_t(bm.rows));
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
  TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_MSB2LSB);
  TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.f);
  TIFFSetField(t, TIFFTAG_YRESOLUTION, float(ydpi));
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, uint32_t(bm.rows));
  if (coding == Coding::mmr) {
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
  } else {
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3);
    TIFFSetField(t, TIFFTAG_GROUP3OPTIONS,
                 uint32_t(GROUP3OPT_FILLBITS | (coding == Coding::mr ? GROUP3OPT_2DENCODING : 0)));
  }
  TIFFWriteEncodedStrip(t, 0, const_cast<uint8_t*>(bm.bits.data()), tmsize_t(bm.bits.size()));
  TIFFClose(t);
  t = TIFFOpen(path.c_str(), "r");
  std::vector<uint8_t> raw(size_t(TIFFRawStripSize(t, 0)));
  TIFFReadRawStrip(t, 0, raw.data(), tmsize_t(raw.size()));
  TIFFClose(t);
  fs::remove(path);
  return raw;
}

class SameAsLibtiff : public ::testing::TestWithParam<std::tuple<int, Coding, int>> {};

TEST_P(SameAsLibtiff, ItuChart) {
  REQUIRE_ITU_CORPUS();
  auto [chart, coding, ydpi] = GetParam();
  Bitmap bm;
  ASSERT_TRUE(testdata::read_pbm(testdata::itu_chart(chart), bm));
  auto ours = t4_encode(bm, coding, ydpi);
  auto theirs = libtiff_strip(bm, coding, ydpi);
  ASSERT_EQ(ours.size(), theirs.size()) << "chart " << chart;
  EXPECT_TRUE(ours == theirs) << "chart " << chart;
}

INSTANTIATE_TEST_SUITE_P(AllCharts, SameAsLibtiff,
                         ::testing::Combine(::testing::Range(1, 9),
                                            ::testing::Values(Coding::mh, Coding::mr, Coding::mmr),
                                            ::testing::Values(98, 196)));

Bitmap pattern(int width, int rows, unsigned seed, int density) {
  Bitmap bm(width, rows);
  std::mt19937 rng(seed);
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < width; ++x) {
      if (int(rng() % 100) < density) bm.set(x, y);
    }
  }
  return bm;
}

TEST(T4Encoder, EdgeCasesMatchLibtiff) {
  std::vector<Bitmap> cases;
  cases.push_back(Bitmap(1728, 3));  // all white
  Bitmap black(1728, 3);
  std::fill(black.bits.begin(), black.bits.end(), 0xFF);
  cases.push_back(black);  // all black: makeup 1728 + terminating 0
  Bitmap edges(1728, 4);
  edges.set(0, 0);
  edges.set(1727, 1);
  edges.set(0, 2);
  edges.set(1727, 2);
  cases.push_back(edges);
  cases.push_back(pattern(1728, 40, 1, 50));   // noise: short runs, every 2-D mode
  cases.push_back(pattern(1728, 40, 2, 3));    // sparse: long white runs, pass modes
  cases.push_back(pattern(2048, 20, 3, 20));   // B4 width
  cases.push_back(pattern(4864, 10, 4, 1));    // runs longer than 2560 (extended makeup, repeated)
  cases.push_back(pattern(13, 7, 5, 50));      // odd width, padding bits
  for (size_t i = 0; i < cases.size(); ++i) {
    for (Coding c : {Coding::mh, Coding::mr, Coding::mmr}) {
      EXPECT_TRUE(t4_encode(cases[i], c, 196) == libtiff_strip(cases[i], c, 196))
          << "case " << i << " coding " << int(c);
    }
  }
}

TEST(T4Encoder, KFactorFollowsResolution) {
  EXPECT_EQ(mr_k_factor(98), 2);
  EXPECT_EQ(mr_k_factor(196), 4);
  EXPECT_EQ(mr_k_factor(391), 4);
}

}  // namespace
