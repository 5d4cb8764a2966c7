// raster_buffer.hpp — memory for a page raster (megabytes), mapped fresh and zeroed, on
// transparent huge pages where the kernel offers them.
//
// WHY: a fine A4 page is a 1728 x 2292 grey raster, 3.8 MiB. Taken from malloc in a process
// forked for one document (the warm render server), every 4 KiB of it is a page fault when it
// is first written: ~1,000 faults, 5-7 ms on a virtual machine, more than drawing the page.
// Mapped 2 MiB-aligned with MADV_HUGEPAGE it faults twice. Where huge pages are off
// (transparent_hugepage=never) it is an ordinary anonymous mapping, zeroed all the same.
// LIMITS: at most kMaxBytes (a page of kMaxRows at the widest fax width, in grey, with room).
#pragma once

#include <cstddef>
#include <cstdint>

namespace imaging {

class RasterBuffer {
 public:
  static constexpr size_t kMaxBytes = size_t(256) << 20;

  RasterBuffer() = default;
  // Zero-filled memory of at least `bytes`; empty (data() null) when it cannot be mapped or
  // `bytes` is 0 or over kMaxBytes.
  explicit RasterBuffer(size_t bytes);
  ~RasterBuffer();
  RasterBuffer(RasterBuffer&& o) noexcept;
  RasterBuffer& operator=(RasterBuffer&& o) noexcept;
  RasterBuffer(const RasterBuffer&) = delete;
  RasterBuffer& operator=(const RasterBuffer&) = delete;

  [[nodiscard]] uint8_t* data() const { return data_; }
  [[nodiscard]] size_t size() const { return size_; }

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;  // bytes asked for
  size_t mapped_ = 0;
};

}  // namespace imaging
