// The user agent as carriers, SBCs and PBXs speak to it: Record-Route behind a proxy, session
// timers (RFC 4028), INVITEs that go quiet, merged and forked requests, challenges inside the
// dialog, delayed offers, 100rel (RFC 3262), redirects, multipart bodies, large requests.
#include <gtest/gtest.h>

#include <set>

#include "sip/user_agent.hpp"
#include "ua_net.hpp"

namespace {

using namespace ua_net;
using namespace std::chrono_literals;

bool is(const sip::Message& m, const std::string& what) {
  return (m.is_request() ? m.method : std::to_string(m.status)) == what;
}

// A request as a peer of B would send it, outside dialogs A knows.
sip::Message raw_invite(const std::string& body = "", const std::string& content_type = "") {
  auto m = sip::Message::request("INVITE", "sip:+15550100@127.0.0.2:5070");
  m.add("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + sip::new_branch());
  m.add("Max-Forwards", "70");
  m.add("From", "<sip:+15550199@127.0.0.1>;tag=raw1");
  m.add("To", "<sip:+15550100@127.0.0.2>");
  m.add("Call-ID", "raw-" + sip::random_token(8));
  m.add("CSeq", "1 INVITE");
  m.add("Contact", "<sip:127.0.0.1:5060>");
  if (!content_type.empty()) m.add("Content-Type", content_type);
  m.body = body;
  return m;
}

TEST(SipUserAgentField, TheInvitesRecordRouteIsEchoedAndTheCallersAckAndByeFollowIt) {
  Net n;
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) {
    n.b->ringing(c, n.now);
    n.b->answer(c, "answer-1", n.now);
  };
  // As a record-routing proxy would have added them on the way.
  auto id = n.call({{"Record-Route", "<sip:10.9.9.1;lr>"}, {"Record-Route", "<sip:10.9.9.2;lr>"}});
  for (const char* status : {"180", "200"}) {
    auto r = n.last([&](const sip::Message& m) { return is(m, status); });
    ASSERT_TRUE(r) << status;
    EXPECT_EQ(r->all("Record-Route"), (std::vector<std::string>{"<sip:10.9.9.1;lr>", "<sip:10.9.9.2;lr>"})) << status;
  }
  // The caller's route set is the Record-Route reversed (§12.1.2): its first hop is 10.9.9.2.
  size_t ack = 0;
  for (; ack < n.wire.size() && !is(n.wire[ack], "ACK"); ++ack) {}
  ASSERT_LT(ack, n.wire.size());
  EXPECT_EQ(n.wire_to[ack].ip, "10.9.9.2");
  EXPECT_EQ(n.wire[ack].all("Route"), (std::vector<std::string>{"<sip:10.9.9.2;lr>", "<sip:10.9.9.1;lr>"}));
  n.a->hangup(id, n.now);
  n.pump();
  size_t bye = 0;
  for (; bye < n.wire.size() && !is(n.wire[bye], "BYE"); ++bye) {}
  ASSERT_LT(bye, n.wire.size());
  EXPECT_EQ(n.wire_to[bye].ip, "10.9.9.2");
  EXPECT_EQ(n.wire[bye].all("Route").size(), 2u);
}

TEST(SipUserAgentField, ACallerThatSupportsTimersIsTheRefresherAndKeepsTheSessionAlive) {
  Established n;  // (no Session-Expires: no timer at all)
  n.advance(200s);
  EXPECT_EQ(n.count("UPDATE") + n.count("INVITE"), 1);
  EXPECT_TRUE(n.ha.ended.empty());

  Net t;
  t.hb.on_invite = [&](sip::CallId c, const sip::Message&) { t.b->answer(c, "answer-1", t.now); };
  t.call({{"Session-Expires", "90"}});
  auto ok = t.last([](const sip::Message& m) { return is(m, "200"); });
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->get("Session-Expires"), "90;refresher=uac");
  EXPECT_EQ(ok->get("Require"), "timer");
  t.advance(44s);
  EXPECT_EQ(t.count("UPDATE"), 0);
  t.advance(2s);
  EXPECT_EQ(t.count("UPDATE"), 1);  // at half the interval, UPDATE (the answerer allows it)
  t.advance(200s);
  EXPECT_GE(t.count("UPDATE"), 5);
  EXPECT_TRUE(t.ha.ended.empty());
  EXPECT_TRUE(t.hb.ended.empty());
  EXPECT_TRUE(t.hb.offers.empty());  // refreshes never reach the handler
  EXPECT_TRUE(t.ha.reinvite_results.empty());  // nor do our own refreshes' answers (an offer of T.38 is the handler's)
}

TEST(SipUserAgentField, AReinviteWaitsWhileOurRefreshIsPendingAndAFailedRefreshIsRetried) {
  Net t;
  t.hb.on_invite = [&](sip::CallId c, const sip::Message&) { t.b->answer(c, "answer-1", t.now); };
  bool refuse = true;
  t.drop = [](const sip::Message&) { return false; };
  auto id = t.call({{"Session-Expires", "90"}});
  // The first refresh is refused 491 by an interposed SBC (crafted below); the UA tries again.
  t.drop = [&](const sip::Message& m) { return refuse && is(m, "UPDATE"); };
  t.advance(45s + 20ms);
  auto upd = t.last([](const sip::Message& m) { return is(m, "UPDATE"); });
  ASSERT_TRUE(upd);
  EXPECT_FALSE(t.a->reinvite(id, "offer-t38", t.now));  // the dialog is busy with our refresh
  refuse = false;
  t.inject(sip::make_response(*upd, 491, "", upd->to()->tag().value_or("")), kB, kA);
  t.advance(4s);
  int updates = 0;
  for (const auto& m : t.wire) updates += is(m, "UPDATE") && m.cseq().number != upd->cseq().number;
  EXPECT_GE(updates, 1);  // tried again after the 491
  EXPECT_TRUE(t.ha.reinvite_results.empty());
  EXPECT_TRUE(t.ha.ended.empty());
  EXPECT_TRUE(t.a->reinvite(id, "offer-t38", t.now));
}

TEST(SipUserAgentField, ACallerThatAsksTheAnswererToRefreshIsRefreshed) {
  Net t;
  t.hb.on_invite = [&](sip::CallId c, const sip::Message&) { t.b->answer(c, "answer-1", t.now); };
  t.call({{"Session-Expires", "90;refresher=uas"}});
  EXPECT_EQ(t.last([](const sip::Message& m) { return is(m, "200"); })->get("Session-Expires"), "90;refresher=uas");
  t.advance(100s);
  int from_a = 0, from_b = 0;
  for (const auto& m : t.wire) {
    if (!is(m, "UPDATE")) continue;
    (m.from()->uri.host == "127.0.0.2" ? from_b : from_a)++;  // B's From is the INVITE's To
  }
  EXPECT_GE(from_b, 2);  // at 45 s and 90 s
  EXPECT_EQ(from_a, 0);
  EXPECT_TRUE(t.ha.ended.empty());
  EXPECT_TRUE(t.hb.ended.empty());
}

TEST(SipUserAgentField, ASessionNobodyRefreshesIsEndedWithBye) {
  Net t;
  t.hb.on_invite = [&](sip::CallId c, const sip::Message&) { t.b->answer(c, "answer-1", t.now); };
  t.drop = [](const sip::Message& m) { return m.is_request() && m.method == "UPDATE"; };  // the refreshes are lost
  t.call({{"Session-Expires", "90"}});
  t.advance(59s);
  EXPECT_TRUE(t.hb.ended.empty());
  t.advance(2s);  // 90 - min(32, 90/3) = 60 s after the last refresh
  ASSERT_EQ(t.hb.ended.size(), 1u);
  EXPECT_EQ(t.hb.ended[0].second, sip::EndCause::session_expired);
  EXPECT_GE(t.count("BYE"), 1);
}

TEST(SipUserAgentField, ACallerWithoutTimerSupportGetsUsAsRefresherAndNoRequire) {
  Net n;
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) { n.b->answer(c, "v=0 answer", n.now); };
  auto inv = raw_invite("v=0 offer", "application/sdp");
  inv.add("Session-Expires", "120");
  n.inject(inv, kA, kB);
  auto ok = n.last([](const sip::Message& m) { return is(m, "200"); });
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->get("Session-Expires"), "120;refresher=uas");
  EXPECT_FALSE(ok->get("Require"));
  // A caller that names itself refresher but does not support timers is not trusted to.
  Net m;
  m.hb.on_invite = [&](sip::CallId c, const sip::Message&) { m.b->answer(c, "v=0 answer", m.now); };
  auto inv2 = raw_invite("v=0 offer", "application/sdp");
  inv2.add("Session-Expires", "120;refresher=uac");
  m.inject(inv2, kA, kB);
  EXPECT_EQ(m.last([](const sip::Message& x) { return is(x, "200"); })->get("Session-Expires"), "120;refresher=uas");
}

TEST(SipUserAgentField, AnInviteThatGoesQuietAfterOurCancelIsGivenUp) {
  Net n;
  bool silent = false;
  n.drop = [&](const sip::Message& m) { return silent && !m.is_request(); };
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) { n.b->ringing(c, n.now); };
  auto id = n.call();
  silent = true;  // the peer dies after its 180
  n.a->hangup(id, n.now);
  n.pump();
  EXPECT_EQ(n.count("CANCEL"), 1);
  n.advance(31s);
  EXPECT_TRUE(n.ha.failed.empty());
  n.advance(2s);
  ASSERT_EQ(n.ha.failed.size(), 1u);
  EXPECT_EQ(n.ha.failed[0].second, 408);
  n.advance(40s);
  EXPECT_EQ(n.a->calls(), 0u);
  EXPECT_EQ(n.a->layer().size(), 0u);  // no transaction left behind
}

TEST(SipUserAgentField, AProvisionalWithNoFinalAfterItEndsTheInviteByTimerC) {
  Net n;
  bool silent = false;
  n.drop = [&](const sip::Message& m) { return silent && !m.is_request(); };
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) { n.b->ringing(c, n.now); };
  n.call();
  silent = true;  // a 100 (and a 180), then nothing ever again
  n.advance(179s);
  EXPECT_EQ(n.count("CANCEL"), 0);
  n.advance(2s);
  EXPECT_GE(n.count("CANCEL"), 1);
  n.advance(33s);
  ASSERT_EQ(n.ha.failed.size(), 1u);
  EXPECT_EQ(n.ha.failed[0].second, 408);
}

TEST(SipUserAgentField, AMergedRequestGets482AndMakesNoSecondCall) {
  Net n;
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) { n.b->ringing(c, n.now); };
  n.call();
  ASSERT_EQ(n.hb.incoming.size(), 1u);
  auto again = n.wire.front();  // the INVITE, as it reached us by a second path of a proxy
  ASSERT_TRUE(is(again, "INVITE"));
  again.set("Via", "SIP/2.0/UDP 127.0.0.9:5060;branch=" + sip::new_branch());
  n.inject(again, {"127.0.0.9", 5060, sip::Transport::udp}, kB);
  EXPECT_TRUE(is(n.wire.back(), "482"));
  EXPECT_EQ(n.hb.incoming.size(), 1u);
}

TEST(SipUserAgentField, AForkedSecond2xxIsAckedAndEndedWhileTheFirstCallLives) {
  Established n;
  auto ok = *n.last([](const sip::Message& m) { return is(m, "200") && m.cseq().method == "INVITE"; });
  auto fork = ok;
  auto to = *fork.to();
  to.params.set("tag", "fork2");
  fork.set("To", to.to_string());
  fork.set("Contact", "<sip:127.0.0.2:5070>");
  n.inject(fork, kB, kA);
  bool acked = false, byed = false;
  for (const auto& m : n.wire) {
    if (is(m, "ACK") && m.to()->tag() == "fork2") acked = true;
    if (is(m, "BYE") && m.to()->tag() == "fork2") byed = true;
  }
  EXPECT_TRUE(acked);
  EXPECT_TRUE(byed);
  EXPECT_TRUE(n.ha.ended.empty());  // the call that was answered first goes on
  EXPECT_EQ(n.ha.answered.size(), 1u);
}

TEST(SipUserAgentField, ChallengesToOurByeAreAnsweredOnBothSides) {
  for (bool caller_hangs_up : {true, false}) {
    Net n;
    sip::CallId b_call = 0;
    n.hb.on_invite = [&](sip::CallId c, const sip::Message&) {
      b_call = c;
      n.b->answer(c, "answer-1", n.now);
    };
    auto a_call = n.call({}, sip::Credentials{"acct", "secret"});
    n.b->set_credentials(b_call, {"acct", "secret"});
    std::optional<sip::Message> first_bye;
    n.drop = [&](const sip::Message& m) {
      if (is(m, "BYE") && !first_bye) {
        first_bye = m;
        return true;
      }
      return false;
    };
    if (caller_hangs_up) n.a->hangup(a_call, n.now);
    else n.b->hangup(b_call, n.now);
    n.pump();
    ASSERT_TRUE(first_bye);
    auto challenge = sip::make_response(*first_bye, 407, "", first_bye->to()->tag().value_or(""));
    challenge.add("Proxy-Authenticate", "Digest realm=\"sbc\", nonce=\"n1\", qop=\"auth\"");
    n.inject(challenge, caller_hangs_up ? kB : kA, caller_hangs_up ? kA : kB);
    auto bye = n.last([](const sip::Message& m) { return is(m, "BYE"); });
    ASSERT_TRUE(bye);
    EXPECT_TRUE(bye->get("Proxy-Authorization")) << caller_hangs_up;
    EXPECT_GT(bye->cseq().number, first_bye->cseq().number);
    auto& ended = caller_hangs_up ? n.hb.ended : n.ha.ended;
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].second, sip::EndCause::remote_bye);
  }
}

TEST(SipUserAgentField, ADelayedOfferGetsOurOfferIn200AndTheAckCarriesTheAnswer) {
  Net n;
  n.hb.on_invite = [&](sip::CallId c, const sip::Message& inv) {
    EXPECT_TRUE(inv.body.empty());
    n.b->answer(c, "v=0 our-offer", n.now);
  };
  auto inv = raw_invite();
  n.inject(inv, kA, kB);
  ASSERT_EQ(n.hb.incoming.size(), 1u);
  auto ok = *n.last([](const sip::Message& m) { return is(m, "200"); });
  EXPECT_EQ(ok.body, "v=0 our-offer");
  auto ack = sip::Message::request("ACK", "sip:127.0.0.2:5070");
  ack.add("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + sip::new_branch());
  ack.add("From", *inv.get("From"));
  ack.add("To", *ok.get("To"));
  ack.add("Call-ID", inv.call_id());
  ack.add("CSeq", "1 ACK");
  ack.add("Content-Type", "application/sdp");
  ack.body = "v=0 their-answer";
  n.inject(ack, kA, kB);
  EXPECT_EQ(n.hb.ack_answers, std::vector<std::string>{"v=0 their-answer"});
  EXPECT_EQ(n.hb.confirmed.size(), 1u);
}

TEST(SipUserAgentField, Require100relGetsAReliable180ThatThePrackStops) {
  Net n;
  n.drop = [](const sip::Message& m) { return is(m, "PRACK"); };  // held back first: the 200 waits
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) {
    n.b->ringing(c, n.now);
    n.b->answer(c, "answer-1", n.now);
  };
  auto id = n.call({{"Require", "100rel"}});
  EXPECT_EQ(n.count("200"), 0);  // the answer waits for the PRACK of the reliable 180
  n.drop = [](const sip::Message&) { return false; };
  n.advance(600ms);  // the PRACK's retransmission gets through
  EXPECT_EQ(n.ha.answered, std::vector<sip::CallId>{id});
  size_t prack_ok = 0, invite_ok = 0;
  for (size_t i = 0; i < n.wire.size(); ++i) {
    if (is(n.wire[i], "200") && n.wire[i].cseq().method == "PRACK" && !prack_ok) prack_ok = i;
    if (is(n.wire[i], "200") && n.wire[i].cseq().method == "INVITE" && !invite_ok) invite_ok = i;
  }
  EXPECT_LT(prack_ok, invite_ok);
  n.advance(5s);
  EXPECT_EQ(n.count("180"), 2);  // sent, retransmitted once at T1 while the PRACK was lost, no more
  auto ringing = n.last([](const sip::Message& m) { return is(m, "180"); });
  ASSERT_TRUE(ringing);
  EXPECT_EQ(ringing->get("Require"), "100rel");
  EXPECT_EQ(ringing->get("RSeq"), "1");
  auto prack = n.last([](const sip::Message& m) { return is(m, "PRACK"); });
  ASSERT_TRUE(prack);  // our UAC PRACKs it
  EXPECT_EQ(prack->get("RAck"), "1 1 INVITE");

  Net lost;
  lost.drop = [](const sip::Message& m) { return is(m, "PRACK"); };
  lost.hb.on_invite = [&](sip::CallId c, const sip::Message&) { lost.b->ringing(c, lost.now); };
  lost.call({{"Require", "100rel"}});
  lost.advance(2s);
  EXPECT_GE(lost.count("180"), 3);  // retransmitted at T1, 2T1, ...
  std::set<uint32_t> prack_cseqs;  // the caller PRACKs each RSeq once (that transaction retransmits)
  for (const auto& m : lost.wire) {
    if (is(m, "PRACK")) prack_cseqs.insert(m.cseq().number);
  }
  EXPECT_EQ(prack_cseqs.size(), 1u);
  lost.advance(31s);
  EXPECT_EQ(lost.count("504"), 1);  // RFC 3262 §3: no PRACK in 64*T1
  ASSERT_EQ(lost.ha.failed.size(), 1u);
  EXPECT_EQ(lost.ha.failed[0].second, 504);
}

TEST(SipUserAgentField, AnAnswerInAReliable183IsTheAnswerWhenThe200HasNone) {
  Net n;
  n.drop = [](const sip::Message& m) { return !m.is_request() && m.to()->tag() != "e1"; };  // B's own replies
  n.call();
  auto inv = n.wire.front();
  auto early = sip::make_response(inv, 183, "", "e1");
  early.add("Require", "100rel");
  early.add("RSeq", "7");
  early.add("Contact", "<sip:127.0.0.2:5070>");
  early.add("Content-Type", "application/sdp");
  early.body = "v=0 early-answer";
  n.inject(early, kB, kA);
  auto prack = n.last([](const sip::Message& m) { return is(m, "PRACK"); });
  ASSERT_TRUE(prack);
  EXPECT_EQ(prack->get("RAck"), "7 1 INVITE");
  EXPECT_EQ(prack->to()->tag(), "e1");
  auto ok = sip::make_response(inv, 200, "", "e1");
  ok.add("Contact", "<sip:127.0.0.2:5070>");
  n.inject(ok, kB, kA);
  ASSERT_EQ(n.ha.answered.size(), 1u);
  EXPECT_EQ(n.ha.answer_body, "v=0 early-answer");
}

TEST(SipUserAgentField, A302NamesItsTargetsInOrderOfQ) {
  Net n;
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) {
    n.b->reject(c, 302, "", n.now,
                {{"Contact", "<sip:+15550100@127.0.0.3:5060>;q=0.5"}, {"Contact", "<sip:+15550100@127.0.0.4:5060>;q=0.9"},
                 {"Contact", "<tel:+15550100>"}});
  };
  auto id = n.call();
  ASSERT_EQ(n.ha.failed.size(), 1u);
  EXPECT_EQ(n.ha.failed[0].second, 302);
  EXPECT_EQ(n.a->redirect_targets(id),
            (std::vector<std::string>{"sip:+15550100@127.0.0.4:5060", "sip:+15550100@127.0.0.3:5060"}));
}

TEST(SipUserAgentField, AMultipartInviteOffersItsSdpPartAndAnythingElseIsRefusedWith415) {
  Net n;
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) { n.b->ringing(c, n.now); };
  std::string body =
      "--b1\r\nContent-Type: application/sdp\r\n\r\nv=0 the-offer\r\n"
      "--b1\r\nContent-Type: application/isup;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n\x01\x02\x03\r\n"
      "--b1--\r\n";
  n.inject(raw_invite(body, "multipart/mixed;boundary=b1"), kA, kB);
  ASSERT_EQ(n.hb.invites.size(), 1u);
  EXPECT_EQ(n.hb.invites[0].body, "v=0 the-offer");
  EXPECT_EQ(n.hb.invites[0].get("Content-Type"), "application/sdp");
  n.inject(raw_invite("hello", "text/plain"), kA, kB);
  EXPECT_TRUE(is(n.wire.back(), "415"));
  EXPECT_EQ(n.hb.invites.size(), 1u);
}

TEST(SipUserAgentField, AnInviteOver1300BytesGoesOverTcp) {
  Net n;
  n.a->set_local({{sip::Transport::udp, {kA.ip, kA.port}}, {sip::Transport::tcp, {kA.ip, kA.port}}});
  n.call({{"X-Padding", std::string(1400, 'x')}});
  ASSERT_TRUE(is(n.wire.front(), "INVITE"));
  EXPECT_EQ(n.wire_to.front().transport, sip::Transport::tcp);
  EXPECT_EQ(n.wire.front().top_via()->transport, "TCP");
  // §18.1.1: the TCP connection is refused — the same INVITE goes over UDP, and the call proceeds.
  Net refused;
  refused.a->set_local({{sip::Transport::udp, {kA.ip, kA.port}}, {sip::Transport::tcp, {kA.ip, kA.port}}});
  refused.drop = [](const sip::Message& m) { return m.is_request() && m.top_via()->transport == "TCP"; };
  refused.hb.on_invite = [&](sip::CallId c, const sip::Message&) { refused.b->answer(c, "answer-1", refused.now); };
  auto id = refused.call({{"X-Padding", std::string(1400, 'x')}});
  ASSERT_EQ(refused.wire_to.back().transport, sip::Transport::tcp);
  refused.a->transport_error({kB.ip, kB.port, sip::Transport::tcp}, refused.now);
  refused.pump();
  ASSERT_EQ(refused.count("INVITE"), 2);
  EXPECT_EQ(refused.last([](const sip::Message& m) { return is(m, "INVITE"); })->top_via()->transport, "UDP");
  EXPECT_EQ(refused.hb.invites.size(), 1u);
  EXPECT_EQ(refused.ha.answered, std::vector<sip::CallId>{id}) << "the UDP INVITE was answered";
  EXPECT_TRUE(refused.ha.failed.empty());
  Net small;
  small.a->set_local({{sip::Transport::udp, {kA.ip, kA.port}}, {sip::Transport::tcp, {kA.ip, kA.port}}});
  small.call();
  EXPECT_EQ(small.wire_to.front().transport, sip::Transport::udp);
}

}  // namespace

namespace {

TEST(SipUserAgentField, AdvertiseAndTheWildcardsRouteNameOurAddress) {
  Net n;
  n.a->set_advertise("203.0.113.5");
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) { n.b->answer(c, "answer", n.now); };
  n.call();
  const auto& inv = n.wire.front();
  EXPECT_EQ(inv.top_via()->host, "203.0.113.5");
  EXPECT_EQ(*inv.get("Contact"), "<sip:203.0.113.5:5060>");
  EXPECT_EQ(inv.from()->uri.host, "203.0.113.5");
  // Bound on 0.0.0.0 without advertise: the address toward the peer.
  Net w;
  w.a->set_local({{sip::Transport::udp, {"0.0.0.0", 5060}}});
  std::vector<std::string> asked;
  w.a->set_source_for([&](const std::string& peer) {
    asked.push_back(peer);
    return std::string("10.0.0.7");
  });
  w.call();
  EXPECT_EQ(w.wire.front().top_via()->host, "10.0.0.7");
  EXPECT_NE(w.wire.front().get("Contact")->find("10.0.0.7"), std::string::npos);
  ASSERT_FALSE(asked.empty());
  EXPECT_EQ(asked.front(), kB.ip);
}

TEST(SipUserAgentField, OptionsPingsReportAnyAnswerAndSilence) {
  Net n;
  std::vector<int> results;
  n.a->ping("sip:127.0.0.2:5070", kB, n.now, [&](int s) { results.push_back(s); });
  n.pump();
  EXPECT_EQ(results, std::vector<int>{200});
  n.drop = [](const sip::Message& m) { return is(m, "OPTIONS"); };
  n.a->ping("sip:127.0.0.2:5070", kB, n.now, [&](int s) { results.push_back(s); });
  n.advance(33s);
  EXPECT_EQ(results, (std::vector<int>{200, 408}));
}

TEST(SipUserAgentField, ALiveDialogIsKnownByItsConnection) {
  Established n;
  EXPECT_TRUE(n.a->carries_dialog(kB));
  EXPECT_FALSE(n.a->carries_dialog({"127.0.0.9", 5060, sip::Transport::udp}));
  n.a->hangup(n.a_call, n.now);
  n.pump();
  EXPECT_FALSE(n.a->carries_dialog(kB));
}

}  // namespace
