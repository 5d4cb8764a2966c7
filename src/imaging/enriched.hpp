// enriched.hpp — text/enriched (RFC 1896) parsed into the paragraph model.
//
// STANDARDS: RFC 1896 (The text/enriched MIME Content-type).
// Formatting commands: bold, italic, underline, fixed, smaller, bigger, center, flushleft,
// flushright, flushboth (treated as flushleft), indent, indentright, paraindent (with
// <param>left|right|in|out</param>), excerpt, nofill, param (its content is never shown),
// color/fontfamily (content shown, the command itself ignored), and the "<<" escape for "<".
// Unknown commands are ignored and their text kept, as §4 of the RFC requires.
// Filling: outside <nofill>, a single line break is a space and n consecutive line breaks
// are n-1 paragraph breaks; inside <nofill> every line break is kept.
// LIMITS: nesting deeper than kMaxNesting is flattened (the text is kept, the style is not);
// a command name longer than 60 characters is text, not a command (RFC 1896 §2).
#pragma once

#include <string_view>

#include "imaging/text_document.hpp"

namespace imaging::enriched {

inline constexpr int kMaxNesting = 64;

// Never fails: every byte sequence is some text/enriched document (unbalanced or unknown
// commands degrade to plain text). Input must already be UTF-8.
text::Document parse(std::string_view utf8);

}  // namespace imaging::enriched
