// playout.hpp — a playout buffer made for fax modems on G.711, sans I/O: samples received with
// their RTP timestamps go in, exactly 8000 samples a second come out on our own clock.
//
// Why not a voice jitter buffer: a modem's carrier must never be cut. A voice buffer stretches,
// shrinks and interpolates to keep latency low; each such slip inside a page breaks the modem's
// timing recovery and the page fails ("long faxes fail" in the field: ../shared/specs/t38-sip.md,
// clock skew). So:
//   - the delay is fixed (delay_ms after the first packet); a packet is placed by its timestamp,
//     so jitter up to the delay changes nothing;
//   - a lost or late packet becomes silence (zeros), never interpolated sound, and get() names
//     these gaps: a modem is then told that samples are missing (spandsp's fill-in keeps its
//     carrier and symbol timing running through the gap) instead of hearing a dropout that
//     drops its carrier; what the gap carried is lost and ECM repairs it;
//   - a peer whose sample clock differs from ours (±200 ppm: 0.2 ms a second) slowly fills or
//     drains the buffer. The level is watched; when it reaches low_ms or high_ms the buffer is
//     brought back to delay_ms by inserting or skipping silence, and only where the line is quiet
//     (quiet_ms of silence heard and the next samples silent too): between pages and T.30 signals,
//     never inside a carrier. With the defaults a page may last (delay_ms - jitter) / 0.2 ms a
//     second = 250-300 s of continuous carrier from a slow peer before the buffer runs dry (and
//     (capacity_ms - delay_ms) / 0.2 from a fast one), far beyond a page at 2400 bit/s.
//   - a timestamp that jumps (a new source, a peer restarting its stream) re-anchors at once;
//   - a stream that fell behind (its sender stalled and went on with contiguous timestamps: every
//     packet now comes after its playout time) is placed again at delay_ms once resync_ms of
//     packets in a row came late. One slip where the audio was already broken, instead of the
//     rest of the call played as silence. A late packet among punctual ones is only dropped.
// STANDARDS: RFC 3550 §5.1 (timestamps in samples, wrapping at 2^32), RFC 3551 (8000 Hz),
// ITU-T T.30 §5.1 (at least 75 ms of silence between signals: where slips go).
// LIMITS: capacity_ms of audio held; anything further ahead is a jump.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace playout {

struct Config {
  int delay_ms = 80;
  int low_ms = 30;       // at or below: insert silence in the next quiet stretch
  int high_ms = 130;     // at or above: skip silence in the next quiet stretch
  int capacity_ms = 1500;  // above the media thread's 1 s catch-up (gateway/media_thread.hpp) plus the delay
  int resync_ms = 60;    // late packets in a row covering this much: place the stream again
  int quiet_ms = 30;     // silence heard before a slip may be made
  int quiet_level = 64;  // |sample| at or below it is silence (about -50 dBm0)
};

struct Stats {
  uint64_t late = 0;       // packets (or their parts) that came after their playout time
  uint64_t silence = 0;    // samples missing once the stream had started (lost, late or a dry buffer)
  uint64_t inserted = 0;   // samples of silence inserted to absorb a slow peer clock
  uint64_t skipped = 0;    // samples of silence skipped to absorb a fast peer clock
  uint64_t jumps = 0;      // re-anchored after a timestamp jump
  uint64_t resyncs = 0;    // placed again after resync_ms of late packets in a row
};

// A run of samples get() played as silence because nothing had arrived for them.
struct Gap {
  size_t offset = 0;  // into get()'s output
  size_t length = 0;
};

class Buffer {
 public:
  explicit Buffer(Config cfg = {});
  // `redundant`: a copy of audio that may have come before (RFC 2198): it fills only what is
  // missing, is never late, and never moves the stream.
  void put(uint32_t timestamp, std::span<const int16_t> samples, bool redundant = false);
  // The next samples; `gaps` (when given) is set to the runs that were missing.
  void get(std::span<int16_t> out, std::vector<Gap>* gaps = nullptr);
  // Samples buffered ahead of the playout point (what has arrived and not yet been played).
  int level() const;
  const Stats& stats() const { return stats_; }

 private:
  int64_t extend(uint32_t ts);
  bool quiet_ahead(int samples) const;
  size_t slip(std::span<int16_t> out);
  int16_t& at(int64_t pos) { return ring_[size_t(pos % int64_t(ring_.size()))]; }
  int16_t at(int64_t pos) const { return ring_[size_t(pos % int64_t(ring_.size()))]; }
  void anchor(int64_t ext);

  Config cfg_;
  std::vector<int16_t> ring_;
  std::vector<uint8_t> have_;  // 1 where a sample arrived
  bool anchored_ = false;
  int64_t last_ext_ = 0;     // the last timestamp, extended to 64 bits
  int64_t offset_ = 0;       // stream position of timestamp t = t + offset_
  int64_t read_ = 0;         // the next position played
  int64_t written_ = 0;      // one past the furthest position written
  int64_t first_ = 0;        // where the stream's first packet was placed
  int quiet_run_ = 0;        // samples of silence just played
  int64_t late_run_ = 0;     // samples of the late packets since the last punctual one
  Stats stats_;
};

}  // namespace playout
