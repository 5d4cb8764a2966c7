// front_door.cpp — source checks before any SIP state (see front_door.hpp).
#include "sip/front_door.hpp"

#include <algorithm>
#include <vector>

namespace sip {

namespace {

bool is_response(std::string_view bytes) { return bytes.starts_with("SIP/2.0 "); }

}  // namespace

void FrontDoor::sweep(Time now) {
  if (now < next_sweep_) return;
  next_sweep_ = now + kRefusalWindow;
  std::erase_if(sources_, [&](const auto& kv) {
    const Source& s = kv.second;
    // A trusted source's bucket is full again after a second; an untrusted one's window is over.
    return now - s.window_start >= kRefusalWindow && now - s.refilled >= std::chrono::seconds(2);
  });
}

FrontDoor::Source* FrontDoor::track(const std::string& ip, Time now) {
  auto it = sources_.find(ip);
  if (it != sources_.end()) return &it->second;
  if (sources_.size() >= kMaxSources) return nullptr;
  Source s;
  s.window_start = now;
  s.refilled = now;
  return &sources_.emplace(ip, s).first->second;
}

FrontDoor::Verdict FrontDoor::admit(std::string_view bytes, const Address& from, Time now) {
  sweep(now);
  if (is_response(bytes)) return Verdict::pass;
  if (trusted(from.ip)) {
    if (!cfg_.trusted) return Verdict::pass;
    Source* s = track(from.ip, now);
    if (!s) return Verdict::pass;  // the table is full of scanners: a trunk is never starved by them
    double secs = std::chrono::duration<double>(now - s->refilled).count();
    s->refilled = now;
    s->tokens = std::min(kTrustedBurst, s->tokens + secs * kTrustedRate);
    if (s->tokens < 1) {
      ++stats_.rate_limited;
      return Verdict::drop;
    }
    s->tokens -= 1;
    return Verdict::pass;
  }
  Source* s = track(from.ip, now);
  if (!s) {
    ++stats_.dropped;
    return Verdict::drop;
  }
  if (now - s->window_start >= kRefusalWindow) {
    s->window_start = now;
    s->answered = false;
    s->count = 0;
  }
  ++s->count;
  if (s->answered || cfg_.unknown == UnknownSources::drop) {
    if (!s->answered && cfg_.unknown == UnknownSources::drop) {
      s->answered = true;  // the window's one log line, nothing sent
      if (cfg_.log) {
        cfg_.log("sip: refused " + from.ip + ": a request from a source that is not a trunk (dropped; more for " +
                 std::to_string(kRefusalWindow.count()) + " s dropped unlogged)");
      }
    }
    ++stats_.dropped;
    return Verdict::drop;
  }
  s->answered = true;  // only the window's first datagram is read at all
  return Verdict::refuse;
}

void FrontDoor::note_refused(const Address& from, std::string_view method) {
  auto it = sources_.find(from.ip);
  if (it == sources_.end()) return;
  Source& s = it->second;
  s.method = std::string(method);
  ++stats_.refused;
  if (cfg_.log) {
    cfg_.log("sip: refused " + from.ip + ": " + std::string(method) + " from a source that is not a trunk (403; more for " +
             std::to_string(kRefusalWindow.count()) + " s dropped unlogged)");
  }
}

}  // namespace sip
