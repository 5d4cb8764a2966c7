// config.cpp — see config.hpp. Reading is two passes over one sticky error: Table reads each key with
// its type, range and syntax (so a message can quote the offending value), then validate() checks what
// spans keys (pairs that go together, required keys, uniqueness). After the first error every later
// read is a no-op, so the code reads straight through without checking after each key.
#include "app/config.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>

#include <toml++/toml.h>

#include "address/dialing_policy.hpp"
#include "address/e164.hpp"
#include "app/cidr.hpp"

namespace config {
namespace {

// What `serve` runs with no --config, and what --print-default-config shows: the INTERFACES.md example,
// with the keys whose default is derived or optional shown as comments.
constexpr std::string_view kEmbeddedDefault = R"toml(# faxbridge — the embedded default configuration.
# It is what `faxbridge serve` runs with no --config.
# Save it, edit it and run `faxbridge serve --config FILE`. Every key has a default; unknown keys are
# an error. Relative paths are relative to the working directory of `serve`.

[node]
data_dir = "var"
# min_free_mb = 200                      # below it MAIL gets 452 4.3.1 and inbound INVITEs 503
# spool_dir = "var/spool"                # default <data_dir>/spool
# user = "faxbridge"                     # serve drops root after binding its ports
# name = "node1"                         # this node's name in a cluster (default: the host name)
# lease_s = 30                           # a dead node's jobs are taken over after this

[smtp]
listen = ["127.0.0.1:2525"]
domains = ["fax.localhost"]              # FAX=...@<one of these> is ours
trusted_networks = ["127.0.0.0/8", "::1/128"]  # may send without AUTH
max_message_bytes = 26214400
# max_recipients = 100  max_sessions = 200  idle_timeout_s = 300
# sender_messages_per_hour = 100  sender_recipients_per_hour = 500   # 0 = no limit
# hostname = ""                          # "" = this machine's name
# tls_cert = "cert.pem"  tls_key = "key.pem"   # enables STARTTLS
# [[smtp.user]]  name = "alice"  password_hash = "..."   # AUTH PLAIN/LOGIN

[dialing]                                # outbound number policy (E.164 prefixes, "+" included)
# allow = ["+1"]                         # default: the country code of [fax] station_id only; ["+"] = all
deny = ["+1900", "+1976"]                # plus built-in premium-rate defaults, documented

[fax]
station_id = "+15550100"                 # our TSI/CSID (max 20 chars)
header = "faxbridge"                     # page header line on transmitted pages ("" for none)
paper = "a4"                             # a4 | letter: the page size for text
resolution = "fine"                      # standard | fine | superfine: what sent faxes are rendered at
cover_senders = []                       # addresses, "@domain" or "*": always a cover page (else X-Fax-Cover: yes)
detect_s = 8                             # how long an audio call to a shared voice/fax number may show no fax sign
# t38_memory_s = 86400  t38_memory_digits = 0   # destinations whose T.38 failed start on audio this long
# max_inbound_pages = 200  max_inbound_call_s = 3600   # an inbound call is hung up past these (0: no cap)
# missed_notices_per_caller_per_hour = 2                # missed-call notices mailed per caller

[sip]
listen = ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]   # also tls:HOST:PORT with tls_cert/tls_key
# media_port_min = 20000  media_port_max = 29999
# media_threads = 0                      # threads carrying calls' media (0 = one per core)
# advertise = "203.0.113.5"              # the address written in Via, Contact and SDP (behind NAT)
# unknown_sources = "reject"             # reject (one stateless 403 a minute) | drop: requests from no trunk's hosts

[[trunk]]
name = "loopback"
uri = "sip:127.0.0.1:5060"               # where calls go (proxy or peer)
t38 = "prefer"                           # prefer: start as audio, switch to T.38 on fax detection, G.711 if
                                         #   refused | only: offer T.38 first, never fax on audio | off: G.711 only
# codecs = ["pcmu", "pcma"]              # audio offered/accepted, in order of preference
udptl_ec = "redundancy"                  # none | redundancy | fec
max_channels = 30
calls_per_second = 20                    # new calls started a second at most (carriers limit it); 0 = no limit
# prefixes = ["+"]                       # numbers this trunk serves (longest match;
                                         # trunks in order for failover)
# accept_from = ["192.0.2.0/24"]         # inbound calls are accepted from the uri's host
                                         # and these; others get 403
# caller_id = "+15550100"                # From user on outbound calls
# country_code = "1"  national_prefix = "1"   # to normalise inbound DIDs to E.164
# ring_timeout_s = 60
# username = "...", password = "...", register = false
# options_interval_s = 30                # OPTIONS health pings (0 = off); a silent trunk is skipped by failover
# t38_max_datagram = 0                   # override the peer's T38FaxMaxDatagram (0 = trust the peer)
# latch_media = true                     # send media where the peer's packets come from (NAT); false
                                         # for a peer with asymmetric RTP: to its SDP's address only

[retry]                                  # outbound faxes
max_dials = 12                           # busy / no answer / congestion
max_tries = 3                            # calls that reached a fax machine but failed (T.30) or sent part
busy_delay_s = 120
no_answer_delay_s = 300
failure_delay_s = 60                     # a T.30 failure
congestion_delay_s = 60                  # trunk congestion, no free channel
partial_delay_s = 60                     # some pages went: the rest follow
kill_after_s = 10800                     # give up and report failure after this long

[[route]]                                # inbound fax → mailbox
did = "+15550100"                        # or: subaddress = "42", or: default = true
mailbox = "fax@localhost"                # a string or a list of addresses
attach = ["pdf", "tiff"]
# voice_uri = "sip:voicemail@pbx.example.com"  # shared voice/fax number: a call with no fax sign within
#                                        #   [fax] detect_s is transferred here by REFER
# ocr = true                             # central number: route by the cover page's addressee or barcode
# ocr_copy = false                       # also mail a fax routed so to this route's mailboxes

# [ldap]  uri = "ldap://127.0.0.1:389"  base = "..."  filter = "(facsimileTelephoneNumber=%s)"
#         mail_attribute = "mail"  allow_attribute = "..."   # directory routing for DIDs no [[route]] matches
# [[window]]  prefixes = ["+1"]  hours = "08:00-21:00"  days = ["mon", "tue", "wed", "thu", "fri"]
#             timezone = "America/New_York"     # when faxes to these numbers may be sent (default: any time)
# [reject]  callers = ["+1555..."]       # junk-fax blocking: inbound calls from these get 603
# [exchange]  servers = ["192.0.2.10"]  recipient_domains = ["example.com"]   # who may refer faxes to us,
#             and for whom (an Exchange Referred-By from anywhere else is ignored)
# [ocr]  languages = ["eng", "deu", "fra", "spa"]  max_delay_s = 30   # received faxes read: searchable PDFs

[delivery]
mode = "maildir"                         # maildir | smtp | lmtp
# maildir = "var/mail"                   # default <data_dir>/mail; <maildir>/<address>/{tmp,new,cur}
# smarthost = "127.0.0.1:25"  lmtp = "127.0.0.1:24"  (+ username, password, tls_client_cert, tls_client_key)
# tls = "may"                            # may | encrypt | verify; default verify with credentials, else may
from = "fax@fax.localhost"               # default fax@<first smtp domain>
postmaster = "postmaster@localhost"      # unroutable faxes, permanent delivery failures

[dsn]
success = false                          # report success when NOTIFY was not given
delay = true                             # report delays when NOTIFY was not given

[http]
listen = "127.0.0.1:8025"                # a string or a list
# tokens = true                          # every API request needs Authorization: Bearer <token>
# hosts = ["fax.example.com"]            # names the API is reached by, besides IP addresses and localhost

[store]
# url = "sqlite:var/faxbridge.db"        # default sqlite:<data_dir>/faxbridge.db; postgresql://user@host:port/db (several nodes share it)
)toml";

// ---- enumerations: one table per enum serves both parsing and to_string ----

template <class E>
struct Choice {
  std::string_view name;
  E value;
};

constexpr Choice<Paper> kPapers[] = {{"a4", Paper::a4}, {"letter", Paper::letter}};
constexpr Choice<Resolution> kResolutions[] = {
    {"standard", Resolution::standard}, {"fine", Resolution::fine}, {"superfine", Resolution::superfine}};
constexpr Choice<T38Mode> kT38Modes[] = {
    {"prefer", T38Mode::prefer}, {"only", T38Mode::only}, {"off", T38Mode::off}};
constexpr Choice<UdptlEc> kUdptlEcs[] = {
    {"none", UdptlEc::none}, {"redundancy", UdptlEc::redundancy}, {"fec", UdptlEc::fec}};
constexpr Choice<Attach> kAttachments[] = {{"pdf", Attach::pdf}, {"tiff", Attach::tiff}};
constexpr Choice<Codec> kCodecs[] = {{"pcmu", Codec::pcmu}, {"pcma", Codec::pcma}};
constexpr Choice<DeliveryMode> kDeliveryModes[] = {
    {"maildir", DeliveryMode::maildir}, {"smtp", DeliveryMode::smtp}, {"lmtp", DeliveryMode::lmtp}};
constexpr Choice<fb::LogFormat> kLogFormats[] = {
    {"text", fb::LogFormat::text}, {"json", fb::LogFormat::json}, {"logfmt", fb::LogFormat::logfmt}};
constexpr Choice<fb::LogLevel> kLogLevels[] = {{"debug", fb::LogLevel::debug},
                                               {"info", fb::LogLevel::info},
                                               {"warn", fb::LogLevel::warn},
                                               {"error", fb::LogLevel::error}};
constexpr Choice<DeliveryTls> kDeliveryTls[] = {
    {"may", DeliveryTls::may}, {"encrypt", DeliveryTls::encrypt}, {"verify", DeliveryTls::verify}};
constexpr Choice<UnknownSources> kUnknownSources[] = {
    {"reject", UnknownSources::reject}, {"drop", UnknownSources::drop}};
constexpr Choice<SipTransport> kSipTransports[] = {
    {"udp", SipTransport::udp}, {"tcp", SipTransport::tcp}, {"tls", SipTransport::tls}};

template <class E>
std::string_view name_of(std::span<const Choice<E>> choices, E value) {
  for (const auto& c : choices)
    if (c.value == value) return c.name;
  return "?";
}

// "a, b or c" — the wording of every enumeration error.
template <class E>
std::string alternatives(std::span<const Choice<E>> choices) {
  std::string s;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) s += i + 1 == choices.size() ? " or " : ", ";
    s += choices[i].name;
  }
  return s;
}

// ---- value syntax ----

// A value as TOML would write it, so the admin can search the file for it.
std::string as_toml(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

std::string must_be(std::string_view what, std::string_view value) {
  return "must be " + std::string(what) + ", not " + as_toml(value);
}

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_ipv4(std::string_view s) {
  in_addr a;
  return inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
}

bool is_ipv6(std::string_view s) {
  in6_addr a;
  return inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

// RFC 1123 host name or dotted IPv4; a name made only of digits and dots must be a real IPv4 address,
// so "127.0.0.256" is caught here rather than by a resolver at start-up.
bool is_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  if (s.find_first_not_of("0123456789.") == std::string_view::npos) return is_ipv4(s);
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = std::min(s.find('.', start), s.size());
    std::string_view label = s.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    start = end + 1;
  }
  return true;
}

bool is_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || !all_digits(s)) return false;
  int port = std::stoi(std::string(s));
  return port >= 1 && port <= 65535;
}

bool is_e164(std::string_view s) {
  return s.size() >= 2 && s.size() <= 16 && s[0] == '+' && all_digits(s.substr(1));
}

// local@domain with no spaces or angle brackets: enough to catch a typo without an RFC 5322 parser.
bool is_mail_address(std::string_view s) {
  auto at = s.rfind('@');
  if (at == std::string_view::npos || at == 0) return false;
  for (unsigned char c : s.substr(0, at))
    if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>') return false;
  return is_host_name(s.substr(at + 1));
}

bool is_printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// ---- per-key checks: nullopt when fine, else the problem (following the key path) ----

using Check = std::optional<std::string> (*)(std::string_view);

std::optional<std::string> check_host_port(std::string_view v) {
  if (parse_host_port(v)) return std::nullopt;
  return must_be("HOST:PORT with a port from 1 to 65535 (IPv6 as [::1]:25)", v);
}

std::optional<std::string> check_optional_host_port(std::string_view v) {
  return v.empty() ? std::nullopt : check_host_port(v);
}

std::optional<std::string> check_sip_listen(std::string_view v) {
  if (parse_sip_listen(v)) return std::nullopt;
  return must_be("udp:, tcp: or tls: then HOST:PORT with a port from 1 to 65535", v);
}

std::optional<std::string> check_cidr(std::string_view v) {
  auto c = Cidr::parse(v);
  if (c) return std::nullopt;
  return must_be("a network like 192.0.2.0/24 or 2001:db8::/32", v) + " (" + c.error() + ")";
}

std::optional<std::string> check_optional_advertise(std::string_view v) {
  if (v.empty() || is_host_name(v) || is_ipv6(v)) return std::nullopt;
  return must_be("an IP address or a host name (the address written in Via, Contact and SDP)", v);
}

std::optional<std::string> check_domain(std::string_view v) {
  if (is_host_name(v)) return std::nullopt;
  return must_be("a domain name", v);
}

std::optional<std::string> check_optional_domain(std::string_view v) {
  return v.empty() ? std::nullopt : check_domain(v);
}

std::optional<std::string> check_e164(std::string_view v) {
  if (is_e164(v)) return std::nullopt;
  return must_be("an E.164 number (+ and 1 to 15 digits)", v);
}

std::optional<std::string> check_optional_e164(std::string_view v) {
  return v.empty() ? std::nullopt : check_e164(v);
}

std::optional<std::string> check_e164_prefix(std::string_view v) {
  if (is_e164(v)) return std::nullopt;
  return must_be("an E.164 prefix (+ and 1 to 15 digits)", v);
}

// Where "+" alone means "every number" makes sense: dialing.allow, trunk.prefixes.
std::optional<std::string> check_e164_prefix_or_plus(std::string_view v) {
  if (v == "+" || is_e164(v)) return std::nullopt;
  return must_be("+ or an E.164 prefix (+ and 1 to 15 digits)", v);
}

std::optional<std::string> check_station_id(std::string_view v) {
  if (v.size() <= 20 && is_printable_ascii(v)) return std::nullopt;
  return must_be("at most 20 printable ASCII characters (T.30 TSI/CSID)", v);
}

std::optional<std::string> check_one_line(std::string_view v) {
  if (!has_control(v)) return std::nullopt;
  return must_be("one line without control characters", v);
}

std::optional<std::string> check_cover_sender(std::string_view v) {
  const bool ok = v == "*" || (!v.empty() && v.find_first_of(" \t<>") == std::string_view::npos &&
                               v.find('@') != std::string_view::npos && !has_control(v));
  if (ok) return std::nullopt;
  return must_be("an address, \"@domain\" or \"*\"", v);
}

// A user name as useradd takes it: [a-z_][a-z0-9_-]*, at most 32, an optional final '$'.
std::optional<std::string> check_user_name(std::string_view v) {
  auto ok_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; };
  bool ok = !v.empty() && v.size() <= 32 && ((v[0] >= 'a' && v[0] <= 'z') || v[0] == '_');
  for (size_t i = 1; ok && i < v.size(); ++i) ok = ok_char(v[i]) || (v[i] == '$' && i + 1 == v.size());
  if (ok) return std::nullopt;
  return must_be("a user name (lowercase letters, digits, '_' and '-', at most 32)", v);
}

// A node name: what the store records as a job's owner, and logs show.
std::optional<std::string> check_node_name(std::string_view v) {
  auto ok_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  };
  bool ok = !v.empty() && v.size() <= 64;
  for (char c : v) ok = ok && ok_char(c);
  if (ok) return std::nullopt;
  return must_be("a node name (letters, digits, '.', '_' and '-', at most 64)", v);
}

std::optional<std::string> check_path(std::string_view v) {
  if (!v.empty() && !has_control(v)) return std::nullopt;
  return must_be("a path", v);
}

std::optional<std::string> check_sip_uri(std::string_view v);
std::optional<std::string> check_optional_sip_uri(std::string_view v) {
  if (v.empty()) return std::nullopt;
  return check_sip_uri(v);
}

std::optional<std::string> check_sip_uri(std::string_view v) {
  bool ok = (v.starts_with("sip:") && v.size() > 4) || (v.starts_with("sips:") && v.size() > 5);
  if (ok && v.find_first_of(" \t\r\n<>\"") == std::string_view::npos) return std::nullopt;
  return must_be("a SIP URI like sip:HOST[:PORT] or sips:HOST[:PORT]", v);
}

std::optional<std::string> check_country_code(std::string_view v) {
  if (v.size() <= 3 && all_digits(v)) return std::nullopt;
  return must_be("1 to 3 digits", v);
}

std::optional<std::string> check_national_prefix(std::string_view v) {
  if (v.size() <= 4 && all_digits(v)) return std::nullopt;
  return must_be("0 to 4 digits", v);
}

std::optional<std::string> check_subaddress(std::string_view v) {
  if (v.empty() || (v.size() <= 20 && all_digits(v))) return std::nullopt;
  return must_be("1 to 20 digits", v);
}

std::optional<std::string> check_mail_address(std::string_view v) {
  if (is_mail_address(v)) return std::nullopt;
  return must_be("a mail address like fax@example.com", v);
}

std::optional<std::string> check_ldap_uri(std::string_view v) {
  if (v.empty() || v.starts_with("ldap://") || v.starts_with("ldaps://") || v.starts_with("ldapi://"))
    return std::nullopt;
  return must_be("an ldap://, ldaps:// or ldapi:// URI", v);
}

// An RFC 4515 filter in parentheses, without %s (it is not asked about one number).
std::optional<std::string> check_people_filter(std::string_view v) {
  if (v.size() >= 3 && v.front() == '(' && v.back() == ')' && !has_control(v)) return std::nullopt;
  return must_be("an LDAP filter in parentheses", v);
}

std::optional<std::string> check_ldap_filter(std::string_view v) {
  if (v.find("%s") != std::string_view::npos && !has_control(v)) return std::nullopt;
  return must_be("an LDAP filter with %s where the number goes", v);
}

std::optional<std::string> check_store_url(std::string_view v) {
  if (v.starts_with("sqlite:") && v.size() > 7 && !has_control(v)) return std::nullopt;
  const bool pg = v.starts_with("postgresql://") || v.starts_with("postgres://");
  if (pg && v.find_first_of(" \t") == std::string_view::npos && !has_control(v)) return std::nullopt;
  // The value as written, but never a password: the userinfo of the URL is not shown.
  std::string shown(v);
  if (const auto s = shown.find("://"); pg && s != std::string::npos) {
    const auto end = shown.find('/', s + 3);
    const auto at = shown.rfind('@', end);
    if (at != std::string::npos && at > s + 3) shown.replace(s + 3, at - (s + 3), "***");
    if (const auto p = shown.find("password="); p != std::string::npos) shown = shown.substr(0, p) + "password=***";
  }
  return must_be("sqlite:PATH or postgresql://[user[:password]@]host[:port]/database[?...]", shown);
}

// ---- reading ----

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "a list";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

// Keeps the first error only: the one the admin should fix first, and the one a test can pin down.
class Errors {
 public:
  explicit Errors(std::string source) : source_(std::move(source)) {}
  void fail(const std::string& problem) {
    if (!first_) first_ = source_ + ": " + problem;
  }
  bool failed() const { return first_.has_value(); }
  ConfigError error() const { return ConfigError{*first_}; }

 private:
  std::string source_;
  std::optional<std::string> first_;
};

enum class Shape { list, string_or_list };

// One TOML table being read. Every key read is remembered, so finish() can name the keys nobody read.
// A missing table (null) reads as empty: every key keeps its default.
class Table {
 public:
  Table(Errors& errors, const toml::table* table, std::string path)
      : errors_(&errors), table_(table), path_(std::move(path)) {}

  std::string path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  bool has(std::string_view key) const { return table_ && table_->contains(key); }

  // Returns whether the key was present (so derived defaults know when to apply).
  bool str(std::string_view key, std::string& out, Check check = nullptr) {
    const toml::node* n = take(key);
    if (!n) return false;
    read_string(*n, path(key), out, check);
    return true;
  }

  void flag(std::string_view key, bool& out) {
    const toml::node* n = take(key);
    if (!n) return;
    if (auto b = n->as_boolean())
      out = b->get();
    else
      wrong_type(path(key), "a boolean", *n);
  }

  template <class Int>
  void integer(std::string_view key, Int& out, int64_t min, int64_t max) {
    const toml::node* n = take(key);
    if (!n) return;
    auto i = n->as_integer();
    if (!i) return wrong_type(path(key), "an integer", *n);
    if (i->get() < min || i->get() > max)
      return fail(path(key) + " must be from " + std::to_string(min) + " to " + std::to_string(max) +
                  ", not " + std::to_string(i->get()));
    out = static_cast<Int>(i->get());
  }

  void list(std::string_view key, std::vector<std::string>& out, Check check, Shape shape = Shape::list) {
    const toml::node* n = take(key);
    if (!n) return;
    if (shape == Shape::string_or_list && n->is_string()) {
      out.assign(1, {});
      return read_string(*n, path(key), out[0], check);
    }
    auto a = n->as_array();
    if (!a) {
      const char* want = shape == Shape::list ? "a list of strings" : "a string or a list of strings";
      return wrong_type(path(key), want, *n);
    }
    out.assign(a->size(), {});
    for (std::size_t i = 0; i < a->size(); ++i) read_string(*a->get(i), indexed(key, i), out[i], check);
  }

  template <class E>
  void choice(std::string_view key, E& out, std::span<const Choice<E>> choices) {
    std::string s;
    if (str(key, s)) pick(path(key), s, out, choices);
  }

  // A list of distinct choices, in the order given (route.attach).
  template <class E>
  void choice_list(std::string_view key, std::vector<E>& out, std::span<const Choice<E>> choices) {
    std::vector<std::string> names;
    list(key, names, nullptr);
    if (!has(key) || errors_->failed()) return;
    out.assign(names.size(), E{});
    for (std::size_t i = 0; i < names.size(); ++i) {
      pick(indexed(key, i), names[i], out[i], choices);
      if (std::find(out.begin(), out.begin() + i, out[i]) != out.begin() + i)
        return fail(path(key) + " lists " + names[i] + " twice");
    }
  }

  Table sub(std::string_view key) {
    const toml::node* n = take(key);
    if (n && !n->is_table()) wrong_type(path(key), "a table", *n);
    return Table(*errors_, n ? n->as_table() : nullptr, path(key));
  }

  // [[key]] blocks, each read as its own table "key[i]".
  std::vector<Table> array(std::string_view key) {
    std::vector<Table> out;
    const toml::node* n = take(key);
    if (!n) return out;
    auto a = n->as_array();
    if (!a) {
      wrong_type(path(key), "blocks of [[" + path(key) + "]]", *n);
      return out;
    }
    for (std::size_t i = 0; i < a->size(); ++i) {
      const toml::node* e = a->get(i);
      if (!e->is_table()) wrong_type(indexed(key, i), "a table", *e);
      out.emplace_back(*errors_, e->as_table(), indexed(key, i));
    }
    return out;
  }

  // Names the unknown key that comes first in the file, so the message points at the top-most typo.
  void finish() {
    if (!table_ || errors_->failed()) return;
    const toml::key* first = nullptr;
    for (const auto& [k, v] : *table_) {
      if (used_.count(std::string(k.str()))) continue;
      if (!first || k.source().begin < first->source().begin) first = &k;
    }
    if (first) fail("unknown key " + path(first->str()));
  }

 private:
  const toml::node* take(std::string_view key) {
    if (!table_ || errors_->failed()) return nullptr;
    used_.insert(std::string(key));
    return table_->get(key);
  }

  std::string indexed(std::string_view key, std::size_t i) const {
    return path(key) + "[" + std::to_string(i) + "]";
  }

  void fail(const std::string& problem) { errors_->fail(problem); }

  void wrong_type(const std::string& where, std::string_view want, const toml::node& got) {
    fail(where + " must be " + std::string(want) + ", not " + std::string(type_name(got)));
  }

  void read_string(const toml::node& n, const std::string& where, std::string& out, Check check) {
    auto s = n.as_string();
    if (!s) return wrong_type(where, "a string", n);
    if (check)
      if (auto problem = check(s->get())) return fail(where + " " + *problem);
    out = s->get();
  }

  template <class E>
  void pick(const std::string& where, const std::string& s, E& out, std::span<const Choice<E>> choices) {
    for (const auto& c : choices)
      if (c.name == s) {
        out = c.value;
        return;
      }
    fail(where + " must be " + alternatives(choices) + ", not " + as_toml(s));
  }

  Errors* errors_;
  const toml::table* table_;
  std::string path_;
  std::set<std::string> used_;
};

std::string under(const std::string& dir, const char* name) {
  return (std::filesystem::path(dir) / name).string();
}

std::string detect_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

void read_node(Table t, Node& n) {
  t.str("data_dir", n.data_dir, check_path);
  if (!t.str("spool_dir", n.spool_dir, check_path)) n.spool_dir = under(n.data_dir, "spool");
  t.str("user", n.user, check_user_name);
  t.integer("min_free_mb", n.min_free_mb, 0, 1000000);
  if (!t.str("name", n.name, check_node_name)) {
    n.name = detect_hostname();
    if (check_node_name(n.name)) n.name = "localhost";
  }
  t.integer("lease_s", n.lease_s, 5, 3600);
  t.finish();
}

void read_smtp_user(Table t, std::vector<SmtpUser>& users) {
  SmtpUser u;
  t.str("name", u.name, check_one_line);
  t.str("password_hash", u.password_hash, check_one_line);
  t.finish();
  users.push_back(std::move(u));
}

void read_smtp(Table t, Smtp& s) {
  t.list("listen", s.listen, check_host_port);
  t.list("domains", s.domains, check_domain);
  t.list("trusted_networks", s.trusted_networks, check_cidr);
  t.integer("max_message_bytes", s.max_message_bytes, 1, int64_t(4) << 30);
  t.integer("max_recipients", s.max_recipients, 1, 100000);
  t.integer("max_sessions", s.max_sessions, 1, 100000);
  t.integer("idle_timeout_s", s.idle_timeout_s, 1, 86400);
  t.integer("sender_messages_per_hour", s.sender_messages_per_hour, 0, 10000000);
  t.integer("sender_recipients_per_hour", s.sender_recipients_per_hour, 0, 10000000);
  t.integer("client_connections", s.client_connections, 0, 100000);
  t.integer("client_connections_per_minute", s.client_connections_per_minute, 0, 10000000);
  t.integer("client_messages_per_minute", s.client_messages_per_minute, 0, 10000000);
  t.integer("client_recipients_per_minute", s.client_recipients_per_minute, 0, 10000000);
  t.integer("client_auth_failures_per_hour", s.client_auth_failures_per_hour, 0, 10000000);
  t.str("hostname", s.hostname, check_optional_domain);
  if (s.hostname.empty()) s.hostname = detect_hostname();
  t.str("tls_cert", s.tls_cert, check_one_line);
  t.str("tls_key", s.tls_key, check_one_line);
  for (Table& u : t.array("user")) read_smtp_user(std::move(u), s.users);
  t.finish();
}

void read_dialing(Table t, Dialing& d, const Fax& f) {
  const bool given = t.has("allow");
  t.list("allow", d.allow, check_e164_prefix_or_plus);
  t.list("deny", d.deny, check_e164_prefix);
  t.integer("calls_per_day", d.calls_per_day, 0, 10000000);
  t.integer("pages_per_day", d.pages_per_day, 0, 100000000);
  t.integer("sender_calls_per_day", d.sender_calls_per_day, 0, 10000000);
  t.integer("sender_pages_per_day", d.sender_pages_per_day, 0, 100000000);
  t.finish();
  if (given) return;
  // Toll fraud's usual target is abroad: only our own country until the operator says more (a
  // station_id that is no E.164 number names no country: nothing, until dialing.allow). The
  // station_id as fax machines show it: "+49 30 1234567", "+1 (202) 555-0100".
  std::string digits;
  for (char ch : f.station_id) {
    if (ch != ' ' && ch != '-' && ch != '.' && ch != '(' && ch != ')') digits += ch;
  }
  auto cc = e164::country_code(digits);
  if (!cc) return;
  d.allow = {"+" + *cc};
  // +1 is 20 countries: a Caribbean station stays in its own; others in the US and Canada.
  if (auto own = address::nanp_country(digits.substr(0, std::min<size_t>(digits.size(), 5))); *cc == "1" && !own.empty()) {
    d.allow = own;
    return;
  }
  if (*cc == "1") {
    for (auto p : address::kNanpOutsideUsCanada) {
      if (std::find(d.deny.begin(), d.deny.end(), p) == d.deny.end()) d.deny.emplace_back(p);
    }
  }
}

void read_fax(Table t, Fax& f) {
  t.str("station_id", f.station_id, check_station_id);
  t.str("header", f.header, check_one_line);
  t.choice<Paper>("paper", f.paper, kPapers);
  t.choice<Resolution>("resolution", f.resolution, kResolutions);
  t.list("cover_senders", f.cover_senders, check_cover_sender);
  t.integer("detect_s", f.detect_s, 1, 120);
  t.integer("t38_memory_s", f.t38_memory_s, 0, 30 * 86400);
  t.integer("t38_memory_digits", f.t38_memory_digits, 0, 15);
  t.integer("max_inbound_pages", f.max_inbound_pages, 0, 100000);
  t.integer("max_inbound_call_s", f.max_inbound_call_s, 0, 86400);
  t.integer("missed_notices_per_caller_per_hour", f.missed_notices_per_caller_per_hour, 0, 1000000);
  t.finish();
}

void read_sip(Table t, Sip& s) {
  t.list("listen", s.listen, check_sip_listen);
  t.str("tls_cert", s.tls_cert, check_one_line);
  t.str("tls_key", s.tls_key, check_one_line);
  t.integer("media_port_min", s.media_port_min, 1, 65535);
  t.integer("media_port_max", s.media_port_max, 1, 65535);
  t.integer("media_threads", s.media_threads, 0, 256);
  t.str("advertise", s.advertise, check_optional_advertise);
  t.choice<UnknownSources>("unknown_sources", s.unknown_sources, kUnknownSources);
  t.finish();
}

void read_trunk(Table t, std::vector<Trunk>& trunks) {
  Trunk k;
  t.str("name", k.name, check_one_line);
  t.str("uri", k.uri, check_sip_uri);
  t.choice<T38Mode>("t38", k.t38, kT38Modes);
  t.choice<UdptlEc>("udptl_ec", k.udptl_ec, kUdptlEcs);
  t.integer("max_channels", k.max_channels, 1, 10000);
  t.integer("calls_per_second", k.calls_per_second, 0, 1000);
  t.list("prefixes", k.prefixes, check_e164_prefix_or_plus);
  t.list("accept_from", k.accept_from, check_cidr);
  t.str("caller_id", k.caller_id, check_optional_e164);
  t.str("country_code", k.country_code, check_country_code);
  t.str("national_prefix", k.national_prefix, check_national_prefix);
  t.integer("ring_timeout_s", k.ring_timeout_s, 1, 600);
  t.str("username", k.username, check_one_line);
  t.str("password", k.password, check_one_line);
  t.flag("register", k.register_);
  t.choice_list<Codec>("codecs", k.codecs, kCodecs);
  t.integer("options_interval_s", k.options_interval_s, 0, 3600);
  t.integer("t38_max_datagram", k.t38_max_datagram, 0, 65535);
  t.flag("latch_media", k.latch_media);
  t.finish();
  trunks.push_back(std::move(k));
}

void read_retry(Table t, Retry& r) {
  t.integer("max_dials", r.max_dials, 1, 1000);
  t.integer("max_tries", r.max_tries, 1, 100);
  t.integer("busy_delay_s", r.busy_delay_s, 1, 86400);
  t.integer("no_answer_delay_s", r.no_answer_delay_s, 1, 86400);
  t.integer("failure_delay_s", r.failure_delay_s, 1, 86400);
  t.integer("congestion_delay_s", r.congestion_delay_s, 1, 86400);
  t.integer("partial_delay_s", r.partial_delay_s, 1, 86400);
  t.integer("calls_per_number", r.calls_per_number, 1, 100);
  t.integer("kill_after_s", r.kill_after_s, 1, 30 * 86400);
  t.finish();
}

void read_route(Table t, std::vector<Route>& routes) {
  Route r;
  t.str("did", r.did, check_optional_e164);
  t.str("subaddress", r.subaddress, check_subaddress);
  t.flag("default", r.default_);
  t.list("mailbox", r.mailbox, check_mail_address, Shape::string_or_list);
  t.choice_list<Attach>("attach", r.attach, kAttachments);
  t.str("voice_uri", r.voice_uri, check_optional_sip_uri);
  t.flag("ocr", r.ocr);
  t.flag("ocr_copy", r.ocr_copy);
  t.finish();
  routes.push_back(std::move(r));
}

std::optional<std::string> check_hours(std::string_view v) {
  if (gateway::parse_hours(v)) return std::nullopt;
  return must_be("HH:MM-HH:MM (local time; \"22:00-06:00\" spans midnight)", v);
}

std::optional<std::string> check_day(std::string_view v) {
  if (gateway::parse_day(v)) return std::nullopt;
  return must_be("one of mon, tue, wed, thu, fri, sat, sun", v);
}

std::optional<std::string> check_timezone(std::string_view v) {
  if (!has_control(v) && gateway::known_timezone(std::string(v))) return std::nullopt;
  return must_be("an IANA time zone such as \"Europe/Berlin\" or \"UTC\"", v);
}

void read_window(Table t, std::vector<gateway::SendingWindow>& windows) {
  gateway::SendingWindow w;
  t.list("prefixes", w.prefixes, check_e164_prefix_or_plus);
  std::string hours = "00:00-00:00";
  t.str("hours", hours, check_hours);
  if (auto h = gateway::parse_hours(hours)) std::tie(w.start_minute, w.end_minute) = *h;
  std::vector<std::string> days;
  t.list("days", days, check_day);
  if (!days.empty()) {
    w.days.fill(false);
    for (const auto& d : days) {
      if (auto i = gateway::parse_day(d)) w.days[size_t(*i)] = true;
    }
  }
  t.str("timezone", w.timezone, check_timezone);
  t.finish();
  windows.push_back(std::move(w));
}

void read_ldap(Table t, Ldap& l) {
  t.str("uri", l.uri, check_ldap_uri);
  t.str("base", l.base, check_one_line);
  t.str("filter", l.filter, check_ldap_filter);
  t.str("people_filter", l.people_filter, check_people_filter);
  t.str("mail_attribute", l.mail_attribute, check_one_line);
  t.str("allow_attribute", l.allow_attribute, check_one_line);
  t.str("bind_dn", l.bind_dn, check_one_line);
  t.str("bind_password", l.bind_password, check_one_line);
  t.integer("timeout_s", l.timeout_s, 1, 60);
  t.integer("cache_s", l.cache_s, 0, 86400);
  t.integer("retry_s", l.retry_s, 1, 3600);
  t.finish();
}

void read_reject(Table t, Reject& r) {
  t.list("callers", r.callers, check_e164_prefix);
  t.finish();
}

void read_exchange(Table t, Exchange& x) {
  t.list("servers", x.servers, check_cidr);
  t.list("recipient_domains", x.recipient_domains, check_domain);
  t.finish();
}

std::optional<std::string> check_ocr_language(std::string_view l) {
  if (!l.empty() && l.size() <= 32 &&
      std::all_of(l.begin(), l.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }))
    return std::nullopt;
  return must_be("a tesseract language name such as \"eng\", \"deu\", \"fra\" or \"spa\"", l);
}

void read_ocr(Table t, Ocr& o) {
  t.list("languages", o.languages, check_ocr_language);
  t.integer("max_delay_s", o.max_delay_s, 1, 600);
  t.finish();
}

void read_delivery(Table t, Delivery& d, const Config& c) {
  t.choice<DeliveryMode>("mode", d.mode, kDeliveryModes);
  if (!t.str("maildir", d.maildir, check_path)) d.maildir = under(c.node.data_dir, "mail");
  t.str("smarthost", d.smarthost, check_optional_host_port);
  t.str("lmtp", d.lmtp, check_optional_host_port);
  t.str("username", d.username, check_one_line);
  t.str("password", d.password, check_one_line);
  t.str("tls_client_cert", d.tls_client_cert, check_one_line);
  t.str("tls_client_key", d.tls_client_key, check_one_line);
  t.choice<DeliveryTls>("tls", d.tls, kDeliveryTls);
  // Mail from the gateway comes from its own domain unless the admin says otherwise.
  if (!t.str("from", d.from, check_mail_address))
    d.from = "fax@" + (c.smtp.domains.empty() ? std::string("localhost") : c.smtp.domains[0]);
  t.str("postmaster", d.postmaster, check_mail_address);
  t.integer("archive_days", d.archive_days, 0, 3650);
  t.flag("bounce_address", d.bounce_address);
  t.finish();
}

void read_dsn(Table t, Dsn& d) {
  t.flag("success", d.success);
  t.flag("delay", d.delay);
  t.finish();
}

void read_http(Table t, Http& h) {
  t.list("listen", h.listen, check_host_port, Shape::string_or_list);
  t.flag("tokens", h.tokens);
  t.list("hosts", h.hosts, check_domain);
  t.flag("webhook_allow_private", h.webhook_allow_private);
  t.integer("webhook_timeout_s", h.webhook_timeout_s, 1, 120);
  t.finish();
}

void read_log(Table t, LogConfig& l) {
  t.choice<fb::LogFormat>("format", l.format, kLogFormats);
  t.choice<fb::LogLevel>("level", l.level, kLogLevels);
  t.flag("t30_trace", l.t30_trace);
  t.finish();
}

void read_converter(Table t, ConverterConfig& c) {
  t.integer("workers", c.workers, 1, 64);
  t.integer("time_limit_s", c.time_limit_s, 1, 3600);
  t.finish();
}

void read_store(Table t, Store& s, const Node& n) {
  if (!t.str("url", s.url, check_store_url)) s.url = "sqlite:" + under(n.data_dir, "faxbridge.db");
  t.finish();
}

// Sections in dependency order: derived defaults read [node] and [smtp] first.
Config read_config(const toml::table& doc, Errors& errors) {
  Config c;
  Table root(errors, &doc, "");
  read_node(root.sub("node"), c.node);
  read_smtp(root.sub("smtp"), c.smtp);
  read_fax(root.sub("fax"), c.fax);
  read_dialing(root.sub("dialing"), c.dialing, c.fax);
  read_sip(root.sub("sip"), c.sip);
  for (Table& t : root.array("trunk")) read_trunk(std::move(t), c.trunks);
  read_retry(root.sub("retry"), c.retry);
  for (Table& t : root.array("route")) read_route(std::move(t), c.routes);
  for (Table& t : root.array("window")) read_window(std::move(t), c.windows);
  if (root.has("ldap")) read_ldap(root.sub("ldap"), c.ldap.emplace());
  if (root.has("ocr")) read_ocr(root.sub("ocr"), c.ocr.emplace());
  read_reject(root.sub("reject"), c.reject);
  read_exchange(root.sub("exchange"), c.exchange);
  read_delivery(root.sub("delivery"), c.delivery, c);
  read_dsn(root.sub("dsn"), c.dsn);
  read_http(root.sub("http"), c.http);
  read_converter(root.sub("converter"), c.converter);
  read_log(root.sub("log"), c.log);
  read_store(root.sub("store"), c.store, c.node);
  root.finish();
  return c;
}

// ---- checks across keys ----

void together(Errors& e, const std::string& a, const std::string& va, const std::string& b,
              const std::string& vb) {
  if (va.empty() != vb.empty()) e.fail(a + " and " + b + " must be set together");
}

void required(Errors& e, const std::string& key, const std::string& value) {
  if (value.empty()) e.fail(key + " is required");
}

void validate_smtp(const Smtp& s, Errors& e) {
  together(e, "smtp.tls_cert", s.tls_cert, "smtp.tls_key", s.tls_key);
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < s.users.size(); ++i) {
    std::string at = "smtp.user[" + std::to_string(i) + "]";
    required(e, at + ".name", s.users[i].name);
    required(e, at + ".password_hash", s.users[i].password_hash);
    auto [it, fresh] = seen.emplace(s.users[i].name, i);
    if (!fresh)
      e.fail(at + ".name " + as_toml(s.users[i].name) + " is already smtp.user[" +
             std::to_string(it->second) + "]");
  }
}

void validate_sip(const Sip& s, Errors& e) {
  together(e, "sip.tls_cert", s.tls_cert, "sip.tls_key", s.tls_key);
  for (std::size_t i = 0; i < s.listen.size(); ++i) {
    auto l = parse_sip_listen(s.listen[i]);
    if (l && l->transport == SipTransport::tls && s.tls_cert.empty())
      e.fail("sip.listen[" + std::to_string(i) + "] is tls: it needs sip.tls_cert and sip.tls_key");
  }
  if (s.media_port_min > s.media_port_max)
    e.fail("sip.media_port_min must not be above sip.media_port_max (" + std::to_string(s.media_port_min) +
           " > " + std::to_string(s.media_port_max) + ")");
  else if (s.media_port_min + s.media_port_min % 2 + 1 > s.media_port_max)
    e.fail("sip.media_port_min..sip.media_port_max (" + std::to_string(s.media_port_min) + ".." +
           std::to_string(s.media_port_max) + ") must hold an even port and the one after it (RTP and RTCP)");
}

void validate_trunks(const std::vector<Trunk>& trunks, Errors& e) {
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < trunks.size(); ++i) {
    const Trunk& t = trunks[i];
    std::string at = "trunk[" + std::to_string(i) + "]";
    required(e, at + ".name", t.name);
    required(e, at + ".uri", t.uri);
    together(e, at + ".username", t.username, at + ".password", t.password);
    if (t.register_ && t.username.empty()) e.fail(at + ".register = true needs " + at + ".username");
    if (t.codecs.empty()) e.fail(at + ".codecs must name pcmu, pcma or both");
    auto [it, fresh] = seen.emplace(t.name, i);
    if (!fresh)
      e.fail(at + ".name " + as_toml(t.name) + " is already trunk[" + std::to_string(it->second) + "]");
  }
}

// A number routed twice would make the second route dead code; say so rather than pick one.
void unique_route(Errors& e, std::map<std::string, std::size_t>& seen, const std::string& value,
                  std::size_t i, const char* key) {
  if (value.empty()) return;
  auto [it, fresh] = seen.emplace(value, i);
  if (!fresh)
    e.fail("route[" + std::to_string(i) + "]." + key + " " + as_toml(value) + " is already routed by route[" +
           std::to_string(it->second) + "]");
}

void validate_routes(const std::vector<Route>& routes, Errors& e) {
  std::map<std::string, std::size_t> dids, subaddresses;
  std::optional<std::size_t> default_route;
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const Route& r = routes[i];
    std::string at = "route[" + std::to_string(i) + "]";
    if (int(!r.did.empty()) + int(!r.subaddress.empty()) + int(r.default_) != 1)
      e.fail(at + " must have exactly one of did, subaddress or default = true");
    if (r.mailbox.empty()) e.fail(at + ".mailbox must name at least one address");
    if (r.attach.empty()) e.fail(at + ".attach must name pdf, tiff or both");
    if (!r.voice_uri.empty() && !r.subaddress.empty())
      e.fail(at + ".voice_uri: a subaddress is known only once a fax is under way; voice_uri needs a did or default route");
    unique_route(e, dids, r.did, i, "did");
    unique_route(e, subaddresses, r.subaddress, i, "subaddress");
    if (r.default_ && default_route)
      e.fail(at + ".default: route[" + std::to_string(*default_route) + "] is already the default route");
    if (r.default_ && !default_route) default_route = i;
  }
}

void validate_ldap(const std::optional<Ldap>& l, Errors& e) {
  if (!l) return;
  required(e, "ldap.uri", l->uri);
  required(e, "ldap.base", l->base);
  required(e, "ldap.mail_attribute", l->mail_attribute);
  together(e, "ldap.bind_dn", l->bind_dn, "ldap.bind_password", l->bind_password);
}

void validate_ocr(const std::optional<Ocr>& o, const std::vector<Route>& routes, Errors& e) {
  if (o && o->languages.empty()) e.fail("ocr.languages must name at least one language");
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const std::string at = "route[" + std::to_string(i) + "]";
    if (routes[i].ocr && !o) e.fail(at + ".ocr: reading cover pages needs an [ocr] section");
    if (routes[i].ocr_copy && !routes[i].ocr) e.fail(at + ".ocr_copy needs ocr = true");
  }
}

void validate_delivery(const Delivery& d, Errors& e) {
  if (d.mode == DeliveryMode::smtp && d.smarthost.empty())
    e.fail("delivery.smarthost is required when delivery.mode is smtp");
  if (d.mode == DeliveryMode::lmtp && d.lmtp.empty())
    e.fail("delivery.lmtp is required when delivery.mode is lmtp");
  together(e, "delivery.username", d.username, "delivery.password", d.password);
  together(e, "delivery.tls_client_cert", d.tls_client_cert, "delivery.tls_client_key", d.tls_client_key);
}

// Without tokens, the API (every number and caller, cancelling jobs) is only for this host.
void validate_http(const Http& h, Errors& e) {
  if (h.tokens) return;
  for (const auto& l : h.listen) {
    auto hp = parse_host_port(l);
    if (!hp) continue;
    bool loopback = hp->host == "localhost" || hp->host == "::1" || hp->host.rfind("127.", 0) == 0;
    if (!loopback) {
      e.fail("http.listen " + l + " is not a loopback address, and http.tokens is false: the API would be open to "
             "the network without authentication (set http.tokens = true, or listen on 127.0.0.1)");
    }
  }
}

void validate(const Config& c, Errors& e) {
  validate_http(c.http, e);
  validate_smtp(c.smtp, e);
  validate_sip(c.sip, e);
  validate_trunks(c.trunks, e);
  validate_routes(c.routes, e);
  validate_ldap(c.ldap, e);
  validate_ocr(c.ocr, c.routes, e);
  validate_delivery(c.delivery, e);
}

// ---- TOML syntax ----

ConfigError syntax_error(const std::string& source, const toml::parse_error& err) {
  std::string where = source + " line " + std::to_string(err.source().begin.line);
  std::string what(err.description());
  std::replace(what.begin(), what.end(), '\n', ' ');  // one line, always
  return ConfigError{where + ": " + what};
}

fb::Result<toml::table, ConfigError> parse_toml(std::string_view text, const std::string& source) {
#if TOML_EXCEPTIONS
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& err) {
    return syntax_error(source, err);
  }
#else
  toml::parse_result r = toml::parse(text, source);
  if (!r) return syntax_error(source, r.error());
  return std::move(r).table();
#endif
}

fb::Result<std::string, ConfigError> read_text(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return ConfigError{path + ": cannot read (is a directory)"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return ConfigError{path + ": cannot read (" + std::strerror(errno) + ")"};
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), std::streamsize(text.size()));
  if (in.bad()) return ConfigError{path + ": cannot read (" + std::strerror(errno) + ")"};
  if (std::size_t(in.gcount()) > kMaxConfigBytes)
    return ConfigError{path + ": larger than " + std::to_string(kMaxConfigBytes) + " bytes"};
  text.resize(std::size_t(in.gcount()));
  return text;
}

}  // namespace

fb::Result<Config, ConfigError> load_string(std::string_view toml, const std::string& source_name) {
  auto doc = parse_toml(toml, source_name);
  if (!doc) return doc.error();
  Errors errors(source_name);
  Config c = read_config(*doc, errors);
  if (!errors.failed()) validate(c, errors);
  if (errors.failed()) return errors.error();
  return c;
}

fb::Result<Config, ConfigError> load_file(const std::string& path) {
  auto text = read_text(path);
  if (!text) return text.error();
  return load_string(*text, path);
}

std::string_view embedded_default_toml() {
  return kEmbeddedDefault;
}

Config embedded_default() {
  auto c = load_string(kEmbeddedDefault, "embedded default");
  // The text is part of the program: failing to load it is a bug the tests catch, not a runtime condition.
  if (!c) throw std::logic_error(c.error().message);
  return std::move(c).value();
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  std::string_view host, port;
  if (text.starts_with("[")) {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!is_ipv6(host)) return std::nullopt;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (!is_host_name(host)) return std::nullopt;  // also refuses an unbracketed IPv6 address
  }
  if (!is_port(port)) return std::nullopt;
  return HostPort{std::string(host), std::stoi(std::string(port))};
}

std::optional<SipListen> parse_sip_listen(std::string_view text) {
  for (const auto& t : kSipTransports) {
    if (!text.starts_with(t.name) || text.substr(t.name.size(), 1) != ":") continue;
    auto address = parse_host_port(text.substr(t.name.size() + 1));
    if (!address) return std::nullopt;
    return SipListen{t.value, std::move(*address)};
  }
  return std::nullopt;
}

std::string_view to_string(Paper p) {
  return name_of<Paper>(kPapers, p);
}
std::string_view to_string(Resolution r) { return name_of<Resolution>(kResolutions, r); }
std::string_view to_string(T38Mode m) {
  return name_of<T38Mode>(kT38Modes, m);
}
std::string_view to_string(Codec c) { return name_of<Codec>(kCodecs, c); }

std::string_view to_string(UdptlEc e) {
  return name_of<UdptlEc>(kUdptlEcs, e);
}
std::string_view to_string(Attach a) {
  return name_of<Attach>(kAttachments, a);
}
std::string_view to_string(DeliveryMode m) {
  return name_of<DeliveryMode>(kDeliveryModes, m);
}
std::string_view to_string(SipTransport t) {
  return name_of<SipTransport>(kSipTransports, t);
}

}  // namespace config
