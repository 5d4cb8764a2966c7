// printable.hpp — bytes from strangers made safe for one log line: control characters, DEL and
// backslash escaped (\n, \r, \t, \\, \xNN), cut at `max` bytes with "...". What a caller sends
// (a SIP header, an SMTP user name, an Origin) can then neither forge a log line nor hide in one.
// text_line(): the same bytes made one readable line of UTF-8, for a person rather than a log.
#pragma once

#include <cstdint>
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

// One line of text for a person to read (a report's human part): valid UTF-8 kept, each byte of
// an invalid sequence U+FFFD, control characters (C0, DEL, C1) a space; cut at `max` bytes on a
// character boundary.
inline std::string text_line(std::string_view s, size_t max = 400) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) {
      const unsigned char d = i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
      if ((d & 0xC0) != 0x80) {
        n = 0;
        break;
      }
      cp = cp << 6 | (d & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
    if ((n == 2 && cp < 0x80) || (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
      n = 0;
    }
    std::string_view piece = n == 0 ? std::string_view("\xEF\xBF\xBD") : s.substr(i, n);
    if (n == 1 && (c < 0x20 || c == 0x7f)) piece = " ";
    if (n == 2 && cp < 0xA0) piece = " ";  // C1 controls
    if (out.size() + piece.size() > max) break;
    out += piece;
    i += n == 0 ? 1 : n;
  }
  return out;
}

}  // namespace fb
