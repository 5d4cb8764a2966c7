// cover_test.cpp — the cover page: its fields as a document, one page, and a comment too long for it.
#include <gtest/gtest.h>

#include "imaging/cover.hpp"
#include "imaging/text_render.hpp"

namespace imaging {
namespace {

std::string text_of(const text::Paragraph& p) {
  std::string s;
  for (const auto& sp : p.spans) s += sp.text;
  return s;
}

std::vector<std::string> lines(const text::Document& d) {
  std::vector<std::string> out;
  for (const auto& p : d.paragraphs) out.push_back(text_of(p));
  return out;
}

int64_t black(const Bitmap& b) {
  int64_t n = 0;
  for (int y = 0; y < b.rows; ++y)
    for (int x = 0; x < b.width; ++x) n += b.get(x, y);
  return n;
}

int black_row(const Bitmap& b, int y) {
  int n = 0;
  for (int x = 0; x < b.width; ++x) n += b.get(x, y);
  return n;
}

CoverInfo info() {
  CoverInfo c;
  c.to = "Bob <FAX=+12025550100@fax.test>";
  c.numbers = "+12025550100";
  c.from = "Alice <alice@example.com>";
  c.subject = "Contract\r\nBcc: x";  // a control character never breaks the line
  c.date = "Sun, 22 Nov 2026 20:41:07 +0000";
  c.pages = 3;
  c.comment = plain_text_document("Bob,\n\nplease sign page 2.\n\nAlice\n");
  return c;
}

TEST(Cover, FieldsInOrderThenTheComment) {
  auto d = cover_document(info());
  std::vector<std::string> want = {"FAX", "", "", "To:  Bob <FAX=+12025550100@fax.test>", "Fax:  +12025550100",
                                   "From:  Alice <alice@example.com>", "Subject:  Contract  Bcc: x",
                                   "Date:  Sun, 22 Nov 2026 20:41:07 +0000", "Pages:  3 including this cover",
                                   "", "", "Comment:", "", "Bob,", "", "please sign page 2.", "", "Alice"};
  EXPECT_EQ(lines(d), want);
  EXPECT_TRUE(d.paragraphs[0].spans[0].bold);
  EXPECT_EQ(d.paragraphs[0].align, text::Align::center);
  EXPECT_TRUE(d.paragraphs[3].spans[0].bold);
  EXPECT_FALSE(d.paragraphs[3].spans[1].bold);
}

TEST(Cover, LongFieldsAreCutBetweenCharacters) {
  CoverInfo c = info();
  c.subject = "x";
  for (int i = 0; i < 300; ++i) c.subject += "\xC3\xBC";  // then 600 bytes of u-umlaut
  auto d = cover_document(c);
  const std::string v = d.paragraphs[6].spans[1].text;
  EXPECT_EQ(v.size(), 399u);  // byte 400 would split a character: "x" and 199 whole ones
  EXPECT_EQ(v.substr(397), "\xC3\xBC");
}

TEST(Cover, OnePageWithInk) {
  RenderOptions o;
  auto p = render_cover(info(), o);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_TRUE(*p);
  EXPECT_EQ((*p)->bitmap.width, kFaxWidth);
  EXPECT_GT((*p)->bitmap.rows, 2000);  // A4 at fine
  // Text, not a blank page, and far from a black one.
  const int64_t ink = black((*p)->bitmap);
  EXPECT_GT(ink, 5000);
  EXPECT_LT(ink, int64_t((*p)->bitmap.width) * (*p)->bitmap.rows / 10);
  // The title is the first ink, centred: ink near the middle column, none at the margins there.
  const Bitmap& b = (*p)->bitmap;
  int first = 0;
  while (first < b.rows && black_row(b, first) == 0) ++first;
  int64_t top_mid = 0, top_edge = 0;
  for (int y = first; y < first + 40; ++y) {
    for (int x = 700; x < 1028; ++x) top_mid += (*p)->bitmap.get(x, y);
    for (int x = 0; x < 300; ++x) top_edge += (*p)->bitmap.get(x, y);
  }
  EXPECT_GT(top_mid, 500);
  EXPECT_EQ(top_edge, 0);
}

TEST(Cover, ACommentTooLongDoesNotFitAndTheFollowingNoteDoes) {
  CoverInfo c = info();
  std::string longtext;
  for (int i = 0; i < 120; ++i) longtext += "line " + std::to_string(i) + "\n";
  c.comment = plain_text_document(longtext);
  auto p = render_cover(c, RenderOptions{});
  ASSERT_TRUE(p);
  EXPECT_FALSE(*p);
  c.comment.reset();
  c.comment_follows = true;
  p = render_cover(c, RenderOptions{});
  ASSERT_TRUE(p);
  EXPECT_TRUE(*p);
  EXPECT_EQ(lines(cover_document(c)).back(), "Comment:  the message's text follows on the next pages.");
}

}  // namespace
}  // namespace imaging
