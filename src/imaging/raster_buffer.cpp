// raster_buffer.cpp — see raster_buffer.hpp.
#include "imaging/raster_buffer.hpp"

#include <cstdint>
#include <cstring>
#include <mutex>
#include <utility>

#include <sys/mman.h>

namespace imaging {
namespace {
constexpr size_t kHuge = size_t(2) << 20;

// The process's spare: a mapping faulted in, and what it holds (-1: unknown).
struct Spare {
  std::mutex mu;
  uint8_t* data = nullptr;
  size_t mapped = 0;
  int fill = -1;
};

Spare& spare() {
  static Spare s;
  return s;
}
}  // namespace

void RasterBuffer::map(size_t bytes) {
  const size_t want = (bytes + kHuge - 1) / kHuge * kHuge;
  // One huge page more than needed, so the start can be moved to a 2 MiB boundary.
  void* p = ::mmap(nullptr, want + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  auto base = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (base + kHuge - 1) & ~uintptr_t(kHuge - 1);
  if (aligned > base) ::munmap(p, aligned - base);
  const uintptr_t end = base + want + kHuge;
  if (end > aligned + want) ::munmap(reinterpret_cast<void*>(aligned + want), end - (aligned + want));
  (void)::madvise(reinterpret_cast<void*>(aligned), want, MADV_HUGEPAGE);  // a hint: refused, 4 KiB pages
  data_ = reinterpret_cast<uint8_t*>(aligned);
  size_ = bytes;
  mapped_ = want;
}

RasterBuffer::RasterBuffer(size_t bytes, uint8_t fill) {
  if (bytes == 0 || bytes > kMaxBytes) return;
  int held = 0;  // a fresh mapping holds zeros
  {
    Spare& s = spare();
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.data && s.mapped >= bytes) {
      data_ = std::exchange(s.data, nullptr);
      mapped_ = std::exchange(s.mapped, 0);
      size_ = bytes;
      held = std::exchange(s.fill, -1);
    }
  }
  if (!data_) map(bytes);
  if (data_ && held != fill) std::memset(data_, fill, bytes);
}

void RasterBuffer::keep_spare(size_t bytes, uint8_t fill) {
  if (bytes == 0 || bytes > kMaxBytes) return;
  {
    Spare& s = spare();
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.data && s.mapped >= bytes) return;
  }
  RasterBuffer b;
  b.map(bytes);
  if (!b.data_) return;
  std::memset(b.data_, fill, b.mapped_);  // every page written: faulted in now
  Spare& s = spare();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.data) ::munmap(s.data, s.mapped);
  s.data = std::exchange(b.data_, nullptr);
  s.mapped = std::exchange(b.mapped_, 0);
  s.fill = fill;
  b.size_ = 0;
}

void RasterBuffer::drop_spare() {
  Spare& s = spare();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.data) ::munmap(s.data, s.mapped);
  s.data = nullptr;
  s.mapped = 0;
  s.fill = -1;
}

RasterBuffer::~RasterBuffer() { release(); }

RasterBuffer::RasterBuffer(RasterBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), mapped_(std::exchange(o.mapped_, 0)) {}

RasterBuffer& RasterBuffer::operator=(RasterBuffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    mapped_ = std::exchange(o.mapped_, 0);
  }
  return *this;
}

void RasterBuffer::release() {
  if (data_) {
    Spare& s = spare();
    std::unique_lock<std::mutex> lock(s.mu);
    if (!s.data || s.mapped < mapped_) {  // kept for the next page; refilled before it is handed out
      std::swap(s.data, data_);
      std::swap(s.mapped, mapped_);
      s.fill = -1;
    }
    lock.unlock();
    if (data_) ::munmap(data_, mapped_);
  }
  data_ = nullptr;
  size_ = mapped_ = 0;
}

}  // namespace imaging
