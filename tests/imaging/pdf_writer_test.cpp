// pdf_writer_test.cpp — TIFF-F to PDF: the coded data is passed through byte for byte and the
// PDF decodes back to the same bitmap.
#include "imaging/pdf_writer.hpp"

#include <filesystem>

#include <gtest/gtest.h>
#include <tiffio.h>

extern "C" {
#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
}

#include "common/test_data.hpp"
#include "imaging/mupdf_render.hpp"
#include "imaging/tiff_f.hpp"

using namespace imaging;
namespace fs = std::filesystem;

namespace {

std::string tmp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("fb-pdfw-" + std::to_string(::getpid()) + "-" + name)).string();
}

std::string raw_strip(const std::string& tiff, int page) {
  TIFF* t = TIFFOpen(tiff.c_str(), "r");
  TIFFSetDirectory(t, tdir_t(page));
  tmsize_t n = TIFFRawStripSize(t, 0);
  std::string s(size_t(n), '\0');
  TIFFReadRawStrip(t, 0, s.data(), n);
  TIFFClose(t);
  return s;
}

// The raw (undecoded) stream of the first image XObject on page `page`.
std::string pdf_image_stream(const std::string& pdf, int page) {
  fz_context* ctx = fz_new_context(nullptr, nullptr, FZ_STORE_DEFAULT);
  std::string out;
  fz_try(ctx) {
    pdf_document* doc = pdf_open_document(ctx, pdf.c_str());
    pdf_obj* pg = pdf_lookup_page_obj(ctx, doc, page);
    pdf_obj* xo = pdf_dict_getp(ctx, pg, "Resources/XObject/Im0");
    fz_buffer* buf = pdf_load_raw_stream(ctx, xo);
    unsigned char* data = nullptr;
    size_t n = fz_buffer_storage(ctx, buf, &data);
    out.assign(reinterpret_cast<char*>(data), n);
    fz_drop_buffer(ctx, buf);
    pdf_drop_document(ctx, doc);
  }
  fz_catch(ctx) { out = "error"; }
  fz_drop_context(ctx);
  return out;
}

class PdfPassThrough : public ::testing::TestWithParam<Coding> {};

TEST_P(PdfPassThrough, CodedDataIsCopiedAndDecodesToTheSamePage) {
  REQUIRE_ITU_CORPUS();
  Bitmap a, b;
  ASSERT_TRUE(testdata::read_pbm(testdata::itu_chart(1), a));
  ASSERT_TRUE(testdata::read_pbm(testdata::itu_chart(4), b));
  Pages pages{Page{a, 204, 196}, Page{b, 204, 196}};
  std::string tif = tmp_path("in.tif"), pdf = tmp_path("out.pdf");
  TiffWriteOptions o;
  o.coding = GetParam();
  ASSERT_TRUE(write_tiff_f(tif, pages, o).ok());
  auto s = write_pdf_from_tiff(tif, pdf);
  ASSERT_TRUE(s.ok()) << s.error().message;
  for (int i = 0; i < 2; ++i) EXPECT_EQ(pdf_image_stream(pdf, i), raw_strip(tif, i)) << "page " << i + 1;
  // Decoding the PDF again (MuPDF at the page's own resolution) gives the original pixels.
  RenderOptions ro;
  auto back = render_pdf(testdata::slurp(pdf), ro, "out.pdf");
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), 2u);
  EXPECT_TRUE((*back)[0].bitmap == a);
  EXPECT_TRUE((*back)[1].bitmap == b);
  fs::remove(tif);
  fs::remove(pdf);
}

INSTANTIATE_TEST_SUITE_P(Codings, PdfPassThrough, ::testing::Values(Coding::mh, Coding::mr, Coding::mmr));

// The text of a PDF's page as MuPDF extracts it (a viewer's search, pdftotext alike).
std::string pdf_text(const std::string& pdf, int page) {
  fz_context* ctx = fz_new_context(nullptr, nullptr, FZ_STORE_DEFAULT);
  fz_register_document_handlers(ctx);
  std::string out;
  fz_try(ctx) {
    fz_document* doc = fz_open_document(ctx, pdf.c_str());
    fz_buffer* buf = fz_new_buffer_from_page_number(ctx, doc, page, nullptr);
    unsigned char* data = nullptr;
    size_t n = fz_buffer_storage(ctx, buf, &data);
    out.assign(reinterpret_cast<char*>(data), n);
    fz_drop_buffer(ctx, buf);
    fz_drop_document(ctx, doc);
  }
  fz_catch(ctx) { out = "error"; }
  fz_drop_context(ctx);
  return out;
}

// Searchable faxes (issue 18): the words go over the page as invisible text — extracted where
// they are, in WinAnsi ('?' for what it lacks or for bytes that are not UTF-8) — and the page's
// image is unchanged: the same coded data, the same pixels when rendered.
TEST(PdfWriter, ATextLayerIsInvisibleSearchableAndLeavesTheImageAlone) {
  Bitmap a(1728, 1100);
  for (int y = 100; y < 130; ++y)
    for (int x = 100; x < 700; ++x) a.set(x, y);
  Pages pages{Page{a, 204, 98}, Page{Bitmap(1728, 1100), 204, 98}};
  std::string tif = tmp_path("text.tif"), pdf = tmp_path("text.pdf");
  struct Remove {
    std::string a, b;
    ~Remove() {
      std::error_code ec;
      fs::remove(a, ec);
      fs::remove(b, ec);
    }
  } remove_at_end{tif, pdf};
  ASSERT_TRUE(write_tiff_f(tif, pages, TiffWriteOptions{}).ok());
  std::vector<PageWords> words = {{{"Invoice", 100, 100, 400, 130},
                                   {"(4711)\\", 420, 100, 700, 130},
                                   {"M\xC3\xBCller", 100, 200, 300, 230},
                                   {"\xE6\x97\xA5\xC3" "A", 320, 200, 500, 230}}};
  auto s = write_pdf_from_tiff(tif, pdf, words);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(pdf_image_stream(pdf, 0), raw_strip(tif, 0));
  EXPECT_EQ(pdf_image_stream(pdf, 1), raw_strip(tif, 1));
  const std::string text = pdf_text(pdf, 0);
  EXPECT_NE(text.find("Invoice"), std::string::npos) << text;
  EXPECT_NE(text.find("(4711)\\"), std::string::npos) << text;
  EXPECT_NE(text.find("M\xC3\xBCller"), std::string::npos) << text;
  EXPECT_NE(text.find("??A"), std::string::npos) << text;
  EXPECT_LT(text.find("Invoice"), text.find("M\xC3\xBCller"));  // the first line first
  EXPECT_EQ(pdf_text(pdf, 1).find_first_not_of(" \n"), std::string::npos);  // page 2: no words given
  RenderOptions ro;
  ro.resolution = Resolution::standard;  // the page's own
  auto back = render_pdf(testdata::slurp(pdf), ro, "text.pdf");
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), 2u);
  EXPECT_TRUE((*back)[0].bitmap == a) << "the text must not paint";
}

TEST(PdfWriter, MissingTiffIsAnError) {
  auto s = write_pdf_from_tiff("/nonexistent.tif", tmp_path("x.pdf"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::corrupt);
  EXPECT_FALSE(fs::exists(tmp_path("x.pdf")));
}

TEST(PdfWriter, UncompressedTiffIsRecodedAsMmr) {
  std::string tif = tmp_path("raw.tif"), pdf = tmp_path("raw.pdf");
  TIFF* t = TIFFOpen(tif.c_str(), "w");
  Bitmap bm(1728, 64);
  for (int x = 0; x < 1728; x += 2) bm.set(x, 7);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 1728);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, 64);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
  TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.f);
  TIFFSetField(t, TIFFTAG_YRESOLUTION, 196.f);
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 16);  // four strips: cannot be passed through
  for (int s = 0; s < 4; ++s) TIFFWriteEncodedStrip(t, tstrip_t(s), bm.row(s * 16), 16 * 216);
  TIFFClose(t);
  ASSERT_TRUE(write_pdf_from_tiff(tif, pdf).ok());
  auto back = render_pdf(testdata::slurp(pdf), RenderOptions{}, "raw.pdf");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE((*back)[0].bitmap == bm);
  fs::remove(tif);
  fs::remove(pdf);
}

}  // namespace
