// binarize.hpp — grey to bilevel for fax: text and line art thresholded sharp, photographs
// and grey fills halftoned.
//
// Users complain about blurry, dithered faxes of text; dithering everything (what a plain
// `gs -sDEVICE=tiffg4` pipeline does with greys) blurs small type, thresholding everything
// turns photos into blots. We classify 8x8 tiles by their share of mid-grey pixels, smoothed
// over the 3x3 tile neighbourhood: photo-like regions get a clustered-dot ordered dither
// (dots survive fax coding and printing; error diffusion's noise compresses badly in MH/MMR),
// the rest a fixed threshold, generous enough that light grey text stays visible.
// Input: 8-bit grey, 0 = black, 255 = white.
#pragma once

#include <cstdint>

#include "imaging/page.hpp"

namespace imaging {

inline constexpr int kTextThreshold = 160;  // grey below this is ink in text regions

// Mixed content (rendered PDF pages, raster images): threshold or halftone per region.
Bitmap binarize(const uint8_t* grey, int width, int rows, int stride);

// One row of coverage (0 = paper, 255 = full ink, e.g. a Cairo A8 surface) to packed bits:
// ink where coverage > level.
void ink_where_above(const uint8_t* coverage, int width, int level, uint8_t* dst);

// Pure text or line art (rendered text): threshold only.
Bitmap threshold(const uint8_t* grey, int width, int rows, int stride, int level = kTextThreshold);

}  // namespace imaging
