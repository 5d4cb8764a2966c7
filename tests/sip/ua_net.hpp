// ua_net.hpp — test harness: two user agents over an in-memory network on a simulated clock.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <tuple>

#include "sip/user_agent.hpp"

namespace ua_net {

using namespace std::chrono_literals;

struct Handler : sip::CallHandler {
  std::vector<sip::CallId> incoming, answered, confirmed;
  std::vector<std::pair<sip::CallId, int>> failed;
  std::vector<std::pair<sip::CallId, sip::EndCause>> ended;
  std::vector<std::string> offers;
  std::vector<int> reinvite_results;
  std::vector<sip::Message> invites;
  std::string answer_body;
  std::function<void(sip::CallId, const sip::Message&)> on_invite;
  std::function<std::optional<std::string>(const std::string&)> offer_reply = [](const std::string& o) {
    return std::optional<std::string>("answer-to:" + o);
  };
  void on_incoming(sip::CallId c, const sip::Message& m, const sip::Address&) override {
    incoming.push_back(c);
    invites.push_back(m);
    if (on_invite) on_invite(c, m);
  }
  void on_answered(sip::CallId c, const sip::Message& m) override {
    answered.push_back(c);
    answer_body = m.body;
  }
  void on_failed(sip::CallId c, int s, const std::string&) override { failed.emplace_back(c, s); }
  void on_confirmed(sip::CallId c) override { confirmed.push_back(c); }
  std::vector<std::string> ack_answers;
  void on_ack_answer(sip::CallId, const std::string& sdp) override { ack_answers.push_back(sdp); }
  std::vector<sip::Message> progress;
  void on_progress(sip::CallId, const sip::Message& m) override { progress.push_back(m); }
  std::optional<std::string> on_offer(sip::CallId, const std::string& o) override {
    offers.push_back(o);
    return offer_reply(o);
  }
  void on_reinvite_result(sip::CallId, const sip::Message& m) override { reinvite_results.push_back(m.status); }
  void on_ended(sip::CallId c, sip::EndCause e) override { ended.emplace_back(c, e); }
  std::vector<int> refer_results;
  std::vector<sip::Message> notifies, refers;
  int refer_answer = 603;
  void on_refer_result(sip::CallId, int status) override { refer_results.push_back(status); }
  void on_notify(sip::CallId, const sip::Message& m) override { notifies.push_back(m); }
  int on_refer(sip::CallId, const sip::Message& m) override {
    refers.push_back(m);
    return refer_answer;
  }
};

const sip::Address kA{"127.0.0.1", 5060, sip::Transport::udp};
const sip::Address kB{"127.0.0.2", 5070, sip::Transport::udp};

struct Net {
  Handler ha, hb;
  std::deque<std::tuple<std::string, sip::Address, sip::Address>> flight;  // bytes, from, to
  std::function<bool(const sip::Message&)> drop = [](const sip::Message&) { return false; };
  std::vector<sip::Message> wire;
  std::vector<sip::Address> wire_to;
  // Bytes from outside either UA (a crafted peer, proxy or scanner) delivered to the UA at `to`.
  void inject(const sip::Message& m, const sip::Address& from, const sip::Address& to) {
    flight.emplace_back(m.serialize(), from, to);
    pump();
  }
  // The last message on the wire that `pred` accepts.
  std::optional<sip::Message> last(const std::function<bool(const sip::Message&)>& pred) const {
    for (auto it = wire.rbegin(); it != wire.rend(); ++it) {
      if (pred(*it)) return *it;
    }
    return std::nullopt;
  }
  sip::Time now = sip::Clock::now();
  std::unique_ptr<sip::UserAgent> a, b;

  Net() {
    sip::UaConfig ca, cb;
    ca.local[sip::Transport::udp] = {kA.ip, kA.port};
    cb.local[sip::Transport::udp] = {kB.ip, kB.port};
    a = std::make_unique<sip::UserAgent>(ha, [this](const std::string& s, const sip::Address& to) {
      flight.emplace_back(s, kA, to);
      return true;
    }, ca);
    b = std::make_unique<sip::UserAgent>(hb, [this](const std::string& s, const sip::Address& to) {
      flight.emplace_back(s, kB, to);
      return true;
    }, cb);
  }
  void pump() {
    while (!flight.empty()) {
      auto [bytes, from, to] = flight.front();
      flight.pop_front();
      auto m = sip::parse(bytes);
      ASSERT_TRUE(m) << bytes;
      wire.push_back(*m);
      wire_to.push_back(to);
      if (drop(*m)) continue;
      (to.ip == kA.ip ? *a : *b).receive(bytes, from, now);
    }
  }
  void advance(sip::Ms d) {
    auto end = now + d;
    while (now < end) {
      now += 10ms;
      a->tick(now);
      b->tick(now);
      pump();
    }
  }
  sip::CallId call(std::vector<sip::Header> extra = {}, std::optional<sip::Credentials> creds = std::nullopt) {
    sip::OutgoingCall oc;
    oc.request_uri = "sip:+15550100@127.0.0.2:5070";
    oc.next_hop = kB;
    oc.from_user = "+15550199";
    oc.sdp = "offer-1";
    oc.extra_headers = std::move(extra);
    oc.credentials = creds;
    auto id = a->invite(oc, now);
    EXPECT_TRUE(id);
    pump();
    return *id;
  }
  int count(const std::string& what) const {
    int n = 0;
    for (const auto& m : wire) {
      if ((m.is_request() ? m.method : std::to_string(m.status)) == what) ++n;
    }
    return n;
  }
};

struct Established : Net {
  sip::CallId a_call = 0, b_call = 0;
  Established() {
    hb.on_invite = [&](sip::CallId c, const sip::Message&) {
      b_call = c;
      b->answer(c, "answer-1", now);
    };
    a_call = call();
  }
};

}  // namespace ua_net
