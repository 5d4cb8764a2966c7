// t38_memory.hpp — where T.38 did not work: per trunk and number prefix, the destinations whose
// T.38 was refused (488/606, no answer to the re-INVITE) or failed before T.30 phase B while
// audio then carried the fax. The next call there starts on audio and stays there (no re-INVITE),
// and says why; an entry is forgotten after `keep_s` (the carrier may have fixed it).
//
// ../shared/specs/t38-sip.md ("remember per destination where it does not"). A number's prefix is
// its first `digits` digits (0: the whole number), so one refusal can cover a carrier's range.
// THREADS: call control's thread; entries() is a copy for the API.
// LIMITS: kMaxEntries (the oldest goes first).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gateway {

class T38Memory {
 public:
  static constexpr size_t kMaxEntries = 10000;
  struct Entry {
    std::string trunk;
    std::string prefix;
    std::string reason;  // "488 Not Acceptable Here", "T.38 failed before phase B"
    int64_t since = 0;   // unix seconds
    int64_t until = 0;
  };
  T38Memory(int64_t keep_s, int digits) : keep_s_(keep_s), digits_(digits) {}
  void remember(const std::string& trunk, const std::string& number, const std::string& reason, int64_t now);
  std::optional<Entry> recall(const std::string& trunk, const std::string& number, int64_t now) const;
  std::vector<Entry> entries(int64_t now) const;
  std::string prefix_of(const std::string& number) const;

 private:
  int64_t keep_s_;
  int digits_;
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

}  // namespace gateway
