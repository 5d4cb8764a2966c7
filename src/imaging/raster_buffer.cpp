// raster_buffer.cpp — see raster_buffer.hpp.
#include "imaging/raster_buffer.hpp"

#include <cstdint>
#include <utility>

#include <sys/mman.h>

namespace imaging {
namespace {
constexpr size_t kHuge = size_t(2) << 20;
}

RasterBuffer::RasterBuffer(size_t bytes) {
  if (bytes == 0 || bytes > kMaxBytes) return;
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
  if (data_) ::munmap(data_, mapped_);
  data_ = nullptr;
  size_ = mapped_ = 0;
}

}  // namespace imaging
