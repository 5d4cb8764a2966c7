// dispatcher_test.cpp — gateway::decide: what a call's outcome does to its job, per failure class
// (INTERFACES.md [retry]; the delays, max dials, max tries and the give-up time).
#include <gtest/gtest.h>

#include "gateway/dispatcher.hpp"

namespace gateway {
namespace {

constexpr int64_t kCreated = 1795435200;

RetryPolicy policy() {
  RetryPolicy p;
  p.max_dials = 3;
  p.max_tries = 2;
  p.busy_delay_s = 120;
  p.no_answer_delay_s = 300;
  p.failure_delay_s = 60;
  p.congestion_delay_s = 30;
  p.partial_delay_s = 90;
  p.kill_after_s = 3600;
  return p;
}

CallResult call(Outcome o, std::string reason = "") {
  CallResult r;
  r.outcome = o;
  r.reason = std::move(reason);
  return r;
}

queue::Job job() {
  queue::Job j;
  j.created = kCreated;
  return j;
}

TEST(Decide, EachFailureClassHasItsDelay) {
  const int64_t now = kCreated + 10;
  struct Case {
    Outcome o;
    int64_t delay;
  };
  for (Case c : {Case{Outcome::busy, 120}, Case{Outcome::no_answer, 300}, Case{Outcome::congestion, 30},
                 Case{Outcome::t30_failure, 60}, Case{Outcome::partial, 90}}) {
    Decision d = decide(call(c.o, "Why."), job(), 1, 1, now, policy());
    EXPECT_EQ(d.state, "retry") << to_string(c.o);
    EXPECT_EQ(d.retry_at, now + c.delay) << to_string(c.o);
    EXPECT_EQ(d.error, "Why.");
    EXPECT_FALSE(d.expired);
  }
  EXPECT_EQ(decide(call(Outcome::done), job(), 0, 1, now, policy()).state, "done");
}

TEST(Decide, DialsAndTriesRunOut) {
  const int64_t now = kCreated + 10;
  Decision d = decide(call(Outcome::busy, "Busy Here."), job(), 3, 0, now, policy());
  EXPECT_EQ(d.state, "failed");
  EXPECT_EQ(d.error, "Busy Here. Gave up after 3 dials.");
  d = decide(call(Outcome::t30_failure, "No MCF."), job(), 0, 2, now, policy());
  EXPECT_EQ(d.error, "No MCF. Gave up after 2 tries.");
  EXPECT_EQ(decide(call(Outcome::busy), job(), 2, 5, now, policy()).state, "retry");  // tries do not count
}

TEST(Decide, PermanentOutcomesFailAtOnce) {
  for (Outcome o : {Outcome::invalid_number, Outcome::t38_refused, Outcome::rejected, Outcome::not_allowed}) {
    Decision d = decide(call(o), job(), 1, 0, kCreated + 10, policy());
    EXPECT_EQ(d.state, "failed") << to_string(o);
    EXPECT_FALSE(d.retry_at);
  }
}

TEST(Decide, GiveUpTimeIsNeverPassed) {
  // The next busy retry would land after created + kill_after_s: failed, expired.
  Decision d = decide(call(Outcome::busy, "Busy Here."), job(), 1, 0, kCreated + 3500, policy());
  EXPECT_EQ(d.state, "failed");
  EXPECT_TRUE(d.expired);
  EXPECT_EQ(d.error, "Busy Here. Gave up: the next try would be past the 60 minutes allowed.");
  EXPECT_EQ(decide(call(Outcome::busy), job(), 1, 0, kCreated + 3480, policy()).state, "retry");
}

TEST(Decide, ASendAfterJobsGiveUpTimeCountsFromItsSendAfter) {
  queue::Job j = job();
  j.not_before = kCreated + 7200;  // submitted to go two hours later
  Decision d = decide(call(Outcome::busy), j, 1, 0, kCreated + 7200 + 60, policy());
  EXPECT_EQ(d.state, "retry");
  EXPECT_EQ(decide(call(Outcome::busy), j, 1, 0, kCreated + 7200 + 3500, policy()).state, "failed");
}

TEST(EffectiveOutcome, EveryPageConfirmedIsDeliveredHoweverTheCallEnded) {
  queue::Job j = job();
  j.pages = 5;
  CallResult r = call(Outcome::partial);
  r.pages_total = 5;
  r.pages_sent = 5;  // the BYE came after the last MCF
  EXPECT_EQ(effective_outcome(r, j), Outcome::done);
  r.pages_sent = 4;
  EXPECT_EQ(effective_outcome(r, j), Outcome::partial);
  // A resumed call: pages 3..5 (3 in this call) after 2 confirmed earlier.
  j.pages_done = 2;
  r.pages_total = 3;
  r.pages_sent = 3;
  EXPECT_EQ(effective_outcome(r, j), Outcome::done);
  r.pages_sent = 2;
  EXPECT_EQ(effective_outcome(r, j), Outcome::partial);
  EXPECT_EQ(effective_outcome(call(Outcome::busy), job()), Outcome::busy);  // no page, no change
}

}  // namespace
}  // namespace gateway
