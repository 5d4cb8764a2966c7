// page_writer.cpp — received pages written on a thread of their own (see page_writer.hpp).
#include "gateway/page_writer.hpp"

#include <pthread.h>

#include <cstring>

namespace gateway {

PageWriter::~PageWriter() { stop(); }

void PageWriter::start() {
  if (thread_.joinable()) return;
  guard_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(io_.get_executor());
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fb-pages");
    io_.run();
  });
}

void PageWriter::stop() {
  if (!thread_.joinable()) return;
  guard_.reset();  // what is queued is still written
  thread_.join();
}

void PageWriter::add(const std::string& path, fax::ReceivedPage page) {
  asio::post(io_, [this, path, page = std::move(page)]() mutable {
    File& f = files_[path];
    if (!f.writer) {
      imaging::TiffWriteOptions opt;
      opt.coding = imaging::Coding::mr;
      f.writer = std::make_unique<imaging::TiffFaxWriter>(path, opt);
    }
    if (!f.error.empty()) return;
    imaging::Page p;
    p.bitmap = imaging::Bitmap(page.width, page.rows);
    p.xres = page.x_dpi;
    p.yres = page.y_dpi;
    if (page.bits.size() != p.bitmap.bits.size()) {
      f.error = "page " + std::to_string(page.number) + " arrived with " + std::to_string(page.bits.size()) +
                " octets for " + std::to_string(page.rows) + " rows of " + std::to_string(page.width) + " pixels";
      return;
    }
    std::memcpy(p.bitmap.bits.data(), page.bits.data(), page.bits.size());
    imaging::PageQuality q{page.bad_rows, page.longest_bad_run, false};
    if (auto s = f.writer->add(p, q); !s) f.error = s.error().message;
  });
}

void PageWriter::finish(const std::string& path, std::function<void(int pages, std::string error)> done) {
  asio::post(io_, [this, path, done = std::move(done)] {
    auto it = files_.find(path);
    int pages = 0;
    std::string error;
    if (it != files_.end()) {
      error = it->second.error;
      if (error.empty()) {
        if (auto s = it->second.writer->finish(); !s) error = s.error().message;
      }
      pages = it->second.writer->pages();
      files_.erase(it);
    }
    if (done) done(pages, error);
  });
}

void PageWriter::forget(const std::string& path) {
  asio::post(io_, [this, path] { files_.erase(path); });
}

}  // namespace gateway
