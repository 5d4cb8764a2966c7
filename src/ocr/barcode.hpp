// barcode.hpp — the barcodes on a received fax page (issue 18: a cover page's code routes the
// fax), read with zbar (Debian's libzbar).
//
// STANDARDS: ISO/IEC 18004 (QR Code) and ISO/IEC 15417 (Code 128), as zbar decodes them.
// A fax page's pixels are not square at standard resolution (204 x 98 dpi): its rows are doubled
// first, so a QR code's modules are square again; a 1-bit page is given to zbar as grey (black 0,
// white 255). Only QR Code and Code 128 are looked for (fewer false reads from text and lines).
// LIMITS: kMaxBarcodes symbols per page, each at most kMaxBarcodeBytes (longer ones are skipped).
#pragma once

#include <string>
#include <vector>

#include "imaging/page.hpp"

namespace ocr {

inline constexpr size_t kMaxBarcodes = 16;
inline constexpr size_t kMaxBarcodeBytes = 512;

struct Barcode {
  std::string kind;  // "QR-Code", "CODE-128"
  std::string data;  // as decoded (zbar gives QR text as UTF-8)
};

// Every QR or Code 128 symbol zbar finds on the page, in its order.
std::vector<Barcode> read_barcodes(const imaging::Page& page);

}  // namespace ocr
