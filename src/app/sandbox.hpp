// sandbox.hpp — run untrusted-document work in a child process with resource limits.
//
// ARCHITECTURE.md: untrusted documents are converted outside the daemon. The child gets an
// address-space limit (RLIMIT_AS), a CPU-time limit (RLIMIT_CPU) and no core dumps; the parent
// enforces a wall-clock limit and kills the child's whole process group (LibreOffice helpers
// included) when it is exceeded. A renderer that crashes or hangs fails that one document
// with a clear message; the caller never notices anything else.
// The child reports its result (an exit code and one sentence) through a pipe.
// THE JAIL (SandboxJail, issue 14; docs/security.md "The converter"): the work runs
// - in a mount namespace of its own: an empty tmpfs over kHidden and jail.hide (no D-Bus or syslog
//   socket, no homes, no service state, not the daemon's data, no other jail: the jails'
//   directory is an empty tmpfs with only this jail bound in), and a /proc of its PID namespace;
// - in new network, PID and IPC namespaces: no interface but a loopback that is down, so no
//   document can make a renderer fetch http://169.254.169.254/ or reach any port; the work is
//   PID 2 under a small init (in the warm render server's jail, PID 1 of a namespace of its own),
//   and when either ends the kernel kills everything left in the namespace (LibreOffice's
//   helpers included, whatever process group they made);
// - as the unprivileged user of the jail (faxbridge-convert, else nobody) when started as root,
//   with no supplementary groups, PR_SET_NO_NEW_PRIVS; as another user, in a user namespace;
// - in its private directory (HOME and TMPDIR too), which holds copies of the inputs;
// - under a seccomp filter (libseccomp): no socket but AF_UNIX, no ptrace, mount, unshare,
//   setns, bpf, kernel modules, keyrings, io_uring, userfaultfd, process_vm_*;
// - with rlimits: AS, CPU, NOFILE 1024, NPROC 512, FSIZE 1 GiB, NICE 0 (no raised priority), no core.
// LIMITS (defaults): 4 GiB address space, 120 s CPU, 300 s wall clock.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace app {

struct SandboxLimits {
  uint64_t memory_bytes = uint64_t(4) << 30;
  int cpu_seconds = 120;
  int wall_seconds = 300;
};

struct SandboxJail {
  bool enabled = false;
  std::string dir;  // private and empty but for the inputs: the work's cwd, HOME and TMPDIR
  unsigned uid = 0, gid = 0;  // the jail user, switched to when running as root
  std::vector<std::string> hide;  // absolute directories to cover (the daemon's data directory)
  // The calling process is already in this jail's namespaces (enter_jail: the warm render
  // server): the work only gets a PID namespace (and a mount namespace for its /proc) of its own.
  bool inside = false;
  std::vector<int> close_fds;  // closed in the child before anything else runs
};

// The namespaces and covers of `jail` for the calling process (what run_sandboxed gives each
// jailed child), for a process that will run many documents in them, each with inside = true.
// The next process the caller forks is the jail's PID 1 (the namespace ends with it): that is
// where the documents are run from. Returns "" or what failed. Call before any thread starts.
[[nodiscard]] std::string enter_jail(const SandboxJail& jail);

// Directories every jail covers with an empty tmpfs (kHidden; those that exist and are not
// links): sockets of system services (/run), homes, service state, logs, spools.
inline constexpr const char* kHidden[] = {"/run", "/home", "/root", "/var/lib", "/var/spool", "/var/mail", "/var/log",
                                          "/var/tmp", "/var/backups", "/srv", "/mnt", "/media", "/boot",
                                          "/etc/ssl/private"};

// A jail: a fresh 0700 directory with a random name, owned by the jail user, with tmp/ in it,
// inside $TMPDIR/faxbridge-jails (root's) or $TMPDIR/faxbridge-jails-<uid> (0711, ours).
// Throws std::runtime_error naming what failed.
SandboxJail make_jail();
void remove_jail(const SandboxJail& jail);
// Removes jails left by conversions that were killed (older than `older_than_s`).
void sweep_jails(int older_than_s);

struct SandboxOutcome {
  int code = 0;         // 0 success, else a convert exit code (2..5)
  std::string message;  // one sentence when code != 0
  long pid = 0;         // the process run_sandboxed forked for the work (0: none)
};

// `work` runs in the child; it returns the outcome to report.
SandboxOutcome run_sandboxed(const std::function<SandboxOutcome()>& work, const SandboxLimits& limits,
                             const SandboxJail& jail = {});

// A sandboxed process started before its work is known (the warm render server's next
// document): the fork, namespaces, limits, change of user and seccomp filter are done ahead, off
// the sender's wait, and the work then waits for the request go() hands it (at most
// kMaxRequest bytes). It never holds a descriptor the caller opens after the start.
class SandboxStart {
 public:
  using Work = std::function<SandboxOutcome(const std::string& request)>;
  static constexpr size_t kMaxRequest = 64 * 1024;

  SandboxStart() = default;
  // `ahead`: run in the process once it is walled in, before it waits for its request: work
  // that would otherwise be on the caller's wait (faulting in the memory the work will write).
  SandboxStart(const Work& work, const SandboxLimits& limits, const SandboxJail& jail,
               const std::function<void()>& ahead = {});
  ~SandboxStart();  // a process never given its work is killed and reaped
  SandboxStart(SandboxStart&& o) noexcept;
  SandboxStart& operator=(SandboxStart&& o) noexcept;
  SandboxStart(const SandboxStart&) = delete;
  SandboxStart& operator=(const SandboxStart&) = delete;

  // Started, and still waiting for its work (not ended meanwhile).
  [[nodiscard]] bool waiting();
  // Why it did not start ("" when it did).
  [[nodiscard]] const std::string& error() const { return error_; }
  // Hands the work its request and waits for its outcome (limits, crash and timeout reported as
  // run_sandboxed does), the wall clock limit `wall_seconds` counted from now. Once; an outcome
  // with code 5 when not waiting. Unlike run_sandboxed it returns as soon as the work has
  // reported, while its process may still be ending (its exit and its namespace's teardown take
  // milliseconds): the process is killed and reaped by finish() or the destructor.
  SandboxOutcome go(const std::string& request, int wall_seconds);
  // Kills what is left of the process and reaps it.
  void finish() { stop(); }

 private:
  void stop();
  long pid_ = -1;
  int report_ = -1;
  int go_ = -1;
  SandboxLimits limits_;
  std::string error_;
};

}  // namespace app
