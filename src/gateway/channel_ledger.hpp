// channel_ledger.hpp — how many calls each trunk carries now against its max_channels, and which
// trunks serve a number: the one place a call takes and gives back a channel.
//
// INTERFACES.md [[trunk]] max_channels, prefixes (longest match, then config order for failover).
// A call holds its trunk's channel from the moment it is dialled (before the INVITE leaves) or
// accepted (an inbound INVITE), until it is over; a failover gives it back and takes one on the
// next trunk.
// On a shared store several nodes carry one trunk's calls: there each trunk also has this node's
// grant (channel_grants.hpp), its share of max_channels, and a call takes a channel only within
// both. A trunk without a grant (one node alone) is limited by max_channels only.
// THREADS: the call control's thread; room() is a snapshot other threads may read.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gateway {

// Per trunk, in config order: the prefixes it serves and its free channels now.
struct TrunkRoom {
  std::vector<std::string> prefixes;
  int free = 0;
};

// Trunks that serve `number`, best first (longest matching prefix, then config order).
std::vector<size_t> serving(const std::vector<TrunkRoom>& trunks, const std::string& number);

class ChannelLedger {
 public:
  explicit ChannelLedger(std::vector<int> max_channels);
  bool try_acquire(size_t trunk);  // false when the trunk (or this node's grant) is full
  void release(size_t trunk);
  int in_use(size_t trunk) const { return in_use_.at(trunk); }
  int max(size_t trunk) const { return max_.at(trunk); }
  // This node's grant on the trunk (nullopt: none applies). A grant below the calls in use ends
  // none of them; no new one starts until they are under it.
  void set_granted(size_t trunk, std::optional<int> granted) { granted_.at(trunk) = granted; }
  // From now on every trunk, and every one added, takes calls only within its grant (0 until set).
  void use_grants();
  std::optional<int> granted(size_t trunk) const { return granted_.at(trunk); }
  int free(size_t trunk) const;
  int free_total() const;
  // SIGHUP (trunk reload): a new trunk at the end; a trunk's new max_channels (calls it carries
  // over the new max go on; no new one starts until it is under).
  size_t add(int max_channels);
  void set_max(size_t trunk, int max_channels) { max_.at(trunk) = max_channels; }

 private:
  std::vector<int> max_;
  std::vector<int> in_use_;
  std::vector<std::optional<int>> granted_;
  bool granting_ = false;
  int limit(size_t trunk) const;
};

}  // namespace gateway
