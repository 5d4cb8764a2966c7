// webhooks_test.cpp — api/webhooks.hpp's address check and backoff (URLs and signatures:
// webhook_url_test.cpp).
// (The sender itself, against a real receiver and a real fax call: tests/cli/send_test.py.)
#include "api/webhooks.hpp"

#include <gtest/gtest.h>

namespace {

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
