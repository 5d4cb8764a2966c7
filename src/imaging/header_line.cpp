// header_line.cpp — page header rows above each page (see the header).
#include "imaging/header_line.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "imaging/text_render.hpp"

namespace imaging {

int header_band_rows(int ydpi) { return std::max(12, int(std::lround(0.16 * ydpi))); }

void add_header_lines(Pages& pages, const std::string& text, std::time_t when) {
  std::tm tm{};
  localtime_r(&when, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", &tm);
  const int total = int(pages.size());
  for (int i = 0; i < total; ++i) {
    Page& p = pages[size_t(i)];
    int band = header_band_rows(p.yres);
    std::string left = text.empty() ? std::string(date) : text + "    " + date;
    std::string right = "Page " + std::to_string(i + 1) + "/" + std::to_string(total);
    Bitmap head = render_text_band(left, right, p.yres, band);
    int rows = std::min(kMaxRows, band + p.bitmap.rows);
    Bitmap out(p.bitmap.width, rows);
    int hs = std::min(head.stride, out.stride);
    for (int y = 0; y < band; ++y) std::memcpy(out.row(y), head.row(y), size_t(hs));
    std::memcpy(out.row(band), p.bitmap.bits.data(), size_t(rows - band) * size_t(out.stride));
    p.bitmap = std::move(out);
  }
}

}  // namespace imaging
