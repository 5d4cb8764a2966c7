// text_render.hpp — laying out styled text on fax pages with Pango and Cairo.
//
// Pango does the real work: line breaking (UAX #14), bidi (Arabic and Hebrew paragraphs run
// right to left, aligned right), shaping, and font fallback through fontconfig (DejaVu for
// Latin/Cyrillic/Greek, Noto for Arabic, Hebrew and CJK). Text is drawn at the fax resolution
// with the anisotropic 204 x ydpi transform, so a 10 pt face stays 10 pt on paper at every
// resolution; coverage is thresholded (binarize.hpp) for crisp strokes.
// Plain text: DejaVu Sans Mono 10 pt, 80 columns, wrapped at the column limit (long lines
// continue on the next row), tabs every 8 columns, form feed starts a new page.
// Enriched text: DejaVu Sans 11 pt (fixed spans in the mono face), indents of 0.4 in, excerpts
// indented with a quote bar.
// LIMITS: RenderOptions::limits.max_pages.
#pragma once

#include <string>
#include <string_view>

#include "imaging/page.hpp"
#include "imaging/render_options.hpp"
#include "imaging/result.hpp"
#include "imaging/text_document.hpp"

namespace imaging {

inline constexpr int kTextColumns = 80;

enum class TextFace { mono, proportional };

Result<Pages> render_text_document(const text::Document& doc, TextFace face, const RenderOptions& opt,
                                   const std::string& label);

// text/plain (already UTF-8) to the paragraph model: one nofill monospace paragraph per line,
// tabs expanded to 8-column stops, CR LF and CR line ends, form feed = page break.
text::Document plain_text_document(std::string_view utf8);

// Converts text in `charset` ("" = UTF-8) to UTF-8 (glib/iconv); undecodable bytes become
// U+FFFD. An unknown charset is an error (Errc::unsupported).
Result<std::string> to_utf8(std::string_view bytes, const std::string& charset, const std::string& label);

// A band of `rows` rows, 1728 wide, with `left` and `right` text on one line (page header).
Bitmap render_text_band(const std::string& left, const std::string& right, int ydpi, int rows);

}  // namespace imaging
