// audio_stream.hpp — one G.711 audio stream of a call, both ways, sans I/O: RTP datagrams in,
// through the modem playout buffer, 8000 samples a second out; samples in, one RTP packet per
// packet time out; RFC 4733 telephone-events heard and sent; RTCP reports.
//
// STANDARDS: RFC 3550/3551 (rtp.hpp), ITU-T G.711 (g711.hpp), RFC 4733/4734 (rfc4733.hpp), the
// playout buffer of playout.hpp. Packets of any packet time are accepted (10-30 ms in practice:
// each carries its own samples); we send 20 ms. Packets of a payload type that is neither the
// negotiated codec nor the telephone-event type are counted and dropped (a peer's comfort noise,
// RFC 3389, included: a fax line must carry no synthetic noise). With RFC 2198 redundancy
// negotiated (red_pt), every audio packet we send is a red packet carrying the last red_depth
// packets' audio again, and red packets received fill what a lost packet left out.
// LIMITS: rtp::kMaxPacket octets per datagram.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "media/g711.hpp"
#include "media/playout.hpp"
#include "media/rfc2198.hpp"
#include "media/rfc4733.hpp"
#include "media/rtp.hpp"

namespace audio {

inline constexpr int kPtimeMs = 20;
inline constexpr int kSamplesPerPacket = kPtimeMs * 8;

struct StreamConfig {
  g711::Law law = g711::Law::ulaw;
  uint8_t payload_type = rtp::pt::pcmu;
  std::optional<uint8_t> event_pt;  // telephone-event, when negotiated
  std::optional<uint8_t> red_pt;    // RFC 2198 red, when negotiated
  int red_depth = 2;                // previous packets repeated in each red packet
  uint32_t seed = 1;                // our SSRC, first sequence number and timestamp
  std::string cname = "faxbridge";
  playout::Config playout;
};

struct StreamStats {
  rtp::ReceiverStats rtp;
  playout::Stats playout;
  uint64_t other_payload = 0;  // packets of a payload type we did not negotiate
  uint64_t bad_events = 0;     // malformed telephone-event payloads
  uint64_t bad_red = 0;        // malformed red payloads
  uint64_t bad_rtcp = 0;
  uint64_t events_heard = 0;
  uint64_t sent = 0;
};

class Stream {
 public:
  explicit Stream(StreamConfig cfg);
  // A datagram from the peer (RTP or RTCP), arriving at `arrival` (our clock, in samples).
  // Returns a telephone-event heard for the first time.
  std::optional<rfc4733::Heard> receive(std::span<const uint8_t> datagram, uint32_t arrival);
  // The next samples to play (silence where nothing arrived, those runs named in `gaps`).
  void play(std::span<int16_t> out, std::vector<playout::Gap>* gaps = nullptr);
  // Samples to send: whole packets come out, a partial one waits for the rest.
  std::vector<rtp::Bytes> send(std::span<const int16_t> samples);
  // Time our side could not produce (its thread stalled longer than it catches up): the next packet
  // is stamped that much later, so the peer hears a gap in its place instead of a stream that fell
  // behind for good (RFC 3550 §5.1: the timestamp follows the sampling clock). A partial packet
  // waiting to be sent is dropped with it.
  void skip(uint32_t samples);
  // A telephone-event to send, lasting `duration_ms`; its packets go out with the audio's.
  bool send_event(uint8_t event, int duration_ms);
  // An RTCP compound packet (SR/RR + SDES), for the owner to send every rtp::kRtcpIntervalMs.
  rtp::Bytes rtcp(uint64_t ntp);
  rtp::Bytes rtcp_bye() const { return rtp::rtcp_bye(sender_.ssrc()); }
  bool heard() const { return rx_.stats().received > 0; }  // any audio from the peer yet
  // A re-offer renumbered the payload types (or changed the law): the stream goes on with them.
  void reconfigure(g711::Law law, uint8_t payload_type, std::optional<uint8_t> event_pt, std::optional<uint8_t> red_pt);
  StreamStats stats() const;
  const StreamConfig& config() const { return cfg_; }

 private:
  StreamConfig cfg_;
  rtp::Sender sender_;
  rtp::Receiver rx_;
  playout::Buffer playout_;
  rfc4733::Receiver events_in_;
  rfc4733::Sender events_out_;
  uint32_t event_ts_ = 0;
  std::vector<int16_t> pending_;  // samples not yet a whole packet
  std::vector<int16_t> decoded_;
  struct Sent {
    uint32_t timestamp;
    std::vector<uint8_t> payload;
  };
  std::vector<Sent> history_;  // our last packets' audio, for red
  void audio_block(uint32_t timestamp, std::span<const uint8_t> payload, bool redundant);
  StreamStats stats_;
};

}  // namespace audio
