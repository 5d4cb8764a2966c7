// smtp_client.hpp — sends one mail to one recipient over SMTP (a smarthost) or LMTP (a mail store
// such as Dovecot): how the OnRamp delivers received faxes when [delivery] mode is smtp or lmtp.
//
// STANDARDS: RFC 5321 (SMTP), RFC 2033 (LMTP: LHLO, a reply per recipient after DATA), RFC 3207
// (STARTTLS), RFC 4954 + RFC 4616 (AUTH PLAIN; AUTH LOGIN when PLAIN is not offered), RFC 6152
// (8BITMIME is not needed: our mail is 7-bit), RFC 7435 (opportunistic TLS).
// TLS POLICY: STARTTLS whenever the server offers it. The certificate is verified (system store,
// or SSL_CERT_FILE; the name checked is the host we connected to) when we would send secrets or
// prove who we are — a username/password or a client certificate — and otherwise used only to
// encrypt (opportunistic). Credentials are never sent without TLS, except to a loopback server.
// A client certificate is presented when configured (Exchange accepts partner mail from an
// authenticated submission or mutual TLS).
// OUTCOME: 2xx after DATA → delivered; a 4xx reply, a refused connection, a TLS failure or a
// timeout → temporary (retry later); a 5xx reply → permanent. The message is sent with CRLF
// line ends and dot-stuffed, whatever its line ends on disk.
// LIMITS: kReplyLineMax bytes per reply line, 100 lines per reply; every read and write has
// SmtpClientOptions::timeout.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <asio.hpp>
#include <asio/ssl.hpp>

namespace smtp {

struct SmtpClientOptions {
  std::string host;  // an IP address or a name
  uint16_t port = 25;
  bool lmtp = false;
  std::string helo_name = "localhost";
  std::string username, password;               // AUTH when set
  std::string tls_client_cert, tls_client_key;  // PEM files, presented when set
  std::string tls_client_cert_pem, tls_client_key_pem;  // their contents, read already: used instead
  std::string trust_pem;  // certificates to trust besides the system's (SSL_CERT_FILE, read at start)
  std::chrono::seconds timeout{60};
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
  asio::any_io_executor ex_;
  SmtpClientOptions opt_;
  std::shared_ptr<asio::ssl::context> verified_, opportunistic_;
  std::string setup_error_;
};

// The message as it goes on the wire after DATA: CRLF line ends, leading dots doubled, ending
// with CRLF "." CRLF.
std::string dot_stuff(std::string_view message);

}  // namespace smtp
