// page_writer.cpp — received pages written on a thread of their own (see page_writer.hpp).
#include "gateway/page_writer.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>

#include "imaging/tiff_read.hpp"

namespace gateway {

namespace {

namespace fs = std::filesystem;

// A staged page: "FBPAGE1\n", seven native int32 (number, width, rows, x_dpi, y_dpi, bad_rows,
// longest_bad_run), then the rows. Read back only by this machine's recover().
constexpr char kMagic[8] = {'F', 'B', 'P', 'A', 'G', 'E', '1', '\n'};
constexpr int kFields = 7;

std::string staged_path(const std::string& path, int number) { return path + ".page-" + std::to_string(number); }

// Every staged page of `path` (what the crash-free path left: none, unless a page failed).
void remove_staged(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  const std::string prefix = p.filename().string() + ".page-";
  std::vector<fs::path> gone;
  for (const auto& e : fs::directory_iterator(p.parent_path(), ec)) {
    if (e.path().filename().string().starts_with(prefix)) gone.push_back(e.path());
  }
  for (const auto& g : gone) fs::remove(g, ec);
}

// The page's size as its rows need it, or 0 when the sizes do not fit together.
size_t expected_bytes(int width, int rows) {
  if (width <= 0 || rows <= 0 || width > 1 << 16 || rows > 1 << 20) return 0;
  return size_t((width + 7) / 8) * size_t(rows);
}

// Encoding and appending one page to the fax's writer (creating it on the first page).
std::string append(std::unique_ptr<imaging::TiffFaxWriter>& writer, const std::string& path, const fax::ReceivedPage& page) {
  if (!writer) {
    imaging::TiffWriteOptions opt;
    opt.coding = imaging::Coding::mr;
    writer = std::make_unique<imaging::TiffFaxWriter>(path, opt);
  }
  if (page.rows <= 0 || page.width <= 0) return "page " + std::to_string(page.number) + " arrived without its rows";
  imaging::Page p;
  p.bitmap = imaging::Bitmap(page.width, page.rows);
  p.xres = page.x_dpi;
  p.yres = page.y_dpi;
  if (page.bits.size() != p.bitmap.bits.size()) {
    return "page " + std::to_string(page.number) + " arrived with " + std::to_string(page.bits.size()) + " octets for " +
           std::to_string(page.rows) + " rows of " + std::to_string(page.width) + " pixels";
  }
  std::memcpy(p.bitmap.bits.data(), page.bits.data(), page.bits.size());
  // spandsp replaces a bad row by the row before it: regenerated (CleanFaxData 1).
  imaging::PageQuality q{page.bad_rows, page.longest_bad_run, page.bad_rows > 0};
  if (auto s = writer->add(p, q); !s) return s.error().message;
  return "";
}

}  // namespace

std::string PageWriter::stage(const std::string& path, const fax::ReceivedPage& page) {
  const std::string staged = staged_path(path, page.number);
  int fd = ::open(staged.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return "cannot stage page " + std::to_string(page.number) + " in " + staged + ": " + std::strerror(errno);
  std::array<int32_t, kFields> f{page.number, page.width, page.rows, page.x_dpi, page.y_dpi, page.bad_rows, page.longest_bad_run};
  std::string head(kMagic, sizeof kMagic);
  head.append(reinterpret_cast<const char*>(f.data()), sizeof f);
  std::array<iovec, 2> iov{iovec{head.data(), head.size()},
                           iovec{const_cast<uint8_t*>(page.bits.data()), page.bits.size()}};
  const ssize_t want = ssize_t(head.size() + page.bits.size());
  const ssize_t n = ::writev(fd, iov.data(), 2);
  const int err = errno;
  ::close(fd);
  if (n != want) {
    ::unlink(staged.c_str());
    return "cannot stage page " + std::to_string(page.number) + " in " + staged + ": " +
           (n < 0 ? std::strerror(err) : "short write");
  }
  return "";
}

fb::Result<int, std::string> PageWriter::recover(const std::string& path) {
  // The staged pages beside the file, by number.
  std::vector<std::pair<int, std::string>> staged;
  std::error_code ec;
  const fs::path p(path);
  const std::string prefix = p.filename().string() + ".page-";
  for (const auto& e : fs::directory_iterator(p.parent_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    try {
      size_t used = 0;
      const int n = std::stoi(name.substr(prefix.size()), &used);
      if (used == name.size() - prefix.size() && n > 0) staged.push_back({n, e.path().string()});
    } catch (const std::exception&) {
    }
  }
  int have = 0;
  imaging::Pages pages;
  if (fs::exists(path)) {
    auto got = imaging::read_fax_tiff(path);
    if (got) pages = std::move(*got);  // an unreadable file (cut mid-write) keeps no page
    have = int(pages.size());
  }
  if (staged.empty()) return have;
  std::sort(staged.begin(), staged.end());
  std::unique_ptr<imaging::TiffFaxWriter> writer;
  const std::string tmp = path + ".recover";
  int n = 0;
  for (const auto& pg : pages) {
    fax::ReceivedPage r;
    r.number = ++n;
    r.width = pg.bitmap.width;
    r.rows = pg.bitmap.rows;
    r.x_dpi = pg.xres;
    r.y_dpi = pg.yres;
    r.bits = pg.bitmap.bits;
    if (auto e = append(writer, tmp, r); !e.empty()) return e;
  }
  for (const auto& [number, file] : staged) {
    if (number <= have) continue;  // appended before the crash
    std::string bytes;
    {
      int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return "cannot read " + file + ": " + std::strerror(errno);
      char buf[65536];
      ssize_t k;
      while ((k = ::read(fd, buf, sizeof buf)) > 0) bytes.append(buf, size_t(k));
      ::close(fd);
    }
    const size_t head = sizeof kMagic + kFields * sizeof(int32_t);
    if (bytes.size() < head || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
      break;  // cut while being staged: the pages after it cannot follow it either
    }
    std::array<int32_t, kFields> f{};
    std::memcpy(f.data(), bytes.data() + sizeof kMagic, sizeof f);
    fax::ReceivedPage r;
    r.number = ++n;
    r.width = f[1];
    r.rows = f[2];
    r.x_dpi = f[3];
    r.y_dpi = f[4];
    r.bad_rows = f[5];
    r.longest_bad_run = f[6];
    const size_t want = expected_bytes(r.width, r.rows);
    if (want == 0 || bytes.size() - head != want) break;
    r.bits.assign(bytes.begin() + ptrdiff_t(head), bytes.end());
    if (auto e = append(writer, tmp, r); !e.empty()) return e;
  }
  if (writer && n > have) {
    if (auto s = writer->finish(); !s) return s.error().message;
    fs::rename(tmp, path, ec);
    if (ec) return "cannot rename " + tmp + " to " + path + ": " + ec.message();
  } else {
    fs::remove(tmp, ec);
    n = have;
  }
  for (const auto& [number, file] : staged) fs::remove(file, ec);
  return n;
}

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
    if (f.error.empty()) f.error = append(f.writer, path, page);
    if (f.error.empty()) ::unlink(staged_path(path, page.number).c_str());  // appended: no longer needed
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
      if (!error.empty()) remove_staged(path);  // the fax failed by name: its staged pages go with it
    }
    if (done) done(pages, error);
  });
}

void PageWriter::forget(const std::string& path) {
  asio::post(io_, [this, path] { files_.erase(path); });
}

}  // namespace gateway
