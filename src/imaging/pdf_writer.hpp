// pdf_writer.hpp — fax pages as PDF, the coded fax data passed through, never re-rendered.
//
// STANDARDS: ISO 32000-1 §7.4.6 (CCITTFaxDecode filter), RFC 3949 (the TIFF read).
// Each TIFF page becomes one PDF page of its physical size (width/xres by rows/yres inches)
// holding one image XObject whose stream is the page's T.4 (MH: K=0, MR: K=1) or T.6 (MMR:
// K=-1) data exactly as stored, bit order normalised to FillOrder 1. Pages stored in any
// other way (several strips, uncompressed, tiled) are re-coded as T.6 first. MuPDF writes the
// PDF; the file appears atomically (temporary, fsync, rename).
// LIMITS: as the TIFF reader (1000 pages).
#pragma once

#include <string>

#include "imaging/result.hpp"

namespace imaging {

Status write_pdf_from_tiff(const std::string& tiff_path, const std::string& pdf_path);

}  // namespace imaging
