// dns.cpp — c-ares on asio (dns.hpp): c-ares tells us which sockets it waits on
// (ARES_OPT_SOCK_STATE_CB), asio waits on them without owning them, and ares_timeout() drives
// one timer.
#include "sip/dns.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace sip {

struct Dns::Watch {
  Watch(asio::io_context& io, int f) : fd(f), sd(io, f) {}
  int fd;
  asio::posix::stream_descriptor sd;
  bool want_read = false;
  bool want_write = false;
  bool reading = false;
  bool writing = false;
  bool live = true;
};

namespace {

ares_channel chan(void* c) { return static_cast<ares_channel>(c); }

struct QueryContext {
  DnsQuery query;
  std::function<void(DnsAnswer)> done;
  std::shared_ptr<bool> alive;
  asio::io_context* io;
};

// NXDOMAIN and NODATA say the records do not exist; anything else is a failure to find out.
bool transient(int status) { return status != ARES_SUCCESS && status != ARES_ENOTFOUND && status != ARES_ENODATA && status != ARES_ENONAME; }

std::string status_text(int status) {
  switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENONAME: return "NXDOMAIN";
    case ARES_ENODATA: return "no records";
    case ARES_ETIMEOUT: return "no answer from the DNS server";
    case ARES_ESERVFAIL: return "SERVFAIL";
    case ARES_EREFUSED: return "REFUSED";
    case ARES_ECONNREFUSED: return "the DNS server refused the connection";
    default: return ares_strerror(status);
  }
}

DnsAnswer parse(RrType type, const unsigned char* abuf, int alen) {
  DnsAnswer a;
  int rc = ARES_SUCCESS;
  switch (type) {
    case RrType::naptr: {
      ares_naptr_reply* out = nullptr;
      rc = ares_parse_naptr_reply(abuf, alen, &out);
      for (auto* r = out; rc == ARES_SUCCESS && r; r = r->next) {
        NaptrRecord n;
        n.order = r->order;
        n.preference = r->preference;
        n.flags = r->flags ? reinterpret_cast<const char*>(r->flags) : "";
        n.service = r->service ? reinterpret_cast<const char*>(r->service) : "";
        n.regexp = r->regexp ? reinterpret_cast<const char*>(r->regexp) : "";
        n.replacement = r->replacement ? r->replacement : "";
        a.naptr.push_back(std::move(n));
      }
      if (out) ares_free_data(out);
      break;
    }
    case RrType::srv: {
      ares_srv_reply* out = nullptr;
      rc = ares_parse_srv_reply(abuf, alen, &out);
      for (auto* r = out; rc == ARES_SUCCESS && r; r = r->next) {
        SrvRecord s;
        s.priority = r->priority;
        s.weight = r->weight;
        s.port = r->port;
        s.target = r->host ? r->host : "";
        a.srv.push_back(std::move(s));
      }
      if (out) ares_free_data(out);
      break;
    }
    case RrType::a:
    case RrType::aaaa:
      break;  // ares_getaddrinfo (Dns::query)
  }
  if (rc != ARES_SUCCESS) {
    a.error = rc == ARES_EBADRESP ? "a malformed answer" : status_text(rc);
    a.transient = rc == ARES_EBADRESP || transient(rc);
  }
  return a;
}

int wire_type(RrType t) {
  switch (t) {
    case RrType::naptr: return ns_t_naptr;
    case RrType::srv: return ns_t_srv;
    case RrType::a: return ns_t_a;
    case RrType::aaaa: return ns_t_aaaa;
  }
  return ns_t_a;
}

}  // namespace

Dns::Dns(asio::io_context& io, const std::string& servers) : io_(io), timer_(io) {
  static std::once_flag once;
  static int init_rc = ARES_SUCCESS;
  std::call_once(once, [] { init_rc = ares_library_init(ARES_LIB_INIT_ALL); });
  if (init_rc != ARES_SUCCESS) throw std::runtime_error(std::string("DNS: c-ares: ") + ares_strerror(init_rc));
  ares_options o{};
  o.sock_state_cb = &Dns::on_sock_state;
  o.sock_state_cb_data = this;
  o.timeout = int(kDnsTimeout.count());
  o.tries = kDnsTries;
  // No search list: a trunk's host is written in full, and a name's "no such record" must end
  // its lookup (after one, c-ares would go on to NAME.<search domain>, and a resolver's REFUSED
  // for that would turn a plain "no AAAA record" into a failure).
  o.flags = ARES_FLAG_NOSEARCH;
  ares_channel ch = nullptr;
  const int rc = ares_init_options(&ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS);
  if (rc != ARES_SUCCESS) throw std::runtime_error(std::string("DNS: c-ares: ") + ares_strerror(rc));
  channel_ = ch;
  if (!servers.empty()) {
    const int src = ares_set_servers_ports_csv(ch, servers.c_str());
    if (src != ARES_SUCCESS) {
      ares_destroy(ch);
      channel_ = nullptr;
      throw std::runtime_error("DNS: servers " + servers + ": " + ares_strerror(src));
    }
  }
}

Dns::~Dns() {
  *alive_ = false;
  timer_.cancel();
  for (auto& [fd, w] : watches_) {
    w->live = false;
    w->sd.release();  // c-ares owns the descriptor and closes it below
  }
  watches_.clear();
  ares_destroy(chan(channel_));  // pending queries end with ARES_EDESTRUCTION: no callback
}

void Dns::on_sock_state(void* self, int fd, int readable, int writable) {
  static_cast<Dns*>(self)->sock_state(fd, readable != 0, writable != 0);
}

void Dns::sock_state(int fd, bool readable, bool writable) {
  if (!*alive_) return;
  auto it = watches_.find(fd);
  if (!readable && !writable) {
    if (it != watches_.end()) {
      it->second->live = false;
      it->second->sd.release();
      watches_.erase(it);
    }
    return;
  }
  try {
    if (it == watches_.end()) it = watches_.emplace(fd, std::make_shared<Watch>(io_, fd)).first;
    it->second->want_read = readable;
    it->second->want_write = writable;
    arm(it->second);
  } catch (const std::exception&) {
    // Called from inside c-ares (C frames): nothing may escape. Unwatched, the socket's query
    // ends by its timeout (the timer drives ares_process_fd regardless).
  }
}

void Dns::arm(const std::shared_ptr<Watch>& w) {
  if (w->want_read && !w->reading) {
    w->reading = true;
    w->sd.async_wait(asio::posix::stream_descriptor::wait_read, [this, w, alive = alive_](std::error_code ec) {
      w->reading = false;
      if (!*alive || ec || !w->live) return;
      process(w->fd, ARES_SOCKET_BAD);
      if (*alive && w->live) arm(w);
    });
  }
  if (w->want_write && !w->writing) {
    w->writing = true;
    w->sd.async_wait(asio::posix::stream_descriptor::wait_write, [this, w, alive = alive_](std::error_code ec) {
      w->writing = false;
      if (!*alive || ec || !w->live) return;
      process(ARES_SOCKET_BAD, w->fd);
      if (*alive && w->live) arm(w);
    });
  }
}

void Dns::process(int read_fd, int write_fd) {
  ares_process_fd(chan(channel_), read_fd, write_fd);
  arm_timer();
}

void Dns::arm_timer() {
  timeval tv{};
  if (!ares_timeout(chan(channel_), nullptr, &tv)) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
  timer_.async_wait([this, alive = alive_](std::error_code ec) {
    if (!*alive || ec) return;
    process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  });
}

void Dns::on_reply(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  std::unique_ptr<QueryContext> ctx(static_cast<QueryContext*>(arg));
  if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED || !*ctx->alive) return;
  DnsAnswer a;
  if (status == ARES_SUCCESS) {
    a = parse(ctx->query.type, abuf, alen);
  } else {
    a.error = status_text(status);
    a.transient = transient(status);
  }
  asio::post(*ctx->io, [done = std::move(ctx->done), a = std::move(a), alive = ctx->alive]() {
    if (*alive) done(a);
  });
}

void Dns::on_addrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* res) {
  std::unique_ptr<QueryContext> ctx(static_cast<QueryContext*>(arg));
  std::unique_ptr<ares_addrinfo, void (*)(ares_addrinfo*)> owned(res, &ares_freeaddrinfo);
  if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED || !*ctx->alive) return;
  DnsAnswer a;
  if (status != ARES_SUCCESS) {
    a.error = status_text(status);
    a.transient = transient(status);
  }
  for (auto* n = res ? res->nodes : nullptr; status == ARES_SUCCESS && n; n = n->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* where = nullptr;
    if (n->ai_family == AF_INET && ctx->query.type == RrType::a) where = &reinterpret_cast<sockaddr_in*>(n->ai_addr)->sin_addr;
    if (n->ai_family == AF_INET6 && ctx->query.type == RrType::aaaa) where = &reinterpret_cast<sockaddr_in6*>(n->ai_addr)->sin6_addr;
    if (!where || !inet_ntop(n->ai_family, where, text, sizeof text)) continue;
    if (std::find(a.addresses.begin(), a.addresses.end(), text) != a.addresses.end()) continue;
    a.addresses.push_back(text);
    // The hosts file's entries carry no TTL: they are taken as lasting (kMaxRelocate's cap).
    const uint32_t ttl = n->ai_ttl > 0 ? uint32_t(n->ai_ttl) : 0;
    if (ttl) a.ttl = a.ttl == 0 ? ttl : std::min(a.ttl, ttl);
  }
  if (status == ARES_SUCCESS && a.addresses.empty()) a.error = "no records";
  asio::post(*ctx->io, [done = std::move(ctx->done), a = std::move(a), alive = ctx->alive]() {
    if (*alive) done(a);
  });
}

void Dns::query(const DnsQuery& q, std::function<void(DnsAnswer)> done) {
  auto* ctx = new QueryContext{q, std::move(done), alive_, &io_};
  if (q.type == RrType::a || q.type == RrType::aaaa) {
    // Addresses as the system finds them: the hosts file, then DNS.
    ares_addrinfo_hints hints{};
    hints.ai_family = q.type == RrType::a ? AF_INET : AF_INET6;
    hints.ai_flags = ARES_AI_NOSORT;
    ares_getaddrinfo(chan(channel_), q.name.c_str(), nullptr, &hints, &Dns::on_addrinfo, ctx);
  } else {
    ares_query(chan(channel_), q.name.c_str(), ns_c_in, wire_type(q.type), &Dns::on_reply, ctx);
  }
  arm_timer();
}

void Dns::locate(const Uri& uri, std::function<void(Location)> done) {
  step(std::make_shared<Locator>(uri), std::move(done));
}

void Dns::step(std::shared_ptr<Locator> l, std::function<void(Location)> done) {
  auto q = l->next();
  if (!q) {
    asio::post(io_, [done = std::move(done), r = l->result(), alive = alive_]() {
      if (*alive) done(r);
    });
    return;
  }
  query(*q, [this, l, done = std::move(done)](DnsAnswer a) mutable {
    l->answer(a);
    step(l, std::move(done));
  });
}

}  // namespace sip
