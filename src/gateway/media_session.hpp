// media_session.hpp — the media half of a fax call: a transport (G.711 over RTP, or T.38 over
// UDPTL) and a fax terminal (spandsp's audio fax_state or t38_terminal), living on one media
// thread (media_thread.hpp). Either half can be replaced during the call: an audio call that turns
// out to be a fax gets a terminal; an audio fax moves to T.38 after a re-INVITE (a fresh T.38
// terminal on a new port: T.30 state cannot be carried over) and back to audio when T.38 fails.
// Call control (fax_calls.hpp) owns the SIP side and tells the session what the SDP agreed.
//
// STANDARDS: ITU-T T.38 over UDPTL (media/udptl.hpp), RTP/G.711 with RFC 4733 events and RFC
// 2198 redundancy (media/audio_stream.hpp), RTCP on the next port (RFC 3550 §11), ITU-T T.30
// (fax/terminal.hpp), fax detection by tone (fax/connect_tones.hpp) or telephone-event.
// A switch of terminals mid-fax: the new terminal starts T.30 from phase A. For a sender, the
// pages the far end already confirmed are not sent again (the new terminal starts after them and
// the page counts stay those of the whole call); the result counts each restart after phase B
// (fax::Result::restarts) so the job can say so. A receiver is never switched once a page arrived
// (fax_calls.cpp refuses that offer), so its file is never written twice.
// Symmetric latching (NAT traversal as rtpproxy and Asterisk's nat=yes do it): until the first
// authentic packet (RTP version 2 with a negotiated payload type; a UDPTL datagram that decodes)
// media is taken from the SDP's address or any such packet; the session then sends to the first
// one's source, address and port, and hears only that source (a NAT that advertises its public
// address still picks its own ports) — except that a packet from the SDP's own address always
// wins (except once it latched on the SDP's own address and port: then another port of that host
// is a stale stream, not heard; latched on another port of it, a NAT'd peer, a new port is
// followed only after kRemapQuiet without a packet from the old one), and a stranger never
// latches once something did, nor from the address a re-INVITE just replaced. A peer whose RTP
// leaves from another port than the one it receives on (asymmetric RTP) needs latching off (open(..., latch = false): a trunk's latch_media). A re-INVITE that
// moves the stream (update_audio, set_remote) latches again; RTCP latches on its own first packet
// from the latched address. A UDPTL stream the SDP moved starts its sequence anew.
// A far end that sends no RTP for `idle_timeout` while an audio terminal runs ends the fax ("the
// far end stopped sending audio"); a T.38 terminal has its own idle timeout.
// THREADS: every public member may be called from any thread; it posts to the session's media
// thread, where the sockets, codecs and terminal live (spandsp has no locking). open() and
// prepare() bind their sockets on the caller's thread. MediaEvents are called on the media
// thread: the owner posts them to its own.
// LIFECYCLE: open(); start_audio()/start_t38(); finished is reported once per terminal (after it
// was destroyed, so a received file is closed by then), also after abort(); close() ends the
// session and no event follows it.
// DIAGNOSTICS: the finished event carries the audio stream's figures (packets, loss, late,
// silence, slips) for the call's log line.
// LIMITS: kMaxDatagram octets per received datagram; ports from a PortRange (RTP even, RTCP +1).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <asio.hpp>

#include "fax/audio_fax.hpp"
#include "fax/connect_tones.hpp"
#include "fax/t38_terminal.hpp"
#include "media/audio_stream.hpp"
#include "media/udptl.hpp"

namespace gateway {

class MediaThread;
class PageWriter;

inline constexpr size_t kMaxDatagram = 4096;
// A NAT'd peer's stream moves to another port of its address only after this long quiet.
inline constexpr std::chrono::milliseconds kRemapQuiet{300};
inline constexpr int kMaxDrain = 64;  // datagrams read per socket and tick (a G.711 call brings ~1-10)
inline constexpr int kDrainBatch = 16;  // datagrams per recvmmsg

// Media ports handed out in turn from [min, max], shared by every media thread.
class PortRange {
 public:
  // The first port is drawn at random in the range, as Asterisk does: a restarted node, or
  // another on the same host, does not take first the ports whose late packets may still arrive.
  PortRange(int min, int max);
  // Binds `s` (opened) on `addr` at the next free port; 0 when every port is taken.
  uint16_t bind(asio::ip::udp::socket& s, const asio::ip::address& addr);
  // An even port for RTP in `rtp` and the next one for RTCP in `rtcp`; 0 when no pair is free.
  uint16_t bind_pair(asio::ip::udp::socket& rtp, asio::ip::udp::socket& rtcp, const asio::ip::address& addr);
  int min() const { return min_; }
  int max() const { return max_; }

 private:
  int min_, max_;
  std::mutex mu_;
  int next_;
};

struct Detection {
  enum class By { tone, rfc4733 } by = By::tone;
  std::string what;  // "CNG", "CED", "ANSam", "V.21 preamble"
  int after_ms = 0;  // since the audio began
};

struct FaxOutcome {
  fax::Result result;      // pages and page counts of the whole call
  std::string write_error;  // a received page could not be written (page_writer.hpp)
  bool aborted = false;    // ended by abort(), not by itself
  uint64_t generation = 0;  // the start_* whose terminal this was
  std::string media_stats;  // the audio stream's figures, "" for T.38 only
};

struct MediaEvents {
  std::function<void(int pages)> page;  // pages confirmed (tx) or received (rx) so far in the call
  std::function<void(const FaxOutcome&)> finished;
  std::function<void(const Detection&)> detected;  // a fax sign heard in the audio (each kind once)
};

struct AudioStart {
  uint16_t port = 0;               // a port from prepare() to move to; 0 stays on the current one
  uint64_t generation = 0;         // names this start's terminal in its FaxOutcome
  audio::StreamConfig stream;
  asio::ip::udp::endpoint remote;  // RTP; RTCP goes to the next port
  bool send = true;                // the peer receives (not held, not sendonly toward us)
  bool detect = true;              // listen for fax tones and events
  std::optional<fax::Options> fax; // a terminal now, or later by start_fax()
  std::chrono::milliseconds idle_timeout{15000};
};

struct T38Start {
  uint16_t port = 0;        // as AudioStart
  uint64_t generation = 0;
  fax::Options fax;
  fax::T38Config t38;
  udptl::EncoderConfig udptl;
  asio::ip::udp::endpoint remote;
};

class MediaSession : public std::enable_shared_from_this<MediaSession> {
 public:
  // A session with an RTP/RTCP socket pair bound on `ip`; nullptr when no port is free or the
  // address is unusable.
  // `writer`, when given, writes received pages off this thread (page_writer.hpp).
  // `sdp_ip` ("" = `ip`) is the address our SDP names (ip()): [sip] advertise, or the address
  // toward the peer when `ip` is a wildcard.
  // `latch` false ([[trunk]] latch_media = false): media goes to the SDP's address only and is
  // heard from that host on any port (a peer with asymmetric RTP).
  static std::shared_ptr<MediaSession> open(MediaThread& thread, const std::string& ip, PortRange& ports,
                                            MediaEvents events, PageWriter* writer = nullptr,
                                            const std::string& sdp_ip = "", bool latch = true);
  ~MediaSession();
  uint16_t port() const { return port_; }  // the first port (the one open() bound)
  const std::string& ip() const { return ip_; }

  // A socket for the next media (a switch to T.38 or back to audio), bound now: its port for the
  // SDP, 0 when none is free. The start_* naming that port moves to it; cancel_prepared(port)
  // gives it back.
  uint16_t prepare();
  void cancel_prepared(uint16_t port);

  void start_audio(AudioStart a);
  void start_t38(T38Start s);
  void start_fax(fax::Options o, uint64_t generation);  // a terminal on the audio now flowing
  // A re-INVITE moved or held the audio, or renumbered its payload types (the stream goes on).
  void update_audio(asio::ip::udp::endpoint remote, bool send, audio::StreamConfig cfg);
  void set_remote(asio::ip::udp::endpoint remote);                // a re-INVITE moved the T.38 stream
  void set_detect(bool on);  // listen for fax signs in the audio (or stop: it costs DSP time)
  void abort(std::string reason);
  void close();

 private:
  friend class MediaThread;
  enum class Kind { none, audio, t38 };
  MediaSession(MediaThread& thread, std::string ip);
  // On the media thread:
  void use_prepared(uint16_t port);
  void read();
  void drain();
  bool receive(std::span<const uint8_t> d);  // true: an authentic packet
  bool heard_from(const asio::ip::udp::endpoint& from, std::span<const uint8_t> d);  // latching
  void tick(std::chrono::steady_clock::time_point now);
  void tick_audio(int ms);
  void new_terminal(fax::Options o, bool t38, const fax::T38Config& cfg, uint64_t generation);
  void end_terminal(bool aborted);
  void check_finished();
  std::string stats() const;

  MediaThread& thread_;
  std::string ip_;       // in our SDP
  std::string bind_ip_;  // the sockets' address
  uint16_t port_ = 0;
  PortRange* ports_ = nullptr;
  PageWriter* writer_ = nullptr;
  std::string rx_path_;  // a receiving terminal's file, written by writer_
  // A socket with its own receive buffer (a read still completing on a replaced socket must not
  // write into the new one's).
  struct Sock {
    explicit Sock(asio::io_context& io) : s(io) {}
    asio::ip::udp::socket s;
    std::array<uint8_t, kMaxDatagram> buf{};
    asio::ip::udp::endpoint from;
    bool reading = false;
  };
  std::shared_ptr<Sock> socket_, rtcp_;  // the media now
  // Prepared for the next media, by port: set on the caller's thread, taken on the media thread.
  std::map<uint16_t, std::pair<std::shared_ptr<Sock>, std::shared_ptr<Sock>>> prepared_;
  std::mutex prepared_mu_;
  MediaEvents events_;
  Kind kind_ = Kind::none;
  asio::ip::udp::endpoint remote_;
  asio::ip::udp::endpoint sdp_remote_;   // what the SDP said (remote_ until latched)
  bool latched_ = false;
  std::chrono::steady_clock::time_point heard_at_{};  // the latched source's last packet
  bool latch_ = true;  // false: send to the SDP's address, hear its host from any port
  std::optional<asio::ip::address> replaced_;  // the remote a re-INVITE moved away from
  std::optional<asio::ip::udp::endpoint> rtcp_remote_;  // RTCP's own latched source
  std::vector<uint8_t> audio_pts_;       // payload types that make an RTP packet authentic
  void set_media_remote(const asio::ip::udp::endpoint& remote);
  asio::ip::udp::endpoint rtcp_to() const {
    return rtcp_remote_ ? *rtcp_remote_ : asio::ip::udp::endpoint(remote_.address(), uint16_t(remote_.port() + 1));
  }
  // T.38
  std::optional<udptl::Encoder> enc_;
  std::optional<udptl::Decoder> dec_;
  // Audio
  std::optional<audio::Stream> stream_;
  std::unique_ptr<fax::ToneDetector> detector_;
  bool send_audio_ = true;
  std::chrono::milliseconds audio_idle_{15000};
  std::chrono::milliseconds since_audio_{0};
  int audio_ms_ = 0;         // since the audio began
  int rtcp_due_ms_ = 0;
  unsigned rtcp_poll_ = 0;  // ticks, for reading RTCP now and then
  std::vector<int16_t> heard_, sent_;
  std::vector<playout::Gap> gaps_;
  std::vector<fax::AudioTerminal::Missing> missing_;
  // The terminal
  std::unique_ptr<fax::Terminal> terminal_;
  fax::AudioTerminal* audio_terminal_ = nullptr;
  fax::T38Terminal* t38_terminal_ = nullptr;
  fax::Result carried_;      // what earlier terminals of this call achieved (a sender's pages)
  bool aborted_ = false;
  uint64_t generation_ = 0;  // of the terminal now
  std::chrono::steady_clock::time_point last_tick_{};  // the T.30 clock's position
  int phase_ = -1;  // its tick group in the thread, -1 when not ticked
  int max_tick_ms_ = 0;  // the longest gap between two ticks (a thread that fell behind)
  int lost_ms_ = 0;      // time beyond kMaxTickMs the clock could not make up
  bool closed_ = false;
};

}  // namespace gateway
