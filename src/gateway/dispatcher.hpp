// dispatcher.hpp — takes rendered outbound jobs from the store, dials them through FaxCalls,
// and records each call's outcome: done, a retry at a later time, or failed.
//
// ARCHITECTURE.md (data flows): "scheduler takes the job when the trunk has a free channel".
// INTERFACES.md [retry]: busy, no answer and congestion count as dials (max_dials); calls that
// reached a fax machine and failed or sent part count as tries (max_tries); busy_delay_s,
// no_answer_delay_s, congestion_delay_s, failure_delay_s (T.30) and partial_delay_s space the retries; kill_after_s after the job was created
// it fails for good. An invalid number, T.38 refused and a trunk's rejection fail at once.
// Per destination: at most calls_per_number calls to one number at a time; the others wait
// their turn, oldest first. Between senders: urgent mail first (the mail's Priority), then fair
// share (queue::fair_order), so one sender's thousand faxes do not hold every channel. A number whose
// sending window (window.hpp) is closed is not dialled: its job waits, retry_at set to the opening.
// A job is never left without an owner: `sending` belongs to a live call, claimed by this node
// (JobStore::claim, a compare-and-set with a lease renewed while the node runs and an attempt
// number as fencing token); at start-up the calls to close (JobStore::to_recover: this node's,
// or a node's whose lease ran out; and, every lease_s / 3, other nodes' calls whose claim ran
// out: JobStore::to_take_over) are closed: outbound jobs go back to `ready`, due at once (or
// `done` when every page had been confirmed), and inbound jobs still in `receiving` end
// `delivering` with the pages that reached the spool (another node's: the store) — a missed-fax
// notice when none did; each
// cut call gets an "interrupted" accounting record. A call's outcome is recorded in one
// transaction (JobStore::record_call). Jobs cancelled during a call stay cancelled (the outcome
// is recorded as an event only). The same loop takes over the messages a dead node left
// unrendered (JobStore::take_over_messages) and hands them to on_unrendered (the converter).
// THREADS: polls on the io thread; every store call runs on the store executor.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <asio.hpp>

#include "address/dialing_policy.hpp"
#include "core/reloadable.hpp"
#include "gateway/call_budget.hpp"
#include "gateway/fax_calls.hpp"
#include "gateway/window.hpp"
#include "queue/job_store.hpp"
#include "queue/spool.hpp"

namespace gateway {

struct RetryPolicy {
  int max_dials = 12;
  int max_tries = 3;
  int busy_delay_s = 120;
  int no_answer_delay_s = 300;
  int failure_delay_s = 60;     // a T.30 failure
  int congestion_delay_s = 60;  // trunk congestion, no free channel, 503
  int partial_delay_s = 60;     // some pages went: the rest follow from the first unconfirmed one
  int kill_after_s = 10800;
  int calls_per_number = 1;  // simultaneous calls to one fax number (a fax machine takes one)
  std::vector<SendingWindow> windows;  // [[window]]: when numbers may be dialled (window.hpp)
  // [dialing], checked again as each job is dialled: a policy tightened since RCPT stops queued
  // jobs too (failed, 5.7.1). nullopt: not checked here.
  std::optional<address::DialingPolicy> dialing;
  // [dialing] daily caps, checked as each job is dialled (failed, 5.7.1 "over_cap") and counted
  // as calls are placed and end. Null: no caps. Shared with the SMTP intake (RCPT).
  std::shared_ptr<CallBudget> budget;
  // [node] name and lease_s: the owner of the jobs this node claims, and how long a claim holds
  // without renewal (renewed every lease_s / 3 while the node runs).
  std::string node = "localhost";
  int lease_s = 30;
  // On a shared store: due jobs that find no free channel are counted per trunk (waiting()),
  // even when this node has none free, so that its channel grants can grow.
  bool count_waiting = false;
  // On a shared store: the daily caps are read again from the store this often (every node's
  // calls, JobStore::budget_calls_since); 0: counted by this node alone (seeded at start).
  int budget_sync_s = 0;
};

// What happens to a job after a call with this result, given its counts so far (after this
// call's own dial or try was added). Pure: the tests drive it directly.
struct Decision {
  std::string state;                // done | retry | failed
  std::optional<int64_t> retry_at;  // for retry
  std::string error;                // the job's error sentence ("" for done)
  bool expired = false;             // failed because the give-up time (kill_after_s) came
};
Decision decide(const CallResult& r, const queue::Job& job, int dials, int tries, int64_t now, const RetryPolicy& p);

// The outcome a call counts as for `job` (as it was before the call): every page confirmed (MCF)
// is a delivered fax however the call ended after that (a BYE before the T.30 disconnect), never
// a retry that would send it all again.
Outcome effective_outcome(const CallResult& r, const queue::Job& job);

class Dispatcher {
 public:
  Dispatcher(asio::io_context& io, asio::any_io_executor store_exec, queue::JobStore& store, queue::Spool& spool,
             FaxCalls& calls, RetryPolicy policy);
  void start();
  void stop();
  void poke();  // a job may have become ready: poll now (any thread)
  // Per trunk (config order), the due jobs the last poll found no free channel for (io thread;
  // counted when RetryPolicy::count_waiting).
  const std::vector<int>& waiting() const { return waiting_; }
  // Whether a poll may be taking jobs for the channels it found free (io thread): a grant must
  // not shrink under it.
  bool taking() const { return polling_ || taking_ > 0; }
  // [dialing] as SIGHUP reloaded it (any thread): jobs dialled from now on are checked against it.
  void set_dialing(std::optional<address::DialingPolicy> p) { dialing_.set(std::move(p)); }
  // Called on the store thread after each call's outcome is recorded (the reporter looks then).
  std::function<void()> on_outcome;
  // Called on the store thread with each call attempt's accounting record, once the store has
  // committed it (with the call's outcome).
  std::function<void(const queue::AccountingRecord&)> on_call;
  // Messages this node took over from a node that died before rendering them: to render (set
  // before start(); called on the store thread).
  std::function<void(const std::vector<std::string>&)> on_unrendered;

 private:
  void poll();
  void schedule(std::chrono::milliseconds after);
  void renew_leases();
  void close_calls(const std::vector<queue::Job>& jobs);
  void record(const queue::Job& job, const CallResult& r);
  void persist(queue::CallRecord c, std::function<void(const queue::StoreStatus&)> then);
  // The key the job's sender's daily caps count under (call_budget.hpp budget_sender); nullopt
  // when the job's message cannot be read (the job waits for the next round).
  std::optional<std::string> budget_sender_of(const queue::Job& j);
  void refuse(const queue::Job& job, const std::string& why, const std::string& outcome = "not_allowed");

  asio::io_context& io_;
  asio::any_io_executor store_;
  queue::JobStore& db_;
  queue::Spool& spool_;
  FaxCalls& calls_;
  RetryPolicy policy_;
  fb::Reloadable<std::optional<address::DialingPolicy>> dialing_;  // policy_.dialing, then as reloaded
  asio::steady_timer timer_;
  asio::steady_timer lease_timer_;
  bool polling_ = false;
  bool stopped_ = false;
  std::vector<int> waiting_;
  int64_t budget_synced_ = 0;  // store thread: when the daily caps were last read from the store
  int taking_ = 0;  // jobs taken from the store whose call has not started yet
  // Job id -> the daily-caps key its call was counted under (store thread only).
  std::map<int64_t, std::string> budget_keys_;
};

}  // namespace gateway
