// t4_encoder.hpp — T.4 (MH, MR) and T.6 (MMR) coding of fax pages, as TIFF strips.
//
// STANDARDS: ITU-T T.4 §4.1 (one-dimensional coding, Tables 2 and 3), §4.2 (two-dimensional
// coding), ITU-T T.6 (MMR); RFC 3949 / TIFF 6.0 §11 for the strip layout.
// The output is exactly what libtiff's encoder writes for the same page (byte for byte: a
// test holds us to it), so every reader that takes libtiff's TIFFs takes ours:
//   MH/MR (TIFF Compression 3, T4Options fill bits): an EOL before every row, zero fill bits
//   before it so the EOL ends on a byte boundary, for MR a tag bit after it (1 = 1-D row) and
//   one 1-D row every K rows (K = 2 up to 150 dpi vertically, else 4); no RTC.
//   MMR (Compression 4): rows coded against the previous one, EOFB at the end.
// Why not libtiff's encoder: it was 55% of the time to convert a 100-page PDF (measured with
// perf); this one scans runs a 64-bit word at a time.
// LIMITS: rows of any width the Bitmap holds; runs longer than 2560 use repeated makeup codes.
#pragma once

#include <cstdint>
#include <vector>

#include "imaging/page.hpp"

namespace imaging {

enum class Coding;

// The K parameter libtiff uses for MR at a vertical resolution.
int mr_k_factor(int ydpi);

// Codes a whole page as one strip.
std::vector<uint8_t> t4_encode(const Bitmap& page, Coding coding, int ydpi);

}  // namespace imaging
