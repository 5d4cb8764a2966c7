// Routing of received faxes: the order of router.hpp, and Exchange UM referrals.
#include "gateway/router.hpp"

#include <gtest/gtest.h>

namespace gateway {
namespace {

std::vector<RouteRule> rules() {
  RouteRule did;
  did.did = "+15550100";
  did.mailboxes = {"fax@localhost", "boss@example.com"};
  RouteRule sub;
  sub.subaddress = "42";
  sub.mailboxes = {"sales@example.com"};
  sub.pdf = false;
  RouteRule def;
  def.is_default = true;
  def.mailboxes = {"central@example.com"};
  return {did, sub, def};
}

Directory none;

TEST(Router, DidRouteGoesToEveryMailboxOfTheRoute) {
  auto r = route(rules(), {"+15550100", std::nullopt, std::nullopt}, none, "pm@localhost");
  EXPECT_EQ(r.kind, RouteResult::mailboxes);
  EXPECT_EQ(r.to, (std::vector<std::string>{"fax@localhost", "boss@example.com"}));
  EXPECT_EQ(r.how, "DID +15550100");
  EXPECT_TRUE(r.pdf && r.tiff);
}

TEST(Router, SubaddressWinsOverTheDidAndKeepsItsAttachments) {
  auto r = route(rules(), {"+15550100", "42", std::nullopt}, none, "pm@localhost");
  EXPECT_EQ(r.to, (std::vector<std::string>{"sales@example.com"}));
  EXPECT_FALSE(r.pdf);
  EXPECT_TRUE(r.tiff);
}

TEST(Router, UnknownSubaddressFallsBackToTheDid) {
  auto r = route(rules(), {"+15550100", "99", std::nullopt}, none, "pm@localhost");
  EXPECT_EQ(r.how, "DID +15550100");
}

TEST(Router, NoMatchTakesTheDefaultRoute) {
  auto r = route(rules(), {"+15550199", std::nullopt, std::nullopt}, none, "pm@localhost");
  EXPECT_EQ(r.to, (std::vector<std::string>{"central@example.com"}));
  EXPECT_EQ(r.how, "default route");
}

TEST(Router, NoMatchAndNoDefaultGoesToThePostmasterWithTheReason) {
  auto rs = rules();
  rs.pop_back();
  auto r = route(rs, {"+15550199", "7", std::nullopt}, none, "pm@localhost");
  EXPECT_EQ(r.kind, RouteResult::postmaster);
  EXPECT_EQ(r.to, (std::vector<std::string>{"pm@localhost"}));
  EXPECT_EQ(r.reason, "no route for the called number +15550199 or the subaddress 7");
}

TEST(Router, InvalidMailboxesAreDroppedAndARouteWithNoneGoesToThePostmaster) {
  RouteRule bad;
  bad.did = "+1";
  bad.mailboxes = {"no-at-sign", "a b@example.com", "<x@y>"};
  auto r = route({bad}, {"+1", std::nullopt, std::nullopt}, none, "pm@localhost");
  EXPECT_EQ(r.kind, RouteResult::postmaster);
  EXPECT_EQ(r.reason, "DID +1 routes to no valid mailbox");
}

TEST(Router, DirectoryAnswersForDidsNoRouteMatches) {
  std::vector<std::string> asked;
  Directory dir = [&](const std::string& n) {
    asked.push_back(n);
    if (n == "+15550123") return DirectoryAnswer{DirectoryAnswer::found, "carol@example.com", ""};
    if (n == "+15550124") return DirectoryAnswer{DirectoryAnswer::not_allowed, "", "faxEnabled is FALSE"};
    if (n == "+15550125") return DirectoryAnswer{DirectoryAnswer::unavailable, "", "Can't contact LDAP server"};
    return DirectoryAnswer{};
  };
  auto found = route(rules(), {"+15550123", std::nullopt, std::nullopt}, dir, "pm@localhost");
  EXPECT_EQ(found.to, (std::vector<std::string>{"carol@example.com"}));
  EXPECT_EQ(found.how, "directory entry for +15550123");
  auto denied = route(rules(), {"+15550124", std::nullopt, std::nullopt}, dir, "pm@localhost");
  EXPECT_EQ(denied.kind, RouteResult::postmaster);
  EXPECT_EQ(denied.reason, "the directory entry for +15550124 may not receive faxes (faxEnabled is FALSE)");
  auto down = route(rules(), {"+15550125", std::nullopt, std::nullopt}, dir, "pm@localhost");
  EXPECT_EQ(down.kind, RouteResult::later);
  EXPECT_EQ(down.reason, "the directory is unavailable: Can't contact LDAP server");
  // A configured route is never second-guessed by the directory.
  asked.clear();
  route(rules(), {"+15550100", std::nullopt, std::nullopt}, dir, "pm@localhost");
  EXPECT_TRUE(asked.empty());
  // Not in the directory by DID: asked for the subaddress (an extension) next, then the default.
  auto fallback = route(rules(), {"+15550999", "314", std::nullopt}, dir, "pm@localhost");
  EXPECT_EQ(asked, (std::vector<std::string>{"+15550999", "314"}));
  EXPECT_EQ(fallback.how, "default route");
}

// Exchange sends this (exchange-um-partner.md): the context is URI-escaped base64 of
// "CallId=abc&CallerId=+15551234&Extension=100&PhoneContext=dp&CallerIdDisplayName=Alice".
constexpr const char* kContext =
    "Q2FsbElkPWFiYyZDYWxsZXJJZD0rMTU1NTEyMzQmRXh0ZW5zaW9uPTEwMCZQaG9uZUNvbnRleHQ9ZHAmQ2FsbGVySWREaXNwbGF5TmFtZT1BbGljZQ==";

TEST(Router, ExchangeReferralRoutesToTheRecipientWhateverTheRoutes) {
  std::string rb = std::string("<sip:um1.example.com;msExchUMFaxRecipient=smtp:Dave@Example.com;msExchUMContext=") +
                   "Q2FsbElkPWFiYyZDYWxsZXJJZD0rMTU1NTEyMzQmRXh0ZW5zaW9uPTEwMCZQaG9uZUNvbnRleHQ9ZHAmQ2FsbGVySWREaXNwbGF5TmFtZT1BbGljZQ%3D%3D>";
  auto r = route(rules(), {"+15550100", "42", rb}, none, "pm@localhost", {"example.com"});
  EXPECT_EQ(r.kind, RouteResult::mailboxes);
  EXPECT_EQ(r.to, (std::vector<std::string>{"Dave@Example.com"}));
  ASSERT_TRUE(r.partner);
  EXPECT_EQ(r.partner->context, kContext);
  EXPECT_EQ(r.partner->server, "um1.example.com");
  EXPECT_FALSE(r.pdf);
  EXPECT_TRUE(r.tiff);
  // Domains compare without regard to case.
  EXPECT_TRUE(route(rules(), {"+15550100", "42", rb}, none, "pm@localhost", {"Example.COM"}).partner);
}

TEST(Router, AReferralForADomainNotOursIsIgnoredAndTheNumberRoutes) {
  // [exchange] recipient_domains: a referral naming anyone else (a trunk's caller forging the
  // header to mail a fax to any address) routes as if it were not there.
  std::string rb = "<sip:um1.example.com;msExchUMFaxRecipient=smtp:victim@elsewhere.example>";
  for (const auto& domains : {std::vector<std::string>{}, std::vector<std::string>{"example.com"},
                              std::vector<std::string>{"where.example"}}) {
    auto r = route(rules(), {"+15550100", std::nullopt, rb}, none, "pm@localhost", domains);
    EXPECT_FALSE(r.partner);
    EXPECT_EQ(r.how, "DID +15550100");
  }
  auto sub = route(rules(), {"+15550100", std::nullopt, "<sip:um;msExchUMFaxRecipient=smtp:a@mail.example.com>"},
                   none, "pm@localhost", {"example.com"});
  EXPECT_TRUE(sub.partner);
  for (const char* forged : {"a@example.com.evil.net", "a@evil-example.com", "a%evil.net@example.com",
                             "a%25evil.net@example.com", "evil.net!a@example.com", "a@b@example.com",
                             "a%40evil.net@example.com"}) {
    auto r = route(rules(), {"+15550100", std::nullopt, std::string("<sip:um;msExchUMFaxRecipient=smtp:") + forged + ">"},
                   none, "pm@localhost", {"example.com"});
    EXPECT_FALSE(r.partner) << forged;
    EXPECT_EQ(r.how, "DID +15550100") << forged;
  }
}

TEST(Router, ReferralParsingRefusesWhatIsNotAnAddress) {
  EXPECT_FALSE(parse_partner_referral("<sip:um.example.com>"));
  EXPECT_FALSE(parse_partner_referral("<sip:um.example.com;msExchUMFaxRecipient=smtp:nobody>"));
  EXPECT_FALSE(parse_partner_referral("garbage <<"));
  // A context that is not base64 is dropped rather than echoed into a header.
  auto p = parse_partner_referral("<sip:um;msExchUMFaxRecipient=smtp:a@b.c;msExchUMContext=a%0d%0aX:y>");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->recipient, "a@b.c");
  EXPECT_EQ(p->context, "");
  // A bare URI: its parameters belong to the header (RFC 3261 §20.10) and are read there too.
  auto bare = parse_partner_referral("sip:um.example.com;msExchUMFaxRecipient=smtp:e@example.com");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->recipient, "e@example.com");
}

TEST(Router, PlausibleMailbox) {
  EXPECT_TRUE(plausible_mailbox("fax@localhost"));
  EXPECT_TRUE(plausible_mailbox("jürgen@beispiel.de"));
  EXPECT_FALSE(plausible_mailbox("a@b@c"));
  EXPECT_FALSE(plausible_mailbox("@b"));
  EXPECT_FALSE(plausible_mailbox("a@"));
  EXPECT_FALSE(plausible_mailbox("a\r\n@b"));
  EXPECT_FALSE(plausible_mailbox(std::string(250, 'a') + "@b.cd"));
}

}  // namespace
}  // namespace gateway
