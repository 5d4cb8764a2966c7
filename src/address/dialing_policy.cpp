// dialing_policy.cpp — longest-prefix match over allow, deny and premium-rate prefixes (rules:
// dialing_policy.hpp).
//
// The lists are a few dozen entries at most, so a linear scan per RCPT is cheaper than keeping a trie
// in sync with the configuration.
#include "address/dialing_policy.hpp"

#include <algorithm>

namespace address {
namespace {

constexpr std::size_t kMaxDigits = 15;  // E.164

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// "+" and `min_digits`..15 digits.
bool plus_digits(std::string_view s, std::size_t min_digits) {
  if (s.empty() || s.front() != '+') return false;
  s.remove_prefix(1);
  return s.size() >= min_digits && s.size() <= kMaxDigits && std::all_of(s.begin(), s.end(), is_digit);
}

enum class Source { allow, deny, premium };

struct Match {
  std::string_view prefix;
  Source source = Source::allow;
  std::string_view what;  // for premium defaults
};

// Longer wins; at equal length a deny (configured or built in) beats an allow.
void consider(std::optional<Match>& best, std::string_view number, const Match& m) {
  if (!number.starts_with(m.prefix)) return;
  if (best) {
    if (m.prefix.size() < best->prefix.size()) return;
    if (m.prefix.size() == best->prefix.size() &&
        (m.source == Source::allow || best->source != Source::allow)) {
      return;
    }
  }
  best = m;
}

std::optional<Match> longest_match(const DialingPolicy& p, std::string_view number) {
  std::optional<Match> best;
  for (const std::string& a : p.allow) consider(best, number, {a, Source::allow, {}});
  for (const std::string& d : p.deny) consider(best, number, {d, Source::deny, {}});
  if (p.premium_defaults) {
    for (const PremiumPrefix& pp : kPremiumRatePrefixes)
      consider(best, number, {pp.prefix, Source::premium, pp.what});
  }
  return best;
}

std::string bad_prefix(std::string_view list, const std::string& prefix) {
  std::string shown;
  for (char c : prefix.substr(0, 20)) shown += c >= 32 && c < 127 ? c : '?';
  return "the " + std::string(list) + " prefix '" + shown + "' is not '+' and up to 15 digits";
}

}  // namespace

std::optional<std::string> policy_error(const DialingPolicy& policy) {
  for (const std::string& a : policy.allow) {
    if (!plus_digits(a, 0)) return bad_prefix("allow", a);
  }
  for (const std::string& d : policy.deny) {
    if (!plus_digits(d, 0)) return bad_prefix("deny", d);
  }
  return std::nullopt;
}

PolicyVerdict check_number(const DialingPolicy& policy, std::string_view e164) {
  if (!plus_digits(e164, 1)) return {false, "the number is not '+' and 1 to 15 digits (E.164)"};
  const std::string number(e164);
  if (std::optional<std::string> err = policy_error(policy)) {
    return {false, "the dialling policy is misconfigured (" + *err + "), so no number is allowed"};
  }
  const std::optional<Match> m = longest_match(policy, e164);
  if (!m) return {false, number + " is not an allowed destination"};
  const std::string prefix(m->prefix);
  switch (m->source) {
    case Source::allow:
      return {true, number + " is allowed (" + prefix + ")"};
    case Source::deny:
      return {false, number + " is a denied destination (" + prefix + ")"};
    case Source::premium:
      return {false, number + " is a premium-rate or high-cost number (" + prefix + ": " +
                         std::string(m->what) + ")"};
  }
  return {false, number + " is not an allowed destination"};
}

std::vector<std::string> nanp_country(std::string_view prefix) {
  static const std::vector<std::vector<std::string>> kOverlays = {{"+1809", "+1829", "+1849"}, {"+1876", "+1658"}};
  for (const auto& group : kOverlays) {
    if (std::find(group.begin(), group.end(), prefix) != group.end()) return group;
  }
  if (std::find(kNanpOutsideUsCanada.begin(), kNanpOutsideUsCanada.end(), prefix) != kNanpOutsideUsCanada.end()) {
    return {std::string(prefix)};
  }
  return {};
}

}  // namespace address
