// http_message_test.cpp — the API's request parser: complete, incomplete and hostile input.
#include "api/http_message.hpp"

#include <gtest/gtest.h>

namespace api {
namespace {

TEST(HttpMessage, ParsesAGetAndAPostWithBody) {
  auto g = parse_request("GET /api/jobs?state=ready HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(g.complete && g.request);
  EXPECT_EQ(g.request->method, "GET");
  EXPECT_EQ(g.request->target, "/api/jobs?state=ready");
  auto p = parse_request("POST /api/jobs/7/cancel HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(p.request);
  EXPECT_EQ(p.request->body, "abc");
}

TEST(HttpMessage, IncompleteUntilTheWholeBodyArrived) {
  EXPECT_FALSE(parse_request("GET / HTTP/1.1\r\nHost: x\r\n").complete);
  EXPECT_FALSE(parse_request("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab").complete);
}

TEST(HttpMessage, MalformedAndOversizedRequestsGetTheirStatus) {
  EXPECT_EQ(parse_request("NONSENSE\r\n\r\n").error->status, 400);
  EXPECT_EQ(parse_request("GET api HTTP/1.1\r\n\r\n").error->status, 400);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nno colon here\r\n\r\n").error->status, 400);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n").error->status, 400);
  EXPECT_EQ(parse_request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").error->status, 411);
  EXPECT_EQ(parse_request("POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n").error->status, 413);
  EXPECT_FALSE(parse_request("POST / HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n").error);  // at the limit
  EXPECT_EQ(parse_request(std::string(kMaxHeaderBytes + 1, 'a')).error->status, 431);
}

TEST(HttpMessage, HeadersAreKeptLowerCasedAndRepeatsOfHostOrAuthorizationRefused) {
  auto g = parse_request("GET / HTTP/1.1\r\nHost: a:1\r\nX-Thing:  v  \r\nAuthorization: Bearer t\r\n\r\n");
  ASSERT_TRUE(g.request);
  EXPECT_EQ(g.request->header("host"), "a:1");
  EXPECT_EQ(g.request->header("x-thing"), "v");
  EXPECT_EQ(g.request->header("authorization"), "Bearer t");
  EXPECT_FALSE(g.request->header("origin"));
  // Two Hosts or two tokens: which one a proxy and we would read could differ (RFC 9112 §3.2).
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").error->status, 400);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nAuthorization: a\r\nauthorization: b\r\n\r\n").error->status, 400);
  EXPECT_EQ(parse_request("GET / HTTP/1.1\r\nHost : a\r\n\r\n").error->status, 400);
  std::string many = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i <= kMaxHeaders; ++i) many += "X: y\r\n";
  EXPECT_EQ(parse_request(many + "\r\n").error->status, 431);
}

TEST(HttpMessage, SerializesWithLengthAndClose) {
  EXPECT_EQ(serialize({404, "{}", "application/json"}),
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  EXPECT_EQ(error_response(409, "job 3 is \"done\"").body, "{\"error\":\"job 3 is \\\"done\\\"\"}\n");
}

}  // namespace
}  // namespace api
