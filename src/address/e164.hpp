// e164.hpp — telephone numbers as SIP peers write them, turned into E.164 ("+15550100").
//
// STANDARDS: ITU-T E.164 (international numbers: "+", a country code, at most 15 digits),
// RFC 3966 (tel URIs: visual separators "-", ".", "(", ")" and ";phone-context=" parameters),
// RFC 3261 §19.1.2 (a user part may carry %XX escapes: "%2B1555" is "+1555").
// Used for inbound calls: the called number (Request-URI or To user) and the caller id (From user)
// are normalised with the trunk's country_code and national_prefix, so routes and [reject] lists
// compare E.164 with E.164.
// Rules, first match wins: "+digits" stays international; "00digits" is international; with a
// national_prefix, "<national_prefix><national number>" becomes "+<country_code><national
// number>"; a number not starting with the country code gets it in front; else "+" is added.
// LIMITS: the result has 1 to 15 digits (kMaxDigits); anything else is refused (nullopt).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace e164 {

inline constexpr size_t kMaxDigits = 15;

// "+" followed by 1 to 15 digits.
bool valid(std::string_view number);

// %XX escapes of a SIP user part undone ("%2B1555" -> "+1555"); malformed escapes are kept.
std::string unescape_user(std::string_view user);

// The country calling code of an E.164 number ("+15550100" -> "1", "+4930..." -> "49",
// "+35312..." -> "353"), by ITU-T E.164's zones: 1 and 7 are one digit; 20, 27, 30-34, 36, 39,
// 40, 41, 43-49, 51-58, 60-66, 81, 82, 84, 86, 90-95, 98 two; every other code three (the codes
// are prefix-free). nullopt when `number` is not "+" and 4 to 15 digits.
std::optional<std::string> country_code(std::string_view number);

// "+33311..." from the national "0311..." with country_code "33" and national_prefix "0".
// nullopt when `user` cannot be an E.164 number (letters, empty, too long).
std::optional<std::string> normalise(std::string_view user, std::string_view country_code,
                                     std::string_view national_prefix);

}  // namespace e164
