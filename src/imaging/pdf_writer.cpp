// pdf_writer.cpp — TIFF fax pages to PDF with CCITT data passed through (see the header).
#include "imaging/pdf_writer.hpp"

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

bool add_page(fz_context* ctx, pdf_document* doc, const CodedPage& cp, std::string& err) {
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

Status write_pdf_from_tiff(const std::string& tiff_path, const std::string& pdf_path) {
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
  for (const CodedPage& cp : *pages) {
    if (!ok) break;
    ok = add_page(ctx, doc, cp, err);
  }
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
