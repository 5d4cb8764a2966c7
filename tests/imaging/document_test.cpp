// document_test.cpp — input type detection and the dispatch's error classes.
#include "imaging/document.hpp"

#include <gtest/gtest.h>

#include "common/test_data.hpp"

using namespace imaging;

namespace {

TEST(DetectType, ByExtensionThenContent) {
  EXPECT_EQ(*detect_type("a.PDF", "", "a"), DocType::pdf);
  EXPECT_EQ(*detect_type("dir.v2/notes.txt", "", "a"), DocType::text);
  EXPECT_EQ(*detect_type("x.tiff", "", "a"), DocType::tiff);
  EXPECT_EQ(*detect_type("x.jpeg", "", "a"), DocType::image);
  EXPECT_EQ(*detect_type("m.eml", "", "a"), DocType::eml);
  EXPECT_EQ(*detect_type("r.docx", "", "a"), DocType::office);
  EXPECT_EQ(*detect_type("noext", "%PDF-1.7\n", "a"), DocType::pdf);
  EXPECT_EQ(*detect_type("noext", std::string("II*\0", 4), "a"), DocType::tiff);
  EXPECT_EQ(*detect_type("noext", "\x89PNG\r\n", "a"), DocType::image);
  EXPECT_EQ(*detect_type("noext", "P4\n1728 1\n", "a"), DocType::image);
  auto unknown = detect_type("archive.zip", "PK\x03\x04", "archive.zip");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::unsupported);
  EXPECT_EQ(unknown.error().message.rfind("archive.zip: ", 0), 0u);
}

TEST(TypeFromMime, KnownAndUnknown) {
  EXPECT_EQ(*type_from_mime("text/enriched; charset=us-ascii", "x"), DocType::enriched);
  EXPECT_EQ(*type_from_mime("Application/PDF", "x"), DocType::pdf);
  EXPECT_EQ(*type_from_mime("application/vnd.oasis.opendocument.text", "x"), DocType::office);
  auto r = type_from_mime("application/x-msdownload", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unsupported);
}

TEST(RenderDocument, GarbageWithAnOfficeNameIsCorruptNotText) {
  auto r = render_document("just some text", DocType::office, RenderOptions{}, "letter.docx", "letter.docx");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

TEST(RenderDocument, InputSizeLimit) {
  RenderOptions o;
  o.limits.max_input_bytes = 10;
  auto r = render_document("0123456789AB", DocType::text, o, "big.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::limit);
}

TEST(RenderDocument, EnrichedTextRenders) {
  auto r = render_document("<bold>Hello</bold>\n\n<center>World</center>", DocType::enriched, RenderOptions{}, "e");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  const Bitmap& bm = (*r)[0].bitmap;
  // "World" is centred: ink around the middle column, none at the far left in its rows.
  int mid = testdata::black_pixels(bm, 700, 0, 1028, 300);
  EXPECT_GT(mid, 50);
}

TEST(RenderDocument, TiffFromMemory) {
  REQUIRE_ITU_CORPUS();
  // A PBM is not a TIFF: the TIFF reader refuses it as corrupt.
  auto r = render_document(testdata::slurp(testdata::itu_chart(2)), DocType::tiff, RenderOptions{}, "x.tif");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

}  // namespace
