// udptl_test.cpp — UDPTL: exact bytes on the wire, and a receiver that survives loss,
// reordering, duplication and sequence wrap-around (seeded, so every run is the same).
#include "media/udptl.hpp"

#include <random>

#include <gtest/gtest.h>

namespace udptl {
namespace {

Bytes b(std::initializer_list<int> v) {
  Bytes out;
  for (int x : v) out.push_back(uint8_t(x));
  return out;
}

TEST(UdptlCodec, GoldenRedundancyPacket) {
  Packet p;
  p.seq = 0x0102;
  p.primary = b({0xAA, 0xBB});
  p.secondary = {b({0x01}), Bytes{}};
  Bytes wire = b({0x01, 0x02, 0x02, 0xAA, 0xBB, 0x00, 0x02, 0x01, 0x01, 0x01, 0x00});
  EXPECT_EQ(encode(p), wire);
  auto back = decode(wire);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->seq, 0x0102);
  EXPECT_EQ(back->primary, p.primary);
  ASSERT_EQ(back->secondary.size(), 2u);
  EXPECT_EQ(back->secondary[1], b({0x00}));  // the empty open type travels as one zero octet
}

TEST(UdptlCodec, GoldenFecPacketAndLongLengths) {
  Packet p;
  p.seq = 7;
  p.primary = Bytes(200, 0x5A);
  p.fec = true;
  p.fec_span = 3;
  p.fec_entries = {b({1, 2}), b({3})};
  Bytes wire = encode(p);
  EXPECT_EQ(Bytes(wire.begin(), wire.begin() + 4), b({0x00, 0x07, 0x80, 0xC8}));  // 200 in two octets
  EXPECT_EQ(Bytes(wire.begin() + 204, wire.end()), b({0x80, 0x01, 0x03, 0x02, 0x02, 1, 2, 0x01, 3}));
  auto back = decode(wire);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, p);
}

TEST(UdptlCodec, MalformedDatagramsAreRefused) {
  for (const Bytes& bad : {b({}), b({0x00}), b({0, 1, 5, 1}), b({0, 1, 0xC1, 1}), b({0, 1, 1, 9}),
                           b({0, 1, 1, 9, 0x00, 0x11}), b({0, 1, 1, 9, 0x00, 0x00, 0xFF}),
                           b({0, 1, 1, 9, 0x80, 0x00, 0x00})}) {
    EXPECT_FALSE(decode(bad).ok()) << bad.size();
  }
}

TEST(UdptlEncoder, RedundancyRepeatsTheLastThreeNewestFirst) {
  Encoder e({Mode::redundancy, 3, 3, 3, 400});
  for (int i = 0; i < 5; ++i) e.next(b({i}));
  auto p = decode(e.next(b({5})));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->seq, 5);
  EXPECT_EQ(p->secondary, (std::vector<Bytes>{b({4}), b({3}), b({2})}));
}

TEST(UdptlEncoder, RedundancyIsCappedToTheMaxDatagram) {
  Encoder e({Mode::redundancy, 3, 3, 3, 2 + 102 + 2 + 102 + 10});
  e.next(Bytes(100, 1));
  e.next(Bytes(100, 2));
  Bytes wire = e.next(Bytes(100, 3));
  EXPECT_LE(wire.size(), 2u + 102 + 2 + 102 + 10);
  EXPECT_EQ(decode(wire)->secondary.size(), 1u);
}

struct Link {
  Encoder enc;
  Decoder dec;
  std::vector<Ifp> got;
  explicit Link(EncoderConfig c) : enc(c) {}
  void deliver(const Bytes& d) {
    auto v = dec.receive(d);
    got.insert(got.end(), v.begin(), v.end());
  }
};

std::vector<Bytes> ifps(int n) {
  std::vector<Bytes> out;
  for (int i = 0; i < n; ++i) out.push_back(b({i & 0xFF, (i >> 8) & 0xFF, 0x42}));
  return out;
}

TEST(UdptlDecoder, SingleLossesAreRebuiltFromRedundancy) {
  Link l({Mode::redundancy, 3, 3, 3, 400});
  auto in = ifps(20);
  for (size_t i = 0; i < in.size(); ++i) {
    Bytes d = l.enc.next(in[i]);
    if (i % 4 != 2) l.deliver(d);  // every fourth datagram lost
  }
  ASSERT_EQ(l.got.size(), 20u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(l.got[i].seq, i);
    EXPECT_EQ(l.got[i].data, in[i]);
    EXPECT_EQ(l.got[i].recovered, i % 4 == 2);
  }
  EXPECT_EQ(l.dec.stats().recovered, 5u);
  EXPECT_EQ(l.dec.stats().lost, 0u);
}

TEST(UdptlDecoder, ReorderedAndDuplicatedDatagramsComeOutInOrderOnce) {
  Link l({Mode::none, 0, 0, 0, 400});
  std::vector<Bytes> d;
  auto in = ifps(6);
  for (auto& x : in) d.push_back(l.enc.next(x));
  for (int i : {0, 2, 1, 1, 3, 5, 4, 4, 0}) l.deliver(d[size_t(i)]);
  ASSERT_EQ(l.got.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(l.got[i].data, in[i]);
  EXPECT_EQ(l.dec.stats().duplicates, 3u);
}

TEST(UdptlDecoder, ABurstBeyondRedundancyIsDeclaredLostAfterTheWindow) {
  Link l({Mode::redundancy, 1, 3, 3, 400});
  auto in = ifps(12);
  for (size_t i = 0; i < in.size(); ++i) {
    Bytes d = l.enc.next(in[i]);
    if (i < 3 || i > 5) l.deliver(d);  // 3, 4, 5 lost: only 5 comes back (in 6's secondary)
  }
  EXPECT_EQ(l.dec.stats().lost, 2u);
  std::vector<uint16_t> seqs;
  for (auto& x : l.got) seqs.push_back(x.seq);
  EXPECT_EQ(seqs, (std::vector<uint16_t>{0, 1, 2, 5, 6, 7, 8, 9, 10, 11}));
}

TEST(UdptlDecoder, SequenceNumbersWrapAround) {
  Decoder dec;
  std::vector<Ifp> got;
  for (int s : {65534, 65535, 0, 1}) {
    Packet p;
    p.seq = uint16_t(s);
    p.primary = b({s & 0xFF});
    auto v = dec.receive(encode(p));
    got.insert(got.end(), v.begin(), v.end());
  }
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[2].seq, 0);
  EXPECT_EQ(dec.stats().duplicates, 0u);
}

TEST(UdptlDecoder, FecRepairsSingleLosses) {
  Link l({Mode::fec, 0, 3, 3, 400});
  auto in = ifps(60);
  for (size_t i = 0; i < in.size(); ++i) {
    Bytes d = l.enc.next(in[i]);
    if (i != 20 && i != 41) l.deliver(d);
  }
  ASSERT_EQ(l.got.size(), 60u);
  EXPECT_EQ(l.got[20].data, in[20]);
  EXPECT_TRUE(l.got[20].recovered);
  EXPECT_EQ(l.got[41].data, in[41]);
  EXPECT_EQ(l.dec.stats().lost, 0u);
}

TEST(UdptlDecoder, TenPercentRandomLossWithRedundancyThreeLosesNothing) {
  Link l({Mode::redundancy, 3, 3, 3, 400});
  std::mt19937 rng(38);
  auto in = ifps(2000);
  int dropped = 0;
  for (auto& x : in) {
    Bytes d = l.enc.next(x);
    if (rng() % 100 < 10) ++dropped;
    else l.deliver(d);
  }
  EXPECT_GT(dropped, 150);
  // The last datagrams' losses have no later packet to repair them; everything before does.
  ASSERT_GE(l.got.size(), 1995u);
  for (size_t i = 0; i < l.got.size(); ++i) EXPECT_EQ(l.got[i].data, in[i]) << i;
  EXPECT_EQ(l.dec.stats().lost, 0u);
}



std::vector<Ifp> feed(Decoder& dec, Encoder& enc, const std::vector<Bytes>& in) {
  std::vector<Ifp> got;
  for (const auto& x : in) {
    auto v = dec.receive(enc.next(x));
    got.insert(got.end(), v.begin(), v.end());
  }
  return got;
}


TEST(UdptlDecoder, AStreamThatRestartsAtZeroMidFaxIsFollowed) {
  // 50 IFPs, then the peer (moved by a re-INVITE, or an SBC that failed over) numbers from 0 again.
  for (int redundancy : {0, 3}) {
    Decoder dec;
    Encoder first({redundancy ? Mode::redundancy : Mode::none, redundancy, 3, 3, 400});
    auto before = feed(dec, first, ifps(50));
    ASSERT_EQ(before.size(), 50u);
    Encoder second({redundancy ? Mode::redundancy : Mode::none, redundancy, 3, 3, 400});
    auto in = ifps(40);
    for (auto& x : in) x.push_back(0x99);  // told apart from the first stream's
    auto after = feed(dec, second, in);
    EXPECT_EQ(dec.stats().resyncs, 1u) << redundancy;
    // Far behind, two datagrams that continue each other prove the restart: without redundancy the
    // first of them is lost; with it, nothing.
    const size_t lost = redundancy ? 0 : 1;
    ASSERT_EQ(after.size(), in.size() - lost) << redundancy;
    for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].data, in[i + lost]) << redundancy << " " << i;
  }
}

TEST(UdptlDecoder, AFarJumpIsANewStreamNotThousandsOfLosses) {
  Decoder dec;
  std::vector<Ifp> got;
  for (int s : {10, 11, 12, 30000, 30001, 30002}) {
    Packet p;
    p.seq = uint16_t(s);
    p.primary = b({s & 0xFF});
    auto v = dec.receive(encode(p));
    got.insert(got.end(), v.begin(), v.end());
  }
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[3].seq, 30000);
  EXPECT_EQ(dec.stats().lost, 0u);
  EXPECT_EQ(dec.stats().resyncs, 1u);
}

TEST(UdptlDecoder, LatePacketsAloneNeverResync) {
  Decoder dec;
  Encoder enc({Mode::none, 0, 3, 3, 400});
  std::vector<Bytes> d;
  for (auto& x : ifps(30)) d.push_back(enc.next(x));
  size_t got = 0;
  for (int i = 0; i < 20; ++i) got += dec.receive(d[size_t(i)]).size();
  for (int i : {15, 17, 16, 19}) got += dec.receive(d[size_t(i)]).size();  // late copies, not a run
  for (int i = 20; i < 30; ++i) got += dec.receive(d[size_t(i)]).size();
  EXPECT_EQ(got, 30u);
  EXPECT_EQ(dec.stats().resyncs, 0u);
  EXPECT_EQ(dec.stats().duplicates, 4u);
}

TEST(UdptlDecoder, LateCopiesOfDeliveredPacketsInARowAreNoRestart) {
  // A duplicated path delivers every datagram twice, the copies far behind: never a resync, never
  // an IFP twice.
  Decoder dec;
  Encoder enc({Mode::none, 0, 3, 3, 400});
  std::vector<Bytes> d;
  for (auto& x : ifps(40)) d.push_back(enc.next(x));
  std::vector<uint16_t> seqs;
  for (int i = 0; i < 40; ++i) {
    for (auto& x : dec.receive(d[size_t(i)])) seqs.push_back(x.seq);
    if (i >= 12) {
      for (auto& x : dec.receive(d[size_t(i - 12)])) seqs.push_back(x.seq);  // its copy, 12 behind
    }
  }
  EXPECT_EQ(seqs.size(), 40u);
  EXPECT_EQ(dec.stats().resyncs, 0u);
}

}  // namespace
}  // namespace udptl
