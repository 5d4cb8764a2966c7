// smtp_client.cpp — one SMTP/LMTP transaction as a coroutine (rules: smtp_client.hpp).
#include "mail/smtp_client.hpp"

#include "mail/smtp_reply.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <optional>
#include <vector>

#include <asio/experimental/as_tuple.hpp>

namespace smtp {
namespace {

using asio::ip::tcp;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

std::string base64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(s.data()),
                          int(s.size()));
  out.resize(size_t(n));
  return out;
}

bool is_loopback(const std::string& host) {
  std::error_code ec;
  auto a = asio::ip::make_address(host, ec);
  return (!ec && a.is_loopback()) || host == "localhost";
}

using Reply = mail::SmtpReply;
using mail::has_extension;
using mail::kReplyLineMax;
using mail::SmtpReplyParser;

// The connection: the socket, then TLS over it after STARTTLS; a watchdog closes it when an
// operation takes longer than the timeout.
class Conn {
 public:
  Conn(asio::any_io_executor ex, std::chrono::seconds timeout) : sock_(ex), timer_(ex), timeout_(timeout) {}
  ~Conn() { timer_.cancel(); }

  asio::awaitable<std::string> connect(const std::string& host, uint16_t port) {
    tcp::resolver resolver(sock_.get_executor());
    arm();
    auto [rec, eps] = co_await resolver.async_resolve(host, std::to_string(port), kNoThrow);
    if (rec) co_return "cannot resolve " + host + ": " + rec.message();
    auto [cec, ep] = co_await asio::async_connect(sock_, eps, kNoThrow);
    if (cec) co_return "cannot connect to " + host + ":" + std::to_string(port) + ": " + (expired_ ? "timed out" : cec.message());
    co_return "";
  }

  asio::awaitable<std::string> start_tls(asio::ssl::context& ctx, const std::string& host, bool verify) {
    // RFC 3207 §4.2: nothing from before the handshake may count after it. Bytes that came with
    // the 220 (a man in the middle's "250 ..." for our next command: the STARTTLS command
    // injection class, CVE-2011-0411) end the session instead.
    if (!in_.empty()) {
      const size_t n = in_.size();
      in_.clear();
      co_return "the server sent " + std::to_string(n) +
             " bytes after its 220 to STARTTLS, before TLS began: refused (an injection, or a broken server)";
    }
    tls_.emplace(sock_, ctx);
    SSL* ssl = tls_->native_handle();
    if (verify) {
      SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) SSL_set1_host(ssl, host.c_str());
    } else {
      SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    }
    std::error_code not_ip;
    asio::ip::make_address(host, not_ip);
    if (not_ip) SSL_set_tlsext_host_name(ssl, host.c_str());  // SNI names hosts, never addresses
    arm();
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, kNoThrow);
    if (ec) co_return "TLS handshake failed: " + (expired_ ? std::string("timed out") : ec.message());
    co_return "";
  }

  asio::awaitable<bool> write(const std::string& data) {
    arm();
    std::error_code ec;
    if (tls_) std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(data), kNoThrow);
    else std::tie(ec, std::ignore) = co_await asio::async_write(sock_, asio::buffer(data), kNoThrow);
    co_return !ec;
  }

  asio::awaitable<Reply> read_reply() {
    SmtpReplyParser parser;
    for (;;) {
      arm();
      std::error_code ec;
      size_t len = 0;
      auto buf = asio::dynamic_buffer(in_, kReplyLineMax + 2);
      if (tls_) std::tie(ec, len) = co_await asio::async_read_until(*tls_, buf, "\n", kNoThrow);
      else std::tie(ec, len) = co_await asio::async_read_until(sock_, buf, "\n", kNoThrow);
      if (ec) {
        Reply r;
        r.text = ec == asio::error::not_found
                     ? "the server sent a reply line longer than " + std::to_string(kReplyLineMax) + " bytes"
                 : expired_ ? "the server did not answer within " + std::to_string(timeout_.count()) + " s"
                            : "the connection failed: " + ec.message();
        co_return r;
      }
      std::string line = in_.substr(0, len);
      in_.erase(0, len);
      if (parser.add_line(line) != SmtpReplyParser::Step::more) co_return parser.reply();
    }
  }

  void close() {
    std::error_code ec;
    sock_.close(ec);
  }

 private:
  void arm() {
    timer_.expires_after(timeout_);
    timer_.async_wait([this](std::error_code ec) {
      if (ec) return;
      expired_ = true;
      std::error_code ignored;
      sock_.close(ignored);
    });
  }

  tcp::socket sock_;
  std::optional<asio::ssl::stream<tcp::socket&>> tls_;
  asio::steady_timer timer_;
  std::chrono::seconds timeout_;
  std::string in_;
  bool expired_ = false;
};

SendOutcome from_reply(const Reply& r, const std::string& during) {
  SendOutcome o;
  o.kind = r.code >= 500 && r.code < 600 ? SendOutcome::permanent : SendOutcome::temporary;
  o.detail = (r.code ? during + ": " : "") + r.text;
  return o;
}

SendOutcome temporary(std::string why) {
  return SendOutcome{SendOutcome::temporary, std::move(why)};
}

}  // namespace

std::string dot_stuff(std::string_view m) {
  std::string out;
  out.reserve(m.size() + m.size() / 40 + 8);
  size_t pos = 0;
  while (pos < m.size()) {
    size_t nl = m.find('\n', pos);
    std::string_view line = m.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && line.front() == '.') out.push_back('.');
    out.append(line);
    out.append("\r\n");
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  out.append(".\r\n");
  return out;
}

SmtpClient::SmtpClient(asio::any_io_executor ex, SmtpClientOptions opt) : ex_(std::move(ex)), opt_(std::move(opt)) {
  auto make = [&](bool verify) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    std::error_code ec;
    if (verify) ctx->set_default_verify_paths(ec);
    if (verify && !opt_.trust_pem.empty()) {
      ctx->add_certificate_authority(asio::buffer(opt_.trust_pem), ec);
      if (ec) setup_error_ = "cannot load the certificates to trust (SSL_CERT_FILE): " + ec.message();
    }
    if (!opt_.tls_client_cert.empty()) {
      if (!opt_.tls_client_cert_pem.empty()) {
        ctx->use_certificate_chain(asio::buffer(opt_.tls_client_cert_pem), ec);
      } else {
        ctx->use_certificate_chain_file(opt_.tls_client_cert, ec);
      }
      if (ec) setup_error_ = "cannot load the TLS client certificate " + opt_.tls_client_cert + ": " + ec.message();
      if (!opt_.tls_client_key_pem.empty()) {
        ctx->use_private_key(asio::buffer(opt_.tls_client_key_pem), asio::ssl::context::pem, ec);
      } else {
        ctx->use_private_key_file(opt_.tls_client_key.empty() ? opt_.tls_client_cert : opt_.tls_client_key,
                                  asio::ssl::context::pem, ec);
      }
      if (ec && setup_error_.empty())
        setup_error_ = "cannot load the TLS client key " + opt_.tls_client_key + ": " + ec.message();
    }
    return ctx;
  };
  verified_ = make(true);
  opportunistic_ = make(false);
}

asio::awaitable<SendOutcome> SmtpClient::send(std::string from, std::string to, std::string message) {
  if (!setup_error_.empty()) co_return temporary(setup_error_);
  const bool secrets = !opt_.username.empty() || !opt_.tls_client_cert.empty();
  const std::string server = opt_.host + ":" + std::to_string(opt_.port);
  Conn c(ex_, opt_.timeout);
  if (auto e = co_await c.connect(opt_.host, opt_.port); !e.empty()) co_return temporary(e);
  Reply r = co_await c.read_reply();
  if (r.code != 220) co_return from_reply(r, server + " greeting");
  const std::string hello = std::string(opt_.lmtp ? "LHLO " : "EHLO ") + opt_.helo_name + "\r\n";
  if (!co_await c.write(hello)) co_return temporary("the connection to " + server + " failed");
  r = co_await c.read_reply();
  if (r.code != 250) co_return from_reply(r, opt_.lmtp ? "LHLO" : "EHLO");
  bool tls = false;
  if (has_extension(r, "STARTTLS")) {
    if (!co_await c.write("STARTTLS\r\n")) co_return temporary("the connection to " + server + " failed");
    Reply s = co_await c.read_reply();
    if (s.code != 220) co_return from_reply(s, "STARTTLS");
    auto e = co_await c.start_tls(secrets ? *verified_ : *opportunistic_, opt_.host, secrets);
    if (!e.empty()) co_return temporary(server + ": " + e);
    tls = true;
    if (!co_await c.write(hello)) co_return temporary("the connection to " + server + " failed");
    r = co_await c.read_reply();
    if (r.code != 250) co_return from_reply(r, opt_.lmtp ? "LHLO" : "EHLO");
  }
  if (!opt_.username.empty()) {
    if (!tls && !is_loopback(opt_.host))
      co_return temporary(server + " does not offer STARTTLS: the password is not sent in clear");
    std::string mechs;
    if (!has_extension(r, "AUTH", &mechs)) co_return temporary(server + " does not offer AUTH");
    if (mechs.find("PLAIN") != std::string::npos) {
      std::string token = std::string(1, '\0') + opt_.username + std::string(1, '\0') + opt_.password;
      if (!co_await c.write("AUTH PLAIN " + base64(token) + "\r\n")) co_return temporary("the connection failed");
      r = co_await c.read_reply();
    } else if (mechs.find("LOGIN") != std::string::npos) {
      if (!co_await c.write("AUTH LOGIN\r\n")) co_return temporary("the connection failed");
      r = co_await c.read_reply();
      if (r.code == 334) {
        co_await c.write(base64(opt_.username) + "\r\n");
        r = co_await c.read_reply();
      }
      if (r.code == 334) {
        co_await c.write(base64(opt_.password) + "\r\n");
        r = co_await c.read_reply();
      }
    } else {
      co_return temporary(server + " offers no AUTH mechanism we use (PLAIN, LOGIN): " + mechs);
    }
    // A refused password is a configuration error that a retry may outlive (the admin fixes it):
    // temporary, never a bounce of the fax.
    if (r.code != 235) co_return temporary("AUTH: " + r.text);
  }
  if (!co_await c.write("MAIL FROM:<" + from + ">\r\n")) co_return temporary("the connection failed");
  r = co_await c.read_reply();
  if (r.code != 250) co_return from_reply(r, "MAIL FROM");
  if (!co_await c.write("RCPT TO:<" + to + ">\r\n")) co_return temporary("the connection failed");
  r = co_await c.read_reply();
  if (r.code != 250 && r.code != 251) co_return from_reply(r, "RCPT TO");
  if (!co_await c.write("DATA\r\n")) co_return temporary("the connection failed");
  r = co_await c.read_reply();
  if (r.code != 354) co_return from_reply(r, "DATA");
  if (!co_await c.write(dot_stuff(message))) co_return temporary("the connection failed while sending the message");
  r = co_await c.read_reply();  // LMTP: one reply per recipient, and we send one recipient
  if (r.code < 200 || r.code >= 300) co_return from_reply(r, "end of data");
  co_await c.write("QUIT\r\n");
  c.close();
  co_return SendOutcome{SendOutcome::delivered, r.text};
}

}  // namespace smtp
