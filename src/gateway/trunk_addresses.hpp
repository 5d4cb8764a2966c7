// trunk_addresses.hpp — where each trunk's uri leads, kept current: the RFC 3263 location
// (sip/locate.hpp) found at start-up, looked up again when its TTL runs out.
//
// STANDARDS: RFC 3263 §4 (the location), §4.3 (a request tries the addresses in order — the
// order drawn per request by order()); RFC 1035 TTLs (a location is looked up again after its
// smallest TTL, at least kMinRelocate, at most kMaxRelocate apart).
// BEHAVIOUR: a numeric host is never looked up again. A failed lookup keeps the addresses it had
// (a DNS outage does not take a working trunk down) and is tried again after kRelocateRetry;
// a trunk that never had an address has none until a lookup gives it one (failover skips it,
// the API shows why). changed(i) is called on the io thread after trunk i's addresses changed.
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

  [[nodiscard]] const std::vector<sip::Target>& targets(size_t trunk) const { return trunks_[trunk]->location.targets; }
  // The order one request tries trunk `trunk`'s addresses in (empty: none known).
  [[nodiscard]] std::vector<sip::Address> order(size_t trunk);
  // The first address of the best record (for OPTIONS pings and registrations).
  [[nodiscard]] std::optional<sip::Address> first(size_t trunk) const;
  // Whether `ip` is an address of trunk `trunk` (or of any trunk when trunk is npos).
  [[nodiscard]] bool contains(const std::string& ip, size_t trunk = std::string::npos) const;
  // Why trunk `trunk` has no address ("" when it has), or the last lookup's failure.
  [[nodiscard]] const std::string& error(size_t trunk) const { return trunks_[trunk]->error; }
  // Trunk `trunk`'s addresses as "192.0.2.1:5060/UDP", in record order (for the API).
  [[nodiscard]] std::vector<std::string> describe(size_t trunk) const;

 private:
  struct State {
    explicit State(asio::io_context& io) : timer(io) {}
    Entry entry;
    sip::Location location;
    std::string error;
    bool dynamic = false;  // a name: looked up again
    bool busy = false;
    asio::steady_timer timer;
  };
  void schedule(size_t i, std::chrono::seconds after);
  void relocate(size_t i);

  asio::io_context& io_;
  std::vector<std::unique_ptr<State>> trunks_;
  std::function<void(size_t)> changed_;
  std::function<void(const std::string&)> log_;
  std::unique_ptr<sip::Dns> dns_;  // made at start() when some trunk needs it
  std::mt19937 rng_{std::random_device{}()};
  bool stopped_ = false;
};

// RFC 3263 location of `uri`, waited for (at start-up, before the io_context runs).
[[nodiscard]] sip::Location locate_now(const sip::Uri& uri);

}  // namespace gateway
