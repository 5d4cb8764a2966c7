// client_limits_test.cpp — anvil-style per-client counts: connections at once and per minute,
// MAIL and RCPT per minute, AUTH failures per hour; IPv6 clients counted by /64.
#include "mail/client_limits.hpp"

#include <gtest/gtest.h>

namespace smtp {
namespace {

using namespace std::chrono_literals;
const auto t0 = ClientLimits::Clock::time_point{} + 1000h;

TEST(ClientLimits, ConnectionsAtOnceAndPerMinute) {
  ClientLimits l({2, 3, 0, 0, 0});
  EXPECT_TRUE(l.connect("192.0.2.1", t0));
  EXPECT_TRUE(l.connect("192.0.2.1", t0));
  EXPECT_FALSE(l.connect("192.0.2.1", t0));  // two open
  EXPECT_TRUE(l.connect("192.0.2.2", t0));   // another client
  l.disconnect("192.0.2.1");
  EXPECT_TRUE(l.connect("192.0.2.1", t0 + 1s));   // the third this minute
  l.disconnect("192.0.2.1");
  EXPECT_FALSE(l.connect("192.0.2.1", t0 + 2s));  // one open, but three in the last minute
  EXPECT_TRUE(l.connect("192.0.2.1", t0 + 61s));  // the first two are a minute old
}

TEST(ClientLimits, MessagesAndRecipientsPerMinute) {
  ClientLimits l({0, 0, 2, 3, 0});
  EXPECT_TRUE(l.message("c", t0));
  EXPECT_TRUE(l.message("c", t0 + 10s));
  EXPECT_FALSE(l.message("c", t0 + 20s));
  EXPECT_TRUE(l.message("c", t0 + 60s));  // t0's has gone
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.recipient("c", t0));
  EXPECT_FALSE(l.recipient("c", t0 + 59s));
  EXPECT_TRUE(l.recipient("d", t0 + 59s));
  ClientLimits none({0, 0, 0, 0, 0});
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(none.connect("c", t0) && none.message("c", t0) && none.recipient("c", t0));
}

TEST(ClientLimits, AuthFailuresPerHourAcrossConnections) {
  ClientLimits l({0, 0, 0, 0, 3});
  EXPECT_TRUE(l.begin_auth("c", t0));
  l.auth_succeeded("c", t0);  // a right password counts nothing
  EXPECT_EQ(l.auth_failures("c", t0), 0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.begin_auth("c", t0 + std::chrono::minutes(i)));  // in flight at once
  EXPECT_FALSE(l.begin_auth("c", t0 + 10min));
  EXPECT_EQ(l.auth_failures("c", t0 + 10min), 3);
  EXPECT_TRUE(l.begin_auth("other", t0 + 10min));
  EXPECT_FALSE(l.begin_auth("c", t0 + 59min));
  EXPECT_EQ(l.auth_failures("c", t0 + 59min), 3);  // a refused attempt is not counted
  EXPECT_TRUE(l.begin_auth("c", t0 + 60min));      // the first failure is an hour old
  EXPECT_EQ(l.auth_failures("c", t0 + 63min), 1);  // only that last one
}

TEST(ClientLimits, AGoodLoginTakesBackOnlyItsOwnAttempt) {
  // A valid login of the attacker's own, begun first, ends after a guess has begun: the guess
  // must still count.
  ClientLimits l({0, 0, 0, 0, 2});
  ASSERT_TRUE(l.begin_auth("c", t0));           // the good login
  ASSERT_TRUE(l.begin_auth("c", t0 + 1ms));     // a guess, in flight beside it
  l.auth_succeeded("c", t0);
  EXPECT_EQ(l.auth_failures("c", t0 + 2ms), 1);  // the guess
  int guesses = 1;
  for (int i = 0; i < 5; ++i) {  // the pairing again: no more guesses are checked than the limit
    const auto at = t0 + std::chrono::milliseconds(10 * (i + 1));
    if (l.begin_auth("c", at)) {
      if (l.begin_auth("c", at + 1ms)) ++guesses;
      l.auth_succeeded("c", at);
    }
  }
  EXPECT_EQ(guesses, 1);  // a login in flight holds a place: the guesses beside it wait
  EXPECT_EQ(l.auth_failures("c", t0 + 1s), 1);
  EXPECT_TRUE(l.begin_auth("c", t0 + 1s));  // the second and last guess
  EXPECT_FALSE(l.begin_auth("c", t0 + 2s));
  l.auth_succeeded("c", t0 + 3s);  // a login that never began takes nothing back
  EXPECT_EQ(l.auth_failures("c", t0 + 3s), 2);
}

TEST(ClientLimits, ClientKeys) {
  EXPECT_EQ(ClientLimits::key_of("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(ClientLimits::key_of("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  EXPECT_EQ(ClientLimits::key_of("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(ClientLimits::key_of("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(ClientLimits::key_of("::1"), "::/64");
}

}  // namespace
}  // namespace smtp
