// rtp.hpp — RTP and RTCP for one audio stream (the carrier of G.711 fax), sans I/O: the packet
// codec, our sender's numbering, the receiver's accounting, and the RTCP we send and accept.
//
// STANDARDS: RFC 3550 (RTP: the fixed header, CSRC list, header extension and padding, §5.1;
// sequence numbers and timestamps start at random values, §5.1; SSRC chosen at random, §8; the
// receiver's extended sequence number, loss and jitter, Appendix A.1/A.3/A.8; RTCP SR, RR, SDES
// CNAME and BYE, §6.4-6.6, a compound packet starting with SR or RR, §6.1), RFC 3551 (payload
// types 0 PCMU and 8 PCMA, 8000 Hz), RFC 5761 §4 (RTP and RTCP told apart on one port by the
// second octet: 192-223 is RTCP).
// A receiver follows the stream it hears: a new SSRC (a peer that restarts its stream, or an
// SBC failing over) or a sequence jump is taken as a new source, never as loss in the old one.
// LIMITS: kMaxPacket octets; payloads of a malformed packet (bad version, lengths that do not
// fit) are refused with a reason and counted, never delivered.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace rtp {

inline constexpr size_t kHeaderBytes = 12;
inline constexpr size_t kMaxPacket = 1500;
inline constexpr uint32_t kClockRate = 8000;  // G.711 and telephone-event (RFC 3551, RFC 4733)
// RFC 3550 A.1: a jump of more than kMaxDropout or a step back of more than kMaxMisorder
// restarts the sequence (a new source).
inline constexpr uint16_t kMaxDropout = 3000;
inline constexpr uint16_t kMaxMisorder = 100;

namespace pt {
inline constexpr uint8_t pcmu = 0;
inline constexpr uint8_t pcma = 8;
}  // namespace pt

using Bytes = std::vector<uint8_t>;

struct Header {
  bool marker = false;
  uint8_t payload_type = 0;
  uint16_t seq = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  uint8_t csrc_count = 0;
  bool extension = false;
  bool padding = false;
};

struct Packet {
  Header header;
  std::span<const uint8_t> payload;  // into the datagram given to decode()
};

struct DecodeError {
  std::string reason;
};

// Is this datagram RTCP (RFC 5761 §4: second octet 192-223 with version 2)?
bool is_rtcp(std::span<const uint8_t> datagram);

fb::Result<Packet, DecodeError> decode(std::span<const uint8_t> datagram);
Bytes encode(const Header& h, std::span<const uint8_t> payload);

// Our side of a stream: random initial sequence number, timestamp and SSRC (RFC 3550 §5.1).
class Sender {
 public:
  explicit Sender(uint32_t seed);
  // One packet of `samples` samples of payload type `pt`; the timestamp then advances by them.
  Bytes next(uint8_t pt, std::span<const uint8_t> payload, uint32_t samples, bool marker = false);
  // A packet stamped `timestamp` (telephone-events carry their start time), advancing only the
  // sequence number.
  Bytes at(uint8_t pt, uint32_t timestamp, std::span<const uint8_t> payload, bool marker);
  // Time with no samples sent (the sender could not keep up): the next timestamp is that later.
  void skip(uint32_t samples) { ts_ += samples; }
  uint32_t ssrc() const { return ssrc_; }
  uint32_t timestamp() const { return ts_; }  // the next packet's
  uint32_t packets() const { return packets_; }
  uint32_t octets() const { return octets_; }

 private:
  uint16_t seq_;
  uint32_t ts_;
  uint32_t ssrc_;
  uint32_t packets_ = 0, octets_ = 0;
};

struct ReportInput;

struct ReceiverStats {
  uint64_t received = 0;    // RTP packets accepted
  uint64_t duplicates = 0;  // same sequence number again
  uint64_t malformed = 0;   // datagrams refused by decode()
  uint64_t sources = 0;     // SSRCs / sequence restarts followed
  uint64_t rtcp = 0;        // RTCP packets received (accepted or not)
};

// The receiver's view of the stream (RFC 3550 A.1, A.3): the extended highest sequence number,
// expected and lost packets, interarrival jitter.
class Receiver {
 public:
  // Accounts for a packet arriving at `arrival` (in timestamp units of our clock). Returns false
  // for a duplicate, which should not be played again.
  bool accept(const Header& h, uint32_t arrival);
  void malformed() { ++stats_.malformed; }
  void rtcp() { ++stats_.rtcp; }
  const ReceiverStats& stats() const { return stats_; }
  std::optional<uint32_t> ssrc() const { return started_ ? std::optional<uint32_t>(ssrc_) : std::nullopt; }
  uint32_t extended_max() const { return cycles_ + max_seq_; }
  int64_t expected() const { return started_ ? int64_t(extended_max()) - base_seq_ + 1 : 0; }
  int64_t lost() const { return expected() - int64_t(since_restart_); }
  uint32_t jitter() const { return uint32_t(jitter_ / 16); }  // timestamp units

 private:
  void restart(const Header& h);
  bool started_ = false;
  uint32_t ssrc_ = 0;
  uint16_t max_seq_ = 0;
  uint32_t cycles_ = 0;
  int64_t base_seq_ = 0;
  uint64_t since_restart_ = 0;
  std::vector<uint16_t> recent_;  // the last sequence numbers, to spot duplicates
  int64_t transit_ = 0;
  bool have_transit_ = false;
  uint32_t jitter_ = 0;  // RFC 3550 A.8, scaled by 16
  int64_t expected_prior_ = 0, received_prior_ = 0;  // at the last report (A.3 fraction lost)
  ReceiverStats stats_;
  friend Bytes rtcp_report(const ReportInput& in);
};

// RTCP we send every kRtcpInterval: a compound packet of SR (or RR before we sent anything) with
// one report block about the stream we receive, and SDES CNAME.
inline constexpr int kRtcpIntervalMs = 5000;  // RFC 3550 §6.2 minimum
struct ReportInput {
  uint32_t ssrc = 0;
  std::string cname;
  uint64_t ntp = 0;            // now as NTP 32.32
  uint32_t rtp_timestamp = 0;  // now in our stream's timestamp units
  uint32_t packets = 0, octets = 0;
  bool sent = false;           // SR when we have sent, else RR
  Receiver* receiver = nullptr;  // a report block when it has heard a source (its interval counts move on)
};
Bytes rtcp_report(const ReportInput& in);
Bytes rtcp_bye(uint32_t ssrc);

// A received RTCP compound packet: checked (RFC 3550 A.2: version 2, the first packet SR or
// RR, lengths that add up to the datagram) and summarised; nothing in it changes our stream.
struct RtcpSummary {
  std::optional<uint32_t> sender_ssrc;
  bool bye = false;
  int packets = 0;
};
fb::Result<RtcpSummary, DecodeError> decode_rtcp(std::span<const uint8_t> datagram);

}  // namespace rtp
