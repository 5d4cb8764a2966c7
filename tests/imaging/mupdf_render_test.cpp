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

TEST(RenderPdf, GarbageIsCorruptAndACutTailIsRepaired) {
  // text.pdf cut at 3,000 bytes, inside its metadata: both pages are there; repaired.
  auto t = render_pdf(testdata::slurp(testdata::data("truncated.pdf")), at(Resolution::fine), "cut.pdf");
  ASSERT_TRUE(t.ok()) << t.error().message;
  auto whole = render_pdf(testdata::slurp(testdata::data("text.pdf")), at(Resolution::fine), "text.pdf");
  ASSERT_TRUE(whole.ok());
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[0].bitmap.bits, (*whole)[0].bitmap.bits);
  EXPECT_NE((*t)[0].note.find("it was repaired"), std::string::npos);
  auto g = render_pdf("this is not a PDF at all, just text with a .pdf name", at(Resolution::fine), "g.pdf");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, Errc::corrupt);
  auto e = render_pdf("", at(Resolution::fine), "empty.pdf");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, Errc::corrupt);
}

// Damaged PDFs as they arrive: three pages, "PAGE 1".."PAGE 3", objects in the order writers that
// put the page tree first use (catalog, pages, font, then each page and its content).
struct ThreePages {
  std::string bytes;
  std::vector<size_t> offsets;  // of objects 1..9
  size_t xref = 0;
};

ThreePages three_pages(int count = 3, bool third_kid = true) {
  ThreePages p;
  p.bytes = "%PDF-1.4\n";
  auto obj = [&](const std::string& s) {
    p.offsets.push_back(p.bytes.size());
    p.bytes += std::to_string(p.offsets.size()) + " 0 obj\n" + s + "\nendobj\n";
  };
  obj("<< /Type /Catalog /Pages 2 0 R >>");
  obj("<< /Type /Pages /Kids [4 0 R 6 0 R" + std::string(third_kid ? " 8 0 R" : "") + "] /Count " +
      std::to_string(count) + " >>");
  obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  for (int i = 1; i <= 3; ++i) {
    const std::string content = "BT /F1 72 Tf 72 600 Td (PAGE " + std::to_string(i) + ") Tj ET";
    obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents " +
        std::to_string(4 + 2 * i - 1) + " 0 R >>");
    obj("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "\nendstream");
  }
  p.xref = p.bytes.size();
  p.bytes += "xref\n0 10\n0000000000 65535 f \n";
  for (size_t o : p.offsets) {
    char line[32];
    snprintf(line, sizeof line, "%010zu 00000 n \n", o);
    p.bytes += line;
  }
  p.bytes += "trailer\n<< /Size 10 /Root 1 0 R >>\nstartxref\n" + std::to_string(p.xref) + "\n%%EOF\n";
  return p;
}

bool same_pixels(const Pages& a, const Pages& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].bitmap.width != b[i].bitmap.width || a[i].bitmap.rows != b[i].bitmap.rows ||
        a[i].bitmap.bits != b[i].bitmap.bits) {
      return false;
    }
  }
  return true;
}

TEST(RepairedPdf, ShiftedOffsetsOrAMissingTableAreRepairedAndFaxedSaidSo) {
  const ThreePages p = three_pages();
  auto good = render_pdf(p.bytes, at(Resolution::fine), "a.pdf");
  ASSERT_TRUE(good.ok()) << good.error().message;
  ASSERT_EQ(good->size(), 3u);
  EXPECT_EQ((*good)[0].note, "");
  // A gateway that added a line after the header: every offset is 24 bytes out.
  std::string shifted = p.bytes;
  shifted.insert(9, "%inserted by a gateway\n");
  // A writer that never finished its table: no xref, no trailer.
  const std::string no_table = p.bytes.substr(0, p.xref) + "%%EOF\n";
  // A table with one wrong entry (the font, object 3, 3 bytes out): repaired when the font is
  // first needed, while page 1 is drawn — the repair's messages are not the page's problems.
  std::string one_off = p.bytes;
  const size_t entry = p.xref + std::string("xref\n0 10\n0000000000 65535 f \n").size() + 2 * 20;
  char line[21];
  snprintf(line, sizeof line, "%010zu 00000 n \n", p.offsets[2] + 3);
  one_off.replace(entry, 20, line);
  for (const auto& [name, bytes] : {std::pair{"shifted.pdf", shifted}, std::pair{"no-table.pdf", no_table},
                                    std::pair{"one-off.pdf", one_off}}) {
    auto r = render_pdf(bytes, at(Resolution::fine), name);
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().message;
    EXPECT_TRUE(same_pixels(*good, *r)) << name;
    EXPECT_EQ((*r)[0].note,
              "the PDF was damaged (its cross-reference table was broken); it was repaired and all 3 page(s) drew "
              "without error");
    EXPECT_EQ((*r)[1].note, "");
  }
}

TEST(RepairedPdf, WhatTheRepairCannotMakeWholeIsRefusedNamingWhy) {
  const ThreePages p = three_pages();
  const std::string prefix = "x.pdf: the PDF is damaged (its cross-reference table is broken) and ";
  auto refused = [&](const std::string& bytes) {
    auto r = render_pdf(bytes, at(Resolution::fine), "x.pdf");
    EXPECT_FALSE(r.ok());
    if (r.ok()) return std::string("(faxed)");
    EXPECT_EQ(r.error().code, Errc::corrupt);
    return r.error().message;
  };
  // Cut off before page 3 (object 8): the tree names a page the file no longer has.
  EXPECT_EQ(refused(p.bytes.substr(0, p.offsets[7])),
            prefix + "its repair is incomplete: its page tree names 1 page(s) that are not in the file");
  // Page 2's content (object 7) lost, the table with it.
  const std::string no_content = p.bytes.substr(0, p.offsets[6]) + p.bytes.substr(p.offsets[7], p.xref - p.offsets[7]);
  EXPECT_EQ(refused(no_content), prefix + "its repair is incomplete: the content of page 2 is not in the file");
  // A tree whose /Count says three pages but that has two.
  const ThreePages two = three_pages(3, false);
  EXPECT_EQ(refused(two.bytes.substr(0, two.xref)),
            prefix + "its repair is incomplete: its page tree says 3 page(s) but 2 were found");
  // A page tree where every node names the next twice, 40 deep, and no table: 2^40 paths, one
  // page. Each node is walked once, and one met twice is malformed (never minutes of CPU).
  std::string dag = "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n";
  for (int i = 2; i < 42; ++i) {
    dag += std::to_string(i) + " 0 obj\n<< /Type /Pages /Kids [" + std::to_string(i + 1) + " 0 R " +
           std::to_string(i + 1) + " 0 R] /Count 1 >>\nendobj\n";
  }
  dag += "42 0 obj\n<< /Type /Page /MediaBox [0 0 612 792] >>\nendobj\n%%EOF\n";
  EXPECT_EQ(refused(dag), prefix + "its repair is incomplete: its page tree loops, is shared or is nested too deep");
  // A content stream damaged in place (text-mode transfer: its length no longer matches).
  std::string mangled = p.bytes.substr(0, p.xref);
  const size_t at3 = mangled.find("(PAGE 3)");
  mangled.replace(at3, 8, "(PAGE 3");
  const std::string why = refused(mangled);
  EXPECT_TRUE(why.starts_with(prefix + "after its repair, its pages do not draw cleanly (")) << why;
}

// Rebuilds three_pages()'s cross-reference table for edited bytes (objects found by "N 0 obj"),
// so that MuPDF reads the file without a repair. `free_obj`: an object the table marks free.
std::string with_table(std::string body, int free_obj = 0) {
  body = body.substr(0, body.find("xref\n0 10"));
  const size_t xref = body.size();
  body += "xref\n0 10\n0000000000 65535 f \n";
  for (int i = 1; i <= 9; ++i) {
    const size_t at = body.find("\n" + std::to_string(i) + " 0 obj") + 1;
    char line[32];
    if (i == free_obj) {
      snprintf(line, sizeof line, "%010d 00001 f \n", 0);
    } else {
      snprintf(line, sizeof line, "%010zu 00000 n \n", at);
    }
    body += line;
  }
  return body + "trailer\n<< /Size 10 /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
}

TEST(RepairedPdf, APageTreeMuPdfFindsNoPageInIsRebuiltFromThePagesItNames) {
  const ThreePages p = three_pages();
  auto good = render_pdf(p.bytes, at(Resolution::fine), "a.pdf");
  ASSERT_TRUE(good.ok()) << good.error().message;
  const std::string said = "the PDF was damaged (MuPDF found no page through its cross-reference table";
  // A table that is whole, but a /Count of 0 over three pages.
  std::string zero = p.bytes;
  zero.replace(zero.find("/Count 3"), 8, "/Count 0");
  auto r = render_pdf(with_table(zero), at(Resolution::fine), "zero.pdf");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(same_pixels(*good, *r));
  EXPECT_EQ((*r)[0].note, said + ", and its page tree said 0 page(s) but held 3); it was repaired and all 3 page(s) "
                                 "drew without error");
  // The catalog marked free in a table that is otherwise right: found by the repair.
  r = render_pdf(with_table(p.bytes, 1), at(Resolution::fine), "catalog.pdf");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(same_pixels(*good, *r));
  EXPECT_EQ((*r)[0].note, said + "); it was repaired and all 3 page(s) drew without error");
  // A catalog whose /Pages is page 2 itself.
  std::string page_root = p.bytes;
  page_root.replace(page_root.find("/Pages 2 0 R"), 12, "/Pages 6 0 R");
  r = render_pdf(with_table(page_root), at(Resolution::fine), "page-root.pdf");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].bitmap.bits, (*good)[1].bitmap.bits);
  EXPECT_EQ((*r)[0].note, said + ", and its page tree was a page); it was repaired and all 1 page(s) drew without error");
  // A document with no page at all stays refused, for the reason MuPDF gave first.
  std::string none = p.bytes;
  const std::string kids = "/Kids [4 0 R 6 0 R 8 0 R] /Count 3";
  none.replace(none.find(kids), kids.size(), "/Kids [] /Count 0");
  auto e = render_pdf(with_table(none), at(Resolution::fine), "none.pdf");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "none.pdf: the document has no pages");
}

TEST(RepairedPdf, AStreamWhoseLengthIsWrongIsReadToItsEndstream) {
  const ThreePages p = three_pages();
  auto good = render_pdf(p.bytes, at(Resolution::fine), "a.pdf");
  ASSERT_TRUE(good.ok()) << good.error().message;
  // Page 2's content (object 7) replaced by an update appended to the file, and the table lost.
  // The repair takes the update's stream but keeps the /Length of the version it replaced (that
  // one's, 35 bytes, from object 10): the stream is read up to its endstream, 37 bytes, whole.
  std::string updated = p.bytes.substr(0, p.offsets[6]);
  const std::string old_content = "BT /F1 72 Tf 72 600 Td (OLD) Tj ET";
  updated += "7 0 obj\n<< /Length 10 0 R >>\nstream\n" + old_content + "\nendstream\nendobj\n";
  updated += p.bytes.substr(p.offsets[7], p.xref - p.offsets[7]);
  updated += "10 0 obj\n" + std::to_string(old_content.size()) + "\nendobj\n";
  updated += p.bytes.substr(p.offsets[6], p.offsets[7] - p.offsets[6]) + "%%EOF\n";
  auto r = render_pdf(updated, at(Resolution::fine), "length.pdf");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(same_pixels(*good, *r));
  // Cut off inside page 3's content (uncompressed: no filter to fail): MuPDF reads it to the end
  // of the file and says the same words, but it is not whole. Refused.
  const size_t inside = p.bytes.find("72 600 Td", p.offsets[8]);
  auto cut = render_pdf(p.bytes.substr(0, inside), at(Resolution::fine), "cut.pdf");
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().message, "cut.pdf: the PDF is damaged (its cross-reference table is broken) and after its "
                                 "repair, its pages do not draw cleanly (PDF stream Length incorrect)");
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
