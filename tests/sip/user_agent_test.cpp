// Two user agents talking over an in-memory "network" on a simulated clock: call set-up,
// rejection, CANCEL, digest challenges, session refreshes, re-INVITE offers, glare, lost ACKs.
#include "sip/user_agent.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <functional>

#include "ua_net.hpp"

namespace {

using namespace ua_net;
using namespace std::chrono_literals;

TEST(SipUserAgent, CallIsSetUpAnsweredAcknowledgedAndHungUp) {
  Net n;
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) {
    n.b->ringing(c, n.now);
    n.b->answer(c, "answer-1", n.now);
  };
  auto id = n.call({{"Referred-By", "<sip:um@exchange.example.com?msExchUMFaxRecipient=bob%40example.com>"}});
  ASSERT_EQ(n.hb.incoming.size(), 1u);
  EXPECT_EQ(n.hb.invites[0].body, "offer-1");
  EXPECT_EQ(n.hb.invites[0].get("b"), "<sip:um@exchange.example.com?msExchUMFaxRecipient=bob%40example.com>");
  EXPECT_EQ(n.hb.invites[0].from()->uri.user, "+15550199");
  EXPECT_EQ(n.ha.answered, std::vector<sip::CallId>{id});
  EXPECT_EQ(n.ha.answer_body, "answer-1");
  EXPECT_EQ(n.hb.confirmed.size(), 1u);
  EXPECT_EQ(n.count("100"), 1);
  EXPECT_EQ(n.count("180"), 1);
  EXPECT_EQ(n.count("ACK"), 1);
  n.advance(2s);
  EXPECT_EQ(n.count("200"), 1);  // no 2xx retransmission after the ACK
  n.a->hangup(id, n.now);
  n.pump();
  ASSERT_EQ(n.hb.ended.size(), 1u);
  EXPECT_EQ(n.hb.ended[0].second, sip::EndCause::remote_bye);
  ASSERT_EQ(n.ha.ended.size(), 1u);
  EXPECT_EQ(n.ha.ended[0].second, sip::EndCause::local_bye);
  n.advance(40s);
  EXPECT_EQ(n.a->calls(), 0u);
  EXPECT_EQ(n.b->calls(), 0u);
}

TEST(SipUserAgent, ARejectionReachesTheCallerWithItsStatus) {
  Net n;
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) { n.b->reject(c, 486, "", n.now); };
  auto id = n.call();
  ASSERT_EQ(n.ha.failed.size(), 1u);
  EXPECT_EQ(n.ha.failed[0], std::make_pair(id, 486));
  EXPECT_EQ(n.count("ACK"), 1);
  EXPECT_EQ(n.hb.ended[0].second, sip::EndCause::rejected);
}

TEST(SipUserAgent, CancelBeforeTheAnswerEndsBothSides) {
  Net n;
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) { n.b->ringing(c, n.now); };
  auto id = n.call();
  n.a->hangup(id, n.now);
  n.pump();
  EXPECT_EQ(n.count("CANCEL"), 1);
  EXPECT_EQ(n.count("487"), 1);
  ASSERT_EQ(n.hb.ended.size(), 1u);
  EXPECT_EQ(n.hb.ended[0].second, sip::EndCause::cancelled);
  ASSERT_EQ(n.ha.failed.size(), 1u);
  EXPECT_EQ(n.ha.failed[0].second, 487);
}

TEST(SipUserAgent, ACancelWaitsForTheFirstProvisional) {
  Net n;
  n.drop = [](const sip::Message& m) { return !m.is_request() && m.status == 100; };
  sip::CallId pending = 0;
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) { pending = c; };
  auto id = n.call();
  n.a->hangup(id, n.now);
  n.pump();
  EXPECT_EQ(n.count("CANCEL"), 0);
  n.b->ringing(pending, n.now);
  n.pump();
  EXPECT_EQ(n.count("CANCEL"), 1);
  EXPECT_EQ(n.ha.failed.at(0).second, 487);
}

TEST(SipUserAgent, DigestChallengesAreAnsweredOnceFor401And407) {
  for (int code : {401, 407}) {
    Net n;
    const std::string header = code == 401 ? "WWW-Authenticate" : "Proxy-Authenticate";
    const std::string answer = code == 401 ? "Authorization" : "Proxy-Authorization";
    int challenges = 0;
    n.hb.on_invite = [&](sip::CallId c, const sip::Message& inv) {
      auto auth = inv.get(answer);
      if (!auth) {
        ++challenges;
        n.b->reject(c, code, "", n.now, {{header, "Digest realm=\"fax\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-256"}});
        return;
      }
      sip::Challenge ch{"fax", "n1", "", "SHA-256", true, false};
      auto cnonce = auth->substr(auth->find("cnonce=\"") + 8);
      cnonce = cnonce.substr(0, cnonce.find('"'));
      std::string expect = sip::authorization(ch, {"trunk", "secret", "INVITE", inv.uri, 1, cnonce});
      if (*auth == expect) n.b->answer(c, "answer", n.now);
      else n.b->reject(c, 403, "", n.now);
    };
    n.call({}, sip::Credentials{"trunk", "secret"});
    EXPECT_EQ(challenges, 1);
    EXPECT_EQ(n.ha.answered.size(), 1u) << code;
    EXPECT_EQ(n.hb.invites.back().cseq().number, 2u);
  }
}

TEST(SipUserAgent, AWrongPasswordFailsAfterOneRetryNotForever) {
  Net n;
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) {
    n.b->reject(c, 407, "", n.now, {{"Proxy-Authenticate", "Digest realm=\"fax\", nonce=\"n\""}});
  };
  n.call({}, sip::Credentials{"u", "wrong"});
  EXPECT_EQ(n.hb.incoming.size(), 3u);  // the first and two answered challenges
  ASSERT_EQ(n.ha.failed.size(), 1u);
  EXPECT_EQ(n.ha.failed[0].second, 407);
}


TEST(SipUserAgent, SessionRefreshesWithoutAnOfferNeverReachTheHandler) {
  Established n;
  // Refresh by re-INVITE without a body, then by UPDATE with Session-Expires.
  auto refresh = sip::Message::request("INVITE", "sip:127.0.0.1:5060");
  const auto& inv = *n.b->initial_invite(n.b_call);
  refresh.add("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + sip::new_branch());
  refresh.add("From", *inv.get("From"));
  std::string to_tag;
  for (const auto& m : n.wire) {
    if (!m.is_request() && m.status == 200) to_tag = *m.to()->tag();
  }
  refresh.add("To", *inv.get("To") + ";tag=" + to_tag);
  refresh.add("Call-ID", inv.call_id());
  refresh.add("CSeq", "2 INVITE");
  refresh.add("Session-Expires", "1800;refresher=uac");
  refresh.add("Supported", "timer");
  n.flight.emplace_back(refresh.serialize(), kA, kB);
  n.pump();
  auto last_response = [&] {
    for (auto it = n.wire.rbegin(); it != n.wire.rend(); ++it) {
      if (!it->is_request()) return *it;
    }
    return sip::Message();
  };
  auto ok = last_response();
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "answer-1");  // our current description again
  EXPECT_EQ(ok.get("Session-Expires"), "1800;refresher=uac");
  EXPECT_EQ(ok.get("Require"), "timer");
  EXPECT_TRUE(n.hb.offers.empty());
  auto update = refresh;
  update.method = "UPDATE";
  update.set("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + sip::new_branch());
  update.set("CSeq", "3 UPDATE");
  n.flight.emplace_back(update.serialize(), kA, kB);
  n.pump();
  EXPECT_EQ(last_response().status, 200);
  EXPECT_EQ(last_response().cseq().method, "UPDATE");
  EXPECT_TRUE(last_response().body.empty());
  EXPECT_TRUE(n.hb.offers.empty());
  EXPECT_TRUE(n.hb.ended.empty());
}

TEST(SipUserAgent, AReinviteOfferIsAnsweredByTheHandlerOrRefusedWith488) {
  Established n;
  ASSERT_TRUE(n.a->reinvite(n.a_call, "t38-offer", n.now));
  n.pump();
  EXPECT_EQ(n.hb.offers, std::vector<std::string>{"t38-offer"});
  EXPECT_EQ(n.ha.reinvite_results, std::vector<int>{200});
  EXPECT_EQ(n.count("ACK"), 2);
  n.hb.offer_reply = [](const std::string&) { return std::optional<std::string>(); };
  ASSERT_TRUE(n.a->reinvite(n.a_call, "t38-offer-2", n.now));
  n.pump();
  EXPECT_EQ(n.ha.reinvite_results, (std::vector<int>{200, 488}));
  EXPECT_TRUE(n.ha.ended.empty());
}

TEST(SipUserAgent, OurSessionRefreshesOfferTheSameDescriptionOrNoneAtAll) {
  Established n;
  ASSERT_TRUE(n.a->refresh(n.a_call, false, 1800, n.now));
  n.pump();
  EXPECT_EQ(n.hb.offers, std::vector<std::string>{"offer-1"});  // the same description again
  ASSERT_TRUE(n.a->refresh(n.a_call, true, 1800, n.now));
  n.pump();
  EXPECT_EQ(n.hb.offers.size(), 1u);  // an UPDATE without a body asks nothing of the handler
  EXPECT_EQ(n.ha.reinvite_results, (std::vector<int>{200, 200}));
  int updates = 0;
  for (const auto& m : n.wire) {
    if (m.method == "UPDATE") {
      ++updates;
      EXPECT_EQ(m.get("Session-Expires"), "1800;refresher=uac");
      EXPECT_TRUE(m.body.empty());
    }
  }
  EXPECT_EQ(updates, 1);
  EXPECT_TRUE(n.ha.ended.empty());
  EXPECT_TRUE(n.hb.ended.empty());
}

TEST(SipUserAgent, GlareGets491AndBothRetry) {
  Established n;
  ASSERT_TRUE(n.a->reinvite(n.a_call, "from-a", n.now));
  ASSERT_TRUE(n.b->reinvite(n.b_call, "from-b", n.now));
  n.pump();
  EXPECT_EQ(n.count("491"), 2);
  n.advance(5s);
  EXPECT_EQ(n.ha.reinvite_results, std::vector<int>{200});
  EXPECT_EQ(n.hb.reinvite_results, std::vector<int>{200});
}

TEST(SipUserAgent, AGlareRetryCanBeCancelledOnceThePeersOfferSettledTheMedia) {
  Established n;
  ASSERT_TRUE(n.a->reinvite(n.a_call, "from-a", n.now));
  ASSERT_TRUE(n.b->reinvite(n.b_call, "from-b", n.now));
  n.pump();
  EXPECT_EQ(n.count("491"), 2);
  n.a->cancel_reinvite_retry(n.a_call);  // a took b's offer instead
  n.advance(5s);
  EXPECT_EQ(n.hb.reinvite_results, std::vector<int>{200});
  EXPECT_TRUE(n.ha.reinvite_results.empty());
  EXPECT_EQ(n.ha.offers, std::vector<std::string>{"from-b"});
  EXPECT_TRUE(n.hb.offers.empty());
}

TEST(SipUserAgent, ReferTransfersWithNotifiesAndARefusalIsReported) {
  Established n;
  // b refuses by default (603).
  ASSERT_TRUE(n.a->refer(n.a_call, "sip:voicemail@pbx.example.com", n.now));
  n.pump();
  EXPECT_EQ(n.ha.refer_results, std::vector<int>{603});
  ASSERT_EQ(n.hb.refers.size(), 1u);
  EXPECT_EQ(n.hb.refers[0].get("Refer-To"), "<sip:voicemail@pbx.example.com>");
  EXPECT_TRUE(n.hb.refers[0].get("Referred-By"));
  // Accepted: 202, then the transferee's progress.
  n.hb.refer_answer = 202;
  ASSERT_TRUE(n.a->refer(n.a_call, "sip:voicemail@pbx.example.com", n.now));
  n.pump();
  EXPECT_EQ(n.ha.refer_results, (std::vector<int>{603, 202}));
  ASSERT_TRUE(n.b->notify_refer(n.b_call, "SIP/2.0 100 Trying", false, n.now));
  ASSERT_TRUE(n.b->notify_refer(n.b_call, "SIP/2.0 200 OK", true, n.now));
  n.pump();
  ASSERT_EQ(n.ha.notifies.size(), 2u);
  EXPECT_EQ(n.ha.notifies[1].get("Event"), "refer");
  EXPECT_EQ(n.ha.notifies[1].body, "SIP/2.0 200 OK\r\n");
  EXPECT_EQ(n.ha.notifies[1].get("Subscription-State"), "terminated;reason=noresource");
  EXPECT_EQ(n.count("202"), 1);
  EXPECT_EQ(n.count("200"), 3);  // the INVITE's and one per NOTIFY
  EXPECT_TRUE(n.ha.ended.empty());
}

TEST(SipUserAgent, ALostAckMakesTheAnswererRepeatIts200) {
  Net n;
  int acks = 0;
  n.drop = [&](const sip::Message& m) { return m.method == "ACK" && ++acks == 1; };
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) { n.b->answer(c, "answer", n.now); };
  n.call();
  EXPECT_TRUE(n.hb.confirmed.empty());
  n.advance(600ms);
  EXPECT_EQ(n.count("200"), 2);
  EXPECT_EQ(n.hb.confirmed.size(), 1u);
  n.advance(5s);
  EXPECT_EQ(n.count("200"), 2);
}

TEST(SipUserAgent, NoAckAtAllEndsTheCallWithABye) {
  Net n;
  n.drop = [&](const sip::Message& m) { return m.method == "ACK"; };
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) { n.b->answer(c, "answer", n.now); };
  n.call();
  n.advance(33s);
  ASSERT_EQ(n.hb.ended.size(), 1u);
  EXPECT_EQ(n.hb.ended[0].second, sip::EndCause::no_ack);
  EXPECT_GE(n.count("BYE"), 1);
}

TEST(SipUserAgent, ALostInviteIsRetransmittedAndAnUnansweredOneTimesOut) {
  Net n;
  int invites = 0;
  n.drop = [&](const sip::Message& m) { return m.method == "INVITE" && ++invites == 1; };
  n.hb.on_invite = [&](sip::CallId c, const sip::Message&) { n.b->answer(c, "answer", n.now); };
  n.call();
  EXPECT_TRUE(n.ha.answered.empty());
  n.advance(600ms);
  EXPECT_EQ(n.ha.answered.size(), 1u);
  Net silent;
  silent.drop = [](const sip::Message& m) { return m.method == "INVITE"; };
  silent.call();
  silent.advance(33s);
  ASSERT_EQ(silent.ha.failed.size(), 1u);
  EXPECT_EQ(silent.ha.failed[0].second, 408);
}

TEST(SipUserAgent, UnknownDialogsAndMethodsGetTheRightErrors) {
  Net n;
  auto bye = sip::Message::request("BYE", "sip:127.0.0.2:5070");
  bye.add("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + sip::new_branch());
  bye.add("From", "<sip:a@127.0.0.1>;tag=x");
  bye.add("To", "<sip:b@127.0.0.2>;tag=y");
  bye.add("Call-ID", "nope");
  bye.add("CSeq", "1 BYE");
  n.flight.emplace_back(bye.serialize(), kA, kB);
  n.pump();
  EXPECT_EQ(n.wire.back().status, 481);
  auto sub = bye;
  sub.method = "SUBSCRIBE";
  sub.set("CSeq", "1 SUBSCRIBE");
  sub.set("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + sip::new_branch());
  n.flight.emplace_back(sub.serialize(), kA, kB);
  n.pump();
  EXPECT_EQ(n.wire.back().status, 405);  // known, refused
  EXPECT_TRUE(n.wire.back().get("Allow"));
  auto odd = bye;
  odd.method = "FROBNICATE";
  odd.set("CSeq", "1 FROBNICATE");
  odd.set("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + sip::new_branch());
  n.flight.emplace_back(odd.serialize(), kA, kB);
  n.pump();
  EXPECT_EQ(n.wire.back().status, 501);  // unknown (§21.5.2), not 405
  auto opt = sub;
  opt.method = "OPTIONS";
  opt.set("CSeq", "1 OPTIONS");
  opt.set("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + sip::new_branch());
  n.flight.emplace_back(opt.serialize(), kA, kB);
  n.pump();
  EXPECT_EQ(n.wire.back().status, 200);
  auto inv = sub;
  inv.method = "INVITE";
  inv.set("To", "<sip:b@127.0.0.2>");
  inv.set("CSeq", "1 INVITE");
  inv.set("Require", "100rel, foo");
  inv.set("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + sip::new_branch());
  n.flight.emplace_back(inv.serialize(), kA, kB);
  n.pump();
  EXPECT_EQ(n.wire.back().status, 420);
  EXPECT_EQ(n.wire.back().get("Unsupported"), "foo");  // 100rel is supported (RFC 3262)
  inv.remove("Require");
  inv.set("Session-Expires", "30");
  inv.set("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=" + sip::new_branch());
  n.flight.emplace_back(inv.serialize(), kA, kB);
  n.pump();
  EXPECT_EQ(n.wire.back().status, 422);
  EXPECT_EQ(n.wire.back().get("Min-SE"), "90");
  EXPECT_TRUE(n.hb.incoming.empty());
}

}  // namespace

namespace {

struct Registrar : Handler {
  int expires_granted = 0;
  std::vector<int> results;
  void on_registration(const std::string&, int status, const std::string&, int expires) override {
    results.push_back(status);
    expires_granted = expires;
  }
};

TEST(SipUserAgent, RegistersWithDigestAndRefreshesAtHalfTheGrantedTime) {
  Registrar ha;
  std::vector<sip::Message> seen;
  sip::Time now = sip::Clock::now();
  std::unique_ptr<sip::UserAgent> a;
  int challenges = 0;
  // A registrar that challenges each REGISTER without credentials and grants 120 s.
  auto registrar = [&](const std::string& bytes) {
    auto m = *sip::parse(bytes);
    seen.push_back(m);
    sip::Message r = sip::make_response(m, 200, "", "reg");
    if (!m.get("Authorization")) {
      ++challenges;
      r = sip::make_response(m, 401, "", "reg");
      r.add("WWW-Authenticate", "Digest realm=\"fax\", nonce=\"n" + std::to_string(challenges) + "\", qop=\"auth\"");
    } else {
      auto auth = *m.get("Authorization");
      auto cn = auth.substr(auth.find("cnonce=\"") + 8);
      cn = cn.substr(0, cn.find('"'));
      sip::Challenge ch{"fax", "n" + std::to_string(challenges), "", "MD5", true, false};
      if (auth != sip::authorization(ch, {"acct", "pw", "REGISTER", m.uri, 1, cn})) r = sip::make_response(m, 403, "", "reg");
      else r.add("Contact", *m.get("Contact") + ";expires=120");
    }
    a->receive(r.serialize(), kB, now);
  };
  std::deque<std::string> out;
  sip::UaConfig cfg;
  cfg.local[sip::Transport::udp] = {kA.ip, kA.port};
  a = std::make_unique<sip::UserAgent>(ha, [&](const std::string& s, const sip::Address&) {
    out.push_back(s);
    return true;
  }, cfg);
  sip::Registration reg{"sip:127.0.0.2", kB, "acct", sip::Credentials{"acct", "pw"}, 3600};
  a->register_at(reg, now);
  auto pump = [&] {
    while (!out.empty()) {
      auto s = out.front();
      out.pop_front();
      registrar(s);
    }
  };
  pump();
  EXPECT_EQ(ha.results, std::vector<int>{200});
  EXPECT_EQ(ha.expires_granted, 120);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].get("Expires"), "3600");
  EXPECT_EQ(seen[1].cseq().number, 2u);
  EXPECT_EQ(seen[1].call_id(), seen[0].call_id());
  EXPECT_EQ(sip::parse_name_addr(*seen[1].get("Contact"))->uri.user, "acct");
  // Nothing before 60 s; a refresh (challenged and answered again) at 60 s.
  for (int s = 0; s < 59; ++s) {
    now += std::chrono::seconds(1);
    a->tick(now);
  }
  pump();
  EXPECT_EQ(seen.size(), 2u);
  now += std::chrono::seconds(2);
  a->tick(now);
  pump();
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(ha.results, (std::vector<int>{200, 200}));
  a->unregister_all(now);
  pump();
  EXPECT_EQ(seen.back().get("Expires"), "0");
}

}  // namespace
