// trunk_addresses.hpp — where each trunk's uri leads, kept current: the RFC 3263 location
// (sip/locate.hpp) found at start-up, looked up again when its TTL runs out, and which of its
// addresses answer OPTIONS.
//
// STANDARDS: RFC 3263 §4 (the location), §4.3 (a request tries the addresses in order — the
// order drawn per request by order(), addresses known to be down last); RFC 1035 TTLs (a
// location is looked up again after its smallest TTL, at least kMinRelocate, at most
// kMaxRelocate apart).
// BEHAVIOUR: a numeric host is never looked up again. A lookup that failed, wholly or in part
// (Location::incomplete: a timeout or SERVFAIL, not "no such records"), keeps the addresses the
// trunk had — a DNS outage does not take a working trunk down or swap its SBCs for the domain's
// web server — and is tried again after kRelocateRetry; a trunk that had no address takes what
// such a lookup found. A trunk without any address is skipped by failover (fax_calls) and shown
// down by the API. Addresses are kept in a canonical order (group, priority, address), so DNS
// servers that rotate their answers change nothing; changed(i) is called on the io thread when
// the set of trunk i's addresses changed.
// THREADS: the io_context's thread only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <asio.hpp>

#include "sip/dns.hpp"
#include "sip/locate.hpp"

namespace gateway {

inline constexpr std::chrono::seconds kMinRelocate{10};
inline constexpr std::chrono::seconds kMaxRelocate{3600};
inline constexpr std::chrono::seconds kRelocateRetry{30};
inline constexpr std::chrono::seconds kStartupDns{5};  // locate_all_now()'s limit

class TrunkAddresses {
 public:
  struct Entry {
    std::string name;        // the trunk's, for the log
    sip::Uri uri;            // what is located
    sip::Location location;  // as found at start-up (may be empty, with its error)
  };
  TrunkAddresses(asio::io_context& io, std::vector<Entry> trunks, std::function<void(size_t)> changed,
                 std::function<void(const std::string&)> log);
  ~TrunkAddresses();
  void start();  // arms the lookups
  void stop();
  // SIGHUP (trunk reload): a trunk added at the end, its lookups armed if started. Returns its index.
  size_t add(Entry trunk);
  // SIGHUP: a trunk gone from the configuration is looked up no more (its addresses stay known).
  void retire(size_t trunk);
  void revive(size_t trunk);  // back in the configuration: looked up again

  [[nodiscard]] const std::vector<sip::Target>& targets(size_t trunk) const { return trunks_[trunk]->location.targets; }
  // The order one request tries trunk `trunk`'s addresses in (empty: none known); addresses
  // whose OPTIONS went unanswered come last.
  [[nodiscard]] std::vector<sip::Address> order(size_t trunk);
  // The first address of the best record (group, priority, then the lowest address).
  [[nodiscard]] std::optional<sip::Address> first(size_t trunk) const;
  // After `a`, in canonical order, wrapping (a registration moving on from a dead registrar).
  [[nodiscard]] std::optional<sip::Address> after(size_t trunk, const sip::Address& a) const;
  // Whether `ip` is an address of trunk `trunk` (or of any trunk when trunk is npos).
  [[nodiscard]] bool contains(const std::string& ip, size_t trunk = std::string::npos) const;
  [[nodiscard]] bool has(size_t trunk, const sip::Address& a) const;
  // Why trunk `trunk` has no address ("" when it has), or the last lookup's failure.
  [[nodiscard]] const std::string& error(size_t trunk) const { return trunks_[trunk]->error; }
  // Trunk `trunk`'s addresses as "192.0.2.1:5060/UDP", in canonical order (for the API).
  [[nodiscard]] std::vector<std::string> describe(size_t trunk) const;
  // OPTIONS health of one address (fax_calls pings each); all_down: every address is down.
  void set_down(size_t trunk, const sip::Address& a, bool down);
  [[nodiscard]] bool all_down(size_t trunk) const;
  [[nodiscard]] bool is_down(size_t trunk, const sip::Address& a) const { return trunks_[trunk]->down.count(a) > 0; }

 private:
  struct State {
    explicit State(asio::io_context& io) : timer(io) {}
    Entry entry;
    sip::Location location;
    std::string error;
    std::set<sip::Address> down;
    bool dynamic = false;  // a name: looked up again
    bool busy = false;
    bool retired = false;
    asio::steady_timer timer;
  };
  void schedule(size_t i, std::chrono::seconds after);
  void arm(size_t i);
  void relocate(size_t i);

  asio::io_context& io_;
  std::vector<std::unique_ptr<State>> trunks_;
  std::function<void(size_t)> changed_;
  std::function<void(const std::string&)> log_;
  std::unique_ptr<sip::Dns> dns_;  // made at start() when some trunk needs it
  std::mt19937 rng_{std::random_device{}()};
  bool stopped_ = false;
  bool started_ = false;
};

// RFC 3263 locations of `uris`, looked up together and waited for at most `limit` (at start-up,
// before the io_context runs); one not found in time comes back empty, its error saying so.
[[nodiscard]] std::vector<sip::Location> locate_all_now(const std::vector<sip::Uri>& uris,
                                                        std::chrono::seconds limit = kStartupDns);

}  // namespace gateway
