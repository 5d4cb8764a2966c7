// fuzz_image.cpp — libFuzzer target: raster images (PNG, JPEG, GIF, BMP, PNM via MuPDF).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "imaging/mupdf_render.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imaging::RenderOptions o;
  o.resolution = imaging::Resolution::standard;
  o.limits.max_image_pixels = 4'000'000;
  auto r = imaging::render_image(std::string_view(reinterpret_cast<const char*>(data), size), o, "fuzz.img");
  if (!r.ok() && r.error().message.empty()) __builtin_trap();
  return 0;
}
