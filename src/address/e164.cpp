// e164.cpp — SIP user parts to E.164 numbers (see e164.hpp).
#include "address/e164.hpp"

#include <algorithm>

namespace e164 {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool separator(char c) { return c == '-' || c == '.' || c == '(' || c == ')' || c == ' '; }

}  // namespace

bool valid(std::string_view n) {
  return n.size() >= 2 && n.size() <= kMaxDigits + 1 && n[0] == '+' &&
         std::all_of(n.begin() + 1, n.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string unescape_user(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += char(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<std::string> normalise(std::string_view user_part, std::string_view country_code,
                                     std::string_view national_prefix) {
  std::string user = unescape_user(user_part);
  if (auto semi = user.find(';'); semi != std::string::npos) user.resize(semi);  // ;phone-context=...
  std::string digits;
  const bool plus = !user.empty() && user[0] == '+';
  for (char c : user) {
    if (c >= '0' && c <= '9') digits += c;
    else if (c != '+' && !separator(c)) return std::nullopt;
  }
  if (digits.empty()) return std::nullopt;
  std::string n;
  if (plus) n = "+" + digits;
  else if (digits.starts_with("00")) n = "+" + digits.substr(2);
  else if (!country_code.empty() && !national_prefix.empty() && digits.starts_with(national_prefix) &&
           digits.size() > national_prefix.size() + country_code.size() - 1)
    n = "+" + std::string(country_code) + digits.substr(national_prefix.size());
  else if (!country_code.empty() && !digits.starts_with(country_code)) n = "+" + std::string(country_code) + digits;
  else n = "+" + digits;
  if (!valid(n)) return std::nullopt;
  return n;
}

std::optional<std::string> country_code(std::string_view number) {
  if (number.size() < 5 || number.size() > 16 || number[0] != '+') return std::nullopt;
  for (char c : number.substr(1)) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  const std::string_view d = number.substr(1);
  if (d[0] == '0') return std::nullopt;  // no zone 0
  if (d[0] == '1' || d[0] == '7') return std::string(d.substr(0, 1));
  static constexpr std::string_view kTwo[] = {"20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41",
                                              "43", "44", "45", "46", "47", "48", "49", "51", "52", "53", "54",
                                              "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66",
                                              "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98"};
  for (auto two : kTwo) {
    if (d.substr(0, 2) == two) return std::string(two);
  }
  return std::string(d.substr(0, 3));
}

}  // namespace e164
