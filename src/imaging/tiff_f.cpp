// tiff_f.cpp — TIFF-F writer and TIFF inspector (RFC 3949 Profiles S and F) over libtiff.
#include "imaging/tiff_f.hpp"

#include "core/printable.hpp"

#include <algorithm>

#include <cmath>
#include <ctime>
#include <filesystem>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "imaging/parallel.hpp"
#include "imaging/t4_encoder.hpp"
#include "imaging/tiff_io.hpp"

namespace imaging {

bool parse_coding(std::string_view s, Coding& out) {
  if (s == "mh") out = Coding::mh;
  else if (s == "mr") out = Coding::mr;
  else if (s == "mmr") out = Coding::mmr;
  else return false;
  return true;
}

namespace {

std::string tiff_datetime() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[24];
  std::strftime(buf, sizeof buf, "%Y:%m:%d %H:%M:%S", &tm);
  return buf;
}

bool set_page_fields(TIFF* t, const Page& p, int index, int total, const TiffWriteOptions& opt,
                     const std::string& when) {
  bool ok = true;
  ok &= TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE) == 1;
  ok &= TIFFSetField(t, TIFFTAG_IMAGEWIDTH, uint32_t(p.bitmap.width)) == 1;
  ok &= TIFFSetField(t, TIFFTAG_IMAGELENGTH, uint32_t(p.bitmap.rows)) == 1;
  ok &= TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1) == 1;
  ok &= TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1) == 1;
  ok &= TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE) == 1;
  ok &= TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_MSB2LSB) == 1;
  ok &= TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) == 1;
  ok &= TIFFSetField(t, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT) == 1;
  switch (opt.coding) {
    case Coding::mh:
      ok &= TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3) == 1;
      ok &= TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, uint32_t(GROUP3OPT_FILLBITS)) == 1;
      break;
    case Coding::mr:
      ok &= TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3) == 1;
      ok &= TIFFSetField(t, TIFFTAG_GROUP3OPTIONS, uint32_t(GROUP3OPT_2DENCODING | GROUP3OPT_FILLBITS)) == 1;
      break;
    case Coding::mmr:
      ok &= TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4) == 1;
      ok &= TIFFSetField(t, TIFFTAG_GROUP4OPTIONS, uint32_t(0)) == 1;
      break;
  }
  ok &= TIFFSetField(t, TIFFTAG_XRESOLUTION, float(p.xres)) == 1;
  ok &= TIFFSetField(t, TIFFTAG_YRESOLUTION, float(p.yres)) == 1;
  ok &= TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH) == 1;
  ok &= TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, uint32_t(p.bitmap.rows)) == 1;
  ok &= TIFFSetField(t, TIFFTAG_PAGENUMBER, uint16_t(index), uint16_t(total)) == 1;
  ok &= TIFFSetField(t, TIFFTAG_SOFTWARE, opt.software.c_str()) == 1;
  ok &= TIFFSetField(t, TIFFTAG_DATETIME, when.c_str()) == 1;
  const std::string description = p.note.empty() ? opt.description : std::string(kNotePrefix) + p.note;
  if (!description.empty()) ok &= TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, description.c_str()) == 1;
  if (size_t(index) < opt.quality.size()) {
    const PageQuality& q = opt.quality[index];
    uint16_t clean = q.bad_rows == 0 ? CLEANFAXDATA_CLEAN
                     : q.regenerated ? CLEANFAXDATA_REGENERATED
                                     : CLEANFAXDATA_UNCLEAN;
    ok &= TIFFSetField(t, TIFFTAG_BADFAXLINES, uint32_t(q.bad_rows)) == 1;
    ok &= TIFFSetField(t, TIFFTAG_CLEANFAXDATA, clean) == 1;
    ok &= TIFFSetField(t, TIFFTAG_CONSECUTIVEBADFAXLINES, uint32_t(q.consecutive_bad_rows)) == 1;
  }
  return ok;
}

Status fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return make_error(Errc::usage, "cannot open " + path + " to sync it");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return make_error(Errc::usage, "cannot sync " + path);
  return fb::Unit{};
}

}  // namespace

namespace {

// Writes already coded pages to `path` atomically (a temporary beside it, fsync, rename).
Status write_coded(const std::string& path, const Pages& shapes, std::vector<std::vector<uint8_t>>& coded,
                   const TiffWriteOptions& opt) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path tmp = target;
  tmp += ".tmp-" + std::to_string(::getpid());
  const std::string when = tiff_datetime();
  {
    TiffHandle h = TiffHandle::open_file(tmp.string(), "w");
    if (!h) return make_error(Errc::usage, "cannot write " + path + ": " + h.error());
    int total = int(shapes.size());
    for (int i = 0; i < total; ++i) {
      const Page& p = shapes[size_t(i)];
      if (!set_page_fields(h.tiff(), p, i, total, opt, when)) {
        std::error_code ec;
        fs::remove(tmp, ec);
        return make_error(Errc::usage, "cannot write " + path + ": " + h.error());
      }
      // Coded by t4_encoder (byte-identical to libtiff's encoder, several times faster).
      std::vector<uint8_t>& strip = coded[size_t(i)];
      if (TIFFWriteRawStrip(h.tiff(), 0, strip.data(), tmsize_t(strip.size())) < 0 ||
          TIFFWriteDirectory(h.tiff()) != 1) {
        std::string why = h.error();
        std::error_code ec;
        fs::remove(tmp, ec);
        return make_error(Errc::usage, "cannot write " + path + ": " + why);
      }
    }
    if (!h.close()) {
      std::error_code ec;
      fs::remove(tmp, ec);
      return make_error(Errc::usage, "cannot write " + path + ": " + h.error());
    }
  }
  if (opt.durable) {
    if (auto s = fsync_path(tmp.string(), false); !s) return s;
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return make_error(Errc::usage, "cannot write " + path + ": " + ec.message());
  }
  if (!opt.durable) return fb::Unit{};
  std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  return fsync_path(dir, true);
}

// The page's size and resolution without its pixels.
Page shape_of(const Page& p) {
  Page s;
  s.bitmap.width = p.bitmap.width;
  s.bitmap.rows = p.bitmap.rows;
  s.bitmap.stride = p.bitmap.stride;
  s.xres = p.xres;
  s.yres = p.yres;
  s.note = p.note;
  return s;
}

}  // namespace

Status write_tiff_f(const std::string& path, const Pages& pages, const TiffWriteOptions& opt) {
  if (pages.empty()) return make_error(Errc::usage, "no pages to write to " + path);
  if (pages.size() > size_t(kMaxPages)) {
    return make_error(Errc::limit, "more than " + std::to_string(kMaxPages) + " pages");
  }
  // Code every page first, on all cores (t4_encoder is the expensive part), then write.
  std::vector<std::vector<uint8_t>> coded(pages.size());
  run_workers(worker_count(pages.size()), [&](unsigned w, unsigned n) {
    for (size_t i = w; i < pages.size(); i += n) coded[i] = t4_encode(pages[i].bitmap, opt.coding, pages[i].yres);
  });
  Pages shapes;
  for (const auto& p : pages) shapes.push_back(shape_of(p));
  return write_coded(path, shapes, coded, opt);
}

Status TiffFaxWriter::add(const Page& page, const PageQuality& quality) {
  if (strips_.size() >= size_t(kMaxPages)) {
    return make_error(Errc::limit, "more than " + std::to_string(kMaxPages) + " pages");
  }
  strips_.push_back(t4_encode(page.bitmap, opt_.coding, page.yres));
  shapes_.push_back(shape_of(page));
  opt_.quality.push_back(quality);
  // Appended at once (page count 0: not known yet), so a crash keeps every page that arrived.
  const int index = int(strips_.size()) - 1;
  TiffHandle h = TiffHandle::open_file(path_, index == 0 ? "w" : "a");
  if (!h) return make_error(Errc::usage, "cannot write " + path_ + ": " + h.error());
  std::vector<uint8_t>& strip = strips_.back();
  if (!set_page_fields(h.tiff(), shapes_.back(), index, 0, opt_, tiff_datetime()) ||
      TIFFWriteRawStrip(h.tiff(), 0, strip.data(), tmsize_t(strip.size())) < 0 || TIFFWriteDirectory(h.tiff()) != 1) {
    return make_error(Errc::usage, "cannot write " + path_ + ": " + h.error());
  }
  if (!h.close()) return make_error(Errc::usage, "cannot write " + path_ + ": " + h.error());
  return fb::Unit{};
}

Status TiffFaxWriter::finish() {
  if (strips_.empty()) return fb::Unit{};
  return write_coded(path_, shapes_, strips_, opt_);
}

namespace {

int to_dpi(float v, uint16_t unit) {
  double dpi = unit == RESUNIT_CENTIMETER ? double(v) * 2.54 : double(v);
  return int(std::lround(dpi));
}

bool is_profile_s(const TiffPageInfo& p) {
  return p.compression == "mh" && p.width == 1728 && p.xres == 204 && (p.yres == 98 || p.yres == 196) &&
         p.bits_per_sample == 1 && p.samples_per_pixel == 1 && p.photometric == PHOTOMETRIC_MINISWHITE;
}

bool is_profile_f(const TiffPageInfo& p) {
  if (p.compression == "other" || p.bits_per_sample != 1 || p.samples_per_pixel != 1) return false;
  if (p.photometric != PHOTOMETRIC_MINISWHITE) return false;
  struct R { int x, y; std::initializer_list<int> widths; };
  static const R kAllowed[] = {
      {204, 98, {1728, 2048, 2432}},  {204, 196, {1728, 2048, 2432}}, {204, 391, {1728, 2048, 2432}},
      {200, 100, {1728, 2048, 2432}}, {200, 200, {1728, 2048, 2432}}, {300, 300, {2592, 3072, 3648}},
      {408, 391, {3456, 4096, 4864}}, {400, 400, {3456, 4096, 4864}},
  };
  for (const R& r : kAllowed) {
    if (r.x != p.xres || r.y != p.yres) continue;
    for (int w : r.widths) if (w == p.width) return true;
  }
  return false;
}

}  // namespace

Result<TiffInfo> inspect_tiff(const std::string& path) {
  TiffHandle h = TiffHandle::open_file(path, "r");
  if (!h) return make_error(Errc::corrupt, path + ": not a readable TIFF: " + h.error());
  TiffInfo info;
  TIFF* t = h.tiff();
  do {
    if (info.pages.size() >= size_t(kMaxPages)) {
      return make_error(Errc::limit, path + ": more than " + std::to_string(kMaxPages) + " pages");
    }
    TiffPageInfo p;
    uint32_t w = 0, rows = 0;
    uint16_t comp = 1, bps = 1, spp = 1, unit = RESUNIT_INCH, photo = 0;
    float xr = 0, yr = 0;
    uint32_t g3 = 0, bad = 0;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &rows);
    TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &comp);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &unit);
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
    TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr);
    TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr);
    p.width = int(w);
    p.rows = int(rows);
    p.xres = to_dpi(xr, unit);
    p.yres = to_dpi(yr, unit);
    p.bits_per_sample = bps;
    p.samples_per_pixel = spp;
    p.photometric = photo;
    p.strips = int(TIFFNumberOfStrips(t));
    if (comp == COMPRESSION_CCITTFAX3) {
      TIFFGetField(t, TIFFTAG_GROUP3OPTIONS, &g3);
      p.compression = (g3 & GROUP3OPT_2DENCODING) ? "mr" : "mh";
    } else if (comp == COMPRESSION_CCITTFAX4) {
      p.compression = "mmr";
    } else {
      p.compression = "other";
    }
    if (comp == COMPRESSION_CCITTFAX3 || comp == COMPRESSION_CCITTFAX4) {
      if (TIFFGetField(t, TIFFTAG_BADFAXLINES, &bad) == 1) p.bad_rows = int(bad);
    }
    if (char* d = nullptr; TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &d) == 1 && d) {
      const std::string_view desc(d);
      if (desc.starts_with(kNotePrefix)) {  // written by the converter, which is not trusted
        p.note = fb::text_line(desc.substr(kNotePrefix.size()), kMaxNoteBytes);
      }
    }
    info.pages.push_back(p);
  } while (TIFFReadDirectory(t) == 1);
  if (!h.error().empty() && info.pages.empty()) return make_error(Errc::corrupt, path + ": " + h.error());
  bool s = true, f = true;
  for (const auto& p : info.pages) {
    s = s && is_profile_s(p);
    f = f && (is_profile_s(p) || is_profile_f(p));
  }
  info.profile = s ? "S" : f ? "F" : "none";
  return info;
}

std::string to_json(const TiffInfo& info) {
  nlohmann::json pages = nlohmann::json::array();
  for (const auto& p : info.pages) {
    pages.push_back({{"width", p.width},
                     {"rows", p.rows},
                     {"xres", p.xres},
                     {"yres", p.yres},
                     {"compression", p.compression}});
    if (!p.note.empty()) pages.back()["note"] = p.note;
  }
  nlohmann::json j = {{"pages", info.pages.size()}, {"profile", info.profile}, {"page", pages}};
  return j.dump();
}

std::optional<std::string> check_fax_pages(const TiffInfo& info, int max_pages) {
  if (info.pages.empty()) return "it has no page";
  if (int(info.pages.size()) > max_pages) {
    return "it has " + std::to_string(info.pages.size()) + " pages, more than " + std::to_string(max_pages);
  }
  auto one_of = [](int v, std::initializer_list<int> ok) { return std::find(ok.begin(), ok.end(), v) != ok.end(); };
  for (size_t i = 0; i < info.pages.size(); ++i) {
    const TiffPageInfo& p = info.pages[i];
    const std::string page = "page " + std::to_string(i + 1) + " ";
    if (p.bits_per_sample != 1 || p.samples_per_pixel != 1) return page + "is not black and white";
    if (p.compression == "other") return page + "is not MH, MR or MMR coded";
    if (!one_of(p.width, {1728, 2048, 2432, 3456, 4096, 4864})) {
      return page + "is " + std::to_string(p.width) + " dots wide, not a fax width";
    }
    if (!one_of(p.xres, {204, 408, 200, 300, 400}) || !one_of(p.yres, {98, 196, 391, 100, 200, 300, 400})) {
      return page + "has a resolution of " + std::to_string(p.xres) + "x" + std::to_string(p.yres) + ", not a fax one";
    }
    if (p.rows < 1 || p.rows > kMaxFaxRows) return page + "has " + std::to_string(p.rows) + " rows";
  }
  return std::nullopt;
}

}  // namespace imaging
