// fax_reading.cpp — a received fax read within [ocr] max_delay_s (see the header).
#include "gateway/fax_reading.hpp"

#include "core/metrics.hpp"
#include "imaging/tiff_read.hpp"

namespace gateway {

fb::Result<std::unique_ptr<FaxReading>, std::string> FaxReading::open(std::vector<std::string> languages,
                                                                       int max_delay_s) {
  auto r = ocr::Reader::open(languages);
  if (!r) return r.error();
  return std::unique_ptr<FaxReading>(new FaxReading(std::move(languages), max_delay_s, std::move(*r)));
}

FaxReading::FaxReading(std::vector<std::string> languages, int max_delay_s, std::unique_ptr<ocr::Reader> first)
    : languages_(std::move(languages)), max_delay_s_(max_delay_s) {
  idle_.push_back(std::move(first));
}

std::unique_ptr<ocr::Reader> FaxReading::take() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto r = std::move(idle_.back());
      idle_.pop_back();
      return r;
    }
  }
  auto r = ocr::Reader::open(languages_);  // (they opened once: only memory can fail now)
  return r ? std::move(*r) : nullptr;
}

void FaxReading::give_back(std::unique_ptr<ocr::Reader> r) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(r));
}

fb::Result<FaxText, std::string> FaxReading::read(const std::string& tiff_path, size_t lines) {
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + std::chrono::seconds(max_delay_s_);
  auto pages = imaging::read_fax_tiff(tiff_path);
  if (!pages) return pages.error().message;
  FaxText out;
  out.pages = int(pages->size());
  out.words.resize(pages->size());
  out.lines.resize(pages->size());
  auto reader = take();
  if (!reader) return std::string("no OCR reader could be started");
  std::string unread;
  for (size_t i = 0; i < pages->size(); ++i) {
    auto text = std::chrono::steady_clock::now() < deadline
                    ? reader->read((*pages)[i], deadline)
                    : fb::Result<ocr::PageText, std::string>(std::string("the page was not read in time"));
    if (!text) {
      if (out.note.empty()) out.note = "page " + std::to_string(i + 1) + ": " + text.error();
      continue;
    }
    ++out.pages_read;
    for (const auto& w : text->words) out.words[i].push_back({w.text, w.x0, w.y0, w.x1, w.y1});
    out.lines[i] = ocr::first_lines(*text, lines);
  }
  give_back(std::move(reader));
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fb::metrics::observe("faxbridge_ocr_seconds", "Time to read a received fax's pages (OCR)", out.seconds,
                       {{"result", out.pages_read == out.pages ? "read" : "partly"}});
  return out;
}

}  // namespace gateway
