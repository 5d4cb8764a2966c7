// page.cpp — T.30 resolutions by name.
#include "imaging/page.hpp"

namespace imaging {

int xdpi(Resolution) { return 204; }

int ydpi(Resolution r) {
  switch (r) {
    case Resolution::standard: return 98;
    case Resolution::fine: return 196;
    case Resolution::superfine: return 391;
  }
  return 196;
}

std::string_view name(Resolution r) {
  switch (r) {
    case Resolution::standard: return "standard";
    case Resolution::fine: return "fine";
    case Resolution::superfine: return "superfine";
  }
  return "fine";
}

bool parse_resolution(std::string_view s, Resolution& out) {
  for (auto r : {Resolution::standard, Resolution::fine, Resolution::superfine}) {
    if (s == name(r)) {
      out = r;
      return true;
    }
  }
  return false;
}

}  // namespace imaging
