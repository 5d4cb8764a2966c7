// message.hpp — SIP messages: parsing, access and serialisation, sans I/O.
//
// STANDARDS: RFC 3261 §7 (messages), §20 (header fields, compact forms), §25 (ABNF: SIP-URI,
// name-addr, via-parm, generic-param), §18.3 (framing over streams: Content-Length), RFC 3581
// (rport), RFC 3892 (Referred-By, compact "b"), RFC 4028 (Session-Expires, compact "x").
// parse() reads one whole message (a UDP datagram, or what StreamFramer cut from TCP/TLS):
// - start line: request (METHOD SP Request-URI SP SIP/2.0) or status (SIP/2.0 SP 3DIGIT SP reason);
// - header fields unfolded (a line starting with SP/HT continues the previous one), names matched
//   case-insensitively and compact forms expanded to the long name; the comma lists of Via,
//   Contact, Route, Record-Route, Allow, Supported, Require, Proxy-Require, Unsupported and
//   Diversion (RFC 5806) are split into one Header per value (commas inside quotes and <> are kept);
// - the mandatory fields of §8.1.1 (To, From, CSeq, Call-ID, Via; Max-Forwards is not demanded, as
//   proxies in the field omit it) checked, CSeq's method checked against a request's method;
// - the body is Content-Length octets (absent: the rest of the datagram); fewer is an error, extra
//   octets after it are dropped (§18.3).
// A message that fails after its headers were read comes back with the headers in
// ParseError::partial, so the caller can answer 400 with the reason (§21.4.1), which is only
// possible when Via, From, To, Call-ID and CSeq are usable.
// LIMITS: kMaxMessageBytes per message, kMaxHeaders fields, kMaxLineBytes per unfolded field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace sip {

inline constexpr size_t kMaxMessageBytes = 65535;
inline constexpr size_t kMaxHeaders = 128;
inline constexpr size_t kMaxLineBytes = 8192;

bool iequals(std::string_view a, std::string_view b);

// ;name=value parameters in order ("" value for a flag such as ;lr or ;rport).
struct Params {
  std::vector<std::pair<std::string, std::string>> list;
  std::optional<std::string> get(std::string_view name) const;  // case-insensitive name
  bool has(std::string_view name) const { return get(name).has_value(); }
  void set(std::string_view name, std::string_view value);
  void remove(std::string_view name);
  std::string to_string() const;  // ";a=b;c"
  bool operator==(const Params&) const = default;
};

struct Uri {
  std::string scheme = "sip";  // sip | sips | tel (lower-cased)
  std::string user;            // as written (escapes kept), "" when absent
  std::string password;
  std::string host;            // "[::1]" keeps its brackets; "" for tel:
  int port = 0;                // 0: not given
  Params params;
  std::string headers;         // after "?", as written
  std::string to_string() const;
  bool operator==(const Uri&) const = default;
};
struct SyntaxError {
  std::string reason;
};
fb::Result<Uri, SyntaxError> parse_uri(std::string_view text);

// From, To, Contact, Route, Record-Route, Referred-By: [display] <uri> ;params, or a bare uri
// (whose ;params then belong to the header, §20.10).
struct NameAddr {
  std::string display;  // unquoted
  Uri uri;
  Params params;        // tag, expires, ...
  std::string to_string() const;
  std::optional<std::string> tag() const { return params.get("tag"); }
};
fb::Result<NameAddr, SyntaxError> parse_name_addr(std::string_view text);

struct Via {
  std::string transport = "UDP";  // upper-cased
  std::string host;
  int port = 0;  // 0: not given
  Params params;
  std::string to_string() const;
  std::string branch() const { return params.get("branch").value_or(""); }
};
fb::Result<Via, SyntaxError> parse_via(std::string_view text);

struct CSeq {
  uint32_t number = 0;
  std::string method;
};
fb::Result<CSeq, SyntaxError> parse_cseq(std::string_view text);

struct Header {
  std::string name;   // the long form: "Call-ID", "Via"; unknown names as written
  std::string value;  // unfolded, trimmed
  bool operator==(const Header&) const = default;
};

class Message {
 public:
  static Message request(std::string method, std::string uri);
  static Message response(int status, std::string reason);

  bool is_request() const { return status == 0; }
  std::string method;  // requests
  std::string uri;     // requests: the Request-URI as written
  int status = 0;      // responses (100-699)
  std::string reason;
  std::vector<Header> headers;
  std::string body;

  // The first value of a field (compact or long name, case-insensitive), or nullopt.
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;
  void add(std::string_view name, std::string value);     // appended
  void set(std::string_view name, std::string value);     // replaces every value
  void prepend(std::string_view name, std::string value); // before the first of that name (a Via)
  void remove(std::string_view name);
  void remove_first(std::string_view name);

  // Typed views of the mandatory fields; parse() has validated them, so these are safe on a
  // parsed message (they return empty values on one built by hand without them).
  std::string call_id() const { return get("Call-ID").value_or(""); }
  CSeq cseq() const;
  std::optional<Via> top_via() const;
  std::optional<NameAddr> from() const;
  std::optional<NameAddr> to() const;

  // Start line, headers (Content-Length set from the body) and body.
  std::string serialize() const;
};

std::string canonical_name(std::string_view name);  // "i" -> "Call-ID", "call-id" -> "Call-ID"
std::string reason_phrase(int status);              // RFC 3261 §21 default phrases

struct ParseError {
  std::string reason;              // one sentence, used as the 400's reason phrase
  std::optional<Message> partial;  // the headers read, when the start line and headers parsed
};
fb::Result<Message, ParseError> parse(std::string_view bytes);

// Cuts messages out of a byte stream (TCP/TLS, §18.3): headers up to CRLFCRLF, then exactly
// Content-Length octets (required on streams; absent means 0). Leading CRLFs (keep-alives,
// RFC 5626 §3.5.1) are skipped. A message over kMaxMessageBytes or a stream that cannot be
// framed is an error: the connection must be closed.
class StreamFramer {
 public:
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete message's bytes, nullopt when more input is needed; an error string when
  // the stream cannot be framed.
  fb::Result<std::optional<std::string>, std::string> next();
  size_t buffered() const { return buffer_.size(); }

 private:
  std::string buffer_;
};

// The session description a message carries (RFC 3261 §20.15, RFC 5621): the body when it is
// application/sdp or has no Content-Type (as peers in the field send it); the first
// application/sdp part of a multipart/mixed or multipart/alternative body (SIP-I/SIP-T carry ISUP
// beside it, RFC 3204), nested multiparts included; nullopt when there is none or the multipart
// body cannot be read (no boundary, no closing delimiter).
std::optional<std::string> session_description(const Message& m);

// A copy of the request's Via, From, To (with tag when given), Call-ID and CSeq in a
// response (§8.2.6.2).
Message make_response(const Message& request, int status, std::string reason = "", std::string to_tag = "");

// Random tokens for tags, branches ("z9hG4bK" + ...) and Call-IDs.
std::string random_token(size_t chars = 16);
std::string new_branch();

}  // namespace sip
