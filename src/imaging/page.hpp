// page.hpp — the fax page model: a 1-bit bitmap at a T.30 resolution.
//
// STANDARDS: ITU-T T.4 (page widths and resolutions), RFC 3949 (TIFF-FX Profile S/F).
// A fax page is a bilevel raster, 1 = black, rows packed MSB first (the PBM and TIFF
// WhiteIsZero/FillOrder 1 layout), `stride` bytes per row. Width is 1728 pixels for
// A4/letter (215 mm at 204 dpi); B4 (2048) and A3 (2432) exist only in Profile F.
// LIMITS: kMaxRows bounds one page (a 1 m long page at superfine is ~15,400 rows).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace imaging {

inline constexpr int kFaxWidth = 1728;
inline constexpr int kMaxRows = 16384;

// Vertical resolutions of T.30 with 204 dpi horizontal.
enum class Resolution { standard, fine, superfine };

int xdpi(Resolution r);
int ydpi(Resolution r);
std::string_view name(Resolution r);
bool parse_resolution(std::string_view s, Resolution& out);

struct Bitmap {
  int width = 0;
  int rows = 0;
  int stride = 0;  // bytes per row = (width + 7) / 8
  std::vector<uint8_t> bits;

  Bitmap() = default;
  Bitmap(int w, int h) : width(w), rows(h), stride((w + 7) / 8), bits(size_t(stride) * h, 0) {}

  bool get(int x, int y) const { return bits[size_t(y) * stride + (x >> 3)] & (0x80 >> (x & 7)); }
  void set(int x, int y) { bits[size_t(y) * stride + (x >> 3)] |= uint8_t(0x80 >> (x & 7)); }
  uint8_t* row(int y) { return bits.data() + size_t(y) * stride; }
  const uint8_t* row(int y) const { return bits.data() + size_t(y) * stride; }
  bool operator==(const Bitmap&) const = default;
};

// One fax page: the bitmap plus its resolution in dots per inch.
struct Page {
  Bitmap bitmap;
  int xres = 204;
  int yres = 196;
  // On a document's first page: what the renderer did that the sender should be told (a damaged
  // PDF repaired: mupdf_render.hpp), without the document's name, which the caller puts in front
  // ("part 2 (report.pdf, application/pdf): ..."); "" almost always.
  std::string note;
};

using Pages = std::vector<Page>;

}  // namespace imaging
