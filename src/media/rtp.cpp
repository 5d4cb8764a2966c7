// rtp.cpp — RTP/RTCP codec, sender and receiver (see rtp.hpp).
#include "media/rtp.hpp"

#include <algorithm>
#include <random>

namespace rtp {
namespace {

uint16_t be16(std::span<const uint8_t> d, size_t at) { return uint16_t(d[at] << 8 | d[at + 1]); }
uint32_t be32(std::span<const uint8_t> d, size_t at) {
  return uint32_t(d[at]) << 24 | uint32_t(d[at + 1]) << 16 | uint32_t(d[at + 2]) << 8 | d[at + 3];
}
void put16(Bytes& out, uint16_t v) {
  out.push_back(uint8_t(v >> 8));
  out.push_back(uint8_t(v));
}
void put32(Bytes& out, uint32_t v) {
  put16(out, uint16_t(v >> 16));
  put16(out, uint16_t(v));
}
// An RTCP packet's header with its length (in 32-bit words minus one) filled in at the end.
void rtcp_header(Bytes& out, uint8_t count, uint8_t type) {
  out.push_back(uint8_t(0x80 | (count & 0x1F)));
  out.push_back(type);
  put16(out, 0);
}
void rtcp_length(Bytes& out, size_t start) {
  size_t words = (out.size() - start) / 4 - 1;
  out[start + 2] = uint8_t(words >> 8);
  out[start + 3] = uint8_t(words);
}

constexpr uint8_t kSr = 200, kRr = 201, kSdes = 202, kBye = 203;

}  // namespace

bool is_rtcp(std::span<const uint8_t> d) { return d.size() >= 2 && (d[0] >> 6) == 2 && d[1] >= 192 && d[1] <= 223; }

fb::Result<Packet, DecodeError> decode(std::span<const uint8_t> d) {
  if (d.size() < kHeaderBytes) return DecodeError{"shorter than the 12-octet RTP header"};
  if (d.size() > kMaxPacket) return DecodeError{"longer than " + std::to_string(kMaxPacket) + " octets"};
  if ((d[0] >> 6) != 2) return DecodeError{"RTP version " + std::to_string(d[0] >> 6) + ", not 2"};
  Packet p;
  Header& h = p.header;
  h.padding = (d[0] & 0x20) != 0;
  h.extension = (d[0] & 0x10) != 0;
  h.csrc_count = d[0] & 0x0F;
  h.marker = (d[1] & 0x80) != 0;
  h.payload_type = d[1] & 0x7F;
  h.seq = be16(d, 2);
  h.timestamp = be32(d, 4);
  h.ssrc = be32(d, 8);
  size_t pos = kHeaderBytes + 4 * size_t(h.csrc_count);
  if (pos > d.size()) return DecodeError{"the CSRC list runs past the packet"};
  if (h.extension) {
    if (pos + 4 > d.size()) return DecodeError{"the header extension runs past the packet"};
    size_t words = be16(d, pos + 2);
    pos += 4 + 4 * words;
    if (pos > d.size()) return DecodeError{"the header extension runs past the packet"};
  }
  size_t end = d.size();
  if (h.padding) {
    size_t pad = d[d.size() - 1];
    if (pad == 0 || pad > end - pos) return DecodeError{"the padding count does not fit the packet"};
    end -= pad;
  }
  p.payload = d.subspan(pos, end - pos);
  return p;
}

Bytes encode(const Header& h, std::span<const uint8_t> payload) {
  Bytes out;
  out.reserve(kHeaderBytes + payload.size());
  out.push_back(0x80);  // version 2, no padding, extension or CSRC
  out.push_back(uint8_t((h.marker ? 0x80 : 0) | (h.payload_type & 0x7F)));
  put16(out, h.seq);
  put32(out, h.timestamp);
  put32(out, h.ssrc);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Sender::Sender(uint32_t seed) {
  std::mt19937 rng(seed);
  seq_ = uint16_t(rng());
  ts_ = uint32_t(rng());
  ssrc_ = uint32_t(rng());
}

Bytes Sender::next(uint8_t pt, std::span<const uint8_t> payload, uint32_t samples, bool marker) {
  Bytes b = at(pt, ts_, payload, marker);
  ts_ += samples;
  return b;
}

Bytes Sender::at(uint8_t pt, uint32_t timestamp, std::span<const uint8_t> payload, bool marker) {
  Header h;
  h.marker = marker;
  h.payload_type = pt;
  h.seq = seq_++;
  h.timestamp = timestamp;
  h.ssrc = ssrc_;
  ++packets_;
  octets_ += uint32_t(payload.size());
  return encode(h, payload);
}

void Receiver::restart(const Header& h) {
  started_ = true;
  ssrc_ = h.ssrc;
  max_seq_ = h.seq;
  cycles_ = 0;
  base_seq_ = h.seq;
  since_restart_ = 0;
  recent_.clear();
  have_transit_ = false;
  expected_prior_ = received_prior_ = 0;
  ++stats_.sources;
}

bool Receiver::accept(const Header& h, uint32_t arrival) {
  if (!started_ || h.ssrc != ssrc_) {
    restart(h);
  } else if (std::find(recent_.begin(), recent_.end(), h.seq) != recent_.end()) {
    ++stats_.duplicates;
    return false;
  } else {
    uint16_t delta = uint16_t(h.seq - max_seq_);
    if (delta < kMaxDropout) {
      if (h.seq < max_seq_) cycles_ += 65536;  // wrapped
      max_seq_ = h.seq;
    } else if (delta <= 65535 - kMaxMisorder) {
      restart(h);  // a jump: the peer restarted its stream
    }                // else: a late packet of this stream, within the misorder window
  }
  recent_.push_back(h.seq);
  if (recent_.size() > 64) recent_.erase(recent_.begin());
  ++since_restart_;
  ++stats_.received;
  int64_t transit = int64_t(arrival) - int64_t(h.timestamp);
  if (have_transit_) {
    int64_t d = transit - transit_;
    if (d < 0) d = -d;
    // Only a plausible difference (not a timestamp step of the peer) feeds the estimate.
    if (d < int64_t(kClockRate)) jitter_ += uint32_t(d) - ((jitter_ + 8) >> 4);
  }
  transit_ = transit;
  have_transit_ = true;
  return true;
}

Bytes rtcp_report(const ReportInput& in) {
  Bytes out;
  const bool block = in.receiver && in.receiver->started_;
  size_t start = out.size();
  rtcp_header(out, block ? 1 : 0, in.sent ? kSr : kRr);
  put32(out, in.ssrc);
  if (in.sent) {
    put32(out, uint32_t(in.ntp >> 32));
    put32(out, uint32_t(in.ntp));
    put32(out, in.rtp_timestamp);
    put32(out, in.packets);
    put32(out, in.octets);
  }
  if (block) {
    Receiver& r = *in.receiver;
    int64_t expected = r.expected(), received = int64_t(r.since_restart_);
    int64_t exp_int = expected - r.expected_prior_, rec_int = received - r.received_prior_;
    r.expected_prior_ = expected;
    r.received_prior_ = received;
    int64_t lost_int = exp_int - rec_int;
    uint8_t fraction = exp_int > 0 && lost_int > 0 ? uint8_t(std::min<int64_t>(255, (lost_int << 8) / exp_int)) : 0;
    int64_t lost = std::clamp<int64_t>(r.lost(), -0x800000, 0x7FFFFF);
    put32(out, r.ssrc_);
    put32(out, uint32_t(fraction) << 24 | (uint32_t(lost) & 0xFFFFFF));
    put32(out, r.extended_max());
    put32(out, r.jitter());
    put32(out, 0);  // LSR: we do not track the peer's SRs
    put32(out, 0);  // DLSR
  }
  rtcp_length(out, start);
  // SDES with one chunk: CNAME, then END, padded to a 32-bit boundary.
  start = out.size();
  rtcp_header(out, 1, kSdes);
  put32(out, in.ssrc);
  std::string cname = in.cname.substr(0, 255);
  out.push_back(1);
  out.push_back(uint8_t(cname.size()));
  out.insert(out.end(), cname.begin(), cname.end());
  out.push_back(0);
  while (out.size() % 4) out.push_back(0);
  rtcp_length(out, start);
  return out;
}

Bytes rtcp_bye(uint32_t ssrc) {
  Bytes out;
  rtcp_header(out, 0, kRr);  // a compound packet starts with SR or RR
  put32(out, ssrc);
  rtcp_length(out, 0);
  size_t start = out.size();
  rtcp_header(out, 1, kBye);
  put32(out, ssrc);
  rtcp_length(out, start);
  return out;
}

fb::Result<RtcpSummary, DecodeError> decode_rtcp(std::span<const uint8_t> d) {
  RtcpSummary s;
  size_t pos = 0;
  while (pos < d.size()) {
    if (d.size() - pos < 4) return DecodeError{"an RTCP header is cut short"};
    if ((d[pos] >> 6) != 2) return DecodeError{"RTCP version is not 2"};
    uint8_t type = d[pos + 1];
    size_t len = (size_t(be16(d, pos + 2)) + 1) * 4;
    if (len > d.size() - pos) return DecodeError{"an RTCP packet's length runs past the datagram"};
    if (s.packets == 0) {
      if (type != kSr && type != kRr) return DecodeError{"a compound RTCP packet must start with SR or RR"};
      if (len >= 8) s.sender_ssrc = be32(d, pos + 4);
    }
    if (type == kBye) s.bye = true;
    ++s.packets;
    pos += len;
  }
  if (s.packets == 0) return DecodeError{"an empty RTCP datagram"};
  return s;
}

}  // namespace rtp
