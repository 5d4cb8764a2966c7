// header_line.hpp — the fax page header line (the "TTI" line a fax machine prints at the top).
//
// STANDARDS: ITU-T T.30 §5.3.6.1.6 (transmitting terminal identification, informally), and
// common fax practice: sender text, date and time, "Page n/N".
// The header is added as new rows above each page — the page itself is never scaled or
// covered. The band is about 0.16 in tall at every resolution.
#pragma once

#include <ctime>
#include <string>

#include "imaging/page.hpp"

namespace imaging {

int header_band_rows(int ydpi);

// Adds the header band to every page. `when` is the time printed.
void add_header_lines(Pages& pages, const std::string& text, std::time_t when);

}  // namespace imaging
