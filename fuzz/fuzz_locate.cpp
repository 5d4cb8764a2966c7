// fuzz_locate.cpp — libFuzzer target: RFC 3263 location over DNS answers an attacker controls
// (a hostile or spoofed DNS server: any NAPTR services, replacements and SRV targets, any number
// of records, loops back to the same names). Whatever the answers, the Locator ends within
// kMaxQueries queries, gives at most kMaxTargets targets of the transports we speak, each a
// numeric address, and order_targets() returns each of them exactly once.
#include <fuzzer/FuzzedDataProvider.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "sip/locate.hpp"

namespace {

std::string name(FuzzedDataProvider& in) {
  static const char* kNames[] = {"carrier.example", "_sip._udp.carrier.example", "_sip._tcp.carrier.example",
                                 "_sips._tcp.carrier.example", "a.carrier.example", ".", ""};
  if (in.ConsumeBool()) return kNames[in.ConsumeIntegralInRange<size_t>(0, std::size(kNames) - 1)];
  return in.ConsumeRandomLengthString(80);
}

bool numeric(const std::string& ip) {
  unsigned char b[16];
  return inet_pton(AF_INET, ip.c_str(), b) == 1 || inet_pton(AF_INET6, ip.c_str(), b) == 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  static const char* kUris[] = {"sip:carrier.example", "sips:carrier.example", "sip:carrier.example;transport=tcp",
                                "sip:carrier.example:5070", "sip:192.0.2.1", "sip:[2001:db8::1]:5080"};
  auto uri = sip::parse_uri(kUris[in.ConsumeIntegralInRange<size_t>(0, std::size(kUris) - 1)]);
  if (!uri) __builtin_trap();
  sip::Locator l(*uri);
  size_t queries = 0;
  while (auto q = l.next()) {
    if (++queries > sip::kMaxQueries) __builtin_trap();
    sip::DnsAnswer a;
    if (in.ConsumeBool()) a.error = "NXDOMAIN";
    const size_t n = in.ConsumeIntegralInRange<size_t>(0, 40);
    for (size_t i = 0; i < n && in.remaining_bytes() > 0; ++i) {
      switch (q->type) {
        case sip::RrType::naptr: {
          static const char* kServices[] = {"SIP+D2U", "SIP+D2T", "SIPS+D2T", "sip+d2u", "SIP+D2S", "E2U+sip", ""};
          sip::NaptrRecord r;
          r.order = in.ConsumeIntegral<uint16_t>();
          r.preference = in.ConsumeIntegral<uint16_t>();
          r.flags = in.ConsumeBool() ? "s" : in.ConsumeRandomLengthString(3);
          r.service = in.ConsumeBool() ? kServices[in.ConsumeIntegralInRange<size_t>(0, std::size(kServices) - 1)]
                                       : in.ConsumeRandomLengthString(12);
          r.regexp = in.ConsumeBool() ? "" : in.ConsumeRandomLengthString(20);
          r.replacement = name(in);
          a.naptr.push_back(r);
          break;
        }
        case sip::RrType::srv: {
          sip::SrvRecord r;
          r.priority = in.ConsumeIntegral<uint16_t>();
          r.weight = in.ConsumeIntegral<uint16_t>();
          r.port = in.ConsumeIntegral<uint16_t>();
          r.target = in.ConsumeBool() ? "192.0.2." + std::to_string(in.ConsumeIntegral<uint8_t>()) : name(in);
          a.srv.push_back(r);
          break;
        }
        case sip::RrType::a:
        case sip::RrType::aaaa:
          a.addresses.push_back(in.ConsumeBool() ? "198.51.100." + std::to_string(in.ConsumeIntegral<uint8_t>())
                                                 : in.ConsumeRandomLengthString(40));
          break;
      }
    }
    a.ttl = in.ConsumeIntegral<uint32_t>();
    l.answer(a);
  }
  const auto& r = l.result();
  if (r.targets.size() > sip::kMaxTargets) __builtin_trap();
  if (r.targets.empty() && r.error.empty()) __builtin_trap();  // no address and no reason
  for (const auto& t : r.targets) {
    if (!numeric(t.address.ip)) __builtin_trap();
    if (uri->scheme == "sips" && t.address.transport != sip::Transport::tls) __builtin_trap();
  }
  std::mt19937 rng(in.ConsumeIntegral<uint32_t>());
  auto order = sip::order_targets(r.targets, rng);
  if (order.size() != r.targets.size()) __builtin_trap();
  for (const auto& t : r.targets) {
    if (std::count(order.begin(), order.end(), t.address) < 1) __builtin_trap();
  }
  return 0;
}
