// fuzz_address.cpp — libFuzzer target for address::parse_fax_address, xtext and ORCPT (RFC 3192, RFC 3461).
//
// Any byte string is a recipient, an xtext and an ORCPT value. Nothing may crash, and the results must
// keep the parser's promises, checked here so that the fuzzer also finds logic errors:
//   - an accepted number is "+" and 1..15 digits, a subaddress digits (or '#'-joined digit groups when
//     lists are allowed) of at most 20 characters, the domain has no upper-case letter, and the
//     canonical form parses back to the same address;
//   - a refusal's reason is a non-empty, short line of printable ASCII (it goes into an SMTP reply);
//   - xtext: decode(encode(x)) == x for every x, encode's output is valid xtext, and a decoded
//     input re-encodes to something that decodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "address/fax_address.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool digits_only(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

void check_subaddress(std::string_view sub, bool list_allowed) {
  check(!sub.empty() && sub.size() <= address::kMaxSubaddressChars);
  if (!list_allowed) {
    check(digits_only(sub));
    return;
  }
  check(sub.front() != '#' && sub.back() != '#' && sub.find("##") == std::string_view::npos);
  for (char c : sub) check(c == '#' || (c >= '0' && c <= '9'));
}

void check_parse(std::string_view in, const address::ParseOptions& opt) {
  const auto r = address::parse_fax_address(in, opt);
  if (!r.ok()) {
    const std::string& reason = r.error().reason;
    check(!reason.empty() && reason.size() <= 200);
    for (char c : reason) check(c >= 32 && c < 127);
    return;
  }
  const address::FaxAddress& a = *r;
  check(a.number.size() >= 2 && a.number.size() <= 1 + address::kMaxNumberDigits);
  check(a.number.front() == '+' && digits_only(std::string_view(a.number).substr(1)));
  if (a.subaddress) check_subaddress(*a.subaddress, opt.allow_subaddress_list);
  check(!a.domain.empty());
  for (char c : a.domain) check(!(c >= 'A' && c <= 'Z'));
  const auto again = address::parse_fax_address(address::to_rfc3192(a), opt);
  check(again.ok() && *again == a);
}

void check_xtext(std::string_view in) {
  const std::string enc = address::xtext_encode(in);
  const auto round = address::xtext_decode(enc);
  check(round.has_value() && *round == in);
  for (char c : enc) check(c >= 33 && c <= 126 && c != '=');
  if (const auto dec = address::xtext_decode(in)) {
    check(dec->size() <= in.size());
    check(address::xtext_decode(address::xtext_encode(*dec)) == dec);
  }
}

address::ParseOptions permissive() {
  address::ParseOptions o;
  o.allow_subaddress_list = true;
  o.number_domains = {"fax.example.com", "gw"};
  o.country_code = "44";
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const address::ParseOptions kDefault;
  static const address::ParseOptions kPermissive = permissive();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_parse(in, kDefault);
  check_parse(in, kPermissive);
  check_xtext(in);
  if (const auto orcpt = address::orcpt_address(in)) {
    check_parse(*orcpt, kDefault);
    check_parse(*orcpt, kPermissive);
  }
  return 0;
}
