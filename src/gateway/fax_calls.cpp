// fax_calls.cpp — fax call control: outbound and inbound fax calls over SIP (see fax_calls.hpp).
#include "gateway/fax_calls.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
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

udptl::Mode udptl_mode(sdp::Ec ec) {
  return ec == sdp::Ec::fec ? udptl::Mode::fec : ec == sdp::Ec::none ? udptl::Mode::none : udptl::Mode::redundancy;
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
  explicit Call(asio::io_context& io) : timer(io) {}
  sip::CallId sip = 0;
  bool outgoing = true;
  size_t trunk = 0;
  bool channel = false;            // holds a channel of `trunk` (channel_ledger.hpp)
  std::vector<size_t> candidates;  // outbound: trunks still to try, in order
  OutboundFax job;
  std::function<void(CallResult)> done;
  std::shared_ptr<MediaSession> media;
  bool fax_running = false;                // a terminal was started and has not reported its end
  std::optional<fax::Result> fax_result;   // once it ended
  asio::steady_timer timer;  // outbound: the ring timeout; inbound: the hang-up grace
  bool ring_timed_out = false;
  bool reported = false;   // outbound result given / inbound reception handed over
  bool ended = false;      // the SIP call is over
  bool cancelled = false;  // outbound: the user cancelled the job: hang up, no failover
  sip::EndCause end_cause = sip::EndCause::local_bye;
  Clock::time_point started = Clock::now();
  std::string local_sdp;
  // Inbound.
  int64_t job_id = 0;
  std::string rx_path;
  std::string caller;
};

FaxCalls::FaxCalls(asio::io_context& io, FaxCallsOptions opt, Hooks hooks)
    : io_(io),
      opt_(std::move(opt)),
      hooks_(std::move(hooks)),
      endpoint_(io, *this),
      ledger_([&] {
        std::vector<int> max;
        for (const auto& t : opt_.trunks) max.push_back(t.max_channels);
        return max;
      }()),
      ports_(opt_.media_port_min, opt_.media_port_max),
      media_thread_(io) {}

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
  media_thread_.start();
}

void FaxCalls::stop() {
  if (stopped_) return;
  stopped_ = true;
  media_thread_.stop();
  endpoint_.ua().unregister_all(sip::Clock::now());
  auto calls = calls_;
  for (auto& [id, c] : calls) {
    // The calls our stop cuts are recovered from the store at the next start (dispatcher.hpp):
    // no result is reported for them here.
    if (c->media) c->media->close();
    endpoint_.ua().hangup(id, sip::Clock::now());
    c->timer.cancel();
  }
  endpoint_.stop();
}

void FaxCalls::release_channel(Call& c) {
  if (!c.channel) return;
  c.channel = false;
  ledger_.release(c.trunk);
}

std::vector<TrunkRoom> FaxCalls::room() const {
  std::vector<TrunkRoom> out;
  for (size_t i = 0; i < opt_.trunks.size(); ++i) {
    const Trunk& t = opt_.trunks[i];
    out.push_back({t.prefixes, t.t38 == T38Policy::off ? 0 : ledger_.free(i)});
  }
  return out;
}

int FaxCalls::free_channels() const { return ledger_.free_total(); }

std::shared_ptr<FaxCalls::Call> FaxCalls::find(sip::CallId id) {
  auto it = calls_.find(id);
  return it == calls_.end() ? nullptr : it->second;
}

void FaxCalls::forget(const std::shared_ptr<Call>& c) {
  if (c->media) c->media->close();
  c->media.reset();
  c->timer.cancel();
  release_channel(*c);
  calls_.erase(c->sip);
}

bool FaxCalls::open_media(const std::shared_ptr<Call>& c) {
  if (c->media) c->media->close();
  c->media.reset();
  auto local = endpoint_.ua().local(sip::Transport::udp);
  std::string ip = local ? local->first : "127.0.0.1";
  std::weak_ptr<Call> weak = c;
  MediaEvents ev;
  ev.page = [this, weak](int pages) {
    asio::post(io_, [weak, pages] {
      auto c = weak.lock();
      if (c && c->outgoing && c->job.on_page) c->job.on_page(pages);
    });
  };
  ev.finished = [this, weak](const fax::Result& r, bool aborted) {
    asio::post(io_, [this, weak, r, aborted] {
      if (auto c = weak.lock()) on_fax_finished(c, r, aborted);
    });
  };
  c->media = MediaSession::open(media_thread_, ip, ports_, std::move(ev));
  return c->media != nullptr;
}

std::string FaxCalls::sdp_offer(const Call& c) const {
  sdp::T38Params p;
  p.max_buffer = 2000;
  p.max_datagram = 400;
  p.ec = opt_.trunks[c.trunk].ec == udptl::Mode::fec    ? sdp::Ec::fec
         : opt_.trunks[c.trunk].ec == udptl::Mode::none ? sdp::Ec::none
                                                        : sdp::Ec::redundancy;
  return fax_sdp::offer_t38({c.media->ip(), c.media->port(), 1}, c.media->port(), p);
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
    if (c->fax_running && c->media) c->media->abort("The job was cancelled during the call.");
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
    if (opt_.trunks[t].t38 != T38Policy::off && ledger_.try_acquire(t)) {
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
  c->channel = true;
  c->ended = false;  // a failover starts a new SIP call
  c->ring_timed_out = false;
  const Trunk& t = opt_.trunks[*chosen];
  if (!open_media(c)) {
    release_channel(*c);
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
  auto id = endpoint_.ua().invite(oc, sip::Clock::now());
  if (!id) {
    release_channel(*c);
    next_trunk_or_fail(c, Outcome::congestion, 503, "The INVITE could not be sent to trunk " + t.name + ".");
    return;
  }
  c->sip = *id;
  c->started = Clock::now();
  calls_[*id] = c;
  endpoint_.kick();
  c->timer.expires_after(std::chrono::seconds(t.ring_timeout_s));
  sip::CallId sid = *id;
  c->timer.async_wait([this, c, sid](std::error_code e) {
    if (e || c->sip != sid || c->fax_running || c->ended) return;
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
  if (c->reported || stopped_) return;
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

void FaxCalls::start_fax(Call& c, const fax_sdp::RemoteT38& remote, const sdp::T38Params& answered) {
  T38Start st;
  st.udptl.mode = udptl_mode(answered.ec);
  st.udptl.redundancy = 3;
  st.udptl.max_datagram = size_t(remote.params.max_datagram.value_or(400));
  std::error_code err;
  st.remote = udp::endpoint(asio::ip::make_address(remote.ip, err), remote.port);
  fax::Options& o = st.fax;
  o.calling = c.outgoing;
  o.transmit = c.outgoing;
  o.file = c.outgoing ? c.job.tiff : c.rx_path;
  if (c.outgoing) o.first_page = c.job.first_page;
  o.station_id = opt_.station_id;
  o.header = c.outgoing ? opt_.header : "";
  o.subaddress = c.outgoing ? c.job.subaddress.value_or("") : "";
  o.max_bit_rate = std::min(remote.params.max_bit_rate, 14400);
  st.t38.version = remote.params.version;
  st.t38.fill_bit_removal = remote.params.fill_bit_removal;
  st.t38.idle_timeout = opt_.idle_timeout;
  // FAXBRIDGE_T30_TRACE=1: spandsp's T.30/T.38 trace of every call on stderr, tagged by number.
  if (const char* t = std::getenv("FAXBRIDGE_T30_TRACE"); t && *t == '1') {
    o.trace_tag = c.outgoing ? "out " + c.job.number : "in " + std::to_string(c.job_id);
  }
  c.fax_running = true;
  c.started = Clock::now();
  c.media->start_t38(std::move(st));
}

void FaxCalls::on_answered(sip::CallId id, const sip::Message& answer) {
  auto c = find(id);
  if (!c) return;
  c->timer.cancel();
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
  // Send with the error correction the far end answered.
  start_fax(*c, *image, image->params);
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
    if (!ec && c->media) c->media->set_remote(udp::endpoint(addr, t38->port));
    return c->local_sdp;
  }
  return std::nullopt;  // back to audio, or nothing we can carry: 488
}

void FaxCalls::finish_outbound(std::shared_ptr<Call> c, CallResult r) {
  if (c->reported) return;
  c->reported = true;
  r.seconds = int(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - c->started).count());
  if (r.trunk.empty() && c->trunk < opt_.trunks.size()) r.trunk = opt_.trunks[c->trunk].name;
  if (c->fax_result) {
    r.bit_rate = c->fax_result->bit_rate;
    r.ecm = c->fax_result->ecm;
  }
  auto done = std::move(c->done);
  asio::post(io_, [done, r] { done(r); });
}

void FaxCalls::on_fax_finished(const std::shared_ptr<Call>& c, const fax::Result& fr, bool aborted) {
  if (!c->fax_running) return;
  c->fax_running = false;
  c->fax_result = fr;
  if (stopped_) return;
  if (c->outgoing) {
    CallResult r;
    r.trunk = opt_.trunks[c->trunk].name;
    r.pages_total = fr.pages_total;
    r.pages_sent = fr.pages;
    r.pages = fr.page;
    r.bad_rows = fr.bad_rows();
    r.remote_ident = fr.remote_ident;
    if (aborted) {  // the call ended under the fax (or the job was cancelled)
      r.outcome = fr.pages > 0 ? Outcome::partial : Outcome::t30_failure;
      r.reason = fr.reason;
    } else {
      r.outcome = fr.success ? Outcome::done : fr.pages > 0 ? Outcome::partial : Outcome::t30_failure;
      r.reason = fr.success ? "" : "T.30: " + fr.reason + ".";
    }
    finish_outbound(c, r);
    if (c->ended) {
      forget(c);
    } else {
      endpoint_.ua().hangup(c->sip, sip::Clock::now());
      endpoint_.kick();
    }
    return;
  }
  finish_inbound(c);
  if (c->ended) {
    forget(c);
    return;
  }
  // The receiver leaves the hang-up to the sender (whose T.30 may still be finishing), and only
  // ends a call the sender keeps open.
  sip::CallId sid = c->sip;
  c->timer.expires_after(kHangupGrace);
  c->timer.async_wait([this, c, sid](std::error_code e) {
    if (e || c->ended) return;
    endpoint_.ua().hangup(sid, sip::Clock::now());
    endpoint_.kick();
  });
}

void FaxCalls::on_ended(sip::CallId id, sip::EndCause cause) {
  auto c = find(id);
  if (!c) return;
  c->ended = true;
  c->end_cause = cause;
  release_channel(*c);
  if (c->fax_running) {
    // The fax ends under the call; its result (on_fax_finished) finishes the call.
    if (c->media) {
      c->media->abort(cause == sip::EndCause::remote_bye ? "The far end hung up before the fax was complete."
                                                         : "The call ended before the fax was complete.");
    }
    return;
  }
  if (!c->outgoing) {
    if (c->job_id) finish_inbound(c);
    forget(c);
    return;
  }
  if (!c->reported && !stopped_) {
    CallResult r;
    r.trunk = opt_.trunks[c->trunk].name;
    r.outcome = Outcome::t30_failure;
    r.reason = "The call ended before the fax started.";
    finish_outbound(c, r);
  }
  forget(c);
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
  std::string caller = e164::normalise(user_of(invite.from()), t.country_code, t.national_prefix)
                           .value_or(e164::unescape_user(user_of(invite.from())));
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
  std::string uri_user;
  if (auto u = sip::parse_uri(invite.uri)) uri_user = u->user;
  auto did = e164::normalise(uri_user.empty() ? user_of(invite.to()) : uri_user, t.country_code, t.national_prefix);
  if (!did) did = e164::normalise(user_of(invite.to()), t.country_code, t.national_prefix);
  if (!ledger_.try_acquire(*trunk)) {
    ua.reject(id, 486, "Busy Here: all channels in use", now);
    return;
  }
  if (!did) {
    ledger_.release(*trunk);
    ua.reject(id, 404, "Not Found: the called number is not a fax number", now);
    return;
  }
  auto c = std::make_shared<Call>(io_);
  c->sip = id;
  c->outgoing = false;
  c->trunk = *trunk;
  c->channel = true;
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
  if (!image || !open_media(c)) {
    ua.reject(c->sip, 503, "Service Unavailable: no free media port", now);
    finish_inbound(c);
    return;
  }
  auto answer = fax_sdp::answer_t38(*offer, *image, {c->media->ip(), c->media->port(), 1}, c->media->port(),
                                    sdp::T38Capabilities{});
  c->local_sdp = answer.sdp;
  // Encode with the scheme we answered, toward the offerer's datagram limit.
  start_fax(*c, *image, answer.ours);
  ua.answer(c->sip, c->local_sdp, now);
  endpoint_.kick();
}

void FaxCalls::finish_inbound(std::shared_ptr<Call> c) {
  if (c->reported || !c->job_id || stopped_) return;
  c->reported = true;
  ReceivedFax r;
  r.job_id = c->job_id;
  if (c->fax_result) {
    const auto& fr = *c->fax_result;
    r.success = fr.success;
    r.pages = fr.pages;
    r.bad_rows = fr.bad_rows();
    r.remote_ident = fr.remote_ident;
    r.subaddress = fr.remote_subaddress;
    r.reason = fr.success ? "" : fr.reason;
    r.bit_rate = fr.bit_rate;
    r.ecm = fr.ecm;
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
