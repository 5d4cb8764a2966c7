// render_options.hpp — what every renderer is told: resolution, paper, limits.
#pragma once

#include <cstdint>
#include <string>

#include "imaging/page.hpp"
#include "imaging/paper.hpp"

namespace imaging {

struct Limits {
  int max_pages = 1000;                        // pages in one output document
  int64_t max_image_pixels = 150'000'000;      // decoded pixels of one raster image
  int64_t max_input_bytes = int64_t(256) << 20;  // one input document
};

struct RenderOptions {
  Resolution resolution = Resolution::fine;
  Paper paper = Paper::automatic;  // the document's own size
  Paper text_paper = Paper::a4;    // page size for text and HTML when paper is automatic
  std::string charset;             // text inputs: source charset ("" = UTF-8)
  Limits limits;

  int ydpi() const { return imaging::ydpi(resolution); }
  // The paper text and reflowed HTML are laid out on.
  Paper text_page() const { return paper == Paper::automatic ? text_paper : paper; }
};

}  // namespace imaging
