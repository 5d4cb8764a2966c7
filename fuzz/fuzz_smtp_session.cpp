// fuzz_smtp_session.cpp — libFuzzer target: arbitrary client bytes, split at arbitrary points,
// through the ESMTP state machine (TLS and AUTH enabled). Invariants: every output line is
// "ddd text" or "ddd-text" ending in CRLF; nothing is written to the body sink outside DATA;
// the session never grows its buffers past the input it was given.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mail/smtp_session.hpp"

namespace {

struct Policy : smtp::Policy {
  std::optional<smtp::Reply> check_mail(const smtp::Envelope& e) override {
    if (e.mail_from.find("deny") != std::string::npos) return smtp::Reply{530, "5.7.0", "auth required"};
    return std::nullopt;
  }
  std::optional<smtp::Reply> check_rcpt(const smtp::Envelope&, const smtp::Recipient& r) override {
    if (r.address.find("deny") != std::string::npos) return smtp::Reply{550, "5.7.1", "relay denied"};
    return std::nullopt;
  }
  bool authenticate(std::string_view u, std::string_view p) override { return u == "a" && p == "b"; }
};

struct Sink : smtp::BodySink {
  bool open = false;
  size_t bytes = 0;
  void begin(const smtp::Envelope&) override { open = true; }
  void write(std::string_view b) override {
    if (!open) __builtin_trap();
    bytes += b.size();
  }
  void abort() override { open = false; }
};

void check_output(const std::string& out) {
  size_t i = 0;
  while (i < out.size()) {
    size_t eol = out.find("\r\n", i);
    if (eol == std::string::npos || eol - i < 4) __builtin_trap();
    if (out[i] < '2' || out[i] > '5') __builtin_trap();  // RFC 5321 §4.2.1: first digit 2..5
    for (size_t k = i + 1; k < i + 3; ++k)
      if (out[k] < '0' || out[k] > '9') __builtin_trap();
    if (out[i + 3] != ' ' && out[i + 3] != '-') __builtin_trap();
    i = eol + 2;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Policy policy;
  Sink sink;
  smtp::Config cfg;
  cfg.hostname = "fuzz";
  cfg.tls_available = true;
  cfg.auth_available = true;
  cfg.limits.max_message_bytes = 4096;
  cfg.limits.max_command_line = 256;
  smtp::Session s(cfg, policy, sink, "127.0.0.1");
  std::string input(reinterpret_cast<const char*>(data), size);
  // The first byte picks the chunk size, so reads split lines at every possible point.
  size_t chunk = size ? 1 + data[0] % 64 : 1;
  for (size_t i = 0; i < input.size(); i += chunk) {
    s.receive(std::string_view(input).substr(i, chunk));
    for (;;) {
      smtp::Event ev = s.step();
      if (ev == smtp::Event::message) {
        s.message_done({250, "2.0.0", "queued"});
        sink.open = false;
        continue;
      }
      if (ev == smtp::Event::starttls) {
        s.tls_started();
        continue;
      }
      if (ev == smtp::Event::authenticate) {
        const smtp::Credentials* c = s.pending_auth();
        if (!c) __builtin_trap();
        if (data[0] & 0x80) {
          s.auth_refused({421, "4.7.0", "fuzz Error: too many failed authentications from your address"});
        } else {
          s.auth_result(policy.authenticate(c->user, c->password));
        }
        continue;
      }
      break;
    }
    check_output(s.take_output());
    if (s.closed()) break;
  }
  return 0;
}
