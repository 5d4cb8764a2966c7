// front_door.hpp — who may make our SIP stack do work, decided from the source address before a
// byte is parsed or any state is made. Sans I/O.
//
// Scanners (sipvicious' svmap/svwar/svcrack, "friendly-scanner") knock on every public port 5060
// all day; a flood of INVITEs must neither fill the call table nor slow the thread that times
// every fax. So:
// - A request from a trusted source (a trunk's host or its accept_from: the `trusted` predicate)
//   goes on, up to kTrustedRate datagrams a second per source with a burst of kTrustedBurst
//   (beyond: dropped; UDP retransmission brings it back).
// - A request from anyone else makes no transaction and gets no 100: with `reject`, the first one
//   of each kRefusalWindow from that address gets one stateless 403 (so a misconfigured peer
//   learns why) and the rest are dropped; with `drop`, nothing is sent at all. The 403 goes to the
//   datagram's source (not Via's), at most once a window: we reflect nothing of volume.
// - Responses from anyone go on (they can only match our own transactions, whose branches are
//   random; a redirect target answers from an address no trunk names).
// - One log line per refused source per window, naming it first (fail2ban-friendly):
//   "sip: refused <ip>: <n> request(s) from a source that is not a trunk (<method>)".
// LIMITS: kMaxSources addresses tracked (refused or rate-limited); when full, the untracked are
// dropped silently until the window turns over. Source checks are by IP only (ports change
// behind NAT).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sip/transaction.hpp"

namespace sip {

inline constexpr std::chrono::seconds kRefusalWindow{60};
inline constexpr double kTrustedRate = 2000;   // datagrams a second per trusted source
inline constexpr double kTrustedBurst = 4000;
inline constexpr size_t kMaxSources = 65536;

enum class UnknownSources { reject, drop };

struct FrontDoorConfig {
  std::function<bool(const std::string& ip)> trusted;  // unset: everyone is trusted (tests, fax_peer)
  UnknownSources unknown = UnknownSources::reject;
  std::function<void(const std::string& line)> log;   // unset: no log
};

struct FrontDoorStats {
  uint64_t refused = 0;       // stateless 403s sent
  uint64_t dropped = 0;       // datagrams dropped unseen (untrusted beyond the first, or `drop`)
  uint64_t rate_limited = 0;  // trusted datagrams over their rate
};

class FrontDoor {
 public:
  explicit FrontDoor(FrontDoorConfig cfg) : cfg_(std::move(cfg)) {}
  enum class Verdict { pass, refuse, drop };
  // What to do with these bytes from `from`: pass to the transaction layer; refuse (the window's
  // first datagram from an untrusted source: parse it, and if it is a request other than ACK
  // answer a stateless 403, then note_refused()); or drop unseen.
  Verdict admit(std::string_view bytes, const Address& from, Time now);
  // The 403 was sent for this method (for the log line).
  void note_refused(const Address& from, std::string_view method);
  const FrontDoorStats& stats() const { return stats_; }
  size_t sources() const { return sources_.size(); }
  bool trusted(const std::string& ip) const { return !cfg_.trusted || cfg_.trusted(ip); }

 private:
  struct Source {
    Time window_start{};
    uint64_t count = 0;       // untrusted: requests seen this window
    bool answered = false;    // untrusted: the window's one datagram was read
    std::string method;       // untrusted: the first request's method
    double tokens = kTrustedBurst;  // trusted: the bucket
    Time refilled{};
  };
  void sweep(Time now);
  Source* track(const std::string& ip, Time now);
  void log_window(const std::string& ip, const Source& s);

  FrontDoorConfig cfg_;
  std::unordered_map<std::string, Source> sources_;
  Time next_sweep_{};
  FrontDoorStats stats_;
};

}  // namespace sip
