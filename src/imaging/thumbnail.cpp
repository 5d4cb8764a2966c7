#include "imaging/thumbnail.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace imaging {
namespace {

cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

Result<std::string> thumbnail_png(const Page& page, int width) {
  const Bitmap& b = page.bitmap;
  if (width < 16 || width > kFaxWidth) return make_error(Errc::limit, "thumbnail: width " + std::to_string(width) + " is not within 16..1728");
  if (b.width <= 0 || b.rows <= 0 || page.xres <= 0 || page.yres <= 0) return make_error(Errc::corrupt, "thumbnail: the page is empty");
  const double scale = double(width) / b.width;  // output pixels per source column
  const double physical_rows = double(b.rows) * page.xres / page.yres;
  int height = std::clamp(int(std::lround(physical_rows * scale)), 1, 4 * width);
  // Sum black pixels per output cell, then map to grey.
  std::vector<uint32_t> black(size_t(width) * height, 0), total(size_t(width) * height, 0);
  for (int y = 0; y < b.rows; ++y) {
    int oy = std::min(height - 1, int(int64_t(y) * height / b.rows));
    const uint8_t* row = b.row(y);
    for (int x = 0; x < b.width; ++x) {
      int ox = std::min(width - 1, int(int64_t(x) * width / b.width));
      size_t i = size_t(oy) * width + ox;
      ++total[i];
      if (row[x >> 3] & (0x80 >> (x & 7))) ++black[i];
    }
  }
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(s);
    return make_error(Errc::limit, "thumbnail: cannot allocate the image");
  }
  cairo_surface_flush(s);
  unsigned char* data = cairo_image_surface_get_data(s);
  const int stride = cairo_image_surface_get_stride(s);
  for (int y = 0; y < height; ++y) {
    auto* px = reinterpret_cast<uint32_t*>(data + size_t(y) * stride);
    for (int x = 0; x < width; ++x) {
      size_t i = size_t(y) * width + x;
      // Darken a little beyond the plain share, so thin strokes stay visible when shrunk 7x.
      double ink = total[i] ? std::min(1.0, 2.0 * black[i] / total[i]) : 0.0;
      uint32_t g = uint32_t(std::lround(255 * (1.0 - ink)));
      px[x] = (g << 16) | (g << 8) | g;
    }
  }
  cairo_surface_mark_dirty(s);
  std::string png;
  cairo_status_t st = cairo_surface_write_to_png_stream(s, append, &png);
  cairo_surface_destroy(s);
  if (st != CAIRO_STATUS_SUCCESS) return make_error(Errc::limit, std::string("thumbnail: ") + cairo_status_to_string(st));
  return png;
}

}  // namespace imaging
