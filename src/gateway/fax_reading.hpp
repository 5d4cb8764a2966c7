// fax_reading.hpp — a received fax read page by page within a time limit (issue 18, searchable
// faxes): the words of each page for the PDF's text layer (imaging/pdf_writer.hpp) and the first
// lines of each page for the mail's body.
//
// [ocr] languages and max_delay_s (INTERFACES.md): reading never delays a fax's mail past its
// deadline (the caller's: max_delay_s after the fax was recorded); the pages not read by then
// (and any page tesseract cannot read) go without text, and the fax goes as before.
// Reading runs on a thread of its own at the converter's nice level (kConverterNice: tesseract's
// OpenMP threads, started from it, inherit it), so neither the OnRamp's deliveries nor the
// calls' media threads wait behind it; one fax at a time, in the order asked. The reader (one
// tesseract instance, slow to start) is kept for the next fax.
// THREADS: read() from any thread; `done` runs on the reading thread. cancel() (any thread,
// returns at once) cancels the read under way and any queued: their `done` is told so
// (`cancelled`), and the fax is to be read again at the next start rather than mailed without
// text. stop() cancels and returns once the thread has ended (no `done` runs after it).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/thread_pool.hpp>

#include "core/result.hpp"
#include "imaging/pdf_writer.hpp"
#include "ocr/barcode.hpp"
#include "ocr/ocr.hpp"

namespace gateway {

struct FaxText {
  std::vector<imaging::PageWords> words;  // per page (empty: no text, or not read)
  // Per page: its first lines; nullopt for a page not read (the time ran out, tesseract failed).
  std::vector<std::optional<std::vector<std::string>>> lines;
  int pages = 0;       // of the fax
  int pages_read = 0;  // read before the deadline
  double seconds = 0;
  std::string note;  // why some page has no text ("" when every page was read)
  // With read(..., cover = true): page 1 as read (nullopt: not read in time) with its barcodes
  // (read first, even when its text is not), and its resolution (cover_routing.hpp).
  std::optional<ocr::PageText> cover;
  std::vector<ocr::Barcode> barcodes;
  int cover_xres = 204, cover_yres = 196;
};

class FaxReading {
 public:
  using Done = std::function<void(fb::Result<FaxText, std::string>, bool cancelled)>;
  // The languages must be installed: open() fails with the one missing.
  [[nodiscard]] static fb::Result<std::shared_ptr<FaxReading>, std::string> open(std::vector<std::string> languages,
                                                                                 int max_delay_s);
  ~FaxReading();
  int max_delay_s() const { return max_delay_s_; }
  // Reads the fax's pages (TIFF-F) until `deadline`, then calls `done` (the first `lines` lines
  // of each page). An unreadable file: an error (the fax goes without text).
  // `cover`: page 1's words and barcodes are kept for routing by the cover page.
  void read(std::string tiff_path, std::chrono::steady_clock::time_point deadline, Done done, size_t lines = 5,
            bool cover = false);
  void cancel();
  void stop();

 private:
  FaxReading(int max_delay_s, std::unique_ptr<ocr::Reader> reader);
  fb::Result<FaxText, std::string> read_now(const std::string& tiff_path,
                                            std::chrono::steady_clock::time_point deadline, size_t lines, bool cover);

  int max_delay_s_;
  std::unique_ptr<ocr::Reader> reader_;  // the reading thread's
  std::atomic<bool> stopping_{false};
  bool niced_ = false;  // (the reading thread's)
  asio::thread_pool thread_{1};
};

}  // namespace gateway
