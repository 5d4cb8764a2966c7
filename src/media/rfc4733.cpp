// rfc4733.cpp — telephone-event payloads, receiver and sender (see rfc4733.hpp).
#include "media/rfc4733.hpp"

#include <algorithm>

namespace rfc4733 {

bool is_fax_event(uint8_t e) { return (e >= event::ans && e <= event::cng) || e == event::v21_preamble; }

std::string_view name(uint8_t e) {
  static const char* const dtmf[16] = {"DTMF 0", "DTMF 1", "DTMF 2", "DTMF 3", "DTMF 4", "DTMF 5",
                                       "DTMF 6", "DTMF 7", "DTMF 8", "DTMF 9", "DTMF *", "DTMF #",
                                       "DTMF A", "DTMF B", "DTMF C", "DTMF D"};
  if (e < 16) return dtmf[e];
  switch (e) {
    case event::ans: return "ANS";
    case event::not_ans: return "/ANS";
    case event::ansam: return "ANSam";
    case event::not_ansam: return "/ANSam";
    case event::cng: return "CNG";
    case event::v21_preamble: return "V.21 preamble";
    default: return "another event";
  }
}

fb::Result<Payload, DecodeError> decode(std::span<const uint8_t> d) {
  if (d.size() < 4) return DecodeError{"a telephone-event payload has 4 octets"};
  if (d.size() % 4 != 0) return DecodeError{"a telephone-event payload is a multiple of 4 octets"};
  Payload p;
  p.event = d[0];
  p.end = (d[1] & 0x80) != 0;
  p.volume = d[1] & 0x3F;
  p.duration = uint16_t(d[2] << 8 | d[3]);
  return p;
}

std::array<uint8_t, 4> encode(const Payload& p) {
  return {p.event, uint8_t((p.end ? 0x80 : 0) | (p.volume & 0x3F)), uint8_t(p.duration >> 8), uint8_t(p.duration)};
}

std::optional<Heard> Receiver::receive(uint32_t timestamp, const Payload& p) {
  // The same event (its timestamp and code) again: an update, an end copy or a duplicate.
  if (have_ && timestamp == last_ts_ && p.event == last_event_) return std::nullopt;
  // A late copy of an event already replaced by a newer one (timestamps grow).
  if (have_ && int32_t(timestamp - last_ts_) < 0) return std::nullopt;
  have_ = true;
  last_ts_ = timestamp;
  last_event_ = p.event;
  ++events_;
  return Heard{p.event, timestamp};
}

void Sender::start(uint8_t event, uint16_t duration, uint8_t volume) {
  active_ = true;
  p_ = Payload{event, false, uint8_t(std::min<int>(volume, 63)), 0};
  total_ = duration;
  end_copies_ = 0;
  first_ = true;
}

std::optional<Sender::Out> Sender::next(uint16_t interval) {
  if (!active_) return std::nullopt;
  Out o;
  o.first = first_;
  first_ = false;
  if (!p_.end) {
    p_.duration = uint16_t(std::min<int>(total_, p_.duration + interval));
    if (p_.duration >= total_) p_.end = true;
  }
  if (p_.end && ++end_copies_ >= 3) active_ = false;  // the end packet, three times (§2.5.1.4)
  o.payload = p_;
  return o;
}

}  // namespace rfc4733
