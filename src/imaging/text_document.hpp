// text_document.hpp — styled text as paragraphs, the model both text renderers lay out.
//
// text/plain becomes one monospace paragraph per line (no filling); text/enriched (RFC 1896)
// becomes filled paragraphs with inline styles, alignment and indentation. The layout engine
// (text_render.hpp, Pango) wraps, bidi-reorders and paginates them; nothing here knows fonts.
#pragma once

#include <string>
#include <vector>

namespace imaging::text {

enum class Align { start, center, end };  // start = left for LTR paragraphs, right for RTL

struct Span {
  std::string text;  // UTF-8, never a line break: each line of a nofill block is its own Paragraph
  bool bold = false;
  bool italic = false;
  bool underline = false;
  bool fixed = false;   // monospace
  int size_steps = 0;   // +1 per <bigger>, -1 per <smaller> (RFC 1896 §3)
  bool operator==(const Span&) const = default;
};

struct Paragraph {
  std::vector<Span> spans;  // empty spans = an empty line
  Align align = Align::start;
  int indent_left = 0;   // indentation steps (RFC 1896 <indent>, <paraindent><param>left</param>)
  int indent_right = 0;  // <indentright>, <paraindent><param>right</param>
  int excerpt = 0;       // <excerpt> nesting depth: drawn indented with a quote bar
  bool nofill = false;   // lines kept as they are (<nofill>, and all of text/plain)
  bool page_break_before = false;  // a form feed in text/plain
  bool operator==(const Paragraph&) const = default;
};

struct Document {
  std::vector<Paragraph> paragraphs;
  bool operator==(const Document&) const = default;
};

}  // namespace imaging::text
