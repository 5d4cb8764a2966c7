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
}

int Buffer::level() const { return int(std::max<int64_t>(0, written_ - read_)); }

void Buffer::put(uint32_t timestamp, std::span<const int16_t> samples, bool redundant) {
  const int64_t cap = int64_t(ring_.size());
  if (samples.empty() || int64_t(samples.size()) > cap) return;
  if (redundant) {
    if (!anchored_) return;
    int64_t pos = extend(timestamp) + offset_;
    for (size_t i = 0; i < samples.size(); ++i) {
      int64_t p = pos + int64_t(i);
      if (p < read_ || p >= read_ + cap || have_[size_t(p % cap)]) continue;
      at(p) = samples[i];
      have_[size_t(p % cap)] = 1;
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
  int64_t end = pos + int64_t(samples.size());
  if (end <= read_) {
    ++stats_.late;
    return;
  }
  size_t skip = 0;
  if (pos < read_) {
    ++stats_.late;  // its head is too late; its tail still plays
    skip = size_t(read_ - pos);
  }
  for (size_t i = skip; i < samples.size(); ++i) {
    at(pos + int64_t(i)) = samples[i];
    have_[size_t((pos + int64_t(i)) % cap)] = 1;
  }
  written_ = std::max(written_, end);
}

bool Buffer::quiet_ahead(int samples) const {
  for (int64_t p = read_; p < read_ + samples && p < written_; ++p) {
    if (std::abs(int(at(p))) > cfg_.quiet_level) return false;
  }
  return true;
}

void Buffer::get(std::span<int16_t> out, std::vector<Gap>* gaps) {
  if (gaps) gaps->clear();
  const int64_t cap = int64_t(ring_.size());
  auto missing = [&](size_t offset) {
    if (!gaps) return;
    if (!gaps->empty() && gaps->back().offset + gaps->back().length == offset) ++gaps->back().length;
    else gaps->push_back({offset, 1});
  };
  size_t i = 0;
  const int quiet_need = cfg_.quiet_ms * kSamplesPerMs;
  while (i < out.size()) {
    // A slip, only in silence: heard quiet_ms of it, and the next quiet_ms are silent too.
    if (anchored_ && quiet_run_ >= quiet_need && quiet_ahead(quiet_need)) {
      const int lvl = level();
      const int target = cfg_.delay_ms * kSamplesPerMs;
      if (lvl >= cfg_.high_ms * kSamplesPerMs) {
        // Skip silence only (what is ahead was just checked quiet), at most quiet_ms at once.
        int64_t n = std::min<int64_t>(lvl - target, quiet_need);
        for (int64_t p = read_; p < read_ + n; ++p) {
          at(p) = 0;
          have_[size_t(p % cap)] = 0;
        }
        read_ += n;
        stats_.skipped += uint64_t(n);
        quiet_run_ = 0;
        continue;
      }
      if (lvl <= cfg_.low_ms * kSamplesPerMs && written_ > read_) {
        // Play silence without moving through the stream: everything after comes later.
        int64_t n = std::min<int64_t>(target - lvl, int64_t(out.size() - i));
        for (int64_t k = 0; k < n; ++k) out[i++] = 0;
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
        continue;
      }
    }
    int16_t s = 0;
    uint8_t& have = have_[size_t(read_ % cap)];
    if (have) {
      s = at(read_);
      at(read_) = 0;
      have = 0;
    } else {
      if (anchored_ && read_ >= first_) ++stats_.silence;
      missing(i);
    }
    ++read_;
    out[i++] = s;
    quiet_run_ = std::abs(int(s)) <= cfg_.quiet_level ? quiet_run_ + 1 : 0;
  }
}

}  // namespace playout
