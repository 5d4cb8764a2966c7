// trunk_addresses.cpp — trunks' RFC 3263 locations, kept current (trunk_addresses.hpp).
#include "gateway/trunk_addresses.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace gateway {

namespace {

bool numeric_host(const sip::Uri& uri) {
  std::string h = uri.host;
  if (h.size() > 2 && h.front() == '[') h = h.substr(1, h.size() - 2);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

std::chrono::seconds refresh_after(uint32_t ttl) {
  return std::clamp(std::chrono::seconds(ttl), kMinRelocate, kMaxRelocate);
}

}  // namespace

TrunkAddresses::TrunkAddresses(asio::io_context& io, std::vector<Entry> trunks, std::function<void(size_t)> changed,
                               std::function<void(const std::string&)> log)
    : io_(io), changed_(std::move(changed)), log_(std::move(log)) {
  for (auto& e : trunks) {
    auto s = std::make_unique<State>(io_);
    s->location = e.location;
    s->error = e.location.targets.empty() ? e.location.error : "";
    s->dynamic = !numeric_host(e.uri) && !e.uri.host.empty();
    s->entry = std::move(e);
    trunks_.push_back(std::move(s));
  }
}

TrunkAddresses::~TrunkAddresses() { stop(); }

void TrunkAddresses::start() {
  stopped_ = false;
  for (size_t i = 0; i < trunks_.size(); ++i) {
    State& s = *trunks_[i];
    if (!s.dynamic) continue;
    if (!dns_) dns_ = std::make_unique<sip::Dns>(io_);
    schedule(i, s.location.targets.empty() ? kRelocateRetry : refresh_after(s.location.ttl));
  }
}

void TrunkAddresses::stop() {
  stopped_ = true;
  for (auto& s : trunks_) s->timer.cancel();
  dns_.reset();  // lookups in flight end without a callback
}

void TrunkAddresses::schedule(size_t i, std::chrono::seconds after) {
  State& s = *trunks_[i];
  s.timer.expires_after(after);
  s.timer.async_wait([this, i](std::error_code ec) {
    if (!ec && !stopped_) relocate(i);
  });
}

void TrunkAddresses::relocate(size_t i) {
  State& s = *trunks_[i];
  if (s.busy || !dns_) return;
  s.busy = true;
  dns_->locate(s.entry.uri, [this, i](sip::Location l) {
    State& s = *trunks_[i];
    s.busy = false;
    if (stopped_) return;
    if (l.targets.empty()) {
      // Keep what worked: a DNS outage must not take a trunk down.
      s.error = l.error;
      if (log_) {
        log_("trunk " + s.entry.name + ": DNS: " + l.error +
             (s.location.targets.empty() ? "" : "; keeping its " + std::to_string(s.location.targets.size()) + " known addresses"));
      }
      schedule(i, kRelocateRetry);
      return;
    }
    s.error.clear();
    const bool differs = l.targets != s.location.targets;
    const uint32_t ttl = l.ttl;
    s.location = std::move(l);
    if (differs) {
      if (log_) {
        std::string list;
        for (const auto& d : describe(i)) list += (list.empty() ? "" : ", ") + d;
        log_("trunk " + s.entry.name + ": " + s.entry.uri.host + " now leads to " + list);
      }
      if (changed_) changed_(i);
    }
    schedule(i, refresh_after(ttl));
  });
}

std::vector<sip::Address> TrunkAddresses::order(size_t trunk) { return sip::order_targets(targets(trunk), rng_); }

std::optional<sip::Address> TrunkAddresses::first(size_t trunk) const {
  const auto& t = targets(trunk);
  if (t.empty()) return std::nullopt;
  // The best (group, priority) record; among equals the first written.
  auto best = std::min_element(t.begin(), t.end(), [](const sip::Target& a, const sip::Target& b) {
    return a.group != b.group ? a.group < b.group : a.priority < b.priority;
  });
  return best->address;
}

bool TrunkAddresses::contains(const std::string& ip, size_t trunk) const {
  for (size_t i = 0; i < trunks_.size(); ++i) {
    if (trunk != std::string::npos && i != trunk) continue;
    for (const auto& t : trunks_[i]->location.targets)
      if (t.address.ip == ip) return true;
  }
  return false;
}

std::vector<std::string> TrunkAddresses::describe(size_t trunk) const {
  std::vector<std::string> out;
  for (const auto& t : targets(trunk)) out.push_back(t.address.to_string());
  return out;
}

sip::Location locate_now(const sip::Uri& uri) {
  asio::io_context io;
  std::optional<sip::Location> out;
  {
    sip::Dns dns(io);
    dns.locate(uri, [&](sip::Location l) { out = std::move(l); });
    // Bounded: kDnsTimeout x kDnsTries per query, kMaxQueries queries.
    while (!out && io.run_one() > 0) {
    }
  }
  if (!out) {
    sip::Location l;
    l.error = "the lookup did not finish";
    return l;
  }
  return *out;
}

}  // namespace gateway
