// fax_calls.cpp — outbound and inbound T.38 fax calls (see fax_calls.hpp).
#include "gateway/fax_calls.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cctype>
#include <filesystem>
#include <iostream>

#include "address/e164.hpp"
#include "sip/fax_sdp.hpp"

namespace gateway {

using asio::ip::udp;
using Clock = std::chrono::steady_clock;

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::done: return "done";
    case Outcome::busy: return "busy";
    case Outcome::no_answer: return "no answer";
    case Outcome::invalid_number: return "invalid number";
    case Outcome::congestion: return "congestion";
    case Outcome::t38_refused: return "T.38 refused";
    case Outcome::t30_failure: return "T.30 failure";
    case Outcome::partial: return "partial send";
    case Outcome::rejected: return "rejected";
  }
  return "?";
}

namespace {

std::string user_of(const std::optional<sip::NameAddr>& na) { return na ? na->uri.user : std::string(); }

Outcome classify(int status) {
  switch (status) {
    case 486:
    case 600: return Outcome::busy;
    case 408:
    case 480:
    case 487: return Outcome::no_answer;
    case 404:
    case 484:
    case 604: return Outcome::invalid_number;
    case 488:
    case 606: return Outcome::t38_refused;
    case 401:
    case 403:
    case 407:
    case 603: return Outcome::rejected;
    default: return status >= 500 && status < 600 ? Outcome::congestion : Outcome::rejected;
  }
}

}  // namespace

void sync_received(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  auto dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

struct FaxCalls::Call {
  explicit Call(asio::io_context& io) : ring_timer(io) {}
  sip::CallId sip = 0;
  bool outgoing = true;
  size_t trunk = 0;
  std::vector<size_t> candidates;  // outbound: trunks still to try, in order
  OutboundFax job;
  std::function<void(CallResult)> done;
  std::unique_ptr<udp::socket> media;
  uint16_t media_port = 0;
  std::string local_ip;
  udp::endpoint remote;
  std::array<uint8_t, 4096> buf{};
  std::optional<udptl::Encoder> enc;
  udptl::Decoder dec;
  std::unique_ptr<fax::T38Terminal> fax;
  asio::steady_timer ring_timer;
  bool ring_timed_out = false;
  bool reported = false;  // outbound result given / inbound reception handed over
  bool ended = false;     // the SIP call is over
  bool cancelled = false; // outbound: the user cancelled the job: hang up, no failover
  Clock::time_point started = Clock::now();
  std::string local_sdp;
  // Inbound.
  int64_t job_id = 0;
  std::string rx_path;
  std::string caller;
  Clock::time_point last_tick{};  // the T.30 clock's position
};

FaxCalls::FaxCalls(asio::io_context& io, FaxCallsOptions opt, Hooks hooks)
    : io_(io), opt_(std::move(opt)), hooks_(std::move(hooks)), endpoint_(io, *this), ticker_(io) {
  next_port_ = opt_.media_port_min;
}

FaxCalls::~FaxCalls() { stop(); }

void FaxCalls::start(const std::vector<sip::ListenSpec>& listen, const sip::TlsFiles& tls) {
  endpoint_.start(listen, tls);
  for (const auto& t : opt_.trunks) {
    if (!t.register_) continue;
    sip::Registration r;
    r.registrar_uri = "sip:" + t.host_port;
    r.next_hop = t.next_hop;
    r.aor_user = t.credentials ? t.credentials->username : t.caller_id.empty() ? opt_.station_id : t.caller_id;
    r.credentials = t.credentials;
    endpoint_.ua().register_at(r, sip::Clock::now());
  }
  endpoint_.kick();
  ticking_ = true;
  tick();
}

void FaxCalls::stop() {
  if (stopped_) return;
  stopped_ = true;
  ticking_ = false;
  ticker_.cancel();
  endpoint_.ua().unregister_all(sip::Clock::now());
  auto calls = calls_;
  for (auto& [id, c] : calls) {
    if (c->fax) c->fax->abort("faxbridge is stopping");
    endpoint_.ua().hangup(id, sip::Clock::now());
    std::error_code ec;
    if (c->media) c->media->close(ec);
    c->ring_timer.cancel();
  }
  endpoint_.stop();
}

int FaxCalls::trunk_active(size_t trunk) const {
  int n = 0;
  for (const auto& [id, c] : calls_) {
    if (c->trunk == trunk && !c->ended) ++n;
  }
  for (const auto& c : dialling_) {
    if (c->trunk == trunk) ++n;
  }
  return n;
}

std::vector<FaxCalls::TrunkRoom> FaxCalls::room() const {
  std::vector<TrunkRoom> out;
  for (size_t i = 0; i < opt_.trunks.size(); ++i) {
    const Trunk& t = opt_.trunks[i];
    out.push_back({t.prefixes, t.t38 == T38Policy::off ? 0 : std::max(0, t.max_channels - trunk_active(i))});
  }
  return out;
}

std::vector<size_t> FaxCalls::serving(const std::vector<TrunkRoom>& trunks, const std::string& number) {
  std::vector<std::pair<size_t, size_t>> match;  // (prefix length, index)
  for (size_t i = 0; i < trunks.size(); ++i) {
    size_t best = 0;
    bool any = false;
    for (const auto& p : trunks[i].prefixes) {
      if (number.starts_with(p)) {
        any = true;
        best = std::max(best, p.size());
      }
    }
    if (any) match.emplace_back(best, i);
  }
  std::stable_sort(match.begin(), match.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<size_t> out;
  for (const auto& m : match) out.push_back(m.second);
  return out;
}

int FaxCalls::free_channels() const {
  int n = 0;
  for (size_t i = 0; i < opt_.trunks.size(); ++i) n += std::max(0, opt_.trunks[i].max_channels - trunk_active(i));
  return n;
}

std::shared_ptr<FaxCalls::Call> FaxCalls::find(sip::CallId id) {
  auto it = calls_.find(id);
  return it == calls_.end() ? nullptr : it->second;
}

void FaxCalls::forget(const std::shared_ptr<Call>& c) {
  std::error_code ec;
  if (c->media) c->media->close(ec);
  c->ring_timer.cancel();
  calls_.erase(c->sip);
}

bool FaxCalls::open_media(Call& c) {
  auto local = endpoint_.ua().local(sip::Transport::udp);
  c.local_ip = local ? local->first : "127.0.0.1";
  std::error_code ec;
  auto addr = asio::ip::make_address(c.local_ip, ec);
  if (ec) return false;
  int span = opt_.media_port_max - opt_.media_port_min + 1;
  for (int i = 0; i < span; ++i) {
    int port = next_port_;
    next_port_ = next_port_ >= opt_.media_port_max ? opt_.media_port_min : next_port_ + 1;
    auto s = std::make_unique<udp::socket>(io_);
    s->open(addr.is_v4() ? udp::v4() : udp::v6(), ec);
    if (ec) return false;
    s->bind(udp::endpoint(addr, uint16_t(port)), ec);
    if (ec) continue;
    s->non_blocking(true);
    c.media = std::move(s);
    c.media_port = uint16_t(port);
    return true;
  }
  return false;
}

std::string FaxCalls::sdp_offer(const Call& c) const {
  sdp::T38Params p;
  p.max_buffer = 2000;
  p.max_datagram = 400;
  const Trunk& t = opt_.trunks[c.trunk];
  p.ec = t.ec == udptl::Mode::fec ? sdp::Ec::fec : t.ec == udptl::Mode::none ? sdp::Ec::none : sdp::Ec::redundancy;
  return fax_sdp::offer_t38({c.local_ip, c.media_port, 1}, c.media_port, p);
}

void FaxCalls::send(const OutboundFax& job, std::function<void(CallResult)> done) {
  auto c = std::make_shared<Call>(io_);
  c->outgoing = true;
  c->job = job;
  c->done = std::move(done);
  // Trunks serving the number: longest matching prefix first, config order among equals.
  c->candidates = serving(room(), job.number);
  if (c->candidates.empty()) {
    CallResult r;
    r.outcome = Outcome::rejected;
    r.reason = "No trunk serves " + job.number + ".";
    asio::post(io_, [c, r] { c->done(r); });
    return;
  }
  dial(c);
}

void FaxCalls::next_trunk_or_fail(std::shared_ptr<Call> c, Outcome o, int status, const std::string& reason) {
  if (o == Outcome::congestion && !c->candidates.empty() && !c->cancelled) {
    dial(c);  // failover
    return;
  }
  CallResult r;
  r.outcome = o;
  r.sip_status = status;
  r.reason = reason;
  r.trunk = opt_.trunks[c->trunk].name;
  finish_outbound(c, r);
}

bool FaxCalls::cancel_job(int64_t job_id) {
  for (auto& [id, c] : calls_) {
    if (!c->outgoing || c->job.job_id != job_id || c->ended || c->cancelled) continue;
    c->cancelled = true;
    c->candidates.clear();
    if (c->fax) c->fax->abort("The job was cancelled during the call.");
    endpoint_.ua().hangup(id, sip::Clock::now());  // BYE when answered, CANCEL while ringing
    endpoint_.kick();
    return true;
  }
  return false;
}

void FaxCalls::dial(std::shared_ptr<Call> c) {
  // The next candidate trunk with a free channel.
  std::optional<size_t> chosen;
  while (!c->candidates.empty()) {
    size_t t = c->candidates.front();
    c->candidates.erase(c->candidates.begin());
    if (trunk_active(t) < opt_.trunks[t].max_channels && opt_.trunks[t].t38 != T38Policy::off) {
      chosen = t;
      break;
    }
  }
  if (!chosen) {
    CallResult r;
    r.outcome = Outcome::congestion;
    r.reason = "No trunk for " + c->job.number + " has a free channel.";
    finish_outbound(c, r);
    return;
  }
  c->trunk = *chosen;
  c->ended = false;  // a failover starts a new SIP call
  c->ring_timed_out = false;
  const Trunk& t = opt_.trunks[*chosen];
  std::error_code ec;
  if (c->media) c->media->close(ec);
  c->media.reset();
  if (!open_media(*c)) {
    CallResult r;
    r.outcome = Outcome::congestion;
    r.reason = "No free media port in " + std::to_string(opt_.media_port_min) + "-" + std::to_string(opt_.media_port_max) + ".";
    finish_outbound(c, r);
    return;
  }
  sip::OutgoingCall oc;
  oc.request_uri = "sip:" + c->job.number + "@" + t.host_port;
  oc.next_hop = t.next_hop;
  oc.from_user = t.caller_id.empty() ? opt_.station_id : t.caller_id;
  oc.sdp = sdp_offer(*c);
  oc.credentials = t.credentials;
  c->local_sdp = oc.sdp;
  dialling_.push_back(c);
  auto id = endpoint_.ua().invite(oc, sip::Clock::now());
  std::erase(dialling_, c);
  if (!id) {
    next_trunk_or_fail(c, Outcome::congestion, 503, "The INVITE could not be sent to trunk " + t.name + ".");
    return;
  }
  c->sip = *id;
  c->started = Clock::now();
  calls_[*id] = c;
  endpoint_.kick();
  c->ring_timer.expires_after(std::chrono::seconds(t.ring_timeout_s));
  sip::CallId sid = *id;
  c->ring_timer.async_wait([this, c, sid](std::error_code e) {
    if (e || c->sip != sid || c->fax || c->ended) return;
    c->ring_timed_out = true;
    endpoint_.ua().hangup(sid, sip::Clock::now());
    endpoint_.kick();
  });
}

void FaxCalls::on_registration(const std::string& aor, int status, const std::string& reason, int expires) {
  if (status >= 200 && status < 300) {
    std::cerr << "faxbridge: registered " << aor << " for " << expires << " s" << std::endl;
  } else {
    std::cerr << "faxbridge: registration of " << aor << " failed: " << status << " " << reason
              << " (trying again in " << sip::kRegisterRetry.count() << " s)" << std::endl;
  }
}

void FaxCalls::on_failed(sip::CallId id, int status, const std::string& reason) {
  auto c = find(id);
  if (!c) return;
  forget(c);
  c->ended = true;
  if (c->reported) return;
  if (c->ring_timed_out) {
    next_trunk_or_fail(c, Outcome::no_answer, 0,
                       "No answer within " + std::to_string(opt_.trunks[c->trunk].ring_timeout_s) + " s.");
    return;
  }
  Outcome o = status == 408 && reason.rfind("no response", 0) == 0 ? Outcome::congestion : classify(status);
  std::string sentence = "The trunk " + opt_.trunks[c->trunk].name + " answered " + std::to_string(status) + " " + reason + ".";
  if (status == 408 && o == Outcome::congestion) sentence = "The trunk " + opt_.trunks[c->trunk].name + " did not respond.";
  if (status == 503 && reason.rfind("the connection", 0) == 0) {
    sentence = "The connection to trunk " + opt_.trunks[c->trunk].name + " failed (refused, or its TLS certificate was not accepted).";
  }
  next_trunk_or_fail(c, o, status, sentence);
}

void FaxCalls::start_fax(Call& c, const fax_sdp::RemoteT38& remote) {
  const sdp::T38Params& p = remote.params;
  udptl::EncoderConfig ec;
  ec.mode = p.ec == sdp::Ec::fec ? udptl::Mode::fec : p.ec == sdp::Ec::none ? udptl::Mode::none : udptl::Mode::redundancy;
  ec.redundancy = 3;
  ec.max_datagram = size_t(p.max_datagram.value_or(400));
  c.enc.emplace(ec);
  std::error_code err;
  c.remote = udp::endpoint(asio::ip::make_address(remote.ip, err), remote.port);
  fax::Options o;
  fax::T38Config tc;
  o.calling = c.outgoing;
  o.transmit = c.outgoing;
  o.file = c.outgoing ? c.job.tiff : c.rx_path;
  if (c.outgoing) {
    o.first_page = c.job.first_page;
    o.on_page = c.job.on_page;
  }
  o.station_id = opt_.station_id;
  o.header = c.outgoing ? opt_.header : "";
  o.subaddress = c.outgoing ? c.job.subaddress.value_or("") : "";
  o.max_bit_rate = std::min(p.max_bit_rate, 14400);
  tc.version = p.version;
  tc.fill_bit_removal = p.fill_bit_removal;
  tc.idle_timeout = opt_.idle_timeout;
  // FAXBRIDGE_T30_TRACE=1: spandsp's T.30/T.38 trace of every call on stderr, tagged by number.
  if (const char* t = std::getenv("FAXBRIDGE_T30_TRACE"); t && *t == '1') {
    o.trace_tag = c.outgoing ? "out " + c.job.number : "in " + std::to_string(c.job_id);
  }
  Call* raw = &c;
  c.fax = std::make_unique<fax::T38Terminal>(o, tc, [this, raw](std::span<const uint8_t> ifp, int copies) {
    if (!raw->media || !raw->enc) return;
    for (int i = 0; i < copies; ++i) {
      auto d = raw->enc->next(ifp);
      std::error_code e;
      raw->media->send_to(asio::buffer(d), raw->remote, 0, e);
    }
  });
  c.started = Clock::now();
}

void FaxCalls::read_media(std::shared_ptr<Call> c) {
  if (!c->media) return;
  auto from = std::make_shared<udp::endpoint>();
  c->media->async_receive_from(asio::buffer(c->buf), *from, [this, c, from](std::error_code ec, size_t n) {
    if (ec == asio::error::operation_aborted || !c->media || c->reported) return;
    if (!ec && c->fax && from->address() == c->remote.address()) {
      for (const auto& ifp : c->dec.receive(std::span<const uint8_t>(c->buf.data(), n))) {
        c->fax->receive_ifp(ifp.data, ifp.seq);
      }
    }
    read_media(c);
  });
}

void FaxCalls::on_answered(sip::CallId id, const sip::Message& answer) {
  auto c = find(id);
  if (!c) return;
  c->ring_timer.cancel();
  auto s = sdp::parse(answer.body);
  auto image = s ? fax_sdp::find_t38(*s) : std::nullopt;
  if (!image) {
    c->reported = true;
    endpoint_.ua().hangup(id, sip::Clock::now());
    endpoint_.kick();
    CallResult r;
    r.outcome = Outcome::t38_refused;
    r.sip_status = 200;
    r.trunk = opt_.trunks[c->trunk].name;
    r.reason = s ? "The far end answered without a T.38 stream." : "The far end's SDP answer is malformed: " + s.error().reason + ".";
    c->done(r);
    return;
  }
  start_fax(*c, *image);
  read_media(c);
}

std::optional<std::string> FaxCalls::on_offer(sip::CallId id, const std::string& offer) {
  auto c = find(id);
  if (!c) return std::nullopt;
  auto s = sdp::parse(offer);
  if (!s) return std::nullopt;
  if (auto t38 = fax_sdp::find_t38(*s)) {
    // The same or a moved T.38 stream: follow it, leave the fax alone.
    std::error_code ec;
    auto addr = asio::ip::make_address(t38->ip, ec);
    if (!ec) c->remote = udp::endpoint(addr, t38->port);
    return c->local_sdp;
  }
  return std::nullopt;  // back to audio, or nothing we can carry: 488
}

void FaxCalls::finish_outbound(std::shared_ptr<Call> c, CallResult r) {
  if (c->reported) return;
  c->reported = true;
  r.seconds = int(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - c->started).count());
  if (r.trunk.empty() && c->trunk < opt_.trunks.size()) r.trunk = opt_.trunks[c->trunk].name;
  if (c->fax) {
    r.bit_rate = c->fax->result().bit_rate;
    r.ecm = c->fax->result().ecm;
  }
  auto done = std::move(c->done);
  asio::post(io_, [done, r] { done(r); });
}

void FaxCalls::on_ended(sip::CallId id, sip::EndCause cause) {
  auto c = find(id);
  if (!c) return;
  c->ended = true;
  if (c->fax && !c->fax->finished()) {
    c->fax->abort(cause == sip::EndCause::remote_bye ? "The far end hung up before the fax was complete."
                                                     : "The call ended before the fax was complete.");
  }
  if (!c->outgoing) {
    if (c->job_id) finish_inbound(c);
    forget(c);
    return;
  }
  if (!c->reported) {
    CallResult r;
    r.trunk = opt_.trunks[c->trunk].name;
    if (c->fax) {
      const auto& fr = c->fax->result();
      r.pages_total = fr.pages_total;
      r.pages_sent = fr.pages;
      r.pages = fr.page;
      r.bad_rows = fr.bad_rows();
      r.remote_ident = fr.remote_ident;
      r.outcome = fr.pages > 0 ? Outcome::partial : Outcome::t30_failure;
      r.reason = fr.reason;
    } else {
      r.outcome = Outcome::t30_failure;
      r.reason = "The call ended before the fax started.";
    }
    finish_outbound(c, r);
  }
  forget(c);
}

void FaxCalls::tick() {
  if (!ticking_) return;
  // Every call is advanced by the real time since its own last tick (the T.30 clock follows
  // real time even when a tick starts late: the far end's packets and timers do), in
  // kTickPhases interleaved groups, one group every 20/kTickPhases ms, so that hundreds of
  // calls do not all send their packets in the same instant.
  auto now = Clock::now();
  phase_ = (phase_ + 1) % kTickPhases;
  std::vector<std::shared_ptr<Call>> finished;
  for (auto& [id, c] : calls_) {
    if (!c->fax || c->reported || int(id % kTickPhases) != phase_) continue;
    if (c->last_tick == Clock::time_point{}) c->last_tick = now - std::chrono::milliseconds(20);
    int elapsed = int(std::chrono::duration_cast<std::chrono::milliseconds>(now - c->last_tick).count());
    if (elapsed <= 0) continue;
    c->last_tick += std::chrono::milliseconds(elapsed);
    c->fax->tick(std::min(elapsed, 200));
    if (c->fax->finished()) finished.push_back(c);
  }
  for (auto& c : finished) {
    const auto& fr = c->fax->result();
    if (c->outgoing) {
      CallResult r;
      r.trunk = opt_.trunks[c->trunk].name;
      r.pages_total = fr.pages_total;
      r.pages_sent = fr.pages;
      r.pages = fr.page;
      r.bad_rows = fr.bad_rows();
      r.remote_ident = fr.remote_ident;
      r.outcome = fr.success ? Outcome::done : fr.pages > 0 ? Outcome::partial : Outcome::t30_failure;
      r.reason = fr.success ? "" : "T.30: " + fr.reason + ".";
      finish_outbound(c, r);
    }
    if (c->outgoing) {
      if (!c->ended) endpoint_.ua().hangup(c->sip, sip::Clock::now());
      continue;
    }
    // The receiver leaves the hang-up to the sender (whose T.30 may still be finishing), and
    // only ends a call the sender keeps open.
    finish_inbound(c);
    sip::CallId sid = c->sip;
    c->ring_timer.expires_after(std::chrono::seconds(3));
    c->ring_timer.async_wait([this, c, sid](std::error_code e) {
      if (e || c->ended) return;
      endpoint_.ua().hangup(sid, sip::Clock::now());
      endpoint_.kick();
    });
  }
  endpoint_.kick();
  next_tick_ = std::max(next_tick_ + std::chrono::milliseconds(20 / kTickPhases), Clock::now());
  ticker_.expires_at(next_tick_);
  ticker_.async_wait([this](std::error_code ec) {
    if (!ec) tick();
  });
}

void FaxCalls::on_incoming(sip::CallId id, const sip::Message& invite, const sip::Address& from) {
  auto& ua = endpoint_.ua();
  auto now = sip::Clock::now();
  std::optional<size_t> trunk;
  for (size_t i = 0; i < opt_.trunks.size(); ++i) {
    const Trunk& t = opt_.trunks[i];
    if (t.next_hop.ip == from.ip || (t.accepts && t.accepts(from.ip))) {
      trunk = i;
      break;
    }
  }
  if (!trunk) {
    ua.reject(id, 403, "Forbidden: " + from.ip + " is not a trunk of this node", now);
    return;
  }
  const Trunk& t = opt_.trunks[*trunk];
  std::string caller = e164::normalise(user_of(invite.from()), t.country_code, t.national_prefix).value_or(e164::unescape_user(user_of(invite.from())));
  for (const auto& p : opt_.reject_callers) {
    if (!caller.empty() && caller.starts_with(p)) {
      ua.reject(id, 603, "Decline", now);
      return;
    }
  }
  auto offer = sdp::parse(invite.body);
  if (!offer) {
    ua.reject(id, 488, "Not Acceptable Here: malformed SDP: " + offer.error().reason, now);
    return;
  }
  if (!fax_sdp::find_t38(*offer) || t.t38 == T38Policy::off) {
    ua.reject(id, 488, "Not Acceptable Here: T.38 (image/t38 over UDPTL) is required", now);
    return;
  }
  if (trunk_active(*trunk) >= t.max_channels) {
    ua.reject(id, 486, "Busy Here: all channels in use", now);
    return;
  }
  std::string uri_user;
  if (auto u = sip::parse_uri(invite.uri)) uri_user = u->user;
  auto did = e164::normalise(uri_user.empty() ? user_of(invite.to()) : uri_user, t.country_code, t.national_prefix);
  if (!did) did = e164::normalise(user_of(invite.to()), t.country_code, t.national_prefix);
  if (!did) {
    ua.reject(id, 404, "Not Found: the called number is not a fax number", now);
    return;
  }
  auto c = std::make_shared<Call>(io_);
  c->sip = id;
  c->outgoing = false;
  c->trunk = *trunk;
  c->caller = caller;
  calls_[id] = c;
  std::optional<std::string> caller_name;
  if (auto f = invite.from(); f && !f->display.empty()) caller_name = f->display;
  // RFC 3892: an Exchange UM referral names the mailbox here (router.hpp reads it).
  queue::NewInbound in{*did, std::nullopt, caller, caller_name, invite.get("Referred-By")};
  hooks_.create_inbound(in, [this, c, id](std::optional<int64_t> job) {
    if (c->ended || !find(id)) {
      // The caller gave up before we could answer: the job ends as a failed reception.
      if (job) {
        c->job_id = *job;
        finish_inbound(c);
      }
      return;
    }
    if (!job) {
      endpoint_.ua().reject(id, 500, "Server Internal Error: the job store is unavailable", sip::Clock::now());
      forget(c);
      endpoint_.kick();
      return;
    }
    answer_inbound(c, *job);
  });
}

void FaxCalls::answer_inbound(std::shared_ptr<Call> c, int64_t job) {
  auto& ua = endpoint_.ua();
  auto now = sip::Clock::now();
  c->job_id = job;
  c->rx_path = hooks_.received_path(job);
  const sip::Message* invite = ua.initial_invite(c->sip);
  auto offer = invite ? sdp::parse(invite->body) : fb::Result<sdp::Session, sdp::Error>(sdp::Error{"gone"});
  auto image = offer ? fax_sdp::find_t38(*offer) : std::nullopt;
  if (!image || !open_media(*c)) {
    ua.reject(c->sip, 503, "Service Unavailable: no free media port", now);
    finish_inbound(c);
    return;
  }
  auto answer = fax_sdp::answer_t38(*offer, *image, {c->local_ip, c->media_port, 1}, c->media_port, sdp::T38Capabilities{});
  c->local_sdp = answer.sdp;
  start_fax(*c, *image);
  // Encode with the scheme we answered, toward the offerer's datagram limit.
  const sdp::T38Params& ours = answer.ours;
  udptl::EncoderConfig ec;
  ec.mode = ours.ec == sdp::Ec::fec ? udptl::Mode::fec : ours.ec == sdp::Ec::none ? udptl::Mode::none : udptl::Mode::redundancy;
  ec.max_datagram = size_t(image->params.max_datagram.value_or(400));
  c->enc.emplace(ec);
  ua.answer(c->sip, c->local_sdp, now);
  read_media(c);
  endpoint_.kick();
}

void FaxCalls::finish_inbound(std::shared_ptr<Call> c) {
  if (c->reported || !c->job_id) return;
  c->reported = true;
  ReceivedFax r;
  r.job_id = c->job_id;
  if (c->fax) {
    if (!c->fax->finished()) c->fax->abort("The call ended before the fax was complete.");
    const auto& fr = c->fax->result();
    r.success = fr.success;
    r.pages = fr.pages;
    r.bad_rows = fr.bad_rows();
    r.remote_ident = fr.remote_ident;
    r.subaddress = fr.remote_subaddress;
    r.reason = fr.success ? "" : fr.reason;
    r.bit_rate = fr.bit_rate;
    r.ecm = fr.ecm;
    c->fax.reset();  // spandsp closes the file (or deletes it when no page came)
  } else {
    r.reason = "The call ended before the fax started.";
  }
  r.seconds = int(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - c->started).count());
  if (c->trunk < opt_.trunks.size()) r.trunk = opt_.trunks[c->trunk].name;
  std::error_code ec;
  if (!c->rx_path.empty() && std::filesystem::exists(c->rx_path, ec)) r.path = c->rx_path;
  hooks_.received(r);  // which makes the file durable (sync_received) off this thread
}

}  // namespace gateway
