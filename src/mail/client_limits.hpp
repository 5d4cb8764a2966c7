// client_limits.hpp — per-client limits of the SMTP listener, in the manner of Postfix's anvil
// (smtpd_client_connection_count_limit, _connection_rate_limit, _message_rate_limit,
// _recipient_rate_limit, _auth_rate_limit), sans I/O: the caller passes the time.
//
// DEFENDS (docs/security.md): password guessing (AUTH failures per client per hour: once over,
// the client's AUTH gets 421 and the connection closes, across connections, before any crypt),
// and one client holding every session or flooding the queue. A "client" is its IP address; an
// IPv6 client is its /64 (one host has a whole /64 to choose from).
// EXEMPT: clients on trusted networks are not held to the connection, message and recipient
// limits (the Postfix in front of us is one client carrying everyone's mail); AUTH failures
// count for every client.
// PARAMETERS: [smtp] client_connections 20 (at once), client_connections_per_minute 60,
// client_messages_per_minute 60, client_recipients_per_minute 300,
// client_auth_failures_per_hour 10 (0: no limit, for each).
// THREADS: one thread (the SMTP io thread).
// LIMITS: at most kMaxClients clients tracked; past it, the stalest is forgotten.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace smtp {

struct ClientLimitOptions {
  int connections = 20;
  int connections_per_minute = 60;
  int messages_per_minute = 60;
  int recipients_per_minute = 300;
  int auth_failures_per_hour = 10;
};

class ClientLimits {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxClients = 100000;

  explicit ClientLimits(ClientLimitOptions o = {}) : o_(o) {}

  // The client key of an address text ("192.0.2.1", "2001:db8::1" -> "2001:db8::/64").
  static std::string key_of(const std::string& address);

  // A new connection: false (nothing counted) when the client already has `connections` open or
  // opened `connections_per_minute` in the last minute. Counted connections end with
  // disconnect().
  bool connect(const std::string& key, Clock::time_point now);
  void disconnect(const std::string& key);
  bool message(const std::string& key, Clock::time_point now);    // one more MAIL
  bool recipient(const std::string& key, Clock::time_point now);  // one more RCPT
  // May this client try a password now (fewer than auth_failures_per_hour in the last hour)?
  // true counts the attempt as a failure at once (at `now`), so that guesses checked in parallel
  // connections cannot pass the limit together; auth_succeeded(key, now) takes back that one
  // attempt (never another's: a good login must not erase a guess in flight beside it).
  bool begin_auth(const std::string& key, Clock::time_point now);
  void auth_succeeded(const std::string& key, Clock::time_point begun);
  int auth_failures(const std::string& key, Clock::time_point now);

  const ClientLimitOptions& options() const { return o_; }
  void set_options(ClientLimitOptions o) { o_ = o; }  // a reload: the counts so far are kept

 private:
  struct Client {
    int open = 0;
    std::deque<Clock::time_point> connects, messages, recipients, failures;
    Clock::time_point last{};
  };
  Client& client(const std::string& key, Clock::time_point now);
  // Drops events older than `window`; true when fewer than `limit` remain (limit 0: always).
  static bool room(std::deque<Clock::time_point>& events, int limit, Clock::duration window, Clock::time_point now);

  ClientLimitOptions o_;
  std::map<std::string, Client> clients_;
};

}  // namespace smtp
