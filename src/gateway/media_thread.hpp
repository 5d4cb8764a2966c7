// media_thread.hpp — a thread (or the caller's own io_context) that runs media sessions and
// their 20 ms T.30 clock.
//
// Every session is advanced by the real time since its own last tick (the T.30 clock follows
// real time even when a tick starts late: the far end's packets and timers do), in kTickPhases
// interleaved groups, one group every 20/kTickPhases ms, so that hundreds of calls do not all
// send their packets in the same instant. A late tick advances by at most kMaxTickMs: a stall up
// to that long is made up with real samples (the audio sent keeps to the wall clock, so the far
// end hears a late burst, not a stream shifted for the rest of the call); beyond it the time is
// lost, and an audio stream's timestamps skip over it.
// THREADS: add()/remove() and tick() run on the thread's io_context only.
// MediaPool: [sip] media_threads threads (default: one per core), each with its own io_context
// and MediaThread; new calls go to them in turn. Each call's transport,
// terminal and T.30 live on one thread, so calls spread over every core and SIP signalling keeps
// its own. The threads ask for a higher priority than the rest of the node (nice -10, when the
// process may): call timing must not wait behind rendering, OCR or delivery.
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
inline constexpr int kMaxTickMs = 1000;

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

class MediaPool {
 public:
  explicit MediaPool(int threads);  // 0: one per core
  ~MediaPool();
  void start();
  void stop();  // stops ticking and joins the threads
  MediaThread& pick();
  size_t size() const { return threads_.size(); }

 private:
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<std::unique_ptr<MediaThread>> threads_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> workers_;
  std::atomic<size_t> next_{0};
  bool running_ = false;
};

}  // namespace gateway
