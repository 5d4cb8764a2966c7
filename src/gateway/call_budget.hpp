// call_budget.hpp — daily caps on outbound fax calls and pages, overall and per sender.
//
// DEFENDS (docs/security.md): toll fraud through a stolen SMTP account, a trusted network that
// is wider than meant, or a hole in the dialling policy — what a day of it can cost is capped.
// A "day" is the last 24 hours, rolling (no time zone decides when the count resets).
// COUNTS: a call is counted when it is dialled (take()), whatever its outcome, with the pages it
// is to send reserved, so calls in progress count at once; when it ends the reservation becomes
// the pages the far end confirmed (add_pages() with the difference). At start the budget is
// seeded from the store's accounting records of the last 24 hours.
// CHECKED: at RCPT (check(sender, 0): a cap already reached gets 450 4.7.1) and as each job is
// dialled (check(sender, pages to send): the job fails with 5.7.1, report.hpp "over_cap").
// SENDER: what a sender's caps count under (budget_sender): the SMTP AUTH user when the message
// came authenticated (one account, whatever envelope senders it uses), else the envelope sender.
// PARAMETERS: [dialing] calls_per_day, pages_per_day, sender_calls_per_day,
// sender_pages_per_day (0: no cap).
// THREADS: every member is safe to call from any thread (the SMTP io thread reads, the store
// thread writes).
// LIMITS: one entry per call of the last 24 hours is kept in memory.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/job_store.hpp"

namespace gateway {

struct DailyCaps {
  int calls = 0;
  int pages = 0;
  int sender_calls = 0;
  int sender_pages = 0;
  bool any() const { return calls > 0 || pages > 0 || sender_calls > 0 || sender_pages > 0; }
};

// The key a sender's caps count under: "AUTH:<user>" for a message sent with SMTP AUTH (an
// envelope sender, lower-cased, never begins so), else the envelope sender, lower-cased.
std::string budget_sender(std::string_view mail_from, const std::optional<std::string>& auth_user);

class CallBudget {
 public:
  static constexpr int64_t kDay = 24 * 3600;

  explicit CallBudget(DailyCaps caps) : caps_(caps) {}
  const DailyCaps& caps() const { return caps_; }

  // A call placed at `time` by `sender`, with the pages it is to send (or, seeding, sent).
  void take(int64_t time, const std::string& sender, int pages = 0);
  // Everything counted, replaced at once by the calls as the store has them
  // (JobStore::budget_calls_since: at start, and on a store several nodes share, again and
  // again, so that each node's caps count every node's calls). A finished call counts the pages
  // it added to its job's confirmed pages; a call in progress the pages it is to send.
  void reset_from(const std::vector<queue::JobStore::BudgetCall>& calls);
  // A correction of the pages counted (negative: fewer were sent than reserved).
  void add_pages(int64_t time, const std::string& sender, int pages);
  // Why one more call of `pages` pages by `sender` at `now` would pass a cap; nullopt when it
  // would not. The sentence names the cap ("the daily cap of 200 fax calls for this sender").
  std::optional<std::string> check(const std::string& sender, int pages, int64_t now);

  struct Usage {
    int calls = 0;
    int pages = 0;
  };
  Usage used(int64_t now);                                  // overall
  Usage used_by(const std::string& sender, int64_t now);  // one sender

 private:
  struct Entry {
    int64_t time;
    std::string sender;
    int calls;
    int pages;
  };
  void expire(int64_t now);  // with mu_ held

  DailyCaps caps_;
  std::mutex mu_;
  std::deque<Entry> entries_;  // oldest first
  Usage total_;
  std::map<std::string, Usage> by_sender_;
};

}  // namespace gateway
