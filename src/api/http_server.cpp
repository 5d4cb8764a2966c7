// http_server.cpp — HTTP/1.1 request parsing and the asio server loop (see http_server.hpp).
#include "api/http_server.hpp"

#include "core/listen.hpp"


#include <tuple>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

namespace api {
namespace {

using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

HttpServer::HttpServer(asio::io_context& io, std::vector<tcp::endpoint> listen, Handler handler, HeadCheck head_check)
    : io_(io), listen_(std::move(listen)), handler_(std::move(handler)), head_check_(std::move(head_check)) {}

void HttpServer::start() {
  for (const auto& ep : listen_) acceptors_.push_back(fb::listen_on(io_, ep, "HTTP"));
  for (auto& acc : acceptors_) asio::co_spawn(io_, accept_loop(*acc), asio::detached);
}

void HttpServer::stop() {
  stopping_ = true;
  for (auto& a : acceptors_) {
    std::error_code ec;
    a->close(ec);
  }
}

std::vector<tcp::endpoint> HttpServer::bound() const {
  std::vector<tcp::endpoint> out;
  for (const auto& a : acceptors_) out.push_back(a->local_endpoint());
  return out;
}

asio::awaitable<void> HttpServer::accept_loop(tcp::acceptor& acc) {
  while (!stopping_) {
    auto [ec, sock] = co_await acc.async_accept(kNoThrow);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(io_, serve(std::move(sock)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::serve(tcp::socket sock) {
  std::string data;
  std::array<char, 8192> buf;
  asio::steady_timer timer(sock.get_executor());
  timer.expires_after(kRequestTimeout);
  Response resp;
  bool head_checked = false;
  for (;;) {
    auto r = co_await (sock.async_read_some(asio::buffer(buf), kNoThrow) || timer.async_wait(kNoThrow));
    if (r.index() == 1) {
      resp = error_response(408, "request timeout");
      break;
    }
    auto [ec, n] = std::get<0>(r);
    if (ec) co_return;
    data.append(buf.data(), n);
    ParseOutcome p = parse_request(data);
    if (!p.complete && p.head && !head_checked && p.body_length > kMaxBodyBytes && head_check_) {
      head_checked = true;  // an upload: its sender is judged before its body is held
      std::error_code pec;
      auto remote = sock.remote_endpoint(pec);
      if (!pec) p.head->peer = remote.address().to_string();
      if (auto refused = co_await head_check_(std::move(*p.head))) {
        resp = std::move(*refused);
        break;
      }
    }
    if (!p.complete) continue;
    if (p.error) {
      resp = *p.error;
      break;
    }
    std::error_code pec;
    auto remote = sock.remote_endpoint(pec);
    if (!pec) p.request->peer = remote.address().to_string();
    data.clear();  // the request holds its own copy of the body
    data.shrink_to_fit();
    try {
      resp = co_await handler_(std::move(*p.request));
    } catch (const std::exception& e) {
      resp = error_response(500, e.what());
    }
    break;
  }
  std::string out = serialize(resp);
  auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(out), kNoThrow);
  // A stream: each piece as it comes, until it ends, the client leaves (its end of the socket
  // read, or a write that does not go within kRequestTimeout) or we stop.
  if (auto stream = resp.stream; stream && !wec) {
    std::array<char, 512> in;
    bool gone = false;
    auto watch = [&]() -> asio::awaitable<void> {  // a client says nothing more: EOF or an error ends it
      for (;;) {
        auto [rec, rn] = co_await sock.async_read_some(asio::buffer(in), kNoThrow);
        if (rec) break;
      }
      gone = true;
    };
    auto pieces = [&]() -> asio::awaitable<void> {
      while (!stopping_ && !gone) {
        auto piece = co_await stream->next();
        if (!piece || stopping_ || gone) co_return;
        if (piece->empty()) continue;
        asio::steady_timer write_limit(sock.get_executor(), kRequestTimeout);
        auto w = co_await (asio::async_write(sock, asio::buffer(*piece), kNoThrow) || write_limit.async_wait(kNoThrow));
        if (w.index() == 1 || std::get<0>(std::get<0>(w))) co_return;
      }
    };
    co_await (watch() || pieces());
  }
  std::error_code ec;
  sock.shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace api
