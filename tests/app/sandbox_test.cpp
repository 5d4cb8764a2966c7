// sandbox_test.cpp — a renderer that crashes, hangs, spins or eats memory fails its one
// document with a clear code and sentence; the caller carries on.
#include "app/sandbox.hpp"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include <filesystem>

#include <poll.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <grp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace {

app::SandboxLimits tight() {
  app::SandboxLimits l;
  l.memory_bytes = uint64_t(256) << 20;
  l.cpu_seconds = 2;
  l.wall_seconds = 3;
  return l;
}

TEST(Sandbox, PassesTheChildsOutcomeBack) {
  auto ok = app::run_sandboxed([] { return app::SandboxOutcome{0, ""}; }, tight());
  EXPECT_EQ(ok.code, 0);
  auto bad = app::run_sandboxed([] { return app::SandboxOutcome{3, "x.bin: cannot tell what kind"}; }, tight());
  EXPECT_EQ(bad.code, 3);
  EXPECT_EQ(bad.message, "x.bin: cannot tell what kind");
}

TEST(Sandbox, ACrashIsCorruptInput) {
  auto r = app::run_sandboxed([]() -> app::SandboxOutcome {
    std::raise(SIGSEGV);
    return {0, ""};
  }, tight());
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.message.find("crashed"), std::string::npos) << r.message;
}

TEST(Sandbox, AHangIsKilledAtTheWallClockLimit) {
  auto l = tight();
  l.wall_seconds = 1;
  auto t0 = std::chrono::steady_clock::now();
  auto r = app::run_sandboxed([]() -> app::SandboxOutcome {
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }, l);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.code, 5);
  EXPECT_NE(r.message.find("longer than the limit of 1 s"), std::string::npos) << r.message;
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST(Sandbox, AWorkThatClosesItsReportIsStillHeldToTheWallClock) {
  // A hostile worker closes the pipe its report goes through and lives on: its end is waited
  // for only until the wall clock limit.
  auto l = tight();
  l.wall_seconds = 1;
  auto r = app::run_sandboxed([]() -> app::SandboxOutcome {
    for (int fd = 3; fd < 1024; ++fd) close(fd);
    for (;;) pause();
  }, l);
  EXPECT_EQ(r.code, 5);
  EXPECT_NE(r.message.find("longer than the limit of 1 s"), std::string::npos) << r.message;
}

// Work that spins under a CPU limit of 1 s and a wall clock of 4 s: the CPU limit must end it
// (a hard limit 5 s above the soft one would meet the wall clock first).
app::SandboxOutcome spin_for_the_cpu_limit(const app::SandboxJail& jail = {}) {
  auto l = tight();
  l.cpu_seconds = 1;
  l.wall_seconds = 4;
  return app::run_sandboxed([]() -> app::SandboxOutcome {
    volatile uint64_t x = 0;
    for (;;) x = x + 1;
  }, l, jail);
}

TEST(Sandbox, SpinningIsStoppedByTheCpuLimit) {
  auto r = spin_for_the_cpu_limit();
  EXPECT_EQ(r.code, 5);
  EXPECT_NE(r.message.find("CPU time"), std::string::npos) << r.message;
}

TEST(Sandbox, MemoryBeyondTheLimitIsRefused) {
  auto r = app::run_sandboxed([]() -> app::SandboxOutcome {
    std::vector<std::vector<char>> hog;
    for (int i = 0; i < 64; ++i) hog.emplace_back(size_t(64) << 20, 'x');  // 4 GiB wanted
    return {0, "allocated"};
  }, tight());
  EXPECT_EQ(r.code, 5);
  EXPECT_NE(r.message.find("memory limit"), std::string::npos) << r.message;
}

TEST(Sandbox, ChildrenOfTheChildDieWithIt) {
  // A renderer that forks a helper (as LibreOffice does) and hangs: the whole group goes.
  auto l = tight();
  l.wall_seconds = 1;
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  auto r = app::run_sandboxed([&]() -> app::SandboxOutcome {
    pid_t helper = fork();
    if (helper == 0) {
      for (;;) pause();
    }
    (void)!write(pipefd[1], &helper, sizeof helper);
    for (;;) pause();
  }, l);
  EXPECT_EQ(r.code, 5);
  pid_t helper = 0;
  ASSERT_EQ(read(pipefd[0], &helper, sizeof helper), ssize_t(sizeof helper));
  close(pipefd[0]);
  close(pipefd[1]);
  // Killed with its group. An orphan stays a zombie until something reaps it, which is dead
  // all the same: look at its state, not at whether the pid exists.
  auto alive = [&] {
    std::ifstream stat("/proc/" + std::to_string(helper) + "/stat");
    std::string pid, comm, state;
    if (!(stat >> pid >> comm >> state)) return false;
    return state != "Z" && state != "X";
  };
  for (int i = 0; i < 50 && alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(alive()) << "helper " << helper << " survived";
}

// ---- the jail (sandbox.hpp) ----

struct Jail {
  app::SandboxJail j = app::make_jail();
  ~Jail() { app::remove_jail(j); }
};

TEST(SandboxJail, NoNetworkNoRootNoPtraceInItsOwnDirectory) {
  Jail jail;
  auto r = app::run_sandboxed([&]() -> app::SandboxOutcome {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s >= 0 || errno != EACCES) return {4, "an AF_INET socket was allowed"};
    if (socket(AF_INET6, SOCK_DGRAM, 0) >= 0) return {4, "an AF_INET6 socket was allowed"};
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    if (u < 0) return {4, "AF_UNIX was refused"};
    close(u);
    // The namespace has no interface but lo, whatever seccomp allows.
    std::ifstream dev("/proc/self/net/dev");
    std::string line, ifaces;
    for (int n = 0; std::getline(dev, line); ++n) {
      if (n >= 2) ifaces += line.substr(0, line.find(':')) + ",";
    }
    if (ifaces.find("lo") == std::string::npos || ifaces.find_first_not_of(" lo,") != std::string::npos) {
      return {4, "interfaces: " + ifaces};
    }
    if (geteuid() == 0 || getegid() == 0) return {4, "still root"};
    if (ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0) return {4, "ptrace was allowed"};
    if (unshare(CLONE_NEWNET) == 0) return {4, "unshare was allowed"};
    // clone() asking for a namespace (a user namespace is the usual way up) is refused too.
    if (syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, 0) >= 0 || errno != EPERM) {
      return {4, "clone(CLONE_NEWUSER) was allowed"};
    }
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd) || std::string(cwd) != jail.j.dir) return {4, std::string("cwd ") + cwd};
    if (std::string(getenv("HOME")) != jail.j.dir) return {4, "HOME"};
    if (getpid() != 2) return {4, "not PID 2 of its own namespace: " + std::to_string(getpid())};
    return {0, ""};
  }, tight(), jail.j);
  EXPECT_EQ(r.code, 0) << r.message;
}

TEST(SandboxJail, SystemSocketsHomesTheDaemonsDataAndOtherProcessesAreOutOfSight) {
  Jail jail;
  const std::string data = jail.j.dir + "-data";  // stands for the daemon's data directory
  std::filesystem::create_directories(data);
  { std::ofstream(data + "/admin.token") << "fbt_secret"; }
  // A data directory that would take the system or the jail with it ("." run from /, "var" run
  // from /) is left alone; the rest is covered.
  jail.j.hide = {data, "/", "/var", std::filesystem::path(jail.j.dir).parent_path().string() + "/"};
  auto r = app::run_sandboxed([&]() -> app::SandboxOutcome {
    for (const char* d : {"/run", "/home", "/root", "/var/lib"}) {
      if (std::filesystem::exists(d) && !std::filesystem::is_empty(d)) return {4, std::string(d) + " is not empty"};
    }
    if (std::filesystem::exists(data + "/admin.token")) return {4, "the daemon's data directory is visible"};
    int pids = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      const auto name = e.path().filename().string();
      pids += !name.empty() && std::all_of(name.begin(), name.end(), ::isdigit);
    }
    if (pids > 2) return {4, std::to_string(pids) + " processes in /proc"};  // init and the work
    if (!std::filesystem::exists("/usr/share/fonts")) return {4, "the fonts are gone"};
    if (!std::filesystem::exists("/var/cache")) return {4, "/var/cache is gone"};
    if (!std::filesystem::exists(jail.j.dir + "/tmp")) return {4, "the jail is gone"};
    return {0, ""};
  }, tight(), jail.j);
  std::filesystem::remove_all(data);
  EXPECT_EQ(r.code, 0) << r.message;
  EXPECT_TRUE(std::filesystem::exists("/run") && !std::filesystem::is_empty("/run"));  // ours untouched
}

// Everything a forked child wrote to `fd` until it closed it; the child reaped.
std::string text_of(pid_t child, int fd) {
  std::string got;
  char buf[512];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) got.append(buf, size_t(n));
  close(fd);
  int st = 0;
  waitpid(child, &st, 0);
  return got;
}

// The outcome of `body` run in a child process as `nobody` (the daemon's case: not root, the
// jail a user namespace of its own user), or as this process's user when that is not root.
std::string as_unprivileged(const std::function<std::string()>& body) {
  int p[2];
  if (pipe(p) != 0) return "pipe";
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    std::string out;
    if (geteuid() == 0 && (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) {
      out = "cannot become nobody";
    } else {
      out = body();
    }
    (void)!write(p[1], out.data(), out.size());
    _exit(0);
  }
  close(p[1]);
  return text_of(pid, p[0]);
}

TEST(SandboxJail, TheWorkingDirectoryItCameFromIsOutOfReach) {
  // serve works in its data directory, so the convert process and the jail start there: the
  // work must not find it again through /proc/<pid>/cwd of the jail's init or of its parent.
  // Run as root (the jail user differs) and as a user whose jail is its own user namespace.
  auto body = []() -> std::string {
    Jail jail;
    const std::string data = jail.j.dir + "-cwd";
    std::filesystem::create_directories(data);
    { std::ofstream(data + "/admin.token") << "fbt_secret"; }
    const auto before = std::filesystem::current_path();
    std::filesystem::current_path(data);
    jail.j.hide = {data};
    auto r = app::run_sandboxed([&]() -> app::SandboxOutcome {
      for (const char* p : {"/proc/1/cwd/admin.token", "/proc/self/cwd/admin.token"}) {
        std::ifstream f(p);
        std::string text;
        if (f >> text) return {4, std::string("read through ") + p + ": " + text};
      }
      return {0, ""};
    }, tight(), jail.j);
    std::filesystem::current_path(before);
    std::filesystem::remove_all(data);
    return r.code == 0 ? "ok" : r.message;
  };
  EXPECT_EQ(body(), "ok");
  EXPECT_EQ(as_unprivileged(body), "ok");
}

TEST(SandboxJail, AnotherJailIsOutOfSight) {
  // Two documents rendered at once: each jail sees its own directory and nothing of the other's,
  // though both belong to the same user.
  Jail mine, other;
  { std::ofstream(other.j.dir + "/tmp/their.pdf") << "%PDF-1.4 someone else's document"; }
  { std::ofstream(mine.j.dir + "/mine.txt") << "ours"; }
  const std::string base = std::filesystem::path(mine.j.dir).parent_path().string();
  auto r = app::run_sandboxed([&]() -> app::SandboxOutcome {
    struct stat st {};
    if (::stat(other.j.dir.c_str(), &st) == 0 || errno != ENOENT) return {4, "the other jail is visible"};
    // Root's jails' directory cannot be listed by the jail user at all (0711); a non-root
    // user's own can, and must show this jail alone.
    std::vector<std::string> names;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec))
      names.push_back(it->path().filename().string());
    if (ec && ec != std::errc::permission_denied) return {4, "listing the jails' directory: " + ec.message()};
    if (!ec && names != std::vector<std::string>{std::filesystem::path(mine.j.dir).filename().string()}) {
      std::string all;
      for (const auto& n : names) all += n + " ";
      return {4, "the jails' directory shows: " + all};
    }
    std::ifstream f(mine.j.dir + "/mine.txt");
    std::string text;
    if (!(f >> text) || text != "ours") return {4, "its own files are gone"};
    std::ofstream(mine.j.dir + "/out.tif") << "II*";  // and it can still leave its result
    return {0, ""};
  }, tight(), mine.j);
  EXPECT_EQ(r.code, 0) << r.message;
  EXPECT_TRUE(std::filesystem::exists(mine.j.dir + "/out.tif"));
  EXPECT_TRUE(std::filesystem::exists(other.j.dir + "/tmp/their.pdf"));  // untouched outside
}

TEST(SandboxJail, InAWarmJailEachRunIsWalledAndEndsWithWhatItStarted) {
  // A process that entered the jail once (the warm render server) runs document after
  // document in it: each has no network, no root, seccomp, and whatever it started dies with it.
  Jail jail;
  int result[2];
  ASSERT_EQ(pipe(result), 0);
  pid_t server = fork();
  ASSERT_GE(server, 0);
  if (server == 0) {
    close(result[0]);
    auto say = [&](const std::string& s) {
      (void)!write(result[1], s.data(), s.size());
      _exit(0);
    };
    if (std::string why = app::enter_jail(jail.j); !why.empty()) say("enter_jail: " + why);
    // The next process is the jail's PID 1: the warm server's loop runs there.
    if (pid_t warm = fork(); warm != 0) {
      int ws = 0;
      waitpid(warm, &ws, 0);
      _exit(0);
    }
    app::SandboxJail inside = jail.j;
    inside.inside = true;
    int held[2];
    if (pipe(held) != 0) say("pipe");
    inside.close_fds = {result[1]};  // what a document must not reach
    auto first = app::run_sandboxed([&]() -> app::SandboxOutcome {
      if (fcntl(result[1], F_GETFD) != -1) return {4, "the server's descriptor is open in the work"};
      if (socket(AF_INET, SOCK_DGRAM, 0) >= 0) return {4, "an AF_INET socket"};
      if (geteuid() == 0) return {4, "root"};
      if (unshare(CLONE_NEWNS) == 0) return {4, "unshare was allowed"};
      if (fork() == 0) {  // a helper that would outlive its document, holding `held`
        setsid();
        for (;;) pause();
      }
      return {0, ""};
    }, tight(), inside);
    if (first.code != 0) say("first: " + first.message);
    close(held[1]);
    pollfd p{held[0], POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) say("the first document's helper outlived it");
    // What a document leaves for the next: a file in /tmp, in /dev/shm and in the server's own
    // directory, a SysV segment.
    const std::string server_dir = std::filesystem::path(jail.j.dir).string();
    auto leave = app::run_sandboxed([&]() -> app::SandboxOutcome {
      std::ofstream("/tmp/left-by-a") << "a's bytes";
      std::ofstream("/dev/shm/left-by-a") << "a's bytes";
      std::ofstream(jail.j.dir + "/../left-by-a") << "a's bytes";
      int id = shmget(0x4661784a, 4096, IPC_CREAT | 0600);
      if (id < 0) return {4, "shmget"};
      return {0, ""};
    }, tight(), inside);
    if (leave.code != 0) say("leave: " + leave.message);
    auto second = app::run_sandboxed([&]() -> app::SandboxOutcome {
      for (const std::string& p : std::vector<std::string>{"/tmp/left-by-a", "/dev/shm/left-by-a", jail.j.dir + "/../left-by-a"}) {
        if (std::filesystem::exists(p)) return {4, p + " is still there"};
      }
      if (shmget(0x4661784a, 0, 0) >= 0) return {4, "the SysV segment is still there"};
      __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
      __user_cap_data_struct d[2] = {};
      if (syscall(SYS_capget, &h, d) != 0 || d[0].effective || d[0].permitted || d[1].effective || d[1].permitted) {
        return {4, "the work holds a capability"};
      }
      return {0, ""};
    }, tight(), inside);
    if (second.code != 0) say("second: " + second.message);
    say("ok");
  }
  close(result[1]);
  EXPECT_EQ(text_of(server, result[0]), "ok");
}

// Runs `body` where the warm render server runs its documents: in a process that entered the
// jail, as the jail's PID 1. `body` returns "ok" or what went wrong.
std::string in_warm_jail(const app::SandboxJail& jail, const std::function<std::string(const app::SandboxJail&)>& body) {
  int result[2];
  if (pipe(result) != 0) return "pipe";
  pid_t server = fork();
  if (server < 0) return "fork";
  if (server == 0) {
    close(result[0]);
    auto say = [&](const std::string& s) {
      (void)!write(result[1], s.data(), s.size());
      _exit(0);
    };
    if (std::string why = app::enter_jail(jail); !why.empty()) say("enter_jail: " + why);
    if (pid_t warm = fork(); warm != 0) {
      int ws = 0;
      waitpid(warm, &ws, 0);
      _exit(0);
    }
    app::SandboxJail inside = jail;
    inside.inside = true;
    inside.close_fds = {result[1]};
    say(body(inside));
  }
  close(result[1]);
  return text_of(server, result[0]);
}

TEST(SandboxJail, InAWarmJailACrashAnAbortAndSpinningFailOnlyTheirDocument) {
  // The document's process is PID 1 of its namespace, which ignores signals it has no handler
  // for unless the kernel forces them: a crash, an abort and the CPU limit must still end it.
  Jail jail;
  EXPECT_EQ(in_warm_jail(jail.j, [](const app::SandboxJail& inside) -> std::string {
    auto pid1 = app::run_sandboxed([]() -> app::SandboxOutcome {
      return {getpid() == 1 ? 0 : 4, "pid " + std::to_string(getpid())};
    }, tight(), inside);
    if (pid1.code != 0) return "not PID 1 of its own namespace: " + pid1.message;
    auto crash = app::run_sandboxed([]() -> app::SandboxOutcome {
      volatile int* nowhere = nullptr;
      *nowhere = 1;
      return {0, ""};
    }, tight(), inside);
    if (crash.code != 4 || crash.message.find("crashed") == std::string::npos) return "crash: " + crash.message;
    auto aborted = app::run_sandboxed([]() -> app::SandboxOutcome {
      std::abort();
    }, tight(), inside);
    if (aborted.code != 4) return "abort: " + std::to_string(aborted.code) + " " + aborted.message;
    // (PID 1 ignores SIGXCPU: only a hard limit at the soft one ends it in time.)
    auto spin = spin_for_the_cpu_limit(inside);
    if (spin.code != 5 || spin.message.find("CPU time") == std::string::npos) return "spin: " + spin.message;
    auto after = app::run_sandboxed([]() -> app::SandboxOutcome { return {0, ""}; }, tight(), inside);
    return after.code == 0 ? "ok" : "the next document: " + after.message;
  }), "ok");
}

TEST(SandboxJail, AProcessStartedAheadGetsItsRequestAndNoneOfTheCallersDescriptors) {
  // The warm server starts the next document's process before its request comes: the request
  // reaches the work; a descriptor the caller holds at the start (the daemon's input and output
  // when the process is made with a request in hand) is not in it when named in close_fds;
  // none but the standard three is open when the work runs; a process never given work is
  // killed and reaped.
  Jail jail;
  EXPECT_EQ(in_warm_jail(jail.j, [](const app::SandboxJail& inside) -> std::string {
    const int held = open("/dev/null", O_RDONLY);  // the daemon's input, say
    app::SandboxJail walled = inside;
    walled.close_fds.push_back(held);
    app::SandboxStart ahead([held](const std::string& request) -> app::SandboxOutcome {
      if (request != "render this") return {4, "the request came as '" + request + "'"};
      if (getpid() != 1) return {4, "not PID 1"};
      if (fcntl(held, F_GETFD) != -1) return {4, "the caller's descriptor is open in the work"};
      // No socket at all: neither the caller's end of the request's socket pair nor its own
      // (closed once the request is read), nor the server's socket (in close_fds of `inside`).
      for (int fd = 3; fd < 1024; ++fd) {
        char target[64] = {};
        if (readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), target, sizeof target - 1) > 0 &&
            std::string(target).rfind("socket:", 0) == 0) {
          return {4, "descriptor " + std::to_string(fd) + " is a socket in the work"};
        }
      }
      return {0, ""};
    }, tight(), walled);
    if (!ahead.error().empty()) return "start: " + ahead.error();
    if (!ahead.waiting()) return "not waiting";
    auto out = ahead.go("render this", 3);
    close(held);
    if (out.code != 0) return "go: " + out.message;
    if (ahead.waiting()) return "still waiting after its work";
    if (ahead.go("again", 3).code != 5) return "a second go was run";
    ahead.finish();  // what is left of it ended and reaped
    {
      app::SandboxStart unused([](const std::string&) -> app::SandboxOutcome { return {0, ""}; }, tight(), inside);
      if (!unused.waiting()) return "the unused one is not waiting";
    }
    // Destroyed: killed and reaped, no child left.
    if (waitpid(-1, nullptr, WNOHANG) != -1 || errno != ECHILD) return "a child was left behind";
    return "ok";
  }), "ok");
}

TEST(SandboxJail, WhatTheWorkLeftBehindDiesWithIt) {
  Jail jail;
  const std::string name = "fbj-" + std::to_string(getpid());  // ours, not another test run's
  auto r = app::run_sandboxed([&]() -> app::SandboxOutcome {
    if (fork() == 0) {  // a helper in a session of its own, as a LibreOffice helper may be
      setsid();
      prctl(PR_SET_NAME, name.c_str());
      for (;;) pause();
    }
    return {0, ""};
  }, tight(), jail.j);
  EXPECT_EQ(r.code, 0) << r.message;
  auto orphans = [&] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      std::ifstream comm(e.path() / "comm");
      std::ifstream stat(e.path() / "stat");
      std::string pid, c, state;
      std::string comm_name;
      if (std::getline(comm, comm_name) && comm_name == name && (stat >> pid >> c >> state) && state != "Z") ++n;
    }
    return n;
  };
  // Polled with a deadline: the kernel kills the namespace's processes as its init ends, which
  // under load may take a moment after run_sandboxed returned.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (orphans() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(orphans(), 0);
}

TEST(SandboxJail, ACrashInTheJailIsStillCorruptInput) {
  Jail jail;
  auto r = app::run_sandboxed([]() -> app::SandboxOutcome {
    std::raise(SIGSEGV);
    return {0, ""};
  }, tight(), jail.j);
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.message.find("crashed"), std::string::npos) << r.message;
}

}  // namespace
