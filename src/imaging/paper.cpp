// paper.cpp — paper sizes and page placement (see paper.hpp).
#include "imaging/paper.hpp"

#include <algorithm>
#include <cmath>

namespace imaging {

bool parse_paper(std::string_view s, Paper& out) {
  if (s == "auto") out = Paper::automatic;
  else if (s == "a4") out = Paper::a4;
  else if (s == "letter") out = Paper::letter;
  else if (s == "legal") out = Paper::legal;
  else return false;
  return true;
}

double paper_length_in(Paper p) {
  switch (p) {
    case Paper::a4: return 297.0 / 25.4;
    case Paper::letter: return 11.0;
    case Paper::legal: return 14.0;
    case Paper::automatic: return 0.0;
  }
  return 0.0;
}

Placement place(double w_in, double h_in, Paper paper, int ydpi, bool fill) {
  w_in = std::max(w_in, 0.01);
  h_in = std::max(h_in, 0.01);
  double box_h = paper == Paper::automatic ? kMaxAutoLengthIn : paper_length_in(paper);
  double fit = std::min(kFaxWidthIn / w_in, box_h / h_in);
  Placement pl;
  pl.scale = fill ? fit : std::min(1.0, fit);
  double len_in = paper == Paper::automatic ? h_in * pl.scale : box_h;
  pl.rows = std::clamp(int(std::lround(len_in * ydpi)), 1, kMaxRows);
  return pl;
}

}  // namespace imaging
