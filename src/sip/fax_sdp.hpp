// fax_sdp.hpp — SDP offer/answer for a fax call: what we offer, how we answer an offer, and which
// stream of a peer's description carries the fax. Sans I/O; the gateway opens the sockets.
//
// STANDARDS: RFC 3264 (offer/answer: one m-line in the answer per m-line of the offer, in order,
// refused streams with port 0, §6; o= version incremented for each new description, §8), RFC 4566
// (SDP), RFC 3362 (image/t38), ITU-T T.38 Annex D (attributes; negotiation in sdp.hpp
// answer_t38), ../shared/specs/t38-sip.md.
// The T.38 stream of a description is its first `m=image <port != 0> udptl t38` section with a
// connection address. Parameters that do not parse are taken as the defaults.
// LIMITS: those of sdp::parse.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sip/sdp.hpp"

namespace fax_sdp {

// Our o= line: "faxbridge <session_id> <version> IN IP4|IP6 <ip>"; the same ip is our c=.
struct Origin {
  std::string ip;
  uint64_t session_id = 0;
  uint64_t version = 1;
};

// A peer's T.38 stream.
struct RemoteT38 {
  size_t index = 0;  // its m-line
  std::string ip;
  uint16_t port = 0;
  sdp::T38Params params;  // as offered or answered (defaults where absent or unreadable)
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

}  // namespace fax_sdp
