// media_session.hpp — the media half of a fax call: a transport and a fax terminal, living on one
// media thread (media_thread.hpp). Call control (fax_calls.hpp) creates a session when it needs a
// media port, starts the fax once SDP is agreed, follows a moved stream, and ends it; the session
// reports pages and the end of the fax back through MediaEvents.
//
// STANDARDS: ITU-T T.38 over UDPTL (media/udptl.hpp: redundancy or FEC toward the peer's
// T38FaxMaxDatagram, reordering and recovery on receive), ITU-T T.30 (fax/terminal.hpp).
// Media is taken only from the address the SDP names (symmetric latching is issue 13's).
// THREADS: every public member may be called from any thread; it posts to the session's media
// thread, where the socket, the UDPTL codec and the terminal live (spandsp has no locking).
// MediaEvents are called on the media thread: the owner posts them to its own thread.
// LIFECYCLE: open() binds the socket; start_t38() starts the terminal; it ends by itself or by
// abort(), after which `finished` is reported exactly once with the result (the terminal is
// destroyed first, so a received file is closed by then); close() ends the session: no event
// follows it. A session that is never started reports nothing.
// LIMITS: kMaxDatagram octets per received datagram; ports from a PortRange.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <asio.hpp>

#include "fax/t38_terminal.hpp"
#include "media/udptl.hpp"

namespace gateway {

class MediaThread;

inline constexpr size_t kMaxDatagram = 4096;

// Media ports handed out in turn from [min, max], shared by every media thread.
class PortRange {
 public:
  PortRange(int min, int max) : min_(min), max_(max), next_(min) {}
  // Binds `s` (opened) on `addr` at the next free port; 0 when every port is taken.
  uint16_t bind(asio::ip::udp::socket& s, const asio::ip::address& addr);
  int min() const { return min_; }
  int max() const { return max_; }

 private:
  int min_, max_;
  std::mutex mu_;
  int next_;
};

struct MediaEvents {
  std::function<void(int pages)> page;               // one more page confirmed (tx) or received (rx)
  // The fax ended (the terminal is gone); `aborted`: by abort(), not by itself.
  std::function<void(const fax::Result&, bool aborted)> finished;
};

struct T38Start {
  fax::Options fax;
  fax::T38Config t38;
  udptl::EncoderConfig udptl;
  asio::ip::udp::endpoint remote;
};

class MediaSession : public std::enable_shared_from_this<MediaSession> {
 public:
  // A session with a socket bound on `ip` at a port from `ports`; nullptr when none is free or
  // the address is unusable.
  static std::shared_ptr<MediaSession> open(MediaThread& thread, const std::string& ip, PortRange& ports,
                                            MediaEvents events);
  ~MediaSession();
  uint16_t port() const { return port_; }
  const std::string& ip() const { return ip_; }

  void start_t38(T38Start s);
  void set_remote(asio::ip::udp::endpoint remote);  // the peer moved its stream
  void abort(std::string reason);
  void close();

 private:
  friend class MediaThread;
  MediaSession(MediaThread& thread, std::string ip);
  // On the media thread:
  void read();
  void tick(std::chrono::steady_clock::time_point now);
  void check_finished();
  bool live() const { return terminal_ != nullptr; }

  MediaThread& thread_;
  std::string ip_;
  uint16_t port_ = 0;
  asio::ip::udp::socket socket_;
  MediaEvents events_;
  std::array<uint8_t, kMaxDatagram> buf_{};
  asio::ip::udp::endpoint from_;
  asio::ip::udp::endpoint remote_;
  std::optional<udptl::Encoder> enc_;
  udptl::Decoder dec_;
  std::unique_ptr<fax::T38Terminal> terminal_;
  std::chrono::steady_clock::time_point last_tick_{};  // the T.30 clock's position
  int phase_ = -1;  // its tick group in the thread, -1 when not ticked
  bool aborted_ = false;
  bool closed_ = false;
};

}  // namespace gateway
