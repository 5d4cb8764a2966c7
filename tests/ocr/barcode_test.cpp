// barcode_test.cpp — ocr::read_barcodes on fax pages made from codes that zint (Debian's zint)
// draws: QR and Code 128 read back at standard and fine resolution; a page of text has none.
#include "ocr/barcode.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "imaging/document.hpp"
#include "imaging/text_render.hpp"

namespace {

// The code as a fax page: zint's PNG rendered the way a mailed image becomes a fax page.
imaging::Pages code_page(const std::string& symbology, const std::string& data, imaging::Resolution res) {
  const auto png = std::filesystem::temp_directory_path() /
                   ("fb-barcode-" + std::to_string(::getpid()) + "-" + symbology + ".png");
  const std::string cmd = "zint -b " + symbology + " --scale=4 --filetype=PNG -o '" + png.string() + "' -d '" + data + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(png, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::filesystem::remove(png);
  imaging::RenderOptions o;
  o.resolution = res;
  auto type = imaging::detect_type(png.string(), bytes.str(), "code");
  EXPECT_TRUE(type);
  if (!type) return {};
  auto pages = imaging::render_document(bytes.str(), *type, o, "code");
  EXPECT_TRUE(pages) << (pages ? "" : pages.error().message);
  return pages ? *pages : imaging::Pages{};
}

class BarcodeTest : public ::testing::TestWithParam<imaging::Resolution> {};

TEST_P(BarcodeTest, AQrCodeReadsBackItsAddress) {
  auto pages = code_page("QRCODE", "mailto:anna.schmidt@example.com", GetParam());
  ASSERT_FALSE(pages.empty());
  auto codes = ocr::read_barcodes(pages[0]);
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0].kind, "QR-Code");
  EXPECT_EQ(codes[0].data, "mailto:anna.schmidt@example.com");
}

TEST_P(BarcodeTest, ACode128ReadsBackItsRouteKey) {
  auto pages = code_page("CODE128", "route:42", GetParam());
  ASSERT_FALSE(pages.empty());
  auto codes = ocr::read_barcodes(pages[0]);
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0].kind, "CODE-128");
  EXPECT_EQ(codes[0].data, "route:42");
}

TEST_P(BarcodeTest, APageOfTextHasNone) {
  imaging::RenderOptions o;
  o.resolution = GetParam();
  auto pages = imaging::render_text_document(imaging::plain_text_document("To: Anna Schmidt\nIIII |||| 1111\n"),
                                             imaging::TextFace::mono, o, "text");
  ASSERT_TRUE(pages);
  EXPECT_TRUE(ocr::read_barcodes((*pages)[0]).empty());
  EXPECT_TRUE(ocr::read_barcodes(imaging::Page{}).empty());
}

INSTANTIATE_TEST_SUITE_P(Resolutions, BarcodeTest,
                         ::testing::Values(imaging::Resolution::standard, imaging::Resolution::fine),
                         [](const auto& info) { return std::string(imaging::name(info.param)); });

}  // namespace
