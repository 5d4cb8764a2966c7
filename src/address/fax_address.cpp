// fax_address.cpp — parses fax recipients in e-mail addresses (rules: fax_address.hpp).
//
// STANDARDS: RFC 3191/RFC 3192, RFC 2846, ITU-T E.164, ITU-T T.33, RFC 5321 §4.1.2, RFC 3461 §4.
//
// The input is peeled from the outside in: display name and angle brackets, source route, the last '@'
// outside quotes (a quoted local part may contain '@'), quotes, xtext, the optional '/' on each side,
// then the RFC 3192 grammar. Every step refuses with one reason, so that a sender learns the first
// thing that is wrong rather than a generic "bad address".
//
// Choices the spec leaves open, made here:
//   - an xtext-encoded local part is decoded only when it has no '=' and decodes to "FAX=..." (or
//     "/FAX=..."): a number-domain local part "+12025550100" is valid xtext too ("+12" is a byte) and
//     must not be decoded;
//   - country_code applies to "FAX=12025550100" as well as to number domains ("unless a national-number
//     policy is configured");
//   - on a number domain, the bare number takes the same "/T33S=" qualifier as the FAX= form;
//   - whitespace around the whole input and inside the angle brackets is tolerated; any other
//     whitespace is refused;
//   - Dot-string rules (no ".." in an unquoted local part) are not enforced: '.' is a written separator
//     and "FAX=+1..202" means +1202;
//   - a domain is LDH labels (bytes >= 0x80 allowed, for U-labels) or an address literal "[...]"; a
//     trailing '.' is refused as an empty label.
#include "address/fax_address.hpp"

#include <algorithm>
#include <utility>

namespace address {
namespace {

using ParseResult = fb::Result<FaxAddress, AddressError>;
template <class T>
using Step = fb::Result<T, AddressError>;

// How many bytes of the input a reason quotes: enough to recognise, short enough for a reply line.
constexpr std::size_t kQuotedBytes = 32;
constexpr std::string_view kHex = "0123456789ABCDEF";

AddressError fail(std::string reason) {
  return AddressError{std::move(reason)};
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Input bytes as a reason may show them: the reason goes into an SMTP reply, so a CR, LF or any
// other byte outside printable ASCII is written as \xHH, and long input is cut.
std::string shown(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, kQuotedBytes)) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 32 && b < 127 && c != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out + (s.size() > kQuotedBytes ? "'..." : "'");
}

// Positions of `c` outside double-quoted strings (where a backslash escapes the next byte).
struct Unquoted {
  std::size_t first = std::string_view::npos;
  std::size_t last = std::string_view::npos;
  bool unterminated = false;
};

Unquoted find_unquoted(std::string_view s, char c) {
  Unquoted u;
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (quoted && s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && s[i] == c) {
      if (u.first == std::string_view::npos) u.first = i;
      u.last = i;
    }
  }
  u.unterminated = quoted;
  return u;
}

// "Name <path>", "<path>" or "path" → path. The display name is not checked: it is not ours to judge.
Step<std::string_view> strip_brackets(std::string_view s) {
  const Unquoted lt = find_unquoted(s, '<');
  if (lt.unterminated) return fail("the address has a '\"' that is never closed");
  if (lt.first == std::string_view::npos) {
    if (find_unquoted(s, '>').first != std::string_view::npos)
      return fail("the address has a '>' without '<'");
    return s;
  }
  if (s.back() != '>') return fail("the address has a '<' without a closing '>' at its end");
  return trim(s.substr(lt.first + 1, s.size() - lt.first - 2));
}

// RFC 5321 §4.1.2: "<@relay1,@relay2:mailbox>"; receivers ignore the route (Appendix C). A lone
// leading '@' ("@gw") is a mailbox with an empty local part, not a route.
Step<std::string_view> strip_source_route(std::string_view s) {
  if (s.empty() || s.front() != '@' || find_unquoted(s, '@').last == 0) return s;
  const std::size_t colon = s.find(':');
  if (colon == std::string_view::npos) return fail("the address has a source route without ':'");
  return s.substr(colon + 1);
}

// RFC 5321 Quoted-string: the whole local part is quoted or none of it is.
Step<std::string> unquote_local(std::string_view local) {
  if (local.empty() || local.front() != '"') {
    if (local.find('"') != std::string_view::npos) return fail("the local part is only partly quoted");
    return std::string(local);
  }
  std::string out;
  for (std::size_t i = 1; i < local.size(); ++i) {
    if (local[i] == '\\' && i + 1 < local.size()) {
      out += local[++i];
    } else if (local[i] == '"') {
      if (i + 1 != local.size()) return fail("the local part has text after its closing '\"'");
      return out;
    } else {
      out += local[i];
    }
  }
  return fail("the quoted local part has no closing '\"'");
}

// An MTA that copied the ORCPT value into the recipient leaves "FAX+3D+2B1202...": decode only what
// cannot be anything else (see the file comment).
std::string undo_xtext(std::string local) {
  if (local.find('=') != std::string::npos) return local;
  std::optional<std::string> decoded = xtext_decode(local);
  if (!decoded) return local;
  std::string_view d = *decoded;
  if (!d.empty() && d.front() == '/') d.remove_prefix(1);
  return istarts_with(d, "FAX=") ? *decoded : local;
}

// RFC 2846: ["/"] fax-address ["/"].
std::string_view strip_slashes(std::string_view local) {
  if (!local.empty() && local.front() == '/') local.remove_prefix(1);
  if (!local.empty() && local.back() == '/') local.remove_suffix(1);
  return local;
}

Step<std::string> country_digits(std::string_view cc) {
  if (!cc.empty() && cc.front() == '+') cc.remove_prefix(1);
  const bool digits = std::all_of(cc.begin(), cc.end(), is_digit);
  if (cc.empty() || cc.size() > 3 || !digits || cc.front() == '0') {
    return fail("the configured country code " + shown(cc) + " is not 1 to 3 digits");
  }
  return std::string(cc);
}

Step<std::string> number_digits(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (is_digit(c)) {
      digits += c;
    } else if (is_alpha(c)) {
      return fail("letters in the number " + shown(text));
    } else if (c != '-' && c != '.') {
      return fail("the number has " + shown(std::string_view(&c, 1)) +
                  " (only digits, '-' and '.' are allowed)");
    }
  }
  return digits;
}

// global-phone ("+" 1*(DIGIT / written-sep)), or a national number when a country code is configured.
Step<std::string> parse_number(std::string_view text, const ParseOptions& opt) {
  if (text.empty()) return fail("the number is empty");
  const bool international = text.front() == '+';
  if (international) text.remove_prefix(1);
  Step<std::string> digits = number_digits(text);
  if (!digits) return digits;
  if (digits->empty())
    return fail(international ? "the number has no digits after '+'" : "the number has no digits");
  if (!international) {
    if (opt.country_code.empty())
      return fail("the number has no '+' (RFC 3192 needs an international number)");
    Step<std::string> cc = country_digits(opt.country_code);
    if (!cc) return cc;
    *digits = *cc + *digits;
  }
  if (digits->size() > kMaxNumberDigits) {
    return fail("the number has " + std::to_string(digits->size()) + " digits, more than 15 (E.164's limit)");
  }
  return "+" + *digits;
}

// sub-addr = 1*DIGIT; several joined by '#' (T.33) only when configured.
Step<std::string> parse_subaddress(std::string_view sub, bool allow_list) {
  if (sub.empty()) return fail("the T33S subaddress is empty");
  for (char c : sub) {
    if (c == '#' && !allow_list) {
      return fail("the T33S subaddress is a '#' list, and this gateway takes a single subaddress");
    }
    if (c != '#' && !is_digit(c)) {
      return fail("the T33S subaddress has " + shown(std::string_view(&c, 1)) + " (only digits are allowed)");
    }
  }
  if (sub.front() == '#' || sub.back() == '#' || sub.find("##") != std::string_view::npos) {
    return fail("the T33S subaddress list has an empty entry");
  }
  if (sub.size() > kMaxSubaddressChars) {
    return fail("the T33S subaddress is longer than 20 characters (the T.30 limit)");
  }
  return std::string(sub);
}

// What follows the number: *("/" qualifier), of which RFC 3192 defines only T33S.
Step<std::optional<std::string>> parse_qualifiers(std::string_view rest, const ParseOptions& opt) {
  std::optional<std::string> sub;
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    const std::size_t slash = rest.find('/');
    const std::string_view q = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    if (q.empty()) return fail("the address has an empty qualifier ('//')");
    const std::size_t eq = q.find('=');
    const std::string_view key = q.substr(0, eq);
    if (key.empty()) return fail("the address has a qualifier without a name before '='");
    if (!iequals(key, "T33S")) return fail("unknown qualifier " + shown(key));
    if (eq == std::string_view::npos) return fail("the T33S qualifier has no '=' and no subaddress");
    if (sub) return fail("the address has more than one T33S qualifier");
    Step<std::string> s = parse_subaddress(q.substr(eq + 1), opt.allow_subaddress_list);
    if (!s) return s.error();
    sub = std::move(*s);
  }
  return sub;
}

bool is_number_domain(std::string_view domain, const ParseOptions& opt) {
  return std::any_of(opt.number_domains.begin(), opt.number_domains.end(),
                     [&](const std::string& d) { return iequals(d, domain); });
}

bool domain_byte(char c) {
  return is_digit(c) || is_alpha(c) || c == '-' || static_cast<unsigned char>(c) >= 0x80;
}

// RFC 5321 Domain (LDH labels) or address-literal; dtext is %d33-90 / %d94-126.
Step<std::string> parse_domain(std::string_view d) {
  if (d.empty()) return fail("the address has no domain after '@'");
  if (d.front() == '[') {
    const std::string_view inner = d.substr(1, d.size() >= 2 ? d.size() - 2 : 0);
    const bool dtext = std::all_of(inner.begin(), inner.end(), [](char c) {
      return c >= 33 && c <= 126 && c != '[' && c != ']' && c != '\\';
    });
    if (d.size() < 3 || d.back() != ']' || !dtext)
      return fail("the address literal " + shown(d) + " is malformed");
    return lowered(d);
  }
  std::size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0) return fail("the domain " + shown(d) + " has an empty label");
      label = 0;
    } else if (domain_byte(c)) {
      ++label;
    } else {
      return fail("the domain has " + shown(std::string_view(&c, 1)));
    }
  }
  if (label == 0) return fail("the domain " + shown(d) + " has an empty label");
  return lowered(d);
}

// The local part once unquoted: fax-mbox (or, on a number domain, the bare number) and qualifiers.
ParseResult parse_local(std::string_view local, std::string domain, const ParseOptions& opt) {
  local = strip_slashes(local);
  if (local.empty()) return fail("the local part is empty");
  if (istarts_with(local, "FAX=")) {
    local.remove_prefix(4);
  } else if (!is_number_domain(domain, opt)) {
    return fail("the local part " + shown(local) + " is not a fax address (RFC 3192: FAX=+number)");
  }
  const std::size_t slash = std::min(local.find('/'), local.size());
  Step<std::string> number = parse_number(local.substr(0, slash), opt);
  if (!number) return number.error();
  Step<std::optional<std::string>> sub = parse_qualifiers(local.substr(slash), opt);
  if (!sub) return sub.error();
  return FaxAddress{std::move(*number), std::move(*sub), std::move(domain)};
}

}  // namespace

ParseResult parse_fax_address(std::string_view email, const ParseOptions& opt) {
  if (email.size() > kMaxAddressBytes) return fail("the address is longer than 1000 bytes");
  Step<std::string_view> path = strip_brackets(trim(email));
  if (!path) return path.error();
  path = strip_source_route(*path);
  if (!path) return path.error();
  if (path->empty()) return fail("the address is empty");
  const std::size_t at = find_unquoted(*path, '@').last;
  if (at == std::string_view::npos) return fail("the address has no '@' and domain");
  Step<std::string> domain = parse_domain(path->substr(at + 1));
  if (!domain) return domain.error();
  Step<std::string> local = unquote_local(path->substr(0, at));
  if (!local) return local.error();
  return parse_local(undo_xtext(std::move(*local)), std::move(*domain), opt);
}

std::string to_rfc3192(const FaxAddress& a) {
  std::string s = "FAX=" + a.number;
  if (a.subaddress) s += "/T33S=" + *a.subaddress;
  return s + "@" + a.domain;
}

std::string xtext_encode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 33 && b <= 126 && c != '+' && c != '=') {
      out += c;
    } else {
      out += '+';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

namespace {

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  const char l = lower(c);
  return l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

}  // namespace

std::optional<std::string> xtext_decode(std::string_view xtext) {
  std::string out;
  out.reserve(xtext.size());
  for (std::size_t i = 0; i < xtext.size(); ++i) {
    const auto b = static_cast<unsigned char>(xtext[i]);
    if (b < 33 || b > 126 || b == '=') return std::nullopt;
    if (b != '+') {
      out += xtext[i];
      continue;
    }
    if (i + 2 >= xtext.size()) return std::nullopt;
    const int hi = hex_value(xtext[i + 1]);
    const int lo = hex_value(xtext[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
    i += 2;
  }
  return out;
}

std::optional<std::string> orcpt_address(std::string_view orcpt) {
  const std::size_t semi = orcpt.find(';');
  if (semi == std::string_view::npos || !iequals(orcpt.substr(0, semi), "rfc822")) return std::nullopt;
  return xtext_decode(orcpt.substr(semi + 1));
}

}  // namespace address
