// fax_calls.cpp — fax call control: outbound and inbound fax calls over SIP, on T.38 or G.711,
// with fax detection, the switch to T.38 and the fallback to audio (see fax_calls.hpp).
#include "gateway/fax_calls.hpp"

#include "core/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <random>

#include "address/e164.hpp"
#include "gateway/router.hpp"
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
    case Outcome::not_allowed: return "not allowed";
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

sdp::Ec sdp_ec(udptl::Mode m) {
  return m == udptl::Mode::fec ? sdp::Ec::fec : m == udptl::Mode::none ? sdp::Ec::none : sdp::Ec::redundancy;
}

std::optional<udp::endpoint> media_endpoint(const std::string& ip, uint16_t port) {
  std::error_code ec;
  auto addr = asio::ip::make_address(ip, ec);
  if (ec) return std::nullopt;
  return udp::endpoint(addr, port);
}

std::string_view policy_name(T38Policy p) { return p == T38Policy::only ? "only" : p == T38Policy::off ? "off" : "prefer"; }

// "SIP/2.0 200 OK" -> 200 (a NOTIFY's message/sipfrag), 0 when unreadable.
int sipfrag_status(const std::string& body) {
  if (!body.starts_with("SIP/2.0 ") || body.size() < 11) return 0;
  int code = 0;
  for (size_t i = 8; i < 11; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(body[i]))) return 0;
    code = code * 10 + (body[i] - '0');
  }
  return code;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find_first_of("\r\n")); }

template <class C>
void add_note(C& c, const std::string& text) {
  c.note += (c.note.empty() ? "" : "; ") + text;
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
  explicit Call(asio::io_context& io) : timer(io), detect_timer(io), t38_timer(io), limit_timer(io) {}
  sip::CallId sip = 0;
  std::string call_id;  // its SIP Call-ID, on every log line of it (core/log.hpp)
  bool outgoing = true;
  size_t trunk = 0;
  bool channel = false;            // holds a channel of `trunk` (channel_ledger.hpp)
  std::vector<size_t> candidates;  // outbound: trunks still to try, in order
  OutboundFax job;
  std::function<void(CallResult)> done;
  std::shared_ptr<MediaSession> media;
  // What the media is now and has been.
  enum class Now { none, audio, t38 } now = Now::none;
  uint16_t local_port = 0;  // our port of the media now
  std::string codec;        // "pcmu" / "pcma" once the call carried audio
  bool t38_used = false;    // the call carried T.38 at some point
  fax_sdp::RemoteAudio remote_audio;
  fax_sdp::RemoteT38 remote_t38;
  sdp::T38Params t38_ours;
  // The switch to T.38 and back.
  bool t38_tried = false;           // our one attempt (or the peer's accepted re-INVITE)
  bool t38_offer_pending = false;   // our T.38 re-INVITE awaits its answer
  bool t38_after_ack = false;       // offer T.38 once the dialog is confirmed
  bool confirmed = false;           // inbound: our 200 was ACKed
  bool audio_back_pending = false;  // our re-INVITE back to audio awaits its answer
  bool fell_back = false;           // the one way back to audio was taken
  uint16_t pending_port = 0;        // the port our pending re-INVITE offered (prepared)
  std::string pending_sdp;          // that offer
  bool t38_scheduled = false;       // the caller's delayed T.38 offer is armed
  int t38_retries = 0;              // attempts to send our T.38 offer that could not go yet
  std::optional<T38Memory::Entry> remembered;  // this destination refused T.38 before
  // The fax.
  bool recognised = false;  // the call is known to be a fax
  bool sign_noted = false;  // the first fax sign heard is in the note
  std::string detected_by;
  std::string note;
  bool fax_running = false;              // a terminal runs in `media`
  uint64_t fax_gen = 0;                  // the terminal now (a finished event of another is stale)
  bool fax_began = false;                // a terminal ever ran: `started` is the fax's start
  std::optional<FaxOutcome> fax_result;  // the last terminal's end
  int pages_in = 0;                      // inbound: pages received so far
  // Shared voice/fax number.
  std::optional<std::string> voice_uri;
  bool transferring = false;
  bool refer_accepted = false;  // the REFER got its 2xx
  // SIP.
  uint64_t sdp_session = 0;
  uint64_t sdp_version = 0;
  std::string local_sdp;
  asio::steady_timer timer;         // outbound ring timeout; inbound hang-up grace; REFER wait
  asio::steady_timer detect_timer;  // detect_s on a shared number
  asio::steady_timer t38_timer;     // the caller's T.38 offer delay; an offer that must wait
  asio::steady_timer limit_timer;   // inbound: max_inbound_call
  bool cut = false;                 // inbound: hung up by us at a cap
  bool ring_timed_out = false;
  bool reported = false;   // outbound result given / inbound reception handed over
  bool ended = false;      // the SIP call is over
  bool cancelled = false;  // outbound: the user cancelled the job: hang up, no failover
  Clock::time_point started = Clock::now();
  // Redirects (3xx): the targets still to try, how many were tried, the one now.
  std::vector<std::string> targets;
  int redirects = 0;
  std::string target_uri;
  // RFC 3263 §4.3: the trunk's addresses in this call's order, and the one now.
  std::vector<sip::Address> hops;
  size_t hop = 0;
  bool awaiting_answer = false;  // inbound delayed offer: our 200 offered, the ACK answers
  // Inbound.
  int64_t job_id = 0;
  std::string rx_path;
  std::string caller;

  CallMedia call_media() const {
    CallMedia m;
    m.media = codec.empty() ? (t38_used ? "t38" : "") : codec + (t38_used ? "+t38" : "");
    m.detected_by = detected_by;
    m.note = note;
    if (fax_result) {
      m.restarts = fax_result->result.restarts;
      m.stats = fax_result->media_stats;
    }
    return m;
  }
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
      media_(opt_.media_threads),
      memory_(opt_.t38_memory_s, opt_.t38_memory_digits),
      addresses_(
          io_,
          [&] {
            std::vector<TrunkAddresses::Entry> e;
            for (const auto& t : opt_.trunks) e.push_back({t.name, t.uri, t.location});
            return e;
          }(),
          [this](size_t i) { addresses_changed(i); },
          [](const std::string& line) { fb::log(line); }),
      registered_(opt_.trunks.size(), false),
      reg_hop_(opt_.trunks.size()) {
  for (size_t i = 0; i < opt_.trunks.size(); ++i) {
    pace_.push_back(std::make_unique<Pace>(io_));
    health_.push_back(std::make_unique<Health>(io_));
  }
}

bool FaxCalls::trusted(const std::string& ip) const {
  return addresses_.contains(ip) ||
         std::any_of(opt_.trunks.begin(), opt_.trunks.end(), [&](const Trunk& t) { return t.accepts && t.accepts(ip); });
}

// A trunk's new addresses: TLS to them checks the uri's host (RFC 5922 §4), and a registration
// that waited for an address starts.
void FaxCalls::addresses_changed(size_t i) {
  const Trunk& t = opt_.trunks[i];
  for (const auto& target : addresses_.targets(i)) {
    if (!t.host.empty() && t.host != target.address.ip && t.host.front() != '[') endpoint_.set_tls_name(target.address.ip, t.host);
  }
  update_health(i);
  if (stopped_) return;
  register_trunk(i);
  // A registration whose registrar address is gone moves to the trunk's first one.
  if (registered_[i] && reg_hop_[i] && !addresses_.has(i, *reg_hop_[i])) {
    if (auto hop = addresses_.first(i)) move_registration(i, *hop);
  }
}

std::string FaxCalls::aor_user(const Trunk& t) const {
  return t.credentials ? t.credentials->username : t.caller_id.empty() ? opt_.station_id : t.caller_id;
}

void FaxCalls::move_registration(size_t i, const sip::Address& hop) {
  const Trunk& t = opt_.trunks[i];
  reg_hop_[i] = hop;
  endpoint_.ua().move_registration("sip:" + t.host_port, aor_user(t), hop);
  fb::log("trunk " + t.name + ": registering at " + hop.to_string() + " from now on");
}

void FaxCalls::register_trunk(size_t i) {
  const Trunk& t = opt_.trunks[i];
  if (!t.register_ || registered_[i]) return;
  auto hop = addresses_.first(i);
  if (!hop) return;  // when the trunk's name resolves (addresses_changed)
  registered_[i] = true;
  reg_hop_[i] = *hop;
  sip::Registration r;
  r.registrar_uri = "sip:" + t.host_port;
  r.next_hop = *hop;
  r.aor_user = aor_user(t);
  r.credentials = t.credentials;
  endpoint_.ua().register_at(r, sip::Clock::now());
  endpoint_.kick();
}

// A trunk's OPTIONS pings, every options_interval_s, to each of its addresses: any answer means
// that address is up, silence down; the trunk is down when every address is (RFC 3263 failover
// meanwhile tries the silent ones last).
void FaxCalls::ping(size_t i) {
  const Trunk& t = opt_.trunks[i];
  if (stopped_ || t.options_interval_s <= 0 || t.removed) return;
  Health& h = *health_[i];
  for (const auto& target : addresses_.targets(i)) {
    const sip::Address hop = target.address;
    if (!h.pending.insert(hop).second) continue;  // its last ping is still out
    endpoint_.ua().ping("sip:" + t.host_port, hop, sip::Clock::now(), [this, i, hop](int status) {
      if (stopped_) return;
      Health& h = *health_[i];
      h.pending.erase(hop);
      const bool silent = status == 408 || status == 503;
      addresses_.set_down(i, hop, silent);
      if (silent) h.last_silence = status == 408 ? "no answer to OPTIONS" : "OPTIONS could not be sent (connection failed)";
      update_health(i);
    });
  }
  endpoint_.kick();
  h.timer.expires_after(std::chrono::seconds(t.options_interval_s));
  h.timer.async_wait([this, i](std::error_code e) {
    if (!e) ping(i);
  });
}

void FaxCalls::update_health(size_t i) {
  Health& h = *health_[i];
  const Trunk& t = opt_.trunks[i];
  const bool down = addresses_.all_down(i);
  if (down && !h.down) {
    h.down = true;
    const size_t n = addresses_.targets(i).size();
    h.reason = n > 1 ? h.last_silence + " from any of its " + std::to_string(n) + " addresses" : h.last_silence;
    fb::log(fb::LogLevel::warn, "trunk", "trunk " + t.name + " is down: " + h.reason);
  } else if (!down && h.down) {
    h.down = false;
    h.reason.clear();
    fb::log("trunk " + t.name + " is up again (OPTIONS answered)");
  }
}

FaxCalls::~FaxCalls() { stop(); }

int64_t FaxCalls::unix_now() const { return int64_t(std::time(nullptr)); }

void FaxCalls::start(const std::vector<sip::ListenSpec>& listen, const sip::TlsFiles& tls) {
  sip::FrontDoorConfig door;
  door.trusted = [this](const std::string& ip) { return trusted(ip); };
  door.unknown = opt_.unknown_sources;
  door.log = [](const std::string& line) { fb::log(line); };
  endpoint_.ua().set_front_door(std::move(door));
  if (!opt_.advertise.empty()) endpoint_.ua().set_advertise(opt_.advertise);
  for (size_t i = 0; i < opt_.trunks.size(); ++i) {
    const Trunk& t = opt_.trunks[i];
    for (const auto& target : addresses_.targets(i)) {
      if (!t.host.empty() && t.host != target.address.ip && t.host.front() != '[') endpoint_.set_tls_name(target.address.ip, t.host);
    }
  }
  endpoint_.start(listen, tls);
  for (size_t i = 0; i < opt_.trunks.size(); ++i) register_trunk(i);
  endpoint_.kick();
  addresses_.start();
  pages_.on_appended = hooks_.page_appended;
  pages_.start();
  media_.start();
  for (size_t i = 0; i < opt_.trunks.size(); ++i) ping(i);
}

void FaxCalls::stop() {
  if (stopped_) return;
  stopped_ = true;
  endpoint_.ua().unregister_all(sip::Clock::now());
  for (auto& p : pace_) {
    // Calls still waiting for their turn were never placed: the store still says sending, and the
    // next start dials them again (dispatcher.hpp), as for the calls cut below.
    p->timer.cancel();
    for (auto& c : p->waiting) {
      if (c->media) c->media->close();
      c->media.reset();
      release_channel(*c);
    }
    p->waiting.clear();
  }
  for (auto& h : health_) h->timer.cancel();
  addresses_.stop();
  auto calls = calls_;
  for (auto& [id, c] : calls) {
    // The calls our stop cuts are recovered from the store at the next start (dispatcher.hpp):
    // no result is reported for them here.
    if (c->media) c->media->close();
    endpoint_.ua().hangup(id, sip::Clock::now());
    c->timer.cancel();
    c->detect_timer.cancel();
    c->t38_timer.cancel();
  }
  endpoint_.stop();
  media_.stop();
  pages_.stop();
}

void FaxCalls::release_channel(Call& c) {
  if (!c.channel) return;
  c.channel = false;
  ledger_.release(c.trunk);
}

std::vector<TrunkRoom> FaxCalls::room() const {
  std::vector<TrunkRoom> out;
  for (size_t i = 0; i < opt_.trunks.size(); ++i) out.push_back({opt_.trunks[i].prefixes, ledger_.free(i)});
  return out;
}

int FaxCalls::free_channels() const { return ledger_.free_total(); }

std::vector<FaxCalls::Channels> FaxCalls::channels() const {
  std::vector<Channels> out;
  for (size_t i = 0; i < opt_.trunks.size(); ++i) {
    // (A removed trunk takes no new call here, but its live calls still hold their channels.)
    const int max = opt_.trunks[i].removed ? opt_.trunks[i].max_channels : ledger_.max(i);
    out.push_back({opt_.trunks[i].name, max, ledger_.in_use(i), ledger_.granted(i), opt_.trunks[i].removed});
  }
  return out;
}

std::vector<T38Memory::Entry> FaxCalls::t38_memory() const { return memory_.entries(unix_now()); }

std::vector<FaxCalls::TrunkState> FaxCalls::trunks() const {
  std::vector<TrunkState> out;
  for (size_t i = 0; i < opt_.trunks.size(); ++i) {
    const Trunk& t = opt_.trunks[i];
    if (t.removed && ledger_.in_use(i) == 0) continue;  // gone, its last call over
    TrunkState s{t.name, std::string(policy_name(t.t38)), ledger_.in_use(i), t.max_channels,
                 health_[i]->down ? "down" : "up", health_[i]->reason, addresses_.describe(i), addresses_.error(i), {}};
    s.channels_granted = ledger_.granted(i);
    for (const auto& target : addresses_.targets(i)) {
      if (addresses_.is_down(i, target.address)) s.down_addresses.push_back(target.address.to_string());
    }
    if (s.addresses.empty()) {
      s.state = "down";
      s.state_reason = "no address: " + addresses_.error(i);
    }
    if (t.removed) {
      s.state = "down";
      s.state_reason = "removed from the configuration (its live calls go on)";
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::shared_ptr<FaxCalls::Call> FaxCalls::find(sip::CallId id) {
  auto it = calls_.find(id);
  return it == calls_.end() ? nullptr : it->second;
}

void FaxCalls::forget(const std::shared_ptr<Call>& c) {
  if (c->media) c->media->close();
  c->media.reset();
  c->timer.cancel();
  c->detect_timer.cancel();
  c->t38_timer.cancel();
  release_channel(*c);
  calls_.erase(c->sip);
}

fax_sdp::Origin FaxCalls::origin(Call& c, uint16_t port) {
  if (!c.sdp_session) c.sdp_session = port;
  return {c.media->ip(), c.sdp_session, ++c.sdp_version};  // RFC 3264 §8: every new description
}

bool FaxCalls::open_media(const std::shared_ptr<Call>& c, const std::string& peer_ip) {
  if (c->media) c->media->close();
  c->media.reset();
  auto local = endpoint_.ua().local(sip::Transport::udp);
  std::string ip = local ? local->first : "127.0.0.1";
  // The address our SDP names: advertise; else the bound one, or toward the peer on a wildcard.
  std::string sdp_ip = opt_.advertise_ip;
  if (sdp_ip.empty() && (ip == "0.0.0.0" || ip == "::")) sdp_ip = endpoint_.source_for(peer_ip);
  std::weak_ptr<Call> weak = c;
  MediaEvents ev;
  ev.page = [this, weak](int pages) {
    asio::post(io_, [this, weak, pages] {
      auto c = weak.lock();
      if (!c) return;
      if (!c->outgoing) c->pages_in = pages;
      // Past the cap, not at it: a fax of exactly max_inbound_pages pages is whole.
      if (!c->outgoing && opt_.max_inbound_pages > 0 && pages > opt_.max_inbound_pages) {
        cut_inbound(c, "The call was cut after " + std::to_string(pages) + " pages, more than [fax] max_inbound_pages (" +
                           std::to_string(opt_.max_inbound_pages) + ").");
      }
      if (c->outgoing && c->job.on_page) c->job.on_page(pages);
    });
  };
  ev.finished = [this, weak](const FaxOutcome& out) {
    asio::post(io_, [this, weak, out] {
      if (auto c = weak.lock()) on_fax_finished(c, out);
    });
  };
  ev.detected = [this, weak](const Detection& d) {
    asio::post(io_, [this, weak, d] {
      if (auto c = weak.lock()) on_detected(c, d);
    });
  };
  c->media = MediaSession::open(media_.pick(), ip, ports_, std::move(ev), &pages_, sdp_ip, opt_.trunks[c->trunk].latch_media);
  if (c->media) c->local_port = c->media->port();
  return c->media != nullptr;
}

std::string FaxCalls::sdp_offer(Call& c) {
  const Trunk& t = opt_.trunks[c.trunk];
  if (t.t38 == T38Policy::only) {
    sdp::T38Params p;
    p.max_buffer = 2000;
    p.max_datagram = 400;
    p.ec = sdp_ec(t.ec);
    return fax_sdp::offer_t38(origin(c, c.local_port), c.local_port, p);
  }
  fax_sdp::AudioOffer a;
  a.codecs = t.codecs;
  return fax_sdp::offer_audio(origin(c, c.local_port), c.local_port, a);
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
  for (auto& p : pace_) {
    for (const auto& w : p->waiting) {
      if (w->job.job_id != job_id || w->cancelled) continue;
      auto c = w;  // drop_waiting takes it out of the queue `w` lives in
      c->cancelled = true;
      drop_waiting(c, "The job was cancelled before its call was placed.");
      return true;
    }
  }
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
  std::string down;  // trunks skipped as down
  while (!c->candidates.empty()) {
    size_t t = c->candidates.front();
    c->candidates.erase(c->candidates.begin());
    if (opt_.trunks[t].removed) continue;  // gone from the configuration since the call began
    if (health_[t]->down) {
      down += (down.empty() ? "" : ", ") + opt_.trunks[t].name + " (" + health_[t]->reason + ")";
      continue;
    }
    if (addresses_.targets(t).empty()) {
      down += (down.empty() ? "" : ", ") + opt_.trunks[t].name + " (no address: " + addresses_.error(t) + ")";
      continue;
    }
    if (ledger_.try_acquire(t)) {
      chosen = t;
      break;
    }
  }
  if (!chosen) {
    CallResult r;
    r.outcome = Outcome::congestion;
    r.reason = down.empty() ? "No trunk for " + c->job.number + " has a free channel."
                            : "No trunk for " + c->job.number + " is up with a free channel; down: " + down + ".";
    finish_outbound(c, r);
    return;
  }
  c->targets.clear();
  c->redirects = 0;
  c->target_uri.clear();
  c->trunk = *chosen;
  c->hops = addresses_.order(*chosen);
  c->hop = 0;
  c->channel = true;
  c->ended = false;  // a failover starts a new SIP call
  c->ring_timed_out = false;
  c->sdp_session = 0;
  c->sdp_version = 0;
  const Trunk& t = opt_.trunks[*chosen];
  c->remembered.reset();
  c->note.clear();
  if (t.t38 == T38Policy::prefer) {
    c->remembered = memory_.recall(t.name, c->job.number, unix_now());
    if (c->remembered) {
      c->note = "T.38 not tried: " + c->remembered->reason + " on trunk " + t.name + " since " +
                queue::format_utc(c->remembered->since) + " for " + c->remembered->prefix;
    }
  }
  if (t.calls_per_second > 0) {
    pace_[*chosen]->waiting.push_back(c);
    run_pace(*chosen);
    return;
  }
  invite(c);
}

// The waiting calls of a trunk go out one by one, 1/calls_per_second apart (measured from the
// INVITE sent, so a late timer never lets two go closer together).
void FaxCalls::run_pace(size_t trunk) {
  Pace& p = *pace_[trunk];
  // 0 (no pacing, as a reload may set while calls wait): what waits goes at once.
  const int cps = opt_.trunks[trunk].calls_per_second;
  const auto spacing = std::chrono::microseconds(cps > 0 ? 1000000 / cps : 0);
  while (!p.waiting.empty() && !stopped_) {
    const auto now = Clock::now();
    if (now < p.next) {
      if (p.armed) return;
      p.armed = true;
      p.timer.expires_at(p.next);
      p.timer.async_wait([this, trunk](std::error_code e) {
        if (e) return;  // our stop (or our end): `this` may be gone
        pace_[trunk]->armed = false;
        run_pace(trunk);
      });
      return;
    }
    auto c = p.waiting.front();
    p.waiting.pop_front();
    p.next = now + spacing;
    invite(c);
  }
}

// A call that never left the queue: its channel and media go, and the job hears why.
void FaxCalls::drop_waiting(std::shared_ptr<Call> c, const std::string& why) {
  auto& w = pace_[c->trunk]->waiting;
  w.erase(std::remove(w.begin(), w.end(), c), w.end());
  if (c->media) c->media->close();
  c->media.reset();
  release_channel(*c);
  CallResult r;
  r.outcome = Outcome::t30_failure;
  r.reason = why;
  finish_outbound(c, r);
}

void FaxCalls::invite(std::shared_ptr<Call> c) {
  const Trunk& t = opt_.trunks[c->trunk];
  // The destination: the number at the trunk, or a 3xx's target (reached via the trunk's proxy
  // unless the target names a numeric address of its own).
  std::string request_uri = c->target_uri.empty() ? "sip:" + c->job.number + "@" + t.host_port : c->target_uri;
  if (c->hops.empty()) c->hops = addresses_.order(c->trunk);
  if (c->hops.empty()) {
    release_channel(*c);
    next_trunk_or_fail(c, Outcome::congestion, 503, "Trunk " + t.name + " has no address: " + addresses_.error(c->trunk));
    return;
  }
  sip::Address hop = c->hops[std::min(c->hop, c->hops.size() - 1)];
  if (!c->target_uri.empty()) {
    if (auto u = sip::parse_uri(c->target_uri)) {
      std::string h = u->host;
      if (h.size() > 2 && h.front() == '[') h = h.substr(1, h.size() - 2);
      std::error_code ec;
      asio::ip::make_address(h, ec);
      if (!ec) {
        hop.ip = h;
        hop.port = uint16_t(u->port ? u->port : (hop.transport == sip::Transport::tls ? 5061 : 5060));
      }
    }
  }
  // Media ports are taken only now: a call waiting for its turn holds its channel, not a port.
  if (!open_media(c, hop.ip)) {
    release_channel(*c);
    CallResult r;
    r.outcome = Outcome::congestion;
    r.reason = "No free media port in " + std::to_string(opt_.media_port_min) + "-" + std::to_string(opt_.media_port_max) + ".";
    finish_outbound(c, r);
    return;
  }
  sip::OutgoingCall oc;
  oc.request_uri = request_uri;
  oc.to_uri = "sip:" + c->job.number + "@" + t.host_port;
  oc.next_hop = hop;
  oc.from_user = t.caller_id.empty() ? opt_.station_id : t.caller_id;
  oc.sdp = sdp_offer(*c);
  oc.credentials = t.credentials;
  if (!t.caller_id.empty()) {
    // RFC 3325: the caller id the carrier bills and shows, asserted to it (a trusted peer).
    oc.extra_headers.push_back({"P-Asserted-Identity", "<sip:" + t.caller_id + "@" + t.host_port + ">"});
  }
  c->local_sdp = oc.sdp;
  auto id = endpoint_.ua().invite(oc, sip::Clock::now());
  if (!id) {
    if (c->media) c->media->close();
    c->media.reset();
    release_channel(*c);
    if (c->target_uri.empty() && next_address(c, "the INVITE could not be sent to " + hop.to_string())) return;
    next_trunk_or_fail(c, Outcome::congestion, 503, "The INVITE could not be sent to trunk " + t.name + ".");
    return;
  }
  c->sip = *id;
  c->started = Clock::now();
  calls_[*id] = c;
  if (const sip::Message* m = endpoint_.ua().initial_invite(*id)) c->call_id = m->get("Call-ID").value_or("");
  fb::log(fb::LogLevel::info, "call",
          "job " + std::to_string(c->job.job_id) + ": dialling " + c->job.number + " on trunk " + t.name + " (" +
              hop.to_string() + ")",
          c->job.job_id, c->call_id);
  endpoint_.kick();
  c->timer.expires_after(std::chrono::seconds(t.ring_timeout_s));
  sip::CallId sid = *id;
  c->timer.async_wait([this, c, sid](std::error_code e) {
    if (e || c->sip != sid || c->now != Call::Now::none || c->ended) return;
    c->ring_timed_out = true;
    endpoint_.ua().hangup(sid, sip::Clock::now());
    endpoint_.kick();
  });
}

void FaxCalls::on_registration(const std::string& aor, int status, const std::string& reason, int expires) {
  if (status >= 200 && status < 300) {
    fb::log("registered " + aor + " for " + std::to_string(expires) + " s");
  } else {
    fb::log(fb::LogLevel::warn, "registration", "registration of " + aor + " failed: " + std::to_string(status) + " " + reason + " (trying again in " +
            std::to_string(sip::kRegisterRetry.count()) + " s)");
    // RFC 3263 §4.3: a registrar address that did not answer: the next one, at the next try.
    if (status == 408 || status == 503) {
      for (size_t i = 0; i < opt_.trunks.size(); ++i) {
        const Trunk& t = opt_.trunks[i];
        if (!t.register_ || !registered_[i] || !reg_hop_[i] || aor_user(t) != aor) continue;
        auto next = addresses_.after(i, *reg_hop_[i]);
        if (next && *next != *reg_hop_[i]) move_registration(i, *next);
        break;
      }
    }
  }
}

void FaxCalls::on_failed(sip::CallId id, int status, const std::string& reason) {
  auto c = find(id);
  if (!c) return;
  std::vector<std::string> targets;
  if (status >= 300 && status < 400) targets = endpoint_.ua().redirect_targets(id);
  forget(c);
  c->ended = true;
  if (c->reported || stopped_) return;
  if (!c->cancelled && !c->ring_timed_out) {
    // RFC 3261 §8.1.3.4: a redirect's targets are tried in order, on the same trunk.
    for (auto& tg : targets) {
      if (std::find(c->targets.begin(), c->targets.end(), tg) == c->targets.end()) c->targets.push_back(tg);
    }
    if (!c->targets.empty() && c->redirects < kMaxRedirects && redirect(c)) return;
    // RFC 3263 §4.3: no response, a failed connection or a 503: the trunk's next address.
    const bool unreachable = (status == 408 && reason.rfind("no response", 0) == 0) || status == 503;
    if (unreachable && c->target_uri.empty() && c->hop < c->hops.size() &&
        next_address(c, c->hops[c->hop].to_string() + " answered " + std::to_string(status) + " " + reason)) {
      return;
    }
  }
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

// The trunk's next address, as a new SIP call of the same job on the same trunk (its channel
// again); false when there is none. Like a redirect it is not paced by calls_per_second: the job
// had its turn, and the address it replaces never took the call.
bool FaxCalls::next_address(const std::shared_ptr<Call>& c, const std::string& why) {
  if (c->hop + 1 >= c->hops.size() || c->cancelled || stopped_) return false;
  if (!ledger_.try_acquire(c->trunk)) return false;
  c->channel = true;
  c->ended = false;
  c->sdp_session = 0;
  c->sdp_version = 0;
  ++c->hop;
  add_note(*c, why + "; next address " + c->hops[c->hop].to_string());
  invite(c);
  return true;
}

// The next 3xx target, as a new SIP call of the same job on the same trunk (its channel again).
bool FaxCalls::redirect(const std::shared_ptr<Call>& c) {
  if (!ledger_.try_acquire(c->trunk)) return false;
  c->channel = true;
  c->ended = false;
  c->sdp_session = 0;
  c->sdp_version = 0;
  c->target_uri = c->targets.front();
  c->targets.erase(c->targets.begin());
  ++c->redirects;
  add_note(*c, "redirected to " + c->target_uri);
  invite(c);
  return true;
}

fax::Options FaxCalls::fax_options(const Call& c) const {
  fax::Options o;
  o.calling = c.outgoing;
  o.transmit = c.outgoing;
  o.file = c.outgoing ? c.job.tiff : c.rx_path;
  if (c.outgoing) o.first_page = c.job.first_page;
  o.station_id = opt_.station_id;
  o.header = c.outgoing ? opt_.header : "";
  o.subaddress = c.outgoing ? c.job.subaddress.value_or("") : "";
  // [log] t30_trace (or FAXBRIDGE_T30_TRACE=1): spandsp's T.30 trace of every call on stderr,
  // tagged by number or job.
  if (const char* t = std::getenv("FAXBRIDGE_T30_TRACE"); opt_.t30_trace || (t && *t == '1')) {
    o.trace_tag = "job " + std::to_string(c.outgoing ? c.job.job_id : c.job_id) + " call=" + c.call_id;
  }
  return o;
}

void FaxCalls::start_t38(Call& c, const fax_sdp::RemoteT38& remote, const sdp::T38Params& agreed, uint16_t port) {
  auto ep = media_endpoint(remote.ip, remote.port);
  T38Start st;
  st.port = port;
  st.generation = ++c.fax_gen;
  st.udptl.mode = udptl_mode(agreed.ec);
  st.udptl.redundancy = 3;
  // What the peer receives: its SDP's T38FaxMaxDatagram, unless the trunk knows better.
  const int trunk_max = opt_.trunks[c.trunk].t38_max_datagram;
  st.udptl.max_datagram = size_t(trunk_max > 0 ? trunk_max : remote.params.max_datagram.value_or(400));
  if (ep) st.remote = *ep;
  st.fax = fax_options(c);
  // The terminal runs with what was agreed (the answer), not what was offered: T.38 version 0
  // and >= 1 encode some fields differently (../shared/specs/t38-sip.md).
  st.fax.max_bit_rate = std::min(agreed.max_bit_rate, 14400);
  st.t38.version = std::min(agreed.version, sdp::T38Capabilities{}.max_version);  // never above what we offered
  st.t38.fill_bit_removal = agreed.fill_bit_removal;
  st.t38.idle_timeout = opt_.idle_timeout;
  c.now = Call::Now::t38;
  if (port) c.local_port = port;
  c.t38_used = true;
  c.remote_t38 = remote;
  c.t38_ours = agreed;
  c.recognised = true;
  begin_fax(c);
  c.media->start_t38(std::move(st));
}

// Would a fax sign heard now still change anything: make the call a fax, or ask for T.38?
bool FaxCalls::wants_signs(const Call& c) const {
  const T38Policy p = opt_.trunks[c.trunk].t38;
  return (c.voice_uri && !c.recognised) || (p != T38Policy::off && !c.t38_tried && !c.remembered && !c.t38_scheduled);
}

void FaxCalls::begin_fax(Call& c) {
  if (!c.fax_began) {
    c.fax_began = true;
    c.started = Clock::now();  // the call's duration counts from its first terminal
  }
  c.fax_running = true;
}

audio::StreamConfig FaxCalls::stream_config(const Call& c, const fax_sdp::RemoteAudio& remote) const {
  static std::mt19937 rng{std::random_device{}()};
  audio::StreamConfig cfg;
  cfg.law = remote.codec == fax_sdp::Codec::pcmu ? g711::Law::ulaw : g711::Law::alaw;
  cfg.payload_type = remote.payload_type;
  cfg.event_pt = remote.event_pt;
  cfg.red_pt = remote.red_pt;
  cfg.seed = uint32_t(rng());
  cfg.cname = "faxbridge@" + c.media->ip();
  return cfg;
}

void FaxCalls::start_audio(Call& c, const fax_sdp::RemoteAudio& remote, bool with_fax, uint16_t port) {
  AudioStart a;
  a.port = port;
  a.stream = stream_config(c, remote);
  if (auto ep = media_endpoint(remote.ip, remote.port)) a.remote = *ep;
  a.send = remote.receives();
  // Listening costs two tone detectors a call: until the first fax sign is noted, then only while
  // one would still change something (on_detected turns them off).
  a.detect = !c.sign_noted || wants_signs(c);
  a.idle_timeout = opt_.idle_timeout;
  if (with_fax) {
    a.fax = fax_options(c);
    a.generation = ++c.fax_gen;
  }
  c.now = Call::Now::audio;
  if (port) c.local_port = port;
  c.codec = std::string(fax_sdp::name(remote.codec));
  c.remote_audio = remote;
  if (with_fax) begin_fax(c);
  c.media->start_audio(std::move(a));
}

void FaxCalls::on_answered(sip::CallId id, const sip::Message& answer) {
  auto c = find(id);
  if (!c) return;
  c->timer.cancel();
  const Trunk& t = opt_.trunks[c->trunk];
  auto s = sdp::parse(answer.body);
  std::optional<fax_sdp::RemoteT38> image = s && t.t38 == T38Policy::only ? fax_sdp::find_t38(*s) : std::nullopt;
  std::optional<fax_sdp::RemoteAudio> audio = s && t.t38 != T38Policy::only ? fax_sdp::find_audio(*s, t.codecs) : std::nullopt;
  if (image) {
    c->detected_by = "offer";
    start_t38(*c, *image, image->params, 0);  // with what the far end answered
    return;
  }
  if (audio) {
    c->recognised = true;
    start_audio(*c, *audio, true, 0);  // a calling fax: CNG, then T.30 on audio
    return;
  }
  c->reported = true;
  endpoint_.ua().hangup(id, sip::Clock::now());
  endpoint_.kick();
  CallResult r;
  r.outcome = Outcome::t38_refused;
  r.sip_status = 200;
  r.trunk = t.name;
  r.reason = !s ? "The far end's SDP answer is malformed: " + s.error().reason + "."
             : t.t38 == T38Policy::only ? "The far end answered without a T.38 stream."
                                        : "The far end answered without a PCMU or PCMA stream.";
  c->done(r);
}

// A fax sign: the call is a fax (on a shared number it was not known yet), and T.38 may be tried.
void FaxCalls::on_detected(const std::shared_ptr<Call>& c, const Detection& d) {
  if (c->ended || c->transferring || c->now != Call::Now::audio) return;
  std::string by = d.by == Detection::By::rfc4733 ? "rfc4733" : "tone";
  const std::string heard = (d.by == Detection::By::rfc4733 ? "an RFC 4733 " + d.what + " event" : d.what) + " after " +
                            std::to_string(d.after_ms) + " ms";
  if (!c->recognised) {
    fax_recognised(c, by, heard);
  } else if (c->detected_by.empty()) {
    c->detected_by = by;
    add_note(*c, "fax recognised by " + heard);
  } else if (!c->sign_noted) {
    add_note(*c, heard.substr(0, heard.find(" after")) + " heard" + heard.substr(heard.find(" after")));
  }
  c->sign_noted = true;
  if (!wants_signs(*c)) c->media->set_detect(false);
  const Trunk& t = opt_.trunks[c->trunk];
  if (t.t38 == T38Policy::off || c->t38_tried || c->remembered || c->t38_scheduled) return;
  if (c->outgoing) {
    // The answering side heard our CNG long ago and usually asks first.
    c->t38_scheduled = true;
    std::weak_ptr<Call> weak = c;
    c->t38_timer.expires_after(kCallerReinviteDelay);
    c->t38_timer.async_wait([this, weak](std::error_code e) {
      if (auto c = weak.lock(); c && !e) offer_t38(c);
    });
    return;
  }
  offer_t38(c);
}

// An audio call to a shared number showed a fax sign: from now on it is a fax.
void FaxCalls::fax_recognised(const std::shared_ptr<Call>& c, const std::string& by, const std::string& what) {
  c->recognised = true;
  c->detected_by = by;
  c->detect_timer.cancel();
  if (!what.empty()) add_note(*c, "fax recognised by " + what);
  // Answered as a fax machine answers (CED, then DIS); a trunk that wants T.38 only waits for it.
  if (c->now == Call::Now::audio && !c->fax_running && c->media && opt_.trunks[c->trunk].t38 != T38Policy::only) {
    begin_fax(*c);
    c->media->start_fax(fax_options(*c), ++c->fax_gen);
  }
}

void FaxCalls::offer_t38(const std::shared_ptr<Call>& c) {
  c->t38_scheduled = false;
  if (c->ended || c->now != Call::Now::audio || c->t38_tried || !c->media) return;
  const Trunk& t = opt_.trunks[c->trunk];
  if (t.t38 == T38Policy::off) return;
  if (!c->outgoing && !c->confirmed) {  // RFC 3261 §14.1: not before our 200 is ACKed
    c->t38_after_ack = true;
    return;
  }
  uint16_t port = c->media->prepare();
  if (!port) {
    add_note(*c, "T.38 not tried: no free media port");
    if (t.t38 == T38Policy::only) end_for_t38(c, "no free media port for T.38");
    return;
  }
  sdp::T38Params p;
  p.max_buffer = 2000;
  p.max_datagram = 400;
  p.ec = sdp_ec(t.ec);
  std::string offer = fax_sdp::offer_t38(origin(*c, port), port, p);
  if (!endpoint_.ua().reinvite(c->sip, offer, sip::Clock::now())) {
    // Another re-INVITE is under way (a peer's refresh, or our own): a little later.
    c->media->cancel_prepared(port);
    if (++c->t38_retries > kT38OfferRetries) {
      add_note(*c, "T.38 not tried: the dialog stayed busy");
      if (t.t38 == T38Policy::only) end_for_t38(c, "the T.38 re-INVITE could not be sent");
      return;
    }
    c->t38_scheduled = true;
    std::weak_ptr<Call> weak = c;
    c->t38_timer.expires_after(std::chrono::seconds(1));
    c->t38_timer.async_wait([this, weak](std::error_code e) {
      if (auto c = weak.lock(); c && !e) offer_t38(c);
    });
    return;
  }
  c->t38_tried = true;
  c->t38_offer_pending = true;
  c->pending_port = port;
  c->pending_sdp = offer;
  endpoint_.kick();
}

// A trunk that takes T.38 only: without it the call ends, and says why.
void FaxCalls::end_for_t38(const std::shared_ptr<Call>& c, const std::string& why) {
  const Trunk& t = opt_.trunks[c->trunk];
  add_note(*c, "T.38 refused (" + why + "); trunk " + t.name + " requires T.38");
  if (c->outgoing && !c->reported) {
    CallResult res;
    res.outcome = Outcome::t38_refused;
    res.reason = "The far end did not take T.38 (" + why + "), which trunk " + t.name + " requires.";
    res.trunk = t.name;
    if (c->fax_running && c->media) c->media->abort("T.38 was refused");
    finish_outbound(c, res);
  }
  endpoint_.ua().hangup(c->sip, sip::Clock::now());
  endpoint_.kick();
}

void FaxCalls::on_reinvite_result(sip::CallId id, const sip::Message& r) {
  auto c = find(id);
  if (!c || c->ended) return;
  const Trunk& t = opt_.trunks[c->trunk];
  const bool ok = r.status >= 200 && r.status < 300;
  auto answer = ok ? sdp::parse(r.body) : fb::Result<sdp::Session, sdp::Error>(sdp::Error{""});
  if (c->t38_offer_pending) {
    c->t38_offer_pending = false;
    const uint16_t port = std::exchange(c->pending_port, 0);
    auto image = answer ? fax_sdp::find_t38(*answer) : std::nullopt;
    if (image && c->now == Call::Now::audio) {
      if (c->detected_by.empty()) c->detected_by = "tone";
      c->local_sdp = c->pending_sdp;
      start_t38(*c, *image, image->params, port);
      return;
    }
    c->media->cancel_prepared(port);
    // A 2xx that refused the stream leaves the description as it was (refreshes answer with it).
    if (ok) endpoint_.ua().set_local_sdp(c->sip, c->local_sdp);
    std::string why = ok ? "answered without a T.38 stream" : std::to_string(r.status) + " " + r.reason;
    if (t.t38 == T38Policy::only) {
      end_for_t38(c, why);
      return;
    }
    add_note(*c, "T.38 refused (" + why + "): the fax went on over G.711");
    if (c->outgoing) memory_.remember(t.name, c->job.number, "T.38 refused (" + why + ")", unix_now());
    c->media->set_detect(false);  // nothing left for a fax sign to change
    return;
  }
  if (c->audio_back_pending) {
    c->audio_back_pending = false;
    const uint16_t port = std::exchange(c->pending_port, 0);
    auto audio = answer ? fax_sdp::find_audio(*answer, t.codecs) : std::nullopt;
    if (audio) {
      c->local_sdp = c->pending_sdp;
      start_audio(*c, *audio, true, port);  // a fresh audio terminal: T.30 starts again
      return;
    }
    c->media->cancel_prepared(port);
    if (ok) endpoint_.ua().set_local_sdp(c->sip, c->local_sdp);
    add_note(*c, "the way back to G.711 failed (" + std::to_string(r.status) + " " + r.reason + ")");
    // The T.38 terminal's end stands as the call's result.
    if (c->fax_result) report_fax_end(c, *c->fax_result);
  }
}

// T.38 failed before T.30 phase B on a call that began as audio: back to G.711 for the fax.
void FaxCalls::fall_back_to_audio(const std::shared_ptr<Call>& c, const std::string& why) {
  const Trunk& t = opt_.trunks[c->trunk];
  c->fell_back = true;
  if (c->outgoing) memory_.remember(t.name, c->job.number, "T.38 failed before phase B (" + why + ")", unix_now());
  add_note(*c, "T.38 failed before phase B (" + why + "): back to G.711");
  uint16_t port = c->media->prepare();
  fax_sdp::AudioOffer a;
  a.codecs = t.codecs;
  std::string offer = port ? fax_sdp::offer_audio(origin(*c, port), port, a) : std::string();
  if (port && endpoint_.ua().reinvite(c->sip, offer, sip::Clock::now())) {
    c->audio_back_pending = true;
    c->pending_port = port;
    c->pending_sdp = offer;
    endpoint_.kick();
    return;
  }
  if (port) c->media->cancel_prepared(port);
  add_note(*c, "the re-INVITE back to G.711 could not be sent");
  report_fax_end(c, *c->fax_result);
}

std::optional<std::string> FaxCalls::on_offer(sip::CallId id, const std::string& offer) {
  auto c = find(id);
  if (!c) return std::nullopt;
  auto s = sdp::parse(offer);
  if (!s) return std::nullopt;
  return answer_reoffer(c, *s);
}

// A re-INVITE or UPDATE with an offer: the same media (a refresh, a moved address, hold) keeps the
// fax; T.38 on an audio call is the switch; audio on a T.38 call is the way back.
std::optional<std::string> FaxCalls::answer_reoffer(const std::shared_ptr<Call>& c, const sdp::Session& s) {
  const Trunk& t = opt_.trunks[c->trunk];
  auto image = t.t38 != T38Policy::off ? fax_sdp::find_t38(s) : std::nullopt;
  if (image && c->now == Call::Now::t38) {
    // A held stream (c=0.0.0.0) keeps where it was: nothing is sent to 0.0.0.0, the latch stays.
    if (!image->hold) {
      if (auto ep = media_endpoint(image->ip, image->port)) c->media->set_remote(*ep);
    }
    c->local_sdp = fax_sdp::answer_t38(s, *image, origin(*c, c->local_port), c->local_port, sdp::T38Capabilities{}).sdp;
    return c->local_sdp;
  }
  if (image) {  // the peer's switch to T.38
    if (!c->outgoing && c->pages_in > 0) return std::nullopt;  // a page arrived on audio: stay
    if (c->transferring) return std::nullopt;
    uint16_t port = c->media->prepare();
    if (!port) return std::nullopt;
    endpoint_.ua().cancel_reinvite_retry(c->sip);  // ours lost the glare: theirs settles it
    if (c->pending_port) c->media->cancel_prepared(std::exchange(c->pending_port, 0));
    c->t38_offer_pending = false;
    c->t38_tried = true;
    c->t38_timer.cancel();
    if (!c->recognised) fax_recognised(c, "reinvite", "");
    else if (c->detected_by.empty()) c->detected_by = "reinvite";
    auto ans = fax_sdp::answer_t38(s, *image, origin(*c, port), port, sdp::T38Capabilities{});
    c->local_sdp = ans.sdp;
    start_t38(*c, *image, ans.ours, port);  // with what we answered
    return ans.sdp;
  }
  if (c->now == Call::Now::audio) {
    // The codec in use if it is still offered (a refresh that reorders keeps it), else another.
    auto current = fax_sdp::find_audio(s, {c->remote_audio.codec});
    auto audio = current ? current : fax_sdp::find_audio(s, t.codecs);
    if (!audio) return std::nullopt;
    if (auto ep = media_endpoint(audio->ip, audio->port)) {
      c->media->update_audio(*ep, audio->receives(), stream_config(*c, *audio));
    }
    c->remote_audio = *audio;
    c->codec = std::string(fax_sdp::name(audio->codec));
    c->local_sdp = fax_sdp::answer_audio(s, *audio, origin(*c, c->local_port), c->local_port, true, true);
    return c->local_sdp;
  }
  auto audio = fax_sdp::find_audio(s, t.codecs);
  if (audio && c->now == Call::Now::t38) {  // the peer goes back to audio
    if (t.t38 == T38Policy::only || (!c->outgoing && c->pages_in > 0)) return std::nullopt;
    uint16_t port = c->media->prepare();
    if (!port) return std::nullopt;
    c->local_sdp = fax_sdp::answer_audio(s, *audio, origin(*c, port), port, true, true);
    add_note(*c, "the far end moved the fax back to G.711");
    start_audio(*c, *audio, c->recognised, port);
    return c->local_sdp;
  }
  return std::nullopt;  // nothing we can carry: 488
}

void FaxCalls::finish_outbound(std::shared_ptr<Call> c, CallResult r) {
  if (c->reported) return;
  c->reported = true;
  r.seconds = int(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - c->started).count());
  if (r.trunk.empty() && c->trunk < opt_.trunks.size()) r.trunk = opt_.trunks[c->trunk].name;
  if (c->fax_result) {
    r.bit_rate = c->fax_result->result.bit_rate;
    r.ecm = c->fax_result->result.ecm;
  }
  if (r.media.media.empty()) r.media = c->call_media();
  fb::log(r.outcome == Outcome::done ? fb::LogLevel::info : fb::LogLevel::warn, "call",
          "job " + std::to_string(c->job.job_id) + ": call to " + c->job.number + " ended: " +
              std::string(to_string(r.outcome)) + (r.sip_status ? " (SIP " + std::to_string(r.sip_status) + ")" : "") +
              ", " + std::to_string(r.pages_sent) + " of " + std::to_string(r.pages_total) + " page(s) sent" +
              (r.media.media.empty() ? "" : " over " + r.media.media) + (r.reason.empty() ? "" : ": " + r.reason),
          c->job.job_id, c->call_id);
  auto done = std::move(c->done);
  asio::post(io_, [done, r] { done(r); });
}

void FaxCalls::on_fax_finished(const std::shared_ptr<Call>& c, const FaxOutcome& out) {
  if (!c->fax_running || out.generation != c->fax_gen) return;  // a terminal already replaced
  c->fax_running = false;
  c->fax_result = out;
  if (stopped_) return;
  const fax::Result& fr = out.result;
  const Trunk& t = opt_.trunks[c->trunk];
  // T.38 reached by a switch from audio that failed before phase B: the fax goes on over G.711.
  if (!out.aborted && !fr.success && !fr.phase_b && c->now == Call::Now::t38 && !c->codec.empty() &&
      t.t38 == T38Policy::prefer && !c->ended && !c->audio_back_pending && !c->fell_back) {
    fall_back_to_audio(c, fr.reason);
    return;
  }
  report_fax_end(c, out);
}

// The fax of a call ended for good: its result is reported and the call ended.
void FaxCalls::report_fax_end(const std::shared_ptr<Call>& c, const FaxOutcome& out) {
  const fax::Result& fr = out.result;
  if (c->outgoing) {
    CallResult r;
    r.sip_status = 200;  // (a fax ran: the INVITE was answered)
    r.trunk = opt_.trunks[c->trunk].name;
    r.pages_total = fr.pages_total;
    r.pages_sent = fr.pages;
    r.pages = fr.page;
    r.bad_rows = fr.bad_rows();
    r.remote_ident = fr.remote_ident;
    if (out.aborted) {  // the call ended under the fax (or the job was cancelled)
      r.outcome = fr.pages > 0 ? Outcome::partial : Outcome::t30_failure;
      r.reason = fr.reason;
    } else {
      r.outcome = fr.success ? Outcome::done : fr.pages > 0 ? Outcome::partial : Outcome::t30_failure;
      r.reason = fr.success ? "" : "T.30: " + fr.reason + ".";
    }
    if (fr.restarts > 0 && !r.reason.empty()) r.reason += " T.30 started again after a change of media.";
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
  c->detect_timer.cancel();
  release_channel(*c);
  c->t38_timer.cancel();
  if (c->transferring) {
    // After the REFER was accepted the transferee hangs up once it has the call; before, the
    // caller gave up.
    transfer_done(c, c->refer_accepted,
                  c->refer_accepted ? "" : "The caller hung up before the transfer to " + *c->voice_uri + " was accepted.");
    return;
  }
  if (c->fax_running) {
    // The fax ends under the call; its result (on_fax_finished) finishes the call.
    if (c->media) {
      c->media->abort(cause == sip::EndCause::remote_bye ? "The far end hung up before the fax was complete."
                       : cause == sip::EndCause::session_expired
                           ? "The far end stopped refreshing the SIP session (RFC 4028 session timer) before the fax was complete."
                       : cause == sip::EndCause::no_ack
                           ? "Our answer was never acknowledged (no ACK): the caller cannot reach our Contact address "
                             "(behind NAT, set [sip] advertise)."
                           : "The call ended before the fax was complete.");
    }
    return;
  }
  if (!c->outgoing) {
    if (c->voice_uri && !c->recognised && c->job_id && !c->reported) {
      // A call to a shared number that hung up before it showed a fax sign or was transferred:
      // a missed voice call, not a failed fax.
      transfer_done(c, false, "The caller hung up before the call could be transferred to " + *c->voice_uri + ".");
      return;
    }
    if (c->job_id) finish_inbound(c);
    forget(c);
    return;
  }
  if (!c->reported && !stopped_) {
    CallResult r;
    r.sip_status = 200;  // (an established call that ended)
    r.trunk = opt_.trunks[c->trunk].name;
    if (c->fax_result) {
      const fax::Result& fr = c->fax_result->result;
      r.pages_total = fr.pages_total;
      r.pages_sent = fr.pages;
      r.pages = fr.page;
      r.bad_rows = fr.bad_rows();
      r.remote_ident = fr.remote_ident;
      r.outcome = fr.pages > 0 ? Outcome::partial : Outcome::t30_failure;
      r.reason = "The call ended while the media was being changed: " + fr.reason;
    } else {
      r.outcome = Outcome::t30_failure;
      r.reason = "The call ended before the fax started.";
    }
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
    if (addresses_.contains(from.ip, i) || (t.accepts && t.accepts(from.ip))) {
      trunk = i;
      break;
    }
  }
  if (!trunk) {
    ua.reject(id, 403, "Forbidden: " + from.ip + " is not a trunk of this node", now);
    return;
  }
  const Trunk& t = opt_.trunks[*trunk];
  // RFC 3325: from a trunk (a trusted peer), P-Asserted-Identity names the caller where From may
  // be "anonymous"; Privacy: id (RFC 3323) keeps the number out of what we record and mail.
  std::string caller_user = user_of(invite.from());
  if (auto pai = invite.get("P-Asserted-Identity")) {
    if (auto na = sip::parse_name_addr(*pai); na && !na->uri.user.empty()) caller_user = na->uri.user;
  }
  bool private_id = false;
  for (const auto& p : invite.all("Privacy")) {
    if (p.find("id") != std::string::npos) private_id = true;
  }
  std::string caller = e164::normalise(caller_user, t.country_code, t.national_prefix)
                           .value_or(e164::unescape_user(caller_user));
  for (const auto& p : opt_.reject_callers) {
    if (!caller.empty() && caller.starts_with(p)) {
      ua.reject(id, 603, "Decline", now);
      return;
    }
  }
  // A delayed offer (no SDP): we offer in the 200, the ACK answers (checked then).
  const bool delayed = invite.body.empty();
  auto offer = delayed ? fb::Result<sdp::Session, sdp::Error>(sdp::Session{}) : sdp::parse(invite.body);
  if (!offer) {
    ua.reject(id, 488, "Not Acceptable Here: malformed SDP: " + offer.error().reason, now);
    return;
  }
  const bool t38 = delayed ? t.t38 == T38Policy::only : t.t38 != T38Policy::off && fax_sdp::find_t38(*offer);
  const bool audio = delayed ? t.t38 != T38Policy::only : fax_sdp::find_audio(*offer, t.codecs).has_value();
  if (!t38 && !audio) {
    ua.reject(id, 488,
              t.t38 == T38Policy::off ? "Not Acceptable Here: this trunk takes G.711 (PCMU/PCMA) only, no T.38"
                                      : "Not Acceptable Here: neither T.38 (image/t38 over UDPTL) nor PCMU/PCMA offered",
              now);
    return;
  }
  std::string uri_user;
  if (auto u = sip::parse_uri(invite.uri)) uri_user = u->user;
  auto did = e164::normalise(uri_user.empty() ? user_of(invite.to()) : uri_user, t.country_code, t.national_prefix);
  if (!did) did = e164::normalise(user_of(invite.to()), t.country_code, t.national_prefix);
  const auto dialled = did;  // the number the call reached (a shared voice/fax number's)
  // RFC 5806: a call a PBX forwarded here (a user's number diverting to the fax number) is
  // routed as if it reached the number it was first dialled to — the oldest Diversion entry,
  // the last one written — or the next newer one, when that number has a [[route]] of its own.
  if (opt_.routed) {
    auto entries = invite.all("Diversion");
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      auto na = sip::parse_name_addr(*it);
      if (!na || na->uri.user.empty()) continue;
      auto number = e164::normalise(na->uri.user, t.country_code, t.national_prefix);
      if (!number || !opt_.routed(*number)) continue;
      if (did && *did != *number) {
        fb::log("call from " + (private_id || caller.empty() ? std::string("a withheld number") : caller) + " to " +
                *did + " was diverted from " + *number +
                (na->params.get("reason") ? " (" + *na->params.get("reason") + ")" : std::string()) + ": routed as " +
                *number);
      }
      did = number;
      break;
    }
  }
  if (opt_.storage_low) {
    if (auto why = opt_.storage_low()) {
      // Refused before anything is written: the caller's network tries again or elsewhere.
      fb::log("refused a call from " + (private_id || caller.empty() ? std::string("a withheld number") : caller) +
              " with 503: low on disk space (" + *why + ")");
      ua.reject(id, 503, "Service Unavailable: low on disk space", now, {{"Retry-After", "300"}});
      return;
    }
  }
  // A channel now, or (on a shared store, want_channel) once this node's grant has room: the
  // trunk may have room that this node's grant does not yet include.
  const bool channel = ledger_.try_acquire(*trunk);
  if (!channel && !want_channel) {
    ua.reject(id, 486, "Busy Here: all channels in use", now);
    return;
  }
  if (!did) {
    if (channel) ledger_.release(*trunk);
    ua.reject(id, 404, "Not Found: the called number is not a fax number", now);
    return;
  }
  // 180 while the job is made (reliably, with PRACK, for a caller that requires 100rel).
  ua.ringing(id, now);
  auto c = std::make_shared<Call>(io_);
  c->sip = id;
  c->call_id = invite.get("Call-ID").value_or("");
  c->outgoing = false;
  c->trunk = *trunk;
  c->channel = channel;
  if (private_id) caller.clear();
  c->caller = caller;
  if (t.credentials) ua.set_credentials(id, *t.credentials);  // an SBC may challenge our BYE
  // A shared voice/fax number: only an audio call can be a voice call.
  if (!t38 && opt_.voice_uri) c->voice_uri = opt_.voice_uri(*dialled);
  calls_[id] = c;
  std::optional<std::string> caller_name;
  if (auto f = invite.from(); f && !f->display.empty() && !private_id) caller_name = f->display;
  // RFC 3892: an Exchange UM referral names the mailbox here (router.hpp reads it) — only from an
  // [exchange] server: from anyone else it would let a trunk's caller mail a fax anywhere.
  auto referred_by = invite.get("Referred-By");
  if (referred_by && parse_partner_referral(*referred_by) && !(opt_.exchange_server && opt_.exchange_server(from.ip))) {
    fb::log("ignored an Exchange UM referral from " + from.ip +
            ": not one of the [exchange] servers (the fax is routed by its number)");
    referred_by.reset();
  }
  queue::NewInbound in{*did, std::nullopt, caller, caller_name, referred_by};
  if (channel) {
    create_inbound(c, id, in);
    return;
  }
  fb::log(fb::LogLevel::info, "call",
          "a call to " + in.number + " waits for a channel: this node's share of trunk " + t.name + " is in use",
          std::nullopt, c->call_id);
  want_channel(*trunk, [this, c, id, in](ChannelAnswer answer) {
    if (c->ended || !find(id)) return;  // the caller gave up meanwhile (on_ended forgot the call)
    const bool stopping = answer == ChannelAnswer::stopping || stopped_;
    if (stopping || (answer == ChannelAnswer::store_unavailable && !ledger_.try_acquire(c->trunk))) {
      // As for any call the store cannot take: a proxy in front tries another node.
      fb::log(fb::LogLevel::warn, "call",
              "refused a call to " + in.number + ": 503: " +
                  (stopping ? std::string("the node is stopping") : std::string("the job store is unavailable")),
              std::nullopt, c->call_id);
      endpoint_.ua().reject(id, 503,
                            stopping ? "Service Unavailable: the node is stopping"
                                     : "Service Unavailable: the job store is unavailable",
                            sip::Clock::now(), {{"Retry-After", "30"}});
      forget(c);
      endpoint_.kick();
      return;
    }
    if (answer == ChannelAnswer::store_unavailable) {  // (room after all: the channel is taken above)
      c->channel = true;
      create_inbound(c, id, in);
      return;
    }
    if (!ledger_.try_acquire(c->trunk)) {
      fb::log(fb::LogLevel::warn, "call",
              "refused a call to " + in.number + " with 486: every channel of trunk " + opt_.trunks[c->trunk].name +
                  " is in use across the nodes",
              std::nullopt, c->call_id);
      endpoint_.ua().reject(id, 486, "Busy Here: all channels in use", sip::Clock::now());
      forget(c);
      endpoint_.kick();
      return;
    }
    c->channel = true;
    create_inbound(c, id, in);
  });
}

// The inbound job for a call that holds its channel; answered once it is recorded.
void FaxCalls::create_inbound(const std::shared_ptr<Call>& c, sip::CallId id, const queue::NewInbound& in) {
  hooks_.create_inbound(in, [this, c, id, dialled = in.number](std::optional<int64_t> job) {
    if (c->ended || !find(id)) {
      // The caller gave up before we could answer: the job ends as a failed reception.
      if (job) {
        c->job_id = *job;
        finish_inbound(c);
      }
      return;
    }
    if (!job) {
      // 503 with Retry-After: a proxy in front (Kamailio's dispatcher) tries another node; a
      // carrier tries again. The call is not taken when it cannot be recorded.
      fb::log(fb::LogLevel::warn, "call", "refused a call to " + dialled + ": 503: the job store is unavailable", std::nullopt,
              c->call_id);
      endpoint_.ua().reject(id, 503, "Service Unavailable: the job store is unavailable", sip::Clock::now(),
                            {{"Retry-After", "30"}});
      forget(c);
      endpoint_.kick();
      return;
    }
    fb::log(fb::LogLevel::info, "call",
            "job " + std::to_string(*job) + ": answering a call from " +
                (c->caller.empty() ? std::string("a withheld number") : c->caller) + " to " +
                opt_.trunks[c->trunk].name + " DID " + dialled,
            *job, c->call_id);
    answer_inbound(c, *job);
  });
}

// An inbound call past a cap: the fax is aborted (its pages so far are kept and reported as an
// incomplete fax with `why`), the call hung up.
void FaxCalls::cut_inbound(const std::shared_ptr<Call>& c, const std::string& why) {
  if (c->outgoing || c->ended || c->cut) return;
  c->cut = true;
  c->note = why;
  fb::log(fb::LogLevel::warn, "call", "job " + std::to_string(c->job_id) + ": " + why + " Hanging up.", c->job_id, c->call_id);
  if (c->fax_running && c->media) c->media->abort(why);
  endpoint_.ua().hangup(c->sip, sip::Clock::now());
  endpoint_.kick();
}

void FaxCalls::answer_inbound(std::shared_ptr<Call> c, int64_t job) {
  auto& ua = endpoint_.ua();
  auto now = sip::Clock::now();
  c->job_id = job;
  if (opt_.max_inbound_call.count() > 0) {
    std::weak_ptr<Call> weak = c;
    c->limit_timer.expires_after(opt_.max_inbound_call);
    c->limit_timer.async_wait([this, weak](std::error_code e) {
      auto c = weak.lock();
      if (e || !c) return;
      cut_inbound(c, "The call was cut after " + std::to_string(opt_.max_inbound_call.count()) +
                         " s ([fax] max_inbound_call_s).");
    });
  }
  c->rx_path = hooks_.received_path(job);
  const Trunk& t = opt_.trunks[c->trunk];
  const sip::Message* invite = ua.initial_invite(c->sip);
  const auto from = ua.remote_address(c->sip);
  if (!invite || !open_media(c, from ? from->ip : std::string())) {
    c->voice_uri.reset();  // a failure of ours, not a missed voice call
    ua.reject(c->sip, 503, "Service Unavailable: no free media port", now);
    finish_inbound(c);
    return;
  }
  if (invite->body.empty()) {
    // Delayed offer: our offer now (T.38 alone for a trunk that takes only T.38, else audio), the
    // media once the ACK brings the answer (on_ack_answer).
    c->awaiting_answer = true;
    c->local_sdp = sdp_offer(*c);
    ua.answer(c->sip, c->local_sdp, now);
    endpoint_.kick();
    return;
  }
  auto offer = sdp::parse(invite->body);
  auto image = offer && t.t38 != T38Policy::off ? fax_sdp::find_t38(*offer) : std::nullopt;
  auto audio = offer ? fax_sdp::find_audio(*offer, t.codecs) : std::nullopt;
  if (!image && !audio) {
    c->voice_uri.reset();
    ua.reject(c->sip, 488, "Not Acceptable Here: no stream we can carry", now);
    finish_inbound(c);
    return;
  }
  sdp::T38Params ours;
  if (image) {
    auto answer = fax_sdp::answer_t38(*offer, *image, origin(*c, c->local_port), c->local_port, sdp::T38Capabilities{});
    c->local_sdp = answer.sdp;
    ours = answer.ours;
  } else {
    c->local_sdp = fax_sdp::answer_audio(*offer, *audio, origin(*c, c->local_port), c->local_port, true, true);
  }
  begin_inbound(c, image, audio, true, ours);
  ua.answer(c->sip, c->local_sdp, now);
  endpoint_.kick();
}

// The media of an inbound call once the SDP is agreed (the INVITE's offer and our answer, or our
// offer and the ACK's answer): T.38 whatever else was offered; else audio, answered as a fax
// machine answers on a fax-only number, listened to on a shared one.
void FaxCalls::begin_inbound(const std::shared_ptr<Call>& c, const std::optional<fax_sdp::RemoteT38>& image,
                             const std::optional<fax_sdp::RemoteAudio>& audio, bool we_answered,
                             const sdp::T38Params& ours) {
  const Trunk& t = opt_.trunks[c->trunk];
  if (image) {
    c->detected_by = "offer";
    c->t38_tried = true;
    // With what we answered; when the peer answered our offer, with its answer (never above ours).
    start_t38(*c, *image, we_answered ? ours : image->params, 0);
    return;
  }
  // A fax-only number answers as a fax machine does; a shared one listens first; a trunk that
  // wants T.38 only never faxes on audio and asks for T.38 at once.
  const bool fax_now = !c->voice_uri && t.t38 != T38Policy::only;
  if (fax_now) {
    c->recognised = true;
    c->detected_by = "answered";
  }
  start_audio(*c, *audio, fax_now, 0);
  // T.38 only: asked for at once; on a shared number only once the call shows it is a fax.
  if (t.t38 == T38Policy::only && !c->voice_uri) c->t38_after_ack = true;
  if (c->voice_uri) {
    std::weak_ptr<Call> weak = c;
    c->detect_timer.expires_after(opt_.detect);
    c->detect_timer.async_wait([this, weak](std::error_code e) {
      if (auto c = weak.lock(); c && !e) voice_timeout(c);
    });
  }
}

// The ACK answered our offer of a delayed-offer call.
void FaxCalls::on_ack_answer(sip::CallId id, const std::string& answer) {
  auto c = find(id);
  if (!c || !c->awaiting_answer || c->ended) return;
  c->awaiting_answer = false;
  const Trunk& t = opt_.trunks[c->trunk];
  auto s = sdp::parse(answer);
  auto image = s && t.t38 == T38Policy::only ? fax_sdp::find_t38(*s) : std::nullopt;
  auto audio = s && t.t38 != T38Policy::only ? fax_sdp::find_audio(*s, t.codecs) : std::nullopt;
  if (!image && !audio) {
    add_note(*c, s ? "the ACK's SDP answer has no stream we offered" : "the ACK's SDP answer is malformed: " + s.error().reason);
    return;  // on_confirmed ends the call
  }
  begin_inbound(c, image, audio, false, {});
}

void FaxCalls::on_confirmed(sip::CallId id) {
  auto c = find(id);
  if (!c) return;
  if (c->awaiting_answer || (c->now == Call::Now::none && !c->outgoing)) {
    // A delayed offer whose ACK brought no usable answer: nothing can carry the fax.
    c->awaiting_answer = false;
    if (c->note.empty()) add_note(*c, "the ACK brought no SDP answer to our offer");
    endpoint_.ua().hangup(id, sip::Clock::now());
    endpoint_.kick();
    return;
  }
  on_confirmed_call(c);
}

// An ACK confirmed our answer: an offer of T.38 that had to wait for it goes now.
void FaxCalls::on_confirmed_call(const std::shared_ptr<Call>& c) {
  c->confirmed = true;
  if (!c->t38_after_ack) return;
  c->t38_after_ack = false;
  offer_t38(c);
}

void FaxCalls::voice_timeout(const std::shared_ptr<Call>& c) {
  if (c->ended || c->recognised || c->transferring || !c->voice_uri) return;
  // No fax sign within detect_s: a voice call. To the voice destination.
  c->transferring = true;
  if (!endpoint_.ua().refer(c->sip, *c->voice_uri, sip::Clock::now())) {
    transfer_done(c, false, "The call could not be transferred to " + *c->voice_uri + " (REFER not sent).");
    return;
  }
  endpoint_.kick();
}

void FaxCalls::on_refer_result(sip::CallId id, int status) {
  auto c = find(id);
  if (!c || !c->transferring) return;
  if (status < 200 || status >= 300) {
    transfer_done(c, false, "The transfer to " + c->voice_uri.value_or("") + " was refused (REFER answered " +
                                std::to_string(status) + ").");
    return;
  }
  // Accepted: the final NOTIFY says how it went; without one, it counts as done.
  c->refer_accepted = true;
  std::weak_ptr<Call> weak = c;
  c->timer.expires_after(kReferWait);
  c->timer.async_wait([this, weak](std::error_code e) {
    if (auto c = weak.lock(); c && !e && c->transferring) transfer_done(c, true, "");
  });
}

void FaxCalls::on_notify(sip::CallId id, const sip::Message& notify) {
  auto c = find(id);
  if (!c || !c->transferring) return;
  int status = sipfrag_status(notify.body);
  if (status < 200) return;  // 100 Trying, 180 Ringing: under way
  if (status < 300) {
    transfer_done(c, true, "");
  } else {
    transfer_done(c, false, "The transfer to " + c->voice_uri.value_or("") + " failed (" + first_line(notify.body) + ").");
  }
}

// A voice call's end: transferred (its job goes) or not (the route's mailbox hears of the missed
// call); the call is hung up either way.
void FaxCalls::transfer_done(const std::shared_ptr<Call>& c, bool ok, const std::string& why) {
  if (!c->transferring && !(c->voice_uri && !c->recognised)) return;
  c->transferring = false;
  c->timer.cancel();
  if (!c->ended) {
    endpoint_.ua().hangup(c->sip, sip::Clock::now());
    endpoint_.kick();
  }
  int seconds = int(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - c->started).count());
  if (!c->reported && c->job_id) {
    if (ok) {
      c->reported = true;
      if (hooks_.discard_inbound) {
        hooks_.discard_inbound(c->job_id, opt_.trunks[c->trunk].name, *c->voice_uri, c->call_media().media, seconds);
      }
    } else {
      ReceivedFax r;
      r.job_id = c->job_id;
      r.voice = true;
      r.reason = why;
      r.seconds = seconds;
      r.trunk = opt_.trunks[c->trunk].name;
      r.media = c->call_media();
      c->reported = true;
      hooks_.received(r);
    }
  }
  if (c->ended) forget(c);
}

void FaxCalls::finish_inbound(std::shared_ptr<Call> c) {
  if (c->reported || !c->job_id || stopped_) return;
  c->reported = true;
  ReceivedFax r;
  r.job_id = c->job_id;
  if (c->fax_result) {
    const auto& fr = c->fax_result->result;
    r.success = fr.success && c->fax_result->write_error.empty();
    r.pages = fr.pages;
    r.bad_rows = fr.bad_rows();
    r.remote_ident = fr.remote_ident;
    r.subaddress = fr.remote_subaddress;
    r.reason = fr.success ? "" : fr.reason;
    if (!c->fax_result->write_error.empty()) r.reason = "The received pages could not be written: " + c->fax_result->write_error;
    r.bit_rate = fr.bit_rate;
    r.ecm = fr.ecm;
    r.page_results = fr.page;
  } else {
    r.reason = c->note.empty() ? "The call ended before the fax started." : "The call ended before the fax started (" + c->note + ").";
  }
  if (c->cut) {  // hung up by us at a cap: never a complete fax, whatever T.30 made of the end
    r.success = false;
    r.reason = c->note;
  }
  r.media = c->call_media();
  r.seconds = int(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - c->started).count());
  if (c->trunk < opt_.trunks.size()) r.trunk = opt_.trunks[c->trunk].name;
  std::error_code ec;
  if (!c->rx_path.empty() && std::filesystem::exists(c->rx_path, ec)) r.path = c->rx_path;
  fb::log(r.success ? fb::LogLevel::info : fb::LogLevel::warn, "call",
          "job " + std::to_string(r.job_id) + ": call from " + (c->caller.empty() ? std::string("a withheld number") : c->caller) +
              " ended: " + std::to_string(r.pages) + " page(s) received" +
              (r.media.media.empty() ? "" : " over " + r.media.media) + (r.reason.empty() ? "" : ": " + r.reason),
          r.job_id, c->call_id);
  hooks_.received(r);  // which makes the file durable (sync_received) off this thread
}

}  // namespace gateway
