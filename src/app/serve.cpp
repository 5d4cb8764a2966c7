// serve.cpp — the gateway daemon's wiring (see serve.hpp).
#include "app/serve.hpp"

#include "app/privileges.hpp"
#include "app/reload.hpp"

#include "core/log.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <csignal>
#include <ctime>
#include <cstdlib>

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <filesystem>
#include <fstream>
#include <future>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "api/access.hpp"
#include "api/dashboard.hpp"
#include "api/guard.hpp"
#include "api/faxes_api.hpp"
#include "api/jobs_api.hpp"
#include "api/metrics_api.hpp"
#include "api/trunks_api.hpp"
#include "api/users_api.hpp"
#include "api/webhooks.hpp"
#include "app/cidr.hpp"
#include "app/config.hpp"
#include "app/sandbox.hpp"
#include "app/tokens.hpp"
#include "gateway/converter.hpp"
#include "gateway/channel_grants.hpp"
#include "gateway/dispatcher.hpp"
#include "gateway/fax_calls.hpp"
#include "gateway/ldap_directory.hpp"
#include "gateway/offramp.hpp"
#include "gateway/onramp.hpp"
#include "imaging/pdf_writer.hpp"
#include "imaging/thumbnail.hpp"
#include "imaging/tiff_read.hpp"
#include "imaging/office.hpp"
#include "mail/smtp_server.hpp"
#include "queue/job_store.hpp"
#include "queue/spool.hpp"
#include "queue/store_paths.hpp"
#include "queue/user_store.hpp"

namespace app {
namespace {

namespace fs = std::filesystem;
using asio::ip::tcp;

void log(const std::string& line) { fb::log(line); }

// systemd's readiness protocol (sd_notify(3), Type=notify): `state` ("READY=1", "STOPPING=1")
// as one datagram to $NOTIFY_SOCKET (a path, or an abstract name starting with @); nothing when
// it is not set. Written here rather than linking libsystemd for one datagram.
void notify_systemd(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || (path[0] != '/' && path[0] != '@')) return;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const size_t n = std::strlen(path);
  if (n >= sizeof a.sun_path) return;
  std::memcpy(a.sun_path, path, n);
  if (a.sun_path[0] == '@') a.sun_path[0] = '\0';
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  if (::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&a),
               socklen_t(offsetof(sockaddr_un, sun_path) + n)) < 0) {
    log("systemd: cannot notify " + state + ": " + std::strerror(errno));
  }
  ::close(fd);
}

std::vector<tcp::endpoint> endpoints(const std::vector<std::string>& listen) {
  std::vector<tcp::endpoint> out;
  for (const auto& l : listen) {
    auto hp = config::parse_host_port(l);
    if (!hp) throw std::runtime_error("bad listen address " + l);
    out.emplace_back(asio::ip::make_address(hp->host), uint16_t(hp->port));
  }
  return out;
}

// Where the job store is, as queue::open_job_store() takes it: the SQLite file's path
// ("sqlite:" taken off), or the postgresql:// URL as it is.
std::string store_location(const config::Config& cfg) {
  const std::string& url = cfg.store.url;
  if (queue::is_postgresql_url(url)) return url;
  if (url.rfind("sqlite:", 0) != 0) throw std::runtime_error("store url " + url + ": not sqlite: or postgresql://");
  return url.substr(7);
}

// Received-fax mail over SMTP goes from a bounce address at [delivery] from's own domain (so
// that a late bounce comes back to our intake) when that domain is one of our SMTP domains, the
// intake listens, [delivery] bounce_address is on and the address fits RFC 5321's 64-octet local
// part. None in the other modes: LMTP and Maildir say at once what became of a mail.
std::string bounce_domain(const config::Config& cfg) {
  const auto& d = cfg.delivery;
  if (d.mode != config::DeliveryMode::smtp || !d.bounce_address || cfg.smtp.listen.empty()) return "";
  const auto at = d.from.rfind('@');
  if (at == std::string::npos || at + 1 + 19 + 1 + 16 > 64) return "";  // "+<id>.<tag>" must fit
  std::string domain = d.from.substr(at + 1);
  for (auto& c : domain) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& x : cfg.smtp.domains) {
    std::string l = x;
    for (auto& c : l) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (l == domain) return x;
  }
  return "";
}

// The local part of [delivery] from: the bounce addresses' ("fax" of fax+42.<tag>@...).
std::string bounce_local(const config::Config& cfg) {
  const auto& from = cfg.delivery.from;
  return from.substr(0, from.rfind('@'));
}

// The file of a fax's pages in this node's spool: rendered to send (out) or received (in, still
// in in/ or archived); "" when this disk has none.
std::string local_pages(const queue::Spool& spool, const queue::Job& j) {
  // An inbound fax moves from in/ to archive/ once delivered (a rename): whichever holds it.
  std::error_code ec;
  if (j.direction == queue::Direction::out) return std::filesystem::exists(spool.fax_path(j.id), ec) ? spool.fax_path(j.id) : "";
  if (std::filesystem::exists(spool.received_path(j.id), ec)) return spool.received_path(j.id);
  if (std::filesystem::exists(spool.archive_path(j.id), ec)) return spool.archive_path(j.id);
  return "";
}

// GET /api/v1/faxes/{id}/document.pdf|.tif|pages/<n>.png: the pages of `tiff` ("" for none), as
// the file, a PDF of it, or one page's preview.
api::Response fax_document(const queue::Spool& spool, const queue::Job& j, const std::string& tiff,
                           const std::string& what, int width) {
  std::error_code ec;
  if (tiff.empty() || !std::filesystem::exists(tiff, ec)) {
    return api::v1_error(404, "not_found",
                         "fax " + std::to_string(j.id) + " has no pages kept (not rendered yet, none received, or purged)");
  }
  auto read = [](const std::string& path, std::string& out) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    out = ss.str();
    return bool(f) || f.eof();
  };
  api::Response r;
  if (what == "document.tif") {
    if (!read(tiff, r.body)) return api::v1_error(503, "unavailable", "the pages cannot be read now");
    r.content_type = "image/tiff";
    return r;
  }
  if (what == "document.pdf") {
    const std::string pdf = spool.dir() + "/out/api-" + std::to_string(j.id) + "-" +
                            std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())) + ".pdf.tmp";
    auto w = imaging::write_pdf_from_tiff(tiff, pdf);
    const bool ok = w && read(pdf, r.body);
    std::filesystem::remove(pdf, ec);
    if (!ok) return api::v1_error(503, "unavailable", w ? "the PDF cannot be read" : "no PDF: " + w.error().message);
    r.content_type = "application/pdf";
    return r;
  }
  const int n = std::atoi(what.c_str() + 6);  // "pages/<n>.png"
  auto pages = imaging::read_fax_tiff(tiff);
  if (!pages) return api::v1_error(503, "unavailable", "the pages cannot be read: " + pages.error().message);
  if (n < 1 || size_t(n) > pages->size()) {
    return api::v1_error(404, "not_found", "fax " + std::to_string(j.id) + " has " + std::to_string(pages->size()) + " page(s)");
  }
  auto png = imaging::thumbnail_png((*pages)[size_t(n - 1)], width);
  if (!png) return api::v1_error(503, "unavailable", "no preview: " + png.error().message);
  r.body = std::move(*png);
  r.content_type = "image/png";
  return r;
}

gateway::OffRampOptions offramp_options(const config::Config& cfg) {
  gateway::OffRampOptions o;
  o.hostname = cfg.smtp.hostname;
  o.domains = cfg.smtp.domains;
  o.dialing.allow = cfg.dialing.allow;
  o.dialing.deny = cfg.dialing.deny;
  o.station_id = cfg.fax.station_id;
  o.spool_dir = cfg.node.spool_dir;
  o.min_free_mb = cfg.node.min_free_mb;
  o.sender_messages_per_hour = cfg.smtp.sender_messages_per_hour;
  o.sender_recipients_per_hour = cfg.smtp.sender_recipients_per_hour;
  o.max_recipients = cfg.smtp.max_recipients;
  o.office = imaging::office_available();
  for (const auto& u : cfg.smtp.users) o.users[u.name] = u.password_hash;
  std::string own = cfg.delivery.from;
  for (auto& c : own) c = char(std::tolower(static_cast<unsigned char>(c)));
  o.own_from = {own};
  o.dsn_success = cfg.dsn.success;
  o.dsn_delay = cfg.dsn.delay;
  o.postmaster = cfg.delivery.postmaster;
  // Recognised whatever the delivery mode (an address we never gave out is then just unknown).
  o.bounce_local = bounce_local(cfg);
  return o;
}

// Certificates and keys, read at start while serve may still be root (a key only root may read
// is the usual case): nothing is read from them later.
struct Secrets {
  std::string smtp_cert, smtp_key, sip_cert, sip_key, client_cert, client_key;
  std::string trust;  // $SSL_CERT_FILE: certificates to trust besides the system's
};

std::string read_secret(const std::string& path) {
  if (path.empty()) return "";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  std::string out;
  char buf[8192];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
    out.append(buf, size_t(n));
    if (out.size() > (1u << 20)) {
      ::close(fd);
      throw std::runtime_error(path + ": over 1 MiB, not a certificate or key");
    }
  }
  ::close(fd);
  if (out.empty()) throw std::runtime_error(path + " is empty");
  return out;
}

// Reads the files `take` accepts into `s` (called as root for those outside the data directory,
// then as the node's user for those inside it: a name there may have been swapped for a link to
// a file only root should read).
void read_secrets(const config::Config& cfg, Secrets& s, const std::function<bool(const std::string&)>& take) {
  auto key_of = [](const std::string& cert, const std::string& key) { return key.empty() ? cert : key; };
  auto read = [&](std::string& into, const std::string& path) {
    if (!path.empty() && take(path)) into = read_secret(path);
  };
  read(s.smtp_cert, cfg.smtp.tls_cert);
  read(s.smtp_key, cfg.smtp.tls_cert.empty() ? "" : key_of(cfg.smtp.tls_cert, cfg.smtp.tls_key));
  read(s.sip_cert, cfg.sip.tls_cert);
  read(s.sip_key, cfg.sip.tls_cert.empty() ? "" : key_of(cfg.sip.tls_cert, cfg.sip.tls_key));
  read(s.client_cert, cfg.delivery.tls_client_cert);
  read(s.client_key, cfg.delivery.tls_client_cert.empty() ? ""
                                                          : key_of(cfg.delivery.tls_client_cert, cfg.delivery.tls_client_key));
  // OpenSSL reads it when a client context is made, after root is given up: read it now.
  if (const char* f = std::getenv("SSL_CERT_FILE"); f && *f) read(s.trust, f);
}

std::shared_ptr<asio::ssl::context> tls_context(const config::Config& cfg, const Secrets& secrets) {
  if (cfg.smtp.tls_cert.empty()) return nullptr;
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  std::error_code ec;
  ctx->use_certificate_chain(asio::buffer(secrets.smtp_cert), ec);
  if (ec) throw std::runtime_error("SMTP TLS certificate " + cfg.smtp.tls_cert + ": " + ec.message());
  ctx->use_private_key(asio::buffer(secrets.smtp_key), asio::ssl::context::pem, ec);
  if (ec) throw std::runtime_error("SMTP TLS key " + (cfg.smtp.tls_key.empty() ? cfg.smtp.tls_cert : cfg.smtp.tls_key) +
                                   ": " + ec.message());
  return ctx;
}

// [[route]] as the OnRamp's rules.
std::vector<gateway::RouteRule> route_rules(const config::Config& cfg) {
  std::vector<gateway::RouteRule> rules;
  for (const auto& r : cfg.routes) {
    gateway::RouteRule rule;
    rule.did = r.did;
    rule.subaddress = r.subaddress;
    rule.is_default = r.default_;
    rule.mailboxes = r.mailbox;
    rule.pdf = std::find(r.attach.begin(), r.attach.end(), config::Attach::pdf) != r.attach.end();
    rule.tiff = std::find(r.attach.begin(), r.attach.end(), config::Attach::tiff) != r.attach.end();
    rule.ocr = r.ocr;
    rule.ocr_copy = r.ocr_copy;
    rules.push_back(std::move(rule));
  }
  return rules;
}

gateway::OnRampOptions onramp_options(const config::Config& cfg, std::shared_ptr<gateway::LdapDirectory> ldap,
                                      const Secrets& secrets) {
  gateway::OnRampOptions o;
  o.routes = route_rules(cfg);
  if (ldap) {
    o.directory = [ldap](const std::string& n) { return ldap->lookup(n); };
    o.people = [ldap] { return ldap->people(); };
  }
  o.partner_domains = cfg.exchange.recipient_domains;
  if (cfg.ldap) o.route_retry_s = cfg.ldap->retry_s;
  o.missed_notices_per_caller_per_hour = cfg.fax.missed_notices_per_caller_per_hour;
  const auto& d = cfg.delivery;
  o.from = d.from;
  o.postmaster = d.postmaster;
  o.bounce_domain = bounce_domain(cfg);
  o.maildir = d.maildir;
  o.archive_days = d.archive_days;
  o.reporting_mta = cfg.smtp.hostname.empty() ? "localhost" : cfg.smtp.hostname;
  o.notify.success = cfg.dsn.success;
  o.notify.delay = cfg.dsn.delay;
  o.kill_after_s = cfg.retry.kill_after_s;
  o.mode = d.mode == config::DeliveryMode::smtp   ? gateway::DeliveryMode::smtp
           : d.mode == config::DeliveryMode::lmtp ? gateway::DeliveryMode::lmtp
                                                  : gateway::DeliveryMode::maildir;
  if (o.mode != gateway::DeliveryMode::maildir) {
    // Validated by the loader: HOST:PORT, IPv6 in brackets.
    auto hp = config::parse_host_port(o.mode == gateway::DeliveryMode::smtp ? d.smarthost : d.lmtp);
    if (!hp) throw std::runtime_error("delivery: not HOST:PORT: " + (o.mode == gateway::DeliveryMode::smtp ? d.smarthost : d.lmtp));
    o.smtp.host = hp->host;
    o.smtp.port = hp->port;
    o.smtp.lmtp = o.mode == gateway::DeliveryMode::lmtp;
    o.smtp.helo_name = cfg.smtp.hostname.empty() ? "localhost" : cfg.smtp.hostname;
    o.smtp.username = d.username;
    o.smtp.password = d.password;
    o.smtp.tls_client_cert = d.tls_client_cert;
    o.smtp.tls_client_key = d.tls_client_key;
    o.smtp.tls_client_cert_pem = secrets.client_cert;
    o.smtp.tls_client_key_pem = secrets.client_key;
    o.smtp.trust_pem = secrets.trust;
    switch (d.tls) {
      case config::DeliveryTls::automatic: break;
      case config::DeliveryTls::may: o.smtp.tls = smtp::TlsPolicy::may; break;
      case config::DeliveryTls::encrypt: o.smtp.tls = smtp::TlsPolicy::encrypt; break;
      case config::DeliveryTls::verify: o.smtp.tls = smtp::TlsPolicy::verify; break;
    }
  }
  o.log = [](const std::string& s) { log(s); };
  return o;
}

// The trunks' uris, checked; located (RFC 3263) together at start-up, for kStartupDns at most.
// A name that gives no address yet is logged and looked up again while serving
// (gateway/trunk_addresses.hpp).
std::vector<std::pair<sip::Uri, sip::Location>> locate_trunks(const config::Config& cfg) {
  std::vector<sip::Uri> uris;
  for (const auto& t : cfg.trunks) {
    auto u = sip::parse_uri(t.uri);
    if (!u) throw std::runtime_error("trunk " + t.name + ": uri " + t.uri + ": " + u.error().reason);
    if (auto tp = u->params.get("transport"); tp && !sip::iequals(*tp, "udp") && !sip::iequals(*tp, "tcp") && !sip::iequals(*tp, "tls")) {
      throw std::runtime_error("trunk " + t.name + ": uri " + t.uri + ": transport " + *tp + " is not one we speak (udp, tcp, tls)");
    }
    uris.push_back(*u);
  }
  auto found = gateway::locate_all_now(uris);
  std::vector<std::pair<sip::Uri, sip::Location>> out;
  for (size_t i = 0; i < uris.size(); ++i) {
    if (found[i].targets.empty()) {
      log("trunk " + cfg.trunks[i].name + ": " + cfg.trunks[i].uri + " has no address yet (" + found[i].error +
          "); calls skip it until DNS gives one");
    }
    out.emplace_back(uris[i], std::move(found[i]));
  }
  return out;
}

// The DIDs with a route of their own, and the voice_uri of a shared voice/fax number: the
// DID's route's, else the default route's.
void set_routing(const config::Config& cfg, gateway::FaxCallsOptions& o) {
  std::map<std::string, std::string> voice;
  std::string default_voice;
  for (const auto& r : cfg.routes) {
    if (r.voice_uri.empty()) continue;
    if (!r.did.empty()) voice[r.did] = r.voice_uri;
    if (r.default_) default_voice = r.voice_uri;
  }
  std::set<std::string> routed;
  for (const auto& r : cfg.routes) {
    if (!r.did.empty()) routed.insert(r.did);
  }
  o.routed = [routed](const std::string& did) { return routed.count(did) > 0; };
  o.voice_uri = nullptr;
  if (!voice.empty() || !default_voice.empty()) {
    o.voice_uri = [voice, default_voice, routed](const std::string& did) -> std::optional<std::string> {
      if (auto it = voice.find(did); it != voice.end()) return it->second;
      if (!routed.count(did) && !default_voice.empty()) return default_voice;
      return std::nullopt;
    };
  }
}

// One [[trunk]] as call control takes it, with its uri parsed and located.
gateway::Trunk gateway_trunk(const config::Trunk& t, const sip::Uri& uri, sip::Location location) {
  gateway::Trunk g;
  g.name = t.name;
  g.uri = uri;
  g.location = std::move(location);
  g.host_port = uri.host + (uri.port ? ":" + std::to_string(uri.port) : "");
  g.host = uri.host;
  g.options_interval_s = t.options_interval_s;
  g.t38_max_datagram = t.t38_max_datagram;
  g.latch_media = t.latch_media;
  g.t38 = t.t38 == config::T38Mode::only ? gateway::T38Policy::only
          : t.t38 == config::T38Mode::off ? gateway::T38Policy::off
                                          : gateway::T38Policy::prefer;
  g.ec = t.udptl_ec == config::UdptlEc::fec ? udptl::Mode::fec
         : t.udptl_ec == config::UdptlEc::none ? udptl::Mode::none
                                               : udptl::Mode::redundancy;
  g.max_channels = t.max_channels;
  g.prefixes = t.prefixes;
  std::vector<config::Cidr> cidrs;
  for (const auto& a : t.accept_from) {
    if (auto c = config::Cidr::parse(a)) cidrs.push_back(*c);
  }
  g.accepts = [cidrs](const std::string& ip) {
    return std::any_of(cidrs.begin(), cidrs.end(), [&](const config::Cidr& c) { return c.contains(ip); });
  };
  g.caller_id = t.caller_id;
  g.country_code = t.country_code;
  g.national_prefix = t.national_prefix;
  g.ring_timeout_s = t.ring_timeout_s;
  g.calls_per_second = t.calls_per_second;
  if (!t.username.empty()) g.credentials = sip::Credentials{t.username, t.password};
  g.register_ = t.register_;
  g.codecs.clear();
  for (auto c : t.codecs) g.codecs.push_back(c == config::Codec::pcmu ? fax_sdp::Codec::pcmu : fax_sdp::Codec::pcma);
  return g;
}

gateway::FaxCallsOptions fax_calls_options(const config::Config& cfg) {
  gateway::FaxCallsOptions o;
  o.station_id = cfg.fax.station_id;
  o.t30_trace = cfg.log.t30_trace;
  o.header = cfg.fax.header;
  o.reject_callers = cfg.reject.callers;
  o.media_port_min = cfg.sip.media_port_min;
  o.media_port_max = cfg.sip.media_port_max;
  o.media_threads = cfg.sip.media_threads;
  o.advertise = cfg.sip.advertise;
  o.unknown_sources = cfg.sip.unknown_sources == config::UnknownSources::drop ? sip::UnknownSources::drop
                                                                            : sip::UnknownSources::reject;
  if (!cfg.sip.advertise.empty()) {
    // SDP wants an address: a name is resolved once, here.
    asio::io_context tmp;
    asio::ip::udp::resolver r(tmp);
    std::error_code ec;
    auto res = r.resolve(cfg.sip.advertise, "5060", ec);
    if (ec || res.empty()) throw std::runtime_error("sip.advertise: cannot resolve " + cfg.sip.advertise + ": " + ec.message());
    o.advertise_ip = res.begin()->endpoint().address().to_string();
  }
  o.detect = std::chrono::seconds(cfg.fax.detect_s);
  o.max_inbound_pages = cfg.fax.max_inbound_pages;
  o.max_inbound_call = std::chrono::seconds(cfg.fax.max_inbound_call_s);
  o.t38_memory_s = cfg.fax.t38_memory_s;
  o.t38_memory_digits = cfg.fax.t38_memory_digits;
  set_routing(cfg, o);
  if (cfg.node.min_free_mb > 0) {
    o.storage_low = [dir = cfg.node.spool_dir, min = uint64_t(cfg.node.min_free_mb)]() -> std::optional<std::string> {
      auto mb = queue::free_mb(dir);
      if (mb && *mb < min) return std::to_string(*mb) + " MB free under " + dir + ", below [node] min_free_mb " + std::to_string(min);
      return std::nullopt;
    };
  }
  std::vector<config::Cidr> exchange;
  for (const auto& s : cfg.exchange.servers) {
    if (auto c = config::Cidr::parse(s)) exchange.push_back(*c);
  }
  o.exchange_server = [exchange](const std::string& ip) {
    return std::any_of(exchange.begin(), exchange.end(), [&](const config::Cidr& c) { return c.contains(ip); });
  };
  auto located = locate_trunks(cfg);
  for (size_t ti = 0; ti < cfg.trunks.size(); ++ti) {
    o.trunks.push_back(gateway_trunk(cfg.trunks[ti], located[ti].first, std::move(located[ti].second)));
  }
  return o;
}


std::vector<sip::ListenSpec> sip_listen(const config::Config& cfg) {
  std::vector<sip::ListenSpec> out;
  for (const auto& l : cfg.sip.listen) {
    auto p = config::parse_sip_listen(l);
    if (!p) throw std::runtime_error("bad SIP listen address " + l);
    sip::Transport t = p->transport == config::SipTransport::tcp ? sip::Transport::tcp
                       : p->transport == config::SipTransport::tls ? sip::Transport::tls
                                                                   : sip::Transport::udp;
    out.push_back({t, p->address.host, uint16_t(p->address.port)});
  }
  return out;
}

// Spool files with no job store row were never acknowledged (a crash between the spool
// commit and the store commit): remove them.
void reconcile(queue::Spool& spool, queue::JobStore& store) {
  auto ids = spool.list_messages();
  if (!ids) return;
  int removed = 0;
  for (const auto& id : *ids) {
    auto m = store.message(id);
    if (!m && m.error().code == queue::StoreErrc::not_found) {
      spool.remove_message(id);
      ++removed;
    }
  }
  if (removed) log("removed " + std::to_string(removed) + " unacknowledged message(s) from the spool");
}

// One serve per data directory: a second one would sweep the first one's half-written files
// as a crash's leftovers and deliver its jobs twice. The lock is an flock(2) on
// <data_dir>/serve.lock, held for the life of the process, so a kill -9 releases it.
void hold_data_dir_lock(const std::string& data_dir) {
  const std::string path = data_dir + "/serve.lock";
  static int fd = -1;  // never closed: closing would release the lock
  // Read-only (flock needs no more), and only a plain file of root's or the node's with one name:
  // the daemon keeps this descriptor, and the directory may be written by the node's user.
  fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0640);
  struct stat st {};
  if (fd >= 0 && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1)) {
    ::close(fd);
    throw std::runtime_error(path + " is not a plain file with one name");
  }
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK)
      throw std::runtime_error("another faxbridge serve is running on " + data_dir + " (it holds " + path + ")");
    throw std::runtime_error("cannot lock " + path + ": " + std::strerror(err));
  }
}

struct DataDir {
  std::string path;     // absolute, for messages
  fs::path old_cwd;     // serve's working directory before it moved into the data directory
  Secrets secrets;      // read before root was given up
};

// Every document is rendered in a jail (sandbox.hpp): one that cannot be made fails every fax.
// Made once at start, so that a host that forbids it (no unprivileged user namespaces for a
// non-root serve) is a clear start-up error rather than a failed job per message.
void check_jail() {
  SandboxJail jail;
  try {
    jail = make_jail();
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("the converter's jail cannot be made: ") + e.what());
  }
  SandboxLimits lim;
  lim.wall_seconds = 30;
  SandboxOutcome out = run_sandboxed([] { return SandboxOutcome{0, ""}; }, lim, jail);
  remove_jail(jail);
  if (out.code != 0) {
    throw std::runtime_error("the converter's jail cannot be made (" + out.message +
                             "): allow unprivileged user namespaces (kernel.unprivileged_userns_clone, "
                             "user.max_user_namespaces, or AppArmor's restriction of them), or set [node] user = \"root\"");
  }
}

// Does any listener want a port below 1024 (which only CAP_NET_BIND_SERVICE may bind)?
bool needs_low_port(const config::Config& cfg) {
  for (const auto& ep : endpoints(cfg.smtp.listen)) {
    if (ep.port() < 1024) return true;
  }
  for (const auto& ep : endpoints(cfg.http.listen)) {
    if (ep.port() < 1024) return true;
  }
  for (const auto& l : sip_listen(cfg)) {
    if (l.port < 1024) return true;
  }
  return false;
}

// Prepares the data directory, moves into it, rewrites the configuration's paths relative to
// it and, started as root, becomes [node] user (privileges.hpp).
DataDir enter_data_dir(config::Config& cfg) {
  const fs::path old_cwd = fs::current_path();
  fs::path data = fs::absolute(cfg.node.data_dir).lexically_normal();
  if (!data.has_filename() && data != data.root_path()) data = data.parent_path();
  std::optional<Account> as;
  if (::geteuid() == 0 && cfg.node.user != "root") {
    as = find_account(cfg.node.user);
    if (!as) {
      throw std::runtime_error("[node] user " + cfg.node.user +
                               ": no such user (scripts/install-deps creates faxbridge; or set [node] user to "
                               "another, or to \"root\")");
    }
    if (as->uid == 0) as.reset();  // another name of root
  }
  auto check = [&](const fs::path& d, const char* key) {
    if (as && is_system_directory(d)) {
      throw std::runtime_error(std::string(key) + " " + d.string() +
                               " is a system directory: give faxbridge a directory of its own (it takes ownership "
                               "of it)");
    }
  };
  // Root's (made by root, or by an older version) or already the user's: a directory of a
  // third user (a home, another service's) is not to be taken.
  auto check_owner = [&](const fs::path& dir, const char* key) {
    struct stat st {};
    if (as && ::stat(dir.c_str(), &st) == 0 && st.st_uid != 0 && st.st_uid != as->uid) {
      const auto owner = find_account_by_uid(st.st_uid);
      throw std::runtime_error(std::string(key) + " " + dir.string() + " belongs to " +
                               (owner ? owner->name : "uid " + std::to_string(st.st_uid)) +
                               ": faxbridge takes ownership only of a directory of root's or of " + as->name + "'s");
    }
  };
  Secrets secrets;
  read_secrets(cfg, secrets, [&](const std::string& p) { return relative_to(p, data)[0] == '/'; });
  check(data, "data_dir");
  check_owner(data, "data_dir");
  fs::create_directories(data);
  fs::permissions(data, fs::perms::others_all, fs::perm_options::remove);
  // Before anything in it is touched: a serve still running there would race the walk below.
  hold_data_dir_lock(data.string());
  // The directories the daemon writes: the data directory, and the spool and Maildir when they
  // lie elsewhere.
  std::vector<std::pair<fs::path, const char*>> own = {{data, "data_dir"}};
  auto outside = [&](const std::string& p, const char* key) {
    const std::string r = relative_to(p, data);
    if (!r.empty() && r[0] == '/') {
      check(r, key);
      fs::create_directories(r);
      own.emplace_back(r, key);
    }
  };
  outside(cfg.node.spool_dir, "spool_dir");
  if (cfg.delivery.mode == config::DeliveryMode::maildir) outside(cfg.delivery.maildir, "maildir");
  const std::string db = store_location(cfg);
  const bool local_db = !queue::is_postgresql_url(db);
  if (as) {
    for (const auto& [dir, key] : own) {
      check_owner(dir, key);
      if (int n = take_ownership(dir.string(), as->uid, as->gid); n > 0) {
        log("took ownership of " + std::to_string(n) + " file(s) in " + dir.string() + " for " + as->name);
      }
    }
    // A store outside those directories: its own files (its directory must let the user write).
    if (const std::string r = local_db ? relative_to(db, data) : ""; local_db && r[0] == '/') {
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        // Changed through the descriptor of the very file checked (a name swapped meanwhile
        // changes nothing else).
        const std::string f = r + suffix;
        const int fd = ::open(f.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st {};
        if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
            ::fchownat(fd, "", as->uid, as->gid, AT_EMPTY_PATH) != 0) {
          const int err = errno;
          ::close(fd);
          throw std::runtime_error("cannot give the store " + f + " to " + as->name + ": " + std::strerror(err));
        }
        if (fd >= 0) ::close(fd);
      }
    }
  }
  // From the data directory on, every path is read relative to it (or is absolute): rewrite
  // them while the old working directory still gives relative ones their meaning.
  auto rebase = [&](std::string& p) {
    if (!p.empty()) p = relative_to(p, data);
  };
  cfg.node.data_dir = ".";
  rebase(cfg.node.spool_dir);
  rebase(cfg.delivery.maildir);
  if (local_db) cfg.store.url = "sqlite:" + relative_to(db, data);
  for (std::string* f : {&cfg.smtp.tls_cert, &cfg.smtp.tls_key, &cfg.sip.tls_cert, &cfg.sip.tls_key,
                         &cfg.delivery.tls_client_cert, &cfg.delivery.tls_client_key}) {
    rebase(*f);
  }
  if (::chdir(data.c_str()) != 0) {
    throw std::runtime_error("cannot enter the data directory " + data.string() + ": " + std::strerror(errno));
  }
  if (as) {
    become(*as, needs_low_port(cfg));
    log("running as " + as->name + " (uid " + std::to_string(as->uid) + ")");
    // root's TMPDIR (/root/tmp) is no place for the user's converter jails.
    if (const char* t = std::getenv("TMPDIR"); t && *t && ::access(t, W_OK | X_OK) != 0) {
      log(std::string("TMPDIR ") + t + " is not writable by " + as->name + ": the converters use /tmp");
      ::unsetenv("TMPDIR");
    }
  }
  // Those in the data directory, as the node's user (rebased: relative names).
  read_secrets(cfg, secrets, [](const std::string& p) { return p[0] != '/'; });
  return {data.string(), old_cwd, std::move(secrets)};
}

std::vector<config::Cidr> trusted_networks(const config::Config& cfg) {
  std::vector<config::Cidr> trusted;
  for (const auto& n : cfg.smtp.trusted_networks) {
    if (auto c = config::Cidr::parse(n)) trusted.push_back(*c);
  }
  return trusted;
}

// [smtp]'s limits as the SMTP listener takes them at a reload.
smtp::Server::Reload smtp_reload(const config::Config& cfg) {
  smtp::Server::Reload r;
  r.max_sessions = size_t(cfg.smtp.max_sessions);
  r.idle_timeout = std::chrono::seconds(cfg.smtp.idle_timeout_s);
  r.session_limits.max_message_bytes = size_t(cfg.smtp.max_message_bytes);
  r.session_limits.max_recipients = size_t(cfg.smtp.max_recipients);
  r.auth_available = !cfg.smtp.users.empty();
  r.client_limits = smtp::ClientLimitOptions{cfg.smtp.client_connections, cfg.smtp.client_connections_per_minute,
                                             cfg.smtp.client_messages_per_minute, cfg.smtp.client_recipients_per_minute,
                                             cfg.smtp.client_auth_failures_per_hour};
  return r;
}

// SIGHUP: the configuration file read again; what reload.hpp lists is changed in place.
struct Reloader {
  std::string path;          // absolute ("" when serve runs on the embedded default)
  std::string started_text;  // the file the node started with: what a restart would change
  std::string applied_text;  // the file last applied: what the next reload changes in place
};

// The text of the configuration file; nullopt (logged) when it cannot be read.
std::optional<std::string> read_config_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    log("reload: cannot read " + path + " (" + std::strerror(errno) + "): the running configuration stays");
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The trunks of `cfg` for FaxCalls::reload_trunks: an address host is located at once, a name
// after the reload (TrunkAddresses looks it up); nullopt (logged) for a uri that does not parse.
std::optional<std::vector<gateway::Trunk>> reloaded_trunks(const config::Config& cfg) {
  std::vector<gateway::Trunk> out;
  for (const auto& t : cfg.trunks) {
    auto u = sip::parse_uri(t.uri);
    if (!u) {
      log("reload: trunk " + t.name + ": uri " + t.uri + ": " + u.error().reason + ": the running configuration stays");
      return std::nullopt;
    }
    std::string host = u->host;
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    std::error_code ec;
    asio::ip::make_address(host, ec);
    sip::Location where;
    if (!ec) where = gateway::locate_all_now({*u}, std::chrono::seconds(1)).front();  // no DNS: at once
    else where.error = "looked up after the reload";
    out.push_back(gateway_trunk(t, *u, std::move(where)));
  }
  return out;
}

int run(config::Config cfg, Reloader reloader) {
  fb::set_log_format(cfg.log.format);
  fb::set_log_level(cfg.log.level);
  // Nothing the node writes is for other users: faxes, numbers, mail, tokens (issue 14). The
  // data directory loses any access for others, so files an older version made 0644 inside it
  // are out of reach too.
  ::umask(027);
  // Not dumpable: a process of the same user (a converter run by a non-root daemon) cannot open
  // /proc/<pid>/mem or ptrace the daemon, and no core file carries its secrets.
  ::prctl(PR_SET_DUMPABLE, 0);
  const DataDir where = enter_data_dir(cfg);
  const std::string& data_dir = where.path;
  // [ocr]: tesseract with the languages named, or the node does not start (a language missing).
  std::shared_ptr<gateway::FaxReading> reading;
  if (cfg.ocr) {
    auto r = gateway::FaxReading::open(cfg.ocr->languages, cfg.ocr->max_delay_s);
    if (!r) throw std::runtime_error("[ocr]: " + r.error());
    reading = std::move(*r);
  }
  queue::Spool spool(cfg.node.spool_dir);
  if (auto s = spool.create_dirs(); !s) throw std::runtime_error(s.error().message);
  if (auto r = spool.recover(); r && *r > 0) log("removed " + std::to_string(*r) + " partial file(s) a crash left in the spool");
  const std::string db = store_location(cfg);
  const bool local_db = !queue::is_postgresql_url(db);
  if (local_db && fs::path(db).has_parent_path()) fs::create_directories(fs::path(db).parent_path());
  auto opened = queue::open_job_store(db);
  if (!opened) throw std::runtime_error(opened.error().message);
  std::unique_ptr<queue::JobStore> store = std::move(*opened);
  // Paths an older version stored relative to its working directory (store_paths.hpp); a
  // PostgreSQL store was never written by one.
  if (local_db) {
    auto rebased = queue::rebase_stored_paths(db, [&](const std::string& p) {
      if (p.empty()) return p;
      const fs::path abs = p[0] == '/' ? fs::path(p) : where.old_cwd / p;
      return relative_to(abs.string(), fs::path(data_dir));
    });
    if (!rebased) throw std::runtime_error(rebased.error().message);
    if (*rebased > 0) log("the store's " + std::to_string(*rebased) + " file path(s) now name files in " + data_dir);
  }
  reconcile(spool, *store);
  auto users = queue::UserStore::open(db);
  if (!users) throw std::runtime_error(users.error().message);
  const std::string admin_hash = api::token_hash(ensure_admin_token(cfg.node.data_dir));

  asio::io_context io;
  // SIGINT/SIGTERM go to the io thread only (asio's signal_set): the store and converter
  // threads, started with them blocked, never see a signal interrupt a read or a waitpid.
  sigset_t stop_signals, old;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old);
  asio::thread_pool store_pool(1);  // the job store and fsyncs: never on the io thread
  asio::thread_pool documents_pool(1);  // the API's PDFs and page previews: never on the store thread
  gateway::ConverterOptions copt;
  copt.store = db;
  copt.paper = cfg.fax.paper == config::Paper::letter ? "letter" : "auto";
  copt.resolution = std::string(config::to_string(cfg.fax.resolution));
  copt.cover_senders = cfg.fax.cover_senders;
  copt.workers = cfg.converter.workers;
  copt.time_limit_s = cfg.converter.time_limit_s;
  for (const auto& d : {cfg.node.data_dir, cfg.node.spool_dir, cfg.delivery.maildir}) {
    if (!d.empty()) copt.hide.push_back(fs::absolute(d).lexically_normal().string());
  }
  // A store placed outside the data directory: its directory too (the converters share the
  // node's user, which owns it).
  if (local_db && fs::path(db).is_absolute() && fs::path(db).has_parent_path())
    copt.hide.push_back(fs::path(db).parent_path().string());
  std::function<void()> poke_dispatcher;
  copt.on_ready = [&] {
    if (poke_dispatcher) poke_dispatcher();
  };
  app::sweep_jails(3600 + 300);  // jails of conversions killed with an earlier run
  check_jail();
  gateway::Converter converter(copt, spool);
  converter.start();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // Daily caps: seeded with the outbound calls of the last 24 hours, so a restart resets nothing.
  std::shared_ptr<gateway::CallBudget> budget;
  if (gateway::DailyCaps caps{cfg.dialing.calls_per_day, cfg.dialing.pages_per_day, cfg.dialing.sender_calls_per_day,
                              cfg.dialing.sender_pages_per_day};
      caps.any()) {
    budget = std::make_shared<gateway::CallBudget>(caps);
    auto calls = store->budget_calls_since(int64_t(std::time(nullptr)) - gateway::CallBudget::kDay);
    if (!calls) throw std::runtime_error(calls.error().message);
    // On a node's own store a call still `sending` now is one the last stop cut: the recovery
    // records it, and its redial is counted when it is dialled.
    if (!store->shares_documents()) std::erase_if(*calls, [](const auto& c) { return c.in_progress; });
    budget->reset_from(*calls);
    auto used = budget->used(int64_t(std::time(nullptr)));
    log("dialing: daily caps: " + std::to_string(caps.calls) + " calls, " + std::to_string(caps.pages) + " pages, " +
        std::to_string(caps.sender_calls) + " calls and " + std::to_string(caps.sender_pages) +
        " pages per sender (0: none); used in the last 24 hours: " + std::to_string(used.calls) + " calls, " +
        std::to_string(used.pages) + " pages");
  }
  auto oo = offramp_options(cfg);
  oo.share_documents = store->shares_documents();
  oo.node = cfg.node.name;
  oo.lease_s = cfg.node.lease_s;
  oo.budget = budget;
  gateway::OffRamp offramp(oo, spool, *store, store_pool.get_executor(),
                           [&](const std::string& id) { converter.notify(id); });

  std::vector<config::Cidr> trusted = trusted_networks(cfg);  // io thread (a reload replaces it there)
  smtp::ServerOptions so;
  so.listen = endpoints(cfg.smtp.listen);
  so.session.hostname = cfg.smtp.hostname;
  {
    const smtp::Server::Reload limits = smtp_reload(cfg);  // the same fields a reload sets
    so.session.limits = limits.session_limits;
    so.session.auth_available = limits.auth_available;
    so.max_sessions = limits.max_sessions;
    so.idle_timeout = limits.idle_timeout;
    so.client_limits = limits.client_limits;
  }
  so.log = [](const std::string& line) { log(line); };
  so.tls = tls_context(cfg, where.secrets);
  so.trusted = [&](const asio::ip::address& a) {
    std::string ip = a.to_string();
    return std::any_of(trusted.begin(), trusted.end(), [&](const config::Cidr& c) { return c.contains(ip); });
  };
  so.make_intake = [&](const asio::ip::address& a) { return offramp.make_intake(a, so.trusted(a)); };
  smtp::Server smtp_server(io, so);
  smtp_server.start();
  {
    // What may be dialled, once at start: a default narrower than before must not surprise.
    std::string allow;
    for (const auto& a : cfg.dialing.allow) allow += (allow.empty() ? "" : ", ") + a;
    if (allow.empty()) {
      log("dialing: no number may be dialled: dialing.allow is empty (fax.station_id \"" + cfg.fax.station_id +
          "\" names no country to allow by default); set [dialing] allow");
    } else {
      log("dialing: numbers under " + allow + " may be dialled (" + std::to_string(cfg.dialing.deny.size()) +
          " denied prefixes and the built-in premium-rate ranges excepted)");
    }
    if (cfg.exchange.servers.empty() != cfg.exchange.recipient_domains.empty()) {
      log("exchange: no Exchange UM referral will be honoured: [exchange] needs both servers and recipient_domains");
    }
  }
  for (const auto& ep : smtp_server.bound()) log("SMTP listening on " + ep.address().to_string() + ":" + std::to_string(ep.port()));

  // A cancelled job's live call is hung up (the FaxCalls object exists by the time a request runs).
  std::function<void(int64_t)> hang_up_job;
  // The trunks (their channels and where T.38 did not work) come from call control, on this thread.
  std::function<std::vector<api::TrunkInfo>()> trunks_snapshot;
  api::Handler jobs_api = api::jobs_handler(*store, store_pool.get_executor(), [&](int64_t id) {
    asio::post(io, [&, id] {
      if (hang_up_job) hang_up_job(id);
    });
  });
  api::Handler trunks_api = api::trunks_handler([&] {
    return trunks_snapshot ? trunks_snapshot() : std::vector<api::TrunkInfo>{};
  });
  // POST /api/v1/faxes: a submission goes through the OffRamp's checks and group commit.
  api::Submitter submit = [&](api::FaxRequest fr, std::function<void(api::FaxAccepted)> done) {
    gateway::Submission sub;
    sub.user = std::move(fr.user);
    sub.to = std::move(fr.to);
    for (auto& d : fr.documents) sub.documents.push_back({std::move(d.filename), std::move(d.content_type), std::move(d.data)});
    sub.priority = fr.priority;
    sub.webhook_url = std::move(fr.webhook_url);
    sub.send_after = fr.send_after;
    sub.cover = std::move(fr.cover);
    offramp.submit(std::move(sub), [done](gateway::SubmitResult r) {
      if (r.status == 201) log("api: queued " + r.message_id + " (" + std::to_string(r.jobs.size()) + " fax job(s))");
      done(api::FaxAccepted{r.status, r.error, r.jobs});
    });
  };
  api::FaxRoutes fax_routes;
  fax_routes.submit = submit;
  fax_routes.on_cancelled = [&](int64_t id) {
    asio::post(io, [&, id] {
      if (hang_up_job) hang_up_job(id);
    });
  };
  fax_routes.on_retry = [&] {
    asio::post(io, [&] {
      if (poke_dispatcher) poke_dispatcher();
    });
  };
  // On a documents thread. A fax another node rendered or received (a shared store): its pages
  // come from the store (read on the store thread) into a scratch file for this answer only.
  fax_routes.documents = [&spool, &store, store_exec = store_pool.get_executor()](const queue::Job& j, const std::string& what,
                                                                                  int width) {
    std::string tiff = local_pages(spool, j);
    if (!tiff.empty() || !store->shares_documents()) return fax_document(spool, j, tiff, what, width);
    const std::string name = queue::document_name(
        spool.dir(), j.direction == queue::Direction::out ? spool.fax_path(j.id) : spool.received_path(j.id));
    // (Shared: a stop may leave the store thread gone, and this wait ends with a 503, well
    // within systemd's stop timeout.)
    auto read = std::make_shared<std::promise<fb::Result<std::optional<std::string>, queue::StoreError>>>();
    auto got = read->get_future();
    asio::post(store_exec, [&store, read, name] { read->set_value(store->document(name)); });
    if (got.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
      return api::v1_error(503, "unavailable", "the pages cannot be read from the store now");
    auto doc = got.get();
    if (!doc) return api::v1_error(503, "unavailable", "the pages cannot be read from the store now: " + doc.error().message);
    if (!*doc) return fax_document(spool, j, "", what, width);
    const std::string scratch = spool.dir() + "/out/api-" + std::to_string(j.id) + "-" +
                                std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())) + ".tif.tmp";
    if (auto w = queue::Spool::write_durably(scratch, **doc); !w)
      return api::v1_error(503, "unavailable", "the pages cannot be read now: " + w.error().message);
    struct Remove {
      const std::string& path;
      ~Remove() {
        std::error_code ec;
        std::filesystem::remove(path, ec);
      }
    } scratch_goes{scratch};
    return fax_document(spool, j, scratch, what, width);
  };
  fax_routes.documents_exec = documents_pool.get_executor();
  fax_routes.trunks = [&] { return trunks_snapshot ? trunks_snapshot() : std::vector<api::TrunkInfo>{}; };
  api::Handler faxes_api = api::faxes_handler(*store, store_pool.get_executor(), std::move(fax_routes));
  api::Handler metrics_api = api::metrics_handler(*store, store_pool.get_executor(), [&] {
    return trunks_snapshot ? trunks_snapshot() : std::vector<api::TrunkInfo>{};
  });
  api::Handler users_api = api::users_handler(*users, store_pool.get_executor());
  api::Handler routes = [jobs_api, trunks_api, faxes_api, metrics_api, users_api](api::Request req) {
    std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
    if (path == "/api/v1/users" || path.rfind("/api/v1/users/", 0) == 0) return users_api(std::move(req));
    if (path.rfind("/api/v1/faxes", 0) == 0 || path == "/api/v1/openapi.json" || path == "/api/v1/trunks" ||
        path == "/api/v1/events" || path == "/api/v1/me") {
      return faxes_api(std::move(req));
    }
    if (path == "/metrics") return metrics_api(std::move(req));
    return path == "/api/trunks" || path == "/api/trunks/" ? trunks_api(std::move(req)) : jobs_api(std::move(req));
  };
  api::GuardOptions guard{cfg.http.tokens, cfg.http.hosts, admin_hash, [](const std::string& l) { log(l); }};
  // The dashboard's own files need no token (the page asks for one); everything else passes the guard.
  api::Handler guarded = api::guarded(routes, guard, &*users, store_pool.get_executor());
  api::Handler front = [guarded](api::Request req) -> asio::awaitable<api::Response> {
    if (auto file = api::dashboard_file(req)) return [](api::Response r) -> asio::awaitable<api::Response> { co_return r; }(std::move(*file));
    return guarded(std::move(req));
  };
  api::HttpServer http(io, endpoints(cfg.http.listen), front, api::guarded_head(guard, &*users, store_pool.get_executor()));
  http.start();
  for (const auto& ep : http.bound()) {
    log("HTTP API on " + ep.address().to_string() + ":" + std::to_string(ep.port()) +
        (cfg.http.tokens ? " (bearer tokens; the admin token is in " +
                               (fs::path(data_dir) / kAdminTokenFile).string() + ")"
                         : " (no tokens: loopback only)"));
  }

  // Fax calls: SIP, T.38 and the dispatcher of outbound jobs.
  gateway::Hooks hooks;
  auto store_exec = store_pool.get_executor();
  // Accounting (store thread): the store's table and <data_dir>/accounting.jsonl.
  const std::string accounting_log = (fs::path(cfg.node.data_dir) / "accounting.jsonl").string();
  // account_line: a record the store has committed already (with its call's outcome).
  auto account_line = [accounting_log](const queue::AccountingRecord& a) {
    if (auto r = queue::Spool::append_line(accounting_log, queue::to_json(a)); !r) log("accounting: " + r.error().message);
  };
  auto account = [&, account_line](const queue::AccountingRecord& a) {
    if (auto r = store->add_accounting(a); !r) log("accounting: " + r.error().message);
    account_line(a);
  };
  std::function<void()> poke_onramp;
  hooks.create_inbound = [&, store_exec](const queue::NewInbound& in, std::function<void(std::optional<int64_t>)> cb) {
    asio::post(store_exec, [&, in = queue::NewInbound(in), cb]() mutable {
      in.node = cfg.node.name;  // the owner of the reception, its claim renewed with the others'
      in.lease_until = int64_t(std::time(nullptr)) + cfg.node.lease_s;
      auto id = store->create_inbound(in);
      if (!id) log("cannot record an inbound fax call: " + id.error().message);
      std::optional<int64_t> job = id ? std::optional<int64_t>(*id) : std::nullopt;
      asio::post(io, [cb, job] { cb(job); });
    });
  };
  hooks.received_path = [&](int64_t job) { return spool.received_path(job); };
  // On a store several nodes share, each page of a reception goes there as it arrives: the node
  // that takes over a reception this node's death cut mails the pages the caller saw confirmed.
  // In order on the store thread, before the reception's end puts the finished file; only the
  // newest pages of a reception wait for it (one copy per reception, however slow the store: a
  // put on its way takes the bytes the latest page left). A reception another node closed
  // meanwhile (this node could not renew its claim) is not written to.
  if (store->shares_documents()) {
    struct Pending {
      std::mutex m;
      std::map<std::string, std::string> bytes;  // path -> the file after its latest page
    };
    auto pending = std::make_shared<Pending>();
    hooks.page_appended = [&, store_exec, pending](const std::string& path, std::string bytes) {
      {
        std::lock_guard lock(pending->m);
        const bool on_its_way = pending->bytes.count(path) > 0;
        pending->bytes[path] = std::move(bytes);
        if (on_its_way) return;
      }
      asio::post(store_exec, [&, path, pending] {
        std::string newest;
        {
          std::lock_guard lock(pending->m);
          auto it = pending->bytes.find(path);
          if (it == pending->bytes.end()) return;
          newest = std::move(it->second);
          pending->bytes.erase(it);
        }
        int64_t job = 0;
        const std::string stem = fs::path(path).stem().string();
        if (std::from_chars(stem.data(), stem.data() + stem.size(), job).ec != std::errc{}) return;
        auto r = store->put_reception_pages(job, cfg.node.name, queue::document_name(spool.dir(), path), newest);
        if (!r && r.error().code != queue::StoreErrc::conflict)
          log("the pages so far of " + path + " are not in the store: " + r.error().message);
      });
    };
  }
  hooks.received = [&, store_exec](const gateway::ReceivedFax& r) {
    asio::post(store_exec, [&, r] {
      if (!r.path.empty()) gateway::sync_received(r.path);  // durable before the job says so
      // What the call did, in one transaction: its pages, how it went, its accounting record
      // and the job's move to delivering (the route's mailbox hears of it either way: the fax,
      // a missed-fax or a missed-call notice).
      queue::CallRecord c;
      c.job = r.job_id;
      c.media = r.media.media;
      c.detected_by = r.media.detected_by;
      c.state = queue::state::delivering;
      queue::AccountingRecord a;
      a.time = int64_t(std::time(nullptr)) - r.seconds;
      a.direction = queue::Direction::in;
      a.job_id = r.job_id;
      a.trunk = r.trunk;
      a.media = r.media.media;
      a.duration = r.seconds;
      a.node = cfg.node.name;
      for (const auto& p : r.page_results) a.page_results.push_back({p.number, p.rows, p.bad_rows});
      std::string event;
      if (r.voice) {
        // A voice call to a shared number that could not be transferred: the route's mailbox
        // gets a missed-call notice; never a failed fax.
        c.outcome = "voice";
        event = "a voice call, not transferred: " + r.reason;
        c.error = r.reason;
        a.outcome = "voice";
      } else {
        c.transfer = queue::CallRecord::Transfer{
            r.pages, r.pages, r.bad_rows,
            r.remote_ident.empty() ? std::nullopt : std::optional<std::string>(r.remote_ident)};
        if (!r.subaddress.empty()) c.subaddress = r.subaddress;
        event = "received " + std::to_string(r.pages) + " page(s)";
        if (!r.remote_ident.empty()) event += " from " + r.remote_ident;
        if (!r.media.media.empty()) event += " over " + r.media.media;
        if (!r.media.detected_by.empty()) event += " (fax recognised: " + r.media.detected_by + ")";
        if (r.bit_rate) event += " at " + std::to_string(r.bit_rate) + " bit/s" + (r.ecm ? " with ECM" : "");
        if (r.bad_rows) event += ", " + std::to_string(r.bad_rows) + " bad rows";
        if (r.media.restarts) event += ", T.30 restarted " + std::to_string(r.media.restarts) + " time(s) by a change of media";
        if (!r.reason.empty()) event += " (" + r.reason + ")";
        if (!r.media.note.empty()) event += "; " + r.media.note;
        c.reception = queue::CallRecord::Reception{r.bit_rate, r.ecm, r.seconds};
        if (!r.success) c.error = r.reason.empty() ? (r.pages > 0 ? "The fax is incomplete." : "No page was received.") : r.reason;
        if (!r.media.detected_by.empty()) a.detected_by = r.media.detected_by;
        a.pages = a.pages_total = r.pages;
        a.bit_rate = r.bit_rate;
        a.outcome = r.pages == 0 ? "missed" : r.success ? "received" : "incomplete";
        if (!r.remote_ident.empty()) a.remote_ident = r.remote_ident;
      }
      c.events.push_back(event);
      c.accounting = a;
      const std::string line = "job " + std::to_string(r.job_id) + ": " + event + (r.media.stats.empty() ? "" : "; " + r.media.stats);
      // Kept trying while the store is busy or away (every 2 s): a received fax is never left
      // unrecorded; a conflict (already recorded by a start) is final.
      auto record = [&, store_exec, voice = r.voice](auto self, queue::CallRecord c, queue::AccountingRecord a,
                                                     std::string line) -> void {
        // The pages first, on a store several nodes share: there for the node that mails them.
        std::error_code missing;
        const std::string path = spool.received_path(c.job);
        queue::StoreStatus st = fb::Unit{};
        if (!voice && fs::exists(path, missing)) st = queue::share_reception(*store, spool.dir(), path, c.job, cfg.node.name);
        if (st) st = store->record_call(c);
        auto transient = [](const queue::StoreError& e) {
          return e.code != queue::StoreErrc::conflict && e.code != queue::StoreErrc::invalid &&
                 e.code != queue::StoreErrc::not_found;
        };
        auto again = [&](const queue::StoreError& e) {
          log(line + "; not recorded yet (" + e.message + "); trying again");
          auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::seconds(2));
          timer->async_wait([store_exec, timer, self, c, a, line](std::error_code) {
            asio::post(store_exec, [self, c, a, line] { self(self, c, a, line); });
          });
        };
        if (!st && transient(st.error())) return again(st.error());
        if (!st) {
          // Closed by another node while this one could not renew its claim (the store away
          // longer than lease_s): that node had none of the pages, which are here. They become a
          // new inbound job, so the fax is mailed after all.
          auto old = st.error().code == queue::StoreErrc::conflict && c.transfer && c.transfer->pages > 0
                         ? store->job(c.job)
                         : fb::Result<queue::Job, queue::StoreError>(st.error());
          if (!old && transient(old.error())) return again(old.error());
          if (old && old->direction == queue::Direction::in && old->state != queue::state::receiving &&
              old->pages < c.transfer->pages && old->owner && *old->owner == cfg.node.name) {
            queue::NewInbound in{old->number, old->subaddress, old->caller, old->caller_name, old->referred_by,
                                 cfg.node.name, int64_t(std::time(nullptr)) + cfg.node.lease_s};
            auto id = store->create_inbound(in);
            if (!id && transient(id.error())) return again(id.error());
            std::error_code ec;
            if (id) fs::rename(spool.received_path(c.job), spool.received_path(*id), ec);
            if (id && ec) queue::logged(store->discard_inbound(*id));  // (no job without its pages)
            if (id && !ec) {
              log(line + "; job " + std::to_string(c.job) + " was closed by another node meanwhile: recorded as job " +
                  std::to_string(*id));
              c.events.insert(c.events.begin(), "the pages of job " + std::to_string(c.job) +
                                                    ", which another node closed while this node could not reach the store");
              c.job = a.job_id = *id;
              c.accounting = a;
              return self(self, c, a, line);
            }
            log(line + "; job " + std::to_string(c.job) + " was closed by another node, and a new job cannot be made (" +
                (id ? ec.message() : id.error().message) + "): the pages stay in " + spool.received_path(c.job));
            return;
          }
          log(line + "; not recorded: " + st.error().message);
          return;
        }
        if (auto j = store->job(c.job)) {
          a.number = j->number;
          a.caller = j->caller;
        }
        account_line(a);
        log(line);
        if (poke_onramp) poke_onramp();
      };
      record(record, c, a, line);
    });
  };
  hooks.discard_inbound = [&, store_exec](int64_t job, const std::string& trunk, const std::string& uri,
                                          const std::string& media, int seconds) {
    asio::post(store_exec, [&, job, trunk, uri, media, seconds] {
      auto j = store->job(job);
      if (auto r = store->discard_inbound(job); !r) {
        log("job " + std::to_string(job) + ": a voice call transferred to " + uri + ", but its job stays: " + r.error().message);
        return;
      }
      std::error_code ec;
      fs::remove(spool.received_path(job), ec);
      if (j) {
        queue::AccountingRecord a;
        a.time = int64_t(std::time(nullptr)) - seconds;
        a.direction = queue::Direction::in;
        a.job_id = job;
        a.number = j->number;
        a.caller = j->caller;
        a.trunk = trunk;
        a.media = media;
        a.duration = seconds;
        a.node = cfg.node.name;
        a.outcome = "transferred";
        account(a);
      }
      log("a voice call from " + (j ? j->caller : std::string("?")) + " transferred to " + uri);
    });
  };
  gateway::FaxCalls fax_calls(io, fax_calls_options(cfg), hooks);
  hang_up_job = [&](int64_t id) {
    if (fax_calls.cancel_job(id)) log("job " + std::to_string(id) + ": cancelled during its call: hanging up");
  };
  trunks_snapshot = [&] {
    std::vector<api::TrunkInfo> out;
    auto memory = fax_calls.t38_memory();
    for (const auto& t : fax_calls.trunks()) {
      api::TrunkInfo i{t.name, t.t38, t.channels_in_use, t.max_channels, {}, t.state, t.state_reason, t.addresses, t.dns_error,
                       t.down_addresses};
      i.channels_granted = t.channels_granted;
      for (const auto& m : memory) {
        if (m.trunk == t.name) i.t38_memory.push_back({m.prefix, m.reason, m.since, m.until});
      }
      out.push_back(std::move(i));
    }
    return out;
  };
  fax_calls.start(sip_listen(cfg),
                  sip::TlsFiles{cfg.sip.tls_cert, cfg.sip.tls_key, where.secrets.sip_cert, where.secrets.sip_key,
                                where.secrets.trust});
  for (const auto& b : fax_calls.endpoint().bound()) {
    const char* t = b.transport == sip::Transport::tcp ? "tcp:" : b.transport == sip::Transport::tls ? "tls:" : "udp:";
    log(std::string("SIP listening on ") + t + b.host + ":" + std::to_string(b.port));
  }
  gateway::RetryPolicy rp;
  rp.max_dials = cfg.retry.max_dials;
  rp.max_tries = cfg.retry.max_tries;
  rp.busy_delay_s = cfg.retry.busy_delay_s;
  rp.no_answer_delay_s = cfg.retry.no_answer_delay_s;
  rp.failure_delay_s = cfg.retry.failure_delay_s;
  rp.congestion_delay_s = cfg.retry.congestion_delay_s;
  rp.partial_delay_s = cfg.retry.partial_delay_s;
  rp.kill_after_s = cfg.retry.kill_after_s;
  rp.calls_per_number = cfg.retry.calls_per_number;
  rp.node = cfg.node.name;
  rp.lease_s = cfg.node.lease_s;
  rp.dialing = address::DialingPolicy{cfg.dialing.allow, cfg.dialing.deny};
  rp.windows = cfg.windows;
  rp.budget = budget;
  // A shared store: the trunks' channels are the cluster's (channel_grants.hpp).
  const bool shared_store = store->shares_documents();
  rp.count_waiting = shared_store;
  if (shared_store) rp.budget_sync_s = 10;  // every node's calls count against the daily caps
  gateway::Dispatcher dispatcher(io, store_exec, *store, spool, fax_calls, rp);
  std::optional<gateway::ChannelGrants> grants;
  if (shared_store) {
    grants.emplace(io, store_exec, *store, fax_calls, [&dispatcher] { return dispatcher.waiting(); },
                   [&dispatcher] { return dispatcher.taking(); },
                   gateway::ChannelGrantOptions{cfg.node.name, cfg.node.lease_s});
    grants->start();
  }
  poke_dispatcher = [&] { dispatcher.poke(); };

  // Received faxes → mail.
  std::shared_ptr<gateway::LdapDirectory> ldap;
  if (cfg.ldap) {
    gateway::LdapOptions lo;
    lo.uri = cfg.ldap->uri;
    lo.base = cfg.ldap->base;
    lo.filter = cfg.ldap->filter;
    lo.mail_attribute = cfg.ldap->mail_attribute;
    lo.allow_attribute = cfg.ldap->allow_attribute;
    lo.bind_dn = cfg.ldap->bind_dn;
    lo.bind_password = cfg.ldap->bind_password;
    lo.timeout_s = cfg.ldap->timeout_s;
    lo.cache_s = cfg.ldap->cache_s;
    lo.people_filter = cfg.ldap->people_filter;
    ldap = std::make_shared<gateway::LdapDirectory>(lo);
  }
  gateway::OnRampOptions ro = onramp_options(cfg, ldap, where.secrets);
  ro.node = cfg.node.name;
  ro.lease_s = cfg.node.lease_s;
  ro.reading = reading;
  ro.webhook_targets = [&users](const std::vector<std::string>& mailboxes) { return users->webhook_targets(mailboxes); };
  gateway::OnRamp onramp(io, store_exec, *store, spool, std::move(ro));
  poke_onramp = [&] { onramp.poke(); };
  offramp.on_forward = [&] { onramp.poke(); };  // mail for the postmaster: pass it on
  offramp.on_bounce = [&](const mail::BounceAddress& b, const std::string& address, std::string_view message) {
    return onramp.bounce(b, address, message);  // both on the store executor
  };
  dispatcher.on_outcome = [&] { onramp.poke(); };
  dispatcher.on_call = account_line;
  dispatcher.on_unrendered = [&](const std::vector<std::string>& ids) {
    for (const auto& id : ids) converter.notify(id);
  };
  dispatcher.start();  // after its hooks are set: start-up recovery already accounts
  onramp.start();
  api::WebhookOptions wo;
  wo.allow_private = cfg.http.webhook_allow_private;
  wo.timeout_s = cfg.http.webhook_timeout_s;
  wo.log = [](const std::string& l) { log(l); };
  api::WebhookSender webhooks(io, store_exec, *store, *users, wo);
  webhooks.start();

  asio::signal_set hup(io, SIGHUP);  // reload (below)
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer drain(io);
  std::function<void()> wait_drained;
  wait_drained = [&] {
    if (smtp_server.sessions() == 0) {
      io.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(100));
    drain.async_wait([&](std::error_code) { wait_drained(); });
  };
  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) return;
    log(std::string("stopping (") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ")");
    notify_systemd("STOPPING=1");
    hup.cancel();
    smtp_server.stop();
    http.stop();
    dispatcher.stop();
    onramp.stop();
    webhooks.stop();
    fax_calls.stop();
    if (grants) grants->stop();  // after the calls are hung up: their channels go back with them
    asio::post(io, wait_drained);
    // A client that never finishes its message cannot hold the node for ever. Sessions still
    // suspended then cannot be unwound safely after their server is gone: leave as a crash
    // would, which the spool and the store are built to survive (nothing acknowledged is lost;
    // a commit whose 250 was not sent yet may arrive twice, as after any crash).
    auto hard = std::make_shared<asio::steady_timer>(io, std::chrono::seconds(9));
    hard->async_wait([hard](std::error_code ec) {
      if (ec) return;
      log("sessions did not finish within 9 s: exiting now");
      std::_Exit(0);
    });
  });
  std::function<void()> reload = [&] {
    if (reloader.path.empty()) {
      log("reload: serve runs on the embedded default (no --config): nothing to read again");
      return;
    }
    auto text = read_config_text(reloader.path);
    if (!text) return;
    auto next = config::load_string(*text, reloader.path);
    if (!next) {
      log("reload: " + next.error().message + ": the running configuration stays");
      return;
    }
    auto apply = app::plan_reload(reloader.applied_text, *text);
    auto restart = app::plan_reload(reloader.started_text, *text);
    if (!apply || !restart) {
      log("reload: " + (apply ? restart.error() : apply.error()) + ": the running configuration stays");
      return;
    }
    std::optional<std::vector<gateway::Trunk>> trunks;
    if (apply->trunks && !(trunks = reloaded_trunks(*next))) return;  // nothing applied yet
    log("reload: " + reloader.path);
    if (trunks) {
      for (const auto& line : fax_calls.reload_trunks(std::move(*trunks))) log("reload: " + line);
      dispatcher.poke();  // a job waiting for a trunk may go now
    }
    if (apply->routes) {
      onramp.set_routes(route_rules(*next));
      gateway::FaxCallsOptions routing;
      set_routing(*next, routing);
      fax_calls.set_routing(std::move(routing.routed), std::move(routing.voice_uri));
      log("reload: routes: " + std::to_string(next->routes.size()) + " [[route]] in force for the faxes routed from now on");
    }
    if (apply->dialing) {
      address::DialingPolicy policy{next->dialing.allow, next->dialing.deny};
      offramp.set_dialing(policy);
      dispatcher.set_dialing(policy);
      log("reload: dialing: allow and deny in force for new recipients and the next jobs dialled");
    }
    if (apply->smtp) {
      smtp_server.reload(smtp_reload(*next));
      trusted = trusted_networks(*next);
      std::map<std::string, std::string> users;
      for (const auto& u : next->smtp.users) users[u.name] = u.password_hash;
      offramp.set_users(std::move(users));
      offramp.set_limits({next->smtp.sender_messages_per_hour, next->smtp.sender_recipients_per_hour, next->smtp.max_recipients});
      log("reload: smtp: limits, trusted networks and users in force for new sessions (" +
          std::to_string(next->smtp.users.size()) + " user(s), " + std::to_string(next->smtp.max_sessions) + " sessions at most)");
    }
    for (const auto& section : restart->not_reloaded) {
      log("reload: " + section + " differs from the start-up file: not reloaded (a restart applies it)");
    }
    if (apply->nothing() && restart->not_reloaded.empty()) log("reload: nothing changed");
    reloader.applied_text = std::move(*text);
  };
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](std::error_code ec, int) {
      if (ec) return;
      reload();
      wait_hup();
    });
  };
  wait_hup();
  log("ready");
  notify_systemd("READY=1");
  io.run();
  poke_dispatcher = nullptr;
  poke_onramp = nullptr;
  hang_up_job = nullptr;
  trunks_snapshot = nullptr;
  converter.stop();
  store_pool.join();
  log("stopped");
  return 0;
}

}  // namespace

int serve(const std::optional<std::string>& config_path) {
  auto cfg = config_path ? config::load_file(*config_path) : fb::Result<config::Config, config::ConfigError>(config::embedded_default());
  if (!cfg) {
    std::cerr << "faxbridge serve: " << cfg.error().message << std::endl;
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  // Every call holds a media socket and a TIFF: use the whole open-files allowance (the soft
  // limit is often 1024 under service managers, far below what a few hundred calls need).
  if (rlimit nofile{}; getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  Reloader reloader;
  if (config_path) {
    reloader.path = fs::absolute(*config_path).string();  // serve changes its directory
    if (auto text = read_config_text(reloader.path)) reloader.started_text = reloader.applied_text = *text;
  }
  try {
    return run(*cfg, std::move(reloader));
  } catch (const std::exception& e) {
    if (cfg->log.format == fb::LogFormat::text) {
      std::cerr << "faxbridge serve: " << e.what() << std::endl;
    } else {
      fb::log(fb::LogLevel::error, "serve", std::string("faxbridge serve: ") + e.what());
    }
    return 1;
  }
}

}  // namespace app
