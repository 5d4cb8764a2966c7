// hourly_counts.hpp — counts per key over a sliding hour: how many messages or recipients a
// sender has sent (the SMTP intake), how many missed-call notices a caller has caused (the
// OnRamp). A key whose hour is empty is forgotten, so the map holds only the last hour's keys.
// THREADS: safe from any thread.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace gateway {

class HourlyCounts {
 public:
  using Clock = std::chrono::steady_clock;
  // Adds `amount` for `key` and returns true when the key's last hour plus it stays within
  // `limit` (limit <= 0: no limit); else counts nothing and returns false.
  bool allow(const std::string& key, int limit, int amount, Clock::time_point now);
  int used(const std::string& key, Clock::time_point now);

 private:
  void expire(Clock::time_point now);  // with mu_ held

  std::mutex mu_;
  std::map<std::string, std::vector<std::pair<Clock::time_point, int>>> seen_;
  Clock::time_point last_sweep_{};
};

}  // namespace gateway
