// sdp_test.cpp — SDP parsing and the T.38 answer rules of t38-sip.md, one rule per test.
#include "sip/sdp.hpp"

#include <gtest/gtest.h>

namespace sdp {
namespace {

const char* kOffer =
    "v=0\r\n"
    "o=- 1234 1 IN IP4 192.0.2.10\r\n"
    "s=call\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "m=image 40000 udptl t38\r\n"
    "a=T38FaxVersion:0\r\n"
    "a=T38MaxBitRate:9600\r\n"
    "a=T38FaxRateManagement:transferredTCF\r\n"
    "a=T38FaxMaxBuffer:1800\r\n"
    "a=T38FaxMaxDatagram:180\r\n"
    "a=T38FaxUdpEC:t38UDPFEC\r\n";

T38Params offer_params(std::string_view text) {
  auto s = parse(text);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().reason);
  auto p = t38_params(s->media.at(0));
  EXPECT_TRUE(p.ok());
  return *p;
}

TEST(Sdp, ParsesAT38Offer) {
  auto s = parse(kOffer);
  ASSERT_TRUE(s.ok()) << s.error().reason;
  ASSERT_EQ(s->media.size(), 1u);
  EXPECT_EQ(s->media[0].type, "image");
  EXPECT_EQ(s->media[0].port, 40000);
  EXPECT_EQ(s->media[0].proto, "udptl");
  EXPECT_EQ(*address_of(*s, s->media[0]), "192.0.2.10");
  T38Params p = *t38_params(s->media[0]);
  EXPECT_EQ(p.max_bit_rate, 9600);
  EXPECT_EQ(*p.max_datagram, 180);
  EXPECT_EQ(*p.max_buffer, 1800);
  EXPECT_EQ(p.ec, Ec::fec);
}

TEST(T38Answer, NineSixHundredAndFecAreAnsweredAsOffered) {
  T38Params a = answer_t38(offer_params(kOffer), T38Capabilities{});
  EXPECT_EQ(a.max_bit_rate, 9600);
  EXPECT_EQ(a.ec, Ec::fec);
  EXPECT_EQ(a.rate_management, "transferredTCF");
  EXPECT_EQ(*a.max_datagram, 400);  // what we receive, not the peer's 180
}

TEST(T38Answer, FecWeDoNotDoBecomesNoEcNeverRedundancy) {
  T38Capabilities ours;
  ours.fec = false;
  EXPECT_EQ(answer_t38(offer_params(kOffer), ours).ec, Ec::none);
}

TEST(T38Answer, NeverAnAnswerSchemeThatWasNotOffered) {
  std::string no_ec = kOffer;
  no_ec.replace(no_ec.find("t38UDPFEC"), 9, "t38UDPNoEC");
  EXPECT_EQ(answer_t38(offer_params(no_ec), T38Capabilities{}).ec, Ec::none);
  std::string absent = kOffer;
  absent.erase(absent.find("a=T38FaxUdpEC"));
  EXPECT_EQ(answer_t38(offer_params(absent), T38Capabilities{}).ec, Ec::none);
}

TEST(T38Answer, VersionAndRateAreTheMinimumFillBitsOnlyIfBoth) {
  T38Params offer;
  offer.version = 3;
  offer.max_bit_rate = 33600;
  offer.fill_bit_removal = true;
  offer.transcoding_mmr = true;
  T38Params a = answer_t38(offer, T38Capabilities{});
  EXPECT_EQ(a.version, 0);
  EXPECT_EQ(a.max_bit_rate, 14400);
  EXPECT_FALSE(a.fill_bit_removal);
  EXPECT_FALSE(a.transcoding_mmr);  // we never transcode
  T38Capabilities fbr;
  fbr.fill_bit_removal = true;
  EXPECT_TRUE(answer_t38(offer, fbr).fill_bit_removal);
}

TEST(T38Params, AliasesCaseAndLfLineEnds) {
  auto p = offer_params(
      "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nm=image 5000 UDPTL t38\n"
      "a=t38faxmaxrate:4800\na=T38MaxDatagram:300\na=t38faxudpec:T38UDPREDUNDANCY\na=T38FaxFillBitRemoval\n");
  EXPECT_EQ(p.max_bit_rate, 4800);
  EXPECT_EQ(*p.max_datagram, 300);
  EXPECT_EQ(p.ec, Ec::redundancy);
  EXPECT_TRUE(p.fill_bit_removal);
}

TEST(Sdp, SerializeRoundTripsAndWritesTheT38Attributes) {
  Session s;
  s.origin = "faxbridge 1 1 IN IP4 127.0.0.1";
  s.connection = "127.0.0.1";
  T38Params p;
  p.max_datagram = 400;
  s.media.push_back(Media{"image", 20000, "udptl", {"t38"}, std::nullopt, t38_attributes(p)});
  std::string text = serialize(s);
  EXPECT_EQ(text,
            "v=0\r\no=faxbridge 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=image 20000 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\n"
            "a=T38FaxRateManagement:transferredTCF\r\na=T38FaxMaxDatagram:400\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n");
  auto back = parse(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, s);
}

TEST(Sdp, GarbageIsRefusedWithAReason) {
  struct Case {
    const char* text;
    const char* reason;
  };
  for (auto c : {Case{"", "empty"}, Case{"hello world", "line 1"}, Case{"o=- 1 1 IN IP4 a\r\n", "must start with v="},
                 Case{"v=1\r\n", "version 0"}, Case{"v=0\r\ns=x\r\n", "no o= line"},
                 Case{"v=0\r\no=- 1 1 IN IP4 a\r\nm=image port udptl t38\r\nc=IN IP4 a\r\n", "port"},
                 Case{"v=0\r\no=- 1 1 IN IP4 a\r\nm=image 5 udptl t38\r\n", "no connection address"},
                 Case{"v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IPX a\r\n", "c= must be"},
                 Case{"v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IP4 a\r\nm=image 5 udptl t38\r\na=T38FaxVersion:x\r\n", ""}}) {
    auto s = parse(c.text);
    if (std::string(c.reason).empty()) {  // parses; its T.38 parameters do not
      ASSERT_TRUE(s.ok());
      EXPECT_FALSE(t38_params(s->media[0]).ok());
      continue;
    }
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_NE(s.error().reason.find(c.reason), std::string::npos) << s.error().reason;
  }
}

TEST(Sdp, MediaLimitAtTheEdge) {
  std::string text = "v=0\r\no=- 1 1 IN IP4 a\r\nc=IN IP4 a\r\n";
  for (size_t i = 0; i < kMaxMedia; ++i) text += "m=audio 0 RTP/AVP 0\r\n";
  EXPECT_TRUE(parse(text).ok());
  EXPECT_FALSE(parse(text + "m=audio 0 RTP/AVP 0\r\n").ok());
}

}  // namespace
}  // namespace sdp
