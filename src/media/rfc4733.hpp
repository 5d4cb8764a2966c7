// rfc4733.hpp — telephone-events (RFC 4733) on an RTP stream, sans I/O: the fax and modem tone
// events of RFC 4734 in both directions, and DTMF received.
//
// STANDARDS: RFC 4733 §2.3 (payload: event, E bit, volume, duration; the timestamp is the event's
// start and stays the same in every packet of it; the M bit on the first packet; the end packet
// sent three times; a receiver identifies an event by its timestamp, takes a new timestamp as the
// end of the previous event, and does not rely on M or E, which may be lost), §2.5.1.3 (updates
// every packet interval), RFC 4734 §2.3 (fax events: ANS 32, /ANS 33, ANSam 34, /ANSam 35, CNG
// 36, V.21 preamble flags 54), RFC 4733 §2.4.1 (SDP: telephone-event/8000 with fmtp events).
// LIMITS: one event per packet is read (RFC 4733 §2.5.1.5 packs several only with RFC 2198
// redundancy, which we do not offer); a payload that is not a multiple of 4 octets is refused.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace rfc4733 {

namespace event {
inline constexpr uint8_t ans = 32;        // CED / ANS: 2100 Hz answer tone
inline constexpr uint8_t not_ans = 33;    // /ANS: with phase reversals
inline constexpr uint8_t ansam = 34;      // ANSam: amplitude modulated
inline constexpr uint8_t not_ansam = 35;  // /ANSam
inline constexpr uint8_t cng = 36;        // the calling fax's 1100 Hz tone
inline constexpr uint8_t v21_preamble = 54;  // V.21 HDLC preamble flags (T.30)
}  // namespace event
bool is_fax_event(uint8_t e);
std::string_view name(uint8_t e);  // "CNG", "ANS", ... "DTMF 5", "event 77"

// The fmtp of the events we send and understand: DTMF and the fax events.
inline constexpr std::string_view kFmtp = "0-15,32-36,54";

struct Payload {
  uint8_t event = 0;
  bool end = false;
  uint8_t volume = 0;  // 0..63: -dBm0
  uint16_t duration = 0;  // timestamp units since the event's start
  bool operator==(const Payload&) const = default;
};

struct DecodeError {
  std::string reason;
};

fb::Result<Payload, DecodeError> decode(std::span<const uint8_t> payload);
std::array<uint8_t, 4> encode(const Payload& p);

// A telephone-event heard once, at its start: what it was and when (its RTP timestamp).
struct Heard {
  uint8_t event = 0;
  uint32_t timestamp = 0;
};

class Receiver {
 public:
  // A new event is reported once however many packets (updates, end copies) carry it.
  std::optional<Heard> receive(uint32_t timestamp, const Payload& p);
  uint64_t events() const { return events_; }

 private:
  bool have_ = false;
  uint32_t last_ts_ = 0;
  uint8_t last_event_ = 0;
  uint64_t events_ = 0;
};

// Our events: start() one, then each packet interval next() gives the payload to send at the
// event's timestamp (updates, then the end three times), until it returns nullopt.
class Sender {
 public:
  // An event lasting `duration` timestamp units (at most 0xFFFF: a longer tone is several events).
  void start(uint8_t event, uint16_t duration, uint8_t volume);
  // The next payload for a packet `interval` units later; `first` is set on the first (M bit).
  struct Out {
    Payload payload;
    bool first = false;
  };
  std::optional<Out> next(uint16_t interval);
  bool active() const { return active_; }

 private:
  bool active_ = false;
  Payload p_;
  uint16_t total_ = 0;
  int end_copies_ = 0;
  bool first_ = false;
};

}  // namespace rfc4733
