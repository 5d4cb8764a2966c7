// Symmetric latching on real sockets (loopback addresses stand for the NAT's and the SDP's):
// a session whose SDP names one address hears the first authentic packet from another, and from
// then on sends there and hears only that source.
#include "gateway/media_session.hpp"

#include <set>
#include <gtest/gtest.h>

#include <thread>

#include "gateway/media_thread.hpp"

namespace {

using namespace std::chrono_literals;
using asio::ip::udp;

struct Lab {
  asio::io_context io;
  gateway::MediaThread thread{io};
  std::thread runner;
  gateway::PortRange ports{41000, 41999};
  std::shared_ptr<gateway::MediaSession> session;
  explicit Lab(bool latch = true) {
    auto guard = std::make_shared<asio::executor_work_guard<asio::io_context::executor_type>>(io.get_executor());
    runner = std::thread([this, guard] { io.run(); });
    thread.start();
    session = gateway::MediaSession::open(thread, "127.0.0.1", ports, {}, nullptr, "", latch);
  }
  ~Lab() {
    if (session) session->close();
    thread.stop();
    io.stop();
    runner.join();
  }
};

// A socket standing for a peer at `ip`.
struct Peer {
  asio::io_context io;
  udp::socket s{io};
  explicit Peer(const std::string& ip) {
    s.open(udp::v4());
    s.bind(udp::endpoint(asio::ip::make_address(ip), 0));
    s.non_blocking(true);
  }
  void rtp_to(uint16_t port, uint8_t pt, uint16_t seq) {
    std::vector<uint8_t> p(12 + 160, 0xFF);
    p[0] = 0x80;
    p[1] = pt;
    p[2] = uint8_t(seq >> 8);
    p[3] = uint8_t(seq);
    p[4] = p[5] = p[6] = 0;
    p[7] = uint8_t(seq * 160);
    p[8] = 0x12;
    p[9] = 0x34;
    p[10] = 0x56;
    p[11] = 0x78;
    s.send_to(asio::buffer(p), udp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  // Packets that reached us within `wait`.
  int received(std::chrono::milliseconds wait) {
    int n = 0;
    auto until = std::chrono::steady_clock::now() + wait;
    std::array<uint8_t, 2048> buf{};
    while (std::chrono::steady_clock::now() < until) {
      udp::endpoint from;
      std::error_code ec;
      s.receive_from(asio::buffer(buf), from, 0, ec);
      if (!ec) ++n;
      else std::this_thread::sleep_for(5ms);
    }
    return n;
  }
};

TEST(MediaLatching, TheFirstAuthenticPacketFromAnotherAddressLatchesTheStream) {
  Lab lab;
  ASSERT_TRUE(lab.session);
  Peer sdp_named("127.0.0.2");   // the address the SDP names (behind the NAT: unreachable)
  Peer nat("127.0.0.3");         // where the peer's packets really come from
  Peer stranger("127.0.0.4");
  gateway::AudioStart a;
  a.remote = sdp_named.s.local_endpoint();
  a.stream.payload_type = 0;
  a.detect = false;
  lab.session->start_audio(a);
  // Before any packet: the session sends to the SDP's address.
  EXPECT_GT(sdp_named.received(300ms), 5);
  EXPECT_EQ(nat.received(1ms), 0);
  // Junk and a wrong payload type from the stranger latch nothing.
  std::vector<uint8_t> junk(40, 0x11);
  stranger.s.send_to(asio::buffer(junk), udp::endpoint(asio::ip::make_address("127.0.0.1"), lab.session->port()));
  stranger.rtp_to(lab.session->port(), 96, 1);
  EXPECT_GT(sdp_named.received(300ms), 5);
  EXPECT_EQ(stranger.received(1ms), 0);
  // The peer's first RTP packet (through the NAT): from now on the audio goes there.
  nat.rtp_to(lab.session->port(), 0, 1);
  (void)nat.received(200ms);
  (void)sdp_named.received(100ms);
  EXPECT_GT(nat.received(300ms), 5);
  EXPECT_EQ(sdp_named.received(100ms), 0);
  // A valid packet from the stranger later does not move it.
  stranger.rtp_to(lab.session->port(), 0, 2);
  (void)nat.received(200ms);
  EXPECT_GT(nat.received(300ms), 5);
  EXPECT_EQ(stranger.received(100ms), 0);
}

}  // namespace

namespace {

TEST(MediaLatching, TheSdpsAddressFromAnotherPortLatchesThatPort) {
  // A NAT that advertises its public address: the SDP names it with a port the NAT never opened;
  // the packets come from the same address, from the port the masquerade chose.
  Lab lab;
  ASSERT_TRUE(lab.session);
  Peer named("127.0.0.2");
  Peer real("127.0.0.2");  // same address, another port
  gateway::AudioStart a;
  a.remote = named.s.local_endpoint();
  a.stream.payload_type = 0;
  a.detect = false;
  lab.session->start_audio(a);
  EXPECT_GT(named.received(300ms), 5);
  real.rtp_to(lab.session->port(), 0, 1);
  (void)real.received(200ms);
  (void)named.received(100ms);
  EXPECT_GT(real.received(300ms), 5);
  EXPECT_EQ(named.received(100ms), 0);
  // Its NAT remaps: the new port is followed.
  Peer remapped("127.0.0.2");
  remapped.rtp_to(lab.session->port(), 0, 2);
  (void)remapped.received(200ms);
  (void)real.received(100ms);
  EXPECT_GT(remapped.received(300ms), 5);
  EXPECT_EQ(real.received(100ms), 0);
  // The SDP's own port: followed, and from then on the stream is the peer's own (no NAT).
  named.rtp_to(lab.session->port(), 0, 3);
  (void)named.received(200ms);
  (void)remapped.received(100ms);
  EXPECT_GT(named.received(300ms), 5);
  EXPECT_EQ(remapped.received(100ms), 0);
  // Another port of that host is then a stale stream (a call that had our port before): it
  // does not move the stream, nor is it answered.
  Peer stale("127.0.0.2");
  stale.rtp_to(lab.session->port(), 0, 4);
  (void)named.received(200ms);
  EXPECT_GT(named.received(300ms), 5);
  EXPECT_EQ(stale.received(100ms), 0);
  EXPECT_EQ(real.received(100ms), 0);
}

TEST(MediaPorts, EachRangeStartsAtARandomPortAndStillFindsAFreeOne) {
  // Five nodes on one host (or one restarted five times) do not all take the same first port.
  asio::io_context io;
  std::set<uint16_t> firsts;
  for (int i = 0; i < 5; ++i) {
    gateway::PortRange ports{42000, 42999};
    udp::socket rtp(io, udp::v4()), rtcp(io, udp::v4());
    const uint16_t p = ports.bind_pair(rtp, rtcp, asio::ip::make_address("127.0.0.1"));
    ASSERT_NE(p, 0);
    EXPECT_EQ(p % 2, 0);
    EXPECT_GE(p, 42000);
    EXPECT_LE(p, 42998);
    EXPECT_EQ(rtcp.local_endpoint().port(), p + 1);
    firsts.insert(p);
  }
  EXPECT_GT(firsts.size(), 1u);
  // A range of one pair whose first draw is its odd port still binds the pair.
  for (int i = 0; i < 10; ++i) {
    gateway::PortRange one{42100, 42101};
    udp::socket rtp(io, udp::v4()), rtcp(io, udp::v4());
    EXPECT_EQ(one.bind_pair(rtp, rtcp, asio::ip::make_address("127.0.0.1")), 42100);
  }
}

}  // namespace

namespace {

TEST(MediaLatching, OffForAnAsymmetricPeerTheSdpsPortKeepsTheMedia) {
  // A peer that sends from one port and receives on the one its SDP names (asymmetric RTP): with
  // latching off the media stays on the SDP's port whatever the packets' source.
  Lab lab(false);
  ASSERT_TRUE(lab.session);
  Peer named("127.0.0.2");
  Peer sender("127.0.0.2");  // same host, the port it sends from
  gateway::AudioStart a;
  a.remote = named.s.local_endpoint();
  a.stream.payload_type = 0;
  a.detect = false;
  lab.session->start_audio(a);
  EXPECT_GT(named.received(300ms), 5);
  sender.rtp_to(lab.session->port(), 0, 1);
  sender.rtp_to(lab.session->port(), 0, 2);
  (void)named.received(200ms);
  EXPECT_GT(named.received(300ms), 5);
  EXPECT_EQ(sender.received(100ms), 0);
}

}  // namespace
