// page_writer_test.cpp — received pages written off the media threads (gateway/page_writer.hpp):
// each page is on disk as soon as it is written (what a crash leaves), the finished file carries
// every page bit-exact with its page count, and a page that cannot be written fails the fax with
// a reason that names it.
#include "gateway/page_writer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "imaging/tiff_f.hpp"
#include "imaging/tiff_read.hpp"

namespace {

namespace fs = std::filesystem;

class PageWriterTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pagewriter-" + std::to_string(::getpid()) + "-" +
                                        testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    w_.start();
  }
  void TearDown() override {
    w_.stop();
    fs::remove_all(dir_);
  }
  // A page with a pattern of its own (a diagonal band and a border), as T.30 hands it over.
  static fax::ReceivedPage page(int number, int rows) {
    fax::ReceivedPage p;
    p.number = number;
    p.width = 1728;
    p.rows = rows;
    p.x_dpi = 204;
    p.y_dpi = 196;
    imaging::Bitmap b(p.width, rows);
    for (int y = 0; y < rows; ++y) {
      for (int x = 0; x < p.width; ++x) {
        if (x < 8 || y < 8 || std::abs(x - y * 3 - number * 40) < 16) b.set(x, y);
      }
    }
    p.bits = b.bits;
    return p;
  }
  // Everything posted before has been done (the writer works in order).
  std::pair<int, std::string> finish(const std::string& path) {
    std::promise<std::pair<int, std::string>> done;
    w_.finish(path, [&](int pages, std::string error) { done.set_value({pages, error}); });
    return done.get_future().get();
  }
  fs::path dir_;
  gateway::PageWriter w_;
};

TEST_F(PageWriterTest, EachPageIsOnDiskAtOnceAndTheFinishedFileHasThemAll) {
  const std::string path = (dir_ / "7.tif").string();
  w_.add(path, page(1, 1100));
  finish((dir_ / "other.tif").string());  // a barrier: page 1 has been appended by now
  auto first = imaging::read_fax_tiff(path);
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_EQ(first->size(), 1u);  // what a crash at this point would leave
  w_.add(path, page(2, 2200));
  auto [pages, error] = finish(path);
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(error, "");
  auto got = imaging::read_fax_tiff(path);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->size(), 2u);
  for (int i = 0; i < 2; ++i) {
    auto want = page(i + 1, i ? 2200 : 1100);
    EXPECT_EQ((*got)[size_t(i)].bitmap.rows, want.rows);
    EXPECT_EQ((*got)[size_t(i)].xres, 204);
    EXPECT_EQ((*got)[size_t(i)].yres, 196);
    EXPECT_TRUE((*got)[size_t(i)].bitmap.bits == want.bits) << "page " << i + 1 << " differs";
  }
  auto info = imaging::inspect_tiff(path);
  ASSERT_TRUE(info) << info.error().message;
  ASSERT_EQ(info->pages.size(), 2u);
  EXPECT_EQ(info->pages[0].compression, "mr");
}

TEST_F(PageWriterTest, APageWhoseRowsDoNotFitItsSizeFailsTheFaxByName) {
  const std::string path = (dir_ / "8.tif").string();
  w_.add(path, page(1, 100));
  auto bad = page(2, 100);
  bad.bits.resize(bad.bits.size() - 10);
  w_.add(path, bad);
  w_.add(path, page(3, 100));  // nothing more is written after the first failure
  auto [pages, error] = finish(path);
  EXPECT_EQ(pages, 1);
  EXPECT_NE(error.find("page 2 arrived with"), std::string::npos) << error;
}

TEST_F(PageWriterTest, APageThatCameWithoutRowsFailsTheFaxByName) {
  const std::string path = (dir_ / "11.tif").string();
  w_.add(path, page(1, 100));
  auto empty = page(2, 100);
  empty.rows = 0;
  empty.width = 0;
  empty.bits.clear();
  w_.add(path, empty);
  auto [pages, error] = finish(path);
  EXPECT_EQ(pages, 1);
  EXPECT_EQ(error, "page 2 arrived without its rows");
}

TEST_F(PageWriterTest, AFileThatCannotBeWrittenNamesItsPath) {
  const std::string path = (dir_ / "missing-dir" / "9.tif").string();
  w_.add(path, page(1, 100));
  auto [pages, error] = finish(path);
  EXPECT_NE(error, "");
  EXPECT_NE(error.find(path), std::string::npos) << error;
}

// What a crash between T.30's MCF and the writer leaves: pages staged but not appended.
TEST_F(PageWriterTest, PagesACrashLeftStagedAreAppendedAtRecovery) {
  const std::string path = (dir_ / "12.tif").string();
  ASSERT_EQ(gateway::PageWriter::stage(path, page(1, 300)), "");
  w_.add(path, page(1, 300));
  finish((dir_ / "other.tif").string());  // page 1 appended, its staged copy removed
  EXPECT_FALSE(fs::exists(path + ".page-1"));
  ASSERT_EQ(gateway::PageWriter::stage(path, page(2, 400)), "");
  ASSERT_EQ(gateway::PageWriter::stage(path, page(3, 500)), "");  // the crash: never appended
  auto r = gateway::PageWriter::recover(path);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, 3);
  auto got = imaging::read_fax_tiff(path);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE((*got)[size_t(i)].bitmap.bits == page(i + 1, 300 + 100 * i).bits) << "page " << i + 1 << " differs";
  }
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".page-"), std::string::npos) << e.path();
  }
  auto again = gateway::PageWriter::recover(path);  // nothing left to do
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 3);
}

// A page cut while it was being staged is not taken (nor anything after it); no file, no pages.
TEST_F(PageWriterTest, APageCutWhileStagedIsNotTaken) {
  const std::string path = (dir_ / "13.tif").string();
  ASSERT_EQ(gateway::PageWriter::stage(path, page(1, 300)), "");
  ASSERT_EQ(gateway::PageWriter::stage(path, page(2, 300)), "");
  fs::resize_file(path + ".page-1", 1000);
  auto r = gateway::PageWriter::recover(path);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, 0);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".page-2"));
}

TEST_F(PageWriterTest, AForgottenFaxKeepsThePagesAlreadyAppended) {
  const std::string path = (dir_ / "10.tif").string();
  w_.add(path, page(1, 100));
  w_.forget(path);
  auto [pages, error] = finish(path);  // nothing left to finish: no pages, no error
  EXPECT_EQ(pages, 0);
  EXPECT_EQ(error, "");
  auto got = imaging::read_fax_tiff(path);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->size(), 1u);
}

}  // namespace
