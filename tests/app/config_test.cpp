// config_test.cpp — the config contract of INTERFACES.md: the embedded default's every value, each section
// overridden, defaults derived from data_dir, and every class of error with its exact one-line message.
#include "app/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "address/dialing_policy.hpp"

#include <tuple>

namespace {

using config::Attach;
using config::Config;
using config::DeliveryMode;
using config::DeliveryTls;
using config::Paper;
using config::T38Mode;
using config::UdptlEc;
using Strings = std::vector<std::string>;

Config load(std::string_view toml) {
  auto r = config::load_string(toml, "faxbridge.toml");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : Config{};
}

std::string error_of(std::string_view toml) {
  auto r = config::load_string(toml, "faxbridge.toml");
  return r.ok() ? "(loaded)" : r.error().message;
}

std::string machine_hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf[0] ? buf : "localhost";
}

// A file that would load, so each error test changes exactly one thing.
constexpr const char* kTrunk = "[[trunk]]\nname = \"a\"\nuri = \"sip:192.0.2.1\"\n";
constexpr const char* kRoute = "[[route]]\ndid = \"+15550100\"\nmailbox = \"fax@localhost\"\n";

// ---- the embedded default ----

TEST(WindowSection, ParsedIntoWindows) {
  Config c = load(std::string(kTrunk) + kRoute +
                  "[[window]]\nprefixes = [\"+1\"]\nhours = \"08:00-21:00\"\ndays = [\"mon\", \"fri\"]\n"
                  "timezone = \"America/New_York\"\n[[window]]\nhours = \"22:00-06:00\"\n");
  ASSERT_EQ(c.windows.size(), 2u);
  EXPECT_EQ(c.windows[0].prefixes, Strings{"+1"});
  EXPECT_EQ(c.windows[0].start_minute, 480);
  EXPECT_EQ(c.windows[0].end_minute, 1260);
  EXPECT_EQ(c.windows[0].days, (std::array<bool, 7>{true, false, false, false, true, false, false}));
  EXPECT_EQ(c.windows[0].timezone, "America/New_York");
  EXPECT_EQ(c.windows[1].prefixes, Strings{"+"});
  EXPECT_EQ(c.windows[1].timezone, "UTC");
  EXPECT_TRUE(config::embedded_default().windows.empty());
  EXPECT_NE(error_of(std::string(kTrunk) + kRoute + "[[window]]\nhours = \"8-20\"\n").find("window[0].hours"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kTrunk) + kRoute + "[[window]]\ndays = [\"monday\"]\n").find("mon, tue"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kTrunk) + kRoute + "[[window]]\ntimezone = \"Mars/Base\"\n").find("IANA"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kTrunk) + kRoute + "[[window]]\nhour = \"08:00-20:00\"\n").find("hour"),
            std::string::npos);
}

TEST(FaxSection, CoverSenders) {
  Config c = load(std::string(kTrunk) + kRoute + "[fax]\ncover_senders = [\"alice@example.com\", \"@example.org\", \"*\"]\n");
  EXPECT_EQ(c.fax.cover_senders, (Strings{"alice@example.com", "@example.org", "*"}));
  EXPECT_NE(error_of(std::string(kTrunk) + kRoute + "[fax]\ncover_senders = [\"alice\"]\n")
                .find("fax.cover_senders"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kTrunk) + kRoute + "[fax]\ncover_senders = \"*\"\n").find("a list of strings"),
            std::string::npos);
}

TEST(EmbeddedDefault, Node) {
  Config c = config::embedded_default();
  EXPECT_EQ(c.node.data_dir, "var");
  EXPECT_EQ(c.node.spool_dir, "var/spool");
}

TEST(EmbeddedDefault, Smtp) {
  Config c = config::embedded_default();
  EXPECT_EQ(c.smtp.listen, Strings{"127.0.0.1:2525"});
  EXPECT_EQ(c.smtp.domains, Strings{"fax.localhost"});
  EXPECT_EQ(c.smtp.trusted_networks, (Strings{"127.0.0.0/8", "::1/128"}));
  EXPECT_EQ(c.smtp.max_message_bytes, 26214400);
  EXPECT_EQ(c.smtp.max_recipients, 100);
  EXPECT_EQ(c.smtp.max_sessions, 200);
  EXPECT_EQ(c.smtp.idle_timeout_s, 300);
  EXPECT_EQ(c.smtp.sender_messages_per_hour, 100);
  EXPECT_EQ(c.smtp.sender_recipients_per_hour, 500);
  EXPECT_EQ(c.smtp.hostname, machine_hostname());
  EXPECT_EQ(c.smtp.tls_cert, "");
  EXPECT_EQ(c.smtp.tls_key, "");
  EXPECT_TRUE(c.smtp.users.empty());
}

TEST(EmbeddedDefault, DialingFaxSip) {
  Config c = config::embedded_default();
  EXPECT_EQ(c.dialing.allow, Strings{"+1"});  // station_id +15550100's country only
  EXPECT_EQ(c.dialing.deny.size(), 2 + address::kNanpOutsideUsCanada.size());
  EXPECT_EQ(c.dialing.calls_per_day + c.dialing.pages_per_day + c.dialing.sender_calls_per_day +
                c.dialing.sender_pages_per_day,
            0);  // no caps unless set
  EXPECT_EQ(c.fax.station_id, "+15550100");
  EXPECT_EQ(c.fax.header, "faxbridge");
  EXPECT_EQ(c.fax.paper, Paper::a4);
  EXPECT_EQ(c.fax.resolution, config::Resolution::fine);
  EXPECT_EQ(c.fax.cover_senders, Strings{});
  EXPECT_EQ(c.sip.listen, (Strings{"udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"}));
  EXPECT_EQ(c.sip.tls_cert, "");
  EXPECT_EQ(c.sip.tls_key, "");
  EXPECT_EQ(c.sip.media_port_min, 20000);
  EXPECT_EQ(c.sip.media_port_max, 29999);
}

TEST(EmbeddedDefault, OneLoopbackTrunk) {
  Config c = config::embedded_default();
  ASSERT_EQ(c.trunks.size(), 1u);
  const config::Trunk& t = c.trunks[0];
  EXPECT_EQ(t.name, "loopback");
  EXPECT_EQ(t.uri, "sip:127.0.0.1:5060");
  EXPECT_EQ(t.t38, T38Mode::prefer);
  EXPECT_EQ(t.udptl_ec, UdptlEc::redundancy);
  EXPECT_EQ(t.max_channels, 30);
  EXPECT_EQ(t.calls_per_second, 20);
  EXPECT_EQ(t.options_interval_s, 0);
  EXPECT_EQ(t.t38_max_datagram, 0);
  EXPECT_TRUE(t.latch_media);
  EXPECT_EQ(c.sip.advertise, "");
  EXPECT_EQ(c.sip.unknown_sources, config::UnknownSources::reject);
  EXPECT_EQ(t.prefixes, Strings{"+"});
  EXPECT_TRUE(t.accept_from.empty());
  EXPECT_EQ(t.caller_id, "");
  EXPECT_EQ(t.country_code, "");
  EXPECT_EQ(t.national_prefix, "");
  EXPECT_EQ(t.ring_timeout_s, 60);
  EXPECT_EQ(t.username, "");
  EXPECT_EQ(t.password, "");
  EXPECT_FALSE(t.register_);
}

TEST(EmbeddedDefault, Retry) {
  Config c = config::embedded_default();
  EXPECT_EQ(c.retry.max_dials, 12);
  EXPECT_EQ(c.retry.max_tries, 3);
  EXPECT_EQ(c.retry.busy_delay_s, 120);
  EXPECT_EQ(c.retry.no_answer_delay_s, 300);
  EXPECT_EQ(c.retry.failure_delay_s, 60);
  EXPECT_EQ(c.retry.congestion_delay_s, 60);
  EXPECT_EQ(c.retry.partial_delay_s, 60);
  EXPECT_EQ(c.retry.kill_after_s, 10800);
  EXPECT_EQ(c.retry.calls_per_number, 1);
  Config k = load(std::string(kTrunk) + kRoute + "[retry]\ncongestion_delay_s = 15\npartial_delay_s = 45\n");
  EXPECT_EQ(k.retry.congestion_delay_s, 15);
  EXPECT_EQ(k.retry.partial_delay_s, 45);
  EXPECT_NE(error_of(std::string(kTrunk) + kRoute + "[retry]\npartial_delay_s = 0\n").find("retry.partial_delay_s"),
            std::string::npos);
}

TEST(EmbeddedDefault, OneRouteToFaxAtLocalhost) {
  Config c = config::embedded_default();
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].did, "+15550100");
  EXPECT_EQ(c.routes[0].subaddress, "");
  EXPECT_FALSE(c.routes[0].default_);
  EXPECT_EQ(c.routes[0].mailbox, Strings{"fax@localhost"});
  EXPECT_EQ(c.routes[0].attach, (std::vector<Attach>{Attach::pdf, Attach::tiff}));
}

TEST(EmbeddedDefault, DeliveryAndTheRest) {
  Config c = config::embedded_default();
  EXPECT_FALSE(c.ldap.has_value());
  EXPECT_TRUE(c.reject.callers.empty());
  EXPECT_EQ(c.delivery.mode, DeliveryMode::maildir);
  EXPECT_EQ(c.delivery.maildir, "var/mail");
  EXPECT_EQ(c.delivery.smarthost, "");
  EXPECT_EQ(c.delivery.lmtp, "");
  EXPECT_EQ(c.delivery.username, "");
  EXPECT_EQ(c.delivery.password, "");
  EXPECT_EQ(c.delivery.tls_client_cert, "");
  EXPECT_EQ(c.delivery.tls_client_key, "");
  EXPECT_EQ(c.delivery.from, "fax@fax.localhost");
  EXPECT_EQ(c.delivery.postmaster, "postmaster@localhost");
  EXPECT_FALSE(c.dsn.success);
  EXPECT_TRUE(c.dsn.delay);
  EXPECT_EQ(c.http.listen, Strings{"127.0.0.1:8025"});
  EXPECT_EQ(c.store.url, "sqlite:var/faxbridge.db");
}

TEST(EmbeddedDefault, TextIsTheConfigItDescribes) {
  auto text = config::embedded_default_toml();
  EXPECT_NE(text.find("[[trunk]]\nname = \"loopback\""), std::string_view::npos);
  EXPECT_NE(text.find("# [[smtp.user]]"), std::string_view::npos);  // optional keys shown, commented
  // Saved to a file, it loads as the same configuration.
  auto path = std::filesystem::temp_directory_path() / ("fb-default-" + std::to_string(getpid()) + ".toml");
  std::ofstream(path) << text;
  auto r = config::load_file(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->trunks.size(), 1u);
  EXPECT_EQ(r->store.url, "sqlite:var/faxbridge.db");
}

// ---- defaults ----

TEST(Defaults, AnEmptyFileHasEveryDefaultButNoTrunkOrRoute) {
  Config c = load("");
  Config d = config::embedded_default();
  EXPECT_TRUE(c.trunks.empty());
  EXPECT_TRUE(c.routes.empty());
  EXPECT_EQ(c.node.spool_dir, d.node.spool_dir);
  EXPECT_EQ(c.smtp.listen, d.smtp.listen);
  EXPECT_EQ(c.smtp.hostname, d.smtp.hostname);
  EXPECT_EQ(c.sip.listen, d.sip.listen);
  EXPECT_EQ(c.http.listen, d.http.listen);
  EXPECT_EQ(c.delivery.maildir, d.delivery.maildir);
  EXPECT_EQ(c.delivery.from, d.delivery.from);
  EXPECT_EQ(c.store.url, d.store.url);
}

TEST(Defaults, PathsFollowDataDir) {
  Config c = load("[node]\ndata_dir = \"/srv/fax\"\n");
  EXPECT_EQ(c.node.spool_dir, "/srv/fax/spool");
  EXPECT_EQ(c.delivery.maildir, "/srv/fax/mail");
  EXPECT_EQ(c.store.url, "sqlite:/srv/fax/faxbridge.db");
  Config relative = load("[node]\ndata_dir = \"state/\"\n");  // a trailing slash is not doubled
  EXPECT_EQ(relative.node.spool_dir, "state/spool");
  EXPECT_EQ(relative.delivery.maildir, "state/mail");
  EXPECT_EQ(relative.store.url, "sqlite:state/faxbridge.db");
}

TEST(Defaults, ExplicitPathsWinOverDataDir) {
  Config c = load(
      "[node]\ndata_dir = \"/srv/fax\"\nspool_dir = \"/var/spool/fax\"\n"
      "[delivery]\nmaildir = \"/home/fax/Maildir\"\n[store]\nurl = \"sqlite:jobs.db\"\n");
  EXPECT_EQ(c.node.data_dir, "/srv/fax");
  EXPECT_EQ(c.node.spool_dir, "/var/spool/fax");
  EXPECT_EQ(c.delivery.maildir, "/home/fax/Maildir");
  EXPECT_EQ(c.store.url, "sqlite:jobs.db");
}

TEST(Defaults, APostgresqlStoreIsTakenAsWritten) {
  for (const std::string url : {"postgresql://fax:pw@db.example:5432/fax?sslmode=require", "postgres://db/fax",
                                "postgresql:///fax?host=/run/postgresql"}) {
    Config c = load("[store]\nurl = \"" + url + "\"\n");
    EXPECT_EQ(c.store.url, url);
  }
}

TEST(Defaults, FromFollowsTheFirstSmtpDomain) {
  EXPECT_EQ(load("[smtp]\ndomains = [\"fax.example.com\", \"b.example\"]\n").delivery.from,
            "fax@fax.example.com");
  EXPECT_EQ(load("[smtp]\ndomains = []\n").delivery.from, "fax@localhost");
  EXPECT_EQ(load("[smtp]\ndomains = [\"a.example\"]\n[delivery]\nfrom = \"x@y.example\"\n").delivery.from,
            "x@y.example");
}

TEST(Defaults, EmptyHostnameMeansThisMachine) {
  EXPECT_EQ(load("[smtp]\nhostname = \"\"\n").smtp.hostname, machine_hostname());
  EXPECT_EQ(load("[smtp]\nhostname = \"mx.example.com\"\n").smtp.hostname, "mx.example.com");
}

// ---- each section overridden ----

TEST(Override, Smtp) {
  Config c = load(R"toml(
[smtp]
listen = ["0.0.0.0:25", "[::]:25"]
domains = ["fax.example.com", "fax.example.org"]
trusted_networks = ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"]
max_message_bytes = 1048576
max_recipients = 5
max_sessions = 10
idle_timeout_s = 60
sender_messages_per_hour = 0
sender_recipients_per_hour = 7
hostname = "mx.example.com"
tls_cert = "cert.pem"
tls_key = "key.pem"
[[smtp.user]]
name = "alice"
password_hash = "$6$salt$hash"
[[smtp.user]]
name = "bob"
password_hash = "$2y$10$x"
)toml");
  EXPECT_EQ(c.smtp.listen, (Strings{"0.0.0.0:25", "[::]:25"}));
  EXPECT_EQ(c.smtp.domains, (Strings{"fax.example.com", "fax.example.org"}));
  EXPECT_EQ(c.smtp.trusted_networks, (Strings{"192.0.2.0/24", "2001:db8::/32", "198.51.100.7"}));
  EXPECT_EQ(c.smtp.max_message_bytes, 1048576);
  EXPECT_EQ(c.smtp.max_recipients, 5);
  EXPECT_EQ(c.smtp.max_sessions, 10);
  EXPECT_EQ(c.smtp.idle_timeout_s, 60);
  EXPECT_EQ(c.smtp.sender_messages_per_hour, 0);
  EXPECT_EQ(c.smtp.sender_recipients_per_hour, 7);
  EXPECT_EQ(c.smtp.hostname, "mx.example.com");
  EXPECT_EQ(c.smtp.tls_cert, "cert.pem");
  EXPECT_EQ(c.smtp.tls_key, "key.pem");
  ASSERT_EQ(c.smtp.users.size(), 2u);
  EXPECT_EQ(c.smtp.users[0].name, "alice");
  EXPECT_EQ(c.smtp.users[0].password_hash, "$6$salt$hash");
  EXPECT_EQ(c.smtp.users[1].name, "bob");
}

TEST(Override, DialingFaxSip) {
  Config c = load(R"toml(
[dialing]
allow = ["+1", "+44"]
deny = ["+1900"]
calls_per_day = 500
pages_per_day = 5000
sender_calls_per_day = 50
sender_pages_per_day = 400
[fax]
station_id = "Example Fax 12345678"
header = ""
paper = "letter"
[sip]
listen = ["tls:[2001:db8::1]:5061"]
tls_cert = "sip.pem"
tls_key = "sip.key"
media_port_min = 40000
media_port_max = 40001
advertise = "203.0.113.5"
unknown_sources = "drop"
)toml");
  EXPECT_EQ(c.sip.advertise, "203.0.113.5");
  EXPECT_EQ(c.sip.unknown_sources, config::UnknownSources::drop);
  EXPECT_EQ(c.dialing.allow, (Strings{"+1", "+44"}));
  EXPECT_EQ(c.dialing.deny, Strings{"+1900"});
  EXPECT_EQ((std::vector<int>{c.dialing.calls_per_day, c.dialing.pages_per_day, c.dialing.sender_calls_per_day,
                              c.dialing.sender_pages_per_day}),
            (std::vector<int>{500, 5000, 50, 400}));
  EXPECT_NE(error_of("[dialing]\ncalls_per_day = -1\n").find("dialing.calls_per_day"), std::string::npos);
  EXPECT_NE(error_of("[dialing]\nsender_pages_per_day = \"10\"\n").find("dialing.sender_pages_per_day"),
            std::string::npos);
  EXPECT_EQ(c.fax.header, "");
  EXPECT_EQ(c.fax.paper, Paper::letter);
  EXPECT_EQ(c.sip.listen, Strings{"tls:[2001:db8::1]:5061"});
  EXPECT_EQ(c.sip.tls_cert, "sip.pem");
  EXPECT_EQ(c.sip.tls_key, "sip.key");
  EXPECT_EQ(c.sip.media_port_min, 40000);
  EXPECT_EQ(c.sip.media_port_max, 40001);
}

TEST(Override, Trunks) {
  Config c = load(R"toml(
[[trunk]]
name = "carrier"
uri = "sips:sip.carrier.example:5061;transport=tls"
t38 = "only"
udptl_ec = "fec"
max_channels = 4
calls_per_second = 5
prefixes = ["+1", "+44"]
accept_from = ["192.0.2.0/24", "2001:db8::/48"]
caller_id = "+15550100"
country_code = "1"
national_prefix = "1"
ring_timeout_s = 45
username = "u"
password = "p"
register = true
options_interval_s = 30
t38_max_datagram = 272
latch_media = false
[[trunk]]
name = "backup"
uri = "sip:backup.example"
t38 = "off"
udptl_ec = "none"
)toml");
  ASSERT_EQ(c.trunks.size(), 2u);
  const config::Trunk& t = c.trunks[0];
  EXPECT_EQ(t.name, "carrier");
  EXPECT_EQ(t.uri, "sips:sip.carrier.example:5061;transport=tls");
  EXPECT_EQ(t.t38, T38Mode::only);
  EXPECT_EQ(t.udptl_ec, UdptlEc::fec);
  EXPECT_EQ(t.max_channels, 4);
  EXPECT_EQ(t.calls_per_second, 5);
  EXPECT_EQ(t.options_interval_s, 30);
  EXPECT_EQ(t.t38_max_datagram, 272);
  EXPECT_FALSE(t.latch_media);
  EXPECT_EQ(t.prefixes, (Strings{"+1", "+44"}));
  EXPECT_EQ(t.accept_from, (Strings{"192.0.2.0/24", "2001:db8::/48"}));
  EXPECT_EQ(t.caller_id, "+15550100");
  EXPECT_EQ(t.country_code, "1");
  EXPECT_EQ(t.national_prefix, "1");
  EXPECT_EQ(t.ring_timeout_s, 45);
  EXPECT_EQ(t.username, "u");
  EXPECT_EQ(t.password, "p");
  EXPECT_TRUE(t.register_);
  EXPECT_EQ(c.trunks[1].name, "backup");
  EXPECT_EQ(c.trunks[1].t38, T38Mode::off);
  EXPECT_EQ(c.trunks[1].udptl_ec, UdptlEc::none);
  EXPECT_EQ(c.trunks[1].max_channels, 30);  // defaults per block
}

TEST(Override, Retry) {
  Config c = load(
      "[retry]\nmax_dials = 1\nmax_tries = 100\nbusy_delay_s = 1\nno_answer_delay_s = 86400\n"
      "failure_delay_s = 30\nkill_after_s = 2592000\n");
  EXPECT_EQ(c.retry.max_dials, 1);
  EXPECT_EQ(c.retry.max_tries, 100);
  EXPECT_EQ(c.retry.busy_delay_s, 1);
  EXPECT_EQ(c.retry.no_answer_delay_s, 86400);
  EXPECT_EQ(c.retry.failure_delay_s, 30);
  EXPECT_EQ(c.retry.kill_after_s, 2592000);
}

TEST(Override, ACentralNumberRoutedByItsCoverPage) {
  auto c = load(
      "[[route]]\ndid = \"+15550100\"\nmailbox = \"central@example.com\"\nocr = true\nocr_copy = true\n"
      "[ocr]\n[ldap]\nuri = \"ldap://127.0.0.1\"\nbase = \"dc=x\"\npeople_filter = \"(objectClass=person)\"\n");
  EXPECT_TRUE(c.routes.at(0).ocr);
  EXPECT_TRUE(c.routes.at(0).ocr_copy);
  EXPECT_EQ(c.ldap->people_filter, "(objectClass=person)");
  EXPECT_EQ(load("[ldap]\nuri = \"ldap://127.0.0.1\"\nbase = \"dc=x\"\n").ldap->people_filter, "(objectClass=person)");
  EXPECT_NE(error_of("[ldap]\nuri = \"ldap://h\"\nbase = \"dc=x\"\npeople_filter = \"mail=*\"\n").find("ldap.people_filter"),
            std::string::npos);
}

TEST(Override, RoutesOfEachKind) {
  Config c = load(R"toml(
[[route]]
did = "+15550100"
mailbox = ["a@example.com", "b@example.com"]
attach = ["tiff"]
[[route]]
subaddress = "42"
mailbox = "sales@example.com"
attach = ["tiff", "pdf"]
[[route]]
default = true
mailbox = "postmaster@example.com"
)toml");
  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_EQ(c.routes[0].did, "+15550100");
  EXPECT_EQ(c.routes[0].mailbox, (Strings{"a@example.com", "b@example.com"}));
  EXPECT_EQ(c.routes[0].attach, std::vector<Attach>{Attach::tiff});
  EXPECT_EQ(c.routes[1].subaddress, "42");
  EXPECT_EQ(c.routes[1].mailbox, Strings{"sales@example.com"});
  EXPECT_EQ(c.routes[1].attach, (std::vector<Attach>{Attach::tiff, Attach::pdf}));  // order kept
  EXPECT_TRUE(c.routes[2].default_);
  EXPECT_EQ(c.routes[2].attach, (std::vector<Attach>{Attach::pdf, Attach::tiff}));
}

TEST(Override, LdapAndReject) {
  Config c = load(R"toml(
[ldap]
uri = "ldaps://ldap.example.com"
base = "ou=people,dc=example,dc=com"
[reject]
callers = ["+1555", "+442079460000"]
)toml");
  ASSERT_TRUE(c.ldap.has_value());
  EXPECT_EQ(c.ldap->uri, "ldaps://ldap.example.com");
  EXPECT_EQ(c.ldap->base, "ou=people,dc=example,dc=com");
  EXPECT_EQ(c.ldap->filter, "(facsimileTelephoneNumber=%s)");
  EXPECT_EQ(c.ldap->mail_attribute, "mail");
  EXPECT_EQ(c.ldap->allow_attribute, "");
  EXPECT_EQ(c.reject.callers, (Strings{"+1555", "+442079460000"}));
  Config full = load(
      "[ldap]\nuri = \"ldap://127.0.0.1:389\"\nbase = \"dc=x\"\nfilter = \"(fax=%s)\"\n"
      "mail_attribute = \"mailLocal\"\nallow_attribute = \"faxAllowed\"\n");
  EXPECT_EQ(full.ldap->filter, "(fax=%s)");
  EXPECT_EQ(full.ldap->mail_attribute, "mailLocal");
  EXPECT_EQ(full.ldap->allow_attribute, "faxAllowed");
  EXPECT_EQ(c.ldap->bind_dn, "");
  EXPECT_EQ(c.ldap->timeout_s, 5);
  EXPECT_EQ(c.ldap->cache_s, 60);
  EXPECT_EQ(c.ldap->retry_s, 60);
  Config bound = load(
      "[ldap]\nuri = \"ldap://h\"\nbase = \"dc=x\"\nbind_dn = \"cn=fax,dc=x\"\nbind_password = \"pw\"\n"
      "timeout_s = 2\ncache_s = 0\nretry_s = 10\n");
  EXPECT_EQ(bound.ldap->bind_dn, "cn=fax,dc=x");
  EXPECT_EQ(bound.ldap->bind_password, "pw");
  EXPECT_EQ((std::tuple{bound.ldap->timeout_s, bound.ldap->cache_s, bound.ldap->retry_s}), (std::tuple{2, 0, 10}));
  EXPECT_NE(error_of("[ldap]\nuri = \"ldap://h\"\nbase = \"dc=x\"\nbind_dn = \"cn=fax\"\n"), "(loaded)");
  EXPECT_NE(error_of("[ldap]\nuri = \"ldap://h\"\nbase = \"dc=x\"\ntimeout_s = 0\n"), "(loaded)");
}

TEST(Override, DeliveryBySmtpAndLmtp) {
  Config c = load(R"toml(
[delivery]
mode = "smtp"
smarthost = "mail.example.com:587"
username = "gw"
password = "secret"
tls_client_cert = "client.pem"
tls_client_key = "client.key"
from = "fax@example.com"
postmaster = "admin@example.com"
)toml");
  EXPECT_EQ(c.delivery.mode, DeliveryMode::smtp);
  EXPECT_EQ(c.delivery.smarthost, "mail.example.com:587");
  EXPECT_EQ(c.delivery.username, "gw");
  EXPECT_EQ(c.delivery.password, "secret");
  EXPECT_EQ(c.delivery.tls_client_cert, "client.pem");
  EXPECT_EQ(c.delivery.tls_client_key, "client.key");
  EXPECT_EQ(c.delivery.from, "fax@example.com");
  EXPECT_EQ(c.delivery.postmaster, "admin@example.com");
  Config l = load("[delivery]\nmode = \"lmtp\"\nlmtp = \"[::1]:24\"\n");
  EXPECT_EQ(l.delivery.mode, DeliveryMode::lmtp);
  EXPECT_EQ(l.delivery.lmtp, "[::1]:24");
  EXPECT_EQ(c.delivery.archive_days, 30);
  EXPECT_EQ(load("[delivery]\narchive_days = 0\n").delivery.archive_days, 0);
  EXPECT_NE(error_of("[delivery]\narchive_days = -1\n"), "(loaded)");
  EXPECT_EQ(c.delivery.tls, DeliveryTls::automatic);
  EXPECT_EQ(load("[delivery]\ntls = \"may\"\n").delivery.tls, DeliveryTls::may);
  EXPECT_EQ(load("[delivery]\ntls = \"encrypt\"\n").delivery.tls, DeliveryTls::encrypt);
  EXPECT_EQ(load("[delivery]\ntls = \"verify\"\n").delivery.tls, DeliveryTls::verify);
  EXPECT_NE(error_of("[delivery]\ntls = \"yes\"\n").find("delivery.tls"), std::string::npos);
}

TEST(Override, DsnHttpStore) {
  Config c = load(
      "[dsn]\nsuccess = true\ndelay = false\n[http]\nlisten = [\"127.0.0.1:8080\", \"[::1]:8080\"]\n"
      "[store]\nurl = \"sqlite:/var/lib/faxbridge/jobs.db\"\n");
  EXPECT_TRUE(c.dsn.success);
  EXPECT_FALSE(c.dsn.delay);
  EXPECT_EQ(c.http.listen, (Strings{"127.0.0.1:8080", "[::1]:8080"}));
  EXPECT_EQ(c.store.url, "sqlite:/var/lib/faxbridge/jobs.db");
  EXPECT_EQ(load("[http]\nlisten = \"0.0.0.0:80\"\n").http.listen, Strings{"0.0.0.0:80"});
  EXPECT_TRUE(load("[http]\nlisten = []\n").http.listen.empty());  // API off
}

TEST(Override, ConverterWorkers) {
  EXPECT_EQ(load("").converter.workers, 2);
  EXPECT_EQ(load("[converter]\nworkers = 8\n").converter.workers, 8);
  EXPECT_NE(error_of("[converter]\nworkers = 0\n").find("converter.workers"), std::string::npos);
  EXPECT_NE(error_of("[converter]\nthreads = 2\n").find("converter.threads"), std::string::npos);
}

TEST(Override, LogAndWebhooks) {
  Config d = load("");
  EXPECT_EQ(d.log.format, fb::LogFormat::text);
  EXPECT_EQ(d.log.level, fb::LogLevel::info);
  EXPECT_FALSE(d.log.t30_trace);
  EXPECT_FALSE(d.http.webhook_allow_private);
  EXPECT_EQ(d.http.webhook_timeout_s, 10);
  Config c = load("[log]\nformat = \"logfmt\"\nlevel = \"warn\"\nt30_trace = true\n"
                  "[http]\nwebhook_allow_private = true\nwebhook_timeout_s = 30\n");
  EXPECT_EQ(c.log.format, fb::LogFormat::logfmt);
  EXPECT_EQ(c.log.level, fb::LogLevel::warn);
  EXPECT_TRUE(c.log.t30_trace);
  EXPECT_TRUE(c.http.webhook_allow_private);
  EXPECT_EQ(c.http.webhook_timeout_s, 30);
  EXPECT_NE(error_of("[log]\nformat = \"xml\"\n").find("log.format"), std::string::npos);
  EXPECT_NE(error_of("[log]\nlevel = \"loud\"\n").find("log.level"), std::string::npos);
  EXPECT_NE(error_of("[http]\nwebhook_timeout_s = 0\n").find("http.webhook_timeout_s"), std::string::npos);
}

TEST(Override, InboundCaps) {
  Config d = load("");
  EXPECT_EQ((std::vector<int>{d.fax.max_inbound_pages, d.fax.max_inbound_call_s, d.fax.missed_notices_per_caller_per_hour}),
            (std::vector<int>{200, 3600, 2}));
  Config c = load("[fax]\nmax_inbound_pages = 0\nmax_inbound_call_s = 600\nmissed_notices_per_caller_per_hour = 5\n");
  EXPECT_EQ((std::vector<int>{c.fax.max_inbound_pages, c.fax.max_inbound_call_s, c.fax.missed_notices_per_caller_per_hour}),
            (std::vector<int>{0, 600, 5}));
  EXPECT_NE(error_of("[fax]\nmax_inbound_call_s = 90000\n").find("fax.max_inbound_call_s"), std::string::npos);
}

TEST(Override, HttpTokensOnlyOffOnLoopback) {
  EXPECT_TRUE(load("").http.tokens);
  EXPECT_TRUE(load("").http.hosts.empty());
  Config c = load("[http]\nlisten = [\"127.0.0.1:8080\", \"[::1]:8080\"]\ntokens = false\nhosts = [\"fax.example.com\"]\n");
  EXPECT_FALSE(c.http.tokens);
  EXPECT_EQ(c.http.hosts, Strings{"fax.example.com"});
  EXPECT_NE(error_of("[http]\nlisten = \"0.0.0.0:8025\"\ntokens = false\n")
                .find("http.listen 0.0.0.0:8025 is not a loopback address, and http.tokens is false"),
            std::string::npos);
  EXPECT_NE(error_of("[http]\nlisten = [\"127.0.0.1:1\", \"[::]:8025\"]\ntokens = false\n").find("[::]:8025"),
            std::string::npos);
  EXPECT_NE(error_of("[http]\nhosts = [\"not a name\"]\n").find("http.hosts"), std::string::npos);
}

// The block of INTERFACES.md with every commented key uncommented.
TEST(FullExample, Loads) {
  Config c = load(R"toml(
[node]
data_dir = "var"

[smtp]
listen = ["127.0.0.1:2525"]
domains = ["fax.localhost"]              # FAX=...@<one of these> is ours
trusted_networks = ["127.0.0.0/8", "::1/128"]  # may send without AUTH
max_message_bytes = 26214400
tls_cert = "cert.pem"
tls_key = "key.pem"   # enables STARTTLS
[[smtp.user]]
name = "alice"
password_hash = "..."   # AUTH PLAIN/LOGIN

[dialing]                                # outbound number policy (E.164 prefixes, "+" included)
allow = ["+"]
deny = ["+1900", "+1976"]                # plus built-in premium-rate defaults, documented

[fax]
station_id = "+15550100"                 # our TSI/CSID (max 20 chars)
header = "faxbridge"                     # page header line on transmitted pages ("" for none)
paper = "a4"                             # a4 | letter: the page size for text

[sip]
listen = ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]   # also tls:HOST:PORT with tls_cert/tls_key
media_port_min = 20000
media_port_max = 29999

[[trunk]]
name = "loopback"
uri = "sip:127.0.0.1:5060"               # where calls go (proxy or peer)
t38 = "prefer"                           # prefer | only | off
udptl_ec = "redundancy"                  # none | redundancy | fec
max_channels = 30
prefixes = ["+1"]
accept_from = ["192.0.2.0/24"]
caller_id = "+15550100"
country_code = "1"
national_prefix = "1"
ring_timeout_s = 60
username = "..."
password = "..."
register = false

[retry]                                  # outbound faxes
max_dials = 12                           # busy / no answer / congestion
max_tries = 3                            # calls that reached a fax machine but failed (T.30) or sent part
busy_delay_s = 120
no_answer_delay_s = 300
failure_delay_s = 60
kill_after_s = 10800                     # give up and report failure after this long

[[route]]                                # inbound fax → mailbox
did = "+15550100"                        # or: subaddress = "42", or: default = true
mailbox = "fax@localhost"                # a string or a list of addresses
attach = ["pdf", "tiff"]

[ldap]
uri = "ldap://127.0.0.1:389"
base = "..."
filter = "(facsimileTelephoneNumber=%s)"
mail_attribute = "mail"
allow_attribute = "..."
[reject]
callers = ["+1555"]

[delivery]
mode = "maildir"                         # maildir | smtp | lmtp
maildir = "var/mail"                     # <maildir>/<address>/{tmp,new,cur}
smarthost = "127.0.0.1:25"
lmtp = "127.0.0.1:24"
username = "..."
password = "..."
tls_client_cert = "client.pem"
tls_client_key = "client.key"
from = "fax@fax.localhost"
postmaster = "postmaster@localhost"      # unroutable faxes, permanent delivery failures

[dsn]
success = false                          # report success when NOTIFY was not given
delay = true                             # report delays when NOTIFY was not given

[http]
listen = "127.0.0.1:8025"                # a string or a list

[store]
url = "sqlite:var/faxbridge.db"          # or postgresql://fax@db.example:5432/fax
)toml");
  EXPECT_EQ(c.smtp.users.size(), 1u);
  EXPECT_EQ(c.trunks.at(0).accept_from, Strings{"192.0.2.0/24"});
  EXPECT_EQ(c.trunks.at(0).username, "...");
  EXPECT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.ldap->allow_attribute, "...");
  EXPECT_EQ(c.delivery.lmtp, "127.0.0.1:24");
  EXPECT_EQ(c.http.listen, Strings{"127.0.0.1:8025"});
}

// ---- errors: one line naming the file, the key path and the problem ----

struct ErrorCase {
  const char* name;
  std::string toml;
  std::string message;
};

void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << c.name;
}
std::string CaseName(const testing::TestParamInfo<ErrorCase>& info) {
  return info.param.name;
}

class ConfigErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrors, NamesFileKeyAndProblem) {
  EXPECT_EQ(error_of(GetParam().toml), GetParam().message);
}

const std::string kF = "faxbridge.toml: ";

INSTANTIATE_TEST_SUITE_P(
    Syntax, ConfigErrors,
    testing::Values(
        ErrorCase{"UnclosedList", "[smtp]\nlisten = [\"a\"\n",
                  "faxbridge.toml line 2: Error while parsing array: encountered end-of-file"},
        ErrorCase{"DuplicateKey", "[fax]\npaper = \"a4\"\npaper = \"letter\"\n",
                  "faxbridge.toml line 3: Error while parsing key-value pair: cannot redefine existing "
                  "string 'paper'"},
        ErrorCase{"MissingValue", "[node]\n\n\n\n\n\ndata_dir = \n",
                  "faxbridge.toml line 7: Error while parsing key-value pair: expected value, saw '\\n'"}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    UnknownKeys, ConfigErrors,
    testing::Values(
        ErrorCase{"InSection", "[smtp]\nlistn = [\"127.0.0.1:25\"]\n", kF + "unknown key smtp.listn"},
        ErrorCase{"Section", "[smpt]\nlisten = []\n", kF + "unknown key smpt"},
        ErrorCase{"TopLevel", "data_dir = \"var\"\n", kF + "unknown key data_dir"},
        ErrorCase{"InTrunk",
                  std::string(kTrunk) + "[[trunk]]\nname = \"b\"\nuri = \"sip:b\"\nt83 = \"off\"\n",
                  kF + "unknown key trunk[1].t83"},
        ErrorCase{"InSmtpUser", "[[smtp.user]]\nname = \"a\"\npassword = \"x\"\n",
                  kF + "unknown key smtp.user[0].password"},
        ErrorCase{"SubTable", "[smtp.tls]\ncert = \"x\"\n", kF + "unknown key smtp.tls"},
        ErrorCase{"FirstInFileIsNamed", "[retry]\nzzz = 1\nmax_dial = 3\n", kF + "unknown key retry.zzz"},
        ErrorCase{"TrunkRegisterIsNotRegister_", std::string(kTrunk) + "register_ = true\n",
                  kF + "unknown key trunk[0].register_"}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    WrongTypes, ConfigErrors,
    testing::Values(
        ErrorCase{"ListAsString", "[smtp]\nlisten = \"127.0.0.1:25\"\n",
                  kF + "smtp.listen must be a list of strings, not a string"},
        ErrorCase{"ListElement", "[smtp]\ndomains = [\"a.example\", 7]\n",
                  kF + "smtp.domains[1] must be a string, not an integer"},
        ErrorCase{"IntegerAsString", "[smtp]\nmax_message_bytes = \"25M\"\n",
                  kF + "smtp.max_message_bytes must be an integer, not a string"},
        ErrorCase{"IntegerAsFloat", "[retry]\nmax_dials = 3.0\n",
                  kF + "retry.max_dials must be an integer, not a float"},
        ErrorCase{"BooleanAsString", "[dsn]\nsuccess = \"yes\"\n",
                  kF + "dsn.success must be a boolean, not a string"},
        ErrorCase{"StringAsInteger", "[fax]\nstation_id = 15550100\n",
                  kF + "fax.station_id must be a string, not an integer"},
        ErrorCase{"SectionAsValue", "smtp = 5\n", kF + "smtp must be a table, not an integer"},
        ErrorCase{"TrunkAsTable", "[trunk]\nname = \"a\"\n",
                  kF + "trunk must be blocks of [[trunk]], not a table"},
        ErrorCase{"SmtpUserAsTable", "[smtp.user]\nname = \"a\"\n",
                  kF + "smtp.user must be blocks of [[smtp.user]], not a table"},
        ErrorCase{"MailboxAsInteger", "[[route]]\ndefault = true\nmailbox = 1\n",
                  kF + "route[0].mailbox must be a string or a list of strings, not an integer"},
        ErrorCase{"HttpListenAsTable", "[http.listen]\nhost = \"x\"\n",
                  kF + "http.listen must be a string or a list of strings, not a table"},
        ErrorCase{"EnumAsList", "[fax]\npaper = [\"a4\"]\n", kF + "fax.paper must be a string, not a list"},
        ErrorCase{"LdapAsString", "ldap = \"ldap://x\"\n", kF + "ldap must be a table, not a string"}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    Enumerations, ConfigErrors,
    testing::Values(
        ErrorCase{"T38", std::string(kTrunk) + "[[trunk]]\nname = \"b\"\nuri = \"sip:b\"\nt38 = \"maybe\"\n",
                  kF + "trunk[1].t38 must be prefer, only or off, not \"maybe\""},
        ErrorCase{"UdptlEc", std::string(kTrunk) + "udptl_ec = \"FEC\"\n",
                  kF + "trunk[0].udptl_ec must be none, redundancy or fec, not \"FEC\""},
        ErrorCase{"UnknownSources", "[sip]\nunknown_sources = \"ignore\"\n",
                  kF + "sip.unknown_sources must be reject or drop, not \"ignore\""},
        ErrorCase{"Paper", "[fax]\npaper = \"legal\"\n",
                  kF + "fax.paper must be a4 or letter, not \"legal\""},
        ErrorCase{"Resolution", "[fax]\nresolution = \"high\"\n",
                  kF + "fax.resolution must be standard, fine or superfine, not \"high\""},
        ErrorCase{"DeliveryMode", "[delivery]\nmode = \"mbox\"\n",
                  kF + "delivery.mode must be maildir, smtp or lmtp, not \"mbox\""},
        ErrorCase{"Attach", std::string(kRoute) + "attach = [\"pdf\", \"png\"]\n",
                  kF + "route[0].attach[1] must be pdf or tiff, not \"png\""},
        ErrorCase{"AttachTwice", std::string(kRoute) + "attach = [\"tiff\", \"pdf\", \"tiff\"]\n",
                  kF + "route[0].attach lists tiff twice"},
        ErrorCase{"AttachNothing", std::string(kRoute) + "attach = []\n",
                  kF + "route[0].attach must name pdf, tiff or both"},
        ErrorCase{"QuotesAreEscaped", "[fax]\npaper = 'a\"4\\'\n",
                  kF + "fax.paper must be a4 or letter, not \"a\\\"4\\\\\""}),
    CaseName);

const std::string kHostPort = "must be HOST:PORT with a port from 1 to 65535 (IPv6 as [::1]:25), not ";

INSTANTIATE_TEST_SUITE_P(
    ListenAddresses, ConfigErrors,
    testing::Values(
        ErrorCase{"PortZero", "[smtp]\nlisten = [\"127.0.0.1:0\"]\n",
                  kF + "smtp.listen[0] " + kHostPort + "\"127.0.0.1:0\""},
        ErrorCase{"PortTooHigh", "[smtp]\nlisten = [\"127.0.0.1:25\", \"127.0.0.1:65536\"]\n",
                  kF + "smtp.listen[1] " + kHostPort + "\"127.0.0.1:65536\""},
        ErrorCase{"NoPort", "[smtp]\nlisten = [\"127.0.0.1\"]\n",
                  kF + "smtp.listen[0] " + kHostPort + "\"127.0.0.1\""},
        ErrorCase{"EmptyPort", "[http]\nlisten = \"localhost:\"\n",
                  kF + "http.listen " + kHostPort + "\"localhost:\""},
        ErrorCase{"PortNotNumber", "[http]\nlisten = \"localhost:http\"\n",
                  kF + "http.listen " + kHostPort + "\"localhost:http\""},
        ErrorCase{"NoHost", "[http]\nlisten = \":8025\"\n", kF + "http.listen " + kHostPort + "\":8025\""},
        ErrorCase{"BadIpv4", "[http]\nlisten = \"127.0.0.256:80\"\n",
                  kF + "http.listen " + kHostPort + "\"127.0.0.256:80\""},
        ErrorCase{"UnbracketedIpv6", "[smtp]\nlisten = [\"::1:25\"]\n",
                  kF + "smtp.listen[0] " + kHostPort + "\"::1:25\""},
        ErrorCase{"BracketsWithoutPort", "[smtp]\nlisten = [\"[::1]\"]\n",
                  kF + "smtp.listen[0] " + kHostPort + "\"[::1]\""},
        ErrorCase{"BracketedIpv4", "[smtp]\nlisten = [\"[127.0.0.1]:25\"]\n",
                  kF + "smtp.listen[0] " + kHostPort + "\"[127.0.0.1]:25\""},
        ErrorCase{"Smarthost", "[delivery]\nsmarthost = \"mail.example.com\"\n",
                  kF + "delivery.smarthost " + kHostPort + "\"mail.example.com\""},
        ErrorCase{
            "SipNoTransport", "[sip]\nlisten = [\"127.0.0.1:5060\"]\n",
            kF + "sip.listen[0] must be udp:, tcp: or tls: then HOST:PORT with a port from 1 to 65535, not "
                 "\"127.0.0.1:5060\""},
        ErrorCase{
            "SipBadTransport", "[sip]\nlisten = [\"sctp:127.0.0.1:5060\"]\n",
            kF + "sip.listen[0] must be udp:, tcp: or tls: then HOST:PORT with a port from 1 to 65535, not "
                 "\"sctp:127.0.0.1:5060\""},
        ErrorCase{
            "SipBadPort", "[sip]\nlisten = [\"udp:127.0.0.1:70000\"]\n",
            kF + "sip.listen[0] must be udp:, tcp: or tls: then HOST:PORT with a port from 1 to 65535, not "
                 "\"udp:127.0.0.1:70000\""},
        ErrorCase{"Advertise", "[sip]\nadvertise = \"203.0.113.5:5060\"\n",
                  kF + "sip.advertise must be an IP address or a host name (the address written in Via, Contact and "
                       "SDP), not \"203.0.113.5:5060\""}),
    CaseName);

const std::string kNet = "must be a network like 192.0.2.0/24 or 2001:db8::/32, not ";

INSTANTIATE_TEST_SUITE_P(
    Networks, ConfigErrors,
    testing::Values(
        ErrorCase{
            "TrustedNotAddress", "[smtp]\ntrusted_networks = [\"127.0.0.0/8\", \"loopback\"]\n",
            kF + "smtp.trusted_networks[1] " + kNet + "\"loopback\" (not a numeric IPv4 or IPv6 address)"},
        ErrorCase{"TrustedPrefix", "[smtp]\ntrusted_networks = [\"::1/129\"]\n",
                  kF + "smtp.trusted_networks[0] " + kNet + "\"::1/129\" (prefix length must be 0..128)"},
        ErrorCase{"TrustedHostBits", "[smtp]\ntrusted_networks = [\"192.0.2.1/24\"]\n",
                  kF + "smtp.trusted_networks[0] " + kNet +
                      "\"192.0.2.1/24\" (address has bits set after the prefix)"},
        ErrorCase{
            "AcceptFrom", std::string(kTrunk) + "accept_from = [\"192.0.2/24\"]\n",
            kF + "trunk[0].accept_from[0] " + kNet + "\"192.0.2/24\" (not a numeric IPv4 or IPv6 address)"}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    Numbers, ConfigErrors,
    testing::Values(
        ErrorCase{"DidWithoutPlus", "[[route]]\ndid = \"15550100\"\nmailbox = \"a@b\"\n",
                  kF + "route[0].did must be an E.164 number (+ and 1 to 15 digits), not \"15550100\""},
        ErrorCase{
            "DidSixteenDigits", "[[route]]\ndid = \"+1234567890123456\"\nmailbox = \"a@b\"\n",
            kF + "route[0].did must be an E.164 number (+ and 1 to 15 digits), not \"+1234567890123456\""},
        ErrorCase{"DidPlusAlone", "[[route]]\ndid = \"+\"\nmailbox = \"a@b\"\n",
                  kF + "route[0].did must be an E.164 number (+ and 1 to 15 digits), not \"+\""},
        ErrorCase{"DidWithSpaces", "[[route]]\ndid = \"+1 555 0100\"\nmailbox = \"a@b\"\n",
                  kF + "route[0].did must be an E.164 number (+ and 1 to 15 digits), not \"+1 555 0100\""},
        ErrorCase{"CallerId", std::string(kTrunk) + "caller_id = \"5550100\"\n",
                  kF + "trunk[0].caller_id must be an E.164 number (+ and 1 to 15 digits), not \"5550100\""},
        ErrorCase{"AllowWithoutPlus", "[dialing]\nallow = [\"1\"]\n",
                  kF + "dialing.allow[0] must be + or an E.164 prefix (+ and 1 to 15 digits), not \"1\""},
        ErrorCase{"DenyPlusAlone", "[dialing]\ndeny = [\"+1900\", \"+\"]\n",
                  kF + "dialing.deny[1] must be an E.164 prefix (+ and 1 to 15 digits), not \"+\""},
        ErrorCase{
            "TrunkPrefix", std::string(kTrunk) + "prefixes = [\"+1x\"]\n",
            kF + "trunk[0].prefixes[0] must be + or an E.164 prefix (+ and 1 to 15 digits), not \"+1x\""},
        ErrorCase{"RejectCaller", "[reject]\ncallers = [\"+1555...\"]\n",
                  kF + "reject.callers[0] must be an E.164 prefix (+ and 1 to 15 digits), not \"+1555...\""},
        ErrorCase{"CountryCode", std::string(kTrunk) + "country_code = \"+1\"\n",
                  kF + "trunk[0].country_code must be 1 to 3 digits, not \"+1\""},
        ErrorCase{"NationalPrefix", std::string(kTrunk) + "national_prefix = \"00000\"\n",
                  kF + "trunk[0].national_prefix must be 0 to 4 digits, not \"00000\""},
        ErrorCase{"Subaddress", "[[route]]\nsubaddress = \"4x\"\nmailbox = \"a@b\"\n",
                  kF + "route[0].subaddress must be 1 to 20 digits, not \"4x\""},
        ErrorCase{"StationIdTooLong", "[fax]\nstation_id = \"+15550100123456789012\"\n",
                  kF + "fax.station_id must be at most 20 printable ASCII characters (T.30 TSI/CSID), not "
                       "\"+15550100123456789012\""},
        ErrorCase{"StationIdNotAscii", "[fax]\nstation_id = \"Büro\"\n",
                  kF + "fax.station_id must be at most 20 printable ASCII characters (T.30 TSI/CSID), not "
                       "\"Büro\""}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    Ranges, ConfigErrors,
    testing::Values(ErrorCase{"MaxDialsUnder", "[retry]\nmax_dials = 0\n",
                              kF + "retry.max_dials must be from 1 to 1000, not 0"},
                    ErrorCase{"MaxDialsOver", "[retry]\nmax_dials = 1001\n",
                              kF + "retry.max_dials must be from 1 to 1000, not 1001"},
                    ErrorCase{"KillAfterOver", "[retry]\nkill_after_s = 2592001\n",
                              kF + "retry.kill_after_s must be from 1 to 2592000, not 2592001"},
                    ErrorCase{"MessageBytes", "[smtp]\nmax_message_bytes = 0\n",
                              kF + "smtp.max_message_bytes must be from 1 to 4294967296, not 0"},
                    ErrorCase{"SenderRateNegative", "[smtp]\nsender_messages_per_hour = -1\n",
                              kF + "smtp.sender_messages_per_hour must be from 0 to 10000000, not -1"},
                    ErrorCase{"HugeInteger", "[smtp]\nmax_sessions = 9223372036854775807\n",
                              kF + "smtp.max_sessions must be from 1 to 100000, not 9223372036854775807"},
                    ErrorCase{"MediaPortZero", "[sip]\nmedia_port_min = 0\n",
                              kF + "sip.media_port_min must be from 1 to 65535, not 0"},
                    ErrorCase{"MaxChannels", std::string(kTrunk) + "max_channels = 0\n",
                              kF + "trunk[0].max_channels must be from 1 to 10000, not 0"},
                    ErrorCase{"CallsPerSecond", std::string(kTrunk) + "calls_per_second = 1001\n",
                              kF + "trunk[0].calls_per_second must be from 0 to 1000, not 1001"},
                    ErrorCase{"OptionsInterval", std::string(kTrunk) + "options_interval_s = 3601\n",
                              kF + "trunk[0].options_interval_s must be from 0 to 3600, not 3601"},
                    ErrorCase{"T38MaxDatagram", std::string(kTrunk) + "t38_max_datagram = -1\n",
                              kF + "trunk[0].t38_max_datagram must be from 0 to 65535, not -1"},
                    ErrorCase{"RingTimeout", std::string(kTrunk) + "ring_timeout_s = 601\n",
                              kF + "trunk[0].ring_timeout_s must be from 1 to 600, not 601"}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    OtherValues, ConfigErrors,
    testing::Values(
        ErrorCase{"EmptyDataDir", "[node]\ndata_dir = \"\"\n", kF + "node.data_dir must be a path, not \"\""},
        ErrorCase{"Domain", "[smtp]\ndomains = [\"fax..example\"]\n",
                  kF + "smtp.domains[0] must be a domain name, not \"fax..example\""},
        ErrorCase{"Hostname", "[smtp]\nhostname = \"mx example\"\n",
                  kF + "smtp.hostname must be a domain name, not \"mx example\""},
        ErrorCase{"HeaderTwoLines", "[fax]\nheader = \"a\\nb\"\n",
                  kF + "fax.header must be one line without control characters, not \"a\\u000Ab\""},
        ErrorCase{"TrunkUri", "[[trunk]]\nname = \"a\"\nuri = \"192.0.2.1:5060\"\n",
                  kF + "trunk[0].uri must be a SIP URI like sip:HOST[:PORT] or sips:HOST[:PORT], not "
                       "\"192.0.2.1:5060\""},
        ErrorCase{"Mailbox", "[[route]]\ndefault = true\nmailbox = [\"fax@localhost\", \"fax\"]\n",
                  kF + "route[0].mailbox[1] must be a mail address like fax@example.com, not \"fax\""},
        ErrorCase{"Postmaster", "[delivery]\npostmaster = \"root\"\n",
                  kF + "delivery.postmaster must be a mail address like fax@example.com, not \"root\""},
        ErrorCase{"LdapUri", "[ldap]\nuri = \"127.0.0.1\"\nbase = \"dc=x\"\n",
                  kF + "ldap.uri must be an ldap://, ldaps:// or ldapi:// URI, not \"127.0.0.1\""},
        ErrorCase{"LdapFilter", "[ldap]\nuri = \"ldap://x\"\nbase = \"dc=x\"\nfilter = \"(fax=*)\"\n",
                  kF + "ldap.filter must be an LDAP filter with %s where the number goes, not \"(fax=*)\""},
        ErrorCase{"StoreUrl", "[store]\nurl = \"mysql://db/fax\"\n",
                  kF + "store.url must be sqlite:PATH or postgresql://[user[:password]@]host[:port]/database[?...], "
                       "not \"mysql://db/fax\""},
        ErrorCase{"StoreUrlWithASpace", "[store]\nurl = \"postgresql://db/fax db\"\n",
                  kF + "store.url must be sqlite:PATH or postgresql://[user[:password]@]host[:port]/database[?...], "
                       "not \"postgresql://db/fax db\""},
        ErrorCase{"StoreUrlKeepsItsPassword", "[store]\nurl = \"postgresql://fax:s3cret@db/fax db\"\n",
                  kF + "store.url must be sqlite:PATH or postgresql://[user[:password]@]host[:port]/database[?...], "
                       "not \"postgresql://***@db/fax db\""}),
    CaseName);

INSTANTIATE_TEST_SUITE_P(
    Consistency, ConfigErrors,
    testing::Values(
        ErrorCase{"TrunkNamesUnique", std::string(kTrunk) + kTrunk,
                  kF + "trunk[1].name \"a\" is already trunk[0]"},
        ErrorCase{"TrunkNameRequired", "[[trunk]]\nuri = \"sip:x\"\n", kF + "trunk[0].name is required"},
        ErrorCase{"TrunkUriRequired", "[[trunk]]\nname = \"x\"\n", kF + "trunk[0].uri is required"},
        ErrorCase{"TrunkAuthPair", std::string(kTrunk) + "username = \"u\"\n",
                  kF + "trunk[0].username and trunk[0].password must be set together"},
        ErrorCase{"RegisterNeedsUser", std::string(kTrunk) + "register = true\n",
                  kF + "trunk[0].register = true needs trunk[0].username"},
        ErrorCase{"MediaPortsHoldAPair", "[sip]\nmedia_port_min = 20001\nmedia_port_max = 20002\n",
                  kF + "sip.media_port_min..sip.media_port_max (20001..20002) must hold an even port and the one after it (RTP and RTCP)"},
        ErrorCase{"OcrRouteNeedsOcr", "[[route]]\ndid = \"+1\"\nmailbox = \"a@b\"\nocr = true\n",
                  kF + "route[0].ocr: reading cover pages needs an [ocr] section"},
        ErrorCase{"OcrCopyNeedsOcr", "[[route]]\ndid = \"+1\"\nmailbox = \"a@b\"\nocr_copy = true\n",
                  kF + "route[0].ocr_copy needs ocr = true"},
        ErrorCase{"RouteNoKind", "[[route]]\nmailbox = \"a@b\"\n",
                  kF + "route[0] must have exactly one of did, subaddress or default = true"},
        ErrorCase{"RouteDefaultFalseIsNoKind", "[[route]]\ndefault = false\nmailbox = \"a@b\"\n",
                  kF + "route[0] must have exactly one of did, subaddress or default = true"},
        ErrorCase{"RouteTwoKinds",
                  std::string(kRoute) + "[[route]]\ndid = \"+1\"\nsubaddress = \"42\"\nmailbox = \"a@b\"\n",
                  kF + "route[1] must have exactly one of did, subaddress or default = true"},
        ErrorCase{"RouteNoMailbox", "[[route]]\ndid = \"+1\"\n",
                  kF + "route[0].mailbox must name at least one address"},
        ErrorCase{"RouteEmptyMailbox", "[[route]]\ndid = \"+1\"\nmailbox = []\n",
                  kF + "route[0].mailbox must name at least one address"},
        ErrorCase{"RouteDidTwice", std::string(kRoute) + kRoute,
                  kF + "route[1].did \"+15550100\" is already routed by route[0]"},
        ErrorCase{"RouteSubaddressTwice",
                  "[[route]]\nsubaddress = \"7\"\nmailbox = \"a@b\"\n[[route]]\nsubaddress = \"7\"\nmailbox "
                  "= \"c@d\"\n",
                  kF + "route[1].subaddress \"7\" is already routed by route[0]"},
        ErrorCase{
            "TwoDefaultRoutes",
            "[[route]]\ndefault = true\nmailbox = \"a@b\"\n[[route]]\ndefault = true\nmailbox = \"c@d\"\n",
            kF + "route[1].default: route[0] is already the default route"},
        ErrorCase{"SmtpTlsPair", "[smtp]\ntls_cert = \"c.pem\"\n",
                  kF + "smtp.tls_cert and smtp.tls_key must be set together"},
        ErrorCase{"SmtpUserName", "[[smtp.user]]\npassword_hash = \"x\"\n",
                  kF + "smtp.user[0].name is required"},
        ErrorCase{"SmtpUserHash", "[[smtp.user]]\nname = \"a\"\n",
                  kF + "smtp.user[0].password_hash is required"},
        ErrorCase{"SmtpUserTwice",
                  "[[smtp.user]]\nname = \"a\"\npassword_hash = \"x\"\n[[smtp.user]]\nname = "
                  "\"a\"\npassword_hash = \"y\"\n",
                  kF + "smtp.user[1].name \"a\" is already smtp.user[0]"},
        ErrorCase{"SipTlsWithoutCert", "[sip]\nlisten = [\"udp:127.0.0.1:5060\", \"tls:127.0.0.1:5061\"]\n",
                  kF + "sip.listen[1] is tls: it needs sip.tls_cert and sip.tls_key"},
        ErrorCase{"SipTlsPair", "[sip]\ntls_key = \"k.pem\"\n",
                  kF + "sip.tls_cert and sip.tls_key must be set together"},
        ErrorCase{"MediaPorts", "[sip]\nmedia_port_min = 30000\n",
                  kF + "sip.media_port_min must not be above sip.media_port_max (30000 > 29999)"},
        ErrorCase{"SmtpNeedsSmarthost", "[delivery]\nmode = \"smtp\"\n",
                  kF + "delivery.smarthost is required when delivery.mode is smtp"},
        ErrorCase{"LmtpNeedsAddress", "[delivery]\nmode = \"lmtp\"\nsmarthost = \"a:25\"\n",
                  kF + "delivery.lmtp is required when delivery.mode is lmtp"},
        ErrorCase{"DeliveryAuthPair", "[delivery]\npassword = \"p\"\n",
                  kF + "delivery.username and delivery.password must be set together"},
        ErrorCase{"DeliveryTlsPair", "[delivery]\ntls_client_key = \"k\"\n",
                  kF + "delivery.tls_client_cert and delivery.tls_client_key must be set together"},
        ErrorCase{"LdapNeedsUri", "[ldap]\nbase = \"dc=x\"\n", kF + "ldap.uri is required"},
        ErrorCase{"LdapNeedsBase", "[ldap]\nuri = \"ldap://x\"\n", kF + "ldap.base is required"}),
    CaseName);

// ---- limits at the edge: one under, at, one over ----

TEST(Limits, StationIdOfTwentyCharactersIsFine) {
  EXPECT_EQ(load("[fax]\nstation_id = \"+1555010012345678901\"\n").fax.station_id.size(), 20u);  // 20 ok
  EXPECT_EQ(load("[fax]\nstation_id = \"+155501001234567890\"\n").fax.station_id.size(), 19u);
  EXPECT_EQ(load("[fax]\nstation_id = \"\"\n").fax.station_id, "");
}

TEST(Dialing, WithoutAllowOnlyTheStationsCountryIsDialled) {
  EXPECT_EQ(load("").dialing.allow, Strings{"+1"});  // station_id "+15550100"
  // +1 is 25 countries: the Caribbean and Atlantic ones are denied with the default.
  const auto deny = load("").dialing.deny;
  EXPECT_NE(std::find(deny.begin(), deny.end(), "+1876"), deny.end());  // Jamaica
  EXPECT_NE(std::find(deny.begin(), deny.end(), "+1900"), deny.end());  // and the stock deny stays
  EXPECT_EQ(load("[dialing]\nallow = [\"+1\"]\n").dialing.deny, (Strings{"+1900", "+1976"}));  // allow given: as written
  EXPECT_EQ(load("[fax]\nstation_id = \"+49 30 1234567\"\n").dialing.allow, Strings{"+49"});
  EXPECT_EQ(load("[fax]\nstation_id = \"+1 (202) 555-0100\"\n").dialing.allow, Strings{"+1"});
  EXPECT_EQ(load("[fax]\nstation_id = \"+442079460000\"\n").dialing.deny, (Strings{"+1900", "+1976"}));
  // A Caribbean station: its own country (with its overlay codes), not the US and Canada.
  EXPECT_EQ(load("[fax]\nstation_id = \"+1 876 555 0100\"\n").dialing.allow, (Strings{"+1876", "+1658"}));
  EXPECT_EQ(load("[fax]\nstation_id = \"+18295550100\"\n").dialing.allow, (Strings{"+1809", "+1829", "+1849"}));
  EXPECT_EQ(load("[fax]\nstation_id = \"+12465550100\"\n").dialing.allow, Strings{"+1246"});
  EXPECT_EQ(load("[fax]\nstation_id = \"+442079460000\"\n").dialing.allow, Strings{"+44"});
  EXPECT_EQ(load("[fax]\nstation_id = \"+35312345678\"\n").dialing.allow, Strings{"+353"});
  EXPECT_EQ(load("[fax]\nstation_id = \"+79161234567\"\n").dialing.allow, Strings{"+7"});
  EXPECT_TRUE(load("[fax]\nstation_id = \"ACME FAX\"\n").dialing.allow.empty());  // no country: nothing
  EXPECT_EQ(load("[fax]\nstation_id = \"+442079460000\"\n[dialing]\nallow = [\"+\"]\n").dialing.allow, Strings{"+"});
  EXPECT_TRUE(load("[dialing]\nallow = []\n").dialing.allow.empty());
}

TEST(Node, MinFreeMb) {
  EXPECT_EQ(load("").node.min_free_mb, 200);
  EXPECT_EQ(load("[node]\nmin_free_mb = 0\n").node.min_free_mb, 0);
  EXPECT_EQ(error_of("[node]\nmin_free_mb = -1\n"), "faxbridge.toml: node.min_free_mb must be from 0 to 1000000, not -1");
}

// [node] name: the owner of the jobs a node claims in a shared store (issue 17).
TEST(Node, NameAndLease) {
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  const std::string name = std::string(host).size() <= 64 && std::string(host).find_first_of(" /:@") == std::string::npos
                               ? std::string(host)
                               : std::string("localhost");
  EXPECT_EQ(load("").node.name, name);
  EXPECT_EQ(load("[node]\nname = \"node-1.dc2\"\n").node.name, "node-1.dc2");
  EXPECT_EQ(error_of("[node]\nname = \"a b\"\n"),
            "faxbridge.toml: node.name must be a node name (letters, digits, '.', '_' and '-', at most 64), not \"a b\"");
  EXPECT_NE(error_of("[node]\nname = \"\"\n").find("node.name must be a node name"), std::string::npos);
  EXPECT_EQ(load("").node.lease_s, 30);
  EXPECT_EQ(load("[node]\nlease_s = 10\n").node.lease_s, 10);
  EXPECT_EQ(error_of("[node]\nlease_s = 1\n"), "faxbridge.toml: node.lease_s must be from 5 to 3600, not 1");
}

TEST(Node, User) {
  EXPECT_EQ(load("").node.user, "faxbridge");
  EXPECT_EQ(config::embedded_default().node.user, "faxbridge");
  EXPECT_EQ(load("[node]\nuser = \"fax_1-gw\"\n").node.user, "fax_1-gw");
  EXPECT_EQ(load("[node]\nuser = \"root\"\n").node.user, "root");
  EXPECT_EQ(error_of("[node]\nuser = \"\"\n"),
            "faxbridge.toml: node.user must be a user name (lowercase letters, digits, '_' and '-', at most 32), not \"\"");
  EXPECT_EQ(error_of("[node]\nuser = \"../x\"\n"),
            "faxbridge.toml: node.user must be a user name (lowercase letters, digits, '_' and '-', at most 32), not \"../x\"");
  EXPECT_NE(error_of("[node]\nuser = \"Fax\"\n"), "");
  EXPECT_NE(error_of("[node]\nuser = \"1fax\"\n"), "");
}

TEST(Exchange, ServersAndRecipientDomainsAreReadAndChecked) {
  Config c = load("[exchange]\nservers = [\"192.0.2.10\", \"2001:db8::/64\"]\nrecipient_domains = [\"example.com\"]\n");
  EXPECT_EQ(c.exchange.servers, (Strings{"192.0.2.10", "2001:db8::/64"}));
  EXPECT_EQ(c.exchange.recipient_domains, Strings{"example.com"});
  EXPECT_TRUE(load("").exchange.servers.empty());
  EXPECT_NE(error_of("[exchange]\nservers = [\"um.example.com\"]\n").find("exchange.servers[0] must be a network"),
            std::string::npos)
      << error_of("[exchange]\nservers = [\"um.example.com\"]\n");
}

TEST(Limits, E164HasOneToFifteenDigits) {
  EXPECT_EQ(load("[[route]]\ndid = \"+1\"\nmailbox = \"a@b\"\n").routes[0].did, "+1");
  EXPECT_EQ(load("[[route]]\ndid = \"+123456789012345\"\nmailbox = \"a@b\"\n").routes[0].did,
            "+123456789012345");
  EXPECT_EQ(load("[dialing]\nallow = [\"+\"]\ndeny = [\"+9\"]\n").dialing.deny, Strings{"+9"});
}

TEST(Limits, PortsOneAndMax) {
  Config c = load("[smtp]\nlisten = [\"h:1\", \"[::1]:65535\", \"0.0.0.0:25\"]\n");
  EXPECT_EQ(c.smtp.listen.size(), 3u);
  EXPECT_EQ(load("[sip]\nmedia_port_min = 1\nmedia_port_max = 65535\n").sip.media_port_max, 65535);
}

TEST(Limits, RangesAtTheEdges) {
  EXPECT_EQ(load("[retry]\nmax_dials = 1000\n").retry.max_dials, 1000);
  EXPECT_EQ(load("[smtp]\nmax_message_bytes = 4294967296\n").smtp.max_message_bytes, int64_t(4) << 30);
  EXPECT_NE(error_of("[smtp]\nmax_message_bytes = 4294967297\n"), "(loaded)");
}

// ---- files ----

class ConfigFile : public testing::Test {
 protected:
  std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() / ("fb-config-" + std::to_string(getpid()));
  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream((dir_ / name).string()) << text;
    return (dir_ / name).string();
  }
};

TEST_F(ConfigFile, Loads) {
  auto r = config::load_file(write("faxbridge.toml", "[fax]\npaper = \"letter\"\n"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->fax.paper, Paper::letter);
}

TEST_F(ConfigFile, ErrorsNameThePathAsGiven) {
  std::string path = write("faxbridge.toml", "[smtp]\nlistn = []\n");
  EXPECT_EQ(config::load_file(path).error().message, path + ": unknown key smtp.listn");
  std::string bad = write("bad.toml", "\n\n[smtp\n");
  EXPECT_EQ(config::load_file(bad).error().message.rfind(bad + " line 3: ", 0), 0u)
      << config::load_file(bad).error().message;
}

TEST_F(ConfigFile, Missing) {
  std::string path = (dir_ / "nope.toml").string();
  EXPECT_EQ(config::load_file(path).error().message, path + ": cannot read (No such file or directory)");
}

TEST_F(ConfigFile, Directory) {
  EXPECT_EQ(config::load_file(dir_.string()).error().message,
            dir_.string() + ": cannot read (is a directory)");
}

TEST_F(ConfigFile, SizeLimit) {
  std::string comment = "#" + std::string(config::kMaxConfigBytes - 2, 'x') + "\n";  // exactly the limit
  auto at = config::load_file(write("at.toml", comment));
  EXPECT_TRUE(at.ok()) << at.error().message;
  std::string over = write("over.toml", comment + "\n");
  EXPECT_EQ(config::load_file(over).error().message, over + ": larger than 1048576 bytes");
}

// ---- helpers for whoever binds the listeners ----

TEST(ParseHostPort, SplitsHostAndPort) {
  auto a = config::parse_host_port("127.0.0.1:2525");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 2525);
  auto b = config::parse_host_port("[::1]:25");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 25);
  auto c = config::parse_host_port("mail.example.com:587");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "mail.example.com");
  EXPECT_FALSE(config::parse_host_port("[::1]:025x"));
  EXPECT_FALSE(config::parse_host_port("-bad.example:25"));
  EXPECT_FALSE(config::parse_host_port("a.example.:25"));
  EXPECT_FALSE(config::parse_host_port(""));
}

TEST(ParseSipListen, SplitsTransport) {
  auto l = config::parse_sip_listen("tls:[2001:db8::1]:5061");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->transport, config::SipTransport::tls);
  EXPECT_EQ(l->address.host, "2001:db8::1");
  EXPECT_EQ(l->address.port, 5061);
  EXPECT_EQ(config::parse_sip_listen("tcp:127.0.0.1:5060")->transport, config::SipTransport::tcp);
  EXPECT_FALSE(config::parse_sip_listen("udp127.0.0.1:5060"));
  EXPECT_FALSE(config::parse_sip_listen("UDP:127.0.0.1:5060"));
}

TEST(Names, RoundTripTheTomlSpelling) {
  EXPECT_EQ(config::to_string(Paper::letter), "letter");
  EXPECT_EQ(config::to_string(T38Mode::only), "only");
  EXPECT_EQ(config::to_string(UdptlEc::redundancy), "redundancy");
  EXPECT_EQ(config::to_string(Attach::tiff), "tiff");
  EXPECT_EQ(config::to_string(DeliveryMode::lmtp), "lmtp");
  EXPECT_EQ(config::to_string(config::SipTransport::udp), "udp");
}

}  // namespace

namespace {

// Issue 12: audio calls, fax detection, shared numbers, media threads.
TEST(CallsOnAudio, DefaultsAndOverrides) {
  Config d = config::embedded_default();
  EXPECT_EQ(d.fax.detect_s, 8);
  EXPECT_EQ(d.fax.t38_memory_s, 86400);
  EXPECT_EQ(d.fax.t38_memory_digits, 0);
  EXPECT_EQ(d.sip.media_threads, 0);
  EXPECT_EQ(d.trunks.at(0).codecs, (std::vector<config::Codec>{config::Codec::pcmu, config::Codec::pcma}));
  EXPECT_EQ(d.routes.at(0).voice_uri, "");
  Config c = load(
      "[fax]\ndetect_s = 120\nt38_memory_s = 0\nt38_memory_digits = 15\n[sip]\nmedia_threads = 256\n"
      "[[trunk]]\nname = \"t\"\nuri = \"sip:t\"\ncodecs = [\"pcma\"]\n"
      "[[route]]\ndid = \"+15550100\"\nmailbox = \"a@b\"\nvoice_uri = \"sip:voicemail@pbx.example.com\"\n"
      "[[route]]\ndefault = true\nmailbox = \"a@b\"\nvoice_uri = \"sips:reception@pbx.example.com\"\n");
  EXPECT_EQ(c.fax.detect_s, 120);
  EXPECT_EQ(c.fax.t38_memory_s, 0);
  EXPECT_EQ(c.fax.t38_memory_digits, 15);
  EXPECT_EQ(c.sip.media_threads, 256);
  EXPECT_EQ(c.trunks.at(0).codecs, std::vector<config::Codec>{config::Codec::pcma});
  EXPECT_EQ(c.routes.at(0).voice_uri, "sip:voicemail@pbx.example.com");
  EXPECT_EQ(c.routes.at(1).voice_uri, "sips:reception@pbx.example.com");
  EXPECT_EQ(config::to_string(config::Codec::pcmu), "pcmu");
}

TEST(CallsOnAudio, BadValuesAreRefusedByName) {
  const std::string trunk = "[[trunk]]\nname = \"t\"\nuri = \"sip:t\"\n";
  EXPECT_NE(error_of("[fax]\ndetect_s = 0\n").find("fax.detect_s"), std::string::npos);
  EXPECT_NE(error_of("[fax]\ndetect_s = 121\n").find("fax.detect_s"), std::string::npos);
  EXPECT_NE(error_of("[fax]\nt38_memory_digits = 16\n").find("fax.t38_memory_digits"), std::string::npos);
  EXPECT_NE(error_of("[sip]\nmedia_threads = 257\n").find("sip.media_threads"), std::string::npos);
  EXPECT_NE(error_of(trunk + "codecs = [\"g729\"]\n").find("trunk[0].codecs"), std::string::npos);
  EXPECT_NE(error_of(trunk + "codecs = []\n").find("trunk[0].codecs"), std::string::npos);
  EXPECT_NE(error_of("[[route]]\ndid = \"+1555\"\nmailbox = \"a@b\"\nvoice_uri = \"http://x\"\n").find("route[0].voice_uri"),
            std::string::npos);
  EXPECT_EQ(error_of("[[route]]\nsubaddress = \"42\"\nmailbox = \"a@b\"\nvoice_uri = \"sip:v@pbx\"\n"),
            "faxbridge.toml: route[0].voice_uri: a subaddress is known only once a fax is under way; voice_uri "
            "needs a did or default route");
}

}  // namespace
