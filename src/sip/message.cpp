// message.cpp — SIP message codec (see message.hpp).
#include "sip/message.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <random>

namespace sip {
namespace {

char lower(char c) { return char(std::tolower(static_cast<unsigned char>(c))); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

bool is_token_char(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return std::isalnum(u) || std::string_view("-.!%*_+`'~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char); }

bool has_ctl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::optional<int> to_int(std::string_view s, int max) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > max) return std::nullopt;
  return int(v);
}

// Splits on `sep` outside double quotes (with backslash escapes) and, when `angles`, outside <>.
std::vector<std::string_view> split_outside(std::string_view s, char sep, bool angles) {
  std::vector<std::string_view> out;
  bool quoted = false;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (c == '\\' && i + 1 < s.size()) ++i;
      else if (c == '"') quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (angles && c == '<') {
      ++depth;
    } else if (angles && c == '>' && depth > 0) {
      --depth;
    } else if (c == sep && depth == 0) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

fb::Result<Params, SyntaxError> parse_params(std::string_view s) {
  Params p;
  s = trim(s);
  if (s.empty()) return p;
  if (s.front() != ';') return SyntaxError{"expected ';' before parameters"};
  auto parts = split_outside(s.substr(1), ';', false);
  for (auto part : parts) {
    part = trim(part);
    if (part.empty()) return SyntaxError{"an empty parameter"};
    auto eq = part.find('=');
    std::string_view name = trim(part.substr(0, eq));
    std::string_view value = eq == std::string_view::npos ? std::string_view() : trim(part.substr(eq + 1));
    if (!is_token(name)) return SyntaxError{"a parameter name is not a token"};
    if (has_ctl(value)) return SyntaxError{"a parameter value holds control characters"};
    if (eq != std::string_view::npos && value.empty()) return SyntaxError{"parameter " + std::string(name) + " has an empty value"};
    if (p.list.size() >= 64) return SyntaxError{"more than 64 parameters"};
    p.list.emplace_back(std::string(name), std::string(value));
  }
  return p;
}

bool valid_host(std::string_view h) {
  if (h.empty() || h.size() > 255) return false;
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return false;
    return std::all_of(h.begin() + 1, h.end() - 1, [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    });
  }
  return std::all_of(h.begin(), h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

// host[:port]
fb::Result<std::pair<std::string, int>, SyntaxError> parse_hostport(std::string_view s) {
  std::string_view host = s, port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return SyntaxError{"an IPv6 reference lacks its ']'"};
    host = s.substr(0, close + 1);
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return SyntaxError{"junk after an IPv6 reference"};
      port = rest.substr(1);
      if (port.empty()) return SyntaxError{"an empty port"};
    }
  } else if (auto colon = s.find(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (port.empty()) return SyntaxError{"an empty port"};
  }
  if (!valid_host(host)) return SyntaxError{"the host \"" + std::string(host.substr(0, 64)) + "\" is not a host name or address"};
  int p = 0;
  if (!port.empty()) {
    auto v = to_int(port, 65535);
    if (!v || *v == 0) return SyntaxError{"the port is not a number from 1 to 65535"};
    p = *v;
  }
  return std::pair<std::string, int>{std::string(host), p};
}

struct NameEntry {
  std::string_view lower_long, canonical, compact;
};
constexpr std::array<NameEntry, 45> kNames{{
    {"accept", "Accept", ""},
    {"accept-contact", "Accept-Contact", "a"},
    {"allow", "Allow", ""},
    {"allow-events", "Allow-Events", "u"},
    {"authorization", "Authorization", ""},
    {"call-id", "Call-ID", "i"},
    {"contact", "Contact", "m"},
    {"content-disposition", "Content-Disposition", ""},
    {"content-encoding", "Content-Encoding", "e"},
    {"content-length", "Content-Length", "l"},
    {"content-type", "Content-Type", "c"},
    {"cseq", "CSeq", ""},
    {"date", "Date", ""},
    {"diversion", "Diversion", ""},
    {"event", "Event", "o"},
    {"expires", "Expires", ""},
    {"from", "From", "f"},
    {"identity", "Identity", "y"},
    {"identity-info", "Identity-Info", "n"},
    {"max-forwards", "Max-Forwards", ""},
    {"min-expires", "Min-Expires", ""},
    {"min-se", "Min-SE", ""},
    {"p-asserted-identity", "P-Asserted-Identity", ""},
    {"privacy", "Privacy", ""},
    {"proxy-authenticate", "Proxy-Authenticate", ""},
    {"proxy-authorization", "Proxy-Authorization", ""},
    {"proxy-require", "Proxy-Require", ""},
    {"reason", "Reason", ""},
    {"record-route", "Record-Route", ""},
    {"refer-to", "Refer-To", "r"},
    {"referred-by", "Referred-By", "b"},
    {"reject-contact", "Reject-Contact", "j"},
    {"request-disposition", "Request-Disposition", "d"},
    {"require", "Require", ""},
    {"retry-after", "Retry-After", ""},
    {"route", "Route", ""},
    {"server", "Server", ""},
    {"session-expires", "Session-Expires", "x"},
    {"subject", "Subject", "s"},
    {"supported", "Supported", "k"},
    {"to", "To", "t"},
    {"unsupported", "Unsupported", ""},
    {"user-agent", "User-Agent", ""},
    {"via", "Via", "v"},
    {"www-authenticate", "WWW-Authenticate", ""},
}};

bool is_list_header(std::string_view canonical) {
  static constexpr std::array<std::string_view, 10> kLists{"Via",      "Contact",       "Route",      "Record-Route",
                                                           "Allow",    "Supported",     "Require",    "Proxy-Require",
                                                           "Unsupported", "Diversion"};
  return std::find(kLists.begin(), kLists.end(), canonical) != kLists.end();
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string canonical_name(std::string_view name) {
  for (const auto& e : kNames) {
    if (iequals(name, e.lower_long) || (!e.compact.empty() && iequals(name, e.compact))) return std::string(e.canonical);
  }
  return std::string(name);
}

std::optional<std::string> Params::get(std::string_view name) const {
  for (const auto& [k, v] : list) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

void Params::set(std::string_view name, std::string_view value) {
  for (auto& [k, v] : list) {
    if (iequals(k, name)) {
      v = value;
      return;
    }
  }
  list.emplace_back(std::string(name), std::string(value));
}

void Params::remove(std::string_view name) {
  std::erase_if(list, [&](const auto& kv) { return iequals(kv.first, name); });
}

std::string Params::to_string() const {
  std::string out;
  for (const auto& [k, v] : list) {
    out += ';';
    out += k;
    if (!v.empty()) out += '=' + v;
  }
  return out;
}

fb::Result<Uri, SyntaxError> parse_uri(std::string_view text) {
  text = trim(text);
  if (text.size() > kMaxLineBytes) return SyntaxError{"the URI is too long"};
  if (has_ctl(text) || text.find(' ') != std::string_view::npos) return SyntaxError{"the URI holds spaces or control characters"};
  // RFC 3261 §25.1: <, > and " are never part of a URI (escaped as %3C, %3E, %22 when meant).
  if (text.find_first_of("<>\"") != std::string_view::npos) return SyntaxError{"the URI holds <, > or a quote"};
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return SyntaxError{"the URI has no scheme"};
  Uri u;
  u.scheme.clear();
  for (char c : text.substr(0, colon)) u.scheme += lower(c);
  std::string_view rest = text.substr(colon + 1);
  if (u.scheme == "tel") {
    auto semi = rest.find(';');
    u.user = std::string(rest.substr(0, semi));
    if (u.user.empty()) return SyntaxError{"a tel: URI without a number"};
    if (semi != std::string_view::npos) {
      auto p = parse_params(rest.substr(semi));
      if (!p) return p.error();
      u.params = std::move(*p);
    }
    return u;
  }
  if (u.scheme != "sip" && u.scheme != "sips") return SyntaxError{"the URI scheme " + u.scheme + " is not sip, sips or tel"};
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    u.headers = std::string(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (auto c = userinfo.find(':'); c != std::string_view::npos) {
      u.password = std::string(userinfo.substr(c + 1));
      userinfo = userinfo.substr(0, c);
    }
    if (userinfo.empty()) return SyntaxError{"the URI has an '@' but no user"};
    if (userinfo.find_first_of("<>\"") != std::string_view::npos) return SyntaxError{"the URI's user part holds <, > or a quote"};
    u.user = std::string(userinfo);
  }
  auto semi = rest.find(';');
  auto hp = parse_hostport(rest.substr(0, semi));
  if (!hp) return hp.error();
  u.host = hp->first;
  u.port = hp->second;
  if (semi != std::string_view::npos) {
    auto p = parse_params(rest.substr(semi));
    if (!p) return p.error();
    u.params = std::move(*p);
  }
  return u;
}

std::string Uri::to_string() const {
  std::string out = scheme + ":";
  if (scheme == "tel") return out + user + params.to_string();
  if (!user.empty()) {
    out += user;
    if (!password.empty()) out += ":" + password;
    out += "@";
  }
  out += host;
  if (port) out += ":" + std::to_string(port);
  out += params.to_string();
  if (!headers.empty()) out += "?" + headers;
  return out;
}

fb::Result<NameAddr, SyntaxError> parse_name_addr(std::string_view text) {
  text = trim(text);
  NameAddr na;
  std::string_view rest = text;
  if (!rest.empty() && rest.front() == '"') {
    size_t i = 1;
    std::string display;
    bool closed = false;
    for (; i < rest.size(); ++i) {
      if (rest[i] == '\\' && i + 1 < rest.size()) {
        display += rest[++i];
      } else if (rest[i] == '"') {
        closed = true;
        break;
      } else {
        display += rest[i];
      }
    }
    if (!closed) return SyntaxError{"a display name lacks its closing quote"};
    na.display = display;
    rest = trim(rest.substr(i + 1));
    if (rest.empty() || rest.front() != '<') return SyntaxError{"a quoted display name must be followed by <URI>"};
  }
  auto open = rest.find('<');
  if (open != std::string_view::npos) {
    auto close = rest.find('>', open);
    if (close == std::string_view::npos) return SyntaxError{"a '<' without its '>'"};
    if (na.display.empty()) na.display = std::string(trim(rest.substr(0, open)));
    auto uri = parse_uri(rest.substr(open + 1, close - open - 1));
    if (!uri) return uri.error();
    na.uri = std::move(*uri);
    rest = rest.substr(close + 1);
  } else {
    auto semi = rest.find(';');
    auto uri = parse_uri(rest.substr(0, semi));
    if (!uri) return uri.error();
    na.uri = std::move(*uri);
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi);
  }
  auto p = parse_params(rest);
  if (!p) return p.error();
  na.params = std::move(*p);
  return na;
}

std::string NameAddr::to_string() const {
  std::string out;
  if (!display.empty()) out = quote(display) + " ";
  return out + "<" + uri.to_string() + ">" + params.to_string();
}

fb::Result<Via, SyntaxError> parse_via(std::string_view text) {
  text = trim(text);
  // sent-protocol: name LWS? "/" LWS? version LWS? "/" LWS? transport
  std::string proto;
  size_t i = 0;
  int slashes = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '/') {
      ++slashes;
      proto += c;
    } else if (c == ' ' || c == '\t') {
      if (slashes == 2 && proto.back() != '/') break;
    } else if (is_token_char(c)) {
      proto += c;
    } else {
      return SyntaxError{"the Via protocol is malformed"};
    }
  }
  auto parts = split_outside(proto, '/', false);
  if (parts.size() != 3 || !iequals(parts[0], "SIP") || parts[1] != "2.0" || parts[2].empty()) {
    return SyntaxError{"the Via does not start with SIP/2.0/<transport>"};
  }
  Via v;
  v.transport.clear();
  for (char c : parts[2]) v.transport += char(std::toupper(static_cast<unsigned char>(c)));
  std::string_view rest = trim(text.substr(i));
  auto semi = rest.find(';');
  auto hp = parse_hostport(trim(rest.substr(0, semi)));
  if (!hp) return hp.error();
  v.host = hp->first;
  v.port = hp->second;
  if (semi != std::string_view::npos) {
    auto p = parse_params(rest.substr(semi));
    if (!p) return p.error();
    v.params = std::move(*p);
  }
  return v;
}

std::string Via::to_string() const {
  std::string out = "SIP/2.0/" + transport + " " + host;
  if (port) out += ":" + std::to_string(port);
  return out + params.to_string();
}

fb::Result<CSeq, SyntaxError> parse_cseq(std::string_view text) {
  text = trim(text);
  auto sp = text.find_first_of(" \t");
  if (sp == std::string_view::npos) return SyntaxError{"CSeq needs a number and a method"};
  std::string_view num = text.substr(0, sp);
  std::string_view method = trim(text.substr(sp));
  if (num.empty() || num.size() > 10 || !std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return SyntaxError{"the CSeq number is not a number"};
  }
  uint64_t n = 0;
  std::from_chars(num.data(), num.data() + num.size(), n);
  if (n > 0xffffffffULL) return SyntaxError{"the CSeq number is larger than 2**32-1"};
  if (!is_token(method)) return SyntaxError{"the CSeq method is not a token"};
  return CSeq{uint32_t(n), std::string(method)};
}

Message Message::request(std::string method, std::string uri) {
  Message m;
  m.method = std::move(method);
  m.uri = std::move(uri);
  return m;
}

Message Message::response(int status, std::string reason) {
  Message m;
  m.status = status;
  m.reason = reason.empty() ? reason_phrase(status) : std::move(reason);
  // A reason may quote the peer's bytes: never let them break the status line.
  for (auto& c : m.reason) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return m;
}

std::optional<std::string> Message::get(std::string_view name) const {
  std::string canon = canonical_name(name);
  for (const auto& h : headers) {
    if (iequals(h.name, canon)) return h.value;
  }
  return std::nullopt;
}

std::vector<std::string> Message::all(std::string_view name) const {
  std::string canon = canonical_name(name);
  std::vector<std::string> out;
  for (const auto& h : headers) {
    if (iequals(h.name, canon)) out.push_back(h.value);
  }
  return out;
}

void Message::add(std::string_view name, std::string value) { headers.push_back({canonical_name(name), std::move(value)}); }

void Message::set(std::string_view name, std::string value) {
  std::string canon = canonical_name(name);
  auto it = std::find_if(headers.begin(), headers.end(), [&](const Header& h) { return iequals(h.name, canon); });
  if (it == headers.end()) {
    headers.push_back({canon, std::move(value)});
    return;
  }
  it->value = std::move(value);
  headers.erase(std::remove_if(it + 1, headers.end(), [&](const Header& h) { return iequals(h.name, canon); }), headers.end());
}

void Message::prepend(std::string_view name, std::string value) {
  std::string canon = canonical_name(name);
  auto it = std::find_if(headers.begin(), headers.end(), [&](const Header& h) { return iequals(h.name, canon); });
  headers.insert(it, {canon, std::move(value)});
}

void Message::remove(std::string_view name) {
  std::string canon = canonical_name(name);
  std::erase_if(headers, [&](const Header& h) { return iequals(h.name, canon); });
}

void Message::remove_first(std::string_view name) {
  std::string canon = canonical_name(name);
  auto it = std::find_if(headers.begin(), headers.end(), [&](const Header& h) { return iequals(h.name, canon); });
  if (it != headers.end()) headers.erase(it);
}

CSeq Message::cseq() const {
  auto v = get("CSeq");
  if (!v) return {};
  auto c = parse_cseq(*v);
  return c ? *c : CSeq{};
}

std::optional<Via> Message::top_via() const {
  auto v = get("Via");
  if (!v) return std::nullopt;
  auto p = parse_via(*v);
  if (!p) return std::nullopt;
  return *p;
}

std::optional<NameAddr> Message::from() const {
  auto v = get("From");
  if (!v) return std::nullopt;
  auto p = parse_name_addr(*v);
  if (!p) return std::nullopt;
  return *p;
}

std::optional<NameAddr> Message::to() const {
  auto v = get("To");
  if (!v) return std::nullopt;
  auto p = parse_name_addr(*v);
  if (!p) return std::nullopt;
  return *p;
}

std::string Message::serialize() const {
  std::string out;
  out.reserve(512 + body.size());
  if (is_request()) {
    out += method + " " + uri + " SIP/2.0\r\n";
  } else {
    out += "SIP/2.0 " + std::to_string(status) + " " + reason + "\r\n";
  }
  for (const auto& h : headers) {
    if (iequals(h.name, "Content-Length")) continue;
    out += h.name + ": " + h.value + "\r\n";
  }
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

std::string reason_phrase(int status) {
  switch (status) {
    case 100: return "Trying";
    case 180: return "Ringing";
    case 181: return "Call Is Being Forwarded";
    case 182: return "Queued";
    case 183: return "Session Progress";
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 415: return "Unsupported Media Type";
    case 420: return "Bad Extension";
    case 422: return "Session Interval Too Small";
    case 480: return "Temporarily Unavailable";
    case 481: return "Call/Transaction Does Not Exist";
    case 482: return "Loop Detected";
    case 483: return "Too Many Hops";
    case 484: return "Address Incomplete";
    case 486: return "Busy Here";
    case 487: return "Request Terminated";
    case 488: return "Not Acceptable Here";
    case 491: return "Request Pending";
    case 500: return "Server Internal Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Server Time-out";
    case 505: return "Version Not Supported";
    case 513: return "Message Too Large";
    case 600: return "Busy Everywhere";
    case 603: return "Decline";
    case 604: return "Does Not Exist Anywhere";
    case 606: return "Not Acceptable";
    default: return status < 200 ? "Progress" : status < 300 ? "OK" : "Error";
  }
}

fb::Result<Message, ParseError> parse(std::string_view bytes) {
  if (bytes.size() > kMaxMessageBytes) return ParseError{"the message is larger than 65535 octets", std::nullopt};
  while (bytes.starts_with("\r\n")) bytes.remove_prefix(2);
  // The header block ends at the first empty line (CRLF CRLF; a bare LF is tolerated).
  size_t end = std::string_view::npos, body_start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\n') continue;
    if (i + 1 < bytes.size() && bytes[i + 1] == '\n') {
      end = i;
      body_start = i + 2;
      break;
    }
    if (i + 2 < bytes.size() && bytes[i + 1] == '\r' && bytes[i + 2] == '\n') {
      end = i;
      body_start = i + 3;
      break;
    }
  }
  if (end == std::string_view::npos) return ParseError{"the header section does not end with an empty line", std::nullopt};
  std::string_view head = bytes.substr(0, end);
  std::string_view body = bytes.substr(body_start);

  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos <= head.size();) {
    size_t nl = head.find('\n', pos);
    std::string_view line = head.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }

  Message m;
  std::string_view start = lines.front();
  if (has_ctl(start)) return ParseError{"the start line holds control characters", std::nullopt};
  if (start.size() >= 8 && iequals(start.substr(0, 8), "SIP/2.0 ")) {
    std::string_view rest = start.substr(8);
    auto code = to_int(rest.substr(0, 3), 699);
    if (!code || *code < 100 || (rest.size() > 3 && rest[3] != ' ')) return ParseError{"the status code is not 100-699", std::nullopt};
    m.status = *code;
    m.reason = rest.size() > 4 ? std::string(rest.substr(4)) : "";
  } else {
    auto sp1 = start.find(' ');
    auto sp2 = start.rfind(' ');
    if (sp1 == std::string_view::npos || sp1 == sp2) return ParseError{"the start line is not METHOD URI SIP/2.0", std::nullopt};
    std::string_view method = start.substr(0, sp1);
    std::string_view uri = start.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = start.substr(sp2 + 1);
    if (!is_token(method)) return ParseError{"the method is not a token", std::nullopt};
    if (!iequals(version, "SIP/2.0")) return ParseError{"the SIP version is not 2.0", std::nullopt};
    m.method = std::string(method);
    m.uri = std::string(uri);
  }

  std::string current_name, current_value;
  auto flush = [&]() -> std::optional<std::string> {
    if (current_name.empty()) return std::nullopt;
    std::string canon = canonical_name(current_name);
    std::string_view value = trim(current_value);
    if (value.size() > kMaxLineBytes) return "the " + canon + " field is longer than 8192 octets";
    if (is_list_header(canon)) {
      for (auto part : split_outside(value, ',', true)) {
        part = trim(part);
        if (part.empty()) continue;
        m.headers.push_back({canon, std::string(part)});
      }
    } else {
      m.headers.push_back({canon, std::string(value)});
    }
    if (m.headers.size() > kMaxHeaders) return std::string("more than 128 header fields");
    current_name.clear();
    current_value.clear();
    return std::nullopt;
  };
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.find('\0') != std::string_view::npos) return ParseError{"a header field holds a NUL", std::nullopt};
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      if (current_name.empty()) return ParseError{"a continuation line with no field before it", std::nullopt};
      if (current_value.size() + line.size() > kMaxLineBytes) return ParseError{"a folded field is longer than 8192 octets", std::nullopt};
      current_value += ' ';
      current_value += trim(line);
      continue;
    }
    if (auto e = flush()) return ParseError{*e, std::nullopt};
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return ParseError{"a header line has no ':'", std::nullopt};
    std::string_view name = trim(line.substr(0, colon));
    if (!is_token(name)) return ParseError{"a header field name is not a token", std::nullopt};
    current_name = std::string(name);
    current_value = std::string(line.substr(colon + 1));
  }
  if (auto e = flush()) return ParseError{*e, std::nullopt};

  auto fail = [&](std::string reason) -> fb::Result<Message, ParseError> {
    Message partial = m;
    return ParseError{std::move(reason), std::move(partial)};
  };
  // Body: Content-Length octets (§18.3), the rest of the datagram when absent.
  if (auto cl = m.get("Content-Length")) {
    auto n = to_int(trim(*cl), int(kMaxMessageBytes));
    if (!n) return fail("Content-Length is not a number");
    if (size_t(*n) > body.size()) return fail("the body is shorter than Content-Length");
    body = body.substr(0, size_t(*n));
  }
  m.body = std::string(body);

  for (std::string_view required : {"Via", "From", "To", "Call-ID", "CSeq"}) {
    if (!m.get(required)) return fail("the " + std::string(required) + " field is missing");
  }
  if (m.all("From").size() > 1 || m.all("To").size() > 1 || m.all("Call-ID").size() > 1 || m.all("CSeq").size() > 1) {
    return fail("From, To, Call-ID and CSeq may each appear only once");
  }
  for (const auto& v : m.all("Via")) {
    if (auto via = parse_via(v); !via) return fail("a Via is malformed: " + via.error().reason);
  }
  auto cseq = parse_cseq(*m.get("CSeq"));
  if (!cseq) return fail(cseq.error().reason);
  if (auto f = parse_name_addr(*m.get("From")); !f) return fail("the From is malformed: " + f.error().reason);
  if (auto t = parse_name_addr(*m.get("To")); !t) return fail("the To is malformed: " + t.error().reason);
  if (trim(*m.get("Call-ID")).empty()) return fail("the Call-ID is empty");
  if (m.is_request()) {
    if (cseq->method != m.method) return fail("the CSeq method differs from the request method");
    if (auto u = parse_uri(m.uri); !u) return fail("the Request-URI is malformed: " + u.error().reason);
    if (auto mf = m.get("Max-Forwards"); mf && !to_int(trim(*mf), 255)) return fail("Max-Forwards is not 0-255");
  }
  return m;
}

fb::Result<std::optional<std::string>, std::string> StreamFramer::next() {
  size_t skip = 0;
  while (skip + 1 < buffer_.size() && buffer_[skip] == '\r' && buffer_[skip + 1] == '\n') skip += 2;
  if (skip) buffer_.erase(0, skip);
  auto end = buffer_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (buffer_.size() > kMaxMessageBytes) return std::string("a header section longer than 65535 octets");
    return std::optional<std::string>();
  }
  std::string_view head(buffer_.data(), end);
  size_t length = 0;
  for (size_t pos = 0; pos < head.size();) {
    size_t nl = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? head.size() : nl + 2;
    auto colon = line.find(':');
    if (colon == std::string_view::npos || line.front() == ' ' || line.front() == '\t') continue;
    if (canonical_name(trim(line.substr(0, colon))) != "Content-Length") continue;
    auto n = to_int(trim(line.substr(colon + 1)), int(kMaxMessageBytes));
    if (!n) return std::string("a Content-Length that is not a number up to 65535");
    length = size_t(*n);
  }
  size_t total = end + 4 + length;
  if (total > kMaxMessageBytes) return std::string("a message larger than 65535 octets");
  if (buffer_.size() < total) return std::optional<std::string>();
  std::string msg = buffer_.substr(0, total);
  buffer_.erase(0, total);
  return std::optional<std::string>(std::move(msg));
}


namespace {

std::string media_type(std::string_view content_type) {
  std::string v(content_type.substr(0, content_type.find(';')));
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
  size_t b = 0;
  while (b < v.size() && (v[b] == ' ' || v[b] == '\t')) ++b;
  v = v.substr(b);
  for (auto& c : v) c = char(std::tolower(static_cast<unsigned char>(c)));
  return v;
}

std::optional<std::string> boundary_of(std::string_view content_type) {
  size_t i = 0;
  while ((i = content_type.find(';', i)) != std::string_view::npos) {
    ++i;
    while (i < content_type.size() && content_type[i] == ' ') ++i;
    if (content_type.size() - i > 9 && iequals(content_type.substr(i, 9), "boundary=")) {
      std::string_view v = content_type.substr(i + 9);
      if (!v.empty() && v.front() == '"') {
        auto q = v.find('"', 1);
        if (q == std::string_view::npos) return std::nullopt;
        v = v.substr(1, q - 1);
      } else {
        v = v.substr(0, v.find_first_of("; \t"));
      }
      if (v.empty() || v.size() > 70) return std::nullopt;  // RFC 2046 §5.1.1
      return std::string(v);
    }
  }
  return std::nullopt;
}

std::optional<std::string> sdp_in(std::string_view content_type, std::string_view body, int depth) {
  const std::string type = content_type.empty() ? "application/sdp" : media_type(content_type);
  if (type == "application/sdp") return std::string(body);
  if (!type.starts_with("multipart/") || depth > 3) return std::nullopt;
  auto boundary = boundary_of(content_type);
  if (!boundary) return std::nullopt;
  const std::string delim = "--" + *boundary;
  // Each part starts after a delimiter line and ends at the CRLF before the next delimiter.
  size_t pos = body.starts_with(delim) ? 0 : body.find("\n" + delim);
  if (pos == std::string_view::npos) return std::nullopt;
  if (pos != 0) ++pos;
  while (true) {
    size_t after = pos + delim.size();
    if (body.substr(after, 2) == "--") return std::nullopt;  // the close: no SDP part
    size_t line_end = body.find('\n', after);
    if (line_end == std::string_view::npos) return std::nullopt;
    size_t next = body.find("\n" + delim, line_end);
    if (next == std::string_view::npos) return std::nullopt;  // no closing delimiter
    std::string_view part = body.substr(line_end + 1, next - line_end - 1);
    if (part.ends_with("\r")) part.remove_suffix(1);
    // The part's headers end at its first empty line; only Content-Type matters here.
    size_t hdr_end = part.find("\r\n\r\n");
    size_t body_at = hdr_end == std::string_view::npos ? std::string_view::npos : hdr_end + 4;
    if (hdr_end == std::string_view::npos) {
      hdr_end = part.find("\n\n");
      body_at = hdr_end == std::string_view::npos ? std::string_view::npos : hdr_end + 2;
    }
    if (part.starts_with("\r\n") || part.starts_with("\n")) {
      hdr_end = 0;
      body_at = part.starts_with("\r\n") ? 2 : 1;  // no headers: text/plain by RFC 2046, not SDP
    }
    if (body_at != std::string_view::npos) {
      std::string_view headers = part.substr(0, hdr_end);
      std::string_view ctype;
      size_t ls = 0;
      while (ls < headers.size()) {
        size_t le = headers.find('\n', ls);
        std::string_view line = headers.substr(ls, le == std::string_view::npos ? std::string_view::npos : le - ls);
        if (line.ends_with("\r")) line.remove_suffix(1);
        if (line.size() > 13 && iequals(line.substr(0, 13), "content-type:")) ctype = line.substr(13);
        if (le == std::string_view::npos) break;
        ls = le + 1;
      }
      if (!ctype.empty()) {
        if (auto found = sdp_in(ctype, part.substr(body_at), depth + 1)) return found;
      }
    }
    pos = next + 1;
  }
}

}  // namespace

std::optional<std::string> session_description(const Message& m) {
  return sdp_in(m.get("Content-Type").value_or(""), m.body, 0);
}

Message make_response(const Message& request, int status, std::string reason, std::string to_tag) {
  Message r = Message::response(status, std::move(reason));
  for (const auto& h : request.headers) {
    if (h.name == "Via") r.headers.push_back(h);
  }
  if (auto f = request.get("From")) r.add("From", *f);
  if (auto t = request.get("To")) {
    std::string to = *t;
    if (!to_tag.empty()) {
      auto na = parse_name_addr(to);
      if (na && !na->tag()) to += ";tag=" + to_tag;
    }
    r.add("To", to);
  }
  if (auto c = request.get("Call-ID")) r.add("Call-ID", *c);
  if (auto c = request.get("CSeq")) r.add("CSeq", *c);
  return r;
}

std::string random_token(size_t chars) {
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out(chars, ' ');
  for (auto& c : out) c = kAlphabet[rng() % kAlphabet.size()];
  return out;
}

std::string new_branch() { return "z9hG4bK" + random_token(20); }

}  // namespace sip
