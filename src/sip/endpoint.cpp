// endpoint.cpp — SIP over UDP and TCP on asio (see endpoint.hpp).
#include "sip/endpoint.hpp"

#include <stdexcept>

namespace sip {

using asio::ip::tcp;
using asio::ip::udp;

struct Endpoint::Conn {
  Conn(asio::io_context& io, asio::ssl::context& ctx, bool tls) : stream(io, ctx), idle(io), tls(tls) {}
  asio::ssl::stream<tcp::socket> stream;  // plain TCP uses stream.next_layer() only
  tcp::socket& socket() { return stream.next_layer(); }
  asio::steady_timer idle;
  StreamFramer framer;
  Address peer;
  std::deque<std::string> out;
  bool tls = false;
  bool connected = false;  // and, for TLS, the handshake done
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

void Endpoint::start(const std::vector<ListenSpec>& listen, const TlsFiles& tls) {
  std::error_code ec;
  client_ctx_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  client_ctx_.set_default_verify_paths(ec);
  if (!tls.trust_pem.empty()) {
    client_ctx_.add_certificate_authority(asio::buffer(tls.trust_pem), ec);
    if (ec) throw std::runtime_error("the certificates to trust (SSL_CERT_FILE): " + ec.message());
  }
  client_ctx_.set_verify_mode(asio::ssl::verify_peer);
  if (!tls.cert.empty()) {
    server_ctx_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                            asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    if (!tls.cert_pem.empty()) {
      server_ctx_.use_certificate_chain(asio::buffer(tls.cert_pem), ec);
      if (!ec) server_ctx_.use_private_key(asio::buffer(tls.key_pem), asio::ssl::context::pem, ec);
    } else {
      server_ctx_.use_certificate_chain_file(tls.cert, ec);
      if (!ec) server_ctx_.use_private_key_file(tls.key.empty() ? tls.cert : tls.key, asio::ssl::context::pem, ec);
    }
    if (ec) throw std::runtime_error("SIP TLS certificate " + tls.cert + ": " + ec.message());
  }
  for (const auto& l : listen) {
    auto addr = asio::ip::make_address(l.host);
    if (l.transport == Transport::tls && tls.cert.empty()) {
      throw std::runtime_error("SIP tls:" + l.host + ":" + std::to_string(l.port) + " needs a certificate and key");
    }
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
      if (ec) {
        throw std::runtime_error(std::string("SIP ") + (l.transport == Transport::tls ? "tls:" : "tcp:") + l.host + ":" +
                                 std::to_string(l.port) + ": " + ec.message());
      }
      tcp_.push_back(std::move(a));
      tcp_is_tls_.push_back(l.transport == Transport::tls);
    }
  }
  // Via and Contact: the first listener of each transport.
  std::map<Transport, std::pair<std::string, uint16_t>> local;
  for (const auto& s : udp_) {
    auto ep = s->local_endpoint();
    local.emplace(Transport::udp, std::make_pair(ep.address().to_string(), ep.port()));
  }
  for (size_t i = 0; i < tcp_.size(); ++i) {
    auto ep = tcp_[i]->local_endpoint();
    local.emplace(tcp_is_tls_[i] ? Transport::tls : Transport::tcp, std::make_pair(ep.address().to_string(), ep.port()));
  }
  ua_->set_local(local);
  ua_->set_source_for([this](const std::string& peer) { return source_for(peer); });
  for (size_t i = 0; i < udp_.size(); ++i) read_udp(i);
  for (size_t i = 0; i < tcp_.size(); ++i) accept(i);
}

std::vector<ListenSpec> Endpoint::bound() const {
  std::vector<ListenSpec> out;
  for (const auto& s : udp_) out.push_back({Transport::udp, s->local_endpoint().address().to_string(), s->local_endpoint().port()});
  for (size_t i = 0; i < tcp_.size(); ++i) {
    out.push_back({tcp_is_tls_[i] ? Transport::tls : Transport::tcp, tcp_[i]->local_endpoint().address().to_string(),
                   tcp_[i]->local_endpoint().port()});
  }
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
  auto it = conns_.find(to);
  if (it != conns_.end() && !it->second->closed) {
    it->second->out.push_back(bytes);
    if (it->second->connected) write_conn(it->second);
    return true;
  }
  if (conns_.size() >= kMaxConnections) return false;
  auto addr = asio::ip::make_address(to.ip, ec);
  if (ec) return false;
  auto c = std::make_shared<Conn>(io_, client_ctx_, to.transport == Transport::tls);
  c->peer = to;
  c->out.push_back(bytes);
  conns_[to] = c;
  // From the address we listen on (when it is not a wildcard): on a host with several addresses
  // the routed source would not be the one our Via and Contact name, nor one the peer trusts.
  for (const auto& a : tcp_) {
    const auto local = a->local_endpoint(ec).address();
    if (ec || local.is_v4() != addr.is_v4() || local.is_unspecified()) continue;
    c->socket().open(addr.is_v4() ? tcp::v4() : tcp::v6(), ec);
    if (!ec) c->socket().bind(tcp::endpoint(local, 0), ec);
    if (ec) c->socket().close(ec);
    break;
  }
  c->socket().async_connect(tcp::endpoint(addr, to.port), [this, c](std::error_code ec) {
    if (ec || c->closed) {
      close_conn(c);
      return;
    }
    if (c->tls) {
      auto name = tls_names_.find(c->peer.ip);
      handshake(c, false, name == tls_names_.end() ? c->peer.ip : name->second);
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
        bool tls = tcp_is_tls_[i];
        auto c = std::make_shared<Conn>(io_, server_ctx_, tls);
        c->socket() = std::move(s);
        c->peer = Address{ep.address().to_string(), ep.port(), tls ? Transport::tls : Transport::tcp};
        conns_[c->peer] = c;
        if (tls) {
          handshake(c, true, "");
        } else {
          c->connected = true;
          read_conn(c);
        }
      }
    }
    accept(i);
  });
}

void Endpoint::handshake(std::shared_ptr<Conn> c, bool server, const std::string& host) {
  if (!server) {
    // RFC 5922 §7: the certificate must name the host we meant: the trunk's host name when its
    // uri has one (also sent as SNI, RFC 6066: carriers' SBCs choose their certificate by it),
    // else the IP address.
    SSL* ssl = c->stream.native_handle();
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      SSL_set1_host(ssl, host.c_str());
      SSL_set_tlsext_host_name(ssl, host.c_str());
    }
  }
  c->idle.expires_after(kHandshakeTimeout);
  c->idle.async_wait([this, c](std::error_code ec) {
    if (!ec && !c->connected) close_conn(c);
  });
  c->stream.async_handshake(server ? asio::ssl::stream_base::server : asio::ssl::stream_base::client,
                            [this, c](std::error_code ec) {
                              if (ec || c->closed) {
                                close_conn(c);
                                return;
                              }
                              c->connected = true;
                              read_conn(c);
                              write_conn(c);
                            });
}

void Endpoint::arm_idle(const std::shared_ptr<Conn>& c) {
  c->idle.expires_after(kIdleConnection);
  c->idle.async_wait([this, c](std::error_code ec) {
    if (ec || c->closed) return;
    // A connection that carries a live call's dialog stays: its BYE (or a refresh) comes over it
    // however long the fax takes, and a peer behind NAT cannot be reached otherwise.
    if (ua_->carries_dialog(c->peer)) {
      arm_idle(c);
      return;
    }
    close_conn(c);
  });
}

std::string Endpoint::source_for(const std::string& peer_ip) {
  if (auto it = sources_.find(peer_ip); it != sources_.end()) return it->second;
  // The address the kernel would send from toward the peer: a connected UDP socket sends nothing.
  std::error_code ec;
  auto addr = asio::ip::make_address(peer_ip, ec);
  if (ec) return "";
  udp::socket s(io_);
  s.open(addr.is_v4() ? udp::v4() : udp::v6(), ec);
  if (!ec) s.connect(udp::endpoint(addr, 5060), ec);
  if (ec) return "";
  std::string local = s.local_endpoint(ec).address().to_string();
  if (ec) return "";
  if (sources_.size() > 4096) sources_.clear();
  sources_[peer_ip] = local;
  return local;
}

void Endpoint::read_conn(std::shared_ptr<Conn> c) {
  arm_idle(c);
  auto on_read = [this, c](std::error_code ec, size_t n) {
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
  };
  if (c->tls) c->stream.async_read_some(asio::buffer(c->buf), on_read);
  else c->socket().async_read_some(asio::buffer(c->buf), on_read);
}

void Endpoint::write_conn(std::shared_ptr<Conn> c) {
  if (c->writing || c->out.empty() || c->closed) return;
  c->writing = true;
  auto on_write = [this, c](std::error_code ec, size_t) {
    c->writing = false;
    if (ec) {
      close_conn(c);
      return;
    }
    c->out.pop_front();
    write_conn(c);
  };
  if (c->tls) asio::async_write(c->stream, asio::buffer(c->out.front()), on_write);
  else asio::async_write(c->socket(), asio::buffer(c->out.front()), on_write);
}

void Endpoint::close_conn(const std::shared_ptr<Conn>& c) {
  if (c->closed) return;
  c->closed = true;
  // Requests that never left (a refused connection, a failed handshake) fail now, not at timer B.
  bool undelivered = !c->connected || !c->out.empty();
  std::error_code ec;
  c->idle.cancel();
  c->socket().close(ec);
  auto it = conns_.find(c->peer);
  if (it != conns_.end() && it->second == c) conns_.erase(it);
  if (undelivered && !stopped_) {
    ua_->transport_error(c->peer, Clock::now());
    kick();
  }
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
