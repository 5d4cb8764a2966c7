// channel_ledger.cpp — trunk channels and prefixes (see channel_ledger.hpp).
#include "gateway/channel_ledger.hpp"

#include <algorithm>

namespace gateway {

std::vector<size_t> serving(const std::vector<TrunkRoom>& trunks, const std::string& number) {
  std::vector<std::pair<size_t, size_t>> match;  // (prefix length, index)
  for (size_t i = 0; i < trunks.size(); ++i) {
    size_t best = 0;
    bool any = false;
    for (const auto& p : trunks[i].prefixes) {
      if (number.starts_with(p)) {
        any = true;
        best = std::max(best, p.size());
      }
    }
    if (any) match.emplace_back(best, i);
  }
  std::stable_sort(match.begin(), match.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<size_t> out;
  for (const auto& m : match) out.push_back(m.second);
  return out;
}

ChannelLedger::ChannelLedger(std::vector<int> max_channels)
    : max_(std::move(max_channels)), in_use_(max_.size(), 0), granted_(max_.size()) {}

int ChannelLedger::limit(size_t trunk) const {
  const auto& g = granted_.at(trunk);
  return g ? std::min(*g, max_.at(trunk)) : max_.at(trunk);
}

bool ChannelLedger::try_acquire(size_t trunk) {
  if (in_use_.at(trunk) >= limit(trunk)) return false;
  ++in_use_[trunk];
  return true;
}

void ChannelLedger::release(size_t trunk) {
  if (in_use_.at(trunk) > 0) --in_use_[trunk];
}

int ChannelLedger::free(size_t trunk) const { return std::max(0, limit(trunk) - in_use_.at(trunk)); }

size_t ChannelLedger::add(int max_channels) {
  max_.push_back(max_channels);
  in_use_.push_back(0);
  granted_.push_back(granting_ ? std::optional<int>(0) : std::nullopt);
  return max_.size() - 1;
}

void ChannelLedger::use_grants() {
  granting_ = true;
  for (auto& g : granted_) {
    if (!g) g = 0;
  }
}

int ChannelLedger::free_total() const {
  int n = 0;
  for (size_t i = 0; i < max_.size(); ++i) n += free(i);
  return n;
}

}  // namespace gateway
