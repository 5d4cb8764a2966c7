// tiff_f_test.cpp — TIFF-F writing: the ITU charts round-trip bit-exact through MH, MR and MMR
// (decoded by libtiff), Profile S/F tags, inspect's figures, and page quality fields.
#include "imaging/tiff_f.hpp"

#include <filesystem>

#include <gtest/gtest.h>
#include <tiffio.h>

#include "common/test_data.hpp"
#include "imaging/tiff_read.hpp"

using namespace imaging;
namespace fs = std::filesystem;

namespace {

std::string tmp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("fb-tiff-" + std::to_string(::getpid()) + "-" + name)).string();
}

class ItuRoundTrip : public ::testing::TestWithParam<std::tuple<int, Coding>> {};

TEST_P(ItuRoundTrip, DecodesToTheSameBitmap) {
  REQUIRE_ITU_CORPUS();
  auto [chart, coding] = GetParam();
  Bitmap ref;
  ASSERT_TRUE(testdata::read_pbm(testdata::itu_chart(chart), ref));
  ASSERT_EQ(ref.width, 1728);
  Pages pages{Page{ref, 204, 196}};
  std::string path = tmp_path("itu" + std::to_string(chart) + ".tif");
  TiffWriteOptions o;
  o.coding = coding;
  ASSERT_TRUE(write_tiff_f(path, pages, o).ok());
  auto back = read_fax_tiff(path);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].bitmap.rows, ref.rows);
  EXPECT_TRUE((*back)[0].bitmap == ref) << "chart " << chart << " differs after coding";
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(AllCharts, ItuRoundTrip,
                         ::testing::Combine(::testing::Range(1, 9),
                                            ::testing::Values(Coding::mh, Coding::mr, Coding::mmr)));

Pages two_pages(int yres) {
  Page a{Bitmap(1728, 100), 204, yres}, b{Bitmap(1728, 50), 204, yres};
  for (int x = 0; x < 1728; x += 3) a.bitmap.set(x, 10);
  b.bitmap.set(5, 5);
  return {a, b};
}

TEST(TiffF, ProfileSFieldsForMh) {
  std::string path = tmp_path("s.tif");
  ASSERT_TRUE(write_tiff_f(path, two_pages(98)).ok());
  TIFF* t = TIFFOpen(path.c_str(), "r");
  ASSERT_NE(t, nullptr);
  for (int i = 0; i < 2; ++i) {
    uint32_t w = 0, rps = 0, sub = 0, g3 = 99;
    uint16_t comp = 0, photo = 9, unit = 0, pn = 9, pt = 9, bps = 0, spp = 0;
    float xr = 0, yr = 0;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_COMPRESSION, &comp);
    TIFFGetField(t, TIFFTAG_GROUP3OPTIONS, &g3);
    TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
    TIFFGetField(t, TIFFTAG_RESOLUTIONUNIT, &unit);
    TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr);
    TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr);
    TIFFGetField(t, TIFFTAG_ROWSPERSTRIP, &rps);
    TIFFGetField(t, TIFFTAG_SUBFILETYPE, &sub);
    TIFFGetField(t, TIFFTAG_PAGENUMBER, &pn, &pt);
    TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetField(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    EXPECT_EQ(w, 1728u);
    EXPECT_EQ(comp, COMPRESSION_CCITTFAX3);
    EXPECT_EQ(g3 & GROUP3OPT_2DENCODING, 0u);
    EXPECT_EQ(photo, PHOTOMETRIC_MINISWHITE);
    EXPECT_EQ(unit, RESUNIT_INCH);
    EXPECT_EQ(xr, 204.f);
    EXPECT_EQ(yr, 98.f);
    EXPECT_EQ(TIFFNumberOfStrips(t), 1u);
    EXPECT_EQ(sub, uint32_t(FILETYPE_PAGE));
    EXPECT_EQ(pn, i);
    EXPECT_EQ(pt, 2);
    EXPECT_EQ(bps, 1);
    EXPECT_EQ(spp, 1);
    TIFFReadDirectory(t);
  }
  TIFFClose(t);
  auto info = inspect_tiff(path);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->profile, "S");
  EXPECT_EQ(to_json(*info),
            R"({"page":[{"compression":"mh","rows":100,"width":1728,"xres":204,"yres":98},)"
            R"({"compression":"mh","rows":50,"width":1728,"xres":204,"yres":98}],"pages":2,"profile":"S"})");
  fs::remove(path);
}

TEST(TiffF, MrMmrAndSuperfineAreProfileF) {
  for (auto [coding, yres, name] : {std::tuple{Coding::mr, 196, "mr"}, std::tuple{Coding::mmr, 196, "mmr"},
                                    std::tuple{Coding::mh, 391, "mh"}}) {
    std::string path = tmp_path(std::string("f-") + name + ".tif");
    TiffWriteOptions o;
    o.coding = coding;
    ASSERT_TRUE(write_tiff_f(path, two_pages(yres), o).ok());
    auto info = inspect_tiff(path);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->profile, "F") << name << " at " << yres;
    EXPECT_EQ(info->pages[0].compression, name);
    EXPECT_EQ(info->pages[0].yres, yres);
    fs::remove(path);
  }
}

TEST(TiffF, QualityFieldsRecordBadRows) {
  std::string path = tmp_path("q.tif");
  TiffWriteOptions o;
  o.quality = {PageQuality{0, 0, false}, PageQuality{17, 5, false}};
  ASSERT_TRUE(write_tiff_f(path, two_pages(196), o).ok());
  TIFF* t = TIFFOpen(path.c_str(), "r");
  ASSERT_NE(t, nullptr);
  uint32_t bad = 99;
  uint16_t clean = 99;
  ASSERT_EQ(TIFFGetField(t, TIFFTAG_BADFAXLINES, &bad), 1);
  ASSERT_EQ(TIFFGetField(t, TIFFTAG_CLEANFAXDATA, &clean), 1);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(clean, CLEANFAXDATA_CLEAN);
  ASSERT_EQ(TIFFReadDirectory(t), 1);
  uint32_t consec = 0;
  TIFFGetField(t, TIFFTAG_BADFAXLINES, &bad);
  TIFFGetField(t, TIFFTAG_CLEANFAXDATA, &clean);
  TIFFGetField(t, TIFFTAG_CONSECUTIVEBADFAXLINES, &consec);
  EXPECT_EQ(bad, 17u);
  EXPECT_EQ(clean, CLEANFAXDATA_UNCLEAN);
  EXPECT_EQ(consec, 5u);
  TIFFClose(t);
  auto info = inspect_tiff(path);
  EXPECT_EQ(info->pages[1].bad_rows, 17);
  fs::remove(path);
}

// A page's note goes into its ImageDescription and comes back through inspect_tiff, printable
// and bounded (the converter that writes it is not trusted); other descriptions are not notes.
TEST(TiffF, PageNotesTravelInTheImageDescription) {
  std::string path = tmp_path("n.tif");
  Pages pages = two_pages(196);
  pages[0].note = "a.pdf: repaired\n\x01 r\xc3\xa9sum\xc3\xa9 " + std::string(1000, 'x');
  TiffWriteOptions o;
  o.description = "CSID +15550100";
  ASSERT_TRUE(write_tiff_f(path, pages, o).ok());
  auto info = inspect_tiff(path);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->pages[0].note, "a.pdf: repaired   r\xc3\xa9sum\xc3\xa9 " + std::string(kMaxNoteBytes - 27, 'x'));
  EXPECT_EQ(info->pages[1].note, "");  // "CSID +15550100": a description, not a note
  EXPECT_NE(to_json(*info).find("\"note\":\"a.pdf: repaired"), std::string::npos);
  fs::remove(path);
}

TEST(TiffF, UnwritableTargetIsAnErrorAndLeavesNothing) {
  auto s = write_tiff_f("/nonexistent-dir/x.tif", two_pages(196));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::usage);
  EXPECT_NE(s.error().message.find("/nonexistent-dir/x.tif"), std::string::npos);
}

TEST(TiffF, TooManyPagesIsALimit) {
  Pages many(size_t(kMaxPages) + 1, Page{Bitmap(1728, 1), 204, 98});
  auto s = write_tiff_f(tmp_path("many.tif"), many);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::limit);
}

TEST(TiffF, InspectRefusesNonTiff) {
  std::string path = tmp_path("garbage.tif");
  { std::ofstream(path) << "this is not a tiff"; }
  auto info = inspect_tiff(path);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, Errc::corrupt);
  fs::remove(path);
}

TEST(TiffF, InspectConvertsCentimetreResolution) {
  std::string path = tmp_path("cm.tif");
  TIFF* t = TIFFOpen(path.c_str(), "w");
  ASSERT_NE(t, nullptr);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 1728);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, 2);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
  TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX3);
  TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
  TIFFSetField(t, TIFFTAG_XRESOLUTION, 80.3f);  // 204 dpi
  TIFFSetField(t, TIFFTAG_YRESOLUTION, 77.0f);  // 196 dpi (195.58)
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 2);
  std::vector<uint8_t> rows(216 * 2, 0);
  TIFFWriteEncodedStrip(t, 0, rows.data(), tmsize_t(rows.size()));
  TIFFClose(t);
  auto info = inspect_tiff(path);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->pages[0].xres, 204);
  EXPECT_EQ(info->pages[0].yres, 196);
  EXPECT_EQ(info->profile, "S");
  fs::remove(path);
}

TEST(CheckFaxPages, OnlyFaxGeometryPasses) {
  imaging::TiffInfo info;
  EXPECT_EQ(imaging::check_fax_pages(info, 10), "it has no page");
  imaging::TiffPageInfo ok;
  ok.width = 1728;
  ok.rows = 2200;
  ok.xres = 204;
  ok.yres = 196;
  ok.compression = "mh";
  info.pages = {ok, ok};
  EXPECT_FALSE(imaging::check_fax_pages(info, 10));
  EXPECT_EQ(imaging::check_fax_pages(info, 1), "it has 2 pages, more than 1");
  auto with = [&](auto change) {
    imaging::TiffInfo i = info;
    change(i.pages[1]);
    return imaging::check_fax_pages(i, 10).value_or("");
  };
  EXPECT_EQ(with([](auto& p) { p.width = 1700; }), "page 2 is 1700 dots wide, not a fax width");
  EXPECT_EQ(with([](auto& p) { p.compression = "other"; }), "page 2 is not MH, MR or MMR coded");
  EXPECT_EQ(with([](auto& p) { p.bits_per_sample = 8; }), "page 2 is not black and white");
  EXPECT_EQ(with([](auto& p) { p.yres = 72; }), "page 2 has a resolution of 204x72, not a fax one");
  EXPECT_EQ(with([](auto& p) { p.rows = 0; }), "page 2 has 0 rows");
  EXPECT_EQ(with([](auto& p) { p.rows = imaging::kMaxFaxRows + 1; }), "page 2 has 65537 rows");
  EXPECT_EQ(with([](auto& p) { p.width = 2432; p.xres = 408; p.yres = 391; p.compression = "mmr"; }), "");
}

}  // namespace
