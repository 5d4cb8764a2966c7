// cover.hpp — the fax cover page: who it is for, who sent it, the subject, the page count and
// the mail's text as the comment (issue 6, "An optional cover page").
//
// Laid out as a text::Document and drawn by text_render (Pango, DejaVu Sans): a large "FAX"
// title, then To, Fax (the numbers dialled), From, Subject, Date and "Pages: N including this
// cover", each a bold label and its value, then the comment. Values are the mail's own header
// fields, already decoded to UTF-8 (RFC 2047); control characters become spaces.
// The cover is always exactly one page: render_cover() reports whether the comment fitted;
// when it does not, the caller renders the comment as ordinary pages and asks for a cover that
// says the text follows.
// LIMITS: each field is cut at 400 characters; the comment is the caller's (text_render limits).
#pragma once

#include <optional>
#include <string>

#include "imaging/page.hpp"
#include "imaging/render_options.hpp"
#include "imaging/result.hpp"
#include "imaging/text_document.hpp"

namespace imaging {

struct CoverInfo {
  std::string to;       // the mail's To, decoded ("Bob <FAX=+12025550100@fax.example.com>")
  std::string numbers;  // the fax numbers, "+12025550100, +12025550101"
  std::string from;
  std::string subject;
  std::string date;  // as the mail says it
  int pages = 1;     // the whole fax, this cover included
  std::optional<text::Document> comment;  // the mail's text; nullopt: none
  bool comment_follows = false;           // say that the text follows on the next pages
};

text::Document cover_document(const CoverInfo& info);

// One page, or nullopt when the comment does not fit on one page.
Result<std::optional<Page>> render_cover(const CoverInfo& info, const RenderOptions& opt);

}  // namespace imaging
