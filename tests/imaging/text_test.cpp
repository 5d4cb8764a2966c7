// text_test.cpp — text/plain to the paragraph model, charsets, and text pages.
#include <gtest/gtest.h>

#include "common/test_data.hpp"
#include "imaging/header_line.hpp"
#include "imaging/text_render.hpp"

using namespace imaging;

namespace {

std::string text_of(const text::Paragraph& p) {
  std::string s;
  for (const auto& sp : p.spans) s += sp.text;
  return s;
}

TEST(PlainText, LinesTabsAndLineEnds) {
  auto d = plain_text_document("a\tb\r\nxy\rlast");
  ASSERT_EQ(d.paragraphs.size(), 3u);
  EXPECT_EQ(text_of(d.paragraphs[0]), "a       b");
  EXPECT_EQ(text_of(d.paragraphs[1]), "xy");
  EXPECT_EQ(text_of(d.paragraphs[2]), "last");
  for (const auto& p : d.paragraphs) {
    EXPECT_TRUE(p.nofill);
    EXPECT_TRUE(p.spans[0].fixed);
  }
}

TEST(PlainText, TabStopsCountCharactersNotBytes) {
  auto d = plain_text_document("\xC3\xA9\tX");  // "é" is one column
  EXPECT_EQ(text_of(d.paragraphs[0]), "\xC3\xA9       X");
}

TEST(PlainText, FormFeedStartsANewPage) {
  auto d = plain_text_document("one\ftwo\n\f\fthree");
  ASSERT_EQ(d.paragraphs.size(), 4u);
  EXPECT_FALSE(d.paragraphs[0].page_break_before);
  EXPECT_TRUE(d.paragraphs[1].page_break_before);
  EXPECT_EQ(text_of(d.paragraphs[1]), "two");
  EXPECT_TRUE(d.paragraphs[2].page_break_before);  // an empty page between the two form feeds
  EXPECT_TRUE(d.paragraphs[3].page_break_before);
  EXPECT_EQ(text_of(d.paragraphs[3]), "three");
}

TEST(PlainText, ControlCharactersAreDroppedAndTrailingBlankLinesToo) {
  auto d = plain_text_document("a\x01\x7f" "b\n\n\n\n");
  ASSERT_EQ(d.paragraphs.size(), 1u);
  EXPECT_EQ(text_of(d.paragraphs[0]), "ab");
}

TEST(Charset, ConvertsLatin1AndKoi8r) {
  auto l1 = to_utf8("caf\xE9", "ISO-8859-1", "t");
  ASSERT_TRUE(l1.ok());
  EXPECT_EQ(*l1, "caf\xC3\xA9");
  auto ru = to_utf8("\xF0\xD2\xC9\xD7\xC5\xD4", "koi8-r", "t");  // "Привет"
  ASSERT_TRUE(ru.ok());
  EXPECT_EQ(*ru, "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");
}

TEST(Charset, InvalidUtf8BecomesReplacementCharacters) {
  auto r = to_utf8("ok\xFF\xFEok", "", "t");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "ok\xEF\xBF\xBD\xEF\xBF\xBDok");
}

TEST(Charset, UnknownCharsetIsUnsupported) {
  auto r = to_utf8("x", "x-no-such-charset", "body");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unsupported);
  EXPECT_NE(r.error().message.find("x-no-such-charset"), std::string::npos);
}

RenderOptions fine_a4() {
  RenderOptions o;
  o.resolution = Resolution::fine;
  return o;
}

TEST(TextRender, PagesAreFaxWideAndA4Long) {
  auto pages = render_text_document(plain_text_document("Hello"), TextFace::mono, fine_a4(), "t");
  ASSERT_TRUE(pages.ok());
  ASSERT_EQ(pages->size(), 1u);
  const Page& p = (*pages)[0];
  EXPECT_EQ(p.bitmap.width, 1728);
  EXPECT_EQ(p.yres, 196);
  EXPECT_EQ(p.bitmap.rows, 2292);  // 297 mm at 196 dpi
  EXPECT_GT(testdata::black_pixels(p.bitmap, 0, 0, 1728, 200), 100);  // "Hello" near the top
  EXPECT_EQ(testdata::black_pixels(p.bitmap, 0, 400, 1728, p.bitmap.rows), 0);
}

TEST(TextRender, EightyColumnsFitOnOneLineAndTheEightyFirstWraps) {
  std::string eighty(80, 'W');
  auto one = render_text_document(plain_text_document(eighty), TextFace::mono, fine_a4(), "t");
  auto two = render_text_document(plain_text_document(eighty + "W"), TextFace::mono, fine_a4(), "t");
  ASSERT_TRUE(one.ok() && two.ok());
  auto last_ink_row = [](const Bitmap& bm) {
    int last = -1;
    for (int y = 0; y < bm.rows; ++y)
      if (testdata::black_pixels(bm, 0, y, bm.width, y + 1)) last = y;
    return last;
  };
  int r1 = last_ink_row((*one)[0].bitmap), r2 = last_ink_row((*two)[0].bitmap);
  EXPECT_GT(r2, r1 + 20) << "the 81st column must wrap to a second line";
  // The 80 columns stay inside the page with a margin on both sides.
  EXPECT_EQ(testdata::black_pixels((*one)[0].bitmap, 0, 0, 100, 400), 0);
  EXPECT_EQ(testdata::black_pixels((*one)[0].bitmap, 1628, 0, 1728, 400), 0);
}

TEST(TextRender, LongTextPaginatesAndFormFeedsBreak) {
  std::string lines;
  for (int i = 0; i < 150; ++i) lines += "line " + std::to_string(i) + "\n";
  auto pages = render_text_document(plain_text_document(lines), TextFace::mono, fine_a4(), "t");
  ASSERT_TRUE(pages.ok());
  EXPECT_EQ(pages->size(), 3u);  // ~66 lines of 10 pt on an A4 page
  auto ff = render_text_document(plain_text_document("a\fb\fc"), TextFace::mono, fine_a4(), "t");
  ASSERT_TRUE(ff.ok());
  EXPECT_EQ(ff->size(), 3u);
}

TEST(TextRender, StandardResolutionHalvesTheRows) {
  RenderOptions o = fine_a4();
  o.resolution = Resolution::standard;
  auto pages = render_text_document(plain_text_document("Hello"), TextFace::mono, o, "t");
  ASSERT_TRUE(pages.ok());
  EXPECT_EQ((*pages)[0].bitmap.rows, 1146);
  EXPECT_EQ((*pages)[0].yres, 98);
}

TEST(TextRender, RightToLeftParagraphsAreAlignedRight) {
  auto pages = render_text_document(plain_text_document("\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D"),  // "שלום"
                                    TextFace::mono, fine_a4(), "t");
  ASSERT_TRUE(pages.ok());
  const Bitmap& bm = (*pages)[0].bitmap;
  EXPECT_EQ(testdata::black_pixels(bm, 0, 0, 864, 300), 0);
  EXPECT_GT(testdata::black_pixels(bm, 864, 0, 1728, 300), 50);
}

TEST(TextRender, PageLimitIsEnforced) {
  RenderOptions o = fine_a4();
  o.limits.max_pages = 2;
  auto r = render_text_document(plain_text_document("a\fb\fc"), TextFace::mono, o, "t");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::limit);
}

TEST(HeaderLine, AddsRowsAboveWithoutTouchingThePage) {
  Page p{Bitmap(1728, 300), 204, 196};
  p.bitmap.set(100, 0);
  p.bitmap.set(1727, 299);
  Pages pages{p, p};
  add_header_lines(pages, "ACME Corp +15550100", 0);
  int band = header_band_rows(196);
  EXPECT_EQ(band, 31);
  for (const auto& q : pages) {
    ASSERT_EQ(q.bitmap.rows, 300 + band);
    EXPECT_TRUE(q.bitmap.get(100, band));
    EXPECT_TRUE(q.bitmap.get(1727, band + 299));
    EXPECT_EQ(testdata::black_pixels(q.bitmap, 0, band, 1728, band + 300), 2);
    EXPECT_GT(testdata::black_pixels(q.bitmap, 0, 0, 864, band), 50);     // the text
    EXPECT_GT(testdata::black_pixels(q.bitmap, 1400, 0, 1728, band), 20);  // "Page n/N"
  }
}

}  // namespace
