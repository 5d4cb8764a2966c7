// ocr_test.cpp — ocr::Reader on fax pages rendered from typed text (issue 18), at fine and
// standard resolution: the words come back with boxes where they are on the page; a deadline
// passed is an error, not an empty page; a missing language is named.
#include "ocr/ocr.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>
#include <string_view>

#include <gtest/gtest.h>

#include "imaging/text_render.hpp"

namespace {

const char* kTyped =
    "INVOICE 2026-4711\n"
    "\n"
    "To: Accounts Payable, Northwind Traders\n"
    "Attn: Maria Anders\n"
    "From: Contoso Supplies, 12 Harbour Road\n"
    "\n"
    "Please find below the amounts due for the deliveries of November.\n"
    "Payment is requested within thirty days of this notice.\n"
    "Questions about this invoice go to billing at extension 2207.\n";

// A word as a search finds it: without the punctuation after it (at standard resolution a
// full stop is a row or two high, and reads as a comma as often as not).
std::string searchable(std::string w) {
  while (!w.empty() && std::string_view(".,;:").find(w.back()) != std::string_view::npos) w.pop_back();
  return w;
}

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(searchable(w));
  return out;
}

imaging::Pages render(imaging::Resolution res) {
  imaging::RenderOptions o;
  o.resolution = res;
  auto pages = imaging::render_text_document(imaging::plain_text_document(kTyped), imaging::TextFace::mono, o, "typed");
  EXPECT_TRUE(pages) << (pages ? "" : pages.error().message);
  return pages ? *pages : imaging::Pages{};
}

class OcrTest : public ::testing::TestWithParam<imaging::Resolution> {};

TEST_P(OcrTest, ATypedPageReadsBackWordForWordWithBoxesOnThePage) {
  auto pages = render(GetParam());
  ASSERT_EQ(pages.size(), 1u);
  auto reader = ocr::Reader::open({"eng"});
  ASSERT_TRUE(reader) << reader.error();
  auto text = (*reader)->read(pages[0], std::chrono::steady_clock::now() + std::chrono::seconds(60));
  ASSERT_TRUE(text) << text.error();
  std::multiset<std::string> got;
  for (const auto& w : text->words) {
    got.insert(searchable(w.text));
    EXPECT_GE(w.x0, 0);
    EXPECT_LT(w.x0, w.x1);
    EXPECT_LE(w.x1, pages[0].bitmap.width);
    EXPECT_GE(w.y0, 0);
    EXPECT_LT(w.y0, w.y1);
    EXPECT_LE(w.y1, pages[0].bitmap.rows);
  }
  const auto typed = words_of(kTyped);
  size_t found = 0;
  for (const auto& w : typed) {
    if (auto it = got.find(w); it != got.end()) {
      ++found;
      got.erase(it);
    }
  }
  std::string lines;
  for (const auto& l : text->lines) lines += l + "\n";
  EXPECT_GE(found * 100, typed.size() * 95) << found << " of " << typed.size() << " words, read:\n" << lines;
  // Reading order, one line of the page per line of text.
  ASSERT_GE(text->lines.size(), 3u);
  EXPECT_EQ(text->lines[0], "INVOICE 2026-4711");
  // The box of "INVOICE" is where the first line is: near the top left, a text line high.
  auto inv = std::find_if(text->words.begin(), text->words.end(), [](const ocr::Word& w) { return w.text == "INVOICE"; });
  ASSERT_NE(inv, text->words.end());
  EXPECT_LT(inv->y0, pages[0].bitmap.rows / 5);
  EXPECT_LT(inv->x0, pages[0].bitmap.width / 4);
  const int line_rows = (inv->y1 - inv->y0) * 72 / pages[0].yres;  // in points
  EXPECT_GE(line_rows, 5);
  EXPECT_LE(line_rows, 20);
}

INSTANTIATE_TEST_SUITE_P(Resolutions, OcrTest,
                         ::testing::Values(imaging::Resolution::standard, imaging::Resolution::fine),
                         [](const auto& info) { return std::string(imaging::name(info.param)); });

TEST(Ocr, APageWithNoTextHasNoWordsAndADeadlinePassedIsAnError) {
  auto reader = ocr::Reader::open({"eng"});
  ASSERT_TRUE(reader) << reader.error();
  imaging::Page blank;
  blank.bitmap = imaging::Bitmap(1728, 2200);
  auto none = (*reader)->read(blank, std::chrono::steady_clock::now() + std::chrono::seconds(60));
  ASSERT_TRUE(none) << none.error();
  EXPECT_TRUE(none->words.empty());
  EXPECT_TRUE(none->lines.empty());
  auto pages = render(imaging::Resolution::fine);
  ASSERT_FALSE(pages.empty());
  auto late = (*reader)->read(pages[0], std::chrono::steady_clock::now() - std::chrono::seconds(1));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), "the page was not read in time");
  // The reader is still good after a cancelled read.
  auto again = (*reader)->read(pages[0], std::chrono::steady_clock::now() + std::chrono::seconds(60));
  ASSERT_TRUE(again) << again.error();
  EXPECT_FALSE(again->words.empty());
}

TEST(Ocr, LanguagesAreCheckedByName) {
  auto missing = ocr::Reader::open({"eng", "xyz"});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("\"xyz\" is not installed"), std::string::npos) << missing.error();
  auto bad = ocr::Reader::open({"../eng"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("not a tesseract language name"), std::string::npos) << bad.error();
  EXPECT_FALSE(ocr::Reader::open({}));
  EXPECT_TRUE(ocr::Reader::open({"eng", "deu", "fra", "spa"}));
}

TEST(Ocr, OversizedPagesAreRefused) {
  auto reader = ocr::Reader::open({"eng"});
  ASSERT_TRUE(reader);
  imaging::Page huge;
  huge.bitmap = imaging::Bitmap(ocr::kMaxWidth + 8, 10);
  auto r = (*reader)->read(huge, std::chrono::steady_clock::now() + std::chrono::seconds(5));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not a fax page"), std::string::npos);
}

TEST(Ocr, FirstLinesSkipNoiseAndCutLongLinesAtAWord) {
  ocr::PageText t;
  t.lines = {"~ . -", "Dear Sir", std::string(30, 'x') + " " + std::string(100, 'y'), "third", "fourth"};
  auto l = ocr::first_lines(t, 3, 60);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0], "Dear Sir");
  EXPECT_EQ(l[1], std::string(30, 'x') + " ...");
  EXPECT_EQ(l[2], "third");
  t.lines = {"\xC3\xA9" + std::string(70, 'a')};  // é then no space: cut at the width, not inside é
  EXPECT_EQ(ocr::first_lines(t, 1, 1)[0], " ...");
}

}  // namespace
