// media_thread.cpp — the media sessions' tick (see media_thread.hpp).
#include "gateway/media_thread.hpp"

#include <vector>

#include "gateway/media_session.hpp"

namespace gateway {

using Clock = std::chrono::steady_clock;

void MediaThread::start() {
  asio::post(io_, [this] {
    if (running_) return;
    running_ = true;
    next_tick_ = Clock::now();
    tick();
  });
}

void MediaThread::stop() {
  asio::post(io_, [this] {
    running_ = false;
    ticker_.cancel();
  });
}

void MediaThread::add(std::shared_ptr<MediaSession> s) {
  if (s->phase_ >= 0) return;
  s->phase_ = next_phase_;
  next_phase_ = (next_phase_ + 1) % kTickPhases;
  sessions_[s->phase_].emplace(s.get(), std::move(s));
  ++count_;
}

void MediaThread::remove(const MediaSession* s) {
  if (s->phase_ < 0) return;
  if (sessions_[s->phase_].erase(s)) --count_;
}

void MediaThread::tick() {
  if (!running_) return;
  auto now = Clock::now();
  phase_ = (phase_ + 1) % kTickPhases;
  std::vector<std::shared_ptr<MediaSession>> group;
  group.reserve(sessions_[phase_].size());
  for (const auto& [raw, s] : sessions_[phase_]) group.push_back(s);
  for (auto& s : group) s->tick(now);
  next_tick_ = std::max(next_tick_ + std::chrono::milliseconds(kTickMs / kTickPhases), Clock::now());
  ticker_.expires_at(next_tick_);
  ticker_.async_wait([this](std::error_code ec) {
    if (!ec) tick();
  });
}

}  // namespace gateway
