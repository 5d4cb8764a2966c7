// locate.hpp — RFC 3263 §4: from a SIP URI to the addresses a request is sent to, over DNS
// NAPTR, SRV and A/AAAA records. Sans I/O: a Locator asks for one query at a time and is fed its
// answer; sip/dns.hpp runs it over c-ares, and tests feed it recorded answers.
//
// STANDARDS: RFC 3263 §4.1 (transport: the URI's transport parameter; else NAPTR records whose
// service we speak — SIP+D2U, SIP+D2T, SIPS+D2T, only the last for a sips: URI — in order, then
// preference; else SRV records _sip._udp, _sip._tcp (_sips._tcp for sips:); else UDP, TLS for
// sips:), §4.2 (a numeric host or an explicit port means A/AAAA only, default port 5060/5061),
// RFC 2915 (NAPTR: only flag "s" — the replacement names SRV records — is followed; records with
// other flags or a regexp are skipped, as RFC 3263 uses none), RFC 2782 (SRV: priority ascending,
// weighted random within one priority — order_targets(), drawn per request; target "." means no
// service; port 0 is skipped). §4.2: NAPTR chose a transport whose SRV records are missing: the
// URI's host on that transport's default port. A failed query (not "no records") marks the
// location incomplete and never leads to the A/AAAA fallback. §4.3 (the next address after a timeout, a transport error or a 503) is the caller's:
// gateway/fax_calls. RFC 5922 §4: TLS checks the URI's host, not the SRV target (sip/endpoint).
// LIMITS: kMaxNaptr NAPTR and kMaxSrv SRV records per name and kMaxAddresses addresses per host
// are used; at most kMaxTargets targets in all, and kMaxQueries queries per location.
// TTL: Location::ttl is the smallest TTL of the answers that carry one (c-ares 1.18 gives A/AAAA
// TTLs only); 0 when no DNS was needed (a numeric host never changes).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sip/message.hpp"
#include "sip/transaction.hpp"

namespace sip {

inline constexpr size_t kMaxNaptr = 8;
inline constexpr size_t kMaxSrv = 8;
inline constexpr size_t kMaxAddresses = 4;
inline constexpr size_t kMaxTargets = 16;
inline constexpr size_t kMaxQueries = 40;

enum class RrType { naptr, srv, a, aaaa };
const char* rr_name(RrType t);

struct DnsQuery {
  std::string name;
  RrType type = RrType::a;
  bool operator==(const DnsQuery&) const = default;
};

struct NaptrRecord {
  uint16_t order = 0;
  uint16_t preference = 0;
  std::string flags;
  std::string service;
  std::string regexp;
  std::string replacement;
};

struct SrvRecord {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  std::string target;
};

// One query's answer. "No records" (NXDOMAIN, NODATA) and a failure (timeout, SERVFAIL) both
// leave the lists empty; error says which, for the log, and transient marks a failure (the
// records may well exist: nothing is concluded from their absence).
struct DnsAnswer {
  std::vector<NaptrRecord> naptr;
  std::vector<SrvRecord> srv;
  std::vector<std::string> addresses;  // numeric, A or AAAA
  uint32_t ttl = 0;                    // 0: not known
  std::string error;                   // "" on success (even an empty one)
  bool transient = false;              // a failure, not "no such records"
};

// One address to try, with the SRV record it came from (all zero without SRV).
struct Target {
  Address address;
  size_t group = 0;       // the NAPTR/transport rank it came from: lower first
  uint16_t priority = 0;
  uint16_t weight = 0;
  std::string host;       // the SRV target or the URI's host
  bool operator==(const Target&) const = default;
};

struct Location {
  std::vector<Target> targets;  // in record order; order_targets() draws a request's order
  uint32_t ttl = 0;
  std::string error;            // why targets is empty (e.g. "carrier.example: no A record (NXDOMAIN)")
  std::string trace;            // the queries and what they gave, one per line, for the log
  bool incomplete = false;      // some query failed (not "no records"): targets may lack some
  std::vector<std::string> failed;  // those queries: "SRV _sip._udp.carrier.example: SERVFAIL"
};

class Locator {
 public:
  explicit Locator(const Uri& uri);
  // The next query to run, or nullopt when the location is complete.
  [[nodiscard]] std::optional<DnsQuery> next();
  // The answer to the query next() returned last.
  void answer(const DnsAnswer& a);
  [[nodiscard]] const Location& result() const { return result_; }

 private:
  struct Pending {
    DnsQuery query;
    Transport transport = Transport::udp;
    uint16_t port = 0;
    size_t group = 0;
    SrvRecord srv;  // for address queries of an SRV target
  };
  void push(const std::string& name, RrType type, Transport t, uint16_t port, size_t group, const SrvRecord& srv);
  void address_queries(const std::string& host, Transport t, uint16_t port, size_t group, const SrvRecord& srv);
  void finish_srv_stage();

  Uri uri_;
  std::string host_;  // without brackets
  bool sips_ = false;
  std::vector<Pending> queue_;  // front first
  std::optional<Pending> asked_;
  enum class Stage { naptr, srv, address, done } stage_ = Stage::done;
  bool srv_found_ = false;     // some SRV name gave records (or said "."): no A/AAAA fallback
  bool srv_unknown_ = false;   // an SRV or NAPTR query failed: no fallback either (records may exist)
  bool fallback_done_ = false;  // the URI's own host was (or needs not be) looked up
  Transport fallback_transport_ = Transport::udp;
  std::vector<std::string> failures_;  // "A carrier.example: NXDOMAIN", for result_.error
  size_t queries_ = 0;
  Location result_;
};

// The order one request tries the targets in: by group, then priority, and within one priority
// the SRV records drawn by weight (RFC 2782: weight 0 rarely first); the addresses of one SRV
// target stay together, in record order.
[[nodiscard]] std::vector<Address> order_targets(const std::vector<Target>& targets, std::mt19937& rng);

}  // namespace sip
