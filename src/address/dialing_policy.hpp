// dialing_policy.hpp — which numbers the gateway may dial: allow and deny lists of E.164 prefixes, with
// built-in premium-rate defaults, checked at RCPT time (a refusal is 550 5.7.1, addressing.md).
//
// STANDARDS: ITU-T E.164 (international numbers, country codes 870/881/882/883/979), and the national
// numbering plans named in kPremiumRatePrefixes.
//
// Rule: among the allow prefixes, the deny prefixes and (when premium_defaults) kPremiumRatePrefixes,
// the longest prefix of the number decides; a tie between an allow and a deny goes to the deny. A
// number that no prefix matches is not an allowed destination. So "allow +44" with "deny +4420" refuses
// London, and "allow +4490123" re-opens one premium range the defaults close; to allow all of a
// default range, turn premium_defaults off and list the remaining denies yourself, because an allow of
// the same length as a default deny loses the tie.
// A policy with a malformed prefix refuses every number (fail closed: a typo in a deny list must not
// open it); policy_error finds it for start-up.
//
// LIMITS: prefixes are "+" and 0 to 15 digits ("+" alone matches every number); numbers 1 to 15 digits.
// CONFIGURATION: allow (default "+", everywhere), deny (default none), premium_defaults (default true).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace address {

struct PremiumPrefix {
  std::string_view prefix;
  std::string_view what;  // named in the refusal
};

// Ranges where a fax call costs far more than a call, or pays the callee (toll fraud). Deliberately
// short: ranges that are premium only in part (UK 0870, French 081/082 shared cost, directory enquiries
// 118xy) and high-cost fraud destinations are left to the deny list. NANP 976 premium lines are an
// exchange code inside every area code (+1 NPA 976 XXXX), which a prefix cannot express; +1976 would
// only match the unassigned area code 976, so it is not listed.
inline constexpr std::array<PremiumPrefix, 20> kPremiumRatePrefixes = {{
    {"+1900", "NANP 900 premium-rate services"},
    {"+3389", "France 089x premium-rate services (numeros a valeur ajoutee)"},
    {"+34803", "Spain 803 adult premium-rate services"},
    {"+34806", "Spain 806 entertainment premium-rate services"},
    {"+34807", "Spain 807 professional premium-rate services"},
    {"+34905", "Spain 905 mass-calling and televoting services"},
    {"+3989", "Italy 89x premium-rate services (servizi a sovrapprezzo)"},
    {"+4490", "UK 090 premium-rate services"},
    {"+4491", "UK 091 premium-rate services"},
    {"+4498", "UK 098 sexual-entertainment premium-rate services"},
    {"+44871", "UK 0871 service numbers with a service charge"},
    {"+44872", "UK 0872 service numbers with a service charge"},
    {"+44873", "UK 0873 service numbers with a service charge"},
    {"+49900", "Germany 0900 premium-rate services"},
    {"+61190", "Australia 190x premium-rate services"},
    {"+870", "Inmarsat satellite service, charged at satellite rates"},
    {"+881", "Global Mobile Satellite System (Iridium, Globalstar), charged at satellite rates"},
    {"+882", "international networks, charged at carrier-set rates"},
    {"+883", "international networks, charged at carrier-set rates"},
    {"+979", "International Premium Rate Service"},
}};

// NANP area codes of countries other than the US and Canada (+1 is shared by 25 countries; these
// are the Caribbean and Atlantic ones, the usual toll-fraud targets a "+1" allow would open). The
// default policy of a node whose station_id is in +1 denies them (config: dialing.allow absent).
inline constexpr std::array<std::string_view, 21> kNanpOutsideUsCanada = {
    "+1242", "+1246", "+1264", "+1268", "+1284", "+1345", "+1441", "+1473", "+1649", "+1658", "+1664",
    "+1721", "+1758", "+1767", "+1784", "+1809", "+1829", "+1849", "+1868", "+1869", "+1876"};

// The NANP prefixes of the country that `prefix` (one of kNanpOutsideUsCanada) belongs to, its
// overlays included (the Dominican Republic +1809/+1829/+1849, Jamaica +1876/+1658); empty when
// `prefix` is none of them. A node in Jamaica defaults to Jamaica, not to the US and Canada.
std::vector<std::string> nanp_country(std::string_view prefix);

struct DialingPolicy {
  std::vector<std::string> allow = {"+"};
  std::vector<std::string> deny;
  bool premium_defaults = true;
};

struct PolicyVerdict {
  bool allowed;
  std::string reason;  // "+441632960000 is not an allowed destination"; answered as 550 5.7.1
};

// The first malformed prefix in the policy, described; nullopt when the policy is well-formed.
std::optional<std::string> policy_error(const DialingPolicy& policy);

// `e164` as parse_fax_address gives it: "+" and 1 to 15 digits (anything else is refused).
PolicyVerdict check_number(const DialingPolicy& policy, std::string_view e164);

}  // namespace address
