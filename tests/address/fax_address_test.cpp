// fax_address_test.cpp — address::parse_fax_address, xtext and ORCPT against addressing.md.
//
// Two tables: addresses that must give an exact FaxAddress, and addresses that must be refused with a
// reason containing a given phrase (so a refusal for the wrong reason fails). Every example and every
// must-refuse case of addressing.md is here, then the edges of each limit (one under, at, one over).
#include "address/fax_address.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace address {
namespace {

const ParseOptions kDefault;

ParseOptions with_list() {
  ParseOptions o;
  o.allow_subaddress_list = true;
  return o;
}

ParseOptions with_number_domain(std::string cc = "") {
  ParseOptions o;
  o.number_domains = {"fax.example.com", "Numbers.Example"};
  o.country_code = std::move(cc);
  return o;
}

ParseOptions with_country(std::string cc) {
  ParseOptions o;
  o.country_code = std::move(cc);
  return o;
}

std::string digits(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += static_cast<char>('0' + (i + 1) % 10);
  return s;
}

// --- Accepted ------------------------------------------------------------------------------------------

struct Accept {
  std::string input;
  std::string number;
  std::optional<std::string> subaddress;
  std::string domain;
  ParseOptions opt = {};
};

void PrintTo(const Accept& a, std::ostream* os) {
  *os << a.input;
}

class AcceptTest : public testing::TestWithParam<Accept> {};

TEST_P(AcceptTest, GivesExactAddress) {
  const Accept& t = GetParam();
  auto r = parse_fax_address(t.input, t.opt);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r->number, t.number);
  EXPECT_EQ(r->subaddress, t.subaddress);
  EXPECT_EQ(r->domain, t.domain);
}

TEST_P(AcceptTest, CanonicalFormParsesToTheSameAddress) {
  const Accept& t = GetParam();
  auto r = parse_fax_address(t.input, t.opt);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  auto again = parse_fax_address(to_rfc3192(*r), t.opt);
  ASSERT_TRUE(again.ok()) << again.error().reason;
  EXPECT_EQ(*again, *r);
}

const std::optional<std::string> kNone;

INSTANTIATE_TEST_SUITE_P(
    SpecExamples, AcceptTest,
    testing::Values(Accept{"FAX=+12025550100@fax.example.com", "+12025550100", kNone, "fax.example.com"},
                    Accept{"fax=+39-02-26338@gw.example", "+390226338", kNone, "gw.example"},
                    Accept{"FAX=+1.202.555.0100/T33S=6789@gw.example", "+12025550100", "6789", "gw.example"},
                    Accept{"/FAX=+441632960000/@gw.example", "+441632960000", kNone, "gw.example"}));

INSTANTIATE_TEST_SUITE_P(
    Syntax, AcceptTest,
    testing::Values(Accept{"<FAX=+12025550100@gw>", "+12025550100", kNone, "gw"},
                    Accept{"  <FAX=+12025550100@gw>  ", "+12025550100", kNone, "gw"},
                    Accept{"< FAX=+12025550100@gw >", "+12025550100", kNone, "gw"},
                    Accept{"Alice Smith <FAX=+12025550100@gw>", "+12025550100", kNone, "gw"},
                    Accept{"\"Smith, Alice <fax>\" <FAX=+12025550100@gw>", "+12025550100", kNone, "gw"},
                    Accept{"\"FAX=+12025550100\"@gw", "+12025550100", kNone, "gw"},
                    Accept{"<\"FAX=+1202/T33S=7\"@gw>", "+1202", "7", "gw"},
                    Accept{"\"FAX\\=+1202\"@gw", "+1202", kNone, "gw"},
                    Accept{"<@relay.example,@r2.example:FAX=+1202@gw>", "+1202", kNone, "gw"},
                    Accept{"FAX=+12025550100@GW.Example.COM", "+12025550100", kNone, "gw.example.com"},
                    Accept{"FAX=+12025550100@[192.0.2.1]", "+12025550100", kNone, "[192.0.2.1]"},
                    Accept{"FaX=+1202/t33s=12@gw", "+1202", "12", "gw"},
                    Accept{"FAX=+1202/T33S=12/@gw", "+1202", "12", "gw"},
                    Accept{"/FAX=+1202@gw", "+1202", kNone, "gw"},
                    Accept{"FAX=+1202/@gw", "+1202", kNone, "gw"},
                    Accept{"FAX=+1..202--5@gw", "+12025", kNone, "gw"},
                    Accept{"FAX=+1@gw", "+1", kNone, "gw"}));

INSTANTIATE_TEST_SUITE_P(Xtext, AcceptTest,
                         testing::Values(Accept{"FAX+3D+2B12025550100@gw", "+12025550100", kNone, "gw"},
                                         Accept{"<fax+3d+2b1202+2FT33S+3D55@gw>", "+1202", "55", "gw"},
                                         Accept{"+2FFAX+3D+2B1202+2F@gw", "+1202", kNone, "gw"}));

INSTANTIATE_TEST_SUITE_P(
    Limits, AcceptTest,
    testing::Values(Accept{"FAX=+" + digits(14) + "@gw", "+" + digits(14), kNone, "gw"},
                    Accept{"FAX=+" + digits(15) + "@gw", "+" + digits(15), kNone, "gw"},
                    Accept{"FAX=+1/T33S=" + digits(19) + "@gw", "+1", digits(19), "gw"},
                    Accept{"FAX=+1/T33S=" + digits(20) + "@gw", "+1", digits(20), "gw"},
                    // 1000 bytes exactly: written separators are unlimited, the whole input is not.
                    Accept{"FAX=+1" + std::string(1000 - 10, '-') + "2@gw", "+12", kNone, "gw"}));

INSTANTIATE_TEST_SUITE_P(SubaddressList, AcceptTest,
                         testing::Values(Accept{"FAX=+1202/T33S=12#345@gw", "+1202", "12#345", "gw",
                                                with_list()},
                                         Accept{"FAX=+1202/T33S=7@gw", "+1202", "7", "gw", with_list()},
                                         Accept{"FAX=+1/T33S=" + digits(9) + "#" + digits(10) + "@gw", "+1",
                                                digits(9) + "#" + digits(10), "gw", with_list()}));

INSTANTIATE_TEST_SUITE_P(NumberDomains, AcceptTest,
                         testing::Values(Accept{"+12025550100@fax.example.com", "+12025550100", kNone,
                                                "fax.example.com", with_number_domain()},
                                         Accept{"+1-202-555-0100@FAX.example.com", "+12025550100", kNone,
                                                "fax.example.com", with_number_domain()},
                                         Accept{"12025550100@fax.example.com", "+4412025550100", kNone,
                                                "fax.example.com", with_number_domain("44")},
                                         Accept{"2025550100@numbers.example", "+12025550100", kNone,
                                                "numbers.example", with_number_domain("+1")},
                                         Accept{"FAX=+12025550100@fax.example.com", "+12025550100", kNone,
                                                "fax.example.com", with_number_domain()},
                                         Accept{"+1202/T33S=9@fax.example.com", "+1202", "9",
                                                "fax.example.com", with_number_domain()},
                                         Accept{"/+1202/@fax.example.com", "+1202", kNone, "fax.example.com",
                                                with_number_domain()},
                                         Accept{"<\"+1202\"@fax.example.com>", "+1202", kNone,
                                                "fax.example.com", with_number_domain()},
                                         Accept{digits(13) + "@fax.example.com", "+44" + digits(13), kNone,
                                                "fax.example.com", with_number_domain("44")}));

INSTANTIATE_TEST_SUITE_P(
    CountryCode, AcceptTest,
    testing::Values(Accept{"FAX=2025550100@gw", "+12025550100", kNone, "gw", with_country("1")},
                    Accept{"FAX=+12025550100@gw", "+12025550100", kNone, "gw", with_country("44")},
                    Accept{"FAX=02-26338@gw", "+390226338", kNone, "gw", with_country("39")}));

// --- Refused -------------------------------------------------------------------------------------------

struct Refuse {
  std::string input;
  std::string phrase;  // the reason must contain it
  ParseOptions opt = {};
};

void PrintTo(const Refuse& r, std::ostream* os) {
  *os << r.input;
}

class RefuseTest : public testing::TestWithParam<Refuse> {};

TEST_P(RefuseTest, RefusesWithReason) {
  const Refuse& t = GetParam();
  auto r = parse_fax_address(t.input, t.opt);
  ASSERT_FALSE(r.ok()) << "accepted as " << r->number;
  EXPECT_NE(r.error().reason.find(t.phrase), std::string::npos) << r.error().reason;
}

// The reason goes into an SMTP reply as it is: one short line of printable ASCII.
TEST_P(RefuseTest, ReasonIsAShortPrintableLine) {
  const Refuse& t = GetParam();
  auto r = parse_fax_address(t.input, t.opt);
  ASSERT_FALSE(r.ok());
  const std::string& reason = r.error().reason;
  EXPECT_FALSE(reason.empty());
  EXPECT_LE(reason.size(), 160u) << reason;
  for (char c : reason) EXPECT_TRUE(c >= 32 && c < 127) << reason;
}

INSTANTIATE_TEST_SUITE_P(SpecMustRefuse, RefuseTest,
                         testing::Values(Refuse{"FAX=12025550100@gw", "has no '+'"},
                                         Refuse{"FAX=+@gw", "no digits after '+'"},
                                         Refuse{"FAX=+1202abc@gw", "letters in the number"},
                                         Refuse{"FAX=+1202/T33S=@gw", "the T33S subaddress is empty"},
                                         Refuse{"FAX=+1202/T33S=12a@gw", "the T33S subaddress has 'a'"},
                                         Refuse{"FAX=+1202/FOO=1@gw", "unknown qualifier 'FOO'"},
                                         Refuse{"@gw", "the local part is empty"},
                                         Refuse{"FAX=+" + digits(16) + "@gw", "more than 15"}));

INSTANTIATE_TEST_SUITE_P(
    Syntax, RefuseTest,
    testing::Values(
        Refuse{"", "the address is empty"}, Refuse{"<>", "the address is empty"},
        Refuse{"   ", "the address is empty"}, Refuse{"\"\"@gw", "the local part is empty"},
        Refuse{"/@gw", "the local part is empty"}, Refuse{"//@gw", "the local part is empty"},
        Refuse{"FAX=+1202", "no '@'"}, Refuse{"FAX=+1202@", "no domain"},
        Refuse{"FAX=+1202@gw.", "empty label"}, Refuse{"FAX=+1202@gw..example", "empty label"},
        Refuse{"FAX=+1202@gw example", "the domain has ' '"}, Refuse{"FAX=+1202@gw>", "'>' without '<'"},
        Refuse{"<FAX=+1202@gw", "without a closing '>'"},
        Refuse{"<FAX=+1202@gw> trailing", "without a closing '>'"},
        Refuse{"<<FAX=+1202@gw>>", "the domain has '>'"}, Refuse{"\"FAX=+1202@gw", "never closed"},
        Refuse{"\"FAX=+1202\"x@gw", "after its closing"}, Refuse{"FAX=\"+1202\"@gw", "partly quoted"},
        Refuse{"<@relay.example FAX=+1202@gw>", "source route without ':'"},
        Refuse{"<@relay.example:@gw>", "the local part is empty"}, Refuse{"FAX=+1202@[]", "address literal"},
        Refuse{"FAX=+1202@[1.2.3.4", "address literal"}, Refuse{"alice@gw", "not a fax address"},
        Refuse{"12025550100@gw", "not a fax address"}, Refuse{"FAX+12025550100@gw", "not a fax address"},
        Refuse{"FAXX=+1202@gw", "not a fax address"}, Refuse{"FAX=@gw", "the number is empty"},
        Refuse{"FAX=+-.-@gw", "no digits after '+'"}, Refuse{"FAX=+1 202@gw", "the number has ' '"},
        Refuse{"\"FAX=+1 202\"@gw", "the number has ' '"}, Refuse{"FAX=+1+202@gw", "the number has '+'"},
        Refuse{"FAX=+1202//T33S=1@gw", "empty qualifier"}, Refuse{"FAX=+1202/T33S=1//@gw", "empty qualifier"},
        Refuse{"FAX=+1202/=1@gw", "without a name"}, Refuse{"FAX=+1202/T33S@gw", "has no '='"},
        Refuse{"FAX=+1202/T33S=1/T33S=2@gw", "more than one T33S"},
        Refuse{"FAX=+1202/T33S=1/FOO@gw", "unknown qualifier 'FOO'"},
        Refuse{"FAX=+1202/T33S=-1@gw", "the T33S subaddress has '-'"}));

INSTANTIATE_TEST_SUITE_P(
    GarbageBytes, RefuseTest,
    testing::Values(Refuse{std::string("FAX=+1202\0@gw", 13), "the number has '\\x00'"},
                    Refuse{"FAX=+1202\r\nRCPT TO:<x@y>@gw", "without a closing '>'"},
                    Refuse{"FAX=+1202\r\n@gw", "the number has '\\x0D'"},
                    Refuse{"FAX=+12\xff\xfe@gw", "the number has '\\xFF'"},
                    Refuse{"FAX=+\xd9\xa1\xd9\xa2@gw",
                           "the number has '\\xD9'"},  // Arabic-Indic digits are not digits
                    Refuse{"FAX=+1202@gw\x01", "the domain has '\\x01'"},
                    Refuse{"FAX=+1202/" + std::string(200, 'Q') + "=1@gw", "unknown qualifier 'QQQQ"},
                    Refuse{"\xff\xff\xff", "no '@'"}));

INSTANTIATE_TEST_SUITE_P(Limits, RefuseTest,
                         testing::Values(Refuse{"FAX=+" + digits(16) + "@gw", "16 digits, more than 15"},
                                         Refuse{"FAX=+1-" + digits(15) + "@gw", "16 digits"},
                                         Refuse{"FAX=+1/T33S=" + digits(21) + "@gw", "longer than 20"},
                                         Refuse{"FAX=+1/T33S=" + digits(10) + "#" + digits(10) + "@gw",
                                                "longer than 20", with_list()},
                                         Refuse{"FAX=+1" + std::string(1001 - 10, '-') + "2@gw",
                                                "longer than 1000 bytes"}));

INSTANTIATE_TEST_SUITE_P(SubaddressList, RefuseTest,
                         testing::Values(Refuse{"FAX=+1202/T33S=12#345@gw", "'#' list"},
                                         Refuse{"FAX=+1202/T33S=#@gw", "'#' list"},
                                         Refuse{"FAX=+1202/T33S=12##3@gw", "empty entry", with_list()},
                                         Refuse{"FAX=+1202/T33S=#12@gw", "empty entry", with_list()},
                                         Refuse{"FAX=+1202/T33S=12#@gw", "empty entry", with_list()},
                                         Refuse{"FAX=+1202/T33S=12#a@gw", "has 'a'", with_list()}));

INSTANTIATE_TEST_SUITE_P(
    NumberDomains, RefuseTest,
    testing::Values(Refuse{"12025550100@fax.example.com", "has no '+'", with_number_domain()},
                    Refuse{"+12025550100@other.example", "not a fax address", with_number_domain()},
                    Refuse{"alice@fax.example.com", "letters in the number", with_number_domain()},
                    Refuse{"@fax.example.com", "the local part is empty", with_number_domain()},
                    Refuse{digits(14) + "@fax.example.com", "16 digits", with_number_domain("44")},
                    Refuse{"1202@fax.example.com", "country code '0044'", with_number_domain("0044")},
                    Refuse{"1202@fax.example.com", "country code '1234'", with_number_domain("1234")},
                    Refuse{"1202@fax.example.com", "country code 'x'", with_number_domain("x")}));

// --- xtext and ORCPT -----------------------------------------------------------------------------------

TEST(Xtext, EncodesPlusEqualsAndBytesOutsidePrintable) {
  EXPECT_EQ(xtext_encode("FAX=+12025550100@gw"), "FAX+3D+2B12025550100@gw");
  EXPECT_EQ(xtext_encode(std::string("a b\0\x7f\xff~!", 8)), "a+20b+00+7F+FF~!");
  EXPECT_EQ(xtext_encode(""), "");
}

TEST(Xtext, DecodesToRawBytes) {
  EXPECT_EQ(xtext_decode("FAX+3D+2B12025550100@gw"), "FAX=+12025550100@gw");
  EXPECT_EQ(xtext_decode("+00+ff+FF"), std::string("\0\xff\xff", 3));
  EXPECT_EQ(xtext_decode(""), "");
  EXPECT_EQ(xtext_decode("+41"), "A");  // escaping what needs none is still valid xtext
}

TEST(Xtext, RefusesMalformed) {
  for (const char* bad : {"+", "+4", "a+", "+G0", "+0G", "a=b", "a b", "\x7f", "\xc3\xa9", "+-1"}) {
    EXPECT_EQ(xtext_decode(bad), std::nullopt) << bad;
  }
}

TEST(Xtext, RoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_EQ(xtext_decode(xtext_encode(all)), all);
  EXPECT_EQ(xtext_encode(*xtext_decode("FAX+3D+2B1202@gw")), "FAX+3D+2B1202@gw");
}

TEST(Orcpt, DecodesRfc822Addresses) {
  EXPECT_EQ(orcpt_address("rfc822;FAX+3D+2B12025550100@gw"), "FAX=+12025550100@gw");
  EXPECT_EQ(orcpt_address("RFC822;FAX+3D+2B12025550100@gw"), "FAX=+12025550100@gw");
  EXPECT_EQ(orcpt_address("rfc822;"), "");
}

TEST(Orcpt, RefusesOtherTypesAndMalformedValues) {
  EXPECT_EQ(orcpt_address("utf-8;FAX=+12025550100@gw"), std::nullopt);
  EXPECT_EQ(orcpt_address("x400;FAX+3D+2B1@gw"), std::nullopt);
  EXPECT_EQ(orcpt_address("rfc822"), std::nullopt);
  EXPECT_EQ(orcpt_address("rfc822:FAX+3D+2B1@gw"), std::nullopt);
  EXPECT_EQ(orcpt_address("rfc822;FAX=+1@gw"), std::nullopt);  // '=' is not xtext
  EXPECT_EQ(orcpt_address("rfc822;FAX+3"), std::nullopt);
  EXPECT_EQ(orcpt_address(""), std::nullopt);
}

TEST(Orcpt, DecodedAddressParses) {
  auto decoded = orcpt_address("rfc822;FAX+3D+2B1-202-555-0100+2FT33S+3D42@GW.example");
  ASSERT_TRUE(decoded.has_value());
  auto r = parse_fax_address(*decoded);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(*r, (FaxAddress{"+12025550100", "42", "gw.example"}));
}

// "+12..." is valid xtext ("+12" is one byte) but on a number domain it is the number itself.
TEST(Xtext, NumberDomainLocalPartIsNotDecoded) {
  auto r = parse_fax_address("+12025550100@fax.example.com", with_number_domain());
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_EQ(r->number, "+12025550100");
}

TEST(ToRfc3192, WritesTheCanonicalForm) {
  EXPECT_EQ(to_rfc3192({"+12025550100", std::nullopt, "gw.example"}), "FAX=+12025550100@gw.example");
  EXPECT_EQ(to_rfc3192({"+1202", "12#3", "gw"}), "FAX=+1202/T33S=12#3@gw");
}

}  // namespace
}  // namespace address
