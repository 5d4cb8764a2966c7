// smtp_client.cpp — one SMTP/LMTP transaction as a coroutine (rules: smtp_client.hpp).
#include "mail/smtp_client.hpp"

#include "mail/smtp_reply.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
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
// operation takes longer than the time its step is given.
class Conn {
 public:
  Conn(asio::any_io_executor ex, const SmtpTimeouts& t) : sock_(ex), timer_(ex), t_(t) {}
  ~Conn() { timer_.cancel(); }

  asio::awaitable<std::string> connect(const std::string& host, uint16_t port) {
    tcp::resolver resolver(sock_.get_executor());
    arm(t_.connect);
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
      injected_ = true;
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
    arm(t_.command);
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, kNoThrow);
    if (ec) co_return "TLS handshake failed: " + (expired_ ? std::string("timed out") : ec.message());
    co_return "";
  }

  asio::awaitable<bool> write(const std::string& data, std::chrono::seconds limit) {
    arm(limit);
    std::error_code ec;
    if (tls_) std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(data), kNoThrow);
    else std::tie(ec, std::ignore) = co_await asio::async_write(sock_, asio::buffer(data), kNoThrow);
    co_return !ec;
  }

  asio::awaitable<Reply> read_reply(std::chrono::seconds limit) {
    SmtpReplyParser parser;
    for (;;) {
      arm(limit);
      std::error_code ec;
      size_t len = 0;
      auto buf = asio::dynamic_buffer(in_, kReplyLineMax + 2);
      if (tls_) std::tie(ec, len) = co_await asio::async_read_until(*tls_, buf, "\n", kNoThrow);
      else std::tie(ec, len) = co_await asio::async_read_until(sock_, buf, "\n", kNoThrow);
      if (ec) {
        Reply r;
        r.text = ec == asio::error::not_found
                     ? "the server sent a reply line longer than " + std::to_string(kReplyLineMax) + " bytes"
                 : expired_ ? "the server did not answer within " + std::to_string(limit.count()) + " s"
                            : "the connection failed: " + ec.message();
        co_return r;
      }
      std::string line = in_.substr(0, len);
      in_.erase(0, len);
      if (parser.add_line(line) != SmtpReplyParser::Step::more) co_return parser.reply();
    }
  }

  // The server sent bytes with its 220 to STARTTLS (start_tls refused them).
  bool injected() const { return injected_; }

  // The message in blocks, each given `limit` (RFC 5321 §4.5.3.2.5: per TCP SEND).
  asio::awaitable<bool> write_blocks(const std::string& data, std::chrono::seconds limit) {
    constexpr size_t kBlock = 64 * 1024;
    for (size_t at = 0; at < data.size(); at += kBlock) {
      arm(limit);
      std::error_code ec;
      auto b = asio::buffer(data.data() + at, std::min(kBlock, data.size() - at));
      if (tls_) std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, b, kNoThrow);
      else std::tie(ec, std::ignore) = co_await asio::async_write(sock_, b, kNoThrow);
      if (ec) co_return false;
    }
    co_return true;
  }

  void close() {
    std::error_code ec;
    sock_.close(ec);
  }

 private:
  void arm(std::chrono::seconds limit) {
    timer_.expires_after(limit);
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
  SmtpTimeouts t_;
  std::string in_;
  bool expired_ = false;
  bool injected_ = false;
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

// Where a message's header section ends (after its blank line; the whole message when none;
// 0 when the message starts with its blank line).
size_t header_end(std::string_view m) {
  if (m.starts_with("\r\n") || m.starts_with("\n")) return 0;
  const size_t crlf = m.find("\r\n\r\n"), lf = m.find("\n\n");
  return std::min(crlf == std::string_view::npos ? m.size() : crlf + 4, lf == std::string_view::npos ? m.size() : lf + 2);
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

TlsPolicy SmtpClient::policy() const {
  if (opt_.tls) return *opt_.tls;
  return !opt_.username.empty() || !opt_.tls_client_cert.empty() ? TlsPolicy::verify : TlsPolicy::may;
}

asio::awaitable<SendOutcome> SmtpClient::send(std::string from, std::string to, std::string message) {
  if (!setup_error_.empty()) co_return temporary(setup_error_);
  bool handshake_failed = false;
  SendOutcome o = co_await attempt(from, to, message, true, &handshake_failed);
  if (handshake_failed && policy() == TlsPolicy::may) {
    // As Postfix at level may: the server's TLS is broken, the mail goes in clear.
    SendOutcome clear = co_await attempt(from, to, message, false, nullptr);
    clear.detail += " (in clear: " + o.detail + ")";
    co_return clear;
  }
  co_return o;
}

asio::awaitable<SendOutcome> SmtpClient::attempt(const std::string& from, const std::string& to,
                                                 const std::string& message, bool starttls, bool* handshake_failed) {
  const TlsPolicy level = policy();
  const auto& t = opt_.timeouts;
  const std::string server = opt_.host + ":" + std::to_string(opt_.port);
  Conn c(ex_, t);
  if (auto e = co_await c.connect(opt_.host, opt_.port); !e.empty()) co_return temporary(e);
  Reply r = co_await c.read_reply(t.command);
  if (r.code != 220) co_return from_reply(r, server + " greeting");
  const std::string hello = std::string(opt_.lmtp ? "LHLO " : "EHLO ") + opt_.helo_name + "\r\n";
  if (!co_await c.write(hello, t.command)) co_return temporary("the connection to " + server + " failed");
  r = co_await c.read_reply(t.command);
  if (r.code != 250) co_return from_reply(r, opt_.lmtp ? "LHLO" : "EHLO");
  bool tls = false;
  const char* level_name = level == TlsPolicy::verify ? "verify" : "encrypt";
  if (starttls && has_extension(r, "STARTTLS")) {
    if (!co_await c.write("STARTTLS\r\n", t.command)) co_return temporary("the connection to " + server + " failed");
    Reply s = co_await c.read_reply(t.command);
    if (s.code != 220 && (level != TlsPolicy::may || s.code == 0)) co_return from_reply(s, "STARTTLS");
    if (s.code == 220) {  // (else, at level may: on in clear, RFC 3207 §4)
      const bool verify = level == TlsPolicy::verify;
      auto e = co_await c.start_tls(verify ? *verified_ : *opportunistic_, opt_.host, verify);
      if (!e.empty()) {
        if (handshake_failed && !c.injected()) *handshake_failed = true;
        co_return temporary(server + ": " + e);
      }
      tls = true;
      if (!co_await c.write(hello, t.command)) co_return temporary("the connection to " + server + " failed");
      r = co_await c.read_reply(t.command);
      if (r.code != 250) co_return from_reply(r, opt_.lmtp ? "LHLO" : "EHLO");
    }
  }
  if (!tls && level != TlsPolicy::may) {
    co_return temporary(server + " does not offer STARTTLS, and [delivery] tls = " + level_name +
                        " requires it: the mail is not sent in clear");
  }
  const Reply ehlo = r;  // what the server offers (after STARTTLS, what it offers then)
  if (!opt_.username.empty()) {
    if (!tls && !is_loopback(opt_.host))
      co_return temporary(server + " does not offer STARTTLS: the password is not sent in clear");
    std::string mechs;
    if (!has_extension(r, "AUTH", &mechs)) co_return temporary(server + " does not offer AUTH");
    if (mechs.find("PLAIN") != std::string::npos) {
      std::string token = std::string(1, '\0') + opt_.username + std::string(1, '\0') + opt_.password;
      if (!co_await c.write("AUTH PLAIN " + base64(token) + "\r\n", t.command)) co_return temporary("the connection failed");
      r = co_await c.read_reply(t.command);
    } else if (mechs.find("LOGIN") != std::string::npos) {
      if (!co_await c.write("AUTH LOGIN\r\n", t.command)) co_return temporary("the connection failed");
      r = co_await c.read_reply(t.command);
      if (r.code == 334) {
        co_await c.write(base64(opt_.username) + "\r\n", t.command);
        r = co_await c.read_reply(t.command);
      }
      if (r.code == 334) {
        co_await c.write(base64(opt_.password) + "\r\n", t.command);
        r = co_await c.read_reply(t.command);
      }
    } else {
      co_return temporary(server + " offers no AUTH mechanism we use (PLAIN, LOGIN): " + mechs);
    }
    // A refused password is a configuration error that a retry may outlive (the admin fixes it):
    // temporary, never a bounce of the fax.
    if (r.code != 235) co_return temporary("AUTH: " + r.text);
  }
  // RFC 6531/6152: a UTF-8 address or header needs SMTPUTF8, 8-bit content BODY=8BITMIME; a
  // server without them cannot take this mail, now or later (RFC 6531 §3.2): permanent.
  auto eight_bit = [](std::string_view v) {
    return std::any_of(v.begin(), v.end(), [](char ch) { return static_cast<unsigned char>(ch) >= 0x80; });
  };
  const bool utf8 = eight_bit(from) || eight_bit(to) || eight_bit(std::string_view(message).substr(0, header_end(message)));
  const bool body8 = eight_bit(std::string_view(message).substr(header_end(message)));
  std::string params;
  if (utf8) {
    if (!has_extension(ehlo, "SMTPUTF8")) {
      co_return SendOutcome{SendOutcome::permanent, server + " does not offer SMTPUTF8, which this mail's " +
                                                        std::string(eight_bit(from) || eight_bit(to) ? "address" : "header") +
                                                        " needs (RFC 6531)"};
    }
    params += " SMTPUTF8";
  }
  if (body8) {
    if (!has_extension(ehlo, "8BITMIME")) {
      co_return SendOutcome{SendOutcome::permanent, server + " does not offer 8BITMIME, which this mail's content needs"};
    }
    params += " BODY=8BITMIME";
  }
  if (!co_await c.write("MAIL FROM:<" + from + ">" + params + "\r\n", t.command)) {
    co_return temporary("the connection failed");
  }
  r = co_await c.read_reply(t.command);
  if (r.code != 250) co_return from_reply(r, "MAIL FROM");
  if (!co_await c.write("RCPT TO:<" + to + ">\r\n", t.command)) co_return temporary("the connection failed");
  r = co_await c.read_reply(t.command);
  if (r.code != 250 && r.code != 251) co_return from_reply(r, "RCPT TO");
  if (!co_await c.write("DATA\r\n", t.command)) co_return temporary("the connection failed");
  r = co_await c.read_reply(t.data_init);
  if (r.code != 354) co_return from_reply(r, "DATA");
  if (!co_await c.write_blocks(dot_stuff(message), t.data_block))
    co_return temporary("the connection failed while sending the message");
  r = co_await c.read_reply(t.data_end);  // LMTP: one reply per recipient, and we send one recipient
  if (r.code < 200 || r.code >= 300) co_return from_reply(r, "end of data");
  co_await c.write("QUIT\r\n", t.command);
  c.close();
  co_return SendOutcome{SendOutcome::delivered, r.text};
}

}  // namespace smtp
