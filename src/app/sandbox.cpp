// sandbox.cpp — fork, limit, run, report (see sandbox.hpp).
#include "app/sandbox.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <new>

#include <algorithm>
#include <cstdlib>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

constexpr size_t kMaxReport = 64 * 1024;

[[noreturn]] void report_and_exit(int fd, const SandboxOutcome& out) {
  // The code, the sentence and a NUL: a report read to its NUL is whole (SandboxStart::go
  // need not wait for the process's end to know its outcome).
  write_all(fd, std::to_string(out.code) + "\n" + out.message + std::string(1, '\0'));
  ::close(fd);
  ::_exit(out.code);
}

// capset(2) to nothing for this (single-threaded) process: version 3, two words per set.
bool drop_all_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  return ::syscall(SYS_capset, &header, data) == 0;
}

void set_limit(int resource, rlim_t v) {
  rlimit r{v, v};
  ::setrlimit(resource, &r);
}

// What the work may not do, whatever it is tricked into (sandbox.hpp), as a BPF program: built
// once per process (before the fork, so a warm server's documents only load it).
std::vector<sock_filter>* g_seccomp_program = nullptr;

bool build_seccomp(std::vector<sock_filter>& program) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return false;
  bool ok = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX)) == 0;
  for (int sys : {SCMP_SYS(ptrace), SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root), SCMP_SYS(chroot),
                  SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(kexec_load), SCMP_SYS(init_module),
                  SCMP_SYS(finit_module), SCMP_SYS(delete_module), SCMP_SYS(bpf), SCMP_SYS(perf_event_open),
                  SCMP_SYS(keyctl), SCMP_SYS(add_key), SCMP_SYS(request_key), SCMP_SYS(userfaultfd),
                  SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev), SCMP_SYS(io_uring_setup),
                  SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at), SCMP_SYS(reboot), SCMP_SYS(swapon),
                  SCMP_SYS(swapoff), SCMP_SYS(acct), SCMP_SYS(quotactl), SCMP_SYS(fsopen),
                  SCMP_SYS(fsconfig), SCMP_SYS(fsmount), SCMP_SYS(fspick), SCMP_SYS(move_mount),
                  SCMP_SYS(open_tree), SCMP_SYS(mount_setattr)}) {
    ok = ok && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), sys, 0) == 0;
  }
  // New namespaces by clone too (threads and fork pass); clone3's flags sit in memory seccomp
  // cannot read: ENOSYS makes glibc fall back to clone.
  for (scmp_datum_t flag : {scmp_datum_t(CLONE_NEWUSER), scmp_datum_t(CLONE_NEWNS), scmp_datum_t(CLONE_NEWNET),
                            scmp_datum_t(CLONE_NEWPID), scmp_datum_t(CLONE_NEWIPC), scmp_datum_t(CLONE_NEWUTS),
                            scmp_datum_t(CLONE_NEWCGROUP)}) {
    ok = ok && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)) == 0;
  }
  ok = ok && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) == 0;
  // Exported through a pipe (libseccomp writes the program to a descriptor); it is a few
  // hundred bytes, far below a pipe's buffer.
  int p[2];
  if (ok && ::pipe2(p, O_CLOEXEC) == 0) {
    ok = seccomp_export_bpf(ctx, p[1]) == 0;
    ::close(p[1]);
    std::string bytes;
    char buf[4096];
    for (ssize_t n; ok && (n = ::read(p[0], buf, sizeof buf)) > 0;) bytes.append(buf, size_t(n));
    ::close(p[0]);
    ok = ok && !bytes.empty() && bytes.size() % sizeof(sock_filter) == 0;
    if (ok) {
      program.resize(bytes.size() / sizeof(sock_filter));
      std::memcpy(program.data(), bytes.data(), bytes.size());
    }
  } else {
    ok = false;
  }
  seccomp_release(ctx);
  return ok;
}

bool prepare_seccomp() {
  if (g_seccomp_program) return true;
  auto* program = new std::vector<sock_filter>();
  if (!build_seccomp(*program)) {
    delete program;
    return false;
  }
  g_seccomp_program = program;
  return true;
}

bool load_seccomp() {
  if (!prepare_seccomp()) return false;
  sock_fprog prog{static_cast<unsigned short>(g_seccomp_program->size()), g_seccomp_program->data()};
  return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// The work, in the jail when there is one: its directory, its user, no new privileges, seccomp.
[[noreturn]] void worker(int fd, const std::function<SandboxOutcome()>& work, const SandboxLimits& lim,
                         const SandboxJail& jail) {
  rlimit as{lim.memory_bytes, lim.memory_bytes};
  ::setrlimit(RLIMIT_AS, &as);
  // SIGXCPU at the soft limit; PID 1 of a namespace (the warm server's document) ignores it, so
  // there the hard limit is the same and its SIGKILL ends the work on time (the kernel's own
  // SIGKILL reaches a namespace's init since Linux 4.20; Debian 12 has 6.1).
  rlimit cpu{rlim_t(lim.cpu_seconds), rlim_t(lim.cpu_seconds + (jail.inside ? 0 : 5))};
  ::setrlimit(RLIMIT_CPU, &cpu);
  rlimit core{0, 0};
  ::setrlimit(RLIMIT_CORE, &core);
  if (jail.enabled) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    set_limit(RLIMIT_NOFILE, 1024);
    set_limit(RLIMIT_NPROC, 512);
    set_limit(RLIMIT_FSIZE, rlim_t(1) << 30);
    set_limit(RLIMIT_NICE, 0);  // the daemon's allowance to raise its media threads is not the jail's
    if (::chdir(jail.dir.c_str()) != 0) report_and_exit(fd, {5, "cannot enter the converter's jail directory"});
    ::setenv("HOME", jail.dir.c_str(), 1);
    ::setenv("TMPDIR", (jail.dir + "/tmp").c_str(), 1);
    if (::geteuid() == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid_t(jail.gid)) != 0 || ::setuid(uid_t(jail.uid)) != 0 ||
          ::setuid(0) == 0) {
        report_and_exit(fd, {5, "cannot become the converter's jail user"});
      }
    } else if (!drop_all_capabilities()) {
      // Not root: the jail is a user namespace whose capabilities this process holds. None go
      // with the work.
      report_and_exit(fd, {5, "cannot drop the converter's capabilities"});
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || !load_seccomp()) {
      report_and_exit(fd, {5, "cannot load the converter's seccomp filter"});
    }
  }
  SandboxOutcome out;
  try {
    out = work();
  } catch (const std::bad_alloc&) {
    out = {5, "over the memory limit of " + std::to_string(lim.memory_bytes >> 20) + " MiB"};
  } catch (const std::exception& e) {
    out = {4, std::string("internal error: ") + e.what()};
  }
  report_and_exit(fd, out);
}

bool write_file(const char* path, const std::string& text) {
  int f = ::open(path, O_WRONLY | O_CLOEXEC);
  if (f < 0) return false;
  const bool ok = ::write(f, text.data(), text.size()) == ssize_t(text.size());
  const int err = errno;
  ::close(f);
  errno = err;
  return ok;
}

// Waits for `pid`; its end as an exit code, a signal as 128 + its number.
int wait_status(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WIFEXITED(st) ? WEXITSTATUS(st) : 4;
}

}  // namespace

std::string enter_jail(const SandboxJail& jail) {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  int flags = CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS;
  if (uid != 0) flags |= CLONE_NEWUSER;  // namespaces without root
  if (::unshare(flags) != 0) return std::string("cannot enter the converter's jail (unshare: ") + std::strerror(errno) + ")";
  if (uid != 0) {  // ourselves inside the user namespace too (mounts need a mapped user)
    // Only a dumpable process may write its own maps (a non-root daemon, and the convert
    // process, are not dumpable); the caller makes it undumpable again at once.
    ::prctl(PR_SET_DUMPABLE, 1);
    if (!write_file("/proc/self/setgroups", "deny") ||
        !write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1") ||
        !write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1")) {
      return std::string("cannot map the converter's user namespace: ") + std::strerror(errno);
    }
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("cannot enter the converter's jail (mount: ") + std::strerror(errno) + ")";
  }
  // What must stay in sight: the jail itself and what renderers run on. A directory to cover
  // that holds one of them (a data_dir of "." run from /, a TMPDIR under /var/tmp) is left
  // alone rather than taking the system away.
  const std::vector<std::string> keep = {jail.dir, "/usr", "/etc", "/lib", "/lib64", "/bin", "/sbin", "/dev",
                                         "/var/cache", "/opt", "/proc"};
  auto covers_kept = [&](const std::string& d) {
    return std::any_of(keep.begin(), keep.end(), [&](const std::string& k) { return d == "/" || k == d || k.rfind(d + "/", 0) == 0; });
  };
  std::vector<std::pair<std::string, bool>> hide;  // (directory, must it be covered)
  for (const char* d : kHidden) hide.emplace_back(d, false);
  for (const auto& d : jail.hide) hide.emplace_back(d, true);
  for (auto& [dir, must] : hide) {
    std::string d = std::filesystem::path(dir).lexically_normal().string();
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    struct stat st {};
    if (d.empty() || d[0] != '/' || covers_kept(d) || ::lstat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (::mount("tmpfs", d.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=755") != 0 && must) {
      return "cannot cover " + d + " in the converter's jail: " + std::strerror(errno);
    }
  }
  // The other jails out of sight: an empty tmpfs over the jails' directory with this jail bound
  // back in. They belong to the same user (a non-root daemon's own uid), so without this a
  // document could list and read another sender's while it is being rendered.
  {
    const std::filesystem::path self = std::filesystem::path(jail.dir).lexically_normal();
    const std::string base = self.parent_path().string();
    const int keep_fd = ::open(jail.dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    const std::string keep_path = "/proc/self/fd/" + std::to_string(keep_fd);
    if (keep_fd < 0 ||
        ::mount("tmpfs", base.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=711") != 0 ||
        ::mkdir(jail.dir.c_str(), 0700) != 0 ||
        ::mount(keep_path.c_str(), jail.dir.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return "cannot hide the other jails from the converter's jail: " + std::string(std::strerror(errno));
    }
    ::close(keep_fd);
  }
  return "";
}

namespace {

// For a document run inside a warm jail: empty /tmp and /dev/shm of its own, and the server's
// directory (its other files, the warm-up's HOME) covered, only the document's own directory
// (jail.dir) bound back in its place.
std::string fresh_scratch(const SandboxJail& jail) {
  const int keep = ::open(jail.dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (keep < 0) return "cannot open the document's directory: " + std::string(std::strerror(errno));
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::close(keep);
    return "cannot " + what + " in the converter's jail: " + std::strerror(err);
  };
  struct stat st {};
  if (::lstat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
      ::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64m,mode=1777") != 0) {
    return fail("cover /dev/shm");
  }
  if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1g,mode=1777") != 0) return fail("cover /tmp");
  const std::filesystem::path server_dir = std::filesystem::path(jail.dir).lexically_normal().parent_path();
  std::error_code ec;
  if (std::filesystem::is_directory(server_dir, ec)) {  // not under /tmp: cover it where it is
    if (::mount("tmpfs", server_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=711") != 0) {
      return fail("cover the server's directory");
    }
  } else {
    // Under /tmp, now empty: the way down to the document's directory, searchable by its user.
    std::filesystem::path at = "/";
    for (const auto& part : server_dir.relative_path()) {
      at /= part;
      if (::mkdir(at.c_str(), 0711) != 0 && errno != EEXIST) return fail("make " + at.string());
      if (::chmod(at.c_str(), 0711) != 0) return fail("open " + at.string());  // whatever the umask (027 in serve)
    }
  }
  const std::string keep_path = "/proc/self/fd/" + std::to_string(keep);
  if (::mkdir(jail.dir.c_str(), 0700) != 0 || ::mount(keep_path.c_str(), jail.dir.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return fail("bind the document's directory");
  }
  ::close(keep);
  return "";
}

// The forked child. Without a jail it is the worker. Inside the warm server's jail it is the
// worker, as PID 1 of its own namespace. With a jail of its own it enters new namespaces and
// forks their init (PID 1), which forks the worker (PID 2) and reaps; when the worker ends, init
// ends and the kernel kills whatever is left in the namespace. This process (outside the
// namespace) ends as the worker did, a signal included, for run_sandboxed to read.
[[noreturn]] void child(int fd, const std::function<SandboxOutcome()>& work, const SandboxLimits& lim,
                        const SandboxJail& jail, pid_t parent) {
  ::setpgid(0, 0);
  for (int c : jail.close_fds) ::close(c);  // the server's socket: never in reach of a document
  if (!jail.enabled) worker(fd, work, lim, jail);
  set_limit(RLIMIT_CORE, 0);  // a signal re-raised here dumps nothing
  // The convert process killed (the daemon stopping it): the jail goes with it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // (Its parent is out of sight of a document's PID namespace, whose parent PID reads 0; the
  // warm server is its jail's PID 1, which takes the whole jail with it when it dies.)
  if (::getppid() != (jail.inside ? 0 : parent)) ::_exit(5);
  // Neither this process nor the jail's init may lead the work back out: their working
  // directory (inherited: the daemon's data directory) would be open to the work through
  // /proc/<pid>/cwd, and a dumpable process of the same user to /proc/<pid>/mem.
  // (Not dumpable once the user namespace is mapped: writing its own uid_map needs it.)
  if (::chdir(jail.dir.c_str()) != 0) report_and_exit(fd, {5, "cannot enter the converter's jail directory"});
  if (jail.inside) {
    // Already in the jail's namespaces (the warm render server), and forked as PID 1 of a PID
    // namespace of its own (start_child): IPC and mount namespaces of its own too, so that nothing
    // this document starts or leaves (a process, a SysV segment, a file in a scratch directory)
    // reaches the next one. This process is the worker: when it ends, the kernel kills whatever
    // is left in its namespace. (One process, not three: each fork and exit of the warm server's
    // image costs a millisecond or more.)
    if (::getpid() != 1) report_and_exit(fd, {5, "the converter's document is not alone in its PID namespace"});
    if (::unshare(CLONE_NEWNS | CLONE_NEWIPC) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      report_and_exit(fd, {5, std::string("cannot enter the converter's jail (unshare: ") + std::strerror(errno) + ")"});
    }
    if (std::string why = fresh_scratch(jail); !why.empty()) report_and_exit(fd, {5, why});
    (void)::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    ::prctl(PR_SET_DUMPABLE, 0);
    worker(fd, work, lim, jail);
  } else if (std::string why = enter_jail(jail); !why.empty()) {
    report_and_exit(fd, {5, why});
  }
  ::prctl(PR_SET_DUMPABLE, 0);
  pid_t init = ::fork();
  if (init < 0) report_and_exit(fd, {5, "cannot start the converter's jail"});
  if (init == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // (its parent is alive: it waits for this init)
    // A /proc of this PID namespace: the host's processes out of sight. A container that
    // forbids it (lxcfs over /proc) keeps the host's: the other walls stand.
    (void)::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    pid_t w = ::fork();
    if (w < 0) report_and_exit(fd, {5, "cannot start the converter in its jail"});
    if (w == 0) worker(fd, work, lim, jail);
    ::close(fd);
    for (;;) {  // reap every orphan; end with the worker
      int st = 0;
      pid_t p = ::waitpid(-1, &st, 0);
      if (p < 0 && errno == EINTR) continue;
      if (p < 0) ::_exit(4);
      if (p == w) ::_exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WIFEXITED(st) ? WEXITSTATUS(st) : 4);
    }
  }
  ::close(fd);
  int code = wait_status(init);
  if (code > 128) {  // the worker died of a signal: die of it too (init itself cannot: PID 1)
    ::signal(code - 128, SIG_DFL);
    ::raise(code - 128);
  }
  ::_exit(code);
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

}  // namespace

std::string jails_dir() {
  const char* base = std::getenv("TMPDIR");
  // Per user: root's (the convert CLI run as root) and a daemon's under its own user each keep
  // theirs, neither able to take over the other's.
  const uid_t uid = ::geteuid();
  return std::string(base && *base ? base : "/tmp") + "/faxbridge-jails" + (uid == 0 ? "" : "-" + std::to_string(uid));
}

SandboxJail make_jail() {
  SandboxJail j;
  j.enabled = true;
  // The jails live in one directory of ours that others may pass but not list (0711): a jail's
  // name is random, so a renderer in one jail cannot find another's (they share the jail user).
  const std::string parent = jails_dir();
  if (::mkdir(parent.c_str(), 0711) != 0 && errno != EEXIST) throw std::runtime_error("cannot create " + parent);
  struct stat st {};
  if (::lstat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
    throw std::runtime_error(parent + " is not a directory of this user's (a link, or someone else's)");
  }
  ::chmod(parent.c_str(), 0711);
  std::string tmpl = parent + "/XXXXXXXXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create the converter's jail directory in " + parent);
  j.dir = tmpl;
  std::filesystem::create_directories(j.dir + "/tmp");
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("faxbridge-convert");
    if (!pw) pw = ::getpwnam("nobody");
    if (!pw || pw->pw_uid == 0) throw std::runtime_error("no unprivileged user for the converter's jail (faxbridge-convert)");
    j.uid = pw->pw_uid;
    j.gid = pw->pw_gid;
    if (::chown(j.dir.c_str(), j.uid, j.gid) != 0 || ::chown((j.dir + "/tmp").c_str(), j.uid, j.gid) != 0) {
      throw std::runtime_error("cannot give " + j.dir + " to the converter's jail user");
    }
  }
  ::chmod(j.dir.c_str(), 0700);
  return j;
}

void sweep_jails(int older_than_s) {
  std::error_code ec;
  const auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& e : std::filesystem::directory_iterator(jails_dir(), ec)) {
    auto t = e.last_write_time(ec);
    if (!ec && now - t > std::chrono::seconds(older_than_s)) std::filesystem::remove_all(e.path(), ec);
  }
}

void remove_jail(const SandboxJail& jail) {
  if (jail.dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(jail.dir, ec);
}

namespace {

// The first half of running work sandboxed: forks the child (child()). On success `child_pid` is
// set, with `report`, the end of the pipe its outcome comes through.
SandboxOutcome start_child(const std::function<SandboxOutcome()>& work, const SandboxLimits& lim,
                           const SandboxJail& jail, pid_t& child_pid, int& report) {
  if (jail.enabled && !prepare_seccomp()) return {5, "cannot build the converter's seccomp filter"};
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {5, std::string("cannot create a pipe: ") + std::strerror(errno)};
  const pid_t parent = ::getpid();
  // Inside the warm server's jail the document's process is forked straight into a PID
  // namespace of its own, as its PID 1; this process then forks into its own namespace again.
  int own_pid_ns = -1;
  if (jail.enabled && jail.inside) {
    own_pid_ns = ::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (own_pid_ns < 0 || ::unshare(CLONE_NEWPID) != 0) {
      const std::string why = std::strerror(errno);
      if (own_pid_ns >= 0) ::close(own_pid_ns);
      ::close(fds[0]);
      ::close(fds[1]);
      return {5, "cannot make the converter's PID namespace: " + why};
    }
  }
  pid_t pid = ::fork();
  const int fork_errno = errno;
  if (own_pid_ns >= 0) {
    if (pid == 0) {
      ::close(own_pid_ns);
    } else {
      // Back to forking into this process's own namespace. Should that fail, the next document
      // could not get a namespace of its own: a server that cannot isolate documents stops.
      const bool back = ::setns(own_pid_ns, CLONE_NEWPID) == 0;
      ::close(own_pid_ns);
      if (!back) {
        if (pid > 0) ::kill(pid, SIGKILL);
        ::_exit(3);
      }
    }
  }
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {5, std::string("cannot start the converter: ") + std::strerror(fork_errno)};
  }
  if (pid == 0) {
    ::close(fds[0]);
    child(fds[1], work, lim, jail, parent);
  }
  child_pid = pid;
  ::setpgid(pid, pid);
  ::close(fds[1]);
  report = fds[0];
  return {0, ""};
}

// The second half: reads the child's outcome and waits for its end, within lim.wall_seconds
// from now; kills its process group on the way out. Closes `report_fd`. With `early`, a whole
// report (read to its NUL) is returned at once with `running` set: the child may still be
// ending, and the caller kills and reaps it.
SandboxOutcome finish_child(pid_t pid, int report_fd, const SandboxLimits& lim, bool early, bool& running) {
  running = false;
  bool whole = false;
  std::string report;
  const double deadline = now_s() + lim.wall_seconds;
  bool timed_out = false;
  for (;;) {
    double left = deadline - now_s();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{report_fd, POLLIN, 0};
    int r = ::poll(&p, 1, int(std::min(left, 1.0) * 1000) + 1);
    if (r < 0 && errno != EINTR) {  // cannot watch the child any more: stop it, never wait blind
      timed_out = true;
      break;
    }
    if (r <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(report_fd, buf, sizeof buf);
    if (n > 0) {
      if (report.size() < kMaxReport) report.append(buf, size_t(n));  // a hostile worker may say more
      if (early && report.find('\0') != std::string::npos) {
        whole = true;
        break;
      }
      continue;
    }
    if (n == 0 || errno != EINTR) break;  // EOF: the child is done (or died)
  }
  ::close(report_fd);
  int status = 0;
  if (whole) running = true;
  if (!whole && timed_out) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return {5, "took longer than the limit of " + std::to_string(lim.wall_seconds) + " s"};
  }
  if (!whole) {
    // Its report is closed: it is ending, or (a hostile worker) closed it and lives on. Its end
    // is waited for only until the wall clock limit, through a pidfd.
    bool ended = false;
    const int pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
    for (;;) {
      const double left = deadline - now_s();
      if (pidfd < 0 || left <= 0) break;
      pollfd p{pidfd, POLLIN, 0};
      const int r = ::poll(&p, 1, int(std::min(left, 1.0) * 1000) + 1);
      if (r > 0) {
        ended = true;
        break;
      }
      if (r < 0 && errno != EINTR) break;
    }
    if (pidfd >= 0) ::close(pidfd);
    if (!ended && pidfd >= 0) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return {5, "took longer than the limit of " + std::to_string(lim.wall_seconds) + " s"};
    }
    ::waitpid(pid, &status, 0);  // (without a pidfd, Linux < 5.3: as before)
    ::kill(-pid, SIGKILL);  // anything the child left behind in its group
  }
  if (!whole && WIFSIGNALED(status)) {
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
  if (auto nul = out.message.find('\0'); nul != std::string::npos) out.message.resize(nul);
  ::explicit_bzero(report.data(), report.size());  // a warm server forks the next document from here
  return out;
}

}  // namespace

SandboxOutcome run_sandboxed(const std::function<SandboxOutcome()>& work, const SandboxLimits& lim,
                             const SandboxJail& jail) {
  pid_t pid = 0;
  int report = -1;
  SandboxOutcome out = start_child(work, lim, jail, pid, report);
  if (out.code != 0) return out;
  bool running = false;
  out = finish_child(pid, report, lim, false, running);
  out.pid = long(pid);
  return out;
}

SandboxStart::SandboxStart(const Work& work, const SandboxLimits& limits, const SandboxJail& jail,
                           const std::function<void()>& ahead)
    : limits_(limits) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    error_ = std::string("cannot create a socket pair: ") + std::strerror(errno);
    return;
  }
  SandboxJail j = jail;
  j.close_fds.push_back(sv[0]);  // the caller's end
  const int in = sv[1];
  // In the child, once it is walled in: the request, then the work.
  auto wait_then_work = [in, work, ahead]() -> SandboxOutcome {
    if (ahead) ahead();
    std::string request;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(in, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (request.size() + size_t(n) > kMaxRequest) return {5, "the converter's request is too long"};
      request.append(buf, size_t(n));
    }
    ::close(in);
    if (request.empty()) ::_exit(0);  // never given work: the caller stopped it
    SandboxOutcome out = work(request);
    ::explicit_bzero(request.data(), request.size());
    return out;
  };
  pid_t pid = -1;
  SandboxOutcome started = start_child(wait_then_work, limits, j, pid, report_);
  ::close(sv[1]);
  if (started.code != 0) {
    ::close(sv[0]);
    error_ = started.message;
    return;
  }
  pid_ = long(pid);
  go_ = sv[0];
}

SandboxStart::~SandboxStart() { stop(); }

SandboxStart::SandboxStart(SandboxStart&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), report_(std::exchange(o.report_, -1)), go_(std::exchange(o.go_, -1)),
      limits_(o.limits_), error_(std::move(o.error_)) {}

SandboxStart& SandboxStart::operator=(SandboxStart&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = std::exchange(o.pid_, -1);
    report_ = std::exchange(o.report_, -1);
    go_ = std::exchange(o.go_, -1);
    limits_ = o.limits_;
    error_ = std::move(o.error_);
  }
  return *this;
}

void SandboxStart::stop() {
  if (go_ >= 0) ::close(go_);
  if (report_ >= 0) ::close(report_);
  if (pid_ > 0) {
    ::kill(-pid_t(pid_), SIGKILL);
    ::kill(pid_t(pid_), SIGKILL);
    while (::waitpid(pid_t(pid_), nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
  go_ = report_ = -1;
}

bool SandboxStart::waiting() {
  if (pid_ <= 0 || go_ < 0) return false;  // (go_ is closed once it was given its work)
  int status = 0;
  if (::waitpid(pid_t(pid_), &status, WNOHANG) == 0) return true;
  pid_ = -1;  // ended (or not ours to wait for): nothing left to kill
  stop();
  return false;
}

SandboxOutcome SandboxStart::go(const std::string& request, int wall_seconds) {
  if (pid_ <= 0 || go_ < 0) return {5, error_.empty() ? "the converter's process is not waiting" : error_};
  if (request.empty()) return {5, "the converter was given no request"};
  size_t at = 0;
  while (at < request.size()) {
    ssize_t n = ::send(go_, request.data() + at, request.size() - at, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // it died: its end says so
    at += size_t(n);
  }
  ::close(go_);
  go_ = -1;
  SandboxLimits lim = limits_;
  lim.wall_seconds = wall_seconds;
  const pid_t pid = pid_t(pid_);
  bool running = false;
  SandboxOutcome out = finish_child(pid, report_, lim, true, running);
  report_ = -1;
  if (!running) pid_ = -1;  // else it may still be ending: stop() kills and reaps it
  out.pid = long(pid);
  return out;
}

}  // namespace app
