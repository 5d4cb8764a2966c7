// listen.hpp — a bound, listening TCP acceptor, or an exception naming what could not be bound
// (start-up errors are exceptions, STYLE.md). Shared by every server of the gateway.
#pragma once

#include <memory>
#include <string>
#include <system_error>

#include <asio.hpp>

namespace fb {

inline std::unique_ptr<asio::ip::tcp::acceptor> listen_on(asio::io_context& io, const asio::ip::tcp::endpoint& ep,
                                                          const std::string& what) {
  auto acc = std::make_unique<asio::ip::tcp::acceptor>(io);
  std::error_code ec;
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec, what + " listen " + ep.address().to_string() + ":" + std::to_string(ep.port()));
  return acc;
}

}  // namespace fb
