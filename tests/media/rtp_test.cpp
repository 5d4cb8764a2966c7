// rtp_test.cpp — RTP/RTCP packets at their edges, the receiver's accounting, telephone-events and
// the modem playout buffer (fixed delay, silence for loss, slips only in silence).
#include "media/rtp.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "media/audio_stream.hpp"
#include "media/playout.hpp"
#include "media/rfc2198.hpp"
#include "media/rfc4733.hpp"

namespace {

rtp::Bytes packet(uint16_t seq, uint32_t ts, uint32_t ssrc = 7, uint8_t pt = 0, size_t n = 160) {
  rtp::Header h;
  h.seq = seq;
  h.timestamp = ts;
  h.ssrc = ssrc;
  h.payload_type = pt;
  return rtp::encode(h, std::vector<uint8_t>(n, 0xFF));
}

TEST(Rtp, RoundTrip) {
  rtp::Header h;
  h.marker = true;
  h.payload_type = 8;
  h.seq = 65535;
  h.timestamp = 0xDEADBEEF;
  h.ssrc = 0x01020304;
  const uint8_t payload[] = {1, 2, 3};
  auto b = rtp::encode(h, payload);
  ASSERT_EQ(b.size(), 15u);
  EXPECT_EQ(b[0], 0x80);
  EXPECT_EQ(b[1], 0x88);
  auto p = rtp::decode(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->header.seq, 65535);
  EXPECT_EQ(p->header.timestamp, 0xDEADBEEFu);
  EXPECT_EQ(p->header.ssrc, 0x01020304u);
  EXPECT_TRUE(p->header.marker);
  EXPECT_EQ(std::vector<uint8_t>(p->payload.begin(), p->payload.end()), std::vector<uint8_t>({1, 2, 3}));
}

TEST(Rtp, CsrcExtensionAndPaddingAreSkipped) {
  // V=2 P=1 X=1 CC=1, then one CSRC, an extension of one word, 2 payload octets, 2 of padding.
  rtp::Bytes b = {0xB1, 0x00, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2,  // header
                  9, 9, 9, 9,                                // CSRC
                  0xBE, 0xDE, 0, 1, 5, 5, 5, 5,              // extension
                  0xAA, 0xBB, 0, 2};                         // payload, padding (count 2)
  auto p = rtp::decode(b);
  ASSERT_TRUE(p) << p.error().reason;
  EXPECT_EQ(std::vector<uint8_t>(p->payload.begin(), p->payload.end()), std::vector<uint8_t>({0xAA, 0xBB}));
}

TEST(Rtp, MalformedPacketsAreRefusedWithAReason) {
  struct Case {
    rtp::Bytes bytes;
    const char* why;
  } cases[] = {
      {{0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}, "shorter"},                        // 11 octets
      {{0x40, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2}, "version"},                     // version 1
      {{0x8F, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2}, "CSRC"},                        // 15 CSRCs, none there
      {{0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xBE, 0xDE, 0, 9}, "extension"},  // 9 words missing
      {{0xA0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 7, 0}, "padding"},               // padding count 0
      {{0xA0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 7, 9}, "padding"},               // more than there is
  };
  for (const auto& c : cases) {
    auto p = rtp::decode(c.bytes);
    ASSERT_FALSE(p) << c.why;
    EXPECT_NE(p.error().reason.find(c.why), std::string::npos) << p.error().reason;
  }
  EXPECT_FALSE(rtp::decode(rtp::Bytes(rtp::kMaxPacket + 1, 0x80)));
  EXPECT_TRUE(rtp::decode(packet(1, 1, 7, 0, rtp::kMaxPacket - 12)));
}

TEST(Rtp, RtcpIsToldApartAndChecked) {
  rtp::Receiver r;
  r.accept(rtp::decode(packet(10, 1000))->header, 1000);
  rtp::ReportInput in;
  in.ssrc = 42;
  in.cname = "fb@test";
  in.sent = true;
  in.packets = 3;
  in.receiver = &r;
  auto sr = rtp::rtcp_report(in);
  EXPECT_TRUE(rtp::is_rtcp(sr));
  EXPECT_FALSE(rtp::is_rtcp(packet(1, 1)));
  EXPECT_EQ(sr.size() % 4, 0u);
  EXPECT_EQ(sr[1], 200);  // SR
  auto s = rtp::decode_rtcp(sr);
  ASSERT_TRUE(s) << s.error().reason;
  EXPECT_EQ(s->sender_ssrc, 42u);
  EXPECT_EQ(s->packets, 2);  // SR + SDES
  auto bye = rtp::decode_rtcp(rtp::rtcp_bye(42));
  ASSERT_TRUE(bye);
  EXPECT_TRUE(bye->bye);
  auto cut = sr;
  cut.pop_back();
  EXPECT_FALSE(rtp::decode_rtcp(cut));
  rtp::Bytes sdes_first(sr.begin() + 52, sr.end());  // SR with one block is 52 octets
  EXPECT_FALSE(rtp::decode_rtcp(sdes_first));
}

TEST(Rtp, ReceiverCountsLossDuplicatesWrapAndNewSources) {
  rtp::Receiver r;
  auto h = [](uint16_t seq, uint32_t ssrc = 7) { return rtp::decode(packet(seq, seq * 160u, ssrc))->header; };
  EXPECT_TRUE(r.accept(h(65534), 0));
  EXPECT_TRUE(r.accept(h(65535), 160));
  EXPECT_TRUE(r.accept(h(1), 480));  // 0 lost, across the wrap
  EXPECT_FALSE(r.accept(h(1), 480));
  EXPECT_EQ(r.stats().duplicates, 1u);
  EXPECT_EQ(r.expected(), 4);
  EXPECT_EQ(r.lost(), 1);
  EXPECT_TRUE(r.accept(h(0), 500));  // late, within the misorder window
  EXPECT_EQ(r.lost(), 0);
  EXPECT_TRUE(r.accept(h(30000), 600));  // a jump: a restarted stream
  EXPECT_TRUE(r.accept(h(5, 99), 700));   // a new SSRC
  EXPECT_EQ(r.stats().sources, 3u);
  EXPECT_EQ(r.lost(), 0);
}

TEST(Rfc4733, PayloadRoundTripAndEdges) {
  rfc4733::Payload p{rfc4733::event::cng, true, 10, 4000};
  auto b = rfc4733::encode(p);
  EXPECT_EQ(b[0], 36);
  EXPECT_EQ(b[1], 0x8A);
  auto d = rfc4733::decode(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, p);
  EXPECT_FALSE(rfc4733::decode(std::vector<uint8_t>{36, 0, 0}));
  EXPECT_FALSE(rfc4733::decode(std::vector<uint8_t>{36, 0, 0, 1, 2}));
  EXPECT_TRUE(rfc4733::decode(std::vector<uint8_t>{36, 0, 0, 1, 2, 0, 0, 1}));
  EXPECT_TRUE(rfc4733::is_fax_event(36));
  EXPECT_TRUE(rfc4733::is_fax_event(54));
  EXPECT_FALSE(rfc4733::is_fax_event(5));
}

TEST(Rfc4733, AnEventIsHeardOnceWhateverCarriesIt) {
  rfc4733::Sender s;
  s.start(rfc4733::event::cng, 4000, 10);  // 500 ms
  rfc4733::Receiver r;
  int heard = 0, packets = 0, ends = 0;
  bool first = true;
  while (auto o = s.next(160)) {
    ++packets;
    EXPECT_EQ(o->first, first);
    first = false;
    ends += o->payload.end;
    for (int copy = 0; copy < 2; ++copy) heard += r.receive(1000, o->payload).has_value();  // each twice
  }
  EXPECT_EQ(heard, 1);
  EXPECT_EQ(ends, 3);
  EXPECT_EQ(packets, 25 + 2);
  // A new timestamp is a new event; an old one is a late copy.
  EXPECT_TRUE(r.receive(5000, {rfc4733::event::cng, false, 10, 160}));
  EXPECT_FALSE(r.receive(1000, {rfc4733::event::cng, true, 10, 4000}));
}

std::vector<int16_t> tone(uint32_t from, size_t n, int amp = 8000) {
  std::vector<int16_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = int16_t(amp * std::sin(2 * M_PI * 1700 * double(from + i) / 8000));
  return v;
}

TEST(Playout, FixedDelayAbsorbsJitterAndLossBecomesSilence) {
  playout::Buffer b;  // 80 ms
  std::vector<int16_t> out(160);
  b.put(1000, tone(0, 160));
  // 80 ms of silence first (the delay), then the packet's samples exactly.
  for (int i = 0; i < 4; ++i) {
    b.get(out);
    for (auto s : out) ASSERT_EQ(s, 0);
  }
  // Packets 2 and 4 arrive in the wrong order; packet 3 is lost.
  b.put(1000 + 480, tone(480, 160));
  b.put(1000 + 160, tone(160, 160));
  b.get(out);
  EXPECT_EQ(out, tone(0, 160));
  b.get(out);
  EXPECT_EQ(out, tone(160, 160));
  b.get(out);
  EXPECT_EQ(out, std::vector<int16_t>(160, 0));  // the lost one: silence, not a repeat
  b.get(out);
  EXPECT_EQ(out, tone(480, 160));
  EXPECT_EQ(b.stats().inserted + b.stats().skipped, 0u);
  // A packet for a time already played is late and dropped.
  b.put(1000 + 320, tone(320, 160));
  EXPECT_EQ(b.stats().late, 1u);
}

// A peer whose clock runs `ppm` fast sends (1 + ppm) x 8000 samples for our 8000. Ten one-minute
// pages of carrier with two seconds of silence between them drift 120 ms, more than the delay:
// without slips the buffer would run dry (slow peer) or grow past its bounds (fast peer). Nothing
// is slipped inside a page and the carrier played is continuous; the drift goes in the silences.
void drift(double ppm) {
  playout::Buffer b;
  std::vector<int16_t> out(160);
  double their = 0;
  uint32_t ts = 0;
  auto run = [&](int ms, bool quiet) {
    std::vector<int16_t> played;
    for (int t = 0; t < ms; t += 20) {
      their += 160 * (1 + ppm * 1e-6);
      while (their >= 160) {
        their -= 160;
        b.put(ts, quiet ? std::vector<int16_t>(160, 0) : tone(ts, 160));
        ts += 160;
      }
      b.get(out);
      played.insert(played.end(), out.begin(), out.end());
    }
    return played;
  };
  run(2000, true);
  const double w = 2 * std::cos(2 * M_PI * 1700 / 8000);
  for (int page = 0; page < 10; ++page) {
    uint64_t slips = b.stats().inserted + b.stats().skipped;
    auto played = run(60000, false);
    ASSERT_EQ(b.stats().inserted + b.stats().skipped, slips) << "slipped inside page " << page + 1;
    size_t first = 0;
    while (first < played.size() && played[first] == 0) ++first;
    // A pure tone obeys s[i] = 2cos(w) s[i-1] - s[i-2] (within rounding): no sample added or lost.
    for (size_t i = first + 2; i < played.size(); ++i) {
      ASSERT_NEAR(played[i], w * played[i - 1] - played[i - 2], 3.0) << "page " << page + 1 << " sample " << i;
    }
    run(2000, true);
  }
  EXPECT_GT(b.stats().inserted + b.stats().skipped, 0u);
  EXPECT_EQ(b.stats().silence, 0u) << "the buffer ran dry";
  EXPECT_EQ(b.stats().late, 0u);
  EXPECT_GE(b.level(), 30 * 8);
  EXPECT_LT(b.level(), 130 * 8);
}

TEST(Playout, AFastPeerClockIsAbsorbedBetweenPages) { drift(200); }
TEST(Playout, ASlowPeerClockIsAbsorbedBetweenPages) { drift(-200); }

TEST(Playout, ATimestampJumpReanchors) {
  playout::Buffer b;
  std::vector<int16_t> out(160);
  b.put(0, tone(0, 160));
  b.get(out);
  b.put(4000000, tone(0, 160));
  EXPECT_EQ(b.stats().jumps, 1u);
  for (int i = 0; i < 4; ++i) b.get(out);
  b.get(out);
  EXPECT_EQ(out, tone(0, 160));
}

// The sender stalled 400 ms and went on with contiguous timestamps (it lost that time): every
// packet after the stall arrives 320 ms after its playout time. Kept on the old anchor, the rest
// of the call would be silence; after resync_ms of packets that all came late the stream is
// placed again (one slip, where the audio was already broken) and plays on.
TEST(Playout, AStreamThatFellBehindIsPlacedAgain) {
  playout::Buffer b;  // 80 ms, resync after 60 ms of late packets
  std::vector<int16_t> out(160);
  uint32_t ts = 0;
  for (int i = 0; i < 10; ++i, ts += 160) {
    b.put(ts, tone(ts, 160));
    b.get(out);
  }
  for (int i = 0; i < 20; ++i) b.get(out);  // the stall: nothing arrives
  const uint64_t late = b.stats().late;
  int whole = 0;
  for (int i = 0; i < 50; ++i, ts += 160) {
    b.put(ts, tone(ts, 160));
    b.get(out);
    if (out != std::vector<int16_t>(160, 0)) ++whole;
  }
  EXPECT_EQ(b.stats().resyncs, 1u);
  EXPECT_EQ(b.stats().jumps, 0u);
  EXPECT_EQ(b.stats().late - late, 3u);  // 60 ms of them, then placed again
  EXPECT_EQ(whole, 50 - 3 - 4);  // the late ones and the delay, then every packet plays
  // Placed again at the delay: the samples come out in order from the packet that re-anchored.
  b.get(out);
  EXPECT_EQ(out, tone(ts - 4 * 160, 160));
}

// A single late packet among punctual ones is dropped; the stream is not moved for it.
TEST(Playout, OneLatePacketDoesNotMoveTheStream) {
  playout::Buffer b;
  std::vector<int16_t> out(160);
  uint32_t ts = 0;
  for (int i = 0; i < 30; ++i, ts += 160) {
    if (i != 10) b.put(ts, tone(ts, 160));
    b.get(out);
    if (i == 20) b.put(160 * 10, tone(160 * 10, 160));  // packet 10, 200 ms late
  }
  EXPECT_EQ(b.stats().late, 1u);
  EXPECT_EQ(b.stats().resyncs, 0u);
  b.get(out);
  EXPECT_EQ(out, tone(ts - 4 * 160, 160));
}

// Our thread stalled longer than it makes up: the time it lost is skipped in the timestamps, so
// the peer's buffer hears exactly that gap and then plays on time (no late packet, no resync).
TEST(AudioStream, TimeTheSenderLostIsAGapNotAShift) {
  audio::Stream a({g711::Law::ulaw, rtp::pt::pcmu, std::nullopt, std::nullopt, 2, 1}),
      b({g711::Law::ulaw, rtp::pt::pcmu, std::nullopt, std::nullopt, 2, 2});
  std::vector<int16_t> out(160);
  uint32_t ts = 0, now = 0;
  auto step = [&](bool sending) {
    if (sending) {
      for (auto& p : a.send(tone(ts, 160))) b.receive(p, now);
    }
    b.play(out);
    ts += 160;
    now += 160;
  };
  for (int i = 0; i < 10; ++i) step(true);
  for (int i = 0; i < 10; ++i) step(false);  // 200 ms that a's side lost
  a.skip(1600);
  for (int i = 0; i < 20; ++i) step(true);
  EXPECT_EQ(b.stats().playout.late, 0u);
  EXPECT_EQ(b.stats().playout.resyncs, 0u);
  EXPECT_EQ(b.stats().playout.silence, 1600u);
}

TEST(AudioStream, CarriesSamplesAndEventsAndDropsWhatItDidNotNegotiate) {
  audio::Stream a({g711::Law::alaw, rtp::pt::pcma, 101, std::nullopt, 2, 1}), b({g711::Law::alaw, rtp::pt::pcma, 101, std::nullopt, 2, 2});
  ASSERT_TRUE(a.send_event(rfc4733::event::cng, 500));
  std::vector<int16_t> in = tone(0, 160), out(160);
  int events = 0;
  uint32_t now = 0;
  for (int i = 0; i < 40; ++i) {
    for (auto& p : a.send(in)) events += b.receive(p, now).has_value();
    now += 160;
  }
  EXPECT_EQ(events, 1);
  EXPECT_EQ(b.stats().events_heard, 1u);
  b.receive(packet(1, 1, 9, 13), now);  // comfort noise (RFC 3389): not ours
  b.receive(rtp::Bytes{0x80, 0x00}, now);
  EXPECT_EQ(b.stats().other_payload, 1u);
  EXPECT_EQ(b.stats().rtp.malformed, 1u);
  for (int i = 0; i < 5; ++i) b.play(out);
  double err = 0;
  for (size_t i = 0; i < 160; ++i) err = std::max(err, std::abs(double(out[i]) - in[i]));
  EXPECT_LT(err, 300);  // A-law quantisation of an 8000 amplitude tone
  auto rr = b.rtcp(0);
  EXPECT_TRUE(rtp::decode_rtcp(rr));
}

}  // namespace

namespace {

TEST(Rfc2198, RoundTripAndGoldenHeaders) {
  const std::vector<uint8_t> old1(160, 1), old2(160, 2), primary(160, 3);
  std::vector<rfc2198::Block> red = {{0, 320, old1}, {0, 160, old2}};
  auto b = rfc2198::encode(red, 0, primary);
  ASSERT_EQ(b.size(), 4u + 4u + 1u + 480u);
  // F=1 PT 0, offset 320 (14 bits), length 160 (10 bits).
  EXPECT_EQ(std::vector<uint8_t>(b.begin(), b.begin() + 9), (std::vector<uint8_t>{0x80, 0x05, 0x00, 0xA0, 0x80, 0x02, 0x80, 0xA0, 0x00}));
  auto d = rfc2198::decode(b);
  ASSERT_TRUE(d) << d.error().reason;
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ((*d)[0].offset, 320u);
  EXPECT_EQ((*d)[1].offset, 160u);
  EXPECT_EQ((*d)[2].offset, 0u);
  EXPECT_EQ((*d)[0].data[0], 1);
  EXPECT_EQ((*d)[1].data[0], 2);
  EXPECT_EQ((*d)[2].data.size(), 160u);
  EXPECT_EQ((*d)[2].data[0], 3);
}

TEST(Rfc2198, MalformedPayloadsAreRefused) {
  EXPECT_FALSE(rfc2198::decode(std::vector<uint8_t>{}));
  EXPECT_FALSE(rfc2198::decode(std::vector<uint8_t>{0x80, 0x05}));             // a header cut short
  EXPECT_FALSE(rfc2198::decode(std::vector<uint8_t>{0x80, 0x05, 0x00, 0xA0, 0x00}));  // block missing
  EXPECT_FALSE(rfc2198::decode(std::vector<uint8_t>(9 * 4, 0x80)));           // too many blocks
  auto only_primary = rfc2198::decode(std::vector<uint8_t>{0x08, 7, 7});
  ASSERT_TRUE(only_primary);
  EXPECT_EQ(only_primary->size(), 1u);
  EXPECT_EQ((*only_primary)[0].payload_type, 8);
}

TEST(AudioStream, RedundancyFillsALostPacket) {
  audio::StreamConfig cfg{g711::Law::ulaw, rtp::pt::pcmu, 101, 96, 2, 1};
  audio::Stream a(cfg), b(cfg);
  uint32_t now = 0;
  std::vector<int16_t> out(160);
  std::vector<playout::Gap> gaps;
  size_t missing = 0;
  for (int i = 0; i < 14; ++i) {  // in real time: a packet arrives, 20 ms are played
    if (i < 10) {
      auto packets = a.send(tone(uint32_t(i * 160), 160));
      ASSERT_EQ(packets.size(), 1u);
      if (i != 4) b.receive(packets[0], now);  // packet 4 lost: packets 5 and 6 carry it
    }
    now += 160;
    b.play(out, &gaps);
    for (const auto& g : gaps) missing += g.length;
  }
  EXPECT_EQ(missing, 80u * 8) << "only the 80 ms delay before the first packet is missing";
  EXPECT_EQ(b.stats().playout.silence, 0u);
}

}  // namespace
