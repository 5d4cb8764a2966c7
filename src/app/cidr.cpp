// cidr.cpp — see cidr.hpp.
#include "app/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace config {
namespace {

struct Address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
};

// inet_pton needs a NUL-terminated string; `text` is short, so the copy is cheap.
bool parse_address(std::string_view text, Address& out) {
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out.bytes.data()) == 1) {
    out.v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.bytes.data()) == 1) {
    out.v6 = true;
    return true;
  }
  return false;
}

bool parse_prefix(std::string_view text, int max, int& out) {
  if (text.empty() || text.size() > 3) return false;
  // Digits only: from_chars would stop at a stray character ("24 ", "2x") and still succeed.
  for (char c : text)
    if (c < '0' || c > '9') return false;
  std::from_chars(text.data(), text.data() + text.size(), out);
  return out <= max;
}

bool host_bits_clear(const std::array<uint8_t, 16>& a, int prefix, int bits) {
  for (int i = prefix; i < bits; ++i)
    if (a[i / 8] & (0x80 >> (i % 8))) return false;
  return true;
}

bool prefix_matches(const uint8_t* net, const uint8_t* ip, int prefix) {
  int whole = prefix / 8;
  if (std::memcmp(net, ip, whole) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = uint8_t(0xff << (8 - rest));
  return (net[whole] & mask) == (ip[whole] & mask);
}

// ::ffff:a.b.c.d (RFC 4291 §2.5.5.2) — the IPv4 address a dual-stack socket reports.
bool is_v4_mapped(const std::array<uint8_t, 16>& a) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.data(), kPrefix, 12) == 0;
}

}  // namespace

fb::Result<Cidr, std::string> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  Address a;
  if (!parse_address(text.substr(0, slash), a)) return std::string("not a numeric IPv4 or IPv6 address");
  int bits = a.v6 ? 128 : 32;
  int prefix = bits;
  if (slash != std::string_view::npos && !parse_prefix(text.substr(slash + 1), bits, prefix))
    return "prefix length must be 0.." + std::to_string(bits);
  if (!host_bits_clear(a.bytes, prefix, bits)) return std::string("address has bits set after the prefix");
  Cidr c;
  c.v6 = a.v6;
  c.addr = a.bytes;
  c.prefix = prefix;
  return c;
}

bool Cidr::contains(const std::string& ip) const {
  Address a;
  if (!parse_address(ip, a)) return false;
  if (a.v6 == v6) return prefix_matches(addr.data(), a.bytes.data(), prefix);
  if (!v6 && is_v4_mapped(a.bytes)) return prefix_matches(addr.data(), a.bytes.data() + 12, prefix);
  return false;
}

std::string Cidr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, addr.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix);
}

}  // namespace config
