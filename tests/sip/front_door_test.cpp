// The front door: requests from sources that are no trunk make no transaction and get at most one
// stateless 403 a minute (or nothing); trusted sources are rate-limited per address; the table of
// sources is bounded.
#include "sip/front_door.hpp"

#include <gtest/gtest.h>

#include "ua_net.hpp"

namespace {

using namespace ua_net;
using namespace std::chrono_literals;

sip::Message scanner_invite(int i) {
  auto m = sip::Message::request("INVITE", "sip:100@127.0.0.2");
  m.add("Via", "SIP/2.0/UDP 10.1.1.1:5060;branch=" + sip::new_branch() + ";rport");
  m.add("From", "\"sipvicious\" <sip:100@1.1.1.1>;tag=" + std::to_string(i));
  m.add("To", "<sip:100@1.1.1.1>");
  m.add("Call-ID", "scan-" + std::to_string(i));
  m.add("CSeq", "1 INVITE");
  m.add("User-Agent", "friendly-scanner");
  return m;
}

struct Door : Net {
  std::vector<std::string> log;
  explicit Door(sip::UnknownSources policy = sip::UnknownSources::reject) {
    sip::FrontDoorConfig cfg;
    cfg.trusted = [](const std::string& ip) { return ip == kA.ip; };
    cfg.unknown = policy;
    cfg.log = [this](const std::string& line) { log.push_back(line); };
    b->set_front_door(cfg);
  }
  int responses() const {
    int n = 0;
    for (const auto& m : wire) n += !m.is_request();
    return n;
  }
};

const sip::Address kScanner{"10.1.1.1", 5060, sip::Transport::udp};

TEST(SipFrontDoor, AScannerGetsOne403AMinuteNoTransactionAndNo100) {
  Door d;
  for (int i = 0; i < 500; ++i) d.inject(scanner_invite(i), kScanner, kB);
  EXPECT_EQ(d.responses(), 1);
  EXPECT_EQ(d.last([](const sip::Message& m) { return !m.is_request(); })->status, 403);
  EXPECT_EQ(d.count("100"), 0);
  EXPECT_TRUE(d.hb.incoming.empty());
  EXPECT_EQ(d.b->layer().size(), 0u);
  EXPECT_EQ(d.b->calls(), 0u);
  EXPECT_EQ(d.b->front_door().stats().refused, 1u);
  EXPECT_EQ(d.b->front_door().stats().dropped, 499u);
  ASSERT_EQ(d.log.size(), 1u);
  EXPECT_EQ(d.log[0].rfind("sip: refused 10.1.1.1: INVITE", 0), 0u) << d.log[0];
  d.advance(61s);
  d.inject(scanner_invite(1000), kScanner, kB);
  EXPECT_EQ(d.responses(), 2);  // the next window's one 403
  EXPECT_EQ(d.log.size(), 2u);
  // A trunk calls in all the while.
  d.hb.on_invite = [&](sip::CallId c, const sip::Message&) { d.b->answer(c, "answer", d.now); };
  d.call();
  EXPECT_EQ(d.ha.answered.size(), 1u);
}

TEST(SipFrontDoor, TheFarEndOfOurOwnCallIsHeardThoughNoTrunk) {
  // A calls B; A's front door trusts nobody at all: B's answer (a response) and then B's BYE
  // (a request from the far end of A's live dialog, e.g. a redirect target) still get through.
  Net n;
  sip::FrontDoorConfig cfg;
  cfg.trusted = [](const std::string&) { return false; };
  n.a->set_front_door(cfg);
  sip::CallId b_call = 0;
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) {
    b_call = c;
    n.b->answer(c, "answer", n.now);
  };
  n.call();
  ASSERT_EQ(n.ha.answered.size(), 1u);
  n.b->hangup(b_call, n.now);
  n.pump();
  ASSERT_EQ(n.ha.ended.size(), 1u);
  EXPECT_EQ(n.ha.ended[0].second, sip::EndCause::remote_bye);
  EXPECT_EQ(n.a->front_door().stats().refused, 0u);
}

TEST(SipFrontDoor, TheDropPolicySendsNothingAndLogsOnceAMinute) {
  Door d(sip::UnknownSources::drop);
  for (int i = 0; i < 100; ++i) d.inject(scanner_invite(i), kScanner, kB);
  EXPECT_EQ(d.responses(), 0);
  EXPECT_EQ(d.b->layer().size(), 0u);
  EXPECT_EQ(d.log.size(), 1u);
  d.advance(61s);
  d.inject(scanner_invite(1), kScanner, kB);
  EXPECT_EQ(d.log.size(), 2u);
  EXPECT_EQ(d.responses(), 0);
}

TEST(SipFrontDoor, ResponsesFromAnyonePassAndGarbageIsNeverAnswered) {
  Door d;
  auto stray = sip::make_response(scanner_invite(1), 200, "", "x");
  d.inject(stray, kScanner, kB);  // matches nothing; no state, no answer
  EXPECT_EQ(d.responses(), 1);     // only the stray itself on the wire
  d.b->receive("\x16\x03\x01 not sip at all", kScanner, d.now);
  d.pump();
  EXPECT_EQ(d.responses(), 1);
  EXPECT_EQ(d.b->layer().stats().received, 1u);  // the response went to the layer; the garbage did not
}

TEST(SipFrontDoor, ATrustedSourceIsRateLimitedNotRefused) {
  sip::FrontDoorConfig cfg;
  cfg.trusted = [](const std::string& ip) { return ip == "192.0.2.1"; };
  sip::FrontDoor door(cfg);
  auto now = sip::Clock::now();
  const sip::Address trunk{"192.0.2.1", 5060, sip::Transport::udp};
  int passed = 0;
  for (int i = 0; i < 5000; ++i) passed += door.admit("OPTIONS sip:x SIP/2.0\r\n", trunk, now) == sip::FrontDoor::Verdict::pass;
  EXPECT_EQ(passed, int(sip::kTrustedBurst));
  EXPECT_EQ(door.stats().rate_limited, 5000u - uint64_t(sip::kTrustedBurst));
  now += std::chrono::milliseconds(500);  // half a second refills kTrustedRate/2
  passed = 0;
  for (int i = 0; i < 5000; ++i) passed += door.admit("OPTIONS sip:x SIP/2.0\r\n", trunk, now) == sip::FrontDoor::Verdict::pass;
  EXPECT_EQ(passed, int(sip::kTrustedRate / 2));
}

TEST(SipFrontDoor, TheTableOfSourcesIsBounded) {
  sip::FrontDoorConfig cfg;
  cfg.trusted = [](const std::string&) { return false; };
  sip::FrontDoor door(cfg);
  auto now = sip::Clock::now();
  size_t refused = 0;
  for (size_t i = 0; i < sip::kMaxSources + 1000; ++i) {
    sip::Address a{"10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255), 5060,
                   sip::Transport::udp};
    refused += door.admit("INVITE sip:x SIP/2.0\r\n", a, now) == sip::FrontDoor::Verdict::refuse;
  }
  EXPECT_EQ(door.sources(), sip::kMaxSources);
  EXPECT_EQ(refused, sip::kMaxSources);  // beyond the table: dropped unanswered
  now += sip::kRefusalWindow + std::chrono::seconds(3);
  door.admit("INVITE sip:x SIP/2.0\r\n", {"10.9.9.9", 5060, sip::Transport::udp}, now);
  EXPECT_EQ(door.sources(), 1u);  // the window turned over: swept
}

}  // namespace
