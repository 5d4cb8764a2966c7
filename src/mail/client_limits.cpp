// client_limits.cpp — anvil-style per-client counters (see client_limits.hpp).
#include "mail/client_limits.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace smtp {
namespace {

constexpr auto kMinute = std::chrono::minutes(1);
constexpr auto kHour = std::chrono::hours(1);

}  // namespace

std::string ClientLimits::key_of(const std::string& address) {
  in6_addr a6{};
  if (address.find(':') != std::string::npos && inet_pton(AF_INET6, address.c_str(), &a6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      char buf[INET_ADDRSTRLEN];
      if (inet_ntop(AF_INET, &a6.s6_addr[12], buf, sizeof buf)) return buf;
    }
    std::fill(a6.s6_addr + 8, a6.s6_addr + 16, 0);
    char buf[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, &a6, buf, sizeof buf)) return std::string(buf) + "/64";
  }
  return address;
}

bool ClientLimits::room(std::deque<Clock::time_point>& events, int limit, Clock::duration window,
                        Clock::time_point now) {
  while (!events.empty() && events.front() <= now - window) events.pop_front();
  return limit <= 0 || int(events.size()) < limit;
}

ClientLimits::Client& ClientLimits::client(const std::string& key, Clock::time_point now) {
  auto it = clients_.find(key);
  if (it == clients_.end()) {
    if (clients_.size() >= kMaxClients) {
      // Forget the stalest idle client (an open connection's count must stay right).
      auto stale = clients_.end();
      for (auto c = clients_.begin(); c != clients_.end(); ++c) {
        if (c->second.open == 0 && (stale == clients_.end() || c->second.last < stale->second.last)) stale = c;
      }
      if (stale != clients_.end()) clients_.erase(stale);
    }
    it = clients_.emplace(key, Client{}).first;
  }
  it->second.last = now;
  return it->second;
}

bool ClientLimits::connect(const std::string& key, Clock::time_point now) {
  Client& c = client(key, now);
  if (o_.connections > 0 && c.open >= o_.connections) return false;
  if (!room(c.connects, o_.connections_per_minute, kMinute, now)) return false;
  c.connects.push_back(now);
  ++c.open;
  return true;
}

void ClientLimits::disconnect(const std::string& key) {
  auto it = clients_.find(key);
  if (it != clients_.end() && it->second.open > 0) --it->second.open;
}

bool ClientLimits::message(const std::string& key, Clock::time_point now) {
  Client& c = client(key, now);
  if (!room(c.messages, o_.messages_per_minute, kMinute, now)) return false;
  c.messages.push_back(now);
  return true;
}

bool ClientLimits::recipient(const std::string& key, Clock::time_point now) {
  Client& c = client(key, now);
  if (!room(c.recipients, o_.recipients_per_minute, kMinute, now)) return false;
  c.recipients.push_back(now);
  return true;
}

bool ClientLimits::begin_auth(const std::string& key, Clock::time_point now) {
  Client& c = client(key, now);
  if (!room(c.failures, o_.auth_failures_per_hour, kHour, now)) return false;
  c.failures.push_back(now);
  return true;
}

void ClientLimits::auth_succeeded(const std::string& key, Clock::time_point begun) {
  auto it = clients_.find(key);
  if (it == clients_.end()) return;
  auto& f = it->second.failures;
  if (auto e = std::find(f.begin(), f.end(), begun); e != f.end()) f.erase(e);
}

int ClientLimits::auth_failures(const std::string& key, Clock::time_point now) {
  Client& c = client(key, now);
  room(c.failures, 0, kHour, now);
  return int(c.failures.size());
}

}  // namespace smtp
