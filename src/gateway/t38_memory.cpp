// t38_memory.cpp — destinations where T.38 did not work (see t38_memory.hpp).
#include "gateway/t38_memory.hpp"

#include <algorithm>

namespace gateway {

std::string T38Memory::prefix_of(const std::string& number) const {
  if (digits_ <= 0) return number;
  return number.substr(0, std::min(number.size(), size_t(digits_) + (number.starts_with("+") ? 1 : 0)));
}

void T38Memory::remember(const std::string& trunk, const std::string& number, const std::string& reason, int64_t now) {
  if (keep_s_ <= 0) return;
  if (entries_.size() >= kMaxEntries) {
    auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                   [](const auto& a, const auto& b) { return a.second.since < b.second.since; });
    entries_.erase(oldest);
  }
  std::string prefix = prefix_of(number);
  entries_[{trunk, prefix}] = Entry{trunk, prefix, reason, now, now + keep_s_};
}

std::optional<T38Memory::Entry> T38Memory::recall(const std::string& trunk, const std::string& number, int64_t now) const {
  auto it = entries_.find({trunk, prefix_of(number)});
  if (it == entries_.end() || it->second.until <= now) return std::nullopt;
  return it->second;
}

std::vector<T38Memory::Entry> T38Memory::entries(int64_t now) const {
  std::vector<Entry> out;
  for (const auto& [k, e] : entries_) {
    if (e.until > now) out.push_back(e);
  }
  return out;
}

}  // namespace gateway
