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
  return std::clamp(std::chrono::seconds(ttl ? ttl : kMaxRelocate.count()), kMinRelocate, kMaxRelocate);
}

// Canonical order: answers a DNS server rotates compare equal.
void canonical(sip::Location& l) {
  std::sort(l.targets.begin(), l.targets.end(), [](const sip::Target& a, const sip::Target& b) {
    return std::tie(a.group, a.priority, a.address, a.weight, a.host) <
           std::tie(b.group, b.priority, b.address, b.weight, b.host);
  });
}

}  // namespace

TrunkAddresses::TrunkAddresses(asio::io_context& io, std::vector<Entry> trunks, std::function<void(size_t)> changed,
                               std::function<void(const std::string&)> log)
    : io_(io), changed_(std::move(changed)), log_(std::move(log)) {
  for (auto& e : trunks) add(std::move(e));
}

size_t TrunkAddresses::add(Entry e) {
  auto s = std::make_unique<State>(io_);
  s->location = e.location;
  canonical(s->location);
  s->error = e.location.targets.empty() ? e.location.error : "";
  s->dynamic = !numeric_host(e.uri) && !e.uri.host.empty();
  s->entry = std::move(e);
  trunks_.push_back(std::move(s));
  if (started_ && !stopped_) arm(trunks_.size() - 1);
  return trunks_.size() - 1;
}

TrunkAddresses::~TrunkAddresses() { stop(); }

void TrunkAddresses::start() {
  stopped_ = false;
  started_ = true;
  for (size_t i = 0; i < trunks_.size(); ++i) arm(i);
}

void TrunkAddresses::arm(size_t i) {
  State& s = *trunks_[i];
  if (!s.dynamic) return;
  if (!dns_) dns_ = std::make_unique<sip::Dns>(io_);
  // No address yet (the start-up lookup failed or ran out of time): ask again at once.
  if (s.location.targets.empty()) schedule(i, std::chrono::seconds(0));
  else if (s.location.incomplete) schedule(i, kRelocateRetry);
  else schedule(i, refresh_after(s.location.ttl));
}

void TrunkAddresses::stop() {
  stopped_ = true;
  for (auto& s : trunks_) s->timer.cancel();
  dns_.reset();  // lookups in flight end without a callback
}

void TrunkAddresses::retire(size_t i) {
  trunks_[i]->retired = true;
  trunks_[i]->timer.cancel();
}

void TrunkAddresses::revive(size_t i) {
  if (!trunks_[i]->retired) return;
  trunks_[i]->retired = false;
  if (started_ && !stopped_) arm(i);
}

void TrunkAddresses::schedule(size_t i, std::chrono::seconds after) {
  State& s = *trunks_[i];
  if (s.retired) return;
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
    const bool had = !s.location.targets.empty();
    if (l.targets.empty() || (l.incomplete && had)) {
      // Keep what worked: a failed lookup proves nothing about the records.
      std::string why = l.targets.empty() ? l.error : "";
      if (!l.targets.empty()) {
        for (const auto& f : l.failed) why += (why.empty() ? "" : "; ") + f;
      }
      s.error = why;
      if (log_) {
        log_("trunk " + s.entry.name + ": DNS: " + why +
             (had ? "; keeping its " + std::to_string(s.location.targets.size()) + " known addresses" : ""));
      }
      schedule(i, kRelocateRetry);
      return;
    }
    canonical(l);
    s.error = l.incomplete ? "a lookup failed; these addresses may be only some" : "";
    const bool differs = l.targets != s.location.targets;
    const uint32_t ttl = l.ttl;
    const bool incomplete = l.incomplete;
    s.location = std::move(l);
    std::erase_if(s.down, [&](const sip::Address& a) { return !has(i, a); });
    if (differs) {
      if (log_) {
        std::string list;
        for (const auto& d : describe(i)) list += (list.empty() ? "" : ", ") + d;
        log_("trunk " + s.entry.name + ": " + s.entry.uri.host + " now leads to " + list);
      }
      if (changed_) changed_(i);
    }
    schedule(i, incomplete ? kRelocateRetry : refresh_after(ttl));
  });
}

std::vector<sip::Address> TrunkAddresses::order(size_t trunk) {
  auto out = sip::order_targets(targets(trunk), rng_);
  const auto& down = trunks_[trunk]->down;
  std::stable_partition(out.begin(), out.end(), [&](const sip::Address& a) { return !down.count(a); });
  return out;
}

std::optional<sip::Address> TrunkAddresses::first(size_t trunk) const {
  const auto& t = targets(trunk);
  if (t.empty()) return std::nullopt;
  return t.front().address;  // canonical order: the best record's lowest address
}

std::optional<sip::Address> TrunkAddresses::after(size_t trunk, const sip::Address& a) const {
  const auto& t = targets(trunk);
  if (t.empty()) return std::nullopt;
  for (size_t k = 0; k < t.size(); ++k) {
    if (t[k].address == a) return t[(k + 1) % t.size()].address;
  }
  return t.front().address;
}

bool TrunkAddresses::contains(const std::string& ip, size_t trunk) const {
  for (size_t i = 0; i < trunks_.size(); ++i) {
    if (trunk != std::string::npos && i != trunk) continue;
    for (const auto& t : trunks_[i]->location.targets)
      if (t.address.ip == ip) return true;
  }
  return false;
}

bool TrunkAddresses::has(size_t trunk, const sip::Address& a) const {
  const auto& t = targets(trunk);
  return std::any_of(t.begin(), t.end(), [&](const sip::Target& x) { return x.address == a; });
}

std::vector<std::string> TrunkAddresses::describe(size_t trunk) const {
  std::vector<std::string> out;
  for (const auto& t : targets(trunk)) out.push_back(t.address.to_string());
  return out;
}

void TrunkAddresses::set_down(size_t trunk, const sip::Address& a, bool down) {
  if (!has(trunk, a)) return;  // an answer from an address DNS has since dropped
  if (down) trunks_[trunk]->down.insert(a);
  else trunks_[trunk]->down.erase(a);
}

bool TrunkAddresses::all_down(size_t trunk) const {
  const auto& t = targets(trunk);
  const auto& down = trunks_[trunk]->down;
  return !t.empty() && std::all_of(t.begin(), t.end(), [&](const sip::Target& x) { return down.count(x.address); });
}

std::vector<sip::Location> locate_all_now(const std::vector<sip::Uri>& uris, std::chrono::seconds limit) {
  std::vector<std::optional<sip::Location>> out(uris.size());
  {
    asio::io_context io;
    sip::Dns dns(io);
    for (size_t i = 0; i < uris.size(); ++i) {
      dns.locate(uris[i], [&out, i](sip::Location l) { out[i] = std::move(l); });
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    auto done = [&] { return std::all_of(out.begin(), out.end(), [](const auto& o) { return o.has_value(); }); };
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      if (io.run_one_until(deadline) == 0 && io.stopped()) break;
    }
  }  // lookups still running end here, without a callback
  std::vector<sip::Location> result;
  for (auto& o : out) {
    if (o) {
      result.push_back(std::move(*o));
    } else {
      sip::Location l;
      l.error = "DNS gave no answer within " + std::to_string(limit.count()) + " s of start-up";
      l.incomplete = true;
      result.push_back(std::move(l));
    }
  }
  return result;
}

}  // namespace gateway
