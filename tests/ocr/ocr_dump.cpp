// ocr_dump — what the OCR reads on a fax page and what a central number would make of it: each
// word with its line and box, the barcodes, and the addressee fields (cover_routing.hpp). A
// developer's tool for the routing test set (bench/ocr_routing), not a test.
// Usage: ocr_dump FILE.tif [LANG...]
#include <cstdio>
#include <iostream>

#include "gateway/cover_routing.hpp"
#include "imaging/tiff_read.hpp"
#include "ocr/barcode.hpp"
#include "ocr/ocr.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: ocr_dump FILE.tif [LANG...]\n";
    return 2;
  }
  std::vector<std::string> langs(argv + 2, argv + argc);
  if (langs.empty()) langs = {"eng"};
  auto pages = imaging::read_fax_tiff(argv[1]);
  if (!pages || pages->empty()) {
    std::cerr << argv[1] << ": not a fax TIFF\n";
    return 1;
  }
  auto reader = ocr::Reader::open(langs);
  if (!reader) {
    std::cerr << reader.error() << "\n";
    return 1;
  }
  const auto& page = pages->front();
  auto text = (*reader)->read(page, std::chrono::steady_clock::now() + std::chrono::minutes(5));
  if (!text) {
    std::cerr << text.error() << "\n";
    return 1;
  }
  for (const auto& w : text->words)
    std::printf("line %3d  x %4d-%4d  y %4d-%4d  %3.0f  %s\n", w.line, w.x0, w.x1, w.y0, w.y1, w.confidence,
                w.text.c_str());
  for (const auto& b : ocr::read_barcodes(page)) std::printf("barcode %s: %s\n", b.kind.c_str(), b.data.c_str());
  for (const auto& f : gateway::addressee_fields(*text, page.xres, page.yres)) std::printf("field: %s\n", f.c_str());
  return 0;
}
