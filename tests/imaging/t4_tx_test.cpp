// t4_tx_test.cpp — every TIFF we produce is accepted by spandsp's T.4 transmitter, the code
// that will send it: t4_tx_init on the file, then every page started.
#include <filesystem>

#include <gtest/gtest.h>

#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES
#include <spandsp.h>

#include "common/test_data.hpp"
#include "imaging/document.hpp"
#include "imaging/tiff_f.hpp"

using namespace imaging;
namespace fs = std::filesystem;

namespace {

void expect_spandsp_sends(const std::string& path, int pages) {
  t4_tx_state_t* s = t4_tx_init(nullptr, path.c_str(), -1, -1);
  ASSERT_NE(s, nullptr) << "t4_tx_init refused " << path;
  EXPECT_EQ(t4_tx_get_pages_in_file(s), pages);
  for (int p = 0; p < pages; ++p) {
    EXPECT_EQ(t4_tx_start_page(s), 0) << "page " << p + 1 << " of " << path;
    EXPECT_EQ(t4_tx_get_image_width(s), 1728);
    while (t4_tx_get_bit(s) != SIG_STATUS_END_OF_DATA) {
    }
    t4_tx_end_page(s);
  }
  t4_tx_free(s);
}

class SpandspAccepts : public ::testing::TestWithParam<std::tuple<Resolution, Coding>> {};

void render_and_send(const std::string& bytes, DocType type, Resolution res, Coding coding) {
  RenderOptions o;
  o.resolution = res;
  auto pages = render_document(bytes, type, o, "input");
  ASSERT_TRUE(pages.ok()) << pages.error().message;
  std::string path = (fs::temp_directory_path() / ("fb-t4-" + std::to_string(::getpid()) + ".tif")).string();
  TiffWriteOptions wo;
  wo.coding = coding;
  ASSERT_TRUE(write_tiff_f(path, *pages, wo).ok());
  expect_spandsp_sends(path, int(pages->size()));
  fs::remove(path);
}

TEST_P(SpandspAccepts, RenderedPdfPages) {
  auto [res, coding] = GetParam();
  render_and_send(testdata::slurp(testdata::data("text.pdf")), DocType::pdf, res, coding);
}

TEST_P(SpandspAccepts, RenderedTextPages) {
  auto [res, coding] = GetParam();
  render_and_send("Hello fax\n\fsecond page \xD0\x9F\xD1\x80\xD0\xB8\n", DocType::text, res, coding);
}

TEST_P(SpandspAccepts, ImagePages) {
  REQUIRE_ITU_CORPUS();
  auto [res, coding] = GetParam();
  render_and_send(testdata::slurp(testdata::itu_chart(5)), DocType::image, res, coding);
}

INSTANTIATE_TEST_SUITE_P(AllResolutionsAndCodings, SpandspAccepts,
                         ::testing::Combine(::testing::Values(Resolution::standard, Resolution::fine,
                                                              Resolution::superfine),
                                            ::testing::Values(Coding::mh, Coding::mr, Coding::mmr)));

}  // namespace
