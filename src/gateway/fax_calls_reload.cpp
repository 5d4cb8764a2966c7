// fax_calls_reload.cpp — FaxCalls' trunks and routing replaced by SIGHUP (see fax_calls.hpp,
// reload_trunks). Kept apart from the call handling: it only ever appends to the per-trunk
// state, so a live call's trunk index stays valid whatever the new configuration says.
#include <algorithm>
#include <set>
#include <sstream>

#include "gateway/fax_calls.hpp"

namespace gateway {
namespace {

// The settings a reload may change in place, as one comparable string.
std::string settings_of(const Trunk& t) {
  std::ostringstream o;
  o << int(t.t38) << '|' << int(t.ec) << '|' << t.max_channels << '|' << t.calls_per_second << '|';
  for (const auto& p : t.prefixes) o << p << ',';
  o << '|' << t.caller_id << '|' << t.country_code << '|' << t.national_prefix << '|' << t.ring_timeout_s << '|';
  for (auto c : t.codecs) o << int(c) << ',';
  o << '|' << t.options_interval_s << '|' << t.t38_max_datagram << '|' << t.latch_media;
  return o.str();
}

}  // namespace

std::vector<std::string> FaxCalls::reload_trunks(std::vector<Trunk> next) {
  std::vector<std::string> said;
  std::set<std::string> named;
  for (auto& n : next) {
    named.insert(n.name);
    auto it = std::find_if(opt_.trunks.begin(), opt_.trunks.end(), [&](const Trunk& t) { return t.name == n.name; });
    if (it == opt_.trunks.end()) {
      // A new trunk: every per-trunk part grows by one, in the order the constructor made them.
      const size_t i = opt_.trunks.size();
      const int max = n.max_channels;
      const std::string name = n.name;
      TrunkAddresses::Entry entry{n.name, n.uri, n.location};
      opt_.trunks.push_back(std::move(n));
      ledger_.add(max);
      pace_.push_back(std::make_unique<Pace>(io_));
      health_.push_back(std::make_unique<Health>(io_));
      registered_.push_back(false);
      reg_hop_.emplace_back();
      addresses_.add(std::move(entry));
      addresses_changed(i);  // TLS names for the addresses it has; its registration starts
      ping(i);
      said.push_back("trunk " + name + ": added");
      continue;
    }
    Trunk& t = *it;
    const size_t i = size_t(it - opt_.trunks.begin());
    std::vector<std::string> kept;
    if (!(n.uri == t.uri)) kept.push_back("uri");
    const bool same_credentials = n.credentials.has_value() == t.credentials.has_value() &&
                                  (!n.credentials || (n.credentials->username == t.credentials->username &&
                                                      n.credentials->password == t.credentials->password));
    if (!same_credentials) kept.push_back("username/password");
    if (n.register_ != t.register_) kept.push_back("register");
    if (!kept.empty()) {
      std::string what;
      for (const auto& k : kept) what += (what.empty() ? "" : ", ") + k;
      said.push_back("trunk " + t.name + ": " + what + " not reloaded (a restart applies it)");
    }
    // What identifies and reaches the trunk stays; the rest is taken.
    n.uri = t.uri;
    n.location = t.location;
    n.host_port = t.host_port;
    n.host = t.host;
    n.credentials = t.credentials;
    n.register_ = t.register_;
    const bool was_removed = t.removed;
    const bool changed = settings_of(n) != settings_of(t);
    const bool pings_start = (t.options_interval_s <= 0 || was_removed) && n.options_interval_s > 0;
    const bool pings_stop = t.options_interval_s > 0 && n.options_interval_s <= 0;
    ledger_.set_max(i, n.max_channels);
    t = std::move(n);
    if (was_removed) {
      said.push_back("trunk " + t.name + ": back in the configuration (its uri, credentials and registration as at start-up)");
      addresses_.revive(i);
      registered_[i] = false;
      register_trunk(i);
    } else if (changed) {
      said.push_back("trunk " + t.name + ": settings reloaded");
    }
    if (pings_stop) forget_health(i);  // no pings to tell it is down: up, as at start-up
    if (pings_start) ping(i);
    if (t.calls_per_second <= 0) run_pace(i);  // no pacing now: what waited goes
  }
  for (size_t i = 0; i < opt_.trunks.size(); ++i) {
    Trunk& t = opt_.trunks[i];
    if (named.count(t.name) || t.removed) continue;
    t.removed = true;
    t.prefixes.clear();  // serving() never picks it: no new outbound call
    ledger_.set_max(i, 0);  // nor an inbound one, and no room counted for it
    forget_health(i);       // no more OPTIONS
    addresses_.retire(i);   // nor DNS lookups
    if (t.register_ && registered_[i]) endpoint_.ua().unregister("sip:" + t.host_port, aor_user(t), sip::Clock::now());
    endpoint_.kick();
    said.push_back("trunk " + t.name + ": removed: no new call goes to it (" + std::to_string(ledger_.in_use(i)) +
                   " live call(s) go on); its addresses are let in until a restart");
  }
  return said;
}

void FaxCalls::forget_health(size_t i) {
  Health& h = *health_[i];
  h.timer.cancel();
  h.pending.clear();
  h.down = false;
  h.reason.clear();
  for (const auto& target : addresses_.targets(i)) addresses_.set_down(i, target.address, false);
}

void FaxCalls::set_routing(std::function<bool(const std::string&)> routed,
                           std::function<std::optional<std::string>(const std::string&)> voice_uri) {
  opt_.routed = std::move(routed);
  opt_.voice_uri = std::move(voice_uri);
}

}  // namespace gateway
