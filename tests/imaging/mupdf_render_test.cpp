// mupdf_render_test.cpp — PDF pages, raster images and HTML through MuPDF onto fax pages.
#include "imaging/mupdf_render.hpp"

#include <gtest/gtest.h>

#include "common/test_data.hpp"

using namespace imaging;

namespace {

RenderOptions at(Resolution r, Paper paper = Paper::automatic) {
  RenderOptions o;
  o.resolution = r;
  o.paper = paper;
  return o;
}

TEST(RenderPdf, EveryPageAtFaxWidthAndItsOwnLength) {
  auto pages = render_pdf(testdata::slurp(testdata::data("text.pdf")), at(Resolution::fine), "text.pdf");
  ASSERT_TRUE(pages.ok()) << pages.error().message;
  ASSERT_EQ(pages->size(), 2u);
  for (const auto& p : *pages) {
    EXPECT_EQ(p.bitmap.width, 1728);
    EXPECT_EQ(p.yres, 196);
    EXPECT_EQ(p.bitmap.rows, 2292);  // 842 pt at 196 dpi, A4 fits the fax width unscaled
  }
  auto std_pages = render_pdf(testdata::slurp(testdata::data("text.pdf")), at(Resolution::standard), "t");
  ASSERT_TRUE(std_pages.ok());
  EXPECT_EQ((*std_pages)[0].bitmap.rows, 1146);
}

// Page coordinates of text.pdf (points, origin bottom left) to fax pixels at fine.
int px(double x_pt) { return int((x_pt + (1728 / 204.0 * 72 - 595) / 2) * 204 / 72); }
int py(double y_pt) { return int((842 - y_pt) * 196 / 72); }

TEST(RenderPdf, GreyFillIsHalftonedAndTextIsSolid) {
  auto pages = render_pdf(testdata::slurp(testdata::data("text.pdf")), at(Resolution::fine), "t");
  ASSERT_TRUE(pages.ok());
  const Bitmap& bm = (*pages)[0].bitmap;
  // The 50% grey box (72..292 x 420..580 pt), well inside its edges.
  int x0 = px(90), x1 = px(270), y0 = py(560), y1 = py(440);
  double share = double(testdata::black_pixels(bm, x0, y0, x1, y1)) / ((x1 - x0) * (y1 - y0));
  EXPECT_GT(share, 0.35);
  EXPECT_LT(share, 0.65);
  // The gradient (320..540 pt) goes from dark to light: its ink falls from left to right.
  int left = testdata::black_pixels(bm, px(325), y0, px(345), y1);
  int right = testdata::black_pixels(bm, px(515), y0, px(535), y1);
  EXPECT_GT(left, 3 * right);
  // The title is solid black strokes: some rows have long black runs (no dither holes).
  int longest = 0;
  for (int y = py(760); y < py(735); ++y) {
    int run = 0;
    for (int x = px(72); x < px(400); ++x) {
      run = bm.get(x, y) ? run + 1 : 0;
      longest = std::max(longest, run);
    }
  }
  EXPECT_GE(longest, 8);
  // The 0.5 pt hairline survives thresholding.
  EXPECT_GT(testdata::black_pixels(bm, px(100), py(382), px(500), py(378)), 300);
}

TEST(RenderPdf, LandscapePagesAreTurnedToPortrait) {
  auto pages = render_pdf(testdata::slurp(testdata::data("landscape.pdf")), at(Resolution::fine), "l");
  ASSERT_TRUE(pages.ok()) << pages.error().message;
  ASSERT_EQ(pages->size(), 1u);
  const Bitmap& bm = (*pages)[0].bitmap;
  EXPECT_EQ(bm.rows, 2292);  // 842 pt long once turned
  // The text line, now vertical, sits in the left part of the page.
  EXPECT_GT(testdata::black_pixels(bm, 0, 0, 700, bm.rows), 1000);
  EXPECT_EQ(testdata::black_pixels(bm, 1000, 0, 1728, bm.rows), 0);
}

TEST(RenderPdf, FixedPaperFitsAndCentres) {
  auto pages = render_pdf(testdata::slurp(testdata::data("text.pdf")), at(Resolution::fine, Paper::letter), "t");
  ASSERT_TRUE(pages.ok());
  EXPECT_EQ((*pages)[0].bitmap.rows, 2156);  // 11 in at 196 dpi
}

TEST(RenderPdf, PasswordProtectedIsCorrupt) {
  auto r = render_pdf(testdata::slurp(testdata::data("encrypted.pdf")), at(Resolution::fine), "enc.pdf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::corrupt);
  EXPECT_NE(r.error().message.find("password"), std::string::npos);
  EXPECT_EQ(r.error().message.rfind("enc.pdf", 0), 0u);
}

TEST(RenderPdf, OwnerPasswordOnlyOpens) {
  auto r = render_pdf(testdata::slurp(testdata::data("owner-only.pdf")), at(Resolution::fine), "o");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->size(), 2u);
}

TEST(RenderPdf, TruncatedAndGarbageAreCorrupt) {
  auto t = render_pdf(testdata::slurp(testdata::data("truncated.pdf")), at(Resolution::fine), "cut.pdf");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, Errc::corrupt);
  auto g = render_pdf("this is not a PDF at all, just text with a .pdf name", at(Resolution::fine), "g.pdf");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, Errc::corrupt);
  auto e = render_pdf("", at(Resolution::fine), "empty.pdf");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, Errc::corrupt);
}

// A syntactically valid PDF whose page tree claims 100,000 pages.
std::string huge_claim_pdf() {
  std::string body = "%PDF-1.4\n";
  std::vector<size_t> off;
  auto obj = [&](const std::string& s) {
    off.push_back(body.size());
    body += std::to_string(off.size()) + " 0 obj\n" + s + "\nendobj\n";
  };
  obj("<< /Type /Catalog /Pages 2 0 R >>");
  obj("<< /Type /Pages /Kids [3 0 R] /Count 100000 >>");
  obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>");
  size_t xref = body.size();
  body += "xref\n0 4\n0000000000 65535 f \n";
  for (size_t o : off) {
    char line[32];
    snprintf(line, sizeof line, "%010zu 00000 n \n", o);
    body += line;
  }
  body += "trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return body;
}

TEST(RenderPdf, HundredThousandPageClaimIsOverTheLimit) {
  auto r = render_pdf(huge_claim_pdf(), at(Resolution::fine), "huge.pdf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::limit);
  EXPECT_NE(r.error().message.find("100000 pages"), std::string::npos);
}

TEST(RenderImage, BilevelFaxWidthPbmKeepsEveryPixel) {
  REQUIRE_ITU_CORPUS();
  Bitmap ref;
  ASSERT_TRUE(testdata::read_pbm(testdata::itu_chart(1), ref));
  auto pages = render_image(testdata::slurp(testdata::itu_chart(1)), at(Resolution::fine), "itu1.pbm");
  ASSERT_TRUE(pages.ok()) << pages.error().message;
  EXPECT_TRUE((*pages)[0].bitmap == ref);
  EXPECT_EQ((*pages)[0].yres, 196);
  // At standard resolution the same rows are taken as standard rows: still every pixel.
  auto std_pages = render_image(testdata::slurp(testdata::itu_chart(1)), at(Resolution::standard), "itu1.pbm");
  ASSERT_TRUE(std_pages.ok());
  EXPECT_TRUE((*std_pages)[0].bitmap == ref);
  EXPECT_EQ((*std_pages)[0].yres, 98);
}

TEST(RenderImage, SmallImagesAreScaledToTheFaxWidth) {
  // A 100x50 P5 (grey) image, black left half: scaled to 1728 wide, aspect kept.
  std::string pgm = "P5\n100 50\n255\n";
  for (int y = 0; y < 50; ++y)
    for (int x = 0; x < 100; ++x) pgm += char(x < 50 ? 0 : 255);
  auto pages = render_image(pgm, at(Resolution::fine), "small.pgm");
  ASSERT_TRUE(pages.ok()) << pages.error().message;
  const Bitmap& bm = (*pages)[0].bitmap;
  EXPECT_EQ(bm.width, 1728);
  EXPECT_NEAR(bm.rows, 1728 / 2 * 196 / 204, 3);  // 2:1 aspect at 204x196 dpi
  EXPECT_EQ(testdata::black_pixels(bm, 0, 0, 850, bm.rows), 850 * bm.rows);
  EXPECT_EQ(testdata::black_pixels(bm, 880, 0, 1728, bm.rows), 0);
}

TEST(RenderImage, HugeDeclaredSizeIsOverTheLimit) {
  RenderOptions o = at(Resolution::fine);
  o.limits.max_image_pixels = 1000;
  std::string pgm = "P5\n100 50\n255\n" + std::string(5000, '\x80');
  auto r = render_image(pgm, o, "big.pgm");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::limit);
}

TEST(RenderImage, GarbageIsCorrupt) {
  auto r = render_image("\x89PNG\r\n\x1a\n garbage follows", at(Resolution::fine), "x.png");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

TEST(ResampleRows, UpRepeatsDownOrs) {
  Bitmap b(16, 4);
  b.set(3, 1);
  Bitmap up = resample_rows(b, 98, 196);
  ASSERT_EQ(up.rows, 8);
  EXPECT_TRUE(up.get(3, 2) && up.get(3, 3));
  EXPECT_EQ(testdata::black_pixels(up, 0, 0, 16, 8), 2);
  Bitmap down = resample_rows(up, 196, 98);
  EXPECT_TRUE(down == b);
  Bitmap thin(16, 4);
  thin.set(0, 3);  // a one-row line on an odd row survives halving
  EXPECT_TRUE(resample_rows(thin, 196, 98).get(0, 1));
}

TEST(Html, ReferencesAreNeutralisedButDataUrisKept) {
  std::string out = neutralize_html_resources(
      "<p>src=x in text</p><img src=\"/etc/secret.png\"><img SRC = 'data:image/png;base64,AA'>"
      "<link href=\"http://evil/x.css\"><div style=\"background: url(file:///x)\">"
      "<style>@import 'http://x';</style>");
  EXPECT_NE(out.find("<p>src=x in text</p>"), std::string::npos);
  EXPECT_NE(out.find("x-blocked-src=\"/etc/secret.png\""), std::string::npos);
  EXPECT_NE(out.find("SRC = 'data:image/png"), std::string::npos);
  EXPECT_EQ(out.find("x-blocked-SRC"), std::string::npos);
  EXPECT_NE(out.find("x-blocked-href"), std::string::npos);
  EXPECT_NE(out.find("blocked-url(file"), std::string::npos);
  EXPECT_NE(out.find("@blocked-import"), std::string::npos);
}

TEST(Html, AGreaterThanInsideAQuotedValueDoesNotEndTheTag) {
  std::string out = neutralize_html_resources("<img alt=\">\" src=\"file:///etc/x.png\">");
  EXPECT_NE(out.find("x-blocked-src="), std::string::npos) << out;
}

TEST(Html, RendersTextOnTextPaper) {
  auto pages = render_html("<html><body><h1>Invoice 42</h1><p>Hello</p></body></html>", at(Resolution::fine),
                           "m.html");
  ASSERT_TRUE(pages.ok()) << pages.error().message;
  ASSERT_EQ(pages->size(), 1u);
  EXPECT_EQ((*pages)[0].bitmap.rows, int(297.0 / 25.4 * 196 + 0.5));
  EXPECT_GT(testdata::black_pixels((*pages)[0].bitmap, 0, 0, 1728, 500), 500);
}

}  // namespace
