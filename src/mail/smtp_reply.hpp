// smtp_reply.hpp — reading an SMTP/LMTP server's replies, line by line (the client side).
//
// STANDARDS: RFC 5321 §4.2 (reply lines: three digits, then "-" on every line but the last of
// a multiline reply, then text; §4.2.1 the code of every line is the same), RFC 2033 (LMTP uses
// the same replies), RFC 5321 §4.1.1.1 (EHLO: each line after the first names an extension).
// Sans I/O: smtp_client.cpp reads lines from the socket and feeds them here; the fuzz target
// feeds any bytes.
// LIMITS: kReplyLineMax bytes per line (the reader stops reading a longer one), kReplyLinesMax
// lines per reply. Anything else that is not a reply line is an error, never a guess.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mail {

inline constexpr size_t kReplyLineMax = 4096;
inline constexpr int kReplyLinesMax = 100;

struct SmtpReply {
  int code = 0;                    // 0: no reply (the connection failed, or a bad line: see text)
  std::string text;                // every line, joined with " / " (for logs and reports)
  std::vector<std::string> lines;  // the text after the code and separator, per line
};

class SmtpReplyParser {
 public:
  enum class Step { more, done, error };
  // One line, its CR LF (or LF) already removed or not. After done or error, start a new parser.
  Step add_line(std::string_view line);
  const SmtpReply& reply() const { return reply_; }

 private:
  SmtpReply reply_;
};

// Whether an EHLO reply announces `ext` (upper case, e.g. "STARTTLS", "AUTH"); its parameters,
// upper-cased, into *params.
bool has_extension(const SmtpReply& r, std::string_view ext, std::string* params = nullptr);

}  // namespace mail
