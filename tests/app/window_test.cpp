// window_test.cpp — sending windows: the hours syntax, which window governs a number, and when a
// closed window opens, in UTC and in a zone with daylight saving time.
#include <gtest/gtest.h>

#include "gateway/window.hpp"

namespace gateway {
namespace {

// Monday 2026-11-23 12:00:00 UTC.
constexpr int64_t kMonNoon = 1795435200;

SendingWindow window(int start, int end, std::string tz = "UTC") {
  SendingWindow w;
  w.start_minute = start;
  w.end_minute = end;
  w.timezone = std::move(tz);
  return w;
}

TEST(Window, HoursAndDays) {
  EXPECT_EQ(parse_hours("08:00-20:00"), (std::pair{480, 1200}));
  EXPECT_EQ(parse_hours("22:30-06:00"), (std::pair{1350, 360}));
  EXPECT_EQ(parse_hours("00:00-24:00"), (std::pair{0, 0}));
  for (const char* bad : {"8:00-20:00", "08:00", "08:60-20:00", "25:00-01:00", "24:30-01:00", "aa:bb-cc:dd", ""})
    EXPECT_FALSE(parse_hours(bad)) << bad;
  EXPECT_EQ(parse_day("mon"), 0);
  EXPECT_EQ(parse_day("sun"), 6);
  EXPECT_FALSE(parse_day("Monday"));
  EXPECT_TRUE(known_timezone("America/New_York"));
  EXPECT_TRUE(known_timezone("UTC"));
  EXPECT_FALSE(known_timezone("Mars/Olympus_Mons"));
}

TEST(Window, LongestPrefixGoverns) {
  SendingWindow all = window(0, 0), us = window(480, 1200), ny = window(540, 1020);
  all.prefixes = {"+"};
  us.prefixes = {"+1"};
  ny.prefixes = {"+1212", "+1646"};
  std::vector<SendingWindow> ws = {all, us, ny};
  EXPECT_EQ(window_for(ws, "+12125550100"), &ws[2]);
  EXPECT_EQ(window_for(ws, "+12025550100"), &ws[1]);
  EXPECT_EQ(window_for(ws, "+4930123456"), &ws[0]);
  EXPECT_EQ(window_for({us}, "+4930123456"), nullptr);
}

TEST(Window, OpenOrWhenItOpens) {
  SendingWindow w = window(8 * 60, 20 * 60);
  EXPECT_EQ(closed_until(w, kMonNoon), std::nullopt);
  EXPECT_EQ(closed_until(w, kMonNoon + 8 * 3600), kMonNoon + 20 * 3600);  // 20:00: opens 08:00 Tuesday
  EXPECT_EQ(closed_until(w, kMonNoon - 5 * 3600), kMonNoon - 4 * 3600);   // 07:00: opens at 08:00 today
  // Weekdays only: Friday 21:00 opens Monday 08:00.
  w.days = {true, true, true, true, true, false, false};
  const int64_t fri21 = kMonNoon + 4 * 86400 + 9 * 3600;
  EXPECT_EQ(closed_until(w, fri21), kMonNoon + 7 * 86400 - 4 * 3600);
  EXPECT_EQ(closed_until(w, kMonNoon + 5 * 86400), kMonNoon + 7 * 86400 - 4 * 3600);  // Saturday noon
}

TEST(Window, OvernightBelongsToTheDayItStarts) {
  SendingWindow w = window(22 * 60, 6 * 60);
  w.days = {true, false, false, false, false, false, false};  // Monday night only
  const int64_t mon23 = kMonNoon + 11 * 3600, tue03 = kMonNoon + 15 * 3600, tue23 = kMonNoon + 86400 + 11 * 3600;
  EXPECT_EQ(closed_until(w, mon23), std::nullopt);
  EXPECT_EQ(closed_until(w, tue03), std::nullopt);  // still Monday's night
  EXPECT_EQ(closed_until(w, tue23), kMonNoon + 7 * 86400 + 10 * 3600);  // next Monday 22:00
}

TEST(Window, LocalTimeFollowsDaylightSaving) {
  SendingWindow w = window(9 * 60, 17 * 60, "America/New_York");
  // Monday 2026-11-23 12:00 UTC is 07:00 EST: opens 09:00 EST = 14:00 UTC.
  EXPECT_EQ(closed_until(w, kMonNoon), kMonNoon + 2 * 3600);
  // Monday 2026-07-06 12:00 UTC is 08:00 EDT: opens 09:00 EDT = 13:00 UTC.
  const int64_t jul_mon_noon = 1783339200;
  EXPECT_EQ(closed_until(w, jul_mon_noon), jul_mon_noon + 3600);
}

}  // namespace
}  // namespace gateway
