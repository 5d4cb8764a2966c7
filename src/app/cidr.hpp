// cidr.hpp — IP networks in CIDR notation ("192.0.2.0/24", "2001:db8::/32") and membership tests,
// for [smtp] trusted_networks and [[trunk]] accept_from.
//
// STANDARDS: RFC 4632 (CIDR notation), RFC 4291 §2.5.5.2 (IPv4-mapped IPv6 addresses),
// RFC 5952 (IPv6 text form, via inet_pton/inet_ntop).
// A bare address ("192.0.2.7", "::1") is a one-host network (/32, /128), as in Postfix's mynetworks.
// A network with bits set after the prefix ("192.0.2.1/24") is refused, not silently masked: it is
// almost always a typo for a different network than the one the admin meant to trust.
// contains() matches an IPv4-mapped IPv6 address (::ffff:192.0.2.7, what a dual-stack socket reports
// for an IPv4 peer) against IPv4 networks, so trusting 127.0.0.0/8 keeps working on such sockets;
// otherwise an IPv4 address never matches an IPv6 network and vice versa.
// LIMITS: numeric addresses only (no host names, no IPv6 zone ids like "fe80::1%eth0": they never match).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace config {

struct Cidr {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};  // network address in network byte order; IPv4 uses the first 4 bytes
  int prefix = 0;                  // 0..32 (IPv4) or 0..128 (IPv6)

  // `text` is ADDRESS or ADDRESS/PREFIX. The error is a short reason ("prefix length must be 0..32"),
  // which the caller puts into its own sentence naming the config key.
  static fb::Result<Cidr, std::string> parse(std::string_view text);

  // False for anything that is not a numeric address of the matching family.
  bool contains(const std::string& ip) const;

  std::string to_string() const;  // canonical form, e.g. "2001:db8::/32"
};

}  // namespace config
