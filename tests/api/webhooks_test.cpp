// webhooks_test.cpp — the pure parts of api/webhooks.hpp: URLs, signatures, addresses, backoff.
// (The sender itself, against a real receiver and a real fax call: tests/cli/send_test.py.)
#include "api/webhooks.hpp"

#include <gtest/gtest.h>

namespace {

using api::parse_webhook_url;

TEST(WebhookUrl, HttpAndHttpsWithTheirPortsHostsAndTargets) {
  auto u = parse_webhook_url("https://Hooks.Example.com/fax/in?k=1#frag");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "hooks.example.com");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->target, "/fax/in?k=1");
  u = parse_webhook_url("http://127.0.0.1:8099");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8099");
  EXPECT_EQ(u->target, "/");
  u = parse_webhook_url("HTTP://[2001:db8::1]:8443/h");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "2001:db8::1");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->target, "/h");
  u = parse_webhook_url("http://example.com?x");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->target, "/?x");
}

TEST(WebhookUrl, WhatIsNotOneIsRefusedNamingWhy) {
  auto why = [](std::string_view url) {
    std::string w;
    EXPECT_FALSE(parse_webhook_url(url, &w)) << url;
    return w;
  };
  EXPECT_EQ(why(""), "is empty");
  EXPECT_EQ(why("ftp://example.com/"), "is not an http:// or https:// URL");
  EXPECT_EQ(why("file:///etc/passwd"), "is not an http:// or https:// URL");
  EXPECT_EQ(why("https://user:pw@example.com/"), "has user information (put secrets elsewhere)");
  EXPECT_EQ(why("https:///path"), "has no host");
  EXPECT_EQ(why("https://exa mple.com/"), "holds a space, a control character or a non-ASCII octet");
  EXPECT_EQ(why("https://example.com\r\nX-Injected: 1/"), "holds a space, a control character or a non-ASCII octet");
  EXPECT_EQ(why("https://bücher.example/"), "holds a space, a control character or a non-ASCII octet");
  EXPECT_EQ(why("https://example.com:0/"), "has a bad port");
  EXPECT_EQ(why("https://example.com:65536/"), "has a bad port");
  EXPECT_EQ(why("https://example.com:http/"), "has a bad port");
  EXPECT_EQ(why("https://[2001:db8::1/"), "has an unclosed [ in its host");
  EXPECT_EQ(why("https://[not-v6]/"), "has a bad IPv6 address");
  EXPECT_EQ(why("https://a:b:c/"), "has a bad host");  // (an IPv6 address goes in brackets)
  EXPECT_EQ(why("https://exa$mple.com/"), "has a bad host");
  EXPECT_EQ(why("https://example.com/" + std::string(2100, 'a')), "is longer than 2048 octets");
}

TEST(WebhookSignature, IsHmacSha256OfTheTimeADotAndTheBody) {
  // Computed independently: python3 -c "import hmac,hashlib;
  //   print(hmac.new(b'whsec', b'1795365000.{\"id\":1}', hashlib.sha256).hexdigest())"
  EXPECT_EQ(api::webhook_signature("whsec", 1795365000, R"({"id":1})"),
            "t=1795365000,v1=8d04ebdceecad24b9f02cdb5378516e80cc2cd8c298025783be46e39e992229b");
  EXPECT_NE(api::webhook_signature("whsec", 1795365001, R"({"id":1})").substr(16),
            api::webhook_signature("whsec", 1795365000, R"({"id":1})").substr(16));
}

TEST(WebhookAddress, LoopbackPrivateLinkLocalAndSharedAreNotPublic) {
  for (const char* a : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                        "100.64.0.1", "0.0.0.0", "0.1.2.3", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1",
                        "fc00::1", "fd12:3456::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "ff02::1", "64:ff9b::a9fe:a9fe",
                        "64:ff9b:1::a00:1", "2002:7f00:1::1", "2002:c0a8:101::1", "192.0.0.170", "198.18.0.1",
                        "240.0.0.1"}) {
    EXPECT_TRUE(api::is_private_address(asio::ip::make_address(a))) << a;
  }
  for (const char* a : {"8.8.8.8", "172.32.0.1", "172.15.255.255", "100.128.0.1", "192.0.2.1", "2001:db8::1",
                        "2a00:1450::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "198.20.0.1"}) {
    EXPECT_FALSE(api::is_private_address(asio::ip::make_address(a))) << a;
  }
}

TEST(WebhookBackoff, ThirtySecondsDoubledUpToAnHour) {
  EXPECT_EQ(api::webhook_backoff_s(1), 30);
  EXPECT_EQ(api::webhook_backoff_s(2), 60);
  EXPECT_EQ(api::webhook_backoff_s(5), 480);
  EXPECT_EQ(api::webhook_backoff_s(8), 3600);
  EXPECT_EQ(api::webhook_backoff_s(1000), 3600);
}

}  // namespace
