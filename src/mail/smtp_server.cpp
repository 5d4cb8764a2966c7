// smtp_server.cpp — asio coroutines around smtp::Session (see smtp_server.hpp).
#include "mail/smtp_server.hpp"

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

}  // namespace

Server::Server(asio::io_context& io, ServerOptions opt) : io_(io), opt_(std::move(opt)) {}

void Server::start() {
  for (const auto& ep : opt_.listen) acceptors_.push_back(fb::listen_on(io_, ep, "SMTP"));
  for (auto& acc : acceptors_) asio::co_spawn(io_, accept_loop(*acc), asio::detached);
}

std::vector<tcp::endpoint> Server::bound() const {
  std::vector<tcp::endpoint> out;
  for (const auto& a : acceptors_) out.push_back(a->local_endpoint());
  return out;
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
  std::unique_ptr<Intake> intake = opt_.make_intake(remote);
  Session s(cfg, *intake, *intake, remote.to_string());
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
    timer->expires_after(opt_.idle_timeout);
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
          timer->expires_after(opt_.idle_timeout);
          auto hs = co_await (io.tls->async_handshake(asio::ssl::stream_base::server, kNoThrow) ||
                              timer->async_wait(kNoThrow));
          if (hs.index() == 1 || std::get<0>(std::get<0>(hs))) co_return;
          s.tls_started();
          break;
        }
        case Event::close:
          co_await io.write(s.take_output());
          co_return;
      }
    }
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
