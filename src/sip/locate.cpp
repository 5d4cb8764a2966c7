// locate.cpp — RFC 3263 §4 server location (locate.hpp).
#include "sip/locate.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <map>

namespace sip {

const char* rr_name(RrType t) {
  switch (t) {
    case RrType::naptr: return "NAPTR";
    case RrType::srv: return "SRV";
    case RrType::a: return "A";
    case RrType::aaaa: return "AAAA";
  }
  return "A";
}

namespace {

bool numeric(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

uint16_t default_port(Transport t) { return t == Transport::tls ? 5061 : 5060; }

std::string srv_name(Transport t, bool sips, const std::string& host) {
  if (t == Transport::tls || sips) return "_sips._tcp." + host;
  return (t == Transport::udp ? "_sip._udp." : "_sip._tcp.") + host;
}

// The NAPTR services RFC 3263 §4.1 names that we speak; nullopt for any other.
std::optional<Transport> naptr_transport(const std::string& service, bool sips) {
  if (iequals(service, "SIPS+D2T")) return Transport::tls;
  if (sips) return std::nullopt;
  if (iequals(service, "SIP+D2U")) return Transport::udp;
  if (iequals(service, "SIP+D2T")) return Transport::tcp;
  return std::nullopt;
}

std::string strip_dot(std::string name) {
  if (name.size() > 1 && name.back() == '.') name.pop_back();
  return name;
}

}  // namespace

Locator::Locator(const Uri& uri) : uri_(uri) {
  host_ = uri.host;
  if (host_.size() > 2 && host_.front() == '[') host_ = host_.substr(1, host_.size() - 2);
  sips_ = uri.scheme == "sips";
  std::optional<Transport> explicit_transport;
  if (auto tp = uri.params.get("transport")) {
    if (iequals(*tp, "udp") && !sips_) explicit_transport = Transport::udp;
    else if (iequals(*tp, "tcp")) explicit_transport = sips_ ? Transport::tls : Transport::tcp;
    else if (iequals(*tp, "tls")) explicit_transport = Transport::tls;
    else {
      result_.error = uri.to_string() + ": transport " + *tp + " is not one we speak (udp, tcp, tls)";
      return;
    }
  }
  const Transport transport = explicit_transport ? *explicit_transport : sips_ ? Transport::tls : Transport::udp;
  if (host_.empty()) {
    result_.error = uri.to_string() + ": no host";
    return;
  }
  if (numeric(host_)) {
    // §4.1/4.2: a numeric host is the address; its transport is the parameter's or the default.
    Target t;
    t.address = Address{host_, uint16_t(uri.port ? uri.port : default_port(transport)), transport};
    t.host = host_;
    result_.targets.push_back(t);
    return;
  }
  fallback_transport_ = transport;
  if (uri.port) {
    // §4.2: an explicit port means no SRV, only A/AAAA.
    fallback_done_ = true;
    address_queries(host_, transport, uint16_t(uri.port), 0, {});
    stage_ = Stage::address;
  } else if (explicit_transport) {
    push(srv_name(transport, sips_, host_), RrType::srv, transport, 0, 0, {});
    stage_ = Stage::srv;
  } else {
    push(host_, RrType::naptr, transport, 0, 0, {});
    stage_ = Stage::naptr;
  }
}

void Locator::push(const std::string& name, RrType type, Transport t, uint16_t port, size_t group, const SrvRecord& srv) {
  Pending p;
  p.query.name = name;
  p.query.type = type;
  p.transport = t;
  p.port = port;
  p.group = group;
  p.srv = srv;
  queue_.push_back(std::move(p));
}

void Locator::address_queries(const std::string& host, Transport t, uint16_t port, size_t group, const SrvRecord& srv) {
  push(host, RrType::a, t, port, group, srv);
  push(host, RrType::aaaa, t, port, group, srv);
}

std::optional<DnsQuery> Locator::next() {
  if (stage_ == Stage::done) return std::nullopt;
  if (queue_.empty() && !fallback_done_) {
    fallback_done_ = true;
    if (!srv_found_ && !srv_unknown_) {
      // §4.2: no SRV records at all: the URI's host itself, on the default port.
      address_queries(host_, fallback_transport_, default_port(fallback_transport_), 0, {});
    }
  }
  if (queue_.empty() || queries_ >= kMaxQueries) {
    if (!queue_.empty()) failures_.push_back("more than " + std::to_string(kMaxQueries) + " lookups");
    queue_.clear();
    stage_ = Stage::done;
    if (result_.targets.empty()) {
      std::string why;
      for (const auto& f : failures_) why += (why.empty() ? "" : "; ") + f;
      result_.error = "no address for " + host_ + (why.empty() ? "" : " (" + why + ")");
    }
    return std::nullopt;
  }
  asked_ = queue_.front();
  queue_.erase(queue_.begin());
  ++queries_;
  return asked_->query;
}

void Locator::answer(const DnsAnswer& a) {
  if (!asked_) return;
  const Pending p = *asked_;
  asked_.reset();
  const std::string what = std::string(rr_name(p.query.type)) + " " + p.query.name;
  if (a.ttl > 0) result_.ttl = result_.ttl == 0 ? a.ttl : std::min(result_.ttl, a.ttl);
  if (!a.error.empty()) failures_.push_back(what + ": " + a.error);
  if (a.transient) {
    result_.incomplete = true;
    result_.failed.push_back(what + ": " + a.error);
    if (p.query.type == RrType::naptr || p.query.type == RrType::srv) srv_unknown_ = true;
  }
  switch (p.query.type) {
    case RrType::naptr: {
      std::vector<NaptrRecord> usable;
      for (const auto& r : a.naptr) {
        if (!iequals(r.flags, "s") || !r.regexp.empty() || r.replacement.empty() || r.replacement == ".") continue;
        if (naptr_transport(r.service, sips_)) usable.push_back(r);
      }
      std::stable_sort(usable.begin(), usable.end(), [](const NaptrRecord& x, const NaptrRecord& y) {
        return x.order != y.order ? x.order < y.order : x.preference < y.preference;
      });
      if (usable.size() > kMaxNaptr) usable.resize(kMaxNaptr);
      result_.trace += what + ": " + std::to_string(a.naptr.size()) + " records, " + std::to_string(usable.size()) + " usable\n";
      size_t group = 0;
      if (!usable.empty()) fallback_transport_ = *naptr_transport(usable.front().service, sips_);  // §4.2
      for (const auto& r : usable) {
        const Transport t = *naptr_transport(r.service, sips_);
        push(strip_dot(r.replacement), RrType::srv, t, 0, group++, {});
      }
      if (usable.empty()) {
        // §4.1: no NAPTR we can use: SRV for each transport we speak, in our order of preference.
        if (sips_) {
          push(srv_name(Transport::tls, true, host_), RrType::srv, Transport::tls, 0, 0, {});
        } else {
          push(srv_name(Transport::udp, false, host_), RrType::srv, Transport::udp, 0, 0, {});
          push(srv_name(Transport::tcp, false, host_), RrType::srv, Transport::tcp, 0, 1, {});
        }
      }
      stage_ = Stage::srv;
      break;
    }
    case RrType::srv: {
      size_t used = 0;
      for (const auto& r : a.srv) {
        if (used == kMaxSrv) break;
        const std::string target = strip_dot(r.target);
        if (target.empty() || target == ".") {
          srv_found_ = true;  // RFC 2782: "." — the service is decidedly not offered here
          continue;
        }
        if (r.port == 0) continue;
        ++used;
        srv_found_ = true;
        SrvRecord rec = r;
        rec.target = target;
        if (numeric(target)) {
          // Not allowed by RFC 2782, written by some anyway: the address as it is.
          const Address addr{target, r.port, p.transport};
          const bool seen = std::any_of(result_.targets.begin(), result_.targets.end(),
                                        [&](const Target& x) { return x.address == addr; });
          if (!seen && result_.targets.size() < kMaxTargets) {
            Target t;
            t.address = Address{target, r.port, p.transport};
            t.group = p.group;
            t.priority = r.priority;
            t.weight = r.weight;
            t.host = target;
            result_.targets.push_back(std::move(t));
          }
          continue;
        }
        address_queries(target, p.transport, r.port, p.group, rec);
      }
      result_.trace += what + ": " + (a.error.empty() ? std::to_string(used) + " targets" : a.error) + "\n";
      break;
    }
    case RrType::a:
    case RrType::aaaa: {
      size_t used = 0;
      for (const auto& ip : a.addresses) {
        if (used == kMaxAddresses || result_.targets.size() >= kMaxTargets) break;
        if (!numeric(ip)) continue;
        Target t;
        t.address = Address{ip, p.port, p.transport};
        t.group = p.group;
        t.priority = p.srv.priority;
        t.weight = p.srv.weight;
        t.host = p.query.name;
        // One address once (two SRV records may name it): failover never retries it.
        if (std::any_of(result_.targets.begin(), result_.targets.end(),
                        [&](const Target& x) { return x.address == t.address; })) {
          continue;
        }
        result_.targets.push_back(t);
        ++used;
      }
      result_.trace += what + ": " + (a.error.empty() ? std::to_string(used) + " addresses" : a.error) + "\n";
      break;
    }
  }
}

std::vector<Address> order_targets(const std::vector<Target>& targets, std::mt19937& rng) {
  // One cluster per SRV record (group, priority, host, port), in first-seen order.
  struct Cluster {
    size_t group;
    uint16_t priority;
    uint16_t weight;
    std::vector<Address> addresses;
  };
  std::vector<Cluster> clusters;
  std::map<std::tuple<size_t, uint16_t, std::string, uint16_t, Transport>, size_t> index;
  for (const auto& t : targets) {
    auto key = std::make_tuple(t.group, t.priority, t.host, t.address.port, t.address.transport);
    auto [it, fresh] = index.emplace(key, clusters.size());
    if (fresh) clusters.push_back({t.group, t.priority, t.weight, {}});
    clusters[it->second].addresses.push_back(t.address);
  }
  std::stable_sort(clusters.begin(), clusters.end(), [](const Cluster& x, const Cluster& y) {
    return x.group != y.group ? x.group < y.group : x.priority < y.priority;
  });
  std::vector<Address> out;
  for (size_t i = 0; i < clusters.size();) {
    size_t j = i;
    while (j < clusters.size() && clusters[j].group == clusters[i].group && clusters[j].priority == clusters[i].priority) ++j;
    // RFC 2782: weight-0 records first in the list, then draw by running sums of the weights.
    std::vector<Cluster*> pool;
    for (size_t k = i; k < j; ++k)
      if (clusters[k].weight == 0) pool.push_back(&clusters[k]);
    for (size_t k = i; k < j; ++k)
      if (clusters[k].weight != 0) pool.push_back(&clusters[k]);
    while (!pool.empty()) {
      uint32_t sum = 0;
      for (auto* c : pool) sum += c->weight;
      const uint32_t r = std::uniform_int_distribution<uint32_t>(0, sum)(rng);
      size_t pick = 0;
      uint32_t running = 0;
      for (; pick < pool.size(); ++pick) {
        running += pool[pick]->weight;
        if (running >= r) break;
      }
      if (pick == pool.size()) pick = pool.size() - 1;
      out.insert(out.end(), pool[pick]->addresses.begin(), pool[pick]->addresses.end());
      pool.erase(pool.begin() + long(pick));
    }
    i = j;
  }
  return out;
}

}  // namespace sip
