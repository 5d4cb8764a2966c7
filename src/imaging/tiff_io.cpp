// tiff_io.cpp — libtiff handles with per-handle error capture (see tiff_io.hpp).
#include "imaging/tiff_io.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <algorithm>

namespace imaging {
namespace {

int on_error(TIFF*, void* user, const char* module, const char* fmt, va_list ap) {
  auto* st = static_cast<TiffHandle::State*>(user);
  if (st && st->error.empty()) {
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    st->error = buf;
  }
  return 1;  // handled: keep libtiff's global handler (stderr) out of it
}

int on_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

TIFFOpenOptions* make_options(TiffHandle::State* st) {
  TIFFOpenOptions* o = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetMaxSingleMemAlloc(o, kMaxSingleAlloc);
  TIFFOpenOptionsSetErrorHandlerExtR(o, on_error, st);
  TIFFOpenOptionsSetWarningHandlerExtR(o, on_warning, st);
  return o;
}

tmsize_t mem_read(thandle_t h, void* buf, tmsize_t n) {
  auto* st = static_cast<TiffHandle::State*>(h);
  if (st->pos >= st->mem.size() || n <= 0) return 0;
  size_t k = std::min<size_t>(size_t(n), st->mem.size() - st->pos);
  std::memcpy(buf, st->mem.data() + st->pos, k);
  st->pos += k;
  return tmsize_t(k);
}
tmsize_t mem_write(thandle_t, void*, tmsize_t) { return 0; }
toff_t mem_seek(thandle_t h, toff_t off, int whence) {
  auto* st = static_cast<TiffHandle::State*>(h);
  toff_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? st->pos : st->mem.size();
  st->pos = base + off;
  return st->pos;
}
int mem_close(thandle_t) { return 0; }
toff_t mem_size(thandle_t h) { return static_cast<TiffHandle::State*>(h)->mem.size(); }
int mem_map(thandle_t h, void** base, toff_t* size) {
  auto* st = static_cast<TiffHandle::State*>(h);
  *base = const_cast<char*>(st->mem.data());
  *size = st->mem.size();
  return 1;
}
void mem_unmap(thandle_t, void*, toff_t) {}

}  // namespace

TiffHandle::TiffHandle() : state_(std::make_unique<State>()) {}
TiffHandle::TiffHandle(TiffHandle&& o) noexcept : tif_(o.tif_), state_(std::move(o.state_)) { o.tif_ = nullptr; }
TiffHandle& TiffHandle::operator=(TiffHandle&& o) noexcept {
  if (this != &o) {
    close();
    tif_ = o.tif_;
    state_ = std::move(o.state_);
    o.tif_ = nullptr;
  }
  return *this;
}
TiffHandle::~TiffHandle() { close(); }

bool TiffHandle::close() {
  if (!tif_) return true;
  bool ok = true;
  if (TIFFGetMode(tif_) != O_RDONLY) ok = TIFFFlush(tif_) == 1;
  TIFFClose(tif_);
  tif_ = nullptr;
  return ok && state_->error.empty();
}

TiffHandle TiffHandle::open_file(const std::string& path, const char* mode) {
  TiffHandle h;
  TIFFOpenOptions* o = make_options(h.state_.get());
  h.tif_ = TIFFOpenExt(path.c_str(), mode, o);
  TIFFOpenOptionsFree(o);
  if (!h.tif_ && h.state_->error.empty()) h.state_->error = std::strerror(errno);
  return h;
}

TiffHandle TiffHandle::open_memory(std::string_view bytes) {
  TiffHandle h;
  h.state_->mem = bytes;
  TIFFOpenOptions* o = make_options(h.state_.get());
  h.tif_ = TIFFClientOpenExt("memory", "r", h.state_.get(), mem_read, mem_write, mem_seek, mem_close,
                             mem_size, mem_map, mem_unmap, o);
  TIFFOpenOptionsFree(o);
  if (!h.tif_ && h.state_->error.empty()) h.state_->error = "not a TIFF file";
  return h;
}

}  // namespace imaging
