// paper.hpp — paper sizes and how a document page maps onto a fax page.
//
// STANDARDS: ITU-T T.4 §2 (1728 pixels over 215 mm scan width), ISO 216 (A4), ANSI letter/legal.
// A fax page is always kFaxWidth pixels wide; its length is the paper's (a4/letter/legal) or,
// with paper `auto`, the document page's own length, capped at kMaxAutoLengthIn.
#pragma once

#include <string_view>

#include "imaging/page.hpp"

namespace imaging {

enum class Paper { automatic, a4, letter, legal };

bool parse_paper(std::string_view s, Paper& out);

inline constexpr double kFaxWidthIn = double(kFaxWidth) / 204.0;  // 8.47 in
inline constexpr double kMaxAutoLengthIn = 14.0;                  // legal: a longer page is shrunk

// Length of a paper in inches (0 for automatic).
double paper_length_in(Paper p);

// Placement of a source of w_in x h_in inches on a fax page: a scale factor (applied to the
// physical size) and the page's rows. `fill` scales small sources up to the box as well.
struct Placement {
  double scale = 1.0;
  int rows = 0;
};
Placement place(double w_in, double h_in, Paper paper, int ydpi, bool fill);

}  // namespace imaging
