// call_budget_test.cpp — daily caps over a rolling 24 hours, overall and per sender.
#include "gateway/call_budget.hpp"

#include <gtest/gtest.h>

namespace gateway {
namespace {

constexpr int64_t kT = 1795365000;

TEST(CallBudget, NoCapsNeverRefuse) {
  CallBudget b(DailyCaps{});
  EXPECT_FALSE(b.caps().any());
  for (int i = 0; i < 1000; ++i) b.take(kT, "a@x", 10);
  EXPECT_FALSE(b.check("a@x", 100, kT));
  EXPECT_EQ(b.used(kT).calls, 1000);
}

TEST(CallBudget, CallCapsCountCallsAsTheyArePlaced) {
  CallBudget b(DailyCaps{3, 0, 2, 0});
  EXPECT_FALSE(b.check("a@x", 0, kT));
  b.take(kT, "a@x");
  b.take(kT + 1, "a@x");
  auto why = b.check("a@x", 1, kT + 2);
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "the daily cap of 2 fax calls for this sender is reached");
  EXPECT_FALSE(b.check("b@x", 1, kT + 2));
  b.take(kT + 2, "b@x");
  EXPECT_EQ(*b.check("c@x", 0, kT + 3), "the daily cap of 3 fax calls is reached");
  EXPECT_EQ(*b.check("", 0, kT + 3), "the daily cap of 3 fax calls is reached");
  // 24 hours after the first call it no longer counts; the second one still does.
  EXPECT_TRUE(b.check("c@x", 0, kT + CallBudget::kDay - 1));
  EXPECT_FALSE(b.check("c@x", 0, kT + CallBudget::kDay));
  EXPECT_EQ(b.used_by("a@x", kT + CallBudget::kDay).calls, 1);
  EXPECT_EQ(b.used(kT + CallBudget::kDay + 1).calls, 1);  // b's only
  EXPECT_EQ(b.used_by("a@x", kT + CallBudget::kDay + 1).calls, 0);
}

TEST(CallBudget, PageCapsRefuseAJobThatWouldPassThem) {
  CallBudget b(DailyCaps{0, 10, 0, 6});
  b.take(kT, "a@x");
  b.add_pages(kT + 60, "a@x", 5);
  EXPECT_FALSE(b.check("a@x", 1, kT + 61));  // 5 + 1 = 6: at the cap, allowed
  EXPECT_EQ(*b.check("a@x", 2, kT + 61), "the daily cap of 6 fax pages for this sender would be passed (5 sent in the last 24 hours)");
  EXPECT_FALSE(b.check("b@x", 5, kT + 61));
  EXPECT_EQ(*b.check("b@x", 6, kT + 61), "the daily cap of 10 fax pages would be passed (5 sent in the last 24 hours)");
  // At RCPT (no pages known yet): refused only once a cap is used up.
  b.add_pages(kT + 70, "a@x", 1);
  EXPECT_TRUE(b.check("a@x", 0, kT + 71));
  EXPECT_FALSE(b.check("b@x", 0, kT + 71));
  // Pages leave the count with their own time (the call's end).
  EXPECT_FALSE(b.check("a@x", 0, kT + 60 + CallBudget::kDay));
  EXPECT_EQ(b.used_by("a@x", kT + 60 + CallBudget::kDay).pages, 1);
}

TEST(CallBudget, PagesReservedAtDialTimeAreCorrectedWhenTheCallEnds) {
  // Four 30-page jobs dialled together under a 100-page cap with 60 used: only one fits.
  CallBudget b(DailyCaps{0, 100, 0, 0});
  b.take(kT, "a@x", 60);
  int dialled = 0;
  for (int i = 0; i < 4; ++i) {
    if (!b.check("b@x", 30, kT + 1)) {
      b.take(kT + 1, "b@x", 30);
      ++dialled;
    }
  }
  EXPECT_EQ(dialled, 1);
  b.add_pages(kT + 100, "b@x", 12 - 30);  // the call ended with 12 pages confirmed
  EXPECT_EQ(b.used(kT + 101).pages, 72);
  EXPECT_FALSE(b.check("b@x", 28, kT + 101));
  EXPECT_TRUE(b.check("b@x", 29, kT + 101));
}

TEST(CallBudget, SeededRecordsOutOfOrderExpireInTimeOrder) {
  CallBudget b(DailyCaps{2, 0, 0, 0});
  b.take(kT + 100, "a@x", 1);
  b.take(kT, "b@x", 1);  // older, seeded after
  EXPECT_TRUE(b.check("c@x", 0, kT + 101));
  EXPECT_FALSE(b.check("c@x", 0, kT + CallBudget::kDay));  // b's is gone, a's stays
  EXPECT_EQ(b.used(kT + CallBudget::kDay).calls, 1);
  EXPECT_EQ(b.used_by("a@x", kT + CallBudget::kDay).calls, 1);
}

// What the store has (every node's calls) replaces what was counted: a finished call counts the
// pages it added to its job, a call in progress the pages it is to send.
TEST(CallBudget, ResetFromTheStoreCountsEveryNodesCalls) {
  CallBudget b(DailyCaps{4, 9, 0, 0});
  for (int i = 0; i < 3; ++i) b.take(kT, "gone@x", 1);  // counted before, not in the store: gone after
  using Call = queue::JobStore::BudgetCall;
  b.reset_from({Call{kT, 7, "A@x", std::nullopt, 2, false},
                Call{kT + 10, 7, "a@x", std::nullopt, 5, false},  // the same job again: 3 more pages
                Call{kT + 20, 8, "b@y", std::string("alice"), 1, true}});
  EXPECT_EQ(b.used(kT + 30).calls, 3);
  EXPECT_EQ(b.used(kT + 30).pages, 6);
  EXPECT_EQ(b.used_by("a@x", kT + 30).pages, 5);
  EXPECT_EQ(b.used_by("AUTH:alice", kT + 30).calls, 1);
  EXPECT_EQ(b.used_by("gone@x", kT + 30).calls, 0);
  EXPECT_FALSE(b.check("c@z", 3, kT + 30));
  EXPECT_TRUE(b.check("c@z", 4, kT + 30));  // 10 pages: over 9
  b.reset_from({});
  EXPECT_EQ(b.used(kT + 30).calls, 0);
}

TEST(CallBudget, AnAuthenticatedUserIsOneSenderWhateverItsEnvelopeSenders) {
  EXPECT_EQ(budget_sender("Bob@Example.COM", std::nullopt), "bob@example.com");
  EXPECT_EQ(budget_sender("", std::nullopt), "");  // the null sender <> is one sender too
  EXPECT_EQ(budget_sender("a@x", std::string("alice")), budget_sender("b@y", std::string("alice")));
  EXPECT_NE(budget_sender("a@x", std::string("alice")), budget_sender("a@x", std::string("Alice")));
  EXPECT_NE(budget_sender("alice", std::nullopt), budget_sender("x@y", std::string("alice")));
  // No envelope sender takes an account's key, however it is written.
  for (const char* from : {"AUTH:alice", "auth:alice", "auth alice", "AUTH alice"}) {
    EXPECT_NE(budget_sender(from, std::nullopt), budget_sender("x@y", std::string("alice"))) << from;
  }
  CallBudget b(DailyCaps{0, 0, 1, 0});
  b.take(kT, budget_sender("a@x", std::string("alice")), 1);
  EXPECT_TRUE(b.check(budget_sender("other@z", std::string("alice")), 0, kT + 1));
  EXPECT_FALSE(b.check(budget_sender("a@x", std::nullopt), 0, kT + 1));
}

}  // namespace
}  // namespace gateway
