// dispatcher.cpp — outbound jobs to calls and back (see dispatcher.hpp).
#include "gateway/dispatcher.hpp"

#include "core/log.hpp"

#include <algorithm>
#include <map>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "fax/terminal.hpp"
#include "gateway/page_writer.hpp"
#include "imaging/tiff_f.hpp"

namespace gateway {

namespace {
int64_t unix_now() { return int64_t(std::time(nullptr)); }

// The pages a call of this job is to send: from the first one not confirmed.
int pages_to_send(const queue::Job& j) { return j.pages > 0 && j.pages_done < j.pages ? j.pages - j.pages_done : j.pages; }

void log(const std::string& line) { fb::log(line); }
}  // namespace

Outcome effective_outcome(const CallResult& r, const queue::Job& job) {
  const int before = job.pages > 0 && job.pages_done < job.pages ? job.pages_done : 0;
  const int total = std::max(job.pages, before + r.pages_total);
  if (r.pages_sent > 0 && total > 0 && before + r.pages_sent >= total) return Outcome::done;
  return r.outcome;
}

Decision decide(const CallResult& r, const queue::Job& job, int dials, int tries, int64_t now, const RetryPolicy& p) {
  if (r.outcome == Outcome::done) return {"done", std::nullopt, ""};
  std::string why = r.reason.empty() ? std::string(to_string(r.outcome)) : r.reason;
  auto retry = [&](int delay, const std::string& what, int count, int max) -> Decision {
    if (count >= max) return {"failed", std::nullopt, why + " Gave up after " + std::to_string(count) + " " + what + "."};
    int64_t at = now + delay;
    if (at > std::max(job.created, job.not_before.value_or(0)) + p.kill_after_s) {
      return {"failed", std::nullopt,
              why + " Gave up: the next try would be past the " + std::to_string(p.kill_after_s / 60) +
                  " minutes allowed.",
              true};
    }
    return {"retry", at, why};
  };
  switch (r.outcome) {
    case Outcome::busy: return retry(p.busy_delay_s, "dials", dials, p.max_dials);
    case Outcome::no_answer: return retry(p.no_answer_delay_s, "dials", dials, p.max_dials);
    case Outcome::congestion: return retry(p.congestion_delay_s, "dials", dials, p.max_dials);
    case Outcome::t30_failure: return retry(p.failure_delay_s, "tries", tries, p.max_tries);
    case Outcome::partial: return retry(p.partial_delay_s, "tries", tries, p.max_tries);
    default: return {"failed", std::nullopt, why};
  }
}

Dispatcher::Dispatcher(asio::io_context& io, asio::any_io_executor store_exec, queue::JobStore& store,
                       queue::Spool& spool, FaxCalls& calls, RetryPolicy policy)
    : io_(io),
      store_(std::move(store_exec)),
      db_(store),
      spool_(spool),
      calls_(calls),
      policy_(policy),
      dialing_(policy.dialing),
      timer_(io),
      lease_timer_(io) {}

void Dispatcher::start() {
  asio::post(store_, [this] {
    auto open = db_.to_recover(policy_.node, unix_now());
    if (!open) log("the calls a stop cut cannot be read: " + open.error().message);
    else close_calls(*open);
    asio::post(io_, [this] {
      schedule(std::chrono::milliseconds(0));
      renew_leases();
    });
  });
}

// Store thread. Calls no live node works on any more — this node's own, cut by its stop, or a
// dead node's, its claim run out — are closed: each is an accounting record "interrupted" (when
// the call began is not known: the time is the job's last change), committed with the job's
// new state.
void Dispatcher::close_calls(const std::vector<queue::Job>& jobs) {
  auto interrupted = [](const queue::Job& j, int pages) {
    queue::AccountingRecord a;
    a.time = j.updated;
    a.direction = j.direction;
    a.job_id = j.id;
    a.number = j.number;
    a.caller = j.caller;
    a.pages = pages;
    a.pages_total = j.direction == queue::Direction::out ? j.pages : pages;
    a.outcome = "interrupted";
    a.sender = j.sender.value_or("");
    a.remote_ident = j.remote_ident;
    a.node = j.owner.value_or("");
    return a;
  };
  auto close = [this](const queue::CallRecord& c) {
    if (auto r = db_.record_call(c); !r) {
      log("job " + std::to_string(c.job) + ": the interrupted call cannot be closed: " + r.error().message);
      return false;
    }
    if (on_call && c.accounting) on_call(*c.accounting);
    return true;
  };
  int resumed = 0, closed = 0;
  for (const auto& j : jobs) {
    queue::CallRecord c;
    c.job = j.id;
    c.attempt = j.attempt;
    const bool theirs = j.owner && *j.owner != policy_.node;
    if (theirs) {
      c.events.push_back("taken over from " + *j.owner + ", whose claim ran out");
      c.expired_before = unix_now();
    }
    if (j.direction == queue::Direction::out) {
      c.accounting = interrupted(j, j.pages_done);
      if (j.pages > 0 && j.pages_done >= j.pages) {
        // Every page was confirmed before the stop: the fax went; sending it again would
        // deliver it twice.
        c.outcome = "done";
        c.state = queue::state::done;
      } else {
        // Back to ready, not retry: the sender hears nothing of a node's stop (a delayed report
        // is for the far end's failures); the pages confirmed so far are kept and not resent.
        c.state = queue::state::ready;
        c.error = theirs ? "The node " + *j.owner + " stopped during the call; it will be tried again."
                         : std::string("The node stopped during the call; it will be tried again.");
        c.retry_at = unix_now();
      }
      if (close(c)) ++resumed;
      continue;
    }
    // A reception cut short: the call is gone; keep what pages reached the spool. Another
    // node's (it died): the pages the store holds of it, if any; those still in that node's spool
    // are not here (it recorded the reception's pages only at its end).
    bool have = true;  // a file to read the pages from (another node's: only the store's)
    if (theirs) {
      auto f = queue::fetch_document(db_, spool_.dir(), spool_.received_path(j.id));
      if (!f && queue::fetch_transient(f.error())) {
        log("job " + std::to_string(j.id) + ": " + f.error().message + "; closed later");
        continue;
      }
      have = bool(f);  // (a store that shares none: this spool is the only one)
    }
    int pages = 0;
    if (have) {
      // Pages T.30 had confirmed but the page writer had not appended yet (page_writer.hpp).
      if (auto r = PageWriter::recover(spool_.received_path(j.id)); !r) {
        log("job " + std::to_string(j.id) + ": received pages could not be recovered: " + r.error());
      }
      auto info = imaging::inspect_tiff(spool_.received_path(j.id));
      std::error_code ec;
      std::filesystem::remove(fax::scratch_file(spool_.received_path(j.id)), ec);  // spandsp's, cut with it
      pages = info ? int(info->pages.size()) : 0;
    }
    // The pages kept go to a store that shares documents, for the node that mails them; not
    // shared, the reception stays open until the next start. Another node's were fetched from
    // the store (nothing to put); this node's own only while the reception is still its own (a
    // node that took it over meanwhile has closed it with the store's pages).
    if (pages > 0 && !theirs) {
      const std::string path = spool_.received_path(j.id);
      auto s = j.owner ? queue::share_reception(db_, spool_.dir(), path, j.id, *j.owner)
                       : queue::share_document(db_, spool_.dir(), path);
      if (!s) {
        log("job " + std::to_string(j.id) + ": " + s.error().message);
        continue;
      }
    }
    c.accounting = interrupted(j, pages);
    // Pages or not, the route's mailbox hears of the call (the fax, or a missed-fax notice),
    // as after any other call; with no page the job then ends failed.
    if (pages > 0) c.transfer = queue::CallRecord::Transfer{pages, pages, 0, j.remote_ident};
    c.state = queue::state::delivering;
    c.error = (theirs ? "The node " + *j.owner + " stopped during the reception" : std::string("The node stopped during the reception")) +
              (pages > 0 ? "; " + std::to_string(pages) + " page(s) were kept."
               : theirs  ? std::string("; no page reached the store.")
                         : std::string("; no page had arrived."));
    if (close(c)) ++closed;
  }
  if (resumed) log("resuming " + std::to_string(resumed) + " job(s) interrupted while sending");
  if (closed) log("closed " + std::to_string(closed) + " reception(s) interrupted by a stop");
  if ((resumed || closed) && on_outcome) on_outcome();
}

// Every lease_s / 3: this node is alive, its claims hold (a node that stops renewing has its
// calls taken over once lease_s has passed).
void Dispatcher::renew_leases() {
  if (stopped_) return;
  lease_timer_.expires_after(std::chrono::seconds(std::max(1, policy_.lease_s / 3)));
  lease_timer_.async_wait([this](std::error_code ec) {
    if (ec || stopped_) return;
    asio::post(store_, [this] {
      if (auto r = db_.renew_leases(policy_.node, unix_now(), unix_now() + policy_.lease_s); !r) {
        log("the claims of " + policy_.node + " cannot be renewed: " + r.error().message);
      }
      // Another node's calls whose claim ran out: that node is gone; its jobs go on here.
      if (auto dead = db_.to_take_over(policy_.node, unix_now()); !dead) {
        log("other nodes' calls cannot be read: " + dead.error().message);
      } else if (!dead->empty()) {
        close_calls(*dead);
        poke();
      }
      // Messages a dead node accepted and had not rendered: rendered here.
      if (auto left = db_.take_over_messages(policy_.node, unix_now(), unix_now() + policy_.lease_s); !left) {
        log("other nodes' messages cannot be read: " + left.error().message);
      } else if (!left->empty()) {
        log("taking over " + std::to_string(left->size()) + " message(s) left unrendered by a node that stopped");
        if (on_unrendered) on_unrendered(*left);
      }
    });
    renew_leases();
  });
}

void Dispatcher::stop() {
  stopped_ = true;
  timer_.cancel();
  lease_timer_.cancel();
}

void Dispatcher::poke() {
  asio::post(io_, [this] {
    if (!polling_) schedule(std::chrono::milliseconds(0));
  });
}

void Dispatcher::schedule(std::chrono::milliseconds after) {
  if (stopped_) return;
  timer_.expires_after(after);
  timer_.async_wait([this](std::error_code ec) {
    if (!ec) poll();
  });
}

void Dispatcher::poll() {
  if (stopped_ || polling_) return;
  int free = std::max(0, calls_.free_channels() - taking_);
  // No channel free: nothing to take, but on a shared store the jobs waiting for one are counted
  // (waiting()), for this node's grants to grow.
  if (free == 0 && !policy_.count_waiting) {
    schedule(std::chrono::seconds(1));
    return;
  }
  polling_ = true;
  auto room = calls_.room();  // a snapshot: the store thread must not touch FaxCalls
  asio::post(store_, [this, free, room]() mutable {
    std::vector<queue::Job> take;
    std::vector<int> waiting(room.size(), 0);  // per trunk: due jobs this round could not take
    if (policy_.budget && policy_.budget_sync_s > 0 && unix_now() >= budget_synced_ + policy_.budget_sync_s) {
      if (auto calls = db_.budget_calls_since(unix_now() - CallBudget::kDay)) {
        policy_.budget->reset_from(*calls);
        budget_synced_ = unix_now();
      } else {
        log("daily caps: the calls of the other nodes cannot be read: " + calls.error().message);
      }
    }
    // Busy numbers: calls in progress count against calls_per_number.
    // Senders' calls in progress count against their share.
    std::map<std::string, int> busy, load;
    if (auto sending = db_.jobs({std::string(queue::state::sending), queue::Direction::out, std::nullopt, 0})) {
      for (const auto& j : *sending) {
        ++busy[j.number];
        ++load[j.sender.value_or("")];
      }
    }
    // Look further than `free`: jobs to a busy number are passed over, not counted.
    const int64_t now = unix_now();
    auto ready = db_.next_ready(now, free * 4 + 16);
    if (ready) {
      queue::fair_order(*ready, load);
      const auto dialing = dialing_.get();
      for (auto& j : *ready) {
        if (int(take.size()) >= free) {  // no channel left: only counted
          if (!policy_.count_waiting) break;
          if (busy[j.number] >= policy_.calls_per_number) continue;
          if (auto trunks = serving(room, j.number); !trunks.empty()) ++waiting[trunks.front()];
          continue;
        }
        if (*dialing) {
          if (auto v = address::check_number(**dialing, j.number); !v.allowed) {
            refuse(j, v.reason);
            continue;
          }
        }
        if (busy[j.number] >= policy_.calls_per_number) continue;
        std::string budget_key;
        if (policy_.budget) {
          auto key = budget_sender_of(j);
          if (!key) continue;  // its message cannot be read now: next round
          budget_key = std::move(*key);
          if (auto why = policy_.budget->check(budget_key, pages_to_send(j), now)) {
            refuse(j, *why, "over_cap");
            continue;
          }
        }
        if (const SendingWindow* w = window_for(policy_.windows, j.number)) {
          if (auto opens = closed_until(*w, now)) {  // not now: due when the window opens
            queue::logged(db_.postpone_waiting(
                j.id, j.attempt, *opens, "waiting for the sending window, which opens at " + queue::format_utc(*opens)));
            continue;
          }
        }
        // Per trunk: only when a trunk serving the number has a free channel (a job for a full
        // trunk waits its turn instead of failing with "no free channel"). A number no trunk
        // serves is taken, to fail with that reason.
        auto trunks = serving(room, j.number);
        auto t = std::find_if(trunks.begin(), trunks.end(), [&](size_t i) { return room[i].free > 0; });
        if (!trunks.empty() && t == trunks.end()) {
          ++waiting[trunks.front()];
          continue;
        }
        // Rendered by another node: its pages from the store first (the store unreachable: not
        // dialled now; the document missing: dialled, and the call fails for want of pages).
        if (auto f = queue::fetch_document(db_, spool_.dir(), spool_.fax_path(j.id)); !f) {
          log("job " + std::to_string(j.id) + ": " + f.error().message +
              (queue::fetch_transient(f.error()) ? "; not dialled yet" : ""));
          if (queue::fetch_transient(f.error())) continue;
        }
        auto claimed = db_.claim(j.id, policy_.node, now + policy_.lease_s, policy_.calls_per_number);
        if (!claimed) log("job " + std::to_string(j.id) + ": cannot be claimed: " + claimed.error().message);
        if (claimed && *claimed) {
          j.attempt = **claimed;
          j.state = queue::state::sending;
          // The job's pages are reserved as it is dialled (jobs dialled while others are in
          // progress must not all fit into the same room); corrected when the call ends.
          if (policy_.budget) {
            policy_.budget->take(now, budget_key, pages_to_send(j));
            budget_keys_[j.id] = budget_key;  // the call's pages are corrected under the same key
          }
          if (t != trunks.end()) --room[*t].free;
          ++busy[j.number];
          take.push_back(j);
        }
      }
    }
    asio::post(io_, [this, take = std::move(take), waiting = std::move(waiting)]() mutable {
      polling_ = false;
      waiting_ = std::move(waiting);
      for (const auto& j : take) {
        // A partial send resumes at the first page not confirmed (dsn-and-status.md: pages the
        // far end confirmed are not sent again).
        int first = j.pages > 0 && j.pages_done < j.pages ? j.pages_done : 0;
        OutboundFax f{j.id, j.number, j.subaddress, spool_.fax_path(j.id), first, {}};
        // Each confirmed page is committed as it comes: after a crash mid-call the job resumes
        // after it (at most the page in flight is sent again).
        f.on_page = [this, id = j.id, attempt = j.attempt, total = j.pages, first](int n) {
          asio::post(store_, [this, id, attempt, total, done = first + n] {
            if (auto r = db_.confirm_pages(id, attempt, total, done); !r) {
              log("job " + std::to_string(id) + ": page " + std::to_string(done) + " confirmed but not recorded: " +
                  r.error().message);
            }
          });
        };
        if (first > 0) log("job " + std::to_string(j.id) + ": resuming at page " + std::to_string(first + 1));
        calls_.send(f, [this, j](CallResult r) { asio::post(store_, [this, j, r] { record(j, r); }); });
      }
      schedule(std::chrono::seconds(take.empty() ? 1 : 0));
    });
  });
}

// A job the dialling policy refuses now: failed without a call (no dial, no accounting line),
// its sender told 5.7.1 (report.hpp "not_allowed"). On the store thread.
void Dispatcher::refuse(const queue::Job& job, const std::string& why, const std::string& outcome) {
  const std::string error = "Not dialled: " + why +
                            (outcome == "not_allowed" ? " (the dialling policy as it is now)." : ".");
  // Only while it waits: a job another node has claimed meanwhile is that node's call.
  if (!queue::logged(db_.refuse_waiting(job.id, job.attempt, outcome, error))) return;
  log("job " + std::to_string(job.id) + " to " + job.number + ": " + error + " -> failed");
  if (on_outcome) on_outcome();
}

std::optional<std::string> Dispatcher::budget_sender_of(const queue::Job& j) {
  const DailyCaps& caps = policy_.budget->caps();
  std::optional<std::string> auth;
  if (j.message_id && (caps.sender_calls > 0 || caps.sender_pages > 0)) {  // (else the key is not looked at)
    auto m = db_.message(*j.message_id);
    if (!m) return std::nullopt;
    auth = m->auth_user;
  }
  return budget_sender(j.sender.value_or(""), auth);
}

void Dispatcher::record(const queue::Job& job, const CallResult& r) {
  const int64_t id = job.id;
  queue::CallRecord c;
  c.job = id;
  c.attempt = job.attempt;
  int dials = job.dials, tries = job.tries;  // as they will be with this call (decide())
  bool reached = r.outcome == Outcome::done || r.outcome == Outcome::t30_failure || r.outcome == Outcome::partial;
  if (reached) {
    c.add_try = true;
    ++tries;
  } else if (r.outcome == Outcome::busy || r.outcome == Outcome::no_answer || r.outcome == Outcome::congestion) {
    c.add_dial = true;
    ++dials;
  }
  if (policy_.budget) {
    auto key = budget_keys_.find(job.id);
    if (key != budget_keys_.end()) {
      policy_.budget->add_pages(unix_now(), key->second, r.pages_sent - pages_to_send(job));
      budget_keys_.erase(key);
    }
  }
  // This call's pages count from where it started: confirmed pages add to the earlier ones.
  const int before = job.pages > 0 && job.pages_done < job.pages ? job.pages_done : 0;
  if (r.pages_total > 0 || r.pages_sent > 0) {
    c.transfer = queue::CallRecord::Transfer{std::max(before + r.pages_total, before + r.pages_sent),
                                             before + r.pages_sent, r.bad_rows,
                                             r.remote_ident.empty() ? std::nullopt
                                                                    : std::optional<std::string>(r.remote_ident)};
  }
  std::string event = "call via " + (r.trunk.empty() ? std::string("no trunk") : r.trunk) +
                      (r.media.media.empty() ? "" : " over " + r.media.media) + ": " + std::string(to_string(r.outcome));
  if (r.pages_total) event += ", " + std::to_string(r.pages_sent) + " of " + std::to_string(r.pages_total) + " pages";
  if (r.bad_rows) event += ", " + std::to_string(r.bad_rows) + " bad rows";
  if (!r.reason.empty()) event += " (" + r.reason + ")";
  if (!r.media.detected_by.empty()) event += "; fax recognised: " + r.media.detected_by;
  if (r.media.restarts) event += "; T.30 restarted " + std::to_string(r.media.restarts) + " time(s) by a change of media";
  if (!r.media.note.empty()) event += "; " + r.media.note;
  c.events.push_back(event);
  c.media = r.media.media;
  c.detected_by = r.media.detected_by;
  CallResult final = r;
  final.outcome = effective_outcome(r, job);
  Decision d = decide(final, job, dials, tries, unix_now(), policy_);
  // The outcome class, for the sender's report (report.hpp): "no answer" → "no_answer".
  std::string outcome = d.expired ? "expired" : std::string(to_string(final.outcome));
  for (char& ch : outcome) ch = ch == ' ' ? '_' : char(std::tolower(static_cast<unsigned char>(ch)));
  if (final.outcome == Outcome::t30_failure) outcome = "t30_failure";
  if (final.outcome == Outcome::partial) outcome = "partial";
  if (final.outcome == Outcome::t38_refused && !d.expired) outcome = "t38_refused";
  c.outcome = outcome;
  c.state = d.state;
  if (!d.error.empty()) c.error = d.error;
  c.retry_at = d.retry_at;
  queue::AccountingRecord a;
  a.time = unix_now() - r.seconds;
  a.direction = queue::Direction::out;
  a.job_id = id;
  a.number = job.number;
  a.caller = job.caller;
  a.trunk = r.trunk;
  a.media = r.media.media;
  if (!r.media.detected_by.empty()) a.detected_by = r.media.detected_by;
  a.pages = before + r.pages_sent;
  a.pages_total = std::max(job.pages, before + r.pages_total);
  a.bit_rate = r.bit_rate;
  a.duration = r.seconds;
  a.outcome = outcome;
  a.sender = job.sender.value_or("");
  if (!r.remote_ident.empty()) a.remote_ident = r.remote_ident;
  a.node = policy_.node;
  a.sip_status = r.sip_status;
  for (const auto& p : r.pages) a.page_results.push_back({before + p.number, p.rows, p.bad_rows});
  c.accounting = a;
  const std::string done_line = "job " + std::to_string(id) + " to " + job.number + ": " + event + " -> " + d.state +
                                (r.media.stats.empty() ? "" : "; " + r.media.stats);
  persist(std::move(c), [this, job, event, a, done_line](const queue::StoreStatus& st) {
    if (st) {
      log(done_line);
      if (on_call) on_call(a);
    } else {
      // Cancelled during the call (a final job keeps its state: the outcome stays an event and
      // the call is accounted), or taken over by another node (a stale attempt: that node has
      // accounted the call as interrupted): nothing else of the job changes.
      auto now = db_.job(job.id);
      const bool cancelled = now && queue::is_final_state(now->state) && now->attempt == job.attempt;
      log("job " + std::to_string(job.id) + " to " + job.number + ": " + event + "; not recorded: " + st.error().message);
      queue::logged(db_.add_event(job.id, cancelled ? event : event + " (not recorded: " + st.error().message + ")"));
      if (cancelled) {
        if (auto ac = db_.add_accounting(a); !ac) log("accounting: " + ac.error().message);
        else if (on_call) on_call(a);
      }
    }
    if (on_outcome) on_outcome();
    poke();
  });
}

// A call's record must not be lost while the store is busy or away: tried again every 2 s
// until it holds or is refused for good (a conflict: the job is final or was taken over).
// On the store thread; `then` runs there with the final status.
void Dispatcher::persist(queue::CallRecord c, std::function<void(const queue::StoreStatus&)> then) {
  auto st = db_.record_call(c);
  if (st || st.error().code == queue::StoreErrc::conflict || st.error().code == queue::StoreErrc::invalid ||
      st.error().code == queue::StoreErrc::not_found) {
    then(st);
    return;
  }
  log("job " + std::to_string(c.job) + ": the call's outcome cannot be recorded yet (" + st.error().message +
      "); trying again");
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(2));
  timer->async_wait([this, timer, c = std::move(c), then = std::move(then)](std::error_code) mutable {
    asio::post(store_, [this, c = std::move(c), then = std::move(then)]() mutable { persist(std::move(c), std::move(then)); });
  });
}

}  // namespace gateway
