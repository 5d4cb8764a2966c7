// dialing_policy_test.cpp — address::check_number: defaults, longest match, deny wins ties, overrides.
//
// One table of (policy, number, allowed, phrase in the reason), then the built-in list's own invariants.
#include "address/dialing_policy.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <set>
#include <string>

namespace address {
namespace {

const DialingPolicy kDefaults;

DialingPolicy policy(std::vector<std::string> allow, std::vector<std::string> deny, bool premium = true) {
  DialingPolicy p;
  p.allow = std::move(allow);
  p.deny = std::move(deny);
  p.premium_defaults = premium;
  return p;
}

struct Case {
  std::string name;
  DialingPolicy policy;
  std::string number;
  bool allowed;
  std::string phrase;  // the reason must contain it
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name << " " << c.number;
}
std::string CaseName(const testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

class PolicyTest : public testing::TestWithParam<Case> {};

TEST_P(PolicyTest, Verdict) {
  const Case& c = GetParam();
  const PolicyVerdict v = check_number(c.policy, c.number);
  EXPECT_EQ(v.allowed, c.allowed) << v.reason;
  EXPECT_NE(v.reason.find(c.phrase), std::string::npos) << v.reason;
}

INSTANTIATE_TEST_SUITE_P(
    Defaults, PolicyTest,
    testing::Values(Case{"ordinary", kDefaults, "+12025550100", true, "+12025550100 is allowed (+)"},
                    Case{"nanp_900", kDefaults, "+19005550100", false,
                         "premium-rate or high-cost number (+1900: NANP 900"},
                    Case{"nanp_976_exchange", kDefaults, "+12129765555", true, "allowed"},
                    Case{"uk_090", kDefaults, "+449012345678", false, "+4490"},
                    Case{"uk_091", kDefaults, "+449112345678", false, "+4491"},
                    Case{"uk_098", kDefaults, "+449812345678", false, "+4498"},
                    Case{"uk_0871", kDefaults, "+448712345678", false, "+44871"},
                    Case{"uk_0870", kDefaults, "+448702345678", true, "allowed"},
                    Case{"uk_geographic", kDefaults, "+441632960000", true, "allowed"},
                    Case{"france_089", kDefaults, "+33899123456", false, "+3389"},
                    Case{"france_geographic", kDefaults, "+33142685300", true, "allowed"},
                    Case{"germany_0900", kDefaults, "+499001234567", false, "+49900"},
                    Case{"italy_899", kDefaults, "+39899123456", false, "+3989"},
                    Case{"italy_milan", kDefaults, "+390226338", true, "allowed"},
                    Case{"spain_803", kDefaults, "+34803123456", false, "+34803"},
                    Case{"spain_806", kDefaults, "+34806123456", false, "+34806"},
                    Case{"spain_807", kDefaults, "+34807123456", false, "+34807"},
                    Case{"spain_905", kDefaults, "+34905123456", false, "+34905"},
                    Case{"australia_1900", kDefaults, "+611900123456", false, "+61190"},
                    Case{"inmarsat", kDefaults, "+870123456789", false, "+870"},
                    Case{"iridium", kDefaults, "+881612345678", false, "+881"},
                    Case{"intl_networks_882", kDefaults, "+882123456", false, "+882"},
                    Case{"intl_networks_883", kDefaults, "+883123456", false, "+883"},
                    Case{"iprs", kDefaults, "+97912345678", false, "International Premium Rate"}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    Lists, PolicyTest,
    testing::Values(
        Case{"unlisted_country", policy({"+1", "+39"}, {}), "+441632960000", false,
             "+441632960000 is not an allowed destination"},
        Case{"listed_country", policy({"+1", "+39"}, {}), "+390226338", true, "allowed (+39)"},
        Case{"empty_allow", policy({}, {}), "+12025550100", false, "not an allowed destination"},
        Case{"deny_longer", policy({"+44"}, {"+4420"}), "+442079460000", false, "denied destination (+4420)"},
        Case{"allow_longer", policy({"+44", "+442079"}, {"+4420"}), "+442079460000", true,
             "allowed (+442079)"},
        Case{"deny_wins_tie", policy({"+", "+4420"}, {"+4420"}), "+442079460000", false,
             "denied destination (+4420)"},
        Case{"deny_everything", policy({"+"}, {"+"}), "+12025550100", false, "denied destination (+)"},
        Case{"exact_number", policy({"+"}, {"+12025550100"}), "+12025550100", false, "denied"},
        Case{"one_digit_more", policy({"+"}, {"+120255501001"}), "+12025550100", true, "allowed"},
        Case{"config_deny_adds", policy({"+"}, {"+1876"}), "+18765550100", false,
             "denied destination (+1876)"},
        Case{"config_deny_tie_builtin", policy({"+"}, {"+1900"}), "+19005550100", false,
             "denied destination (+1900)"}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    PremiumOverride, PolicyTest,
    testing::Values(
        Case{"longer_allow_overrides", policy({"+", "+4490123"}, {}), "+449012345678", true,
             "allowed (+4490123)"},
        Case{"longer_allow_is_narrow", policy({"+", "+4490123"}, {}), "+449099999999", false, "+4490"},
        Case{"same_length_allow_loses", policy({"+", "+1900"}, {}), "+19005550100", false, "premium-rate"},
        Case{"defaults_off", policy({"+"}, {}, false), "+19005550100", true, "allowed (+)"},
        Case{"config_deny_longer_than_allow", policy({"+", "+4490123"}, {"+44901234"}), "+449012345678",
             false, "denied destination (+44901234)"}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    BadInput, PolicyTest,
    testing::Values(
        Case{"no_plus", kDefaults, "12025550100", false, "not '+' and 1 to 15 digits"},
        Case{"plus_only", kDefaults, "+", false, "not '+' and 1 to 15 digits"},
        Case{"letters", kDefaults, "+1202abc", false, "not '+' and 1 to 15 digits"},
        Case{"digits_15", kDefaults, "+123456789012345", true, "allowed"},
        Case{"digits_16", kDefaults, "+1234567890123456", false, "not '+' and 1 to 15 digits"},
        Case{"bad_deny_fails_closed", policy({"+"}, {"1900"}), "+12025550100", false, "misconfigured"},
        Case{"bad_allow_fails_closed", policy({"+1-202"}, {}), "+12025550100", false, "misconfigured"}),
    CaseName);

TEST(PolicyError, NamesTheFirstMalformedPrefix) {
  EXPECT_EQ(policy_error(kDefaults), std::nullopt);
  EXPECT_EQ(policy_error(policy({"+", "+44"}, {"+4420", "+"})), std::nullopt);
  auto err = policy_error(policy({"+"}, {"+4420", "4490"}));
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("deny prefix '4490'"), std::string::npos) << *err;
  EXPECT_TRUE(policy_error(policy({""}, {})).has_value());
  EXPECT_TRUE(policy_error(policy({"+" + std::string(16, '1')}, {})).has_value());
  EXPECT_FALSE(policy_error(policy({"+" + std::string(15, '1')}, {})).has_value());
  auto ctl = policy_error(policy({"+\r\n"}, {}));
  ASSERT_TRUE(ctl.has_value());
  EXPECT_EQ(ctl->find_first_of("\r\n"), std::string::npos);
}

TEST(PremiumRatePrefixes, AreWellFormedUniqueAndDescribed) {
  std::set<std::string_view> seen;
  for (const PremiumPrefix& p : kPremiumRatePrefixes) {
    DialingPolicy only_this = policy({"+"}, {std::string(p.prefix)}, false);
    EXPECT_EQ(policy_error(only_this), std::nullopt) << p.prefix;
    EXPECT_GE(p.prefix.size(), 4u) << p.prefix;  // never a whole zone
    EXPECT_FALSE(p.what.empty()) << p.prefix;
    EXPECT_TRUE(seen.insert(p.prefix).second) << p.prefix;
  }
}

// Every default blocks a number inside it and nothing in a neighbouring range.
TEST(PremiumRatePrefixes, EachBlocksItsRangeOnly) {
  for (const PremiumPrefix& p : kPremiumRatePrefixes) {
    const std::string inside = std::string(p.prefix) + "12345";
    EXPECT_FALSE(check_number(kDefaults, inside).allowed) << inside;
    std::string neighbour(p.prefix);
    neighbour.back() = neighbour.back() == '0' ? '1' : static_cast<char>(neighbour.back() - 1);
    neighbour += "12345";
    const PolicyVerdict v = check_number(kDefaults, neighbour);
    EXPECT_EQ(v.reason.find(std::string(p.prefix) + ":"), std::string::npos) << neighbour << ": " << v.reason;
  }
}

}  // namespace
}  // namespace address
