// fuzz_smtp_reply.cpp — libFuzzer target for mail::SmtpReplyParser and has_extension: any bytes
// from a mail server, split into lines, give replies or errors, never a crash or undefined
// behaviour; a reply's text never carries a control character into our logs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mail/smtp_reply.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  mail::SmtpReplyParser parser;
  while (!in.empty()) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl == std::string_view::npos ? in.size() : nl + 1);
    in.remove_prefix(line.size());
    auto step = parser.add_line(line);
    if (step == mail::SmtpReplyParser::Step::more) continue;
    const auto& r = parser.reply();
    if (step == mail::SmtpReplyParser::Step::done && (r.code < 0 || r.code > 999 || r.lines.empty())) abort();
    if (step == mail::SmtpReplyParser::Step::error && (r.code != 0 || r.text.empty())) abort();
    for (unsigned char c : r.text) {
      if (c < 0x20 || c == 0x7f) abort();
    }
    std::string params;
    if (mail::has_extension(r, "AUTH", &params) && params.find('\n') != std::string::npos) abort();
    parser = mail::SmtpReplyParser();
  }
  return 0;
}
