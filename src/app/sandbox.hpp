// sandbox.hpp — run untrusted-document work in a child process with resource limits.
//
// ARCHITECTURE.md: untrusted documents are converted outside the daemon. The child gets an
// address-space limit (RLIMIT_AS), a CPU-time limit (RLIMIT_CPU) and no core dumps; the parent
// enforces a wall-clock limit and kills the child's whole process group (LibreOffice helpers
// included) when it is exceeded. A renderer that crashes or hangs fails that one document
// with a clear message; the caller never notices anything else.
// The child reports its result (an exit code and one sentence) through a pipe.
// LIMITS (defaults): 4 GiB address space, 120 s CPU, 300 s wall clock.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace app {

struct SandboxLimits {
  uint64_t memory_bytes = uint64_t(4) << 30;
  int cpu_seconds = 120;
  int wall_seconds = 300;
};

struct SandboxOutcome {
  int code = 0;         // 0 success, else a convert exit code (2..5)
  std::string message;  // one sentence when code != 0
};

// `work` runs in the child; it returns the outcome to report.
SandboxOutcome run_sandboxed(const std::function<SandboxOutcome()>& work, const SandboxLimits& limits);

}  // namespace app
