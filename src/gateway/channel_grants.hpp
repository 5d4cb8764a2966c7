// channel_grants.hpp — a trunk's max_channels held by all the nodes of a shared store together.
//
// ISSUE 17 / INTERFACES.md [[trunk]] max_channels: a carrier limits the calls on its trunk,
// whichever node makes or takes them; on a shared store (PostgreSQL) the limit is the cluster's.
// HOW: each node holds a grant per trunk in the store (JobStore::grant_channels, a write
// transaction that counts the other nodes' live grants), and starts a call only within its grant
// (ChannelLedger). Every `period` (and at once when an inbound call finds no room here) a node
// asks for what it needs: the calls it carries, the due jobs waiting for a channel
// (Dispatcher::waiting), the inbound calls waiting, and `spare` more for the next inbound call,
// up to max_channels; it gives back the rest. A grant is lowered here before the store hears of
// it, and raised here only after the store has granted it, so the calls a node carries never
// exceed what the store says it holds.
// A grant is not lowered while the dispatcher is taking jobs for the channels it found free.
// EXPIRY: a grant lasts lease_s ([node] lease_s) from when the store wrote it, unless renewed, so
// a node that dies frees its share within lease_s. A node that cannot renew (the store
// unreachable, or its thread held up) stops starting calls 2 s before its grant runs out,
// checked every period on the io thread whatever the store does (the calls it carries go on,
// and may then overlap with another node's new ones).
// LIMITS: every node must give a trunk the same name and max_channels, and the nodes' clocks must
// agree (as for leases). A spare one node holds is not another's: under full load a node may find
// the trunk full while another node has a channel to spare; an inbound call then gets 486.
// THREADS: sync() and want() on the io thread; the store's calls on the store executor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <asio.hpp>

#include "gateway/fax_calls.hpp"
#include "queue/job_store.hpp"

namespace gateway {

struct ChannelGrantOptions {
  std::string node;                           // [node] name
  int lease_s = 30;                           // [node] lease_s
  int spare = 1;                              // channels held beyond need, for the next inbound call
  std::chrono::milliseconds period{1000};     // between syncs
};

// The grant a node asks for on one trunk: what it carries and waits for, and its spare, within
// max_channels (a trunk gone from the configuration: its live calls only). Pure.
int channels_wanted(const FaxCalls::Channels& trunk, int waiting, int spare);

class ChannelGrants {
 public:
  // `waiting`: per trunk, the due jobs that found no free channel; `taking`: whether the
  // dispatcher is taking jobs now (both io thread).
  ChannelGrants(asio::io_context& io, asio::any_io_executor store, queue::JobStore& db, FaxCalls& calls,
                std::function<std::vector<int>()> waiting, std::function<bool()> taking, ChannelGrantOptions options);
  void start();  // FaxCalls takes calls within grants from now; this node's old grants are dropped
  void stop();   // no more syncs; this node's grants dropped (its calls are being hung up)

 private:
  void want(size_t trunk, std::function<void(FaxCalls::ChannelAnswer)> then);
  void sync();
  void applied(const std::vector<std::optional<int>>& got, int64_t expires);
  void watch();  // every period: a grant about to run out unrenewed starts no call

  asio::io_context& io_;
  asio::any_io_executor store_;
  queue::JobStore& db_;
  FaxCalls& calls_;
  std::function<std::vector<int>()> waiting_;
  std::function<bool()> taking_;
  ChannelGrantOptions opt_;
  asio::steady_timer timer_;
  asio::steady_timer watch_timer_;
  bool syncing_ = false;
  bool again_ = false;
  bool stopped_ = false;
  bool failing_ = false;                     // the last sync could not write (logged once)
  std::vector<int64_t> expires_;             // per trunk: when its grant in the store runs out
  std::vector<std::pair<size_t, std::function<void(FaxCalls::ChannelAnswer)>>> pending_;  // inbound calls waiting for a sync
};

}  // namespace gateway
