// thumbnail.hpp — a small grey-scale PNG preview of a fax page, for the HTML part of a
// received-fax mail.
//
// STANDARDS: PNG (ISO/IEC 15948, written by cairo). The page is box-filtered (each output pixel
// is the share of white in the source pixels it covers) to `width` pixels, and scaled vertically
// by the page's own aspect (xres/yres), so a standard-resolution page does not look squashed.
// LIMITS: width 16..1728 pixels; the output height follows the page (at most 4x width).
#pragma once

#include <string>

#include "imaging/page.hpp"
#include "imaging/result.hpp"

namespace imaging {

Result<std::string> thumbnail_png(const Page& page, int width = 240);

}  // namespace imaging
