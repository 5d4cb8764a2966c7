// log.hpp — the daemon's log: one line per event on stderr, "faxbridge: <text>", with every byte
// that could forge or hide a line escaped (printable.hpp: a caller's name with a CR LF in it
// stays on its line). The one way lines leave the gateway; issue 16 makes them structured.
// THREADS: safe from any thread (one write per line).
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

#include "core/printable.hpp"

namespace fb {

inline constexpr size_t kMaxLogLine = 4000;

inline void log(std::string_view line) {
  static std::mutex mu;
  const std::string out = "faxbridge: " + printable(line, kMaxLogLine) + "\n";
  std::lock_guard lock(mu);
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

}  // namespace fb
