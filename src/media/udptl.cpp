// udptl.cpp — UDPTL packet codec, sender and receiver (see udptl.hpp).
#include "media/udptl.hpp"

#include <algorithm>

namespace udptl {
namespace {

// X.691 length determinant: < 128 in one octet, < 16384 in two (top bits 10); fragmented
// lengths (top bits 11) never occur in a fax datagram and are refused.
bool read_length(std::span<const uint8_t> d, size_t& pos, size_t& value) {
  if (pos >= d.size()) return false;
  uint8_t b = d[pos++];
  if ((b & 0x80) == 0) {
    value = b;
    return true;
  }
  if ((b & 0x40) != 0 || pos >= d.size()) return false;
  value = size_t(b & 0x3F) << 8 | d[pos++];
  return true;
}

bool read_open(std::span<const uint8_t> d, size_t& pos, Bytes& out) {
  size_t n = 0;
  if (!read_length(d, pos, n) || n > d.size() - pos) return false;
  out.assign(d.begin() + long(pos), d.begin() + long(pos + n));
  pos += n;
  return true;
}

void write_length(Bytes& out, size_t n) {
  if (n < 0x80) {
    out.push_back(uint8_t(n));
  } else {
    out.push_back(uint8_t(0x80 | (n >> 8)));
    out.push_back(uint8_t(n & 0xFF));
  }
}

void write_open(Bytes& out, const Bytes& b) {
  if (b.empty()) {  // X.691 §10.1: an empty open type is one zero octet
    out.push_back(1);
    out.push_back(0);
    return;
  }
  write_length(out, b.size());
  out.insert(out.end(), b.begin(), b.end());
}

size_t open_size(const Bytes& b) { return (b.size() < 0x80 ? 1 : 2) + std::max<size_t>(b.size(), 1); }

// Distance from a to b in the 16-bit sequence space, in -32768..32767.
int seq_diff(uint16_t b, uint16_t a) { return int16_t(uint16_t(b - a)); }

}  // namespace

fb::Result<Packet, DecodeError> decode(std::span<const uint8_t> d) {
  Packet p;
  size_t pos = 0;
  if (d.size() < 2) return DecodeError{"shorter than a sequence number"};
  p.seq = uint16_t(d[0] << 8 | d[1]);
  pos = 2;
  if (!read_open(d, pos, p.primary)) return DecodeError{"bad primary IFP length"};
  if (p.primary.size() > kMaxIfp) return DecodeError{"primary IFP too long"};
  if (pos >= d.size()) return DecodeError{"no error-recovery field"};
  p.fec = (d[pos++] & 0x80) != 0;
  size_t count = 0;
  if (p.fec) {
    size_t ilen = 0;  // fec-npackets: an unconstrained integer, a length and that many octets
    if (!read_length(d, pos, ilen) || ilen == 0 || ilen > 2 || ilen > d.size() - pos) {
      return DecodeError{"bad fec-npackets"};
    }
    int span = 0;
    for (size_t i = 0; i < ilen; ++i) span = span << 8 | d[pos++];
    if (span > int(kMaxEntries)) return DecodeError{"fec-npackets too large"};
    p.fec_span = span;
  }
  if (!read_length(d, pos, count) || count > kMaxEntries) return DecodeError{"bad error-recovery count"};
  auto& list = p.fec ? p.fec_entries : p.secondary;
  for (size_t i = 0; i < count; ++i) {
    Bytes b;
    if (!read_open(d, pos, b)) return DecodeError{"bad error-recovery entry"};
    list.push_back(std::move(b));
  }
  if (pos != d.size()) return DecodeError{"trailing octets"};
  return p;
}

Bytes encode(const Packet& p) {
  Bytes out;
  out.push_back(uint8_t(p.seq >> 8));
  out.push_back(uint8_t(p.seq & 0xFF));
  write_open(out, p.primary);
  if (p.fec) {
    out.push_back(0x80);
    out.push_back(1);
    out.push_back(uint8_t(p.fec_span));
    write_length(out, p.fec_entries.size());
    for (const auto& e : p.fec_entries) write_open(out, e);
  } else {
    out.push_back(0x00);
    write_length(out, p.secondary.size());
    for (const auto& s : p.secondary) write_open(out, s);
  }
  return out;
}

Bytes Encoder::next(std::span<const uint8_t> ifp) {
  Packet p;
  p.seq = seq_;
  p.primary.assign(ifp.begin(), ifp.end());
  size_t size = 2 + open_size(p.primary) + 2;
  if (cfg_.mode == Mode::redundancy) {
    for (int k = 1; k <= cfg_.redundancy && k <= int(kMaxEntries); ++k) {
      auto it = history_.find(uint16_t(seq_ - k));
      if (it == history_.end()) break;
      // Fit the peer's T38FaxMaxDatagram: fewer secondaries rather than an oversized datagram.
      if (size + open_size(it->second) > cfg_.max_datagram) break;
      size += open_size(it->second);
      p.secondary.push_back(it->second);
    }
  } else if (cfg_.mode == Mode::fec) {
    p.fec = true;
    int span = cfg_.fec_span, entries = cfg_.fec_entries;
    if (seq_ < uint16_t(span * entries)) {  // wind up while there is not enough history
      entries = seq_ / std::max(span, 1);
      if (seq_ < span) span = 0;
    }
    p.fec_span = span;
    for (int m = 0; m < entries && span > 0; ++m) {
      Bytes x;
      for (int k = 0; k < span; ++k) {
        uint16_t s = uint16_t(seq_ + m - span * entries + k * entries);
        auto it = history_.find(s);
        if (it == history_.end()) continue;
        if (x.size() < it->second.size()) x.resize(it->second.size(), 0);
        for (size_t i = 0; i < it->second.size(); ++i) x[i] ^= it->second[i];
      }
      p.fec_entries.push_back(std::move(x));
    }
  }
  history_[seq_] = p.primary;
  const int keep = std::max({cfg_.redundancy, cfg_.fec_span * cfg_.fec_entries, 1}) + 1;
  history_.erase(uint16_t(seq_ - keep));
  ++seq_;
  return encode(p);
}

void Decoder::resync(uint16_t first) {
  ++stats_.resyncs;
  pending_.clear();
  recent_.clear();
  behind_run_ = 0;
  next_ = first;
  base_ += 1 << 20;  // keys of the new stream never meet the old one's
}

void Decoder::store(uint16_t seq, Bytes data, bool recovered) {
  int64_t u = base_ + seq_diff(seq, next_);
  if (u < base_ || pending_.count(u)) return;
  pending_.emplace(u, Ifp{seq, std::move(data), recovered});
}

void Decoder::release(std::vector<Ifp>& out) {
  for (;;) {
    auto it = pending_.find(base_);
    if (it != pending_.end()) {
      if (it->second.recovered) ++stats_.recovered;
      ++stats_.delivered;
      recent_[base_] = it->second.data;
      recent_.erase(base_ - kFecHistory);
      out.push_back(std::move(it->second));
      pending_.erase(it);
      ++base_;
      ++next_;
      continue;
    }
    // A gap: wait for the missing packet while fewer than kReorderWindow later ones wait.
    if (pending_.empty() || pending_.rbegin()->first - base_ < kReorderWindow) return;
    ++stats_.lost;  // give up on it: T.30 sees the sequence jump
    ++base_;
    ++next_;
  }
}

void Decoder::try_fec(const Packet& p) {
  const int entries = int(p.fec_entries.size());
  for (int m = 0; m < entries && p.fec_span > 0; ++m) {
    // The packets this parity entry covers; it repairs exactly one that has not arrived.
    std::optional<uint16_t> missing;
    Bytes x = p.fec_entries[size_t(m)];
    bool usable = true;
    for (int k = 0; k < p.fec_span && usable; ++k) {
      uint16_t s = uint16_t(p.seq + m - p.fec_span * entries + k * entries);
      int64_t u = base_ + seq_diff(s, next_);
      const Bytes* have = nullptr;
      if (auto it = pending_.find(u); it != pending_.end()) have = &it->second.data;
      else if (auto r = recent_.find(u); r != recent_.end()) have = &r->second;
      if (have) {
        for (size_t i = 0; i < have->size() && i < x.size(); ++i) x[i] ^= (*have)[i];
      } else if (u >= base_ && !missing) {
        missing = s;
      } else {
        usable = false;  // two losses, or one given up on already
      }
    }
    if (usable && missing) store(*missing, std::move(x), true);
  }
}

std::vector<Ifp> Decoder::receive(std::span<const uint8_t> datagram) {
  std::vector<Ifp> out;
  auto p = decode(datagram);
  if (!p) {
    ++stats_.malformed;
    return out;
  }
  ++stats_.received;
  if (!started_) {
    started_ = true;
    next_ = p->seq;
    base_ = 0;
  }
  int d = seq_diff(p->seq, next_);
  const uint16_t oldest = uint16_t(p->seq - p->secondary.size());  // what this datagram can still deliver
  if (d > kResyncJump || d < -kResyncJump) {
    resync(oldest);
    d = seq_diff(p->seq, next_);
  } else if (d < 0) {
    // A late copy of what was delivered (a duplicated path, a burst reordered) is no restart.
    if (auto r = recent_.find(base_ + d); r != recent_.end() && r->second == p->primary) {
      behind_run_ = 0;
      ++stats_.duplicates;
      return out;
    }
    if (behind_run_ > 0 && p->seq == uint16_t(behind_last_ + 1)) {
      ++behind_run_;
    } else {
      behind_run_ = 1;
      behind_first_ = oldest;
    }
    behind_last_ = p->seq;
    // Late packets lie a few behind and do not continue one another for long; a restarted
    // stream does. (A run 2 long far behind is one too.)
    const bool restarted = behind_run_ >= kResyncRun || (behind_run_ >= 2 && -d > 2 * kReorderWindow);
    if (!restarted) {
      ++stats_.duplicates;  // late or repeated: everything it carries is older still
      return out;
    }
    resync(behind_first_);
    d = seq_diff(p->seq, next_);
  } else {
    behind_run_ = 0;
  }
  if (pending_.count(base_ + d)) {
    ++stats_.duplicates;
    return out;
  }
  store(p->seq, p->primary, false);
  for (size_t k = 0; k < p->secondary.size(); ++k) store(uint16_t(p->seq - 1 - k), p->secondary[k], true);
  if (p->fec) try_fec(*p);
  release(out);
  return out;
}

}  // namespace udptl
