// sandbox.cpp — fork, limit, run, report (see sandbox.hpp).
#include "app/sandbox.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <new>

#include <algorithm>
#include <cstdlib>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace app {
namespace {

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0 && errno != EINTR) return;
    if (n > 0) off += size_t(n);
  }
}

[[noreturn]] void child(int fd, const std::function<SandboxOutcome()>& work, const SandboxLimits& lim) {
  ::setpgid(0, 0);
  rlimit as{lim.memory_bytes, lim.memory_bytes};
  ::setrlimit(RLIMIT_AS, &as);
  rlimit cpu{rlim_t(lim.cpu_seconds), rlim_t(lim.cpu_seconds + 5)};
  ::setrlimit(RLIMIT_CPU, &cpu);
  rlimit core{0, 0};
  ::setrlimit(RLIMIT_CORE, &core);
  SandboxOutcome out;
  try {
    out = work();
  } catch (const std::bad_alloc&) {
    out = {5, "over the memory limit of " + std::to_string(lim.memory_bytes >> 20) + " MiB"};
  } catch (const std::exception& e) {
    out = {4, std::string("internal error: ") + e.what()};
  }
  write_all(fd, std::to_string(out.code) + "\n" + out.message);
  ::close(fd);
  ::_exit(out.code);
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

}  // namespace

SandboxOutcome run_sandboxed(const std::function<SandboxOutcome()>& work, const SandboxLimits& lim) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {5, std::string("cannot create a pipe: ") + std::strerror(errno)};
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {5, std::string("cannot start the converter: ") + std::strerror(errno)};
  }
  if (pid == 0) {
    ::close(fds[0]);
    child(fds[1], work, lim);
  }
  ::setpgid(pid, pid);
  ::close(fds[1]);
  std::string report;
  const double deadline = now_s() + lim.wall_seconds;
  bool timed_out = false;
  for (;;) {
    double left = deadline - now_s();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, int(std::min(left, 1.0) * 1000) + 1);
    if (r < 0 && errno != EINTR) {  // cannot watch the child any more: stop it, never wait blind
      timed_out = true;
      break;
    }
    if (r <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      report.append(buf, size_t(n));
      continue;
    }
    if (n == 0 || errno != EINTR) break;  // EOF: the child is done (or died)
  }
  ::close(fds[0]);
  int status = 0;
  if (timed_out) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return {5, "took longer than the limit of " + std::to_string(lim.wall_seconds) + " s"};
  }
  ::waitpid(pid, &status, 0);
  ::kill(-pid, SIGKILL);  // anything the child left behind in its group
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (sig == SIGXCPU || sig == SIGKILL) {
      return {5, "used more than the CPU time limit of " + std::to_string(lim.cpu_seconds) + " s"};
    }
    return {4, std::string("the renderer crashed (") + strsignal(sig) + "): the document is corrupt or hostile"};
  }
  auto nl = report.find('\n');
  if (nl == std::string::npos) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 4;
    return {code == 0 ? 4 : code, "the renderer stopped without a result"};
  }
  SandboxOutcome out;
  out.code = std::atoi(report.substr(0, nl).c_str());
  out.message = report.substr(nl + 1);
  return out;
}

}  // namespace app
