// fuzz_tiff_read.cpp — libFuzzer target: TIFF inputs (libtiff decode + placement) must never
// crash, hang or leak, whatever the bytes; every failure is an Error value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "imaging/tiff_read.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imaging::RenderOptions o;
  o.resolution = imaging::Resolution::standard;
  o.limits.max_pages = 4;
  o.limits.max_image_pixels = 4'000'000;
  auto r = imaging::render_tiff(std::string_view(reinterpret_cast<const char*>(data), size), o, "fuzz.tif");
  if (!r.ok() && r.error().message.empty()) __builtin_trap();  // an error always says why
  return 0;
}
