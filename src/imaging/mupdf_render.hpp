// mupdf_render.hpp — PDF, HTML and raster images to fax pages through MuPDF.
//
// PDF: every page, rendered at the fax resolution (204 x 98/196/391 dpi, anisotropic) without
// anti-aliasing so text and line art come out sharp, landscape pages turned to portrait,
// scaled to fit the page with their aspect kept, then binarized (binarize.hpp: photos and
// grey fills halftoned). Encrypted PDFs that need a password are refused. A PDF MuPDF can only
// read by rebuilding its cross-reference table (offsets shifted in transit, a table missing or
// cut off) is faxed when the repaired document is whole — its page tree names at least as many
// pages as its /Count, each in the file with its content — and every page draws without MuPDF
// reporting a problem; the first page's note says it was repaired. A PDF MuPDF reads without a
// repair but finds no page in (its catalog not reached through its table, a /Count of 0, a root
// that is a page) is repaired all the same; a page tree whose /Count is short of the pages it
// names, or that is a page, is rebuilt (in memory) from the pages it names. A stream whose
// /Length is wrong is read up to its `endstream`. Otherwise it is refused as corrupt, naming
// why: a fax with silently missing content is worse than a clear error to the sender.
// HTML: laid out by MuPDF's HTML engine on the text paper. Nothing is ever fetched: img/link
// references other than data: URIs are neutralised before parsing, so neither the network
// nor the local file system can leak into a fax.
// Images (PNG, JPEG, GIF, BMP, PNM, ...): scaled to the fax width; a bilevel image already
// 1728 pixels wide keeps every pixel (rows taken at the requested resolution).
// LIMITS: RenderOptions::limits (pages, decoded pixels); page rows as page.hpp.
#pragma once

#include <string>
#include <string_view>

#include "imaging/page.hpp"
#include "imaging/render_options.hpp"
#include "imaging/result.hpp"

namespace imaging {

// `label` names the input in error messages ("report.pdf").
// For a warm render server (app/render_server.hpp): the MuPDF context of the next render is kept,
// and every later render in this process (one at a time) uses it, with the fonts it loaded and
// the glyphs it drew. Each document is rendered in a process forked from the server, on its own
// copy, so nothing one document leaves in it reaches another; call it before the warm-up.
void keep_warm_context();

Result<Pages> render_pdf(std::string_view bytes, const RenderOptions& opt, const std::string& label);
Result<Pages> render_html(std::string_view bytes, const RenderOptions& opt, const std::string& label);
Result<Pages> render_image(std::string_view bytes, const RenderOptions& opt, const std::string& label);

// An 8-bit grey raster (0 = black) of a physical size in inches, scaled onto a fax page with
// MuPDF's scaler and binarized. Used for TIFF inputs decoded by libtiff.
struct GreyImage {
  int width = 0, height = 0;
  std::vector<uint8_t> px;  // width * height, row-major
  double xres = 0, yres = 0;  // dots per inch; 0 when unknown
};
Result<Page> place_grey(const GreyImage& img, const RenderOptions& opt, const std::string& label);

// Rewrites resource references (img src, link href, CSS url(), @import) other than data:
// URIs so the HTML engine cannot load them. Exposed for tests.
std::string neutralize_html_resources(std::string_view html);

// Bilevel pages kept pixel for pixel: resample rows from `from_ydpi` to the page's resolution
// (rows repeated going up, OR-ed going down so thin lines survive).
Bitmap resample_rows(const Bitmap& in, int from_ydpi, int to_ydpi);

}  // namespace imaging
