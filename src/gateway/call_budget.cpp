// call_budget.cpp — rolling 24-hour counts of outbound calls and pages (see call_budget.hpp).
#include "gateway/call_budget.hpp"

#include <algorithm>
#include <cctype>

namespace gateway {

std::string budget_sender(std::string_view mail_from, const std::optional<std::string>& auth_user) {
  if (auth_user) return "AUTH:" + *auth_user;
  std::string s(mail_from);
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void CallBudget::expire(int64_t now) {
  while (!entries_.empty() && entries_.front().time <= now - kDay) {
    const Entry& e = entries_.front();
    total_.calls -= e.calls;
    total_.pages -= e.pages;
    auto it = by_sender_.find(e.sender);
    if (it != by_sender_.end()) {
      it->second.calls -= e.calls;
      it->second.pages -= e.pages;
      if (it->second.calls <= 0 && it->second.pages <= 0) by_sender_.erase(it);
    }
    entries_.pop_front();
  }
}

void CallBudget::take(int64_t time, const std::string& sender, int pages) {
  std::lock_guard lock(mu_);
  // Kept in time order: a seeded record older than the newest goes in its place.
  auto it = entries_.end();
  while (it != entries_.begin() && std::prev(it)->time > time) --it;
  entries_.insert(it, Entry{time, sender, 1, pages});
  total_.calls += 1;
  total_.pages += pages;
  auto& s = by_sender_[sender];
  s.calls += 1;
  s.pages += pages;
}

void CallBudget::reset_from(const std::vector<queue::JobStore::BudgetCall>& calls) {
  CallBudget fresh(caps_);
  std::map<int64_t, int> before;  // per job: confirmed pages after the calls counted so far
  for (const auto& c : calls) {
    const std::string sender = budget_sender(c.sender, c.auth_user);
    if (c.in_progress) {
      fresh.take(c.time, sender, c.pages);
      continue;
    }
    int& had = before[c.job_id];
    fresh.take(c.time, sender, std::max(0, c.pages - had));
    had = std::max(had, c.pages);
  }
  std::lock_guard lock(mu_);
  entries_ = std::move(fresh.entries_);
  total_ = fresh.total_;
  by_sender_ = std::move(fresh.by_sender_);
}

void CallBudget::add_pages(int64_t time, const std::string& sender, int pages) {
  if (pages == 0) return;
  std::lock_guard lock(mu_);
  entries_.push_back(Entry{time, sender, 0, pages});
  total_.pages += pages;
  by_sender_[sender].pages += pages;
}

std::optional<std::string> CallBudget::check(const std::string& sender, int pages, int64_t now) {
  std::lock_guard lock(mu_);
  expire(now);
  const Usage mine = by_sender_.count(sender) ? by_sender_[sender] : Usage{};
  const std::string who = sender.empty() ? "the null sender" : "this sender";
  if (caps_.calls > 0 && total_.calls + 1 > caps_.calls) {
    return "the daily cap of " + std::to_string(caps_.calls) + " fax calls is reached";
  }
  if (caps_.sender_calls > 0 && mine.calls + 1 > caps_.sender_calls) {
    return "the daily cap of " + std::to_string(caps_.sender_calls) + " fax calls for " + who + " is reached";
  }
  // At RCPT (pages 0) a cap already used up refuses; at dial time the job's pages must fit.
  if (caps_.pages > 0 && (pages > 0 ? total_.pages + pages > caps_.pages : total_.pages >= caps_.pages)) {
    return "the daily cap of " + std::to_string(caps_.pages) + " fax pages would be passed (" +
           std::to_string(total_.pages) + " sent in the last 24 hours)";
  }
  if (caps_.sender_pages > 0 && (pages > 0 ? mine.pages + pages > caps_.sender_pages : mine.pages >= caps_.sender_pages)) {
    return "the daily cap of " + std::to_string(caps_.sender_pages) + " fax pages for " + who + " would be passed (" +
           std::to_string(mine.pages) + " sent in the last 24 hours)";
  }
  return std::nullopt;
}

CallBudget::Usage CallBudget::used(int64_t now) {
  std::lock_guard lock(mu_);
  expire(now);
  return total_;
}

CallBudget::Usage CallBudget::used_by(const std::string& sender, int64_t now) {
  std::lock_guard lock(mu_);
  expire(now);
  auto it = by_sender_.find(sender);
  return it == by_sender_.end() ? Usage{} : it->second;
}

}  // namespace gateway
