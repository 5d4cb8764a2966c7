// tiff_read.hpp — any TIFF libtiff reads (multi-page, bilevel, grey, colour, any width or
// resolution, any compression libtiff knows) to fax pages.
//
// STANDARDS: TIFF 6.0, RFC 3949 (TIFF-FX), TIFF Class F.
// A bilevel page already 1728 pixels wide (a fax TIFF) keeps every pixel; its rows are
// resampled only when its vertical resolution differs from the requested one (rows repeated
// or OR-ed, never smoothed). Every other page is decoded to grey and scaled onto the fax page
// (mupdf_render.hpp place_grey). FillOrder 1 and 2, WhiteIsZero and BlackIsZero are all read.
// LIMITS: RenderOptions::limits (pages, decoded pixels per page).
#pragma once

#include <string>
#include <string_view>

#include "imaging/page.hpp"
#include "imaging/render_options.hpp"
#include "imaging/result.hpp"

namespace imaging {

Result<Pages> render_tiff(std::string_view bytes, const RenderOptions& opt, const std::string& label);

// The bilevel pages of a fax TIFF exactly as stored (no resampling): what tests compare and
// what the PDF writer falls back to when it cannot pass coded data through.
Result<Pages> read_fax_tiff(const std::string& path);

}  // namespace imaging
