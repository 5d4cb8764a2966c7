// fuzz_sip_message.cpp — libFuzzer target: SIP bytes from the network (UDP datagrams and TCP
// streams). A message that parses must serialise to one that parses to the same fields; the 400
// we would answer to one that does not must have a clean status line; the stream framer must
// never return more bytes than it was fed; the session description taken out of a (multipart)
// body must be a part of the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sip/message.hpp"

namespace {

bool same_fields(const sip::Message& a, const sip::Message& b) {
  auto strip = [](std::vector<sip::Header> h) {
    std::erase_if(h, [](const sip::Header& x) { return x.name == "Content-Length"; });
    return h;
  };
  return strip(a.headers) == strip(b.headers) && a.body == b.body && a.method == b.method && a.uri == b.uri &&
         a.status == b.status;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto m = sip::parse(bytes);
  if (m) {
    auto again = sip::parse(m->serialize());
    if (!again || !same_fields(*m, *again)) __builtin_trap();
    if (auto sdp = sip::session_description(*m); sdp && m->body.find(*sdp) == std::string::npos) __builtin_trap();
    auto r = sip::make_response(*m, 200, "", "tag1");
    if (!sip::parse(r.serialize())) __builtin_trap();
    for (const auto& h : m->headers) {
      if (h.name == "From" || h.name == "To" || h.name == "Contact" || h.name == "Referred-By") {
        auto na = sip::parse_name_addr(h.value);
        if (na && !sip::parse_name_addr(na->to_string())) __builtin_trap();
      }
    }
  } else if (m.error().partial) {
    std::string out = sip::make_response(*m.error().partial, 400, m.error().reason).serialize();
    auto eol = out.find("\r\n");
    for (size_t i = 0; i < eol; ++i) {
      if (static_cast<unsigned char>(out[i]) < 0x20) __builtin_trap();
    }
  }
  sip::StreamFramer f;
  f.feed(bytes);
  size_t total = 0;
  for (int i = 0; i < 100; ++i) {
    auto n = f.next();
    if (!n || !n->has_value()) break;
    total += (*n)->size();
    (void)sip::parse(**n);
  }
  if (total > size) __builtin_trap();
  return 0;
}
