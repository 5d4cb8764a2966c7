// fax_reading.hpp — a received fax read page by page within a time limit (issue 18, searchable
// faxes): the words of each page for the PDF's text layer (imaging/pdf_writer.hpp) and the first
// lines of each page for the mail's body.
//
// [ocr] languages and max_delay_s (INTERFACES.md): reading never delays a fax's mail by more
// than max_delay_s; the pages not read by then (and any page tesseract cannot read) go without
// text, and the fax goes as before. Readers (one tesseract instance each, slow to start) are
// kept for the next fax, one per thread reading at the same time.
// THREADS: read() from any thread (the OnRamp's workers).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "imaging/pdf_writer.hpp"
#include "ocr/ocr.hpp"

namespace gateway {

struct FaxText {
  std::vector<imaging::PageWords> words;        // per page (empty: no text, or not read)
  std::vector<std::vector<std::string>> lines;  // per page: its first lines
  int pages = 0;       // of the fax
  int pages_read = 0;  // read before the deadline
  double seconds = 0;
  std::string note;  // why some page has no text ("" when every page was read)
};

class FaxReading {
 public:
  // The languages must be installed: open() fails with the one missing.
  [[nodiscard]] static fb::Result<std::unique_ptr<FaxReading>, std::string> open(std::vector<std::string> languages,
                                                                                 int max_delay_s);
  // Reads the fax's pages (TIFF-F) until max_delay_s have passed; the first `lines` lines of
  // each page. An unreadable file: an error (the fax goes without text).
  [[nodiscard]] fb::Result<FaxText, std::string> read(const std::string& tiff_path, size_t lines = 5);

 private:
  FaxReading(std::vector<std::string> languages, int max_delay_s, std::unique_ptr<ocr::Reader> first);
  std::unique_ptr<ocr::Reader> take();
  void give_back(std::unique_ptr<ocr::Reader> r);

  std::vector<std::string> languages_;
  int max_delay_s_;
  std::mutex mu_;
  std::vector<std::unique_ptr<ocr::Reader>> idle_;
};

}  // namespace gateway
