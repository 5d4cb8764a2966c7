// pdf_writer.cpp — TIFF fax pages to PDF with CCITT data passed through (see the header).
#include "imaging/pdf_writer.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

extern "C" {
#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
}

#include "imaging/tiff_f.hpp"
#include "imaging/tiff_io.hpp"
#include "imaging/tiff_read.hpp"

namespace imaging {
namespace {

void quiet(void*, const char*) {}

// One page's coded data and how to decode it.
struct CodedPage {
  std::vector<uint8_t> data;
  int width = 0, rows = 0, xres = 204, yres = 196;
  int k = 0;  // PDF K: 0 = MH, 1 = MR, -1 = MMR
  bool eol = false, byte_align = false, black_is_zero = false;
};

// The pages if every one is a single-strip CCITT page; nullopt otherwise.
Result<std::vector<CodedPage>> coded_pages(const std::string& path, bool& passthrough) {
  passthrough = true;
  TiffHandle h = TiffHandle::open_file(path, "r");
  if (!h) return make_error(Errc::corrupt, path + ": not a readable TIFF: " + h.error());
  TIFF* t = h.tiff();
  std::vector<CodedPage> pages;
  do {
    if (pages.size() >= size_t(kMaxPages)) return make_error(Errc::limit, path + ": too many pages");
    uint16_t comp = 1, fill = FILLORDER_MSB2LSB, photo = PHOTOMETRIC_MINISWHITE, unit = RESUNIT_INCH, bps = 1;
    uint32_t w = 0, rows = 0, g3 = 0;
    float xr = 204, yr = 196;
    TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &comp);
    TIFFGetFieldDefaulted(t, TIFFTAG_FILLORDER, &fill);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &rows);
    TIFFGetFieldDefaulted(t, TIFFTAG_RESOLUTIONUNIT, &unit);
    TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr);
    TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr);
    bool ccitt = comp == COMPRESSION_CCITTFAX3 || comp == COMPRESSION_CCITTFAX4;
    if (!ccitt || bps != 1 || TIFFIsTiled(t) || TIFFNumberOfStrips(t) != 1) {
      passthrough = false;
      return pages;
    }
    CodedPage cp;
    cp.width = int(w);
    cp.rows = int(rows);
    double f = unit == RESUNIT_CENTIMETER ? 2.54 : 1.0;
    cp.xres = xr > 0 ? int(xr * f + 0.5) : 204;
    cp.yres = yr > 0 ? int(yr * f + 0.5) : 196;
    if (comp == COMPRESSION_CCITTFAX4) {
      cp.k = -1;
    } else {
      TIFFGetField(t, TIFFTAG_GROUP3OPTIONS, &g3);
      cp.k = (g3 & GROUP3OPT_2DENCODING) ? 1 : 0;
      cp.eol = true;
      cp.byte_align = (g3 & GROUP3OPT_FILLBITS) != 0;
    }
    cp.black_is_zero = photo == PHOTOMETRIC_MINISBLACK;
    tmsize_t n = TIFFRawStripSize(t, 0);
    if (n <= 0 || n > kMaxSingleAlloc) return make_error(Errc::corrupt, path + ": bad strip size");
    cp.data.resize(size_t(n));
    if (TIFFReadRawStrip(t, 0, cp.data.data(), n) != n) {
      return make_error(Errc::corrupt, path + ": cannot read page data: " + h.error());
    }
    if (fill == FILLORDER_LSB2MSB) TIFFReverseBits(cp.data.data(), n);
    pages.push_back(std::move(cp));
  } while (TIFFReadDirectory(t) == 1);
  return pages;
}

// A character's advance in ems (MuPDF may throw: caught here, where no C++ object lives).
float advance(fz_context* ctx, fz_font* font, int unicode) {
  float a = 0.5f;
  fz_var(a);
  fz_try(ctx) { a = fz_advance_glyph(ctx, font, fz_encode_character(ctx, font, unicode), 0); }
  fz_catch(ctx) { a = 0.5f; }
  return a;
}

// One UTF-8 word as a PDF string in WinAnsiEncoding ('?' for what it lacks, and for bytes that
// are not UTF-8), and its width in ems of the font.
std::string winansi_string(fz_context* ctx, fz_font* font, const std::string& utf8, float& ems) {
  std::string out = "(";
  ems = 0;
  for (size_t i = 0; i < utf8.size();) {
    const unsigned char c = static_cast<unsigned char>(utf8[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    int u = '?';
    bool valid = n > 0 && i + n <= utf8.size();
    for (size_t k = 1; valid && k < n; ++k) valid = (static_cast<unsigned char>(utf8[i + k]) & 0xC0) == 0x80;
    if (valid) {
      u = n == 1 ? c : c & (0x7F >> n);
      for (size_t k = 1; k < n; ++k) u = (u << 6) | (utf8[i + k] & 0x3F);
    }
    i += valid ? n : 1;
    int b = fz_windows_1252_from_unicode(u);
    if (b <= 0) b = u = '?';
    ems += advance(ctx, font, u);
    if (b == '(' || b == ')' || b == '\\') {
      out += '\\';
      out += char(b);
    } else if (b < 32 || b >= 127) {
      char oct[8];
      std::snprintf(oct, sizeof oct, "\\%03o", b & 0xFF);
      out += oct;
    } else {
      out += char(b);
    }
  }
  return out + ")";
}

// A page's text layer: its invisible words as content-stream operators (points, origin bottom
// left), built before the page's fz_try (no C++ object may live across a MuPDF throw).
std::string text_layer(fz_context* ctx, fz_font* font, const CodedPage& cp, const PageWords& words) {
  const float sx = 72.0f / float(cp.xres), sy = 72.0f / float(cp.yres);
  const float hpt = float(cp.rows) * sy;
  std::string out = "BT 3 Tr\n";
  char num[160];
  for (const auto& w : words) {
    if (w.text.empty() || w.text.size() > 200 || w.x1 <= w.x0 || w.y1 <= w.y0) continue;
    float ems = 0;
    const std::string str = winansi_string(ctx, font, w.text, ems);
    const float size = float(w.y1 - w.y0) * sy, width = float(w.x1 - w.x0) * sx;
    if (size <= 0 || ems <= 0) continue;
    const float scale = std::clamp(100.0f * width / (ems * size), 10.0f, 1000.0f);
    // The baseline a fifth of the box above its bottom (room for descenders).
    std::snprintf(num, sizeof num, "/F0 %.2f Tf %.2f Tz 1 0 0 1 %.2f %.2f Tm ", size, scale, float(w.x0) * sx,
                  hpt - float(w.y1) * sy + size * 0.2f);
    out += num + str + " Tj\n";
  }
  return out + "ET\n";
}

bool add_page(fz_context* ctx, pdf_document* doc, const CodedPage& cp, const std::string& layer, pdf_obj* font_ref,
              std::string& err) {
  fz_compressed_buffer* cb = nullptr;
  fz_image* img = nullptr;
  pdf_obj* ref = nullptr;
  pdf_obj* res = nullptr;
  pdf_obj* page = nullptr;
  fz_buffer* contents = nullptr;
  bool ok = true;
  fz_var(ok);
  static float invert[2] = {1, 0};
  fz_var(cb);
  fz_var(img);
  fz_var(ref);
  fz_var(res);
  fz_var(page);
  fz_var(contents);
  fz_try(ctx) {
    cb = static_cast<fz_compressed_buffer*>(fz_calloc(ctx, 1, sizeof(fz_compressed_buffer)));
    cb->buffer = fz_new_buffer_from_copied_data(ctx, cp.data.data(), cp.data.size());
    cb->params.type = FZ_IMAGE_FAX;
    cb->params.u.fax.columns = cp.width;
    cb->params.u.fax.rows = cp.rows;
    cb->params.u.fax.k = cp.k;
    cb->params.u.fax.end_of_line = cp.eol;
    cb->params.u.fax.encoded_byte_align = cp.byte_align;
    cb->params.u.fax.end_of_block = 1;
    cb->params.u.fax.black_is_1 = 0;
    fz_compressed_buffer* owned = cb;
    cb = nullptr;  // the image owns it from here
    img = fz_new_image_from_compressed_buffer(ctx, cp.width, cp.rows, 1, fz_device_gray(ctx), cp.xres, cp.yres,
                                              0, 0, cp.black_is_zero ? invert : nullptr, nullptr, owned, nullptr);
    ref = pdf_add_image(ctx, doc, img);
    float wpt = float(cp.width) * 72.0f / float(cp.xres), hpt = float(cp.rows) * 72.0f / float(cp.yres);
    res = pdf_new_dict(ctx, doc, 1);
    pdf_obj* xobj = pdf_dict_put_dict(ctx, res, PDF_NAME(XObject), 1);
    pdf_dict_puts(ctx, xobj, "Im0", ref);
    contents = fz_new_buffer(ctx, 64);
    fz_append_printf(ctx, contents, "q %g 0 0 %g 0 0 cm /Im0 Do Q\n", wpt, hpt);
    if (!layer.empty() && font_ref) {
      pdf_obj* fonts = pdf_dict_put_dict(ctx, res, PDF_NAME(Font), 1);
      pdf_dict_puts(ctx, fonts, "F0", font_ref);
      fz_append_data(ctx, contents, layer.data(), layer.size());
    }
    page = pdf_add_page(ctx, doc, fz_make_rect(0, 0, wpt, hpt), 0, res, contents);
    pdf_insert_page(ctx, doc, -1, page);
  }
  fz_always(ctx) {
    fz_drop_compressed_buffer(ctx, cb);
    fz_drop_image(ctx, img);
    pdf_drop_obj(ctx, ref);
    pdf_drop_obj(ctx, res);
    pdf_drop_obj(ctx, page);
    fz_drop_buffer(ctx, contents);
  }
  fz_catch(ctx) {
    const char* m = fz_caught_message(ctx);
    err = m ? m : "error";
    ok = false;
  }
  return ok;
}

bool save(fz_context* ctx, pdf_document* doc, const std::string& path, std::string& err) {
  bool ok = true;
  fz_var(ok);
  fz_try(ctx) {
    pdf_write_options o = pdf_default_write_options;
    o.do_compress = 1;
    o.do_compress_images = 0;
    pdf_save_document(ctx, doc, path.c_str(), &o);
  }
  fz_catch(ctx) {
    const char* m = fz_caught_message(ctx);
    err = m ? m : "error";
    ok = false;
  }
  return ok;
}

bool sync_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Status write_pdf_from_tiff(const std::string& tiff_path, const std::string& pdf_path,
                           const std::vector<PageWords>& text) {
  namespace fs = std::filesystem;
  bool passthrough = true;
  auto pages = coded_pages(tiff_path, passthrough);
  if (!pages) return pages.error();
  std::string recoded;
  if (!passthrough) {  // re-code as MMR, then pass that through
    auto bitmaps = read_fax_tiff(tiff_path);
    if (!bitmaps) return bitmaps.error();
    recoded = pdf_path + ".mmr-" + std::to_string(::getpid()) + ".tif";
    TiffWriteOptions o;
    o.coding = Coding::mmr;
    if (auto s = write_tiff_f(recoded, *bitmaps, o); !s) return s;
    pages = coded_pages(recoded, passthrough);
    std::error_code ec;
    fs::remove(recoded, ec);
    if (!pages) return pages.error();
  }
  fz_context* ctx = fz_new_context(nullptr, nullptr, FZ_STORE_DEFAULT);
  if (!ctx) return make_error(Errc::limit, "out of memory");
  fz_set_warning_callback(ctx, quiet, nullptr);
  fz_set_error_callback(ctx, quiet, nullptr);
  pdf_document* doc = nullptr;
  std::string err;
  fz_var(doc);
  fz_try(ctx) { doc = pdf_create_document(ctx); }
  fz_catch(ctx) { doc = nullptr; }
  bool ok = doc != nullptr;
  // The text layer's font, once for the document (only when there is text).
  fz_font* font = nullptr;
  pdf_obj* font_ref = nullptr;
  fz_var(font);
  fz_var(font_ref);
  fz_var(ok);
  if (ok && std::any_of(text.begin(), text.end(), [](const PageWords& w) { return !w.empty(); })) {
    fz_try(ctx) {
      font = fz_new_base14_font(ctx, "Helvetica");
      font_ref = pdf_add_simple_font(ctx, doc, font, PDF_SIMPLE_ENCODING_LATIN);
    }
    fz_catch(ctx) {
      const char* m = fz_caught_message(ctx);
      err = std::string("the text layer's font: ") + (m ? m : "error");
      ok = false;
    }
  }
  for (size_t i = 0; i < pages->size(); ++i) {
    if (!ok) break;
    const std::string layer =
        font_ref && i < text.size() && !text[i].empty() ? text_layer(ctx, font, (*pages)[i], text[i]) : std::string();
    ok = add_page(ctx, doc, (*pages)[i], layer, font_ref, err);
  }
  pdf_drop_obj(ctx, font_ref);
  fz_drop_font(ctx, font);
  std::string tmp = pdf_path + ".tmp-" + std::to_string(::getpid());
  if (ok) ok = save(ctx, doc, tmp, err);
  pdf_drop_document(ctx, doc);
  fz_drop_context(ctx);
  std::error_code ec;
  if (!ok || !sync_file(tmp)) {
    fs::remove(tmp, ec);
    return make_error(Errc::usage, "cannot write " + pdf_path + ": " + err);
  }
  fs::rename(tmp, pdf_path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return make_error(Errc::usage, "cannot write " + pdf_path + ": " + ec.message());
  }
  return fb::Unit{};
}

}  // namespace imaging
