// raster_buffer.hpp — memory for a page raster (megabytes), mapped on transparent huge pages
// where the kernel offers them and filled with a value, and one spare a process can fault in
// ahead of its work.
//
// WHY: a fine A4 page is a 1728 x 2292 grey raster, 3.8 MiB. Taken from malloc in a process
// forked for one document (the warm render server), every 4 KiB of it is a page fault when it
// is first written: ~1,000 faults, 5-7 ms on a virtual machine, more than drawing the page.
// Mapped 2 MiB-aligned with MADV_HUGEPAGE it faults twice. Where huge pages are off
// (transparent_hugepage=never) it is an ordinary anonymous mapping, filled all the same.
// A process made ahead of its document (the render server's) faults a spare in while it waits
// (keep_spare): the first page then costs no fault and, when the fill matches, no fill either.
// A buffer released becomes the spare when none is held or the one held is smaller (which is
// then unmapped); it is refilled before it is handed out again, so the pages of one document
// reuse their memory.
// LIMITS: at most kMaxBytes (a page of kMaxRows at the widest fax width, in grey, with room).
#pragma once

#include <cstddef>
#include <cstdint>

namespace imaging {

class RasterBuffer {
 public:
  static constexpr size_t kMaxBytes = size_t(256) << 20;

  RasterBuffer() = default;
  // Memory of at least `bytes`, the first `bytes` of it `fill`; empty (data() null) when it
  // cannot be mapped or `bytes` is 0 or over kMaxBytes. Taken from the spare when it is big
  // enough.
  explicit RasterBuffer(size_t bytes, uint8_t fill = 0);
  // Maps a spare of `bytes` filled with `fill` now (its pages faulted in), unless one at least
  // as big is held. Thread-safe, as is the taking and giving back of the spare.
  static void keep_spare(size_t bytes, uint8_t fill);
  // Unmaps the spare: before a process forks children that should not share it copy-on-write
  // (their first write to each of its pages would fault).
  static void drop_spare();
  ~RasterBuffer();
  RasterBuffer(RasterBuffer&& o) noexcept;
  RasterBuffer& operator=(RasterBuffer&& o) noexcept;
  RasterBuffer(const RasterBuffer&) = delete;
  RasterBuffer& operator=(const RasterBuffer&) = delete;

  [[nodiscard]] uint8_t* data() const { return data_; }
  [[nodiscard]] size_t size() const { return size_; }

 private:
  void release();
  void map(size_t bytes);
  uint8_t* data_ = nullptr;
  size_t size_ = 0;  // bytes asked for
  size_t mapped_ = 0;
};

}  // namespace imaging
