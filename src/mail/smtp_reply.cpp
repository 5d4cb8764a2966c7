// smtp_reply.cpp — SMTP reply lines (rules: smtp_reply.hpp).
#include "mail/smtp_reply.hpp"

#include <cctype>

namespace mail {
namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

// Printable text for logs and reports: control characters become spaces.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) out.push_back(c < 0x20 || c == 0x7f ? ' ' : char(c));
  return out;
}

}  // namespace

SmtpReplyParser::Step SmtpReplyParser::add_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  auto fail = [&](const std::string& why) {
    reply_.code = 0;
    reply_.text = why;
    return Step::error;
  };
  if (line.size() > kReplyLineMax) return fail("the server sent a reply line longer than " + std::to_string(kReplyLineMax) + " bytes");
  if (line.size() < 3 || !digit(line[0]) || !digit(line[1]) || !digit(line[2]) ||
      (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
    return fail("the server sent a line that is not an SMTP reply: " + printable(line.substr(0, 80)));
  }
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (!reply_.lines.empty() && code != reply_.code) {
    return fail("the server's reply changed its code from " + std::to_string(reply_.code) + " to " +
                std::to_string(code));
  }
  if (int(reply_.lines.size()) >= kReplyLinesMax) return fail("the server's reply has too many lines");
  reply_.code = code;
  reply_.lines.push_back(line.size() > 4 ? printable(line.substr(4)) : "");
  reply_.text += (reply_.text.empty() ? "" : " / ") + printable(line);
  return line.size() > 3 && line[3] == '-' ? Step::more : Step::done;
}

bool has_extension(const SmtpReply& r, std::string_view ext, std::string* params) {
  for (size_t i = 1; i < r.lines.size(); ++i) {
    std::string up = r.lines[i];
    for (char& c : up) c = char(std::toupper(static_cast<unsigned char>(c)));
    if (up == ext || up.rfind(std::string(ext) + " ", 0) == 0) {
      if (params) *params = up.size() > ext.size() ? up.substr(ext.size() + 1) : "";
      return true;
    }
  }
  return false;
}

}  // namespace mail
