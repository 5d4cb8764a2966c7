// printable.hpp — bytes from strangers made safe for one log line: control characters, DEL and
// backslash escaped (\n, \r, \t, \\, \xNN), cut at `max` bytes with "...". What a caller sends
// (a SIP header, an SMTP user name, an Origin) can then neither forge a log line nor hide in one.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace fb {

inline std::string printable(std::string_view s, size_t max = 200) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out;
}

}  // namespace fb
