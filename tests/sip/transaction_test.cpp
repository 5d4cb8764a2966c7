// Tests of the RFC 3261 transaction layer with a scripted peer: timers A-K on a simulated
// clock, ACK generation, retransmission absorption, 400 for malformed requests, rport.
#include "sip/transaction.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;

struct Recorder : sip::TransactionUser {
  std::vector<sip::Message> requests, responses, acks;
  std::vector<sip::TxnId> request_txns, timeouts;
  void on_request(sip::TxnId t, const sip::Message& m, const sip::Address&) override {
    requests.push_back(m);
    request_txns.push_back(t);
  }
  void on_ack(const sip::Message& m, const sip::Address&) override { acks.push_back(m); }
  void on_response(sip::TxnId, const sip::Message& m) override { responses.push_back(m); }
  void on_timeout(sip::TxnId t) override { timeouts.push_back(t); }
};

struct Wire {
  std::vector<std::pair<std::string, sip::Address>> sent;
  sip::TransactionLayer::Send fn() {
    return [this](const std::string& b, const sip::Address& a) {
      sent.emplace_back(b, a);
      return true;
    };
  }
  sip::Message last() const { return *sip::parse(sent.back().first); }
};

const sip::Address kPeer{"192.0.2.9", 5070, sip::Transport::udp};

sip::Message request(const std::string& method, const std::string& branch = "z9hG4bKabc") {
  auto m = sip::Message::request(method, "sip:+15550100@192.0.2.9:5070");
  m.add("Via", "SIP/2.0/UDP 192.0.2.9:5070;branch=" + branch);
  m.add("Max-Forwards", "70");
  m.add("From", "<sip:a@192.0.2.9>;tag=f1");
  m.add("To", "<sip:+15550100@192.0.2.9>");
  m.add("Call-ID", "c1");
  m.add("CSeq", "1 " + method);
  return m;
}

sip::Message response_to(const sip::Message& req, int status) { return sip::make_response(req, status, "", "t9"); }

TEST(SipTransaction, InviteClientRetransmitsWithTimerAAndTimesOutWithTimerB) {
  Recorder tu;
  Wire wire;
  sip::TransactionLayer layer(tu, wire.fn());
  auto t0 = sip::Clock::now();
  auto id = layer.send_request(request("INVITE"), kPeer, t0);
  ASSERT_TRUE(id);
  std::vector<int64_t> at;
  for (auto t = t0; t < t0 + 40s; t += 10ms) {
    size_t before = wire.sent.size();
    layer.tick(t);
    if (wire.sent.size() > before) at.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(t - t0).count());
  }
  // A: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; B: 32 s.
  EXPECT_EQ(at, (std::vector<int64_t>{500, 1500, 3500, 7500, 15500, 31500}));
  EXPECT_EQ(tu.timeouts, std::vector<sip::TxnId>{*id});
  EXPECT_EQ(layer.size(), 0u);
}

TEST(SipTransaction, InviteClientAcksANon2xxAndAbsorbsItsRetransmission) {
  Recorder tu;
  Wire wire;
  sip::TransactionLayer layer(tu, wire.fn());
  auto t0 = sip::Clock::now();
  auto inv = request("INVITE");
  layer.send_request(inv, kPeer, t0);
  auto busy = response_to(inv, 486).serialize();
  layer.receive(busy, kPeer, t0 + 100ms);
  ASSERT_EQ(tu.responses.size(), 1u);
  auto ack = wire.last();
  EXPECT_EQ(ack.method, "ACK");
  EXPECT_EQ(ack.uri, inv.uri);
  EXPECT_EQ(ack.top_via()->branch(), "z9hG4bKabc");
  EXPECT_EQ(ack.to()->tag(), "t9");
  EXPECT_EQ(ack.cseq().method, "ACK");
  layer.receive(busy, kPeer, t0 + 600ms);
  EXPECT_EQ(tu.responses.size(), 1u);
  EXPECT_EQ(wire.last().method, "ACK");
  EXPECT_EQ(wire.sent.size(), 3u);  // INVITE, ACK, ACK
  layer.tick(t0 + 40s);              // timer D
  EXPECT_EQ(layer.size(), 0u);
  EXPECT_TRUE(tu.timeouts.empty());
}

TEST(SipTransaction, InviteClientPassesLater2xxUpForTheUaToAck) {
  Recorder tu;
  Wire wire;
  sip::TransactionLayer layer(tu, wire.fn());
  auto t0 = sip::Clock::now();
  auto inv = request("INVITE");
  layer.send_request(inv, kPeer, t0);
  layer.receive(response_to(inv, 180).serialize(), kPeer, t0);
  layer.tick(t0 + 5s);  // no retransmission after a provisional
  EXPECT_EQ(wire.sent.size(), 1u);
  auto ok = response_to(inv, 200).serialize();
  layer.receive(ok, kPeer, t0 + 6s);
  layer.receive(ok, kPeer, t0 + 7s);
  ASSERT_EQ(tu.responses.size(), 3u);
  EXPECT_EQ(tu.responses[2].status, 200);
  EXPECT_EQ(wire.sent.size(), 1u);  // the layer never ACKs a 2xx itself
}

TEST(SipTransaction, InviteServerSends100RetransmitsItsFinalWithTimerGUntilTheAck) {
  Recorder tu;
  Wire wire;
  sip::TransactionLayer layer(tu, wire.fn());
  auto t0 = sip::Clock::now();
  auto inv = request("INVITE").serialize();
  layer.receive(inv, kPeer, t0);
  ASSERT_EQ(tu.requests.size(), 1u);
  EXPECT_EQ(wire.last().status, 100);
  layer.receive(inv, kPeer, t0 + 100ms);
  EXPECT_EQ(tu.requests.size(), 1u);
  EXPECT_EQ(wire.sent.size(), 2u);
  layer.respond(tu.request_txns[0], response_to(tu.requests[0], 486), t0 + 200ms);
  std::vector<int64_t> at;
  for (auto t = t0 + 200ms; t < t0 + 5s; t += 10ms) {
    size_t before = wire.sent.size();
    layer.tick(t);
    if (wire.sent.size() > before) at.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(t - t0).count());
  }
  EXPECT_EQ(at, (std::vector<int64_t>{700, 1700, 3700}));
  auto ack = request("ACK");
  ack.set("To", "<sip:+15550100@192.0.2.9>;tag=t9");
  layer.receive(ack.serialize(), kPeer, t0 + 5s);
  EXPECT_TRUE(tu.acks.empty());  // absorbed by the transaction
  size_t n = wire.sent.size();
  layer.tick(t0 + 9s);
  EXPECT_EQ(wire.sent.size(), n);
  layer.tick(t0 + 11s);  // timer I
  EXPECT_EQ(layer.size(), 0u);
}

TEST(SipTransaction, NonInviteServerRepeatsItsFinalForARetransmission) {
  Recorder tu;
  Wire wire;
  sip::TransactionLayer layer(tu, wire.fn());
  auto t0 = sip::Clock::now();
  auto opt = request("OPTIONS").serialize();
  layer.receive(opt, kPeer, t0);
  layer.receive(opt, kPeer, t0 + 10ms);
  EXPECT_TRUE(wire.sent.empty());  // nothing to repeat yet
  layer.respond(tu.request_txns[0], response_to(tu.requests[0], 200), t0 + 20ms);
  layer.receive(opt, kPeer, t0 + 30ms);
  EXPECT_EQ(tu.requests.size(), 1u);
  ASSERT_EQ(wire.sent.size(), 2u);
  EXPECT_EQ(wire.sent[0].first, wire.sent[1].first);
  layer.tick(t0 + 33s);  // timer J
  EXPECT_EQ(layer.size(), 0u);
}

TEST(SipTransaction, NonInviteClientCapsTimerEAtT2) {
  Recorder tu;
  Wire wire;
  sip::TransactionLayer layer(tu, wire.fn());
  auto t0 = sip::Clock::now();
  layer.send_request(request("OPTIONS"), kPeer, t0);
  std::vector<int64_t> at;
  for (auto t = t0; t < t0 + 33s; t += 10ms) {
    size_t before = wire.sent.size();
    layer.tick(t);
    if (wire.sent.size() > before) at.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(t - t0).count());
  }
  EXPECT_EQ(at, (std::vector<int64_t>{500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500}));
  EXPECT_EQ(tu.timeouts.size(), 1u);
}

TEST(SipTransaction, ReliableTransportsNeverRetransmit) {
  Recorder tu;
  Wire wire;
  sip::TransactionLayer layer(tu, wire.fn());
  auto t0 = sip::Clock::now();
  sip::Address tcp{"192.0.2.9", 5070, sip::Transport::tcp};
  layer.send_request(request("INVITE"), tcp, t0);
  for (auto t = t0; t < t0 + 31s; t += 100ms) layer.tick(t);
  EXPECT_EQ(wire.sent.size(), 1u);
  layer.tick(t0 + 33s);
  EXPECT_EQ(tu.timeouts.size(), 1u);
}

TEST(SipTransaction, MalformedRequestsGet400WithTheReasonOrNothing) {
  Recorder tu;
  Wire wire;
  sip::TransactionLayer layer(tu, wire.fn());
  auto bad = request("INVITE");
  bad.set("Content-Length", "500");
  std::string bytes = "INVITE sip:a@h SIP/2.0\r\n";
  for (const auto& h : bad.headers) bytes += h.name + ": " + h.value + "\r\n";
  bytes += "\r\nv=0\r\n";
  layer.receive(bytes, kPeer, sip::Clock::now());
  ASSERT_EQ(wire.sent.size(), 1u);
  auto r = wire.last();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.reason, "the body is shorter than Content-Length");
  EXPECT_EQ(r.call_id(), "c1");
  layer.receive("\x01\x02garbage", kPeer, sip::Clock::now());
  EXPECT_EQ(wire.sent.size(), 1u);
  EXPECT_TRUE(tu.requests.empty());
  EXPECT_EQ(layer.stats().malformed, 2u);
}

TEST(SipTransaction, RportAndReceivedSendTheResponseWhereTheRequestCameFrom) {
  Recorder tu;
  Wire wire;
  sip::TransactionLayer layer(tu, wire.fn());
  auto m = request("OPTIONS");
  m.set("Via", "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKr;rport");
  sip::Address nat{"198.51.100.7", 40000, sip::Transport::udp};
  layer.receive(m.serialize(), nat, sip::Clock::now());
  ASSERT_EQ(tu.requests.size(), 1u);
  layer.respond(tu.request_txns[0], response_to(tu.requests[0], 200), sip::Clock::now());
  EXPECT_EQ(wire.sent.back().second, nat);
  auto via = wire.last().top_via();
  EXPECT_EQ(via->params.get("received"), "198.51.100.7");
  EXPECT_EQ(via->params.get("rport"), "40000");
  // Without rport: the source address and the sent-by port.
  m.set("Via", "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKs");
  layer.receive(m.serialize(), nat, sip::Clock::now());
  layer.respond(tu.request_txns[1], response_to(tu.requests[1], 200), sip::Clock::now());
  EXPECT_EQ(wire.sent.back().second, (sip::Address{"198.51.100.7", 5062, sip::Transport::udp}));
}

TEST(SipTransaction, ATransportErrorEndsTheWaitingClientTransactionsAtOnce) {
  Recorder tu;
  Wire wire;
  sip::TransactionLayer layer(tu, wire.fn());
  sip::Address tls{"192.0.2.9", 5061, sip::Transport::tls};
  auto id = layer.send_request(request("INVITE"), tls, sip::Clock::now());
  auto other = layer.send_request(request("OPTIONS", "z9hG4bKother"), kPeer, sip::Clock::now());
  layer.transport_error(tls);
  EXPECT_EQ(tu.timeouts, std::vector<sip::TxnId>{*id});
  EXPECT_EQ(layer.size(), 1u);  // the UDP one is untouched
  EXPECT_TRUE(other);
}

TEST(SipTransaction, CancelFindsItsInvite) {
  Recorder tu;
  Wire wire;
  sip::TransactionLayer layer(tu, wire.fn());
  auto t0 = sip::Clock::now();
  layer.receive(request("INVITE").serialize(), kPeer, t0);
  layer.receive(request("CANCEL").serialize(), kPeer, t0);
  ASSERT_EQ(tu.requests.size(), 2u);
  EXPECT_EQ(layer.invite_for_cancel(tu.requests[1]), tu.request_txns[0]);
}

}  // namespace
