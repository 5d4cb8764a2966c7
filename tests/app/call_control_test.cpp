// call_control_test.cpp — the sans-I/O parts of call control: the trunk channel ledger and
// prefix matching, and the memory of destinations where T.38 did not work.
#include <gtest/gtest.h>

#include "gateway/channel_ledger.hpp"
#include "gateway/t38_memory.hpp"

namespace gateway {
namespace {

TEST(ChannelLedger, ChannelsAreTakenAndGivenBackPerTrunk) {
  ChannelLedger l({2, 1});
  EXPECT_EQ(l.free_total(), 3);
  EXPECT_TRUE(l.try_acquire(0));
  EXPECT_TRUE(l.try_acquire(0));
  EXPECT_FALSE(l.try_acquire(0));  // full: max_channels 2
  EXPECT_TRUE(l.try_acquire(1));
  EXPECT_EQ(l.free(0), 0);
  EXPECT_EQ(l.in_use(0), 2);
  EXPECT_EQ(l.free_total(), 0);
  l.release(0);
  EXPECT_EQ(l.free(0), 1);
  l.release(1);
  l.release(1);  // never below zero
  EXPECT_EQ(l.in_use(1), 0);
  EXPECT_EQ(l.free_total(), 2);
}

// On a shared store: within this node's grant as well as max_channels; a trunk added later is
// granted nothing until the grants say so.
TEST(ChannelLedger, GrantsLimitTheCallsANodeStarts) {
  ChannelLedger l({3, 2});
  l.use_grants();
  EXPECT_EQ(l.granted(0), 0);
  EXPECT_FALSE(l.try_acquire(0));
  l.set_granted(0, 2);
  l.set_granted(1, 5);  // more than max_channels: max_channels holds
  EXPECT_EQ(l.free(0), 2);
  EXPECT_EQ(l.free(1), 2);
  EXPECT_TRUE(l.try_acquire(0));
  EXPECT_TRUE(l.try_acquire(0));
  EXPECT_FALSE(l.try_acquire(0));
  l.set_granted(0, 1);  // shrunk below the calls in use: they go on, none starts
  EXPECT_EQ(l.in_use(0), 2);
  EXPECT_EQ(l.free(0), 0);
  l.release(0);
  EXPECT_FALSE(l.try_acquire(0));
  l.release(0);
  EXPECT_TRUE(l.try_acquire(0));
  const size_t added = l.add(4);
  EXPECT_EQ(l.granted(added), 0);
  EXPECT_FALSE(l.try_acquire(added));
  ChannelLedger alone({1});  // one node alone: no grant applies
  EXPECT_EQ(alone.granted(0), std::nullopt);
  EXPECT_EQ(alone.add(2), 1u);
  EXPECT_EQ(alone.granted(1), std::nullopt);
  EXPECT_TRUE(alone.try_acquire(1));
}

TEST(ChannelLedger, ServingIsLongestPrefixThenConfigOrder) {
  std::vector<TrunkRoom> t = {{{"+"}, 1}, {{"+1", "+44"}, 1}, {{"+1202"}, 0}, {{"+1"}, 5}};
  EXPECT_EQ(serving(t, "+12025550100"), (std::vector<size_t>{2, 1, 3, 0}));
  EXPECT_EQ(serving(t, "+4420"), (std::vector<size_t>{1, 0}));
  EXPECT_EQ(serving(t, "+33"), (std::vector<size_t>{0}));
  EXPECT_TRUE(serving({{{"+1"}, 1}}, "+33").empty());
}

TEST(T38Memory, ADestinationIsRememberedPerTrunkUntilItExpires) {
  T38Memory m(3600, 0);
  m.remember("carrier", "+12025550100", "T.38 refused (488 Not Acceptable Here)", 1000);
  auto e = m.recall("carrier", "+12025550100", 1001);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->reason, "T.38 refused (488 Not Acceptable Here)");
  EXPECT_EQ(e->since, 1000);
  EXPECT_EQ(e->until, 4600);
  EXPECT_FALSE(m.recall("backup", "+12025550100", 1001));       // another trunk
  EXPECT_FALSE(m.recall("carrier", "+12025550101", 1001));      // the whole number
  EXPECT_FALSE(m.recall("carrier", "+12025550100", 4600));      // forgotten
  EXPECT_EQ(m.entries(1001).size(), 1u);
  EXPECT_TRUE(m.entries(4600).empty());
}

TEST(T38Memory, APrefixCoversARangeAndZeroKeepsNothing) {
  T38Memory m(60, 7);  // "+1202555"
  m.remember("c", "+12025550100", "x", 0);
  EXPECT_EQ(m.prefix_of("+12025550100"), "+1202555");
  EXPECT_TRUE(m.recall("c", "+12025559999", 1));
  EXPECT_FALSE(m.recall("c", "+12025560000", 1));
  T38Memory off(0, 0);
  off.remember("c", "+12025550100", "x", 0);
  EXPECT_FALSE(off.recall("c", "+12025550100", 1));
}

TEST(T38Memory, TheOldestEntryGivesWayAtTheLimit) {
  T38Memory m(1000000, 0);
  for (size_t i = 0; i < T38Memory::kMaxEntries + 1; ++i) m.remember("c", "+1" + std::to_string(1000000 + i), "x", int64_t(i));
  EXPECT_EQ(m.entries(0).size(), T38Memory::kMaxEntries);
  EXPECT_FALSE(m.recall("c", "+11000000", 0));
  EXPECT_TRUE(m.recall("c", "+11000001", 0));
}

}  // namespace
}  // namespace gateway
