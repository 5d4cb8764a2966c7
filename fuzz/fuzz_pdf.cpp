// fuzz_pdf.cpp — libFuzzer target: PDF inputs through MuPDF must end in pages or an Error
// value, never a crash or a leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "imaging/mupdf_render.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  imaging::RenderOptions o;
  o.resolution = imaging::Resolution::standard;
  o.limits.max_pages = 2;
  o.limits.max_image_pixels = 4'000'000;
  auto r = imaging::render_pdf(std::string_view(reinterpret_cast<const char*>(data), size), o, "fuzz.pdf");
  if (!r.ok() && r.error().message.empty()) __builtin_trap();
  return 0;
}
