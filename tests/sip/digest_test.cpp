// Digest against the published examples of RFC 2617 §3.5 (MD5) and RFC 7616 §3.9.1 (SHA-256).
#include "sip/digest.hpp"

#include <gtest/gtest.h>

namespace {

std::string field(const std::string& auth, const std::string& name) {
  auto p = auth.find(name + "=");
  if (p == std::string::npos) return "";
  p += name.size() + 1;
  if (auth[p] == '"') return auth.substr(p + 1, auth.find('"', p + 1) - p - 1);
  return auth.substr(p, auth.find(',', p) - p);
}

TEST(SipDigest, Rfc2617Md5Example) {
  auto c = sip::parse_challenge(
      "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
      "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->qop_auth);
  auto a = sip::authorization(*c, {"Mufasa", "Circle Of Life", "GET", "/dir/index.html", 1, "0a4f113b"});
  EXPECT_EQ(field(a, "response"), "6629fae49393a05397450978507c4ef1");
  EXPECT_EQ(field(a, "nc"), "00000001");
  EXPECT_EQ(field(a, "opaque"), "5ccc069c403ebaf9f0171e9517f40e41");
}

TEST(SipDigest, Rfc7616Sha256Example) {
  auto c = sip::parse_challenge(
      "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, "
      "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->algorithm, "SHA-256");
  auto a = sip::authorization(*c, {"Mufasa", "Circle of Life", "GET", "/dir/index.html", 1,
                                   "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"});
  EXPECT_EQ(field(a, "response"), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

TEST(SipDigest, WithoutQopAndRefusals) {
  auto c = sip::parse_challenge("Digest realm=\"r\", nonce=\"n\"");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->qop_auth);
  auto a = sip::authorization(*c, {"u", "p", "INVITE", "sip:x@h", 1, ""});
  // RFC 2617 §3.2.2.1: H(H(A1):nonce:H(A2))
  std::string expect = sip::hex_hash("MD5", sip::hex_hash("MD5", "u:r:p") + ":n:" + sip::hex_hash("MD5", "INVITE:sip:x@h"));
  EXPECT_EQ(field(a, "response"), expect);
  EXPECT_EQ(a.find("qop"), std::string::npos);
  EXPECT_FALSE(sip::parse_challenge("Basic realm=\"r\""));
  EXPECT_FALSE(sip::parse_challenge("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""));
  EXPECT_FALSE(sip::parse_challenge("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256"));
  EXPECT_FALSE(sip::parse_challenge("Digest realm=\"r\""));
}

}  // namespace
