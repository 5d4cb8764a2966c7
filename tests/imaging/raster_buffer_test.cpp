// raster_buffer_test.cpp — page raster memory: filled as asked, the spare reused and refilled.
#include "imaging/raster_buffer.hpp"

#include <algorithm>

#include <gtest/gtest.h>

using namespace imaging;

namespace {

bool all_are(const RasterBuffer& b, uint8_t v) {
  return b.data() && std::all_of(b.data(), b.data() + b.size(), [v](uint8_t x) { return x == v; });
}

TEST(RasterBuffer, IsFilledAsAskedFreshOrFromTheSpare) {
  RasterBuffer::drop_spare();
  {
    RasterBuffer zero(1 << 20);
    EXPECT_TRUE(all_are(zero, 0));
    RasterBuffer white(3 << 20, 255);
    EXPECT_EQ(white.size(), size_t(3) << 20);
    EXPECT_TRUE(all_are(white, 255));
    RasterBuffer::keep_spare(4 << 20, 255);
    RasterBuffer spare_white(4 << 20, 255);  // the spare, already white
    EXPECT_TRUE(all_are(spare_white, 255));
    RasterBuffer::keep_spare(4 << 20, 255);
    RasterBuffer spare_zero(2 << 20, 0);  // the spare, refilled
    EXPECT_TRUE(all_are(spare_zero, 0));
  }
  RasterBuffer::drop_spare();  // (what the buffers left: no spare for the next test)
}

TEST(RasterBuffer, AReleasedBufferIsReusedAndRefilled) {
  RasterBuffer::drop_spare();
  {
    uint8_t* first = nullptr;
    {
      RasterBuffer page(2 << 20, 255);
      ASSERT_TRUE(page.data());
      first = page.data();
      std::fill(page.data(), page.data() + page.size(), uint8_t(0x5A));  // a previous page's pixels
    }
    RasterBuffer next(2 << 20, 255);
    EXPECT_EQ(next.data(), first);
    EXPECT_TRUE(all_are(next, 255));
    RasterBuffer other(2 << 20, 255);  // no spare left: mapped anew
    EXPECT_NE(other.data(), first);
    EXPECT_TRUE(all_are(other, 255));
  }
  RasterBuffer::drop_spare();
}

TEST(RasterBuffer, NothingOrTooMuchGivesNoMemory) {
  EXPECT_EQ(RasterBuffer(0).data(), nullptr);
  EXPECT_EQ(RasterBuffer(RasterBuffer::kMaxBytes + 1, 255).data(), nullptr);
}

}  // namespace
