// tiff_read.cpp — TIFF inputs to fax pages through libtiff (see tiff_read.hpp).
#include "imaging/tiff_read.hpp"

#include <cmath>
#include <fstream>
#include <iterator>
#include <vector>

#include "imaging/mupdf_render.hpp"
#include "imaging/tiff_io.hpp"

namespace imaging {
namespace {

struct Dir {
  uint32_t w = 0, h = 0;
  uint16_t bps = 1, spp = 1, photo = PHOTOMETRIC_MINISWHITE, unit = RESUNIT_INCH;
  float xres = 0, yres = 0;
  bool tiled = false;
};

Dir read_dir(TIFF* t) {
  Dir d;
  TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &d.w);
  TIFFGetField(t, TIFFTAG_IMAGELENGTH, &d.h);
  TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &d.bps);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &d.spp);
  TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &d.unit);
  if (!TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &d.photo)) d.photo = PHOTOMETRIC_MINISWHITE;
  TIFFGetField(t, TIFFTAG_XRESOLUTION, &d.xres);
  TIFFGetField(t, TIFFTAG_YRESOLUTION, &d.yres);
  if (d.unit == RESUNIT_CENTIMETER) {
    d.xres *= 2.54f;
    d.yres *= 2.54f;
  } else if (d.unit == RESUNIT_NONE) {
    d.xres = d.yres = 0;
  }
  d.tiled = TIFFIsTiled(t);
  return d;
}

// Bilevel strips as stored, 1 = black whatever the photometric interpretation.
Result<Bitmap> read_bilevel(TIFF* t, const Dir& d, const std::string& label) {
  Bitmap bm(int(d.w), int(d.h));
  tmsize_t line = TIFFScanlineSize(t);
  if (line < bm.stride) return make_error(Errc::corrupt, label + ": inconsistent scanline size");
  std::vector<uint8_t> buf(static_cast<size_t>(line));
  bool invert = d.photo == PHOTOMETRIC_MINISBLACK;
  for (uint32_t y = 0; y < d.h; ++y) {
    if (TIFFReadScanline(t, buf.data(), y, 0) < 0) {
      return make_error(Errc::corrupt, label + ": page data is damaged at row " + std::to_string(y));
    }
    uint8_t* dst = bm.row(int(y));
    for (int k = 0; k < bm.stride; ++k) dst[k] = invert ? uint8_t(~buf[size_t(k)]) : buf[size_t(k)];
    if (int tail = bm.width & 7) dst[bm.stride - 1] &= uint8_t(0xFF << (8 - tail));
  }
  return bm;
}

Result<GreyImage> read_grey(TIFF* t, const Dir& d, const std::string& label) {
  std::vector<uint32_t> rgba(size_t(d.w) * d.h);
  if (!TIFFReadRGBAImageOriented(t, d.w, d.h, rgba.data(), ORIENTATION_TOPLEFT, 0)) {
    return make_error(Errc::corrupt, label + ": the image data cannot be decoded");
  }
  GreyImage g;
  g.width = int(d.w);
  g.height = int(d.h);
  g.xres = d.xres;
  g.yres = d.yres;
  g.px.resize(rgba.size());
  for (size_t i = 0; i < rgba.size(); ++i) {
    uint32_t p = rgba[i];
    unsigned r = TIFFGetR(p), gg = TIFFGetG(p), b = TIFFGetB(p), a = TIFFGetA(p);
    unsigned lum = (r * 299 + gg * 587 + b * 114) / 1000;
    g.px[i] = uint8_t((lum * a + 255 * (255 - a)) / 255);  // transparent = paper
  }
  return g;
}

GreyImage grey_of(const Bitmap& bm, const Dir& d) {
  GreyImage g;
  g.width = bm.width;
  g.height = bm.rows;
  g.xres = d.xres;
  g.yres = d.yres;
  g.px.resize(size_t(bm.width) * bm.rows);
  for (int y = 0; y < bm.rows; ++y) {
    for (int x = 0; x < bm.width; ++x) g.px[size_t(y) * bm.width + x] = bm.get(x, y) ? 0 : 255;
  }
  return g;
}

int fax_ydpi(const Dir& d, int fallback) {
  if (d.xres < 196 || d.xres > 208) return fallback;
  for (int y : {98, 196, 391}) {
    if (std::fabs(d.yres - y) <= y * 0.03) return y;
  }
  return fallback;
}

}  // namespace

Result<Pages> render_tiff(std::string_view bytes, const RenderOptions& opt, const std::string& label) {
  TiffHandle h = TiffHandle::open_memory(bytes);
  if (!h) return make_error(Errc::corrupt, label + ": not a readable TIFF: " + h.error());
  TIFF* t = h.tiff();
  Pages pages;
  do {
    if (int(pages.size()) >= opt.limits.max_pages) {
      return make_error(Errc::limit, label + ": more than " + std::to_string(opt.limits.max_pages) + " pages");
    }
    Dir d = read_dir(t);
    std::string where = label + " page " + std::to_string(pages.size() + 1);
    if (d.w == 0 || d.h == 0) return make_error(Errc::corrupt, where + ": the page has no pixels");
    if (int64_t(d.w) * d.h > opt.limits.max_image_pixels) {
      return make_error(Errc::limit, where + ": " + std::to_string(d.w) + "x" + std::to_string(d.h) +
                                         " pixels, over the limit of " + std::to_string(opt.limits.max_image_pixels));
    }
    bool bilevel = d.bps == 1 && d.spp == 1 && !d.tiled &&
                   (d.photo == PHOTOMETRIC_MINISWHITE || d.photo == PHOTOMETRIC_MINISBLACK);
    if (bilevel) {
      auto bm = read_bilevel(t, d, where);
      if (!bm) return bm.error();
      if (bm->width == kFaxWidth && bm->rows <= kMaxRows) {
        Page p;
        p.yres = opt.ydpi();
        p.bitmap = resample_rows(*bm, fax_ydpi(d, p.yres), p.yres);
        pages.push_back(std::move(p));
        continue;
      }
      auto placed = place_grey(grey_of(*bm, d), opt, where);
      if (!placed) return placed.error();
      pages.push_back(std::move(placed.value()));
      continue;
    }
    auto g = read_grey(t, d, where);
    if (!g) return g.error();
    auto placed = place_grey(*g, opt, where);
    if (!placed) return placed.error();
    pages.push_back(std::move(placed.value()));
  } while (TIFFReadDirectory(t) == 1);
  if (pages.empty()) return make_error(Errc::corrupt, label + ": no pages");
  return pages;
}

Result<Pages> read_fax_tiff(const std::string& path) {
  TiffHandle h = TiffHandle::open_file(path, "r");
  if (!h) return make_error(Errc::corrupt, path + ": not a readable TIFF: " + h.error());
  Pages pages;
  do {
    if (pages.size() >= 1000) return make_error(Errc::limit, path + ": more than 1000 pages");
    Dir d = read_dir(h.tiff());
    if (d.bps != 1 || d.spp != 1 || d.tiled || d.w == 0 || d.h == 0 || d.h > uint32_t(kMaxRows) ||
        d.w > 8192) {
      return make_error(Errc::unsupported, path + ": not a bilevel fax page");
    }
    auto bm = read_bilevel(h.tiff(), d, path);
    if (!bm) return bm.error();
    Page p;
    p.bitmap = std::move(bm.value());
    p.xres = int(std::lround(d.xres));
    p.yres = int(std::lround(d.yres));
    pages.push_back(std::move(p));
  } while (TIFFReadDirectory(h.tiff()) == 1);
  return pages;
}

}  // namespace imaging
