// fax_address.hpp — the fax recipient in an e-mail address: FAX=+number[/T33S=sub]@domain.
//
// STANDARDS: RFC 3191/RFC 3192 (minimal GSTN address: "FAX=" service selector, global-phone,
// "/T33S=" T.33 subaddress qualifier), RFC 2846 (optional "/" around the address), ITU-T E.164
// (1 to 15 digits), ITU-T T.33 ('#' between several subaddresses), RFC 5321 §4.1.2 (Path:
// angle brackets, source route, quoted local part), RFC 3461 §4 (xtext, the ORCPT parameter).
// Rules: ../../../shared/specs/addressing.md.
//
// parse_fax_address takes a recipient as it arrives in RCPT TO ("<FAX=+12025550100@gw>"), with or
// without angle brackets, with a display name ("Name <...>"), with a quoted local part
// ("\"FAX=+12025550100\"@gw"), or with an xtext-encoded local part as some MTAs copy it from ORCPT
// ("FAX+3D+2B12025550100@gw"). A source route ("<@relay:FAX=...@gw>") is ignored. Keywords are
// case-insensitive; written separators ('-', '.') are dropped; the domain is lower-cased. Validation
// is syntax only: whether the domain is ours (550 5.7.1) and whether the number may be dialled
// (dialing_policy.hpp) are decided by the caller. Every refusal is 553 5.1.3 with
// AddressError::reason, one sentence that quotes at most a few bytes of the input, printable ASCII only,
// so that it can go into an SMTP reply as it is.
//
// Number domains (ParseOptions::number_domains) also take the whole local part as the number, the way
// HylaFAX and ICTFAX gateways are addressed ("12025550100@fax.example.com", "+1-202-555-0100@...").
// A national number (no '+') is accepted, in either form, only when ParseOptions::country_code is set:
// it becomes "+" country_code digits, exactly as written. A national trunk prefix is NOT removed
// ("01632 960000" in the UK would become +4401632960000), because whether the leading 0 belongs to the
// number differs by country (Italy keeps it); tell users of such a policy to write numbers without it.
//
// The '+' collides with MTA plus addressing (Postfix recipient_delimiter = +): the MTA must not split
// fax local parts; see the Postfix recipe.
//
// LIMITS: kMaxNumberDigits (15, E.164), kMaxSubaddressChars (20, the T.30 SUB frame, '#' included),
// kMaxAddressBytes (1000, an SMTP text line) for the whole input.
// CONFIGURATION (ParseOptions): allow_subaddress_list (default false), number_domains (default none),
// country_code (default none: national numbers are refused).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace address {

inline constexpr std::size_t kMaxNumberDigits = 15;
inline constexpr std::size_t kMaxSubaddressChars = 20;
inline constexpr std::size_t kMaxAddressBytes = 1000;

struct FaxAddress {
  std::string number;                     // "+" and 1..15 digits
  std::optional<std::string> subaddress;  // digits, or digit groups joined by '#' when lists are allowed
  std::string domain;                     // lower-cased (ASCII letters only)

  bool operator==(const FaxAddress&) const = default;
};

struct ParseOptions {
  bool allow_subaddress_list = false;       // accept "T33S=12#34" (T.33 multiple subaddresses)
  std::vector<std::string> number_domains;  // domains whose whole local part may be the number
  std::string country_code;  // e.g. "44" (a leading '+' is tolerated); "" refuses national numbers
};

struct AddressError {
  std::string reason;  // "the T33S subaddress is empty"; answered as 553 5.1.3
};

fb::Result<FaxAddress, AddressError> parse_fax_address(std::string_view email, const ParseOptions& opt = {});

// The canonical RFC 3192 form, "FAX=+12025550100/T33S=6789@gw.example", for logs and reports;
// parse_fax_address gives back the same FaxAddress from it.
std::string to_rfc3192(const FaxAddress& a);

// RFC 3461 §4 xtext. encode escapes '+', '=' and every byte outside 33..126 as "+XX" (upper-case hex).
// decode returns the raw bytes, or nullopt for a byte outside 33..126, a bare '=' or a '+' not
// followed by two hex digits (lower-case hex is accepted: be liberal in what we receive).
std::string xtext_encode(std::string_view raw);
std::optional<std::string> xtext_decode(std::string_view xtext);

// The address in an ORCPT value ("rfc822;FAX+3D+2B12025550100@gw" → "FAX=+12025550100@gw"): the
// decoded xtext for addr-type rfc822 (case-insensitive), nullopt for any other addr-type (utf-8 of
// RFC 6533 included), a missing ';' or malformed xtext.
std::optional<std::string> orcpt_address(std::string_view orcpt);

}  // namespace address
