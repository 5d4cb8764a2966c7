// tiff_io.hpp — libtiff handles as RAII objects with per-handle error capture.
//
// libtiff's default handlers print to stderr and are process-wide; TIFFOpenExt's per-handle
// handlers (libtiff >= 4.5) let each open collect its own first error, so a corrupt file
// produces one clear sentence and concurrent opens do not interfere. Files can be opened
// from a path or from memory (MIME parts, fuzzing).
// LIMITS: kMaxSingleAlloc bounds any one libtiff allocation (a hostile header cannot make
// libtiff allocate gigabytes).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <tiffio.h>

namespace imaging {

inline constexpr tmsize_t kMaxSingleAlloc = 256 << 20;

class TiffHandle {
 public:
  // mode as TIFFOpen ("r", "w", "w8"). On failure, tiff() is null and error() says why.
  static TiffHandle open_file(const std::string& path, const char* mode);
  static TiffHandle open_memory(std::string_view bytes);  // read-only, no copy: bytes must outlive
  TiffHandle(TiffHandle&&) noexcept;
  TiffHandle& operator=(TiffHandle&&) noexcept;
  ~TiffHandle();

  TIFF* tiff() const { return tif_; }
  explicit operator bool() const { return tif_ != nullptr; }
  // The first error libtiff reported on this handle ("" if none).
  const std::string& error() const { return state_->error; }
  void clear_error() { state_->error.clear(); }
  // Flush and close; false (with error()) if the final write failed.
  bool close();

  struct State {
    std::string error;
    std::string_view mem;
    toff_t pos = 0;
  };

 private:
  TiffHandle();
  TIFF* tif_ = nullptr;
  std::unique_ptr<State> state_;
};

}  // namespace imaging
