// endpoint.cpp — SIP over UDP and TCP on asio (see endpoint.hpp).
#include "sip/endpoint.hpp"

#include <stdexcept>

namespace sip {

using asio::ip::tcp;
using asio::ip::udp;

struct Endpoint::Conn {
  explicit Conn(asio::io_context& io) : socket(io), idle(io) {}
  tcp::socket socket;
  asio::steady_timer idle;
  StreamFramer framer;
  Address peer;
  std::deque<std::string> out;
  bool connected = false;
  bool writing = false;
  bool closed = false;
  std::array<char, 8192> buf{};
};

Endpoint::Endpoint(asio::io_context& io, CallHandler& handler, std::string user_agent)
    : io_(io), udp_buf_(65536), timer_(io) {
  UaConfig cfg;
  cfg.user_agent = std::move(user_agent);
  ua_ = std::make_unique<UserAgent>(handler, [this](const std::string& b, const Address& a) { return send(b, a); }, cfg);
}

Endpoint::~Endpoint() { stop(); }

void Endpoint::start(const std::vector<ListenSpec>& listen) {
  for (const auto& l : listen) {
    auto addr = asio::ip::make_address(l.host);
    if (l.transport == Transport::tls) {
      throw std::runtime_error("SIP over TLS (tls:" + l.host + ":" + std::to_string(l.port) + ") is not available yet");
    }
    std::error_code ec;
    if (l.transport == Transport::udp) {
      auto s = std::make_unique<udp::socket>(io_);
      s->open(addr.is_v4() ? udp::v4() : udp::v6(), ec);
      if (!ec) s->bind(udp::endpoint(addr, l.port), ec);
      if (ec) throw std::runtime_error("SIP udp:" + l.host + ":" + std::to_string(l.port) + ": " + ec.message());
      s->non_blocking(true);
      // Bursts (many calls at once, a flood) must not overflow the default ~200 KB buffer.
      s->set_option(asio::socket_base::receive_buffer_size(4 << 20), ec);
      s->set_option(asio::socket_base::send_buffer_size(4 << 20), ec);
      udp_.push_back(std::move(s));
    } else {
      auto a = std::make_unique<tcp::acceptor>(io_);
      a->open(addr.is_v4() ? tcp::v4() : tcp::v6(), ec);
      if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) a->bind(tcp::endpoint(addr, l.port), ec);
      if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) throw std::runtime_error("SIP tcp:" + l.host + ":" + std::to_string(l.port) + ": " + ec.message());
      tcp_.push_back(std::move(a));
    }
  }
  // Via and Contact: the first listener of each transport.
  std::map<Transport, std::pair<std::string, uint16_t>> local;
  for (const auto& s : udp_) {
    auto ep = s->local_endpoint();
    local.emplace(Transport::udp, std::make_pair(ep.address().to_string(), ep.port()));
  }
  for (const auto& a : tcp_) {
    auto ep = a->local_endpoint();
    local.emplace(Transport::tcp, std::make_pair(ep.address().to_string(), ep.port()));
  }
  ua_->set_local(local);
  for (size_t i = 0; i < udp_.size(); ++i) read_udp(i);
  for (size_t i = 0; i < tcp_.size(); ++i) accept(i);
}

std::vector<ListenSpec> Endpoint::bound() const {
  std::vector<ListenSpec> out;
  for (const auto& s : udp_) out.push_back({Transport::udp, s->local_endpoint().address().to_string(), s->local_endpoint().port()});
  for (const auto& a : tcp_) out.push_back({Transport::tcp, a->local_endpoint().address().to_string(), a->local_endpoint().port()});
  return out;
}

void Endpoint::stop() {
  if (stopped_) return;
  stopped_ = true;
  std::error_code ec;
  timer_.cancel();
  for (auto& s : udp_) s->close(ec);
  for (auto& a : tcp_) a->close(ec);
  auto conns = conns_;
  for (auto& [addr, c] : conns) close_conn(c);
}

bool Endpoint::send(const std::string& bytes, const Address& to) {
  if (stopped_) return false;
  std::error_code ec;
  if (to.transport == Transport::udp) {
    if (udp_.empty()) return false;
    auto addr = asio::ip::make_address(to.ip, ec);
    if (ec) return false;
    for (auto& s : udp_) {
      if (s->local_endpoint().address().is_v4() != addr.is_v4()) continue;
      s->send_to(asio::buffer(bytes), udp::endpoint(addr, to.port), 0, ec);
      return !ec || ec == asio::error::would_block;  // a full buffer is a lost datagram: timers recover
    }
    return false;
  }
  if (to.transport == Transport::tls) return false;
  auto it = conns_.find(to);
  if (it != conns_.end() && !it->second->closed) {
    it->second->out.push_back(bytes);
    if (it->second->connected) write_conn(it->second);
    return true;
  }
  if (conns_.size() >= kMaxConnections) return false;
  auto addr = asio::ip::make_address(to.ip, ec);
  if (ec) return false;
  auto c = std::make_shared<Conn>(io_);
  c->peer = to;
  c->out.push_back(bytes);
  conns_[to] = c;
  c->socket.async_connect(tcp::endpoint(addr, to.port), [this, c](std::error_code ec) {
    if (ec || c->closed) {
      close_conn(c);
      return;
    }
    c->connected = true;
    read_conn(c);
    write_conn(c);
  });
  return true;
}

void Endpoint::read_udp(size_t i) {
  auto sender = std::make_shared<udp::endpoint>();
  udp_[i]->async_receive_from(asio::buffer(udp_buf_), *sender, [this, i, sender](std::error_code ec, size_t n) {
    if (stopped_) return;
    if (!ec && n > 0) {
      Address from{sender->address().to_string(), sender->port(), Transport::udp};
      ua_->receive(std::string_view(udp_buf_.data(), n), from, Clock::now());
      kick();
    }
    if (ec == asio::error::operation_aborted) return;
    read_udp(i);
  });
}

void Endpoint::accept(size_t i) {
  tcp_[i]->async_accept([this, i](std::error_code ec, tcp::socket s) {
    if (stopped_ || ec == asio::error::operation_aborted) return;
    if (!ec) {
      std::error_code e2;
      auto ep = s.remote_endpoint(e2);
      if (!e2 && conns_.size() < kMaxConnections) {
        auto c = std::make_shared<Conn>(io_);
        c->socket = std::move(s);
        c->peer = Address{ep.address().to_string(), ep.port(), Transport::tcp};
        c->connected = true;
        conns_[c->peer] = c;
        read_conn(c);
      }
    }
    accept(i);
  });
}

void Endpoint::read_conn(std::shared_ptr<Conn> c) {
  c->idle.expires_after(kIdleConnection);
  c->idle.async_wait([this, c](std::error_code ec) {
    if (!ec) close_conn(c);
  });
  c->socket.async_read_some(asio::buffer(c->buf), [this, c](std::error_code ec, size_t n) {
    if (ec || c->closed || stopped_) {
      close_conn(c);
      return;
    }
    c->framer.feed(std::string_view(c->buf.data(), n));
    for (;;) {
      auto next = c->framer.next();
      if (!next) {
        close_conn(c);  // unframeable: nothing after it can be trusted
        return;
      }
      if (!next->has_value()) break;
      ua_->receive(**next, c->peer, Clock::now());
    }
    kick();
    read_conn(c);
  });
}

void Endpoint::write_conn(std::shared_ptr<Conn> c) {
  if (c->writing || c->out.empty() || c->closed) return;
  c->writing = true;
  asio::async_write(c->socket, asio::buffer(c->out.front()), [this, c](std::error_code ec, size_t) {
    c->writing = false;
    if (ec) {
      close_conn(c);
      return;
    }
    c->out.pop_front();
    write_conn(c);
  });
}

void Endpoint::close_conn(const std::shared_ptr<Conn>& c) {
  if (c->closed) return;
  c->closed = true;
  std::error_code ec;
  c->idle.cancel();
  c->socket.close(ec);
  auto it = conns_.find(c->peer);
  if (it != conns_.end() && it->second == c) conns_.erase(it);
}

void Endpoint::kick() {
  if (stopped_) return;
  auto next = ua_->next_timer();
  if (!next) return;
  if (armed_ && *armed_ <= *next) return;
  armed_ = next;
  timer_.expires_at(*next);
  timer_.async_wait([this](std::error_code ec) {
    if (ec) return;
    on_timer();
  });
}

void Endpoint::on_timer() {
  armed_.reset();
  ua_->tick(Clock::now());
  kick();
}

}  // namespace sip
