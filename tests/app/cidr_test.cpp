// cidr_test.cpp — CIDR parsing and membership at the edges: /0, full-length prefixes, prefixes that end
// inside a byte, address families that do not match, and text that is not a network.
#include "app/cidr.hpp"

#include <gtest/gtest.h>

namespace {

config::Cidr net(std::string_view text) {
  auto c = config::Cidr::parse(text);
  EXPECT_TRUE(c.ok()) << text << ": " << (c.ok() ? "" : c.error());
  return c.ok() ? c.value() : config::Cidr{};
}

std::string parse_error(std::string_view text) {
  auto c = config::Cidr::parse(text);
  return c.ok() ? "parsed as " + c->to_string() : c.error();
}

TEST(Cidr, ParsesIpv4AndIpv6) {
  auto v4 = net("192.0.2.0/24");
  EXPECT_FALSE(v4.v6);
  EXPECT_EQ(v4.prefix, 24);
  EXPECT_EQ(v4.to_string(), "192.0.2.0/24");
  auto v6 = net("2001:DB8:0:0::/32");
  EXPECT_TRUE(v6.v6);
  EXPECT_EQ(v6.prefix, 32);
  EXPECT_EQ(v6.to_string(), "2001:db8::/32");  // canonical (RFC 5952) form
}

TEST(Cidr, ABareAddressIsOneHost) {
  EXPECT_EQ(net("192.0.2.7").to_string(), "192.0.2.7/32");
  EXPECT_EQ(net("::1").to_string(), "::1/128");
  EXPECT_TRUE(net("192.0.2.7").contains("192.0.2.7"));
  EXPECT_FALSE(net("192.0.2.7").contains("192.0.2.8"));
}

TEST(Cidr, SlashZeroContainsEveryAddressOfItsFamily) {
  auto all4 = net("0.0.0.0/0");
  EXPECT_TRUE(all4.contains("0.0.0.0"));
  EXPECT_TRUE(all4.contains("255.255.255.255"));
  EXPECT_FALSE(all4.contains("::1"));
  auto all6 = net("::/0");
  EXPECT_TRUE(all6.contains("::"));
  EXPECT_TRUE(all6.contains("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_FALSE(all6.contains("127.0.0.1"));
}

TEST(Cidr, Slash32AndSlash128AreExact) {
  auto h4 = net("203.0.113.9/32");
  EXPECT_TRUE(h4.contains("203.0.113.9"));
  EXPECT_FALSE(h4.contains("203.0.113.8"));
  EXPECT_FALSE(h4.contains("203.0.113.10"));
  auto h6 = net("2001:db8::9/128");
  EXPECT_TRUE(h6.contains("2001:db8::9"));
  EXPECT_TRUE(h6.contains("2001:0db8:0000::0009"));  // same address, other spelling
  EXPECT_FALSE(h6.contains("2001:db8::8"));
}

TEST(Cidr, PrefixEndingInsideAByte) {
  auto n = net("10.0.0.0/13");  // 10.0.0.0 - 10.7.255.255
  EXPECT_TRUE(n.contains("10.0.0.0"));
  EXPECT_TRUE(n.contains("10.7.255.255"));
  EXPECT_FALSE(n.contains("10.8.0.0"));
  EXPECT_FALSE(n.contains("9.255.255.255"));
  auto n6 = net("2001:db8:8000::/33");
  EXPECT_TRUE(n6.contains("2001:db8:ffff::1"));
  EXPECT_FALSE(n6.contains("2001:db8:7fff::1"));
}

TEST(Cidr, FamiliesDoNotMix) {
  EXPECT_FALSE(net("127.0.0.0/8").contains("::1"));
  EXPECT_FALSE(net("::1/128").contains("127.0.0.1"));
  // ::7f00:1 is not an IPv4-mapped address (no ffff), so it is not 127.0.0.1.
  EXPECT_FALSE(net("127.0.0.0/8").contains("::7f00:1"));
  EXPECT_FALSE(net("::ffff:0:0/96").contains("127.0.0.1"));
}

TEST(Cidr, Ipv4MappedAddressesMatchIpv4Networks) {
  // What a dual-stack socket reports for an IPv4 peer.
  EXPECT_TRUE(net("127.0.0.0/8").contains("::ffff:127.0.0.1"));
  EXPECT_FALSE(net("127.0.0.0/8").contains("::ffff:128.0.0.1"));
  EXPECT_TRUE(net("0.0.0.0/0").contains("::ffff:192.0.2.1"));
}

TEST(Cidr, ContainsRefusesWhatIsNotANumericAddress) {
  auto n = net("0.0.0.0/0");
  EXPECT_FALSE(n.contains(""));
  EXPECT_FALSE(n.contains("localhost"));
  EXPECT_FALSE(n.contains("192.0.2.1/32"));
  EXPECT_FALSE(n.contains(" 192.0.2.1"));
  EXPECT_FALSE(net("::/0").contains("fe80::1%eth0"));
  EXPECT_FALSE(net("::/0").contains("[::1]"));
}

TEST(Cidr, RefusesBadSyntax) {
  const std::string kNotAddress = "not a numeric IPv4 or IPv6 address";
  EXPECT_EQ(parse_error(""), kNotAddress);
  EXPECT_EQ(parse_error("/8"), kNotAddress);
  EXPECT_EQ(parse_error("10.0.0/8"), kNotAddress);
  EXPECT_EQ(parse_error("256.0.0.0/8"), kNotAddress);
  EXPECT_EQ(parse_error("example.com/24"), kNotAddress);
  EXPECT_EQ(parse_error("[::1]/128"), kNotAddress);
  EXPECT_EQ(parse_error("::1::2/128"), kNotAddress);
  EXPECT_EQ(parse_error(" 10.0.0.0/8"), kNotAddress);
  EXPECT_EQ(parse_error("10.0.0.0/"), "prefix length must be 0..32");
  EXPECT_EQ(parse_error("10.0.0.0/33"), "prefix length must be 0..32");
  EXPECT_EQ(parse_error("10.0.0.0/-1"), "prefix length must be 0..32");
  EXPECT_EQ(parse_error("10.0.0.0/+8"), "prefix length must be 0..32");
  EXPECT_EQ(parse_error("10.0.0.0/8 "), "prefix length must be 0..32");
  EXPECT_EQ(parse_error("10.0.0.0/8/8"), "prefix length must be 0..32");
  EXPECT_EQ(parse_error("::/129"), "prefix length must be 0..128");
  EXPECT_EQ(parse_error("::/1000"), "prefix length must be 0..128");
}

TEST(Cidr, RefusesHostBitsAfterThePrefix) {
  const std::string kHostBits = "address has bits set after the prefix";
  EXPECT_EQ(parse_error("192.0.2.1/24"), kHostBits);
  EXPECT_EQ(parse_error("10.8.0.0/12"), kHostBits);  // bit 12 set: inside the last partial byte
  EXPECT_EQ(parse_error("2001:db8::1/64"), kHostBits);
  EXPECT_EQ(parse_error("1.0.0.0/0"), kHostBits);
  EXPECT_EQ(parse_error("11.0.0.0/7"), kHostBits);
  EXPECT_EQ(parse_error("10.0.0.0/8"), "parsed as 10.0.0.0/8");
}

}  // namespace
