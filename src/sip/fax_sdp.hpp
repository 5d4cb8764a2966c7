// fax_sdp.hpp — SDP offer/answer for a fax call: what we offer, how we answer an offer, and which
// stream of a peer's description carries the fax. Sans I/O; the gateway opens the sockets.
//
// STANDARDS: RFC 3264 (offer/answer: one m-line in the answer per m-line of the offer, in order,
// refused streams with port 0, §6; o= version incremented for each new description, §8), RFC 4566
// (SDP), RFC 3362 (image/t38), ITU-T T.38 Annex D (attributes; negotiation in sdp.hpp
// answer_t38), ../shared/specs/t38-sip.md.
// The T.38 stream of a description is its first `m=image <port != 0> udptl t38` section with a
// connection address. A parameter that does not parse is taken as its default, the others as
// written. Its direction and hold are read as for audio and answered mirrored.
// Audio (RFC 3551, RFC 4733 §2.4.1, RFC 2198 §5): the audio stream is the first `m=audio <port
// != 0> RTP/AVP` section carrying PCMU or PCMA (static 0/8, or by rtpmap name); its codec is the
// first of the offerer's list we support. We offer PCMU, PCMA, red (RFC 2198 redundancy: one
// payload type per codec) and telephone-event with the fax events; an answer keeps the offer's
// payload type numbers (telephone-event included), and takes red only for the chosen codec.
// Direction (RFC 3264 §6.1, §8.4): a=sendonly/recvonly/inactive (media level over session
// level) is answered mirrored; c=0.0.0.0 (RFC 2543 hold) counts as the peer not receiving.
// ptime is read (10-30 ms packets are all accepted by the receiver); we always send 20 ms.
// LIMITS: those of sdp::parse.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sip/sdp.hpp"

namespace fax_sdp {

// Our o= line: "faxbridge <session_id> <version> IN IP4|IP6 <ip>"; the same ip is our c=.
struct Origin {
  std::string ip;
  uint64_t session_id = 0;
  uint64_t version = 1;
};

enum class Direction { sendrecv, sendonly, recvonly, inactive };

// A peer's T.38 stream.
struct RemoteT38 {
  size_t index = 0;  // its m-line
  std::string ip;
  uint16_t port = 0;
  sdp::T38Params params;  // as offered or answered (defaults where absent or unreadable, each on its own)
  Direction direction = Direction::sendrecv;  // a=sendonly/recvonly/inactive (media over session)
  bool hold = false;                          // c=0.0.0.0
  bool receives() const { return !hold && (direction == Direction::sendrecv || direction == Direction::recvonly); }
};
std::optional<RemoteT38> find_t38(const sdp::Session& s);

// Our offer of T.38 alone (m=image udptl t38 with every T.38 attribute).
std::string offer_t38(const Origin& o, uint16_t port, const sdp::T38Params& p);

// Our answer to an offer whose T.38 stream is `stream`: one m-line per offered one, in order,
// only the T.38 stream accepted (on `port`), with the parameters answer_t38 gives.
struct T38Answer {
  std::string sdp;
  sdp::T38Params ours;
};
T38Answer answer_t38(const sdp::Session& offer, const RemoteT38& stream, const Origin& o, uint16_t port,
                     const sdp::T38Capabilities& caps);

enum class Codec { pcmu, pcma };
std::string_view name(Codec c);  // "pcmu", "pcma" (INTERFACES.md `media` values)

// Our payload type numbers in an offer (an answer keeps the offerer's).
inline constexpr uint8_t kRedPcmuPt = 96;
inline constexpr uint8_t kRedPcmaPt = 97;
inline constexpr uint8_t kEventPt = 101;

struct AudioOffer {
  std::vector<Codec> codecs = {Codec::pcmu, Codec::pcma};
  bool events = true;  // telephone-event with the fax events
  bool red = true;     // RFC 2198 redundancy
};
std::string offer_audio(const Origin& o, uint16_t port, const AudioOffer& a);

// A peer's audio stream.
struct RemoteAudio {
  size_t index = 0;
  std::string ip;
  uint16_t port = 0;
  Codec codec = Codec::pcmu;
  uint8_t payload_type = 0;
  std::optional<uint8_t> event_pt;  // telephone-event/8000
  bool fax_events = false;          // its events include CNG (fmtp), so it may be sent
  std::optional<uint8_t> red_pt;    // red/8000 carrying `codec`
  int ptime_ms = 0;                 // 0: not said
  Direction direction = Direction::sendrecv;
  bool hold = false;                // c=0.0.0.0: it receives nothing
  bool receives() const { return !hold && (direction == Direction::sendrecv || direction == Direction::recvonly); }
  bool sends() const { return direction == Direction::sendrecv || direction == Direction::sendonly; }
};
std::optional<RemoteAudio> find_audio(const sdp::Session& s, const std::vector<Codec>& ours = {Codec::pcmu, Codec::pcma});

// Our answer to an offer whose audio stream is `stream`: one m-line per offered one, in order, only
// the audio accepted (on `port`) with its codec, its telephone-event (when `events`) and its red
// (when `red`), direction mirrored.
std::string answer_audio(const sdp::Session& offer, const RemoteAudio& stream, const Origin& o, uint16_t port,
                         bool events, bool red);

}  // namespace fax_sdp
