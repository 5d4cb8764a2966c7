// media_thread.cpp — the media sessions' tick (see media_thread.hpp).
#include "gateway/media_thread.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

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

MediaPool::MediaPool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) {
    ios_.push_back(std::make_unique<asio::io_context>(1));
    threads_.push_back(std::make_unique<MediaThread>(*ios_.back()));
  }
}

MediaPool::~MediaPool() { stop(); }

void MediaPool::start() {
  if (running_) return;
  running_ = true;
  for (size_t i = 0; i < ios_.size(); ++i) {
    guards_.push_back(asio::make_work_guard(*ios_[i]));
    threads_[i]->start();
    workers_.emplace_back([this, i] {
      std::string name = "fb-media-" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      // Above the converter and delivery work; refused without the privilege, which is fine.
      setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), -10);
      ios_[i]->run();
    });
  }
}

void MediaPool::stop() {
  if (!running_) return;
  running_ = false;
  for (auto& t : threads_) t->stop();
  guards_.clear();
  for (auto& io : ios_) io->stop();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

MediaThread& MediaPool::pick() { return *threads_[next_++ % threads_.size()]; }

}  // namespace gateway
