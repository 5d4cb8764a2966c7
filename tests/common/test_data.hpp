// test_data.hpp — locating test inputs: the repository's tests/data and ../shared/corpus.
#pragma once

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "imaging/page.hpp"

namespace testdata {

inline std::string source_dir() {
  const char* s = std::getenv("FB_SOURCE_DIR");
  return s ? s : FB_SOURCE_DIR_DEFAULT;
}
inline std::string shared_dir() {
  const char* s = std::getenv("FB_SHARED_DIR");
  return s ? s : FB_SHARED_DIR_DEFAULT;
}
inline std::string data(const std::string& name) { return source_dir() + "/tests/data/" + name; }
inline std::string itu_chart(int n) { return shared_dir() + "/corpus/itu/itu" + std::to_string(n) + ".pbm"; }

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// An independent P4 (raw PBM) reader: the reference the codecs are compared against.
inline bool read_pbm(const std::string& path, imaging::Bitmap& out) {
  std::string b = slurp(path);
  size_t i = 0;
  auto token = [&]() {
    std::string t;
    while (i < b.size()) {
      if (b[i] == '#') {
        while (i < b.size() && b[i] != '\n') ++i;
      } else if (isspace(static_cast<unsigned char>(b[i]))) {
        ++i;
      } else {
        break;
      }
    }
    while (i < b.size() && !isspace(static_cast<unsigned char>(b[i]))) t += b[i++];
    return t;
  };
  if (token() != "P4") return false;
  int w = std::stoi(token()), h = std::stoi(token());
  ++i;  // the single whitespace before the raster
  imaging::Bitmap bm(w, h);
  if (b.size() - i < bm.bits.size()) return false;
  std::copy(b.begin() + long(i), b.begin() + long(i + bm.bits.size()), bm.bits.begin());
  out = std::move(bm);
  return true;
}

inline int black_pixels(const imaging::Bitmap& bm, int x0, int y0, int x1, int y1) {
  int n = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) n += bm.get(x, y);
  return n;
}

}  // namespace testdata

// The ITU charts live in ../shared/corpus. CI always has them: there a missing corpus is a
// failure, never a silent pass. Elsewhere the test is skipped, saying where it looked.
inline bool itu_corpus_present() { return bool(std::ifstream(testdata::itu_chart(1))); }
inline bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci && *ci && std::string(ci) != "false";
}

#define REQUIRE_ITU_CORPUS()                                                                           \
  do {                                                                                                \
    if (!itu_corpus_present()) {                                                                      \
      if (running_in_ci()) FAIL() << "the ITU corpus is missing from " << testdata::shared_dir();     \
      GTEST_SKIP() << "no ITU corpus in " << testdata::shared_dir();                                  \
    }                                                                                                 \
  } while (0)
