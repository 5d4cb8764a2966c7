// sdp.hpp — SDP session descriptions and the T.38 offer/answer rules, sans I/O.
//
// STANDARDS: RFC 4566 (SDP), RFC 3264 (offer/answer), ITU-T T.38 Annex D (SDP attributes of
// image/t38), RFC 3362 (image/t38).
// parse() reads a session description strictly enough to refuse garbage (the SIP layer answers
// 488/400 naming the problem) and leniently where peers differ in the field: LF or CRLF line
// ends, attribute names of T.38 matched case-insensitively, and the aliases peers send
// (T38FaxMaxRate for T38MaxBitRate, T38MaxDatagram for T38FaxMaxDatagram).
// answer_t38() applies ../shared/specs/t38-sip.md: version and bit rate are the minimum of
// offer and ours; MaxDatagram is what we can receive; rate management echoes the offer's;
// error correction echoes the offered redundancy or FEC when we support it, else
// t38UDPNoEC — never a scheme we were not offered; fill-bit removal only if both say so;
// MMR/JBIG transcoding never (we do not transcode).
// LIMITS: kMaxSdpBytes, kMaxMedia media sections, kMaxAttributes attributes per section.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace sdp {

inline constexpr size_t kMaxSdpBytes = 16 * 1024;
inline constexpr size_t kMaxMedia = 8;
inline constexpr size_t kMaxAttributes = 64;

struct Attribute {
  std::string name;   // as written
  std::string value;  // "" for a flag attribute
  bool operator==(const Attribute&) const = default;
};

struct Media {
  std::string type;   // "audio", "image"
  int port = 0;       // 0: rejected / disabled stream
  std::string proto;  // "RTP/AVP", "udptl", "UDPTL"
  std::vector<std::string> formats;  // payload types, or "t38"
  std::optional<std::string> connection;  // c= address of this section
  std::vector<Attribute> attributes;
  bool operator==(const Media&) const = default;
};

struct Session {
  std::string origin;  // the o= value
  std::string name = "-";
  std::optional<std::string> connection;  // session-level c= address
  std::vector<Attribute> attributes;      // session-level a=
  std::vector<Media> media;
  bool operator==(const Session&) const = default;
};

struct Error {
  std::string reason;  // "line 3: m= needs a port and a protocol"
};

fb::Result<Session, Error> parse(std::string_view text);
std::string serialize(const Session& s);  // CRLF line ends, RFC 4566 order

// The connection address of a media section (its own c=, else the session's).
std::optional<std::string> address_of(const Session& s, const Media& m);

enum class Ec { none, redundancy, fec };

struct T38Params {
  int version = 0;
  int max_bit_rate = 14400;
  std::string rate_management = "transferredTCF";
  std::optional<int> max_buffer;
  std::optional<int> max_datagram;
  Ec ec = Ec::redundancy;
  bool fill_bit_removal = false;
  bool transcoding_mmr = false;
  bool transcoding_jbig = false;
  bool operator==(const T38Params&) const = default;
};

// The T.38 parameters of an image/t38 media section (defaults for absent attributes).
fb::Result<T38Params, Error> t38_params(const Media& m);
// The same, reading past an attribute it cannot read (that one keeps its default; peers in the
// field send one odd value among good ones): the problems go to `unreadable`.
T38Params t38_params_lenient(const Media& m, std::vector<std::string>* unreadable = nullptr);
// The a= lines for T.38 parameters, in the customary order.
std::vector<Attribute> t38_attributes(const T38Params& p);

struct T38Capabilities {
  int max_version = 0;
  int max_bit_rate = 14400;
  int max_datagram = 400;  // what we accept per UDPTL datagram
  int max_buffer = 2000;
  bool redundancy = true;
  bool fec = true;
  bool fill_bit_removal = false;
};

T38Params answer_t38(const T38Params& offer, const T38Capabilities& ours);

}  // namespace sdp
