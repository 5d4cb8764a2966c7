// fax_reading_test.cpp — gateway::FaxReading (issue 18): a fax read on the reading thread and
// handed to `done` once; a deadline already passed gives a fax with no page read (mailed without
// text); cancelling tells `done` so (the fax is read again at the next start).
#include "gateway/fax_reading.hpp"

#include <filesystem>
#include <future>

#include <gtest/gtest.h>

#include "imaging/text_render.hpp"
#include "imaging/tiff_f.hpp"

namespace fs = std::filesystem;

namespace {

class FaxReadingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tiff = (fs::temp_directory_path() / ("fax_reading_test." + std::to_string(::getpid()) + ".tif")).string();
    imaging::RenderOptions o;
    auto pages = imaging::render_text_document(
        imaging::plain_text_document("INVOICE 4711\n\nTo: Accounts Payable\n\fSECOND PAGE\n"), imaging::TextFace::mono,
        o, "typed");
    ASSERT_TRUE(pages);
    ASSERT_EQ(pages->size(), 2u);
    ASSERT_TRUE(imaging::write_tiff_f(tiff, *pages, imaging::TiffWriteOptions{}));
    auto r = gateway::FaxReading::open({"eng"}, 30);
    ASSERT_TRUE(r) << r.error();
    reading = *r;
  }
  void TearDown() override { fs::remove(tiff); }

  struct Got {
    fb::Result<gateway::FaxText, std::string> text = std::string("not called");
    bool cancelled = false;
    int calls = 0;
  };
  // Reads and waits for `done` (bounded: a read of two pages takes seconds).
  Got read(std::chrono::steady_clock::time_point deadline) {
    auto got = std::make_shared<Got>();
    std::promise<void> p;
    auto f = p.get_future();
    reading->read(tiff, deadline, [got, &p](fb::Result<gateway::FaxText, std::string> t, bool c) {
      got->text = std::move(t);
      got->cancelled = c;
      if (++got->calls == 1) p.set_value();
    });
    EXPECT_EQ(f.wait_for(std::chrono::seconds(120)), std::future_status::ready);
    return *got;
  }

  std::string tiff;
  std::shared_ptr<gateway::FaxReading> reading;
};

TEST_F(FaxReadingTest, AFaxIsReadPageByPage) {
  auto got = read(std::chrono::steady_clock::now() + std::chrono::seconds(120));
  ASSERT_TRUE(got.text) << got.text.error();
  EXPECT_FALSE(got.cancelled);
  EXPECT_EQ(got.text->pages, 2);
  EXPECT_EQ(got.text->pages_read, 2);
  ASSERT_EQ(got.text->lines.size(), 2u);
  ASSERT_TRUE(got.text->lines[0] && !got.text->lines[0]->empty());
  EXPECT_EQ(got.text->lines[0]->front(), "INVOICE 4711");
  ASSERT_TRUE(got.text->lines[1] && !got.text->lines[1]->empty());
  EXPECT_EQ(got.text->lines[1]->front(), "SECOND PAGE");
  EXPECT_FALSE(got.text->words[0].empty());
  EXPECT_TRUE(got.text->note.empty()) << got.text->note;
}

TEST_F(FaxReadingTest, PastItsDeadlineAFaxHasNoPageReadAndSaysSo) {
  auto got = read(std::chrono::steady_clock::now() - std::chrono::seconds(1));
  ASSERT_TRUE(got.text) << got.text.error();
  EXPECT_FALSE(got.cancelled);
  EXPECT_EQ(got.text->pages, 2);
  EXPECT_EQ(got.text->pages_read, 0);
  EXPECT_FALSE(got.text->lines[0]);
  EXPECT_EQ(got.text->note, "page 1: the page was not read in time");
}

TEST_F(FaxReadingTest, CancelledReadsAreToldSoOnceAndNoneRunsAfterStop) {
  reading->cancel();
  auto got = read(std::chrono::steady_clock::now() + std::chrono::seconds(120));
  EXPECT_TRUE(got.cancelled);
  EXPECT_EQ(got.calls, 1);
  reading->stop();
  bool called = false;
  reading->read(tiff, std::chrono::steady_clock::now() + std::chrono::seconds(5),
                [&called](fb::Result<gateway::FaxText, std::string>, bool) { called = true; });
  reading->stop();  // (a second stop returns at once)
  EXPECT_FALSE(called);
}

TEST(FaxReading, AMissingLanguageIsNamed) {
  auto r = gateway::FaxReading::open({"eng", "tlh"}, 30);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("\"tlh\" is not installed"), std::string::npos) << r.error();
}

}  // namespace
