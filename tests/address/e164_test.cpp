// e164_test.cpp — e164::normalise: what trunks send as caller and called numbers, to E.164.
#include "address/e164.hpp"

#include <gtest/gtest.h>

namespace {

struct Case {
  const char* user;
  const char* country_code;
  const char* national_prefix;
  std::optional<std::string> expect;
};

TEST(E164, NormalisesWhatTrunksSend) {
  const Case cases[] = {
      {"+15550100", "", "", "+15550100"},
      {"%2B15550100", "", "", "+15550100"},               // RFC 3261 escape
      {"+1-555-010-0", "", "", "+15550100"},              // RFC 3966 visual separators
      {"+1 (555) 0100", "", "", "+15550100"},
      {"+15550100;phone-context=example.com", "", "", "+15550100"},
      {"0033311223344", "33", "0", "+33311223344"},      // international prefix 00
      {"0311223344", "33", "0", "+33311223344"},          // national prefix
      {"311223344", "33", "0", "+33311223344"},           // no prefix: the country code in front
      {"33311223344", "33", "0", "+33311223344"},         // already starts with the country code
      {"15550100", "", "", "+15550100"},
      {"0", "33", "0", "+330"},                           // too short to hold a national number
      {"", "", "", std::nullopt},
      {"anonymous", "1", "1", std::nullopt},
      {"+", "", "", std::nullopt},
      {"+1234567890123456", "", "", std::nullopt},         // 16 digits
      {"+123456789012345", "", "", "+123456789012345"},    // 15 digits
      {"+1555%zz", "", "", std::nullopt},                  // a malformed escape stays, and is no digit
  };
  for (const auto& c : cases) {
    EXPECT_EQ(e164::normalise(c.user, c.country_code, c.national_prefix), c.expect) << c.user;
  }
}

TEST(E164, Valid) {
  EXPECT_TRUE(e164::valid("+1"));
  EXPECT_TRUE(e164::valid("+123456789012345"));
  EXPECT_FALSE(e164::valid("+1234567890123456"));
  EXPECT_FALSE(e164::valid("15550100"));
  EXPECT_FALSE(e164::valid("+1555a"));
  EXPECT_FALSE(e164::valid("+"));
}

TEST(E164, UnescapeUser) {
  EXPECT_EQ(e164::unescape_user("%2b1%35"), "+15");
  EXPECT_EQ(e164::unescape_user("100%"), "100%");
  EXPECT_EQ(e164::unescape_user("%4"), "%4");
}

}  // namespace

namespace {

TEST(E164, CountryCodeByZone) {
  EXPECT_EQ(e164::country_code("+15550100"), "1");
  EXPECT_EQ(e164::country_code("+74951234567"), "7");
  EXPECT_EQ(e164::country_code("+442079460000"), "44");
  EXPECT_EQ(e164::country_code("+4930123456"), "49");
  EXPECT_EQ(e164::country_code("+27211234567"), "27");
  EXPECT_EQ(e164::country_code("+35312345678"), "353");   // Ireland: zone 3, three digits
  EXPECT_EQ(e164::country_code("+380441234567"), "380");  // Ukraine
  EXPECT_EQ(e164::country_code("+85221234567"), "852");   // Hong Kong: 85x is three digits
  EXPECT_EQ(e164::country_code("+8613812345678"), "86");  // China
  EXPECT_EQ(e164::country_code("+9714123456"), "971");    // UAE
  EXPECT_EQ(e164::country_code("+9821123456"), "98");     // Iran
  EXPECT_EQ(e164::country_code("+882123456"), "882");
  EXPECT_FALSE(e164::country_code("ACME FAX"));
  EXPECT_FALSE(e164::country_code("15550100"));
  EXPECT_FALSE(e164::country_code("+0123456"));
  EXPECT_FALSE(e164::country_code("+1"));
  EXPECT_FALSE(e164::country_code("+1234567890123456"));
}

}  // namespace
