// hourly_counts.cpp — sliding-hour counts per key (see hourly_counts.hpp).
#include "gateway/hourly_counts.hpp"

namespace gateway {

void HourlyCounts::expire(Clock::time_point now) {
  if (now - last_sweep_ < std::chrono::minutes(1)) return;  // a sweep of every key at most once a minute
  last_sweep_ = now;
  const auto hour_ago = now - std::chrono::hours(1);
  for (auto it = seen_.begin(); it != seen_.end();) {
    std::erase_if(it->second, [&](const auto& e) { return e.first < hour_ago; });
    it = it->second.empty() ? seen_.erase(it) : std::next(it);
  }
}

bool HourlyCounts::allow(const std::string& key, int limit, int amount, Clock::time_point now) {
  if (limit <= 0) return true;
  std::lock_guard lock(mu_);
  expire(now);
  auto& v = seen_[key];
  const auto hour_ago = now - std::chrono::hours(1);
  std::erase_if(v, [&](const auto& e) { return e.first < hour_ago; });
  int used = 0;
  for (const auto& e : v) used += e.second;
  if (used + amount > limit) return false;
  v.emplace_back(now, amount);
  return true;
}

int HourlyCounts::used(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = seen_.find(key);
  if (it == seen_.end()) return 0;
  const auto hour_ago = now - std::chrono::hours(1);
  int used = 0;
  for (const auto& e : it->second) used += e.first < hour_ago ? 0 : e.second;
  return used;
}

}  // namespace gateway
