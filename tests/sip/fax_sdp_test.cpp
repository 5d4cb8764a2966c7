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

}  // namespace
}  // namespace fax_sdp
