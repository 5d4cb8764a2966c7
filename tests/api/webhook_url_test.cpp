// webhook_url_test.cpp — api/webhook_url.hpp: URLs, signatures, status lines and RFC 3339 times.
// (The sender itself, against a real receiver and a real fax call: tests/app/send_test.py.)
#include "api/webhook_url.hpp"

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

TEST(HttpStatus, TheCodeOfAStatusLineOrZero) {
  EXPECT_EQ(api::http_status_of("HTTP/1.1 204 No Content\r\n"), 204);
  EXPECT_EQ(api::http_status_of("HTTP/1.0 500 x"), 500);
  EXPECT_EQ(api::http_status_of("HTTP/1.1 20"), 0);
  EXPECT_EQ(api::http_status_of("HTTP/1.1 2x4 No"), 0);
  EXPECT_EQ(api::http_status_of("HTTP/2 200 OK"), 0);
  EXPECT_EQ(api::http_status_of("HTTP/1.1 099 low"), 0);
  EXPECT_EQ(api::http_status_of(""), 0);
}

TEST(Rfc3339, UtcOffsetsAndFractions) {
  EXPECT_EQ(api::parse_rfc3339("2026-12-05T08:00:00Z"), 1796457600);
  EXPECT_EQ(api::parse_rfc3339("2026-12-05t08:00:00.123z"), 1796457600);
  EXPECT_EQ(api::parse_rfc3339("2026-12-05T09:30:00+01:30"), 1796457600);
  EXPECT_EQ(api::parse_rfc3339("2026-12-05T03:00:00-05:00"), 1796457600);
  for (const char* bad : {"", "tomorrow", "2026-12-05", "2026-12-05T08:00:00", "2026-02-30T08:00:00Z",
                          "2026-12-05T 8:-5:00Z", "+026-12-05T08:00:00Z", "2026-13-05T08:00:00Z",
                          "2026-12-05T24:00:00Z", "2026-12-05T08:00:00+24:00", "2026-12-05T08:00:00Zjunk",
                          "2026-12-05T08:00:00.Z", "1969-12-31T23:59:59Z"}) {
    EXPECT_EQ(api::parse_rfc3339(bad), std::nullopt) << bad;
  }
}

}  // namespace
