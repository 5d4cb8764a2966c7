// tiff_f.hpp — writing fax pages as TIFF-F and describing any TIFF, through libtiff.
//
// STANDARDS: RFC 3949 (TIFF-FX) Profile S (MH, 204x98/196, width 1728, one strip per page)
// and Profile F (adds MR, MMR, superfine and B4/A3 widths); TIFF 6.0 Class F fields
// BadFaxLines (326), CleanFaxData (327), ConsecutiveBadFaxLines (328) for received pages.
// Every page is one IFD with NewSubfileType 2 and PageNumber (index, total), one strip,
// WhiteIsZero, FillOrder 1, ResolutionUnit inch. t4_encoder.hpp codes the pages (exactly as
// libtiff's encoder would); libtiff writes the file.
// LIMITS: kMaxPages pages per file; rows per page as page.hpp's kMaxRows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "imaging/page.hpp"
#include "imaging/result.hpp"

namespace imaging {

inline constexpr int kMaxPages = 1000;

enum class Coding { mh, mr, mmr };
bool parse_coding(std::string_view s, Coding& out);

// What a receiver knows about a page's quality (T.30 phase D results); written as the
// Class F fields so a page with lost rows is never presented as clean.
struct PageQuality {
  int bad_rows = 0;
  int consecutive_bad_rows = 0;
  bool regenerated = false;  // bad rows were replaced (CleanFaxData 1) rather than left (2)
};

struct TiffWriteOptions {
  Coding coding = Coding::mh;
  std::string software = "faxbridge";
  std::string description;  // ImageDescription (e.g. remote CSID and caller on received faxes)
  std::vector<PageQuality> quality;  // per page, optional
  // fsync the file and its directory before and after the rename; off only where a caller makes
  // its own copy durable (the warm render server's scratch output, which the daemon copies).
  bool durable = true;
};

// Writes pages to `path` atomically (a temporary beside it, fsync, rename).
Status write_tiff_f(const std::string& path, const Pages& pages, const TiffWriteOptions& opt = {});

// A received fax written page by page, as the pages arrive: each page is coded and appended to
// the file at once (after a crash the file holds every page that had arrived), and finish()
// rewrites the file atomically with its page count in every PageNumber (a temporary beside it,
// fsync, rename). Pages are kept coded in memory, not as bitmaps (a few tens of KB each).
class TiffFaxWriter {
 public:
  TiffFaxWriter(std::string path, TiffWriteOptions opt) : path_(std::move(path)), opt_(std::move(opt)) {}
  Status add(const Page& page, const PageQuality& quality);
  Status finish();
  int pages() const { return int(strips_.size()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  TiffWriteOptions opt_;
  std::vector<Page> shapes_;  // each page's size and resolution (bitmap left empty)
  std::vector<std::vector<uint8_t>> strips_;
};

struct TiffPageInfo {
  int width = 0;
  int rows = 0;
  int xres = 0;  // whole dots per inch (centimetre units converted, rounded)
  int yres = 0;
  std::string compression;  // "mh" | "mr" | "mmr" | "other"
  int bits_per_sample = 1;
  int samples_per_pixel = 1;
  int strips = 1;
  int photometric = 0;
  int bad_rows = -1;  // BadFaxLines when present
  std::string note;   // Page::note as written here (ImageDescription after kNotePrefix): fb::text_line, bounded
};

// A page's note (page.hpp) travels in its ImageDescription after this prefix, from the jailed
// converter to the daemon, which reads it back for the sender's report.
inline constexpr std::string_view kNotePrefix = "faxbridge note: ";
inline constexpr size_t kMaxNoteBytes = 512;

struct TiffInfo {
  std::vector<TiffPageInfo> pages;
  std::string profile;  // "S" | "F" | "none"
};

Result<TiffInfo> inspect_tiff(const std::string& path);
std::string to_json(const TiffInfo& info);

// Whether a TIFF is fax pages the transmitter can send, as the daemon checks what the (jailed)
// converter hands back before trusting it: 1..max_pages pages, each black and white, MH, MR or
// MMR, a T.4 width (1728, 2048, 2432, 3456, 4096 or 4864 dots), a fax resolution (204/408/200/300/
// 400 across, 98/196/391/100/200/300/400 down, as whole dpi) and 1..kMaxFaxRows rows.
// nullopt when it is; else the first problem, as a sentence.
inline constexpr int kMaxFaxRows = 65536;
std::optional<std::string> check_fax_pages(const TiffInfo& info, int max_pages);

}  // namespace imaging
