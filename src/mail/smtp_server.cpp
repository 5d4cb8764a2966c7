// smtp_server.cpp — asio coroutines around smtp::Session (see smtp_server.hpp).
#include "mail/smtp_server.hpp"

#include "core/metrics.hpp"

#include "core/listen.hpp"

#include <optional>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

namespace smtp {
namespace {

using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

// The connection's byte stream, plain or (after STARTTLS) TLS.
struct Stream {
  tcp::socket& sock;
  std::optional<asio::ssl::stream<tcp::socket&>> tls;

  asio::awaitable<std::tuple<std::error_code, size_t>> read(asio::mutable_buffer b) {
    if (tls) co_return co_await tls->async_read_some(b, kNoThrow);
    co_return co_await sock.async_read_some(b, kNoThrow);
  }
  asio::awaitable<bool> write(const std::string& data) {
    if (data.empty()) co_return true;
    std::error_code ec;
    if (tls) std::tie(ec, std::ignore) = co_await asio::async_write(*tls, asio::buffer(data), kNoThrow);
    else std::tie(ec, std::ignore) = co_await asio::async_write(sock, asio::buffer(data), kNoThrow);
    co_return !ec;
  }
};

// The Intake's decisions, with the client's MAIL and RCPT rates checked first and every refusal
// written to the audit log.
class LimitedPolicy : public Policy {
 public:
  LimitedPolicy(Policy& inner, ClientLimits& limits, std::string key, std::string ip, bool exempt,
                const std::function<void(const std::string&)>& log)
      : inner_(inner), limits_(limits), key_(std::move(key)), ip_(std::move(ip)), exempt_(exempt), log_(log) {}

  std::optional<Reply> check_mail(const Envelope& env) override {
    if (!exempt_ && !limits_.message(key_, ClientLimits::Clock::now())) {
      return refused("MAIL", env.mail_from, Reply{450, "4.7.1", "Error: too many messages from " + ip_ + ", try again later"});
    }
    auto r = inner_.check_mail(env);
    return r ? refused("MAIL", env.mail_from, *r) : r;
  }
  std::optional<Reply> check_rcpt(const Envelope& env, const Recipient& rcpt) override {
    if (!exempt_ && !limits_.recipient(key_, ClientLimits::Clock::now())) {
      return refused("RCPT", rcpt.address,
                     Reply{450, "4.7.1", "Error: too many recipients from " + ip_ + ", try again later"});
    }
    auto r = inner_.check_rcpt(env, rcpt);
    return r ? refused("RCPT", rcpt.address, *r) : r;
  }
  bool authenticate(std::string_view user, std::string_view password) override {
    return inner_.authenticate(user, password);
  }

 private:
  std::optional<Reply> refused(const char* verb, const std::string& address, Reply r) const {
    if (log_) {
      log_("smtp: refused " + ip_ + ": " + verb + " <" + address.substr(0, 200) + ">: " + std::to_string(r.code) + " " +
           r.enhanced + " " + r.text);
    }
    return r;
  }

  Policy& inner_;
  ClientLimits& limits_;
  std::string key_, ip_;
  bool exempt_;
  const std::function<void(const std::string&)>& log_;
};

// A plain coroutine (no lambda captures: GCC 12), run on the AUTH thread.
asio::awaitable<bool> check_password(Policy* policy, Credentials creds) {
  co_return policy->authenticate(creds.user, creds.password);
}

asio::awaitable<void> pause(const asio::any_io_executor& ex, std::chrono::milliseconds d) {
  if (d.count() <= 0) co_return;
  asio::steady_timer t(ex);
  t.expires_after(d);
  co_await t.async_wait(kNoThrow);
}

}  // namespace

Server::Server(asio::io_context& io, ServerOptions opt)
    : io_(io), opt_(std::move(opt)), limits_(opt_.client_limits) {}

void Server::start() {
  for (const auto& ep : opt_.listen) acceptors_.push_back(fb::listen_on(io_, ep, "SMTP"));
  for (auto& acc : acceptors_) asio::co_spawn(io_, accept_loop(*acc), asio::detached);
}

std::vector<tcp::endpoint> Server::bound() const {
  std::vector<tcp::endpoint> out;
  for (const auto& a : acceptors_) out.push_back(a->local_endpoint());
  return out;
}

void Server::reload(const Reload& r) {
  opt_.max_sessions = r.max_sessions;
  opt_.idle_timeout = r.idle_timeout;
  opt_.session.limits = r.session_limits;
  opt_.session.auth_available = r.auth_available;
  opt_.client_limits = r.client_limits;
  limits_.set_options(r.client_limits);
}

void Server::stop() {
  stopping_ = true;
  for (auto& a : acceptors_) {
    std::error_code ec;
    a->close(ec);
  }
  for (auto& w : live_) {
    if (auto t = w.lock()) t->cancel();  // wakes each session's wait; it decides what to do
  }
}

asio::awaitable<void> Server::accept_loop(tcp::acceptor& acc) {
  while (!stopping_) {
    auto [ec, sock] = co_await acc.async_accept(kNoThrow);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    asio::co_spawn(io_, run_session(std::move(sock)), asio::detached);
  }
}

asio::awaitable<void> Server::run_session(tcp::socket sock) {
  ++sessions_;
  fb::metrics::count("faxbridge_smtp_sessions_total", "SMTP connections the intake accepted");
  struct Count {
    size_t& n;
    ~Count() { --n; }
  } count{sessions_};
  std::error_code ec;
  const auto remote = sock.remote_endpoint(ec).address();
  Stream io{sock, std::nullopt};
  if (ec) co_return;
  if (sessions_ > opt_.max_sessions || stopping_) {
    co_await io.write("421 4.7.0 " + opt_.session.hostname + " Error: too many connections, try again later\r\n");
    co_return;
  }
  Config cfg = opt_.session;
  cfg.trusted_client = opt_.trusted && opt_.trusted(remote);
  cfg.tls_available = opt_.tls != nullptr;
  const std::string ip = remote.to_string();
  const std::string key = ClientLimits::key_of(ip);
  // Trusted networks (the relay in front of us) are not held to the per-client counts.
  if (!cfg.trusted_client && !limits_.connect(key, ClientLimits::Clock::now())) {
    audit("smtp: refused " + ip + ": too many connections from this client");
    co_await io.write("421 4.7.0 " + cfg.hostname + " Error: too many connections from " + ip + ", try again later\r\n");
    co_return;
  }
  struct Disconnect {
    ClientLimits* limits;
    std::string key;
    ~Disconnect() {
      if (limits) limits->disconnect(key);
    }
  } disconnect{cfg.trusted_client ? nullptr : &limits_, key};
  std::unique_ptr<Intake> intake = opt_.make_intake(remote);
  LimitedPolicy policy(*intake, limits_, key, ip, cfg.trusted_client, opt_.log);
  Session s(cfg, policy, *intake, ip);
  const auto idle_timeout = opt_.idle_timeout;  // a reload changes it for later sessions only
  int errors_seen = 0;
  auto timer = std::make_shared<asio::steady_timer>(sock.get_executor());
  std::erase_if(live_, [](const auto& w) { return w.expired(); });
  live_.push_back(timer);
  if (!co_await io.write(s.greeting())) co_return;
  const auto session_end = std::chrono::steady_clock::now() + opt_.session_timeout;
  std::array<char, 16384> buf;
  for (;;) {
    if (std::chrono::steady_clock::now() > session_end && !s.in_data()) {
      s.shutdown({421, "4.4.2", cfg.hostname + " Error: session too long, closing connection"});
      co_await io.write(s.take_output());
      break;
    }
    timer->expires_after(idle_timeout);
    auto result = co_await (io.read(asio::buffer(buf)) || timer->async_wait(kNoThrow));
    if (result.index() == 1) {  // the timer: idle too long, or the server is stopping
      if (stopping_ && s.in_data()) continue;  // let the message finish
      s.shutdown(stopping_ ? Reply{421, "4.3.2", cfg.hostname + " Service shutting down"}
                           : Reply{421, "4.4.2", cfg.hostname + " Error: timeout exceeded"});
      co_await io.write(s.take_output());
      break;
    }
    auto [rec, n] = std::get<0>(result);
    if (rec) break;  // the client went away (a partial DATA is aborted with the Intake)
    s.receive(std::string_view(buf.data(), n));
    bool done = false;
    while (!done) {
      switch (s.step()) {
        case Event::need_input:
          done = true;
          break;
        case Event::message: {
          Reply r = co_await intake->commit(s.envelope());
          s.message_done(r);
          break;
        }
        case Event::starttls: {
          if (!co_await io.write(s.take_output())) co_return;
          io.tls.emplace(sock, *opt_.tls);
          // A client that starts TLS and then says nothing must not hold its slot for ever.
          timer->expires_after(idle_timeout);
          auto hs = co_await (io.tls->async_handshake(asio::ssl::stream_base::server, kNoThrow) ||
                              timer->async_wait(kNoThrow));
          if (hs.index() == 1 || std::get<0>(std::get<0>(hs))) co_return;
          s.tls_started();
          break;
        }
        case Event::authenticate: {
          const auto now = ClientLimits::Clock::now();
          const auto begun = now;
          if (!limits_.begin_auth(key, now)) {
            audit("smtp: refused " + ip + ": AUTH: " + std::to_string(limits_.auth_failures(key, now)) +
                  " failed authentications in the last hour");
            s.auth_refused({421, "4.7.0",
                            cfg.hostname + " Error: too many failed authentications from " + ip + ", try again later"});
            break;
          }
          const Credentials creds = *s.pending_auth();
          bool ok = co_await asio::co_spawn(auth_pool_, check_password(&policy, creds), asio::use_awaitable);
          if (ok) limits_.auth_succeeded(key, begun);
          if (!ok) {
            audit("smtp: AUTH failed from " + ip + " for user \"" + creds.user.substr(0, 64) + "\" (" +
                  std::to_string(limits_.auth_failures(key, ClientLimits::Clock::now())) + " in the last hour)");
            co_await pause(sock.get_executor(), opt_.tarpit);  // the tarpit: guesses cost time
          }
          s.auth_result(ok);
          break;
        }
        case Event::close:
          co_await io.write(s.take_output());
          co_return;
      }
    }
    // Past the soft error limit, each further error's reply waits (Postfix's error sleep).
    if (s.errors() > errors_seen && s.errors() > opt_.soft_error_limit) co_await pause(sock.get_executor(), opt_.tarpit);
    errors_seen = s.errors();
    if (!co_await io.write(s.take_output())) break;
    if (stopping_ && !s.in_data()) {
      s.shutdown({421, "4.3.2", cfg.hostname + " Service shutting down"});
      co_await io.write(s.take_output());
      break;
    }
  }
  if (s.in_data()) intake->abort();
}

}  // namespace smtp
