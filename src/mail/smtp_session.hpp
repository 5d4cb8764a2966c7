// smtp_session.hpp — the server side of one ESMTP connection, sans I/O.
//
// STANDARDS: RFC 5321 (SMTP), RFC 1870 (SIZE), RFC 2920 (PIPELINING), RFC 6152 (8BITMIME),
// RFC 2034 and RFC 3463 (enhanced status codes), RFC 3461 (DSN: NOTIFY, ORCPT, RET, ENVID),
// RFC 3207 (STARTTLS), RFC 4954 (AUTH) with RFC 4616 (PLAIN) and LOGIN, RFC 6531 (SMTPUTF8).
//
// The session takes bytes (receive) and produces reply bytes (take_output) and events (step):
// the owner — a thin asio coroutine — reads and writes the socket, performs the TLS handshake
// when asked, and commits each finished message durably before the session may say 250.
// Decisions that need the gateway's knowledge (who may send, which recipients are ours, is
// this password right) are asked of a Policy; message bodies go to a BodySink (the spool).
//
// Protocol hardening:
// - Only CRLF ends a line, and only CRLF "." CRLF ends DATA: a bare LF never ends a line, so
//   no message can be smuggled inside another (the 2023 "SMTP smuggling" class).
// - Input buffered behind STARTTLS is discarded when TLS starts (RFC 3207 §4.2 injection).
// - Command lines over max_command_line, and more than max_errors errors, are answered and,
//   for the latter, the connection is closed with 421.
//
// LIMITS (Limits below): max_command_line 2048 octets (RFC 5321's 512 plus extension
// parameters), max_message_bytes (SIZE, checked at MAIL and while reading DATA),
// max_recipients 100 (then 452 4.5.3), max_auth_failures 3, max_errors 20.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtp {

struct Reply {
  int code = 250;
  std::string enhanced;  // "2.1.0"; empty for the greeting and HELO/EHLO replies
  std::string text;
};

struct Limits {
  size_t max_command_line = 2048;
  size_t max_message_bytes = 26214400;
  size_t max_recipients = 100;
  int max_auth_failures = 3;
  int max_errors = 20;
};

struct Config {
  std::string hostname = "localhost";
  Limits limits;
  bool tls_available = false;   // a certificate is configured: STARTTLS is offered
  bool auth_available = false;  // users are configured: AUTH is offered (over TLS, or when trusted)
  bool trusted_client = false;  // the client's address is on a trusted network
};

struct Recipient {
  std::string address;                // as given in RCPT TO, without the angle brackets
  std::optional<std::string> notify;  // "NEVER" or a comma list of SUCCESS,FAILURE,DELAY (upper case)
  std::optional<std::string> orcpt;   // "addr-type;address", xtext decoded
};

struct Envelope {
  std::string helo;
  std::string client_address;
  std::optional<std::string> auth_user;
  bool tls = false;
  std::string mail_from;            // reverse path without <>; "" is the null sender
  std::optional<std::string> ret;   // "FULL" | "HDRS"
  std::optional<std::string> envid; // xtext decoded
  std::optional<size_t> declared_size;
  bool body_8bit = false;
  bool smtputf8 = false;
  std::vector<Recipient> recipients;
};

// What the gateway decides. A reply refuses; nullopt accepts.
class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::optional<Reply> check_mail(const Envelope& env) = 0;
  virtual std::optional<Reply> check_rcpt(const Envelope& env, const Recipient& rcpt) = 0;
  virtual bool authenticate(std::string_view user, std::string_view password) = 0;
};

// Where message bodies go: begin at DATA, the dot-unstuffed bytes (CRLF line ends), then the
// owner finishes it after Event::message (commit) or the session aborts it (too big, reset).
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void begin(const Envelope& env) = 0;
  virtual void write(std::string_view bytes) = 0;
  virtual void abort() = 0;
};

enum class Event {
  need_input,  // every complete line is processed: read more (after flushing output)
  message,     // DATA ended: commit envelope() + the sink's body, then call message_done()
  starttls,    // flush output, run the TLS handshake, then call tls_started()
  close,       // flush output and close the connection
  // AUTH gave credentials (pending_auth()): check them with Policy::authenticate — slow on
  // purpose (crypt), so off the thread that carries other connections — then call
  // auth_result(), or auth_refused() for a client that may not try now. Input that came after
  // waits until then.
  authenticate,
};

struct Credentials {
  std::string user;
  std::string password;
};

class Session {
 public:
  Session(Config cfg, Policy& policy, BodySink& sink, std::string client_address);

  std::string greeting();  // "220 <host> ESMTP faxbridge"
  void receive(std::string_view bytes);
  Event step();
  std::string take_output();

  const Envelope& envelope() const { return env_; }
  void message_done(const Reply& reply);  // the commit's outcome (250 queued, 451, 554 ...)
  void tls_started();
  const Credentials* pending_auth() const { return pending_auth_ ? &*pending_auth_ : nullptr; }
  void auth_result(bool ok);          // 235, or 535 (and 421 after max_auth_failures)
  void auth_refused(const Reply& r);  // says r and closes (a client over its failure limit)
  int errors() const { return errors_; }  // protocol errors so far (the owner's tarpit)
  // The owner is stopping or the client went idle: say 421 and close (never mid-DATA: the
  // owner waits for the message to finish first).
  void shutdown(const Reply& reply);
  bool in_data() const { return state_ == State::data; }
  bool closed() const { return state_ == State::closed; }

 private:
  enum class State { fresh, ready, mail, rcpt, data, commit, auth_plain, auth_login_user, auth_login_pass, auth_check, closed };

  std::optional<Event> handle_line(std::string_view line);
  std::optional<Event> handle_data_line(std::string_view line, bool complete);
  std::optional<Event> command(std::string_view verb, std::string_view args);
  void ehlo(std::string_view args, bool extended);
  void mail(std::string_view args);
  void rcpt(std::string_view args);
  std::optional<Event> data(std::string_view args);
  std::optional<Event> starttls(std::string_view args);
  std::optional<Event> auth(std::string_view args);
  std::optional<Event> auth_response(std::string_view line);
  std::optional<Event> auth_response_plain_initial(std::string_view b64);
  std::optional<Event> finish_auth(std::string_view user, std::string_view password);
  std::optional<Event> error(int code, std::string enhanced, std::string text);
  void reply(int code, std::string_view enhanced, std::string_view text);
  void reply_lines(int code, const std::vector<std::string>& lines);
  void reset_transaction();
  bool auth_allowed() const;

  Config cfg_;
  Policy& policy_;
  BodySink& sink_;
  Envelope env_;
  State state_ = State::fresh;
  std::string in_;
  std::string out_;
  int errors_ = 0;
  int auth_failures_ = 0;
  bool extended_ = false;
  std::string login_user_;
  std::optional<Credentials> pending_auth_;
  // DATA
  size_t body_bytes_ = 0;
  bool body_too_big_ = false;
  bool at_line_start_ = true;
  bool discarding_long_line_ = false;
};

}  // namespace smtp
