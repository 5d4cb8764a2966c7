// smtp_server.hpp — the ESMTP listener: accepts connections and runs one Session per
// connection as an asio coroutine, with STARTTLS, an idle timeout, a session limit and an
// orderly shutdown.
//
// STANDARDS: RFC 5321 §4.5.3.2 (timeouts), RFC 3207 (STARTTLS over asio::ssl / OpenSSL).
// The protocol itself is smtp::Session (sans I/O); this file only moves bytes. The gateway
// supplies, per connection, the Policy and BodySink (an Intake) and the durable commit.
// Overload: past max_sessions a new connection gets "421 4.7.0 too many connections" and is
// closed; shutdown stops accepting at once and says 421 4.3.2 to idle sessions, while a
// session in DATA or committing finishes its message first (never a dropped transaction).
// Per client (client_limits.hpp): connections at once and per minute, MAILs and RCPTs per minute,
// AUTH failures per hour; past them 421 4.7.0 (connections, AUTH) or 450 4.7.1 (MAIL, RCPT).
// AUTH: passwords are checked (crypt, slow on purpose) on a thread of their own, never on the
// io thread that carries every other connection; a failed AUTH's 535 waits `tarpit` first, and so
// does the reply to every error past the first soft_error_limit of a session (Postfix's
// smtpd_soft_error_limit and smtpd_error_sleep_time).
// AUDIT: one log line per refusal and per failed AUTH, with the client's address and the
// reason: "smtp: refused <ip>: <reply>", "smtp: AUTH failed from <ip>" (the log escapes the
// client's bytes: core/log.hpp).
// LIMITS: max_sessions (default 200), idle_timeout (default 300 s: RFC 5321 asks for at
// least 5 minutes), session_timeout (default 3600 s: a connection, however busy, is told 421
// 4.4.2 between messages after it), read buffer 16 KiB per connection.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "mail/client_limits.hpp"
#include "mail/smtp_session.hpp"

namespace smtp {

// Everything one connection needs from the gateway.
class Intake : public Policy, public BodySink {
 public:
  // Runs on the connection's executor; may co_await other executors (the store thread).
  virtual asio::awaitable<Reply> commit(const Envelope& env) = 0;
};

struct ServerOptions {
  std::vector<asio::ip::tcp::endpoint> listen;
  Config session;  // per-connection template (trusted_client is set per connection)
  size_t max_sessions = 200;
  std::chrono::seconds idle_timeout{300};
  std::chrono::seconds session_timeout{3600};
  std::shared_ptr<asio::ssl::context> tls;  // null: no STARTTLS
  // Per connection: is this client on a trusted network, and a fresh Intake for it.
  std::function<bool(const asio::ip::address&)> trusted;
  std::function<std::unique_ptr<Intake>(const asio::ip::address&)> make_intake;
  ClientLimitOptions client_limits;
  std::chrono::milliseconds tarpit{1000};
  int soft_error_limit = 10;
  std::function<void(const std::string&)> log;  // audit lines; empty: none
};

class Server {
 public:
  Server(asio::io_context& io, ServerOptions opt);
  // Binds every listen endpoint (throws std::system_error naming it on failure, at start-up).
  void start();
  void stop();  // stop accepting; idle sessions get 421; busy ones finish their message
  size_t sessions() const { return sessions_; }
  // A reload (io thread): limits for the sessions that start from now on (the client counts so
  // far are kept; a session under way keeps the limits it started with).
  struct Reload {
    size_t max_sessions = 200;
    std::chrono::seconds idle_timeout{300};
    Limits session_limits;
    bool auth_available = false;
    ClientLimitOptions client_limits;
  };
  void reload(const Reload& r);
  std::vector<asio::ip::tcp::endpoint> bound() const;

 private:
  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acc);
  asio::awaitable<void> run_session(asio::ip::tcp::socket sock);

  void audit(const std::string& line) const {
    if (opt_.log) opt_.log(line);
  }

  asio::io_context& io_;
  ServerOptions opt_;
  ClientLimits limits_;
  asio::thread_pool auth_pool_{1};  // crypt(3): off the io thread
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  size_t sessions_ = 0;
  bool stopping_ = false;
  std::vector<std::weak_ptr<asio::steady_timer>> live_;  // each session's wake-up timer
};

}  // namespace smtp
