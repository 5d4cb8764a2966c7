// http_server.hpp — a small HTTP/1.1 server for the JSON API, on asio coroutines.
//
// One request per connection (Connection: close); parsing is http_message.hpp. A response with a
// BodyStream (server-sent events) stays open while the stream has more, the client is there and
// the server is not stopping.
// The API is the one place the CLI (and later the dashboard) reads the node's state from.
// LIMITS: kRequestTimeout per connection (408 after it).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio.hpp>

#include "api/http_message.hpp"

namespace api {

inline constexpr std::chrono::seconds kRequestTimeout{30};

// A body written as it comes: next() waits for the next piece (it should return within a few
// seconds, e.g. a keep-alive comment, so a departed client or a stopping server is noticed);
// nullopt ends the response.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  virtual asio::awaitable<std::optional<std::string>> next() = 0;
};

using Handler = std::function<asio::awaitable<Response>(Request)>;
// Asked once the head of a request with a body over kMaxBodyBytes is in (an upload), before the
// body is read: a refusal (a bad token) is answered at once, and the body never held.
using HeadCheck = std::function<asio::awaitable<std::optional<Response>>(Request)>;

class HttpServer {
 public:
  HttpServer(asio::io_context& io, std::vector<asio::ip::tcp::endpoint> listen, Handler handler,
             HeadCheck head_check = nullptr);
  void start();  // throws std::system_error naming the endpoint it cannot bind
  void stop();
  std::vector<asio::ip::tcp::endpoint> bound() const;

 private:
  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acc);
  asio::awaitable<void> serve(asio::ip::tcp::socket sock);

  asio::io_context& io_;
  std::vector<asio::ip::tcp::endpoint> listen_;
  Handler handler_;
  HeadCheck head_check_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  bool stopping_ = false;
};

}  // namespace api
