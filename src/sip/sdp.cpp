// sdp.cpp — SDP parsing, serialisation and T.38 negotiation (see sdp.hpp).
#include "sip/sdp.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace sdp {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<int> to_int(std::string_view s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// "c=IN IP4 192.0.2.1" -> the address; nullopt when malformed.
std::optional<std::string> connection_address(std::string_view v) {
  auto w = words(v);
  if (w.size() != 3 || w[0] != "IN" || (w[1] != "IP4" && w[1] != "IP6")) return std::nullopt;
  return w[2];
}

Attribute attribute(std::string_view v) {
  auto colon = v.find(':');
  if (colon == std::string_view::npos) return {std::string(v), ""};
  return {std::string(v.substr(0, colon)), std::string(v.substr(colon + 1))};
}

}  // namespace

fb::Result<Session, Error> parse(std::string_view text) {
  if (text.size() > kMaxSdpBytes) return Error{"the session description is larger than 16 KiB"};
  Session s;
  Media* media = nullptr;
  bool seen_v = false, seen_o = false;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (line.size() < 2 || line[1] != '=' || !std::islower(static_cast<unsigned char>(line[0]))) {
      return Error{where + "not a <type>=<value> line"};
    }
    char type = line[0];
    std::string_view v = line.substr(2);
    if (!seen_v && type != 'v') return Error{where + "the description must start with v="};
    switch (type) {
      case 'v':
        if (v != "0") return Error{where + "only SDP version 0 is known"};
        seen_v = true;
        break;
      case 'o':
        if (words(v).size() != 6) return Error{where + "o= needs six fields"};
        s.origin = std::string(v);
        seen_o = true;
        break;
      case 's':
        s.name = std::string(v);
        break;
      case 'c': {
        auto addr = connection_address(v);
        if (!addr) return Error{where + "c= must be \"IN IP4|IP6 <address>\""};
        if (media) media->connection = addr;
        else s.connection = addr;
        break;
      }
      case 'm': {
        auto w = words(v);
        if (w.size() < 4) return Error{where + "m= needs a media type, a port, a protocol and formats"};
        std::string_view port_text = w[1];
        if (auto slash = port_text.find('/'); slash != std::string_view::npos) port_text = port_text.substr(0, slash);
        auto port = to_int(port_text);
        if (!port || *port > 65535) return Error{where + "m= port is not a number in 0..65535"};
        if (s.media.size() >= kMaxMedia) return Error{where + "more than 8 media sections"};
        s.media.push_back(Media{w[0], *port, w[2], std::vector<std::string>(w.begin() + 3, w.end()), {}, {}});
        media = &s.media.back();
        break;
      }
      case 'a': {
        auto& list = media ? media->attributes : s.attributes;
        if (list.size() >= kMaxAttributes) return Error{where + "more than 64 attributes"};
        list.push_back(attribute(v));
        break;
      }
      default:
        break;  // t=, b=, k=, i=, u=, e=, p=, z=, r=: not needed for a fax call
    }
  }
  if (!seen_v) return Error{"empty session description"};
  if (!seen_o) return Error{"no o= line"};
  for (const auto& m : s.media) {
    if (!address_of(s, m)) return Error{"the " + m.type + " stream has no connection address (c=)"};
  }
  return s;
}

std::optional<std::string> address_of(const Session& s, const Media& m) {
  return m.connection ? m.connection : s.connection;
}

std::string serialize(const Session& s) {
  auto c_line = [](const std::string& addr) {
    return "c=IN " + std::string(addr.find(':') != std::string::npos ? "IP6 " : "IP4 ") + addr + "\r\n";
  };
  std::string out = "v=0\r\no=" + s.origin + "\r\ns=" + s.name + "\r\n";
  if (s.connection) out += c_line(*s.connection);
  out += "t=0 0\r\n";
  for (const auto& a : s.attributes) out += "a=" + a.name + (a.value.empty() ? "" : ":" + a.value) + "\r\n";
  for (const auto& m : s.media) {
    out += "m=" + m.type + " " + std::to_string(m.port) + " " + m.proto;
    for (const auto& f : m.formats) out += " " + f;
    out += "\r\n";
    if (m.connection) out += c_line(*m.connection);
    for (const auto& a : m.attributes) out += "a=" + a.name + (a.value.empty() ? "" : ":" + a.value) + "\r\n";
  }
  return out;
}

namespace {

// One T.38 attribute into `p`; the problem when its value cannot be read (p is left as it was).
std::optional<std::string> read_t38_attribute(const Attribute& a, T38Params& p) {
  const std::string& n = a.name;
  auto number = [&](std::optional<int>& out) -> bool {
    auto v = to_int(a.value);
    if (!v) return false;
    out = v;
    return true;
  };
  std::optional<int> v;
  if (iequals(n, "T38FaxVersion")) {
    if (!number(v) || *v > 255) return "T38FaxVersion is not a number";
    p.version = *v;
  } else if (iequals(n, "T38MaxBitRate") || iequals(n, "T38FaxMaxRate")) {
    if (!number(v)) return "T38MaxBitRate is not a number";
    p.max_bit_rate = *v;
  } else if (iequals(n, "T38FaxRateManagement")) {
    p.rate_management = a.value;
  } else if (iequals(n, "T38FaxMaxBuffer")) {
    if (!number(v)) return "T38FaxMaxBuffer is not a number";
    p.max_buffer = v;
  } else if (iequals(n, "T38FaxMaxDatagram") || iequals(n, "T38MaxDatagram")) {
    if (!number(v)) return "T38FaxMaxDatagram is not a number";
    p.max_datagram = v;
  } else if (iequals(n, "T38FaxUdpEC")) {
    if (iequals(a.value, "t38UDPRedundancy")) p.ec = Ec::redundancy;
    else if (iequals(a.value, "t38UDPFEC")) p.ec = Ec::fec;
    else if (iequals(a.value, "t38UDPNoEC")) p.ec = Ec::none;
    else return "unknown T38FaxUdpEC " + a.value;
  } else if (iequals(n, "T38FaxFillBitRemoval")) {
    p.fill_bit_removal = a.value.empty() || a.value == "1";  // a flag, or "0"/"1" from some peers
  } else if (iequals(n, "T38FaxTranscodingMMR")) {
    p.transcoding_mmr = a.value.empty() || a.value == "1";
  } else if (iequals(n, "T38FaxTranscodingJBIG")) {
    p.transcoding_jbig = a.value.empty() || a.value == "1";
  }
  return std::nullopt;
}

}  // namespace

fb::Result<T38Params, Error> t38_params(const Media& m) {
  T38Params p;
  p.ec = Ec::none;  // absent T38FaxUdpEC: no error correction was offered
  for (const auto& a : m.attributes) {
    if (auto e = read_t38_attribute(a, p)) return Error{*e};
  }
  return p;
}

T38Params t38_params_lenient(const Media& m, std::vector<std::string>* unreadable) {
  T38Params p;
  p.ec = Ec::none;
  for (const auto& a : m.attributes) {
    auto e = read_t38_attribute(a, p);
    if (e && unreadable) unreadable->push_back(*e);
  }
  return p;
}

std::vector<Attribute> t38_attributes(const T38Params& p) {
  std::vector<Attribute> a = {{"T38FaxVersion", std::to_string(p.version)},
                              {"T38MaxBitRate", std::to_string(p.max_bit_rate)},
                              {"T38FaxRateManagement", p.rate_management}};
  if (p.max_buffer) a.push_back({"T38FaxMaxBuffer", std::to_string(*p.max_buffer)});
  if (p.max_datagram) a.push_back({"T38FaxMaxDatagram", std::to_string(*p.max_datagram)});
  a.push_back({"T38FaxUdpEC", p.ec == Ec::fec ? "t38UDPFEC" : p.ec == Ec::redundancy ? "t38UDPRedundancy" : "t38UDPNoEC"});
  if (p.fill_bit_removal) a.push_back({"T38FaxFillBitRemoval", ""});
  if (p.transcoding_mmr) a.push_back({"T38FaxTranscodingMMR", ""});
  if (p.transcoding_jbig) a.push_back({"T38FaxTranscodingJBIG", ""});
  return a;
}

T38Params answer_t38(const T38Params& offer, const T38Capabilities& ours) {
  T38Params a;
  a.version = std::min(offer.version, ours.max_version);
  a.max_bit_rate = std::min(offer.max_bit_rate, ours.max_bit_rate);
  a.rate_management = offer.rate_management;  // echoed (transferredTCF is what UDP needs)
  a.max_buffer = ours.max_buffer;
  a.max_datagram = ours.max_datagram;  // what we can receive
  a.ec = offer.ec == Ec::redundancy && ours.redundancy ? Ec::redundancy
         : offer.ec == Ec::fec && ours.fec             ? Ec::fec
                                                       : Ec::none;
  a.fill_bit_removal = offer.fill_bit_removal && ours.fill_bit_removal;
  a.transcoding_mmr = false;
  a.transcoding_jbig = false;
  return a;
}

}  // namespace sdp
