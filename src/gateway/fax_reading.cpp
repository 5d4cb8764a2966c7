// fax_reading.cpp — a received fax read within its deadline (see the header).
#include "gateway/fax_reading.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <asio/post.hpp>

#include "core/metrics.hpp"
#include "gateway/converter.hpp"
#include "imaging/tiff_read.hpp"

namespace gateway {

fb::Result<std::shared_ptr<FaxReading>, std::string> FaxReading::open(std::vector<std::string> languages,
                                                                       int max_delay_s) {
  auto r = ocr::Reader::open(languages);
  if (!r) return r.error();
  return std::shared_ptr<FaxReading>(new FaxReading(max_delay_s, std::move(*r)));
}

FaxReading::FaxReading(int max_delay_s, std::unique_ptr<ocr::Reader> reader)
    : max_delay_s_(max_delay_s), reader_(std::move(reader)) {}

FaxReading::~FaxReading() { stop(); }

void FaxReading::cancel() { stopping_ = true; }

void FaxReading::stop() {
  cancel();
  thread_.join();
}

void FaxReading::read(std::string tiff_path, std::chrono::steady_clock::time_point deadline, Done done, size_t lines,
                      bool cover) {
  asio::post(thread_, [this, tiff_path = std::move(tiff_path), deadline, done = std::move(done), lines, cover] {
    if (!niced_) {  // this thread, and the OpenMP threads tesseract starts from it
      niced_ = true;
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kConverterNice);
    }
    auto text = stopping_ ? fb::Result<FaxText, std::string>(std::string("the node is stopping"))
                          : read_now(tiff_path, deadline, lines, cover);
    done(std::move(text), stopping_.load());
  });
}

fb::Result<FaxText, std::string> FaxReading::read_now(const std::string& tiff_path,
                                                      std::chrono::steady_clock::time_point deadline, size_t lines,
                                                      bool cover) {
  const auto started = std::chrono::steady_clock::now();
  auto pages = imaging::read_fax_tiff(tiff_path);
  if (!pages) return pages.error().message;
  FaxText out;
  out.pages = int(pages->size());
  out.words.resize(pages->size());
  out.lines.resize(pages->size());
  if (cover && !pages->empty()) {
    out.barcodes = ocr::read_barcodes(pages->front());
    out.cover_xres = pages->front().xres;
    out.cover_yres = pages->front().yres;
  }
  for (size_t i = 0; i < pages->size(); ++i) {
    auto text = reader_->read((*pages)[i], deadline, &stopping_);
    if (!text) {
      if (out.note.empty()) out.note = "page " + std::to_string(i + 1) + ": " + text.error();
      continue;
    }
    ++out.pages_read;
    for (const auto& w : text->words) out.words[i].push_back({w.text, w.x0, w.y0, w.x1, w.y1});
    out.lines[i] = ocr::first_lines(*text, lines);
    if (cover && i == 0) out.cover = std::move(*text);
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fb::metrics::observe("faxbridge_ocr_seconds", "Time to read a received fax's pages (OCR)", out.seconds,
                       {{"result", out.pages_read == out.pages ? "read" : "partly"}});
  return out;
}

}  // namespace gateway
