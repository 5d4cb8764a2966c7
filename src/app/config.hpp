// config.hpp — the node's configuration: a TOML file (INTERFACES.md "Config file (TOML)") read into plain
// value structs, and the embedded default that `faxbridge serve` runs with no --config.
//
// STANDARDS: TOML 1.0 (through toml++); E.164 number syntax ("+" and 1-15 digits, no per-country rules);
// RFC 4632 CIDR (cidr.hpp).
// Loading is all-or-nothing: the first problem ends it with one line naming the file, the key path and the
// problem ("faxbridge.toml: trunk[1].t38 must be prefer, only or off, not \"maybe\""). Arrays of tables are
// indexed from 0, as in TOML paths ("trunk[0]" is the first [[trunk]]). Unknown keys, wrong types, values
// out of range and inconsistent settings are all errors; nothing is silently ignored or clamped.
// The loader does no I/O besides reading the file (and gethostname for smtp.hostname): certificate files,
// directories and listen addresses are checked by whoever opens them at start-up.
// Relative paths stay relative: they are relative to the working directory of `serve`.
//
// PARAMETERS (key, default; a key absent from the file takes its default, and so does a missing section):
//   [node]     data_dir "var"; spool_dir <data_dir>/spool; min_free_mb 200 (0..1000000; 0 = no check);
//              user "faxbridge" (a user name: the account serve runs as when started as root);
//              name <host name> (the owner of the jobs this node works on); lease_s 30 (5..3600)
//   [smtp]     listen ["127.0.0.1:2525"]; domains ["fax.localhost"];
//              trusted_networks ["127.0.0.0/8", "::1/128"] (CIDR, or one address);
//              max_message_bytes 26214400 (1..4 GiB); max_recipients 100 (1..100000);
//              max_sessions 200 (1..100000); idle_timeout_s 300 (1..86400);
//              sender_messages_per_hour 100, sender_recipients_per_hour 500 (0 = no limit);
//              per client address (trusted networks exempt but for AUTH; 0 = no limit):
//              client_connections 20, client_connections_per_minute 60, client_messages_per_minute 60,
//              client_recipients_per_minute 300, client_auth_failures_per_hour 10;
//              hostname "" = the machine's name (gethostname) at load time; tls_cert, tls_key "" (both or
//              neither; both enable STARTTLS); [[smtp.user]] name, password_hash (AUTH PLAIN/LOGIN)
//   [dialing]  allow: the country code of station_id (its own NANP codes for a Caribbean +1
//              station; none when station_id is not E.164); deny ["+1900", "+1976"], plus the
//              Caribbean and Atlantic NANP codes when allow defaulted to "+1" (E.164 prefixes;
//              "+" alone only in allow); calls_per_day, pages_per_day, sender_calls_per_day,
//              sender_pages_per_day 0 (0 = no cap; over the last 24 hours, gateway/call_budget.hpp)
//   [fax]      station_id "+15550100" (printable ASCII, at most 20); header "faxbridge" ("" none);
//              paper "a4" (a4 | letter); detect_s 8 (1..120: how long an audio call to a shared
//              voice/fax number may show no fax sign); t38_memory_s 86400 (0..30 days: how long a
//              destination whose T.38 failed starts on audio; 0 = never remembered);
//              t38_memory_digits 0 (0..15: the remembered number prefix's digits; 0 = the whole number);
//              max_inbound_pages 200, max_inbound_call_s 3600 (an inbound call is hung up past
//              them, its pages kept; 0 = no cap); missed_notices_per_caller_per_hour 2 (0 = no limit)
//   [sip]      listen ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"] (udp|tcp|tls:HOST:PORT; tls needs
//              tls_cert and tls_key); media_port_min 20000, media_port_max 29999; media_threads 0
//              (0..256; 0 = one per core); advertise "" (an IP address or host name written in Via,
//              Contact and SDP instead of the bound one: behind NAT); unknown_sources "reject"
//              (reject|drop: a request from no trunk's host or accept_from gets one stateless 403 a
//              minute per source, or nothing)
//   [[trunk]]  name (required, unique); uri (required, sip: or sips:); t38 "prefer" (prefer|only|off);
//              udptl_ec "redundancy" (none|redundancy|fec); max_channels 30 (1..10000); calls_per_second 20
//              (0..1000; 0 = no limit); prefixes ["+"];
//              accept_from []; caller_id "" (none: the SIP layer decides); country_code "" (1-3 digits);
//              national_prefix "" (0-4 digits); ring_timeout_s 60 (1..600); username, password "" (both or
//              neither); register false (needs username); codecs ["pcmu", "pcma"] (a non-empty
//              subset, in order of preference); options_interval_s 0 (0..3600: OPTIONS pings; a trunk
//              that stops answering is down and skipped by failover; 0 = off); t38_max_datagram 0
//              (0..65535: the largest UDPTL datagram we send it, over what its SDP says; 0 = its SDP);
//              latch_media true (symmetric latching of RTP/UDPTL; false for asymmetric RTP)
//   [retry]    max_dials 12 (1..1000); max_tries 3 (1..100); busy_delay_s 120; no_answer_delay_s 300;
//              failure_delay_s 60 (delays 1..86400); kill_after_s 10800 (1..30 days); calls_per_number 1
//              (1..100: simultaneous calls to one number)
//   [[route]]  exactly one of did (E.164), subaddress (1-20 digits), default = true; mailbox (required: an
//              address or a non-empty list of them); attach ["pdf", "tiff"] (a non-empty subset, in order);
//              voice_uri "" (sip: or sips:; a did or default route only: its number is shared by voice
//              and fax, and an audio call with no fax sign within fax.detect_s is transferred there).
//              ocr false (a central number: each fax is routed by the addressee read from its cover
//              page, or a barcode on it; needs [ocr]); ocr_copy false (with ocr: a fax routed so
//              is also mailed to this route's mailboxes).
//              A DID or subaddress may be routed only once, and there is at most one default route.
//   [ldap]     optional: uri (required, ldap://, ldaps:// or ldapi://); base (required); filter
//              "(facsimileTelephoneNumber=%s)" (must contain %s); mail_attribute "mail"; allow_attribute ""
//              (when set: the entry may receive faxes only if it is TRUE); bind_dn, bind_password ""
//              (both or neither; none: anonymous); timeout_s 5 (1..60); cache_s 60 (0..86400); retry_s 60 (1..3600)
//   [reject]   callers [] (E.164 prefixes)
//   [exchange] servers [] (CIDRs), recipient_domains [] (domains): both needed for any referral
//   [ocr]      optional (its presence turns it on): languages ["eng"] (tesseract names, each
//              installed), max_delay_s 30 (1..600: the most reading a received fax may add before
//              its mail goes; past it, the mail goes without text): searchable PDFs (issue 18)
//   [delivery] mode "maildir" (maildir|smtp|lmtp); maildir <data_dir>/mail; smarthost "" (HOST:PORT, required
//              for smtp); lmtp "" (HOST:PORT, required for lmtp); username, password "" (both or neither);
//              tls_client_cert, tls_client_key "" (both or neither); from "fax@<first smtp domain>";
//              postmaster "postmaster@localhost"; archive_days 30 (0..3650: how long received
//              faxes and their records are kept once delivered; 0 = removed at once);
//              bounce_address true (smtp mode, `from` at one of [smtp] domains: each mail from
//              <from's local part>+<delivery>.<tag>@<from's domain>, so late bounces come back)
//   [dsn]      success false; delay true
//   [converter] workers 2 (1..64: documents rendered at once, each in its own jailed process);
//              time_limit_s 300 (1..3600: one message's rendering, wall clock)
//   [http]     listen ["127.0.0.1:8025"] (a string or a list); tokens [true]: every API request
//              needs Authorization: Bearer (false is refused unless every listen address is
//              loopback); hosts []: host names the API may be reached by (DNS rebinding defence);
//              webhook_allow_private false: webhooks may go to loopback and private addresses;
//              webhook_timeout_s 10 (1..120): one webhook attempt
//   [store]    url "sqlite:<data_dir>/faxbridge.db", or "postgresql://..." (a libpq URI: the store
//              several nodes share, queue/pg_job_store.hpp)
//   [log]      format "text" (text | json | logfmt: one object or key=value line per event with
//              time, level, component, job); level "info" (debug | info | warn | error);
//              t30_trace false (spandsp's T.30 trace of every call on stderr)
// An empty listen list turns that listener off. A file with no [[trunk]] has no trunks and one with no
// [[route]] no routes (those faxes go to the postmaster); only the embedded default has one of each.
// LIMITS: kMaxConfigBytes per file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/window.hpp"

#include "core/log.hpp"
#include "core/result.hpp"

namespace config {

inline constexpr std::size_t kMaxConfigBytes = 1 << 20;

struct ConfigError {
  std::string message;  // one line: "<file>: <key path> <problem>" or "<file> line N: <TOML syntax error>"
};

struct Node {
  std::string data_dir = "var";
  std::string spool_dir = "var/spool";
  // The account serve runs as once started as root (app/privileges.hpp); "root" keeps root.
  std::string user = "faxbridge";
  int min_free_mb = 200;  // below it MAIL gets 452 4.3.1 and inbound INVITEs 503 (0: no check)
  // This node's name in the store: the owner of the jobs it works on (default: the host name).
  std::string name;
  // How long a claim on a job holds without renewal: a dead node's jobs are taken over after it.
  int lease_s = 30;
};

struct SmtpUser {
  std::string name;
  std::string password_hash;
};

struct Smtp {
  std::vector<std::string> listen = {"127.0.0.1:2525"};
  std::vector<std::string> domains = {"fax.localhost"};
  std::vector<std::string> trusted_networks = {"127.0.0.0/8", "::1/128"};
  int64_t max_message_bytes = 26214400;
  int max_recipients = 100;
  int max_sessions = 200;
  int idle_timeout_s = 300;
  int sender_messages_per_hour = 100;
  int sender_recipients_per_hour = 500;
  // Per client address (mail/client_limits.hpp; trusted networks exempt but for AUTH); 0: none.
  int client_connections = 20;
  int client_connections_per_minute = 60;
  int client_messages_per_minute = 60;
  int client_recipients_per_minute = 300;
  int client_auth_failures_per_hour = 10;
  std::string hostname;  // filled in by the loader when empty
  std::string tls_cert;
  std::string tls_key;
  std::vector<SmtpUser> users;
};

struct Dialing {
  // Absent from the file: the country code of [fax] station_id only ("+1" for "+15550100"); none
  // (every number refused) when station_id is not an E.164 number.
  std::vector<std::string> allow;
  std::vector<std::string> deny = {"+1900", "+1976"};
  // Caps over the last 24 hours (gateway/call_budget.hpp); 0: none.
  int calls_per_day = 0;
  int pages_per_day = 0;
  int sender_calls_per_day = 0;
  int sender_pages_per_day = 0;
};

enum class Paper { a4, letter };
enum class Resolution { standard, fine, superfine };  // 204x98, 204x196, 204x391 dpi (T.4)

struct Fax {
  std::string station_id = "+15550100";
  std::string header = "faxbridge";
  Paper paper = Paper::a4;
  // What sent faxes are rendered at: standard halves the air time of fine, superfine doubles it.
  Resolution resolution = Resolution::fine;
  // Senders whose faxes always get a cover page (unless the mail says X-Fax-Cover: no): an
  // address, "@domain", or "*" for everyone. Others get one when the mail says X-Fax-Cover: yes.
  std::vector<std::string> cover_senders;
  int detect_s = 8;
  int t38_memory_s = 86400;
  int t38_memory_digits = 0;
  // Inbound: a call is hung up after this many pages, or this long; 0: no cap.
  int max_inbound_pages = 200;
  int max_inbound_call_s = 3600;
  // Missed-call notices (no page came) mailed per caller number per hour; the withheld share one.
  int missed_notices_per_caller_per_hour = 2;
};

enum class UnknownSources { reject, drop };

struct Sip {
  std::vector<std::string> listen = {"udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"};
  std::string tls_cert;
  std::string tls_key;
  int media_port_min = 20000;
  int media_port_max = 29999;
  int media_threads = 0;  // 0: one per core
  std::string advertise;  // Via, Contact and SDP address ("" = the bound one)
  UnknownSources unknown_sources = UnknownSources::reject;
};

enum class T38Mode { prefer, only, off };
enum class UdptlEc { none, redundancy, fec };
enum class Codec { pcmu, pcma };

struct Trunk {
  std::string name;
  std::string uri;
  T38Mode t38 = T38Mode::prefer;
  UdptlEc udptl_ec = UdptlEc::redundancy;
  int max_channels = 30;
  int calls_per_second = 20;  // INVITEs started a second at most (0: no limit)
  std::vector<std::string> prefixes = {"+"};
  std::vector<std::string> accept_from;
  std::string caller_id;
  std::string country_code;
  std::string national_prefix;
  int ring_timeout_s = 60;
  std::string username;
  std::string password;
  bool register_ = false;  // TOML key "register"
  std::vector<Codec> codecs = {Codec::pcmu, Codec::pcma};
  int options_interval_s = 0;  // OPTIONS health pings (0: off)
  int t38_max_datagram = 0;    // our UDPTL datagrams at most this large (0: as the peer's SDP says)
  bool latch_media = true;     // symmetric latching of the media (gateway/media_session.hpp)
};

struct Retry {
  int max_dials = 12;
  int max_tries = 3;
  int busy_delay_s = 120;
  int no_answer_delay_s = 300;
  int failure_delay_s = 60;
  int congestion_delay_s = 60;
  int partial_delay_s = 60;
  int kill_after_s = 10800;
  int calls_per_number = 1;
  // Per-sender fair share is always on; priorities come from the mail (Priority, X-Priority).
};

enum class Attach { pdf, tiff };

struct Route {
  std::string did;         // "" when not this kind of route
  std::string subaddress;  // ""    ditto
  bool default_ = false;   // TOML key "default"
  std::vector<std::string> mailbox;
  std::vector<Attach> attach = {Attach::pdf, Attach::tiff};
  std::string voice_uri;  // "": a fax-only number
  bool ocr = false;       // a central number: its faxes are routed by their cover page (issue 18)
  bool ocr_copy = false;  // and a fax routed so is copied to this route's mailboxes
};

struct Ldap {
  std::string uri;
  std::string base;
  std::string filter = "(facsimileTelephoneNumber=%s)";
  std::string mail_attribute = "mail";
  std::string allow_attribute;
  std::string bind_dn;        // "" : anonymous
  std::string bind_password;
  int timeout_s = 5;          // per directory operation
  int cache_s = 60;           // how long an answer is reused
  int retry_s = 60;           // a directory that was down is asked again after this long
  std::string people_filter = "(objectClass=person)";  // the people a central number's cover page may name
};

struct Reject {
  std::vector<std::string> callers;
};

// Exchange UM as a fax partner's client (../shared/specs/exchange-um-partner.md): only INVITEs
// from `servers` may name a recipient by Referred-By, and only in `recipient_domains`.
struct Exchange {
  std::vector<std::string> servers;            // CIDRs or addresses
  std::vector<std::string> recipient_domains;  // "example.com" (its subdomains too)
};

struct Ocr {
  std::vector<std::string> languages = {"eng"};
  int max_delay_s = 30;
};

enum class DeliveryMode { maildir, smtp, lmtp };
// [delivery] tls: auto — verify when credentials or a client certificate are sent, else may
// (the levels: mail/smtp_client.hpp).
enum class DeliveryTls { automatic, may, encrypt, verify };

struct Delivery {
  DeliveryMode mode = DeliveryMode::maildir;
  std::string maildir = "var/mail";
  std::string smarthost;
  std::string lmtp;
  std::string username;
  std::string password;
  std::string tls_client_cert;
  std::string tls_client_key;
  DeliveryTls tls = DeliveryTls::automatic;
  std::string from = "fax@fax.localhost";
  std::string postmaster = "postmaster@localhost";
  int archive_days = 30;  // received faxes and their records are kept this long after delivery
  // smtp mode: each mail leaves from its own bounce address (VERP, gateway/onramp.hpp), when
  // `from` is at one of [smtp] domains; off for a smarthost that ties the sender to its login.
  bool bounce_address = true;
};

struct Dsn {
  bool success = false;
  bool delay = true;
};

struct Http {
  std::vector<std::string> listen = {"127.0.0.1:8025"};
  // Every /api request needs a bearer token (api/access.hpp). false only with loopback listen
  // addresses: a start-up error otherwise.
  bool tokens = true;
  std::vector<std::string> hosts;  // names the API is reached by, besides IP literals and localhost
  bool webhook_allow_private = false;  // webhooks may go to loopback/private addresses (api/webhooks.hpp)
  int webhook_timeout_s = 10;          // one webhook attempt, connect to status line
};

struct LogConfig {
  fb::LogFormat format = fb::LogFormat::text;  // text | json | logfmt (core/log.hpp)
  fb::LogLevel level = fb::LogLevel::info;     // debug | info | warn | error
  bool t30_trace = false;  // spandsp's T.30 trace of every call, tagged by number or job
};

struct ConverterConfig {
  int workers = 2;  // documents rendered at once, each in its own jailed process
  int time_limit_s = 300;  // wall clock for one message's rendering (convert --time-limit)
};

struct Store {
  std::string url = "sqlite:var/faxbridge.db";
};

struct Config {
  Node node;
  Smtp smtp;
  Dialing dialing;
  Fax fax;
  Sip sip;
  std::vector<Trunk> trunks;
  Retry retry;
  std::vector<Route> routes;
  std::vector<gateway::SendingWindow> windows;  // [[window]]: prefixes, hours, days, timezone
  std::optional<Ldap> ldap;
  std::optional<Ocr> ocr;  // [ocr]: received faxes read (searchable PDFs)
  Reject reject;
  Exchange exchange;  // empty: no Exchange referral is honoured
  Delivery delivery;
  Dsn dsn;
  Http http;
  ConverterConfig converter;
  LogConfig log;
  Store store;
};

fb::Result<Config, ConfigError> load_file(const std::string& path);
// `source_name` is what error messages call the text (a file name, "embedded default").
fb::Result<Config, ConfigError> load_string(std::string_view toml, const std::string& source_name);

// The configuration `serve` runs with no --config, and its TOML text (for --print-default-config).
Config embedded_default();
std::string_view embedded_default_toml();

// Listen strings as validated by the loader, split for whoever binds them.
struct HostPort {
  std::string host;  // without the brackets of "[::1]:25"
  int port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view text);

enum class SipTransport { udp, tcp, tls };
struct SipListen {
  SipTransport transport = SipTransport::udp;
  HostPort address;
};
std::optional<SipListen> parse_sip_listen(std::string_view text);

std::string_view to_string(Paper p);
std::string_view to_string(Resolution r);
std::string_view to_string(T38Mode m);
std::string_view to_string(UdptlEc e);
std::string_view to_string(Codec c);
std::string_view to_string(Attach a);
std::string_view to_string(DeliveryMode m);
std::string_view to_string(SipTransport t);

}  // namespace config
