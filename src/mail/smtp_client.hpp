// smtp_client.hpp — sends one mail to one recipient over SMTP (a smarthost) or LMTP (a mail store
// such as Dovecot): how the OnRamp delivers received faxes when [delivery] mode is smtp or lmtp.
//
// STANDARDS: RFC 5321 (SMTP), RFC 2033 (LMTP: LHLO, a reply per recipient after DATA), RFC 3207
// (STARTTLS), RFC 4954 + RFC 4616 (AUTH PLAIN; AUTH LOGIN when PLAIN is not offered), RFC 6531
// (SMTPUTF8) and RFC 6152 (8BITMIME), RFC 7435 (opportunistic TLS).
// 8-BIT: our own mail is 7-bit; a report to a UTF-8 address (or with UTF-8 headers) goes with
// MAIL FROM ... SMTPUTF8, 8-bit content with BODY=8BITMIME; a server that does not offer what the
// mail needs gets nothing, and the outcome is permanent (RFC 6531 §3.2).
// TLS POLICY (SmtpClientOptions::tls, the levels of Postfix's smtp_tls_security_level):
//   may     — STARTTLS whenever the server offers it, the certificate used only to encrypt
//             (RFC 7435); when the server does not offer it, or refuses it, or the handshake
//             fails, the mail goes in clear (after a handshake failure, on a new connection).
//   encrypt — STARTTLS required, the certificate not checked; no TLS → temporary failure.
//   verify  — STARTTLS required and the certificate verified (system store, or SSL_CERT_FILE;
//             the name checked is the host we connected to).
// Default: verify when we would send secrets or prove who we are — a username/password or a
// client certificate — else may. Whatever the level, credentials are never sent without TLS,
// except to a loopback server. A client certificate is presented when configured (Exchange
// accepts partner mail from an authenticated submission or mutual TLS). Bytes a server sends
// with its 220 to STARTTLS end the session at every level (RFC 3207 §4.2), never a clear retry.
// OUTCOME: 2xx after DATA → delivered; a 4xx reply, a refused connection, a TLS failure or a
// timeout → temporary (retry later); a 5xx reply → permanent. The message is sent with CRLF
// line ends and dot-stuffed, whatever its line ends on disk.
// TIMEOUTS (RFC 5321 §4.5.3.2, SmtpTimeouts): each step waits as long as the RFC gives it — in
// particular 10 minutes for the reply after the final dot, since a server that is slow there
// (a virus scan) has the mail already, and giving up early sends it twice.
// LIMITS: kReplyLineMax bytes per reply line, 100 lines per reply.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <asio.hpp>
#include <asio/ssl.hpp>

namespace smtp {

// How long each step may wait (RFC 5321 §4.5.3.2; the connection and the greeting as Postfix's
// smtp_connect_timeout and smtp_helo_timeout).
struct SmtpTimeouts {
  std::chrono::seconds connect{30};      // name resolution and the TCP connection
  std::chrono::seconds command{300};     // the 220 greeting, EHLO, STARTTLS and its handshake, AUTH, MAIL, RCPT
  std::chrono::seconds data_init{120};   // DATA's 354
  std::chrono::seconds data_block{180};  // each write of the message
  std::chrono::seconds data_end{600};    // the reply after the final dot
};

enum class TlsPolicy { may, encrypt, verify };

struct SmtpClientOptions {
  std::string host;  // an IP address or a name
  uint16_t port = 25;
  bool lmtp = false;
  std::string helo_name = "localhost";
  std::string username, password;               // AUTH when set
  std::string tls_client_cert, tls_client_key;  // PEM files, presented when set
  std::string tls_client_cert_pem, tls_client_key_pem;  // their contents, read already: used instead
  std::string trust_pem;  // certificates to trust besides the system's (SSL_CERT_FILE, read at start)
  std::optional<TlsPolicy> tls;  // nullopt: verify when credentials or a client certificate are sent, else may
  SmtpTimeouts timeouts;
};

struct SendOutcome {
  enum Kind { delivered, temporary, permanent } kind = temporary;
  std::string detail;  // the server's reply ("250 2.0.0 Ok: queued as 4Xy"), or what failed
};

class SmtpClient {
 public:
  // Loads the client certificate, if any; a bad file is reported by every send().
  SmtpClient(asio::any_io_executor ex, SmtpClientOptions opt);
  asio::awaitable<SendOutcome> send(std::string from, std::string to, std::string message);
  const SmtpClientOptions& options() const { return opt_; }

 private:
  // One attempt; `starttls`: may STARTTLS be tried. Sets *handshake_failed when the TLS
  // handshake failed (a `may` sender tries again in clear).
  asio::awaitable<SendOutcome> attempt(const std::string& from, const std::string& to, const std::string& message,
                                       bool starttls, bool* handshake_failed);
  TlsPolicy policy() const;

  asio::any_io_executor ex_;
  SmtpClientOptions opt_;
  std::shared_ptr<asio::ssl::context> verified_, opportunistic_;
  std::string setup_error_;
};

// The message as it goes on the wire after DATA: CRLF line ends, leading dots doubled, ending
// with CRLF "." CRLF.
std::string dot_stuff(std::string_view message);

}  // namespace smtp
