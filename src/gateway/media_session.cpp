// media_session.cpp — a fax call's transport and terminal on its media thread (see media_session.hpp).
#include "gateway/media_session.hpp"

#include <algorithm>

#include "gateway/media_thread.hpp"

namespace gateway {

using asio::ip::udp;
using Clock = std::chrono::steady_clock;

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

MediaSession::MediaSession(MediaThread& thread, std::string ip) : thread_(thread), ip_(std::move(ip)), socket_(thread.io()) {}

MediaSession::~MediaSession() = default;

std::shared_ptr<MediaSession> MediaSession::open(MediaThread& thread, const std::string& ip, PortRange& ports,
                                                 MediaEvents events) {
  std::error_code ec;
  auto addr = asio::ip::make_address(ip, ec);
  if (ec) return nullptr;
  std::shared_ptr<MediaSession> s(new MediaSession(thread, ip));
  s->socket_.open(addr.is_v4() ? udp::v4() : udp::v6(), ec);
  if (ec) return nullptr;
  s->port_ = ports.bind(s->socket_, addr);
  if (!s->port_) return nullptr;
  s->socket_.non_blocking(true);
  s->events_ = std::move(events);
  return s;
}

void MediaSession::start_t38(T38Start st) {
  asio::post(thread_.io(), [self = shared_from_this(), st = std::move(st)]() mutable {
    if (self->closed_ || self->terminal_) return;
    self->remote_ = st.remote;
    self->enc_.emplace(st.udptl);
    fax::Options o = std::move(st.fax);
    std::weak_ptr<MediaSession> weak = self;
    o.on_page = [weak](int pages) {
      if (auto s = weak.lock(); s && s->events_.page) s->events_.page(pages);
    };
    MediaSession* raw = self.get();
    self->terminal_ = std::make_unique<fax::T38Terminal>(o, st.t38, [raw](std::span<const uint8_t> ifp, int copies) {
      if (!raw->enc_ || raw->closed_) return;
      for (int i = 0; i < copies; ++i) {
        auto d = raw->enc_->next(ifp);
        std::error_code e;
        raw->socket_.send_to(asio::buffer(d), raw->remote_, 0, e);
      }
    });
    self->last_tick_ = {};
    self->thread_.add(self);
    self->read();
    self->check_finished();  // a terminal that could not be created
  });
}

void MediaSession::set_remote(udp::endpoint remote) {
  asio::post(thread_.io(), [self = shared_from_this(), remote] { self->remote_ = remote; });
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
  asio::post(thread_.io(), [self = shared_from_this()] {
    self->closed_ = true;
    self->terminal_.reset();  // no event: the owner has left
    std::error_code ec;
    self->socket_.close(ec);
    self->thread_.remove(self.get());
    self->events_ = {};
  });
}

void MediaSession::read() {
  socket_.async_receive_from(asio::buffer(buf_), from_, [self = shared_from_this()](std::error_code ec, size_t n) {
    if (ec == asio::error::operation_aborted || self->closed_ || !self->terminal_) return;
    if (!ec && self->from_.address() == self->remote_.address()) {
      for (const auto& ifp : self->dec_.receive(std::span<const uint8_t>(self->buf_.data(), n))) {
        if (!self->terminal_) break;
        self->terminal_->receive_ifp(ifp.data, ifp.seq);
      }
      self->check_finished();
    }
    if (self->terminal_) self->read();
  });
}

void MediaSession::tick(Clock::time_point now) {
  if (!terminal_) return;
  if (last_tick_ == Clock::time_point{}) last_tick_ = now - std::chrono::milliseconds(kTickMs);
  int elapsed = int(std::chrono::duration_cast<std::chrono::milliseconds>(now - last_tick_).count());
  if (elapsed <= 0) return;
  last_tick_ += std::chrono::milliseconds(elapsed);
  terminal_->tick(std::min(elapsed, kMaxTickMs));
  check_finished();
}

void MediaSession::check_finished() {
  if (!terminal_ || !terminal_->finished()) return;
  fax::Result r = terminal_->result();
  terminal_.reset();  // spandsp closes the file (or deletes it when no page came)
  thread_.remove(this);
  if (events_.finished) events_.finished(r, aborted_);
}

}  // namespace gateway
