// fax_sdp_test.cpp — our fax offers and answers, byte for byte, and which stream of a peer's
// description carries the fax.
#include "sip/fax_sdp.hpp"

#include <gtest/gtest.h>

namespace fax_sdp {
namespace {

sdp::Session parsed(std::string_view text) {
  auto s = sdp::parse(text);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().reason);
  return *s;
}

TEST(FaxSdp, T38OfferIsExactlyThis) {
  sdp::T38Params p;
  p.max_buffer = 2000;
  p.max_datagram = 400;
  EXPECT_EQ(offer_t38({"192.0.2.5", 20000, 1}, 20000, p),
            "v=0\r\n"
            "o=faxbridge 20000 1 IN IP4 192.0.2.5\r\n"
            "s=faxbridge\r\n"
            "c=IN IP4 192.0.2.5\r\n"
            "t=0 0\r\n"
            "m=image 20000 udptl t38\r\n"
            "a=T38FaxVersion:0\r\n"
            "a=T38MaxBitRate:14400\r\n"
            "a=T38FaxRateManagement:transferredTCF\r\n"
            "a=T38FaxMaxBuffer:2000\r\n"
            "a=T38FaxMaxDatagram:400\r\n"
            "a=T38FaxUdpEC:t38UDPRedundancy\r\n");
}

const char* kAudioAndImage =
    "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    "m=image 4002 udptl t38\r\nc=IN IP4 192.0.2.11\r\na=T38FaxVersion:1\r\na=T38FaxUdpEC:t38UDPFEC\r\n";

TEST(FaxSdp, FindsTheT38StreamWithItsOwnAddress) {
  auto s = parsed(kAudioAndImage);
  auto t = find_t38(s);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->index, 1u);
  EXPECT_EQ(t->ip, "192.0.2.11");
  EXPECT_EQ(t->port, 4002);
  EXPECT_EQ(t->params.version, 1);
  EXPECT_EQ(t->params.ec, sdp::Ec::fec);
}

TEST(FaxSdp, NoT38InAudioOnlyOrRefusedImage) {
  EXPECT_FALSE(find_t38(parsed("v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
                               "m=audio 4000 RTP/AVP 0\r\n")));
  EXPECT_FALSE(find_t38(parsed("v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
                               "m=image 0 udptl t38\r\n")));
}

TEST(FaxSdp, AnswerKeepsEveryOfferedLineInOrderAudioRefused) {
  auto offer = parsed(kAudioAndImage);
  auto a = answer_t38(offer, *find_t38(offer), {"192.0.2.5", 7, 1}, 20002, sdp::T38Capabilities{});
  auto s = parsed(a.sdp);
  ASSERT_EQ(s.media.size(), 2u);
  EXPECT_EQ(s.media[0].type, "audio");
  EXPECT_EQ(s.media[0].port, 0);
  EXPECT_EQ(s.media[0].formats, (std::vector<std::string>{"0", "8", "101"}));
  EXPECT_EQ(s.media[1].type, "image");
  EXPECT_EQ(s.media[1].port, 20002);
  EXPECT_EQ(*s.connection, "192.0.2.5");
  EXPECT_EQ(a.ours.version, 0);       // min(1, ours)
  EXPECT_EQ(a.ours.ec, sdp::Ec::fec);  // echoed
  EXPECT_EQ(*sdp::t38_params(s.media[1]), a.ours);
}

TEST(FaxSdp, OneUnreadableT38AttributeKeepsTheOthers) {
  // A Cisco/AudioCodes-style offer: version 3, and one value we cannot read among good ones.
  auto s = parsed("v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
                  "m=image 5000 udptl t38\r\na=T38FaxVersion:3\r\na=T38MaxBitRate:fast\r\n"
                  "a=T38FaxMaxDatagram:272\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n");
  auto t = find_t38(s);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->params.version, 3);
  EXPECT_EQ(t->params.max_bit_rate, 14400);  // unreadable: the default
  EXPECT_EQ(t->params.max_datagram, 272);
  EXPECT_EQ(t->params.ec, sdp::Ec::redundancy);
  // We answer version 0 (all we speak), and the terminal must run with what we answered.
  auto a = answer_t38(s, *t, {"192.0.2.5", 1, 1}, 20000, sdp::T38Capabilities{});
  EXPECT_EQ(a.ours.version, 0);
  EXPECT_NE(a.sdp.find("a=T38FaxVersion:0\r\n"), std::string::npos);
}

TEST(FaxSdp, AHeldT38StreamIsAnsweredMirrored) {
  auto s = parsed("v=0\r\no=- 1 2 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
                  "m=image 5000 udptl t38\r\na=sendonly\r\n");
  auto t = find_t38(s);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->direction, Direction::sendonly);
  EXPECT_FALSE(t->receives());
  auto a = answer_t38(s, *t, {"192.0.2.5", 1, 2}, 20000, sdp::T38Capabilities{});
  EXPECT_NE(a.sdp.find("a=recvonly\r\n"), std::string::npos) << a.sdp;
  auto held = parsed("v=0\r\no=- 1 3 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=image 5000 udptl t38\r\n");
  ASSERT_TRUE(find_t38(held));
  EXPECT_TRUE(find_t38(held)->hold);
  EXPECT_FALSE(find_t38(held)->receives());
}

TEST(FaxSdp, AudioOfferIsExactlyThis) {
  EXPECT_EQ(offer_audio({"192.0.2.5", 7, 2}, 20000, AudioOffer{}),
            "v=0\r\n"
            "o=faxbridge 7 2 IN IP4 192.0.2.5\r\n"
            "s=faxbridge\r\n"
            "c=IN IP4 192.0.2.5\r\n"
            "t=0 0\r\n"
            "m=audio 20000 RTP/AVP 0 8 96 97 101\r\n"
            "a=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:8 PCMA/8000\r\n"
            "a=rtpmap:96 red/8000\r\n"
            "a=fmtp:96 0/0/0\r\n"
            "a=rtpmap:97 red/8000\r\n"
            "a=fmtp:97 8/8/8\r\n"
            "a=rtpmap:101 telephone-event/8000\r\n"
            "a=fmtp:101 0-15,32-36,54\r\n"
            "a=ptime:20\r\n"
            "a=sendrecv\r\n");
}

TEST(FaxSdp, OurOwnAudioOfferIsReadBack) {
  auto a = find_audio(parsed(offer_audio({"192.0.2.5", 7, 2}, 20000, AudioOffer{})));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->codec, Codec::pcmu);
  EXPECT_EQ(a->payload_type, 0);
  EXPECT_EQ(a->red_pt, 96);
  EXPECT_EQ(a->event_pt, 101);
  EXPECT_TRUE(a->fax_events);
  EXPECT_EQ(a->ptime_ms, 20);
  EXPECT_TRUE(a->receives());
}

const char* kCarrierOffer =
    "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 18 110 8 0 126\r\n"
    "a=rtpmap:18 G729/8000\r\na=rtpmap:110 PCMA/8000\r\na=rtpmap:126 TELEPHONE-EVENT/8000\r\n"
    "a=fmtp:126 0-16\r\na=ptime:30\r\na=sendonly\r\n";

TEST(FaxSdp, TheOfferersFirstCodecWeKnowWithItsOwnNumbers) {
  auto a = find_audio(parsed(kCarrierOffer));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->codec, Codec::pcma);
  EXPECT_EQ(a->payload_type, 110);  // a dynamic PCMA comes first in their list
  EXPECT_EQ(a->event_pt, 126);
  EXPECT_FALSE(a->fax_events);       // 0-16: DTMF and flash only
  EXPECT_FALSE(a->red_pt);
  EXPECT_EQ(a->ptime_ms, 30);
  EXPECT_EQ(a->direction, Direction::sendonly);
  EXPECT_FALSE(a->receives());
  auto only_pcmu = find_audio(parsed(kCarrierOffer), {Codec::pcmu});
  ASSERT_TRUE(only_pcmu);
  EXPECT_EQ(only_pcmu->payload_type, 0);
}

TEST(FaxSdp, AudioAnswerKeepsTheOffersNumbersAndMirrorsTheDirection) {
  auto offer = parsed(kCarrierOffer);
  auto a = *find_audio(offer);
  auto s = parsed(answer_audio(offer, a, {"192.0.2.5", 9, 1}, 20004, true, true));
  ASSERT_EQ(s.media.size(), 1u);
  EXPECT_EQ(s.media[0].port, 20004);
  EXPECT_EQ(s.media[0].formats, (std::vector<std::string>{"110", "126"}));
  auto back = find_audio(s);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->payload_type, 110);
  EXPECT_EQ(back->event_pt, 126);
  EXPECT_EQ(back->direction, Direction::recvonly);
  EXPECT_NE(serialize(s).find("a=fmtp:126 0-16\r\n"), std::string::npos);  // their events, not more
}

TEST(FaxSdp, AudioAnswerToAudioAndImageRefusesTheImage) {
  auto offer = parsed(kAudioAndImage);
  auto s = parsed(answer_audio(offer, *find_audio(offer), {"192.0.2.5", 9, 1}, 20004, false, false));
  ASSERT_EQ(s.media.size(), 2u);
  EXPECT_EQ(s.media[0].port, 20004);
  EXPECT_EQ(s.media[0].formats, (std::vector<std::string>{"0"}));
  EXPECT_EQ(s.media[1].type, "image");
  EXPECT_EQ(s.media[1].port, 0);
}

TEST(FaxSdp, HoldAndStreamsWithoutAUsableCodec) {
  auto held = find_audio(parsed("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
                                "m=audio 4000 RTP/AVP 0\r\n"));
  ASSERT_TRUE(held);
  EXPECT_TRUE(held->hold);
  EXPECT_FALSE(held->receives());
  EXPECT_TRUE(held->sends());
  EXPECT_FALSE(find_audio(parsed("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
                                 "m=audio 4000 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n")));
  EXPECT_FALSE(find_audio(parsed("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
                                 "m=audio 4000 RTP/SAVP 0\r\n")));  // SRTP: not ours
  // A rtpmap that says PCMU at 16 kHz is not G.711.
  EXPECT_FALSE(find_audio(parsed("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
                                 "m=audio 4000 RTP/AVP 99\r\na=rtpmap:99 PCMU/16000\r\n")));
}

}  // namespace
}  // namespace fax_sdp
