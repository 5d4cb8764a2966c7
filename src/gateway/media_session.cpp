// media_session.cpp — a fax call's transport and terminal on its media thread (see media_session.hpp).
#include "gateway/media_session.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>

#include "gateway/media_thread.hpp"
#include "gateway/page_writer.hpp"

namespace gateway {

using asio::ip::udp;
using Clock = std::chrono::steady_clock;

namespace {

// NTP time (RFC 3550 §4) for RTCP sender reports.
uint64_t ntp_now() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  uint64_t secs = uint64_t(ns / 1000000000) + 2208988800ull;
  uint64_t frac = (uint64_t(ns % 1000000000) << 32) / 1000000000ull;
  return secs << 32 | frac;
}

}  // namespace

PortRange::PortRange(int min, int max) : min_(min), max_(max), next_(min) {
  if (max_ > min_) {
    std::random_device rd;
    next_ = min_ + int(rd() % unsigned(max_ - min_ + 1));
  }
}

uint16_t PortRange::bind(udp::socket& s, const asio::ip::address& addr) {
  std::lock_guard lock(mu_);
  const int span = max_ - min_ + 1;
  for (int i = 0; i < span; ++i) {
    int port = next_;
    next_ = next_ >= max_ ? min_ : next_ + 1;
    std::error_code ec;
    s.bind(udp::endpoint(addr, uint16_t(port)), ec);
    if (!ec) return uint16_t(port);
  }
  return 0;
}

uint16_t PortRange::bind_pair(udp::socket& rtp, udp::socket& rtcp, const asio::ip::address& addr) {
  std::lock_guard lock(mu_);
  // The even ports whose next one is still in the range, each tried once from next_ on.
  const int first = min_ + (min_ % 2);
  const int last = (max_ - 1) - ((max_ - 1) % 2);
  if (first > last) return 0;
  const int pairs = (last - first) / 2 + 1;
  int port = next_ + (next_ % 2);
  if (port < first || port > last) port = first;
  for (int i = 0; i < pairs; ++i, port = port + 2 > last ? first : port + 2) {
    std::error_code ec;
    rtp.bind(udp::endpoint(addr, uint16_t(port)), ec);
    if (ec) continue;
    rtcp.bind(udp::endpoint(addr, uint16_t(port + 1)), ec);
    if (ec) {
      // The RTP port stays bound to this socket: reopen it for the next try.
      rtp.close(ec);
      rtp.open(addr.is_v4() ? udp::v4() : udp::v6(), ec);
      continue;
    }
    next_ = port + 2 > last ? first : port + 2;
    return uint16_t(port);
  }
  return 0;
}

MediaSession::MediaSession(MediaThread& thread, std::string ip) : thread_(thread), ip_(std::move(ip)) {}

MediaSession::~MediaSession() = default;

namespace {
template <class Sock>
std::shared_ptr<Sock> new_socket(asio::io_context& io, const asio::ip::address& addr) {
  auto s = std::make_shared<Sock>(io);
  std::error_code ec;
  s->s.open(addr.is_v4() ? udp::v4() : udp::v6(), ec);
  if (ec) return nullptr;
  return s;
}
}  // namespace

std::shared_ptr<MediaSession> MediaSession::open(MediaThread& thread, const std::string& ip, PortRange& ports,
                                                 MediaEvents events, PageWriter* writer, const std::string& sdp_ip,
                                                 bool latch) {
  std::error_code ec;
  auto addr = asio::ip::make_address(ip, ec);
  if (ec) return nullptr;
  std::shared_ptr<MediaSession> s(new MediaSession(thread, sdp_ip.empty() ? ip : sdp_ip));
  s->bind_ip_ = ip;
  s->latch_ = latch;
  s->ports_ = &ports;
  s->writer_ = writer;
  s->socket_ = new_socket<Sock>(thread.io(), addr);
  s->rtcp_ = new_socket<Sock>(thread.io(), addr);
  if (!s->socket_ || !s->rtcp_) return nullptr;
  s->port_ = ports.bind_pair(s->socket_->s, s->rtcp_->s, addr);
  if (!s->port_) return nullptr;
  s->socket_->s.non_blocking(true, ec);
  s->rtcp_->s.non_blocking(true, ec);
  s->events_ = std::move(events);
  return s;
}

uint16_t MediaSession::prepare() {
  std::error_code ec;
  auto addr = asio::ip::make_address(bind_ip_, ec);
  if (ec) return 0;
  auto rtp = new_socket<Sock>(thread_.io(), addr), rtcp = new_socket<Sock>(thread_.io(), addr);
  if (!rtp || !rtcp) return 0;
  uint16_t port = ports_->bind_pair(rtp->s, rtcp->s, addr);
  if (!port) return 0;
  rtp->s.non_blocking(true, ec);
  rtcp->s.non_blocking(true, ec);
  std::lock_guard lock(prepared_mu_);
  prepared_[port] = {std::move(rtp), std::move(rtcp)};
  return port;
}

void MediaSession::cancel_prepared(uint16_t port) {
  std::lock_guard lock(prepared_mu_);
  auto it = prepared_.find(port);
  if (it == prepared_.end()) return;
  std::error_code ec;
  it->second.first->s.close(ec);
  it->second.second->s.close(ec);
  prepared_.erase(it);
}

// The prepared sockets of `port` replace the current ones: packets still in flight to the old
// port are the old media's and are dropped with it.
void MediaSession::use_prepared(uint16_t port) {
  if (!port) return;
  std::lock_guard lock(prepared_mu_);
  auto it = prepared_.find(port);
  if (it == prepared_.end()) return;
  std::error_code ec;
  socket_->s.close(ec);
  rtcp_->s.close(ec);
  socket_ = std::move(it->second.first);
  rtcp_ = std::move(it->second.second);
  prepared_.erase(it);
}

void MediaSession::new_terminal(fax::Options o, bool t38, const fax::T38Config& cfg, uint64_t generation) {
  if (terminal_) {
    // A switch mid-fax: the old terminal's achievements are carried into the call's result.
    aborted_ = true;
    terminal_->abort("the media changed during the fax");
    const fax::Result& old = terminal_->result();
    if (old.phase_b) ++carried_.restarts;
    if (o.transmit) {
      carried_.pages += old.pages;
      carried_.page.insert(carried_.page.end(), old.page.begin(), old.page.end());
    }
    terminal_.reset();
    audio_terminal_ = nullptr;
    t38_terminal_ = nullptr;
    // A receiver starts its file again (fax_calls.cpp refuses a switch once a page arrived; one
    // that raced with it must not leave the old terminal's pages before the new one's).
    if (writer_ && !rx_path_.empty()) writer_->forget(std::exchange(rx_path_, std::string()));
  }
  aborted_ = false;
  generation_ = generation;
  // A sender goes on after the pages the far end confirmed; page counts stay the call's.
  if (o.transmit) o.first_page += carried_.pages;
  const int offset = o.transmit ? carried_.pages : 0;
  std::weak_ptr<MediaSession> weak = weak_from_this();
  o.on_page = [weak, offset](int pages) {
    if (auto s = weak.lock(); s && s->events_.page) s->events_.page(offset + pages);
  };
  if (!o.transmit && writer_) {
    rx_path_ = o.file;
    // Staged at once (before T.30 confirms the page), coded and appended on the writer's thread.
    // A page that cannot be staged is still appended; a write that fails there fails the fax.
    o.page_out = [w = writer_, path = o.file](fax::ReceivedPage p) {
      (void)PageWriter::stage(path, p);
      w->add(path, std::move(p));
    };
  }
  if (t38) {
    MediaSession* raw = this;
    auto term = std::make_unique<fax::T38Terminal>(o, cfg, [raw](std::span<const uint8_t> ifp, int copies) {
      if (!raw->enc_ || raw->closed_) return;
      for (int i = 0; i < copies; ++i) {
        auto d = raw->enc_->next(ifp);
        std::error_code e;
        raw->socket_->s.send_to(asio::buffer(d), raw->remote_, 0, e);
      }
    });
    t38_terminal_ = term.get();
    terminal_ = std::move(term);
  } else {
    auto term = std::make_unique<fax::AudioTerminal>(o);
    audio_terminal_ = term.get();
    terminal_ = std::move(term);
  }
}

void MediaSession::start_audio(AudioStart a) {
  asio::post(thread_.io(), [self = shared_from_this(), a = std::move(a)]() mutable {
    if (self->closed_) return;
    self->use_prepared(a.port);
    self->kind_ = Kind::audio;
    self->enc_.reset();
    self->dec_.reset();
    self->set_media_remote(a.remote);
    self->audio_pts_ = {a.stream.payload_type};
    if (a.stream.event_pt) self->audio_pts_.push_back(*a.stream.event_pt);
    if (a.stream.red_pt) self->audio_pts_.push_back(*a.stream.red_pt);
    self->stream_.emplace(a.stream);
    self->send_audio_ = a.send;
    self->audio_idle_ = a.idle_timeout;
    self->since_audio_ = {};
    self->audio_ms_ = 0;
    self->rtcp_due_ms_ = rtp::kRtcpIntervalMs;
    self->detector_ = a.detect ? std::make_unique<fax::ToneDetector>() : nullptr;
    if (a.fax) {
      self->new_terminal(std::move(*a.fax), false, {}, a.generation);
    } else if (self->terminal_) {
      self->terminal_->abort("the media changed during the fax");
      self->end_terminal(true);
    }
    self->last_tick_ = {};
    self->thread_.add(self);  // audio is read by the tick itself (drain)
    self->check_finished();
  });
}

void MediaSession::start_t38(T38Start st) {
  asio::post(thread_.io(), [self = shared_from_this(), st = std::move(st)]() mutable {
    if (self->closed_) return;
    self->use_prepared(st.port);
    self->kind_ = Kind::t38;
    self->stream_.reset();
    self->detector_.reset();
    self->set_media_remote(st.remote);
    self->enc_.emplace(st.udptl);
    self->dec_.emplace();
    self->new_terminal(std::move(st.fax), true, st.t38, st.generation);
    self->last_tick_ = {};
    self->thread_.add(self);
    self->read();
    self->check_finished();  // a terminal that could not be created
  });
}

void MediaSession::start_fax(fax::Options o, uint64_t generation) {
  asio::post(thread_.io(), [self = shared_from_this(), o = std::move(o), generation]() mutable {
    if (self->closed_ || self->kind_ != Kind::audio || self->terminal_) return;
    self->new_terminal(std::move(o), false, {}, generation);
    self->check_finished();
  });
}

void MediaSession::update_audio(udp::endpoint remote, bool send, audio::StreamConfig cfg) {
  asio::post(thread_.io(), [self = shared_from_this(), remote, send, cfg] {
    if (remote != self->sdp_remote_) self->set_media_remote(remote);
    self->audio_pts_ = {cfg.payload_type};
    if (cfg.event_pt) self->audio_pts_.push_back(*cfg.event_pt);
    if (cfg.red_pt) self->audio_pts_.push_back(*cfg.red_pt);
    self->send_audio_ = send;
    if (self->stream_) self->stream_->reconfigure(cfg.law, cfg.payload_type, cfg.event_pt, cfg.red_pt);
  });
}

void MediaSession::set_detect(bool on) {
  asio::post(thread_.io(), [self = shared_from_this(), on] {
    if (!on) self->detector_.reset();
    else if (!self->detector_ && self->kind_ == Kind::audio) self->detector_ = std::make_unique<fax::ToneDetector>();
  });
}

void MediaSession::set_remote(udp::endpoint remote) {
  asio::post(thread_.io(), [self = shared_from_this(), remote] {
    if (remote == self->sdp_remote_) return;  // a refresh: same stream, same latch
    self->set_media_remote(remote);
    if (self->dec_) self->dec_->restart();  // a moved stream may number from 0 again
  });
}

// The SDP named a (new) remote: sent to until a packet latches the stream.
void MediaSession::set_media_remote(const udp::endpoint& remote) {
  if (sdp_remote_ != udp::endpoint{} && sdp_remote_.address() != remote.address()) replaced_ = sdp_remote_.address();
  sdp_remote_ = remote;
  remote_ = remote;
  latched_ = false;
  rtcp_remote_.reset();
}

// Whether a datagram from `from` is heard; the first authentic one latches the stream to its
// source (symmetric latching: behind NAT the SDP's address is not where packets come from).
bool MediaSession::heard_from(const udp::endpoint& from, std::span<const uint8_t> d) {
  if (!latch_) {
    // Asymmetric RTP: the SDP's host, from whatever port it sends; we keep sending to the SDP's.
    if (from.address() != sdp_remote_.address()) return false;
    return receive(d);
  }
  if (latched_ && from == remote_) {
    heard_at_ = std::chrono::steady_clock::now();
    receive(d);
    return true;
  }
  // The SDP's own address always wins (any port: a NAT advertising its public address picks its
  // own), also over a stranger that latched first. Once the stream latched on the SDP's own
  // address and port (a peer not behind a NAT), another port of that host is a stale stream (a
  // call that used our port before, on a host that runs many calls) and is not heard; a peer
  // behind a NAT (latched on another port) may still move, as its NAT may remap.
  const bool from_sdp = from.address() == sdp_remote_.address();
  if (from_sdp && latched_ && remote_ == sdp_remote_ && from != sdp_remote_) return false;
  // A NAT'd peer (latched on another port of the SDP's address) moves to a new port only once
  // its stream went quiet (kRemapQuiet): two live streams from one address (a shared NAT, a
  // stale call) must not take turns.
  if (from_sdp && latched_ && remote_.address() == sdp_remote_.address() && from != sdp_remote_ &&
      std::chrono::steady_clock::now() - heard_at_ < kRemapQuiet)
    return false;
  if (!from_sdp) {
    // A stranger only before anything latched, and never the address a re-INVITE just replaced
    // (the offerer may go on sending from there until our answer reaches it).
    if (latched_ || (replaced_ && from.address() == *replaced_)) return false;
    // A stranger is heard only with an authentic packet, checked before anything is fed.
    if (kind_ == Kind::t38) {
      if (!udptl::decode(d)) return false;
    } else {
      if (d.size() < 12 || (d[0] >> 6) != 2) return false;
      if (std::find(audio_pts_.begin(), audio_pts_.end(), uint8_t(d[1] & 0x7f)) == audio_pts_.end()) return false;
    }
  }
  if (!receive(d)) return false;
  // Where it really came from, port included: behind a NAT that advertises its public address
  // the SDP names the right address but a port the NAT never opened (masquerade picks its own).
  latched_ = true;
  remote_ = from;
  heard_at_ = std::chrono::steady_clock::now();
  return true;
}

void MediaSession::abort(std::string reason) {
  asio::post(thread_.io(), [self = shared_from_this(), reason = std::move(reason)] {
    if (!self->terminal_) return;
    self->aborted_ = true;
    self->terminal_->abort(reason);
    self->check_finished();
  });
}

void MediaSession::close() {
  {
    std::lock_guard lock(prepared_mu_);
    std::error_code ec;
    for (auto& [port, socks] : prepared_) {
      socks.first->s.close(ec);
      socks.second->s.close(ec);
    }
    prepared_.clear();
  }
  asio::post(thread_.io(), [self = shared_from_this()] {
    self->closed_ = true;
    self->terminal_.reset();  // no event: the owner has left
    if (self->writer_ && !self->rx_path_.empty()) self->writer_->forget(self->rx_path_);
    self->audio_terminal_ = nullptr;
    self->t38_terminal_ = nullptr;
    if (self->stream_ && self->kind_ == Kind::audio) {
      auto bye = self->stream_->rtcp_bye();
      std::error_code ec;
      self->rtcp_->s.send_to(asio::buffer(bye), self->rtcp_to(), 0, ec);
    }
    std::error_code ec;
    self->socket_->s.close(ec);
    self->rtcp_->s.close(ec);
    self->thread_.remove(self.get());
    self->events_ = {};
  });
}

void MediaSession::read() {
  auto sock = socket_;  // a switch replaces socket_: this read belongs to the one it started on
  if (sock->reading) return;
  sock->reading = true;
  sock->s.async_receive_from(asio::buffer(sock->buf), sock->from, [self = shared_from_this(), sock](std::error_code ec, size_t n) {
    sock->reading = false;
    if (ec == asio::error::operation_aborted || self->closed_ || sock != self->socket_) return;
    if (!ec) self->heard_from(sock->from, std::span<const uint8_t>(sock->buf.data(), n));
    self->read();
  });
}

// Audio: everything that has arrived, read before the samples it carries are played. (Read by the
// tick rather than as each datagram completes: after a stall of the thread the datagrams queued
// meanwhile are placed in the playout buffer first, instead of being found late after the tick
// played their time as silence; and one pass serves many datagrams.)
void MediaSession::drain() {
  // RTP: every datagram queued, in batches of one system call each (recvmmsg). The batch
  // buffers belong to the thread: its sessions use them one after the other.
  struct Batch {
    std::array<mmsghdr, kDrainBatch> msgs{};
    std::array<iovec, kDrainBatch> iov{};
    std::array<sockaddr_storage, kDrainBatch> from{};
    std::array<std::array<uint8_t, kMaxDatagram>, kDrainBatch> data{};
  };
  thread_local std::unique_ptr<Batch> batch;
  if (!batch) batch = std::make_unique<Batch>();
  Batch& b = *batch;
  const int fd = socket_->s.native_handle();
  for (int round = 0; round < kMaxDrain / kDrainBatch; ++round) {
    for (int i = 0; i < kDrainBatch; ++i) {
      b.iov[size_t(i)] = {b.data[size_t(i)].data(), kMaxDatagram};
      b.msgs[size_t(i)].msg_hdr = {};
      b.msgs[size_t(i)].msg_hdr.msg_iov = &b.iov[size_t(i)];
      b.msgs[size_t(i)].msg_hdr.msg_iovlen = 1;
      b.msgs[size_t(i)].msg_hdr.msg_name = &b.from[size_t(i)];
      b.msgs[size_t(i)].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    int n = ::recvmmsg(fd, b.msgs.data(), kDrainBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;  // would block (or the socket closed): nothing more now
    for (int i = 0; i < n; ++i) {
      udp::endpoint from;
      const socklen_t len = b.msgs[size_t(i)].msg_hdr.msg_namelen;
      if (len > from.capacity()) continue;
      std::memcpy(from.data(), &b.from[size_t(i)], len);
      from.resize(len);
      heard_from(from, std::span<const uint8_t>(b.data[size_t(i)].data(), b.msgs[size_t(i)].msg_len));
    }
    if (n < kDrainBatch) break;
  }
  // RTCP comes every few seconds: looked at on every tenth tick only.
  if (++rtcp_poll_ % 10 != 0 || !stream_) return;
  for (int k = 0; k < kMaxDrain; ++k) {
    std::error_code ec;
    size_t n = rtcp_->s.receive_from(asio::buffer(rtcp_->buf), rtcp_->from, 0, ec);
    if (ec) break;
    if (rtcp_->from.address() != remote_.address()) continue;
    if (rtcp_remote_ && rtcp_->from != *rtcp_remote_) continue;
    if (latched_ && !rtcp_remote_) rtcp_remote_ = rtcp_->from;  // RTCP's own source behind the NAT
    stream_->receive(std::span<const uint8_t>(rtcp_->buf.data(), n), uint32_t(audio_ms_) * 8);
  }
}

bool MediaSession::receive(std::span<const uint8_t> d) {
  if (kind_ == Kind::t38 && dec_) {
    const auto malformed = dec_->stats().malformed;
    for (const auto& ifp : dec_->receive(d)) {
      if (!t38_terminal_) break;
      t38_terminal_->receive_ifp(ifp.data, ifp.seq);
    }
    check_finished();
    return dec_ && dec_->stats().malformed == malformed;
  }
  if (kind_ == Kind::audio && stream_) {
    if (d.size() < 12 || (d[0] >> 6) != 2) return false;
    since_audio_ = {};
    auto heard = stream_->receive(d, uint32_t(audio_ms_) * 8);
    if (heard && rfc4733::is_fax_event(heard->event) && events_.detected) {
      events_.detected(Detection{Detection::By::rfc4733, std::string(rfc4733::name(heard->event)), audio_ms_});
    }
    return true;
  }
  return false;
}

void MediaSession::tick(Clock::time_point now) {
  if (kind_ == Kind::none) return;
  if (last_tick_ == Clock::time_point{}) last_tick_ = now - std::chrono::milliseconds(kTickMs);
  int elapsed = int(std::chrono::duration_cast<std::chrono::milliseconds>(now - last_tick_).count());
  if (elapsed <= 0) return;
  last_tick_ += std::chrono::milliseconds(elapsed);
  max_tick_ms_ = std::max(max_tick_ms_, elapsed);
  if (elapsed > kMaxTickMs) {
    lost_ms_ += elapsed - kMaxTickMs;
    // Audio for that time is never sent: the peer is told by the timestamps (a gap, not a shift).
    if (kind_ == Kind::audio && stream_) stream_->skip(uint32_t(elapsed - kMaxTickMs) * 8);
    elapsed = kMaxTickMs;
  }
  if (kind_ == Kind::t38) {
    if (t38_terminal_) t38_terminal_->tick(elapsed);
  } else {
    tick_audio(elapsed);
  }
  check_finished();
}

void MediaSession::tick_audio(int ms) {
  drain();
  const size_t n = size_t(ms) * 8;
  heard_.resize(n);
  sent_.resize(n);
  stream_->play(heard_, &gaps_);
  if (detector_) {
    if (auto tone = detector_->process(heard_); tone && events_.detected) {
      events_.detected(Detection{Detection::By::tone, std::string(fax::name(*tone)), audio_ms_});
    }
  }
  if (audio_terminal_) {
    missing_.clear();
    for (const auto& g : gaps_) missing_.push_back({g.offset, g.length});
    audio_terminal_->process(heard_, sent_, missing_);
  } else {
    std::fill(sent_.begin(), sent_.end(), int16_t(0));  // listening: the line stays open, silent
  }
  std::error_code ec;
  for (auto& p : stream_->send(sent_)) {
    if (send_audio_) socket_->s.send_to(asio::buffer(p), remote_, 0, ec);
  }
  audio_ms_ += ms;
  rtcp_due_ms_ -= ms;
  if (rtcp_due_ms_ <= 0) {
    rtcp_due_ms_ = rtp::kRtcpIntervalMs;
    auto r = stream_->rtcp(ntp_now());
    rtcp_->s.send_to(asio::buffer(r), rtcp_to(), 0, ec);
  }
  since_audio_ += std::chrono::milliseconds(ms);
  if (audio_terminal_ && !audio_terminal_->finished() && since_audio_ >= audio_idle_) {
    aborted_ = false;  // the far end went away: a failure of the call, not our decision
    audio_terminal_->abort("the far end stopped sending audio (" + std::to_string(audio_idle_.count() / 1000) +
                           " s without a packet)");
  }
}

std::string MediaSession::stats() const {
  if (!stream_) return "";
  auto s = stream_->stats();
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "audio: %llu packets in, %llu out, %llu late, %llu ms missing, %llu/%llu samples slipped, %llu resyncs, "
                "%llu malformed, ticks up to %d ms, %d ms lost",
                (unsigned long long)s.rtp.received, (unsigned long long)s.sent,
                (unsigned long long)s.playout.late, (unsigned long long)(s.playout.silence / 8),
                (unsigned long long)s.playout.inserted, (unsigned long long)s.playout.skipped,
                (unsigned long long)s.playout.resyncs,
                (unsigned long long)(s.rtp.malformed + s.bad_events + s.bad_red), max_tick_ms_, lost_ms_);
  return buf;
}

void MediaSession::end_terminal(bool aborted) {
  FaxOutcome out;
  out.result = terminal_->result();
  out.aborted = aborted;
  out.generation = generation_;
  // The whole call's pages: what earlier terminals had confirmed, then this one's.
  out.result.restarts = carried_.restarts;
  if (terminal_->options().transmit && carried_.pages > 0) {
    out.result.pages += carried_.pages;
    out.result.pages_total += carried_.pages;
    out.result.page.insert(out.result.page.begin(), carried_.page.begin(), carried_.page.end());
  }
  out.media_stats = stats();
  const bool receiving = !terminal_->options().transmit;
  terminal_.reset();  // spandsp closes the file (or deletes it when no page came)
  audio_terminal_ = nullptr;
  t38_terminal_ = nullptr;
  if (receiving && writer_ && !rx_path_.empty()) {
    // The end is reported once every page is on disk, from this thread.
    writer_->finish(std::exchange(rx_path_, std::string()),
                    [self = shared_from_this(), out](int, std::string error) mutable {
                      asio::post(self->thread_.io(), [self, out = std::move(out), error = std::move(error)]() mutable {
                        if (self->closed_ || !self->events_.finished) return;
                        out.write_error = error;
                        self->events_.finished(out);
                      });
                    });
    return;
  }
  if (events_.finished) events_.finished(out);
}

void MediaSession::check_finished() {
  if (!terminal_ || !terminal_->finished()) return;
  end_terminal(aborted_);
}

}  // namespace gateway
