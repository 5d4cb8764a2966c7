// endpoint.hpp — the SIP transport on asio: UDP sockets, TCP listeners and connections, feeding
// one UserAgent (user_agent.hpp) and running its timers.
//
// STANDARDS: RFC 3261 §18 (transport: UDP datagrams, TCP streams framed by Content-Length, a
// response over the connection its request came on, connections opened on demand for requests),
// RFC 5626 §3.5.1 (CRLF keep-alives on streams are skipped by the framer).
// THREADS: everything runs on the io_context given (one thread); the UserAgent and its handler
// are called on it only.
// Outbound connections leave from the TCP listener's address when it is not a wildcard (the one
// our Via and Contact name).
// TLS (RFC 3261 §26.2, RFC 5922 §7): listeners with the certificate and key given to start();
// outbound TLS connections verify the peer's certificate against the system's trust store
// (OpenSSL's default paths; SSL_CERT_FILE overrides) and its name or IP address, TLS 1.2+.
// LIMITS: kMaxConnections TCP/TLS connections (beyond them new ones are closed at once); a
// connection that sends unframeable bytes is closed, and one that sends nothing for
// kIdleConnection too unless a live call's dialog runs over it; a TLS handshake must end within
// kHandshakeTimeout.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "sip/user_agent.hpp"

namespace sip {

inline constexpr size_t kMaxConnections = 4096;
inline constexpr std::chrono::seconds kIdleConnection{300};
inline constexpr std::chrono::seconds kHandshakeTimeout{10};

struct TlsFiles {
  std::string cert;  // PEM chain; "" when no TLS listener
  std::string key;
  // Their contents when read already (serve reads keys before it gives up root): used instead
  // of the files, which are then only named in messages.
  std::string cert_pem, key_pem;
  // Certificates to trust besides the system's (the SSL_CERT_FILE serve read at start).
  std::string trust_pem;
};

struct ListenSpec {
  Transport transport = Transport::udp;
  std::string host;  // numeric
  uint16_t port = 0; // 0: any free port
};

class Endpoint {
 public:
  Endpoint(asio::io_context& io, CallHandler& handler, std::string user_agent = "faxbridge");
  ~Endpoint();
  // Binds every listener; throws std::runtime_error naming the address that failed.
  void start(const std::vector<ListenSpec>& listen, const TlsFiles& tls = {});
  void stop();
  UserAgent& ua() { return *ua_; }
  // After any call into ua() from outside a callback: re-arms the timer for the UA's next deadline.
  void kick();
  std::vector<ListenSpec> bound() const;  // actual ports
  // The host name a TLS connection to `ip` must present a certificate for (and sends as SNI).
  void set_tls_name(const std::string& ip, const std::string& host) { tls_names_[ip] = host; }
  // The local address the system routes toward `peer_ip` (cached; "" when there is no route).
  std::string source_for(const std::string& peer_ip);

 private:
  struct Conn;
  bool send(const std::string& bytes, const Address& to);
  void read_udp(size_t i);
  void accept(size_t i);
  void handshake(std::shared_ptr<Conn> c, bool server, const std::string& host);
  void read_conn(std::shared_ptr<Conn> c);
  void arm_idle(const std::shared_ptr<Conn>& c);
  void write_conn(std::shared_ptr<Conn> c);
  void close_conn(const std::shared_ptr<Conn>& c);
  void on_timer();

  asio::io_context& io_;
  std::unique_ptr<UserAgent> ua_;
  std::vector<std::unique_ptr<asio::ip::udp::socket>> udp_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> tcp_;
  std::vector<bool> tcp_is_tls_;
  asio::ssl::context server_ctx_{asio::ssl::context::tls_server};
  asio::ssl::context client_ctx_{asio::ssl::context::tls_client};
  std::map<Address, std::shared_ptr<Conn>> conns_;
  std::map<std::string, std::string> tls_names_;
  std::map<std::string, std::string> sources_;
  std::vector<char> udp_buf_;
  asio::steady_timer timer_;
  std::optional<Time> armed_;
  bool stopped_ = false;
};

}  // namespace sip
