// playout.cpp — the modem playout buffer (see playout.hpp).
#include "media/playout.hpp"

#include <algorithm>
#include <cstdlib>

namespace playout {
namespace {
constexpr int kSamplesPerMs = 8;
}

Buffer::Buffer(Config cfg)
    : cfg_(cfg), ring_(size_t(cfg.capacity_ms * kSamplesPerMs), 0), have_(ring_.size(), 0) {}

int64_t Buffer::extend(uint32_t ts) {
  if (!anchored_) return ts;
  return last_ext_ + int32_t(ts - uint32_t(last_ext_));
}

void Buffer::anchor(int64_t ext) {
  std::fill(ring_.begin(), ring_.end(), 0);
  std::fill(have_.begin(), have_.end(), 0);
  anchored_ = true;
  last_ext_ = ext;
  offset_ = read_ + int64_t(cfg_.delay_ms) * kSamplesPerMs - ext;
  written_ = read_;
  first_ = read_ + int64_t(cfg_.delay_ms) * kSamplesPerMs;
  late_run_ = 0;
}

int Buffer::level() const { return int(std::max<int64_t>(0, written_ - read_)); }

void Buffer::put(uint32_t timestamp, std::span<const int16_t> samples, bool redundant) {
  const int64_t cap = int64_t(ring_.size());
  if (samples.empty() || int64_t(samples.size()) > cap) return;
  if (redundant) {
    if (!anchored_) return;
    int64_t pos = extend(timestamp) + offset_;
    // Only the part that is neither played yet nor beyond the buffer; what arrived stays.
    const int64_t from = std::max(pos, read_), to = std::min(pos + int64_t(samples.size()), read_ + cap);
    if (from < to) {
      size_t idx = size_t(from % cap);
      for (int64_t p = from; p < to; ++p) {
        if (!have_[idx]) {
          ring_[idx] = samples[size_t(p - pos)];
          have_[idx] = 1;
        }
        if (++idx == size_t(cap)) idx = 0;
      }
    }
    written_ = std::max(written_, std::min(pos + int64_t(samples.size()), read_ + cap));
    return;
  }
  int64_t ext = extend(timestamp);
  if (!anchored_) {
    anchor(ext);
  } else {
    int64_t pos = ext + offset_;
    // Further ahead than the buffer holds, or further back than any plausible lateness: the
    // stream restarted (or the peer stepped its timestamps). Start again from this packet.
    if (pos + int64_t(samples.size()) > read_ + cap || pos < read_ - cap) {
      ++stats_.jumps;
      anchor(ext);
    }
  }
  if (int32_t(uint32_t(ext - last_ext_)) > 0) last_ext_ = ext;
  int64_t pos = ext + offset_;
  if (pos < read_ && late_run_ >= int64_t(cfg_.resync_ms) * kSamplesPerMs) {
    // Packets keep coming after their time: the stream fell behind for good. Place it again.
    ++stats_.resyncs;
    const int64_t first = first_;  // what is missing until it plays again is still counted
    anchor(ext);
    first_ = first;
    pos = ext + offset_;
  }
  int64_t end = pos + int64_t(samples.size());
  if (pos >= read_) late_run_ = 0;
  if (end <= read_) {
    ++stats_.late;
    late_run_ += int64_t(samples.size());
    return;
  }
  size_t skip = 0;
  if (pos < read_) {
    ++stats_.late;  // its head is too late; its tail still plays
    late_run_ += int64_t(samples.size());
    skip = size_t(read_ - pos);
  }
  size_t idx = size_t((pos + int64_t(skip)) % cap);
  for (size_t i = skip; i < samples.size(); ++i) {
    ring_[idx] = samples[i];
    have_[idx] = 1;
    if (++idx == size_t(cap)) idx = 0;
  }
  written_ = std::max(written_, end);
}

// What is ahead has arrived and is silent (a gap of missing samples is no silence to slip in).
bool Buffer::quiet_ahead(int samples) const {
  const int64_t cap = int64_t(ring_.size());
  for (int64_t p = read_; p < read_ + samples && p < written_; ++p) {
    if (!have_[size_t(p % cap)] || std::abs(int(at(p))) > cfg_.quiet_level) return false;
  }
  return true;
}

// At most one slip per call of get(), at its start, and only in silence: quiet_ms of it heard and
// the next quiet_ms silent too. Returns the samples of silence it played into `out`.
size_t Buffer::slip(std::span<int16_t> out) {
  const int quiet_need = cfg_.quiet_ms * kSamplesPerMs;
  if (!anchored_ || quiet_run_ < quiet_need) return 0;
  // The level this call of get() leaves behind: the low point of each packet's cycle.
  const int lvl = level() - int(out.size());
  const int target = cfg_.delay_ms * kSamplesPerMs;
  const bool too_full = lvl >= cfg_.high_ms * kSamplesPerMs;
  const bool too_empty = lvl <= cfg_.low_ms * kSamplesPerMs && written_ > read_ + int64_t(out.size());
  if ((!too_full && !too_empty) || !quiet_ahead(quiet_need)) return 0;
  const int64_t cap = int64_t(ring_.size());
  if (too_full) {
    // Skip silence only (what is ahead was just checked quiet), at most quiet_ms at once.
    int64_t n = std::min<int64_t>(std::max(lvl - target, 0), quiet_need);
    for (int64_t p = read_; p < read_ + n; ++p) {
      at(p) = 0;
      have_[size_t(p % cap)] = 0;
    }
    read_ += n;
    stats_.skipped += uint64_t(n);
    quiet_run_ = 0;
    return 0;
  }
  // Play silence without moving through the stream: everything after comes later.
  int64_t n = std::min<int64_t>(std::max(target - lvl, 0), int64_t(out.size()));
  if (written_ - read_ + n > cap) return 0;  // no room to move what is buffered
  std::fill(out.begin(), out.begin() + n, int16_t(0));
  offset_ += n;
  // The samples already buffered move with the stream: shift them n later.
  for (int64_t p = written_ - 1; p >= read_; --p) {
    at(p + n) = at(p);
    have_[size_t((p + n) % cap)] = have_[size_t(p % cap)];
  }
  for (int64_t p = read_; p < read_ + n; ++p) {
    at(p) = 0;
    have_[size_t(p % cap)] = 0;
  }
  read_ += n;
  written_ += n;
  first_ = std::min(first_, read_);
  stats_.inserted += uint64_t(n);
  quiet_run_ = 0;
  return size_t(n);
}

void Buffer::get(std::span<int16_t> out, std::vector<Gap>* gaps) {
  if (gaps) gaps->clear();
  const size_t cap = ring_.size();
  size_t i = slip(out);
  size_t idx = size_t(read_ % int64_t(cap));
  int quiet = quiet_run_;
  for (; i < out.size(); ++i) {
    int16_t s = 0;
    if (have_[idx]) {
      s = ring_[idx];
      ring_[idx] = 0;
      have_[idx] = 0;
    } else {
      if (anchored_ && read_ >= first_) ++stats_.silence;
      quiet = -1;  // missing is not silence heard: it starts no slip
      if (gaps) {
        if (!gaps->empty() && gaps->back().offset + gaps->back().length == i) ++gaps->back().length;
        else gaps->push_back({i, 1});
      }
    }
    ++read_;
    if (++idx == cap) idx = 0;
    out[i] = s;
    quiet = (s <= cfg_.quiet_level && s >= -cfg_.quiet_level) ? quiet + 1 : 0;
  }
  quiet_run_ = quiet;
}

}  // namespace playout
