// smtp_session_test.cpp — the ESMTP state machine driven with bytes: every reply code of the
// protocol errors, pipelining, dot-stuffing, limits at the edge, STARTTLS and AUTH.
#include "mail/smtp_session.hpp"

#include <gtest/gtest.h>

namespace smtp {
namespace {

struct FakePolicy : Policy {
  std::optional<Reply> mail_refusal;
  std::optional<Reply> rcpt_refusal;  // for addresses containing "refuse"
  std::vector<Recipient> checked;
  std::optional<Reply> check_mail(const Envelope&) override { return mail_refusal; }
  std::optional<Reply> check_rcpt(const Envelope&, const Recipient& r) override {
    checked.push_back(r);
    if (r.address.find("refuse") != std::string::npos) return rcpt_refusal;
    return std::nullopt;
  }
  bool authenticate(std::string_view user, std::string_view password) override {
    return user == "alice" && password == "secret";
  }
};

struct StringSink : BodySink {
  std::string body;
  int begun = 0, aborted = 0;
  void begin(const Envelope&) override {
    ++begun;
    body.clear();
  }
  void write(std::string_view b) override { body.append(b); }
  void abort() override { ++aborted; }
};

struct Harness {
  FakePolicy policy;
  StringSink sink;
  Config cfg;
  std::unique_ptr<Session> s;
  int auth_checks = 0;
  explicit Harness(Config c = {}) : cfg(c) {
    cfg.hostname = "fax.test";
    s = std::make_unique<Session>(cfg, policy, sink, "127.0.0.1");
  }
  // Sends bytes, runs to the next event; returns the replies produced.
  std::string send(std::string_view bytes, Event* ev = nullptr) {
    s->receive(bytes);
    Event e = s->step();
    while (e == Event::authenticate) {  // the owner's check, done at once here
      ++auth_checks;
      const Credentials* c = s->pending_auth();
      s->auth_result(c && policy.authenticate(c->user, c->password));
      e = s->step();
    }
    if (ev) *ev = e;
    return s->take_output();
  }
};

TEST(SmtpSession, GreetingAndEhloExtensions) {
  Harness h;
  EXPECT_EQ(h.s->greeting(), "220 fax.test ESMTP faxbridge\r\n");
  EXPECT_EQ(h.send("EHLO client.example\r\n"),
            "250-fax.test greets client.example\r\n250-PIPELINING\r\n250-SIZE 26214400\r\n250-8BITMIME\r\n"
            "250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-SMTPUTF8\r\n250 HELP\r\n");
  EXPECT_EQ(h.send("HELO client.example\r\n"), "250 fax.test\r\n");
}

TEST(SmtpSession, AWholeTransactionWithDotStuffing) {
  Harness h;
  h.send("EHLO c\r\n");
  EXPECT_EQ(h.send("MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME\r\n"), "250 2.1.0 Sender <a@example.com> OK\r\n");
  EXPECT_EQ(h.send("RCPT TO:<FAX=+15550100@fax.test>\r\n"), "250 2.1.5 Recipient <FAX=+15550100@fax.test> OK\r\n");
  EXPECT_EQ(h.send("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
  Event ev;
  EXPECT_EQ(h.send("Subject: x\r\n\r\n..leading dot\r\nbare\nlf .\n\r\n.\r\n", &ev), "");
  EXPECT_EQ(ev, Event::message);
  EXPECT_EQ(h.sink.body, "Subject: x\r\n\r\n.leading dot\r\nbare\nlf .\n\r\n");
  EXPECT_EQ(h.s->envelope().mail_from, "a@example.com");
  EXPECT_TRUE(h.s->envelope().body_8bit);
  EXPECT_EQ(*h.s->envelope().declared_size, 100u);
  ASSERT_EQ(h.s->envelope().recipients.size(), 1u);
  h.s->message_done({250, "2.0.0", "Ok: queued as 42"});
  EXPECT_EQ(h.s->take_output(), "250 2.0.0 Ok: queued as 42\r\n");
  EXPECT_TRUE(h.s->envelope().recipients.empty());
  EXPECT_EQ(h.send("QUIT\r\n", &ev), "221 2.0.0 fax.test closing connection\r\n");
  EXPECT_EQ(ev, Event::close);
}

TEST(SmtpSession, OnlyCrLfDotCrLfEndsData) {
  Harness h;
  h.send("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
  Event ev;
  h.send("one\n.\nstill data\r\n.\n", &ev);  // "\n.\n" ends nothing
  EXPECT_EQ(ev, Event::need_input);
  h.send(".\r\n", &ev);  // ".\n.\r\n" is one line, not the end either
  EXPECT_EQ(ev, Event::need_input);
  h.send("\r\n.\r\n", &ev);
  EXPECT_EQ(ev, Event::message);
  EXPECT_EQ(h.sink.body, "one\n.\nstill data\r\n\n.\r\n\r\n");
}

TEST(SmtpSession, PipelinedCommandsAnswerInOrderAndWaitForTheCommit) {
  Harness h;
  Event ev;
  std::string out = h.send(
      "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@x> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;FAX+3D+2B1555@x\r\n"
      "RCPT TO:<b@x>\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n",
      &ev);
  EXPECT_EQ(ev, Event::message);
  EXPECT_NE(out.find("250 2.1.0 Sender <> OK\r\n250 2.1.5 Recipient <a@x> OK\r\n250 2.1.5 Recipient <b@x> OK\r\n"
                     "354 End data"),
            std::string::npos);
  const auto& r = h.s->envelope().recipients;
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(*r[0].notify, "SUCCESS,FAILURE");
  EXPECT_EQ(*r[0].orcpt, "rfc822;FAX=+1555@x");
  EXPECT_FALSE(r[1].notify.has_value());
  h.s->message_done({250, "2.0.0", "Ok"});
  EXPECT_EQ(h.s->step(), Event::close);  // the pipelined QUIT, only after the 250
  EXPECT_EQ(h.s->take_output(), "250 2.0.0 Ok\r\n221 2.0.0 fax.test closing connection\r\n");
}

// Scanners and copiers leave out the angle brackets; Postfix takes such a path (it ends at the
// first space), and so do we, with or without a space after the colon, parameters after it.
TEST(SmtpSession, BarePathsAreTakenAsPostfixTakesThem) {
  Harness h;
  h.send("EHLO c\r\n");
  EXPECT_EQ(h.send("MAIL FROM: scanner@copier.example SIZE=100\r\n"), "250 2.1.0 Sender <scanner@copier.example> OK\r\n");
  EXPECT_EQ(h.send("RCPT TO:FAX=+15550100@fax.test\r\n"), "250 2.1.5 Recipient <FAX=+15550100@fax.test> OK\r\n");
  EXPECT_EQ(h.send("RCPT TO: FAX=+15550101@fax.test NOTIFY=NEVER\r\n"), "250 2.1.5 Recipient <FAX=+15550101@fax.test> OK\r\n");
  EXPECT_EQ(h.send("RSET\r\n"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(h.send("MAIL FROM:a@b\r\n"), "250 2.1.0 Sender <a@b> OK\r\n");
}

// Reply lines are printable ASCII whatever they quote: an address (here under SMTPUTF8) or,
// through the intake, a part's UTF-8 file name.
TEST(SmtpSession, RepliesAreAsciiWhateverTheyQuote) {
  Harness h;
  h.send("EHLO c\r\n");
  EXPECT_EQ(h.send("MAIL FROM:<j\xC3\xBCrgen@example.com> SMTPUTF8\r\n"), "250 2.1.0 Sender <j??rgen@example.com> OK\r\n");
}

struct ErrorCase {
  const char* setup;
  const char* line;
  const char* reply;
};

TEST(SmtpSession, EveryProtocolErrorHasItsCode) {
  const ErrorCase cases[] = {
      {"", "MAIL FROM:<a@b>", "503 5.5.1 Error: send HELO/EHLO first"},
      {"", "EHLO", "501 5.5.4 Syntax: EHLO hostname"},
      {"EHLO c", "MAIL FROM:", "501 5.5.2 Syntax: MAIL FROM:<address> [parameters]"},
      {"EHLO c", "MAIL FROM:<a@b", "501 5.5.2 Syntax: MAIL FROM:<address> [parameters]"},
      {"EHLO c", "MAIL FROM:a@b>", "501 5.5.2 Syntax: MAIL FROM:<address> [parameters]"},
      {"EHLO c", "MAIL FROM:\"a b\"@c", "501 5.5.2 Syntax: MAIL FROM:<address> [parameters]"},
      {"EHLO c", "MAIL FROM: a@b FOO=1", "555 5.5.4 Error: unsupported parameter FOO"},
      {"EHLO c", "MAIL FROM:<a@b> SIZE=26214401", "552 5.3.4 Error: message size exceeds fixed maximum message size (26214400 bytes)"},
      {"EHLO c", "MAIL FROM:<a@b> SIZE=12x", "501 5.5.4 Error: bad SIZE parameter"},
      {"EHLO c", "MAIL FROM:<a@b> BODY=9BIT", "501 5.5.4 Error: BODY must be 7BIT or 8BITMIME"},
      {"EHLO c", "MAIL FROM:<a@b> RET=ALL", "501 5.5.4 Error: RET must be FULL or HDRS"},
      {"EHLO c", "MAIL FROM:<a@b> RET=FULL RET=HDRS", "501 5.5.4 Error: duplicate RET parameter"},
      {"EHLO c", "MAIL FROM:<a@b> ENVID=bad+ZZ", "501 5.5.4 Error: ENVID is not valid xtext"},
      {"EHLO c", "MAIL FROM:<a@b> FOO=1", "555 5.5.4 Error: unsupported parameter FOO"},
      {"HELO c", "MAIL FROM:<a@b> SIZE=1", "555 5.5.4 Error: MAIL parameters need EHLO"},
      {"EHLO c\r\nMAIL FROM:<a@b>", "MAIL FROM:<a@b>", "503 5.5.1 Error: nested MAIL command"},
      {"EHLO c", "RCPT TO:<a@b>", "503 5.5.1 Error: need MAIL command before RCPT"},
      {"EHLO c\r\nMAIL FROM:<a@b>", "RCPT TO:<>", "501 5.1.3 Syntax: RCPT TO:<address> [parameters]"},
      {"EHLO c\r\nMAIL FROM:<a@b>", "RCPT TO:<a@b> NOTIFY=NEVER,SUCCESS", "501 5.5.4 Error: NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY"},
      {"EHLO c\r\nMAIL FROM:<a@b>", "RCPT TO:<a@b> NOTIFY=DELAY,DELAY", "501 5.5.4 Error: NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY"},
      {"EHLO c\r\nMAIL FROM:<a@b>", "RCPT TO:<a@b> ORCPT=rfc822", "501 5.5.4 Error: ORCPT must be addr-type;xtext"},
      {"EHLO c\r\nMAIL FROM:<a@b>", "RCPT TO:<a@b> ORCPT=rfc822;", "501 5.5.4 Error: ORCPT must be addr-type;xtext"},
      {"EHLO c\r\nMAIL FROM:<a@b>", "RCPT TO:<a@b> ORCPT=rfc 822;x@y", "501 5.5.4 Error: ORCPT must be addr-type;xtext"},
      {"EHLO c", "MAIL FROM:<a\rb@c>", "501 5.5.2 Syntax: MAIL FROM:<address> [parameters]"},
      {"EHLO c\r\nMAIL FROM:<a@b>", "RCPT TO:<a\x01b@c>", "501 5.1.3 Syntax: RCPT TO:<address> [parameters]"},
      {"", "EHLO bad\rname", "501 5.5.4 Syntax: EHLO hostname"},
      {"EHLO c\r\nMAIL FROM:<a@b>", "RCPT TO:<a@b> XYZ=1", "555 5.5.4 Error: unsupported parameter XYZ"},
      {"EHLO c", "DATA", "503 5.5.1 Error: need MAIL command"},
      {"EHLO c\r\nMAIL FROM:<a@b>", "DATA", "554 5.5.1 Error: no valid recipients"},
      {"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<a@b>", "DATA now", "501 5.5.4 Syntax: DATA"},
      {"EHLO c", "RSET x", "501 5.5.4 Syntax: RSET"},
      {"EHLO c", "VRFY someone", "252 2.5.0 Cannot VRFY a fax address, but will accept the message and attempt delivery"},
      {"EHLO c", "EXPN list", "502 5.5.1 EXPN is not supported"},
      {"EHLO c", "HELP", "214 2.0.0 faxbridge: mail FAX=+<number>@<domain> to send a fax (RFC 3192)"},
      {"EHLO c", "NOOP", "250 2.0.0 Ok"},
      {"EHLO c", "BDAT 10", "502 5.5.1 Error: BDAT (CHUNKING) is not supported"},
      {"EHLO c", "FROB", "500 5.5.2 Error: command not recognized"},
      {"EHLO c", "STARTTLS", "502 5.5.1 Error: STARTTLS is not available"},
      {"EHLO c", "AUTH PLAIN", "502 5.5.1 Error: authentication is not enabled"},
  };
  for (const auto& c : cases) {
    Harness h;
    if (*c.setup) h.send(std::string(c.setup) + "\r\n");
    EXPECT_EQ(h.send(std::string(c.line) + "\r\n"), std::string(c.reply) + "\r\n") << c.line;
  }
}

TEST(SmtpSession, PolicyRefusalsAreRepliedAsGiven) {
  Harness h;
  h.policy.rcpt_refusal = Reply{553, "5.1.3", "FAX=+12a@x: letters in the number"};
  h.send("EHLO c\r\nMAIL FROM:<a@b>\r\n");
  EXPECT_EQ(h.send("RCPT TO:<refuse@x>\r\n"), "553 5.1.3 FAX=+12a@x: letters in the number\r\n");
  EXPECT_EQ(h.send("DATA\r\n"), "554 5.5.1 Error: no valid recipients\r\n");
  Harness m;
  m.policy.mail_refusal = Reply{530, "5.7.0", "Authentication required"};
  m.send("EHLO c\r\n");
  EXPECT_EQ(m.send("MAIL FROM:<a@b>\r\n"), "530 5.7.0 Authentication required\r\n");
  EXPECT_EQ(m.send("RCPT TO:<a@b>\r\n"), "503 5.5.1 Error: need MAIL command before RCPT\r\n");
}

TEST(SmtpSession, RecipientLimitAtTheEdge) {
  Config c;
  c.limits.max_recipients = 2;
  Harness h(c);
  h.send("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@x>\r\n");
  EXPECT_EQ(h.send("RCPT TO:<2@x>\r\n"), "250 2.1.5 Recipient <2@x> OK\r\n");
  EXPECT_EQ(h.send("RCPT TO:<3@x>\r\n"), "452 4.5.3 Error: too many recipients (at most 2)\r\n");
}

TEST(SmtpSession, MessageSizeLimitAtTheEdge) {
  Config c;
  c.limits.max_message_bytes = 10;
  for (auto [body, ok] : {std::pair{"12345678\r\n", true}, std::pair{"123456789\r\n", false}}) {
    Harness h(c);
    h.send("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
    Event ev;
    std::string out = h.send(std::string(body) + ".\r\n", &ev);
    if (ok) {
      EXPECT_EQ(ev, Event::message);
    } else {
      EXPECT_EQ(ev, Event::need_input);
      EXPECT_EQ(out, "552 5.3.4 Error: message size exceeds fixed maximum message size (10 bytes)\r\n");
      EXPECT_EQ(h.sink.aborted, 1);
      EXPECT_EQ(h.send("RCPT TO:<x@y>\r\n"), "503 5.5.1 Error: need MAIL command before RCPT\r\n");
    }
  }
}

TEST(SmtpSession, RefusalsAndTooManyRecipientsDoNotCountAsErrors) {
  Config c;
  c.limits.max_errors = 2;
  c.limits.max_recipients = 1;
  Harness h(c);
  h.policy.rcpt_refusal = Reply{553, "5.1.3", "bad"};
  Event ev;
  h.send("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\n");
  std::string out = h.send("RCPT TO:<y@y>\r\nRCPT TO:<z@y>\r\nRCPT TO:<refuse@y>\r\nNOOP\r\n", &ev);
  EXPECT_EQ(ev, Event::need_input);
  EXPECT_EQ(out.find("421"), std::string::npos) << out;
  EXPECT_NE(out.find("250 2.0.0 Ok\r\n"), std::string::npos);
}

TEST(SmtpSession, ALongLineIsAnsweredOnceAndACrLfSplitAcrossReadsSurvives) {
  Config c;
  c.limits.max_command_line = 20;
  Harness h(c);
  EXPECT_EQ(h.send(std::string(30, 'x')), "500 5.5.2 Error: line too long\r\n");
  EXPECT_EQ(h.send(std::string(30, 'x')), "");  // the same line, still: no second reply
  EXPECT_EQ(h.send(std::string(30, 'x') + "\r"), "");
  EXPECT_EQ(h.send("\nNOOP\r\n"), "250 2.0.0 Ok\r\n");
}

TEST(SmtpSession, CommandLineLengthLimit) {
  Config c;
  c.limits.max_command_line = 20;
  Harness h(c);
  EXPECT_EQ(h.send("NOOP 1234567890123456\r\n"), "500 5.5.2 Error: line too long\r\n");
  EXPECT_EQ(h.send("NOOP 123456789012345\r\n"), "250 2.0.0 Ok\r\n");  // 20 octets: at the limit
  // No CRLF in sight: answered once, the rest of that line is skipped.
  EXPECT_EQ(h.send(std::string(30, 'x')), "500 5.5.2 Error: line too long\r\n");
  EXPECT_EQ(h.send("yyy\r\nNOOP\r\n"), "250 2.0.0 Ok\r\n");
}

TEST(SmtpSession, TooManyErrorsCloseWith421) {
  Config c;
  c.limits.max_errors = 3;
  Harness h(c);
  Event ev;
  std::string out = h.send("X\r\nY\r\nZ\r\nNOOP\r\n", &ev);
  EXPECT_EQ(ev, Event::close);
  EXPECT_EQ(out,
            "500 5.5.2 Error: command not recognized\r\n500 5.5.2 Error: command not recognized\r\n"
            "500 5.5.2 Error: command not recognized\r\n421 4.7.0 fax.test Error: too many errors, closing connection\r\n");
}

TEST(SmtpSession, StartTlsDiscardsInjectedCommandsAndResets) {
  Config c;
  c.tls_available = true;
  c.auth_available = true;
  Harness h(c);
  std::string ehlo = h.send("EHLO c\r\n");
  EXPECT_NE(ehlo.find("250-STARTTLS\r\n"), std::string::npos);
  EXPECT_EQ(ehlo.find("AUTH"), std::string::npos);  // not over plain text from an untrusted client
  Event ev;
  EXPECT_EQ(h.send("STARTTLS\r\nMAIL FROM:<injected@x>\r\n", &ev), "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_EQ(ev, Event::starttls);
  h.s->tls_started();
  EXPECT_EQ(h.s->step(), Event::need_input);
  EXPECT_EQ(h.s->take_output(), "");  // the injected MAIL was discarded, not answered
  EXPECT_EQ(h.send("MAIL FROM:<a@b>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
  std::string ehlo2 = h.send("EHLO c\r\n");
  EXPECT_EQ(ehlo2.find("STARTTLS"), std::string::npos);
  EXPECT_NE(ehlo2.find("250-AUTH PLAIN LOGIN\r\n"), std::string::npos);
  EXPECT_TRUE(h.s->envelope().tls);
  EXPECT_EQ(h.send("STARTTLS\r\n"), "503 5.5.1 Error: TLS is already active\r\n");
}

Harness tls_auth_session() {
  Config c;
  c.tls_available = true;
  c.auth_available = true;
  Harness h(c);
  h.send("EHLO c\r\nSTARTTLS\r\n");
  h.s->tls_started();
  h.send("EHLO c\r\n");
  return h;
}

TEST(SmtpSession, AuthPlainAndLogin) {
  {
    Harness h = tls_auth_session();  // "\0alice\0secret"
    EXPECT_EQ(h.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"), "235 2.7.0 Authentication successful\r\n");
    EXPECT_EQ(*h.s->envelope().auth_user, "alice");
    EXPECT_EQ(h.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"), "503 5.5.1 Error: already authenticated\r\n");
  }
  {
    Harness h = tls_auth_session();
    EXPECT_EQ(h.send("AUTH PLAIN\r\n"), "334 \r\n");
    EXPECT_EQ(h.send("AGFsaWNlAHNlY3JldA==\r\n"), "235 2.7.0 Authentication successful\r\n");
  }
  {
    Harness h = tls_auth_session();
    EXPECT_EQ(h.send("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    EXPECT_EQ(h.send("YWxpY2U=\r\n"), "334 UGFzc3dvcmQ6\r\n");
    EXPECT_EQ(h.send("c2VjcmV0\r\n"), "235 2.7.0 Authentication successful\r\n");
  }
  {
    Harness h = tls_auth_session();
    EXPECT_EQ(h.send("AUTH LOGIN YWxpY2U=\r\n"), "334 UGFzc3dvcmQ6\r\n");
    EXPECT_EQ(h.send("d3Jvbmc=\r\n"), "535 5.7.8 Error: authentication credentials invalid\r\n");
    EXPECT_FALSE(h.s->envelope().auth_user.has_value());
  }
}

TEST(SmtpSession, AuthErrors) {
  Harness h = tls_auth_session();
  EXPECT_EQ(h.send("AUTH CRAM-MD5\r\n"), "504 5.5.4 Error: unsupported authentication mechanism CRAM-MD5\r\n");
  EXPECT_EQ(h.send("AUTH PLAIN\r\n*\r\n"), "334 \r\n501 5.0.0 Error: authentication cancelled\r\n");
  EXPECT_EQ(h.send("AUTH PLAIN !!!\r\n"), "501 5.5.2 Error: invalid base64 data\r\n");
  EXPECT_EQ(h.send("AUTH PLAIN YWJj\r\n"), "501 5.5.2 Error: malformed PLAIN response\r\n");
  // authzid "bob" for user alice: refused even with alice's password ("bob\0alice\0secret").
  EXPECT_EQ(h.send("AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n"), "535 5.7.8 Error: authentication credentials invalid\r\n");
  h.send("MAIL FROM:<a@b>\r\n");
  EXPECT_EQ(h.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"), "503 5.5.1 Error: AUTH not allowed during a mail transaction\r\n");
}

TEST(SmtpSession, ThreeFailedAuthsClose) {
  Harness h = tls_auth_session();
  Event ev;
  h.send("AUTH PLAIN AGFsaWNlAHg=\r\n");
  h.send("AUTH PLAIN AGFsaWNlAHg=\r\n");
  EXPECT_EQ(h.send("AUTH PLAIN AGFsaWNlAHg=\r\n", &ev),
            "535 5.7.8 Error: authentication credentials invalid\r\n"
            "421 4.7.0 fax.test Error: too many failed authentications, closing connection\r\n");
  EXPECT_EQ(ev, Event::close);
}

TEST(SmtpSession, CredentialsWaitForTheOwnersCheckAndPipelinedCommandsForIt) {
  Harness h = tls_auth_session();
  Session& s = *h.s;
  s.receive("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@example.com>\r\n");
  EXPECT_EQ(s.step(), Event::authenticate);
  ASSERT_TRUE(s.pending_auth());
  EXPECT_EQ(s.pending_auth()->user, "alice");
  EXPECT_EQ(s.pending_auth()->password, "secret");
  EXPECT_EQ(s.step(), Event::authenticate);  // asked again until answered; MAIL not yet read
  EXPECT_EQ(s.take_output(), "");
  s.auth_result(true);
  EXPECT_FALSE(s.pending_auth());
  EXPECT_EQ(s.step(), Event::need_input);
  EXPECT_EQ(s.take_output(), "235 2.7.0 Authentication successful\r\n250 2.1.0 Sender <a@example.com> OK\r\n");
  EXPECT_EQ(s.envelope().auth_user, "alice");
  // An empty user name is checked too (no shortcut that times differently), and fails.
  Harness e = tls_auth_session();
  e.send("AUTH PLAIN AAB4\r\n");
  EXPECT_EQ(e.auth_checks, 1);
}

TEST(SmtpSession, AClientOverItsFailureLimitIsToldAndClosed) {
  Harness h = tls_auth_session();
  Session& s = *h.s;
  s.receive("AUTH PLAIN AGFsaWNlAHg=\r\nNOOP\r\n");
  EXPECT_EQ(s.step(), Event::authenticate);
  s.auth_refused({421, "4.7.0", "fax.test Error: too many failed authentications from 192.0.2.1"});
  EXPECT_EQ(s.step(), Event::close);
  EXPECT_EQ(s.take_output(), "421 4.7.0 fax.test Error: too many failed authentications from 192.0.2.1\r\n");
  EXPECT_TRUE(s.closed());
  EXPECT_FALSE(s.envelope().auth_user);
}

TEST(SmtpSession, AuthNeedsTlsUnlessTrusted) {
  Config c;
  c.auth_available = true;
  Harness plain(c);
  plain.send("EHLO c\r\n");
  EXPECT_EQ(plain.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
            "538 5.7.11 Error: encryption required for requested authentication mechanism\r\n");
  c.trusted_client = true;
  Harness trusted(c);
  EXPECT_NE(trusted.send("EHLO c\r\n").find("250-AUTH PLAIN LOGIN"), std::string::npos);
  EXPECT_EQ(trusted.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"), "235 2.7.0 Authentication successful\r\n");
}

TEST(SmtpSession, ShutdownSays421AndAbortsAPartialMessage) {
  Harness h;
  h.send("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\npartial");
  EXPECT_TRUE(h.s->in_data());
  h.s->shutdown({421, "4.3.2", "fax.test Service shutting down"});
  EXPECT_EQ(h.s->take_output(), "421 4.3.2 fax.test Service shutting down\r\n");
  EXPECT_EQ(h.sink.aborted, 1);
  EXPECT_TRUE(h.s->closed());
}

TEST(SmtpSession, EnvidAndRetAreKeptDecoded) {
  Harness h;
  h.send("EHLO c\r\n");
  EXPECT_EQ(h.send("MAIL FROM:<a@b> RET=hdrs ENVID=QQ+2B123 SMTPUTF8\r\n"), "250 2.1.0 Sender <a@b> OK\r\n");
  EXPECT_EQ(*h.s->envelope().ret, "HDRS");
  EXPECT_EQ(*h.s->envelope().envid, "QQ+123");
  EXPECT_TRUE(h.s->envelope().smtputf8);
}

}  // namespace
}  // namespace smtp
