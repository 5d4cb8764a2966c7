// page_writer.cpp — received pages written on a thread of their own (see page_writer.hpp).
#include "gateway/page_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

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
  for (auto it = fs::directory_iterator(p.parent_path(), ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().starts_with(prefix)) gone.push_back(it->path());
  }
  for (const auto& g : gone) fs::remove(g, ec);
}

// The page's size as its rows need it, or 0 when the sizes do not fit together.
size_t expected_bytes(int width, int rows) {
  if (width <= 0 || rows <= 0 || width > 8192 || rows > 65536) return 0;  // read_fax_tiff's own limits
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

namespace {

// A staged page read back, or nullopt when it is not a whole one (cut while being written).
std::optional<fax::ReceivedPage> read_staged(const std::string& file, int number) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<fax::ReceivedPage> out;
  struct stat st {};
  const size_t head = sizeof kMagic + kFields * sizeof(int32_t);
  char h[head];
  if (::fstat(fd, &st) == 0 && size_t(st.st_size) >= head && ::read(fd, h, head) == ssize_t(head) &&
      std::memcmp(h, kMagic, sizeof kMagic) == 0) {
    std::array<int32_t, kFields> f{};
    std::memcpy(f.data(), h + sizeof kMagic, sizeof f);
    const size_t want = expected_bytes(f[1], f[2]);
    if (f[0] == number && want > 0 && size_t(st.st_size) == head + want) {
      fax::ReceivedPage r;
      r.number = number;
      r.width = f[1];
      r.rows = f[2];
      r.x_dpi = f[3];
      r.y_dpi = f[4];
      r.bad_rows = f[5];
      r.longest_bad_run = f[6];
      r.bits.resize(want);
      if (::read(fd, r.bits.data(), want) == ssize_t(want)) out = std::move(r);
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

fb::Result<int, std::string> PageWriter::recover(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  const std::string tmp = path + ".recover";
  fs::remove(tmp, ec);  // a recovery cut before
  int have = 0;
  const bool exists = fs::exists(path, ec);
  if (exists) {
    auto info = imaging::inspect_tiff(path);
    if (!info) {
      // What is there cannot be read: it is kept as it is, and nothing is put in its place.
      remove_staged(path);
      return "the received file cannot be read (" + info.error().message + "); staged pages dropped";
    }
    have = int(info->pages.size());
  }
  // The staged pages that follow the file's, in order, up to the first missing or cut one.
  std::vector<fax::ReceivedPage> more;
  for (int n = have + 1;; ++n) {
    auto page = read_staged(staged_path(path, n), n);
    if (!page) break;
    more.push_back(std::move(*page));
  }
  if (more.empty()) {
    remove_staged(path);
    return have;
  }
  std::unique_ptr<imaging::TiffFaxWriter> writer;
  std::string error;
  if (exists) {
    auto pages = imaging::read_fax_tiff(path);
    if (!pages) error = "the received file cannot be read: " + pages.error().message;
    int n = 0;
    for (size_t i = 0; pages && i < pages->size() && error.empty(); ++i) {
      fax::ReceivedPage r;
      r.number = ++n;
      r.width = (*pages)[i].bitmap.width;
      r.rows = (*pages)[i].bitmap.rows;
      r.x_dpi = (*pages)[i].xres;
      r.y_dpi = (*pages)[i].yres;
      r.bits = std::move((*pages)[i].bitmap.bits);
      error = append(writer, tmp, r);
    }
  }
  for (size_t i = 0; i < more.size() && error.empty(); ++i) error = append(writer, tmp, more[i]);
  if (error.empty()) {
    if (auto s = writer->finish(); !s) error = s.error().message;
  }
  if (error.empty()) {
    fs::rename(tmp, path, ec);
    if (ec) error = "cannot rename " + tmp + " to " + path + ": " + ec.message();
  }
  fs::remove(tmp, ec);
  remove_staged(path);
  if (!error.empty()) return error;
  return have + int(more.size());
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
    if (f.error.empty() && on_appended) {
      std::ifstream in(path, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (in && !bytes.empty()) on_appended(path, std::move(bytes));
    }
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
  asio::post(io_, [this, path] {
    files_.erase(path);
    remove_staged(path);  // its pages queued before were appended by now; none may follow it
  });
}

}  // namespace gateway
