// fax_sdp.cpp — fax offers and answers (see fax_sdp.hpp).
#include "sip/fax_sdp.hpp"

#include <algorithm>
#include <cctype>

namespace fax_sdp {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

sdp::Session session(const Origin& o) {
  sdp::Session s;
  s.origin = "faxbridge " + std::to_string(o.session_id) + " " + std::to_string(o.version) + " IN " +
             std::string(o.ip.find(':') != std::string::npos ? "IP6 " : "IP4 ") + o.ip;
  s.name = "faxbridge";
  s.connection = o.ip;
  return s;
}

sdp::Media t38_media(uint16_t port, const sdp::T38Params& p) {
  sdp::Media m;
  m.type = "image";
  m.port = port;
  m.proto = "udptl";
  m.formats = {"t38"};
  m.attributes = sdp::t38_attributes(p);
  return m;
}

}  // namespace

std::optional<RemoteT38> find_t38(const sdp::Session& s) {
  for (size_t i = 0; i < s.media.size(); ++i) {
    const auto& m = s.media[i];
    if (m.type != "image" || m.port == 0 || !iequals(m.proto, "udptl")) continue;
    auto ip = sdp::address_of(s, m);
    if (!ip) continue;
    auto p = sdp::t38_params(m);
    return RemoteT38{i, *ip, uint16_t(m.port), p ? *p : sdp::T38Params{}};
  }
  return std::nullopt;
}

std::string offer_t38(const Origin& o, uint16_t port, const sdp::T38Params& p) {
  sdp::Session s = session(o);
  s.media.push_back(t38_media(port, p));
  return sdp::serialize(s);
}

T38Answer answer_t38(const sdp::Session& offer, const RemoteT38& stream, const Origin& o, uint16_t port,
                     const sdp::T38Capabilities& caps) {
  T38Answer a;
  a.ours = sdp::answer_t38(stream.params, caps);
  sdp::Session s = session(o);
  for (size_t i = 0; i < offer.media.size(); ++i) {
    const auto& m = offer.media[i];
    if (i == stream.index) {
      s.media.push_back(t38_media(port, a.ours));
      s.media.back().formats = m.formats;
      s.media.back().proto = m.proto;
      continue;
    }
    sdp::Media refused;  // RFC 3264 §6: port 0, the offer's type, protocol and formats
    refused.type = m.type;
    refused.proto = m.proto;
    refused.formats = m.formats;
    s.media.push_back(refused);
  }
  a.sdp = sdp::serialize(s);
  return a;
}

}  // namespace fax_sdp
