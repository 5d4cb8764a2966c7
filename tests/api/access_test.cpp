// access_test.cpp — the API's Host, Origin and bearer-token checks (api/access.hpp).
#include "api/access.hpp"

#include <set>

#include <gtest/gtest.h>

namespace api {
namespace {

Request req(std::vector<std::pair<std::string, std::string>> headers, std::string method = "GET") {
  Request r;
  r.method = std::move(method);
  r.target = "/api/jobs";
  r.headers = std::move(headers);
  return r;
}

int status(const std::optional<Response>& r) { return r ? r->status : 0; }

TEST(Access, HostMustBeAnAddressLocalhostOrAConfiguredName) {
  const std::vector<std::string> hosts = {"fax.example.com"};
  EXPECT_EQ(status(check_origin(req({{"host", "127.0.0.1:8025"}}), hosts)), 0);
  EXPECT_EQ(status(check_origin(req({{"host", "[::1]:8025"}}), hosts)), 0);
  EXPECT_EQ(status(check_origin(req({{"host", "192.0.2.7"}}), hosts)), 0);
  EXPECT_EQ(status(check_origin(req({{"host", "LocalHost:8025"}}), hosts)), 0);
  EXPECT_EQ(status(check_origin(req({{"host", "Fax.Example.com:443"}}), hosts)), 0);
  // DNS rebinding: the attacker's own name, now pointing at us.
  EXPECT_EQ(status(check_origin(req({{"host", "rebind.attacker.example:8025"}}), hosts)), 403);
  EXPECT_EQ(status(check_origin(req({{"host", "fax.example.com.attacker.example"}}), hosts)), 403);
  EXPECT_EQ(status(check_origin(req({{"host", "127.0.0.1.nip.io"}}), hosts)), 403);
  EXPECT_EQ(status(check_origin(req({}), hosts)), 400);
  EXPECT_EQ(status(check_origin(req({{"host", ""}}), hosts)), 400);
  EXPECT_EQ(status(check_origin(req({{"host", "[::1"}}), hosts)), 400);
  EXPECT_EQ(status(check_origin(req({{"host", "[::1]x"}}), hosts)), 400);
}

TEST(Access, ACrossOriginRequestIsRefusedForEveryMethod) {
  const std::vector<std::string> none;
  for (const char* method : {"GET", "POST"}) {
    EXPECT_EQ(status(check_origin(req({{"host", "127.0.0.1:8025"}, {"origin", "http://127.0.0.1:8025"}}, method), none)), 0);
    EXPECT_EQ(status(check_origin(req({{"host", "127.0.0.1:8025"}, {"origin", "https://127.0.0.1:8025"}}, method), none)), 0);
    EXPECT_EQ(status(check_origin(req({{"host", "127.0.0.1:8025"}, {"origin", "http://evil.example"}}, method), none)), 403);
    EXPECT_EQ(status(check_origin(req({{"host", "127.0.0.1:8025"}, {"origin", "http://127.0.0.1:8026"}}, method), none)), 403);
    EXPECT_EQ(status(check_origin(req({{"host", "127.0.0.1:8025"}, {"origin", "null"}}, method), none)), 403);
    EXPECT_EQ(status(check_origin(req({{"host", "127.0.0.1:8025"}, {"sec-fetch-site", "cross-site"}}, method), none)), 403);
    EXPECT_EQ(status(check_origin(req({{"host", "127.0.0.1:8025"}, {"sec-fetch-site", "same-origin"}}, method), none)), 0);
  }
  // A refusal's sentence is JSON even when the Origin carries control characters.
  auto r = check_origin(req({{"host", "127.0.0.1"}, {"origin", "http://e\x01vil\"x"}}), none);
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("\\u0001"), std::string::npos);
  EXPECT_NE(r->body.find("\\\""), std::string::npos);
}

TEST(Access, BearerTokensAreReadStrictly) {
  EXPECT_EQ(bearer_token(req({{"authorization", "Bearer fbt_abc"}})), "fbt_abc");
  EXPECT_EQ(bearer_token(req({{"authorization", "bearer   fbt_abc"}})), "fbt_abc");
  EXPECT_FALSE(bearer_token(req({})));
  EXPECT_FALSE(bearer_token(req({{"authorization", "Basic YTpi"}})));
  EXPECT_FALSE(bearer_token(req({{"authorization", "Bearer "}})));
  EXPECT_FALSE(bearer_token(req({{"authorization", "Bearer a b"}})));
  EXPECT_FALSE(bearer_token(req({{"authorization", "Bearer " + std::string(201, 'a')}})));
  EXPECT_FALSE(bearer_token(req({{"authorization", "Bearerfbt_abc"}})));
}

TEST(Access, TokensAreRandomAndStoredAsTheirSha256) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    std::string t = new_token();
    EXPECT_EQ(t.size(), 68u);
    EXPECT_EQ(t.rfind("fbt_", 0), 0u);
    EXPECT_TRUE(seen.insert(t).second);
  }
  EXPECT_EQ(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // FIPS 180-2
  EXPECT_TRUE(same_hash(token_hash("x"), token_hash("x")));
  EXPECT_FALSE(same_hash(token_hash("x"), token_hash("y")));
  EXPECT_FALSE(same_hash("ab", "abc"));
  Response r = unauthorized("why", true);
  EXPECT_EQ(r.status, 401);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "Bearer realm=\"faxbridge\", error=\"invalid_token\"");
  EXPECT_NE(serialize(r).find("\r\nWWW-Authenticate: Bearer realm=\"faxbridge\", error=\"invalid_token\"\r\n"),
            std::string::npos);
}

}  // namespace
}  // namespace api
