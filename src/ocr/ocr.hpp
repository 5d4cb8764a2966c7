// ocr.hpp — reading the text of fax pages (issue 18), with Debian's libtesseract.
//
// What: one fax page (a 1-bit bitmap at its resolution) becomes its words, each with its box in
// the page's own pixels and tesseract's confidence (0..100), and its lines of text in reading
// order. Used for searchable PDFs (pdf_writer.hpp's text layer) and the first lines of each page
// in the mail's body, and for routing by the cover page.
// Fax pages are 204 dpi across and 98 (standard), 196 (fine) or 391 (superfine) dpi down;
// tesseract wants square pixels, and reads small print best near 400 dpi: the page is scaled
// there as grey with linear interpolation (tesseract thresholds it again); boxes come back in
// the page's pixels. A lone black pixel (a line's speckle) is left out first.
// Languages: tesseract's traineddata names ("eng", "deu", "fra", "spa", ...), each installed
// from Debian's tesseract-ocr-<lang>; open() names the one missing.
// LIMITS: a page of at most kMaxWidth x kMaxRows (A3 at superfine); at most kMaxWords words are
// kept. A deadline bounds each read: past it (or once `cancel` is set), tesseract is cancelled
// in its word loop and the page counts as not read (an error), never as a page with no text;
// its layout analysis cannot be cancelled (a second or two for a fax page).
// THREADS: a Reader is one tesseract instance: one thread at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "imaging/page.hpp"

namespace ocr {

inline constexpr int kMaxWidth = 4864;
inline constexpr int kMaxRows = 8192;
inline constexpr size_t kMaxWords = 20000;

struct Word {
  std::string text;  // UTF-8
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // its box in the page's pixels (x1, y1 past the last)
  float confidence = 0;
  int line = 0;  // the number of its line on the page, from 0
};

struct PageText {
  std::vector<Word> words;
  std::vector<std::string> lines;  // each line's words joined by one space; no empty line
};

class Reader {
 public:
  // A reader of these languages (at least one); the error names a language not installed.
  [[nodiscard]] static fb::Result<std::unique_ptr<Reader>, std::string> open(const std::vector<std::string>& languages);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The page's text, or why it could not be read (too large, past the deadline).
  [[nodiscard]] fb::Result<PageText, std::string> read(const imaging::Page& page,
                                                       std::chrono::steady_clock::time_point deadline,
                                                       const std::atomic<bool>* cancel = nullptr);

 private:
  struct Impl;
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The first `n` lines of a page's text that hold a letter or a digit, each at most `width`
// characters (cut at a word where it can be), for a mail's body.
std::vector<std::string> first_lines(const PageText& text, size_t n, size_t width = 100);

}  // namespace ocr
