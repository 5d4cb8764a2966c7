// media_thread.hpp — a thread (or the caller's own io_context) that runs media sessions and
// their 20 ms T.30 clock.
//
// Every session is advanced by the real time since its own last tick (the T.30 clock follows
// real time even when a tick starts late: the far end's packets and timers do), in kTickPhases
// interleaved groups, one group every 20/kTickPhases ms, so that hundreds of calls do not all
// send their packets in the same instant. A late tick advances by at most kMaxTickMs.
// THREADS: add()/remove() and tick() run on the thread's io_context only.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <map>

#include <asio.hpp>

namespace gateway {

class MediaSession;

inline constexpr int kTickMs = 20;
inline constexpr int kTickPhases = 4;
inline constexpr int kMaxTickMs = 200;

class MediaThread {
 public:
  explicit MediaThread(asio::io_context& io) : io_(io), ticker_(io) {}
  asio::io_context& io() { return io_; }
  void start();  // any thread
  void stop();   // any thread: sessions stop being ticked
  size_t sessions() const { return count_.load(); }

 private:
  friend class MediaSession;
  void add(std::shared_ptr<MediaSession> s);  // on the thread
  void remove(const MediaSession* s);         // on the thread
  void tick();

  asio::io_context& io_;
  asio::steady_timer ticker_;
  std::map<const MediaSession*, std::shared_ptr<MediaSession>> sessions_[kTickPhases];
  std::atomic<size_t> count_{0};
  std::chrono::steady_clock::time_point next_tick_{};
  int phase_ = 0;
  int next_phase_ = 0;  // the group a new session joins
  bool running_ = false;
};

}  // namespace gateway
