// pdf_writer.hpp — fax pages as PDF, the coded fax data passed through, never re-rendered.
//
// STANDARDS: ISO 32000-1 §7.4.6 (CCITTFaxDecode filter), RFC 3949 (the TIFF read).
// Each TIFF page becomes one PDF page of its physical size (width/xres by rows/yres inches)
// holding one image XObject whose stream is the page's T.4 (MH: K=0, MR: K=1) or T.6 (MMR:
// K=-1) data exactly as stored, bit order normalised to FillOrder 1. Pages stored in any
// other way (several strips, uncompressed, tiled) are re-coded as T.6 first. MuPDF writes the
// PDF; the file appears atomically (temporary, fsync, rename).
// A text layer (issue 18, searchable faxes): words read from a page (ocr.hpp) are written over its
// image as invisible text (ISO 32000-1 §9.3.6, text rendering mode 3), in Helvetica with
// WinAnsiEncoding (a letter it lacks becomes '?'), each word scaled (Tz) to its box, so a viewer
// finds and selects it where it is on the image and pdftotext reads it; the image is unchanged.
// LIMITS: as the TIFF reader (1000 pages); a word of at most 200 bytes.
#pragma once

#include <string>
#include <vector>

#include "imaging/result.hpp"

namespace imaging {

// A word on a page, its box in that page's pixels (x1, y1 past its last).
struct PlacedWord {
  std::string text;  // UTF-8
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};
using PageWords = std::vector<PlacedWord>;

// `text[i]`: the words over page i (none for a page past its end).
Status write_pdf_from_tiff(const std::string& tiff_path, const std::string& pdf_path,
                           const std::vector<PageWords>& text = {});

}  // namespace imaging
