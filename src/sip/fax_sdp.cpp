// fax_sdp.cpp — fax offers and answers (see fax_sdp.hpp).
#include "sip/fax_sdp.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

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

std::optional<int> number(std::string_view v) {
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

// "101 telephone-event/8000" -> (101, "telephone-event", 8000)
struct Rtpmap {
  int pt = -1;
  std::string encoding;
  int rate = 0;
};
std::optional<Rtpmap> rtpmap(std::string_view v) {
  auto sp = v.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  Rtpmap r;
  auto pt = number(v.substr(0, sp));
  if (!pt) return std::nullopt;
  r.pt = *pt;
  auto rest = v.substr(sp + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  auto slash = rest.find('/');
  r.encoding = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) {
    auto rate = rest.substr(slash + 1);
    rate = rate.substr(0, rate.find('/'));
    r.rate = number(rate).value_or(0);
  }
  return r;
}

const sdp::Attribute* attribute(const std::vector<sdp::Attribute>& list, std::string_view name, std::string_view pt_prefix = {}) {
  for (const auto& a : list) {
    if (!iequals(a.name, name)) continue;
    if (pt_prefix.empty() || (a.value.size() > pt_prefix.size() && a.value.starts_with(pt_prefix) && a.value[pt_prefix.size()] == ' ')) return &a;
  }
  return nullptr;
}

std::optional<Direction> direction_of(const std::vector<sdp::Attribute>& list) {
  for (const auto& a : list) {
    if (iequals(a.name, "sendrecv")) return Direction::sendrecv;
    if (iequals(a.name, "sendonly")) return Direction::sendonly;
    if (iequals(a.name, "recvonly")) return Direction::recvonly;
    if (iequals(a.name, "inactive")) return Direction::inactive;
  }
  return std::nullopt;
}

std::string_view direction_name(Direction d) {
  switch (d) {
    case Direction::sendrecv: return "sendrecv";
    case Direction::sendonly: return "sendonly";
    case Direction::recvonly: return "recvonly";
    case Direction::inactive: return "inactive";
  }
  return "sendrecv";
}

Direction mirrored(Direction d) {
  return d == Direction::sendonly ? Direction::recvonly : d == Direction::recvonly ? Direction::sendonly : d;
}

// Does an RFC 4733 fmtp event list ("0-15,32-36,54") include `event`?
bool lists_event(std::string_view list, int event) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    auto dash = item.find('-');
    auto lo = number(item.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : number(item.substr(dash + 1));
    if (lo && hi && event >= *lo && event <= *hi) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

uint8_t static_pt(Codec c) { return c == Codec::pcmu ? 0 : 8; }

}  // namespace

std::string_view name(Codec c) { return c == Codec::pcmu ? "pcmu" : "pcma"; }

std::string offer_audio(const Origin& o, uint16_t port, const AudioOffer& a) {
  sdp::Session s = session(o);
  sdp::Media m;
  m.type = "audio";
  m.port = port;
  m.proto = "RTP/AVP";
  for (Codec c : a.codecs) m.formats.push_back(std::to_string(static_pt(c)));
  if (a.red) {
    for (Codec c : a.codecs) m.formats.push_back(std::to_string(c == Codec::pcmu ? kRedPcmuPt : kRedPcmaPt));
  }
  if (a.events) m.formats.push_back(std::to_string(kEventPt));
  for (Codec c : a.codecs) {
    m.attributes.push_back({"rtpmap", std::to_string(static_pt(c)) + (c == Codec::pcmu ? " PCMU/8000" : " PCMA/8000")});
  }
  if (a.red) {
    for (Codec c : a.codecs) {
      std::string pt = std::to_string(c == Codec::pcmu ? kRedPcmuPt : kRedPcmaPt), b = std::to_string(static_pt(c));
      m.attributes.push_back({"rtpmap", pt + " red/8000"});
      m.attributes.push_back({"fmtp", pt + " " + b + "/" + b + "/" + b});
    }
  }
  if (a.events) {
    m.attributes.push_back({"rtpmap", std::to_string(kEventPt) + " telephone-event/8000"});
    m.attributes.push_back({"fmtp", std::to_string(kEventPt) + " 0-15,32-36,54"});
  }
  m.attributes.push_back({"ptime", "20"});
  m.attributes.push_back({"sendrecv", ""});
  s.media.push_back(m);
  return sdp::serialize(s);
}

std::optional<RemoteAudio> find_audio(const sdp::Session& s, const std::vector<Codec>& ours) {
  for (size_t i = 0; i < s.media.size(); ++i) {
    const auto& m = s.media[i];
    if (m.type != "audio" || m.port == 0 || !(iequals(m.proto, "RTP/AVP") || iequals(m.proto, "RTP/AVPF"))) continue;
    auto ip = sdp::address_of(s, m);
    if (!ip) continue;
    // What each payload type of this section is: rtpmap names, else the static types of RFC 3551.
    auto encoding = [&](int pt) -> std::string {
      if (const auto* a = attribute(m.attributes, "rtpmap", std::to_string(pt))) {
        if (auto r = rtpmap(a->value)) return r->rate == 8000 || r->rate == 0 ? r->encoding : std::string();
      }
      if (pt == 0) return "PCMU";
      if (pt == 8) return "PCMA";
      return "";
    };
    RemoteAudio r;
    bool found = false;
    for (const auto& f : m.formats) {
      auto pt = number(f);
      if (!pt || *pt < 0 || *pt > 127) continue;
      std::string e = encoding(*pt);
      for (Codec c : ours) {
        if (!found && iequals(e, c == Codec::pcmu ? "PCMU" : "PCMA")) {
          r.codec = c;
          r.payload_type = uint8_t(*pt);
          found = true;
        }
      }
    }
    if (!found) continue;
    for (const auto& f : m.formats) {
      auto pt = number(f);
      if (!pt || *pt < 0 || *pt > 127) continue;
      std::string e = encoding(*pt);
      if (iequals(e, "telephone-event") && !r.event_pt) {
        r.event_pt = uint8_t(*pt);
        const auto* fmtp = attribute(m.attributes, "fmtp", f);
        r.fax_events = fmtp && lists_event(std::string_view(fmtp->value).substr(f.size() + 1), 36);
      } else if (iequals(e, "red") && !r.red_pt) {
        // red carrying the chosen codec only: "96 0/0/0"
        const auto* fmtp = attribute(m.attributes, "fmtp", f);
        if (fmtp) {
          std::string_view blocks = std::string_view(fmtp->value).substr(f.size() + 1);
          bool all = !blocks.empty();
          while (!blocks.empty()) {
            auto slash = blocks.find('/');
            if (number(blocks.substr(0, slash)) != int(r.payload_type)) all = false;
            if (slash == std::string_view::npos) break;
            blocks.remove_prefix(slash + 1);
          }
          if (all) r.red_pt = uint8_t(*pt);
        }
      }
    }
    r.index = i;
    r.ip = *ip;
    r.port = uint16_t(m.port);
    r.hold = *ip == "0.0.0.0";
    if (const auto* p = attribute(m.attributes, "ptime")) r.ptime_ms = number(p->value).value_or(0);
    r.direction = direction_of(m.attributes).value_or(direction_of(s.attributes).value_or(Direction::sendrecv));
    return r;
  }
  return std::nullopt;
}

std::string answer_audio(const sdp::Session& offer, const RemoteAudio& stream, const Origin& o, uint16_t port, bool events,
                         bool red) {
  sdp::Session s = session(o);
  for (size_t i = 0; i < offer.media.size(); ++i) {
    const auto& m = offer.media[i];
    sdp::Media a;
    a.type = m.type;
    a.proto = m.proto;
    if (i != stream.index) {
      a.formats = m.formats;  // refused: port 0
      s.media.push_back(a);
      continue;
    }
    a.port = port;
    const std::string pt = std::to_string(stream.payload_type);
    a.formats.push_back(pt);
    a.attributes.push_back({"rtpmap", pt + (stream.codec == Codec::pcmu ? " PCMU/8000" : " PCMA/8000")});
    if (red && stream.red_pt) {
      const std::string r = std::to_string(*stream.red_pt);
      a.formats.push_back(r);
      a.attributes.push_back({"rtpmap", r + " red/8000"});
      a.attributes.push_back({"fmtp", r + " " + pt + "/" + pt + "/" + pt});
    }
    if (events && stream.event_pt) {
      const std::string e = std::to_string(*stream.event_pt);
      a.formats.push_back(e);
      a.attributes.push_back({"rtpmap", e + " telephone-event/8000"});
      const auto* fmtp = attribute(m.attributes, "fmtp", e);
      a.attributes.push_back({"fmtp", e + " " + (fmtp ? fmtp->value.substr(e.size() + 1) : std::string("0-15"))});
    }
    a.attributes.push_back({"ptime", "20"});
    a.attributes.push_back({std::string(direction_name(mirrored(stream.direction))), ""});
    s.media.push_back(a);
  }
  return sdp::serialize(s);
}

std::optional<RemoteT38> find_t38(const sdp::Session& s) {
  for (size_t i = 0; i < s.media.size(); ++i) {
    const auto& m = s.media[i];
    if (m.type != "image" || m.port == 0 || !iequals(m.proto, "udptl")) continue;
    auto ip = sdp::address_of(s, m);
    if (!ip) continue;
    RemoteT38 r{i, *ip, uint16_t(m.port), sdp::t38_params_lenient(m)};
    r.hold = *ip == "0.0.0.0";
    r.direction = direction_of(m.attributes).value_or(direction_of(s.attributes).value_or(Direction::sendrecv));
    return r;
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
      // RFC 3264 §6.1: a held stream (sendonly, inactive) is answered mirrored.
      if (stream.direction != Direction::sendrecv) {
        s.media.back().attributes.push_back({std::string(direction_name(mirrored(stream.direction))), ""});
      }
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
