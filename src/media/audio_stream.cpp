// audio_stream.cpp — a G.711 RTP stream both ways (see audio_stream.hpp).
#include "media/audio_stream.hpp"

#include <algorithm>

namespace audio {

Stream::Stream(StreamConfig cfg) : cfg_(std::move(cfg)), sender_(cfg_.seed), playout_(cfg_.playout) {
  pending_.reserve(kSamplesPerPacket * 2);
}

std::optional<rfc4733::Heard> Stream::receive(std::span<const uint8_t> d, uint32_t arrival) {
  if (rtp::is_rtcp(d)) {
    rx_.rtcp();
    if (!rtp::decode_rtcp(d)) ++stats_.bad_rtcp;
    return std::nullopt;
  }
  auto p = rtp::decode(d);
  if (!p) {
    rx_.malformed();
    return std::nullopt;
  }
  const rtp::Header& h = p->header;
  if (h.payload_type == cfg_.payload_type) {
    if (!rx_.accept(h, arrival)) return std::nullopt;  // a duplicate
    audio_block(h.timestamp, p->payload, false);
    return std::nullopt;
  }
  if (cfg_.red_pt && h.payload_type == *cfg_.red_pt) {
    auto blocks = rfc2198::decode(p->payload);
    if (!blocks) {
      ++stats_.bad_red;
      return std::nullopt;
    }
    if (!rx_.accept(h, arrival)) return std::nullopt;
    for (const auto& b : *blocks) {
      if (b.payload_type == cfg_.payload_type) audio_block(h.timestamp - b.offset, b.data, b.offset != 0);
    }
    return std::nullopt;
  }
  if (cfg_.event_pt && h.payload_type == *cfg_.event_pt) {
    auto e = rfc4733::decode(p->payload);
    if (!e) {
      ++stats_.bad_events;
      return std::nullopt;
    }
    auto heard = events_in_.receive(h.timestamp, *e);
    if (heard) ++stats_.events_heard;
    return heard;
  }
  ++stats_.other_payload;
  return std::nullopt;
}

void Stream::audio_block(uint32_t timestamp, std::span<const uint8_t> payload, bool redundant) {
  decoded_.resize(payload.size());
  g711::decode(cfg_.law, payload, decoded_);
  playout_.put(timestamp, decoded_, redundant);
}

void Stream::reconfigure(g711::Law law, uint8_t payload_type, std::optional<uint8_t> event_pt,
                         std::optional<uint8_t> red_pt) {
  if (law != cfg_.law || red_pt != cfg_.red_pt) history_.clear();  // red copies of the old coding
  cfg_.law = law;
  cfg_.payload_type = payload_type;
  cfg_.event_pt = event_pt;
  cfg_.red_pt = red_pt;
}

void Stream::play(std::span<int16_t> out, std::vector<playout::Gap>* gaps) { playout_.get(out, gaps); }

void Stream::skip(uint32_t samples) {
  sender_.skip(samples + uint32_t(pending_.size()));
  pending_.clear();
}

std::vector<rtp::Bytes> Stream::send(std::span<const int16_t> samples) {
  std::vector<rtp::Bytes> out;
  pending_.insert(pending_.end(), samples.begin(), samples.end());
  size_t used = 0;
  uint8_t payload[kSamplesPerPacket];
  while (pending_.size() - used >= size_t(kSamplesPerPacket)) {
    if (events_out_.active()) {
      if (auto e = events_out_.next(kSamplesPerPacket)) {
        auto bytes = rfc4733::encode(e->payload);
        out.push_back(sender_.at(*cfg_.event_pt, event_ts_, bytes, e->first));
      }
    }
    g711::encode(cfg_.law, std::span<const int16_t>(pending_.data() + used, kSamplesPerPacket), payload);
    if (cfg_.red_pt) {
      const uint32_t ts = sender_.timestamp();
      std::vector<rfc2198::Block> blocks;
      for (const auto& h : history_) blocks.push_back({cfg_.payload_type, ts - h.timestamp, h.payload});
      auto red = rfc2198::encode(blocks, cfg_.payload_type, payload);
      out.push_back(sender_.next(*cfg_.red_pt, red, kSamplesPerPacket));
      history_.push_back({ts, std::vector<uint8_t>(payload, payload + kSamplesPerPacket)});
      if (int(history_.size()) > cfg_.red_depth) history_.erase(history_.begin());
    } else {
      out.push_back(sender_.next(cfg_.payload_type, payload, kSamplesPerPacket));
    }
    used += kSamplesPerPacket;
  }
  pending_.erase(pending_.begin(), pending_.begin() + long(used));
  stats_.sent += out.size();
  return out;
}

bool Stream::send_event(uint8_t event, int duration_ms) {
  if (!cfg_.event_pt || events_out_.active()) return false;
  event_ts_ = sender_.timestamp();
  events_out_.start(event, uint16_t(std::min(duration_ms * 8, 0xFFFF)), 10);
  return true;
}

rtp::Bytes Stream::rtcp(uint64_t ntp) {
  rtp::ReportInput in;
  in.ssrc = sender_.ssrc();
  in.cname = cfg_.cname;
  in.ntp = ntp;
  in.rtp_timestamp = sender_.timestamp();
  in.packets = sender_.packets();
  in.octets = sender_.octets();
  in.sent = sender_.packets() > 0;
  in.receiver = &rx_;
  return rtp::rtcp_report(in);
}

StreamStats Stream::stats() const {
  StreamStats s = stats_;
  s.rtp = rx_.stats();
  s.playout = playout_.stats();
  return s;
}

}  // namespace audio
