// privileges.cpp — see privileges.hpp.
#include "app/privileges.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <utility>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.hpp"

namespace fs = std::filesystem;

namespace app {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

// capset(2) without libcap: version 3, two 32-bit words per set.
bool set_capabilities(const std::vector<int>& keep) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int cap : keep) {
    data[cap / 32].effective |= 1u << (cap % 32);
    data[cap / 32].permitted |= 1u << (cap % 32);
  }
  return ::syscall(SYS_capset, &header, data) == 0;
}

// One take_ownership walk. Every step works on descriptors: each entry is opened with
// O_PATH|O_NOFOLLOW under its parent's descriptor, checked with fstat and changed through that
// same descriptor (fchownat AT_EMPTY_PATH), so a name swapped for a link to elsewhere while the
// walk runs changes nothing outside. Directories are entered with O_NOFOLLOW|O_DIRECTORY and
// must be the inode just checked; other file systems are not entered.
struct Walk {
  uid_t uid = 0;
  gid_t gid = 0;
  dev_t dev = 0;
  bool counting = true;  // the first pass counts the names of multiply linked files in the tree
  std::map<std::pair<dev_t, ino_t>, nlink_t> names;
  int changed = 0;
};

constexpr int kMaxDepth = 64;

void visit(Walk& w, int parent, const char* name, const std::string& path, int depth);

void walk_dir(Walk& w, int dir, const std::string& path, int depth) {
  if (depth > kMaxDepth) return;
  int dup = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return;
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return;
  }
  ::rewinddir(d);  // the duplicate shares its offset: a second pass would start at the end
  std::vector<std::string> entries;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) entries.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const auto& e : entries) visit(w, dir, e.c_str(), path + "/" + e, depth + 1);
}

void visit(Walk& w, int parent, const char* name, const std::string& path, int depth) {
  const int fd = ::openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;  // gone
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_dev != w.dev) {
    ::close(fd);
    return;
  }
  if (w.counting) {
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) ++w.names[{st.st_dev, st.st_ino}];
  } else if (st.st_uid != w.uid || st.st_gid != w.gid) {
    // A file with a name outside the tree (a hard link planted to a system file) is not ours.
    const bool foreign = !S_ISDIR(st.st_mode) && st.st_nlink > 1 && w.names[{st.st_dev, st.st_ino}] < st.st_nlink;
    if (foreign) {
      fb::log("not taking ownership of " + path + ": it has " + std::to_string(st.st_nlink) + " names, not all here");
    } else if (::fchownat(fd, "", w.uid, w.gid, AT_EMPTY_PATH) == 0) {
      ++w.changed;
    }
  }
  if (S_ISDIR(st.st_mode)) {
    const int dir = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat again {};
    if (dir >= 0 && ::fstat(dir, &again) == 0 && again.st_ino == st.st_ino && again.st_dev == st.st_dev) {
      walk_dir(w, dir, path, depth);
    }
    if (dir >= 0) ::close(dir);
  }
  ::close(fd);
}

}  // namespace

std::optional<Account> find_account(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found) return std::nullopt;
  return Account{name, found->pw_uid, found->pw_gid};
}

std::optional<Account> find_account_by_uid(uid_t uid) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return std::nullopt;
  return Account{found->pw_name, found->pw_uid, found->pw_gid};
}

std::string relative_to(const std::string& path, const fs::path& data_dir) {
  const fs::path abs = fs::absolute(path).lexically_normal();
  fs::path a = abs, d = data_dir;
  // "var/" and "var" are the same directory.
  if (!a.has_filename()) a = a.parent_path();
  if (!d.has_filename()) d = d.parent_path();
  if (a == d) return ".";
  const fs::path rel = a.lexically_relative(d);
  if (!rel.empty() && *rel.begin() != "..") return rel.string();
  return a.string();
}

bool is_system_directory(const fs::path& dir) {
  std::error_code ec;
  fs::path d = fs::weakly_canonical(dir, ec);  // a link to /etc is /etc
  if (ec) d = dir.lexically_normal();
  if (!d.has_filename() && d != d.root_path()) d = d.parent_path();
  // The system's own trees, whole.
  static const char* const kTrees[] = {"/usr", "/etc", "/boot", "/bin", "/sbin", "/lib", "/lib32",
                                       "/lib64", "/libx32", "/proc", "/sys", "/dev"};
  for (const char* t : kTrees) {
    const fs::path tree(t);
    const fs::path rel = d.lexically_relative(tree);
    if (!rel.empty() && *rel.begin() != "..") return true;
  }
  // Directories that hold others' data: not themselves (a directory of one's own inside is fine).
  static const char* const kShared[] = {"/",        "/home",     "/root",       "/tmp",     "/var",
                                        "/var/lib", "/var/spool", "/var/tmp",   "/var/log", "/var/mail",
                                        "/var/cache", "/var/backups", "/srv",   "/opt",     "/mnt",
                                        "/media",   "/run",      "/usr/local"};
  for (const char* s : kShared) {
    if (d == fs::path(s)) return true;
  }
  return false;
}

namespace {

// fs.protected_hardlinks: without it, the node's user could link any file into the tree (and
// move names between the two passes), so a file with several names is never taken.
bool hardlinks_protected() {
  FILE* f = std::fopen("/proc/sys/fs/protected_hardlinks", "r");
  int v = 0;
  if (f) {
    if (std::fscanf(f, "%d", &v) != 1) v = 0;
    std::fclose(f);
  }
  return v == 1;
}

}  // namespace

int take_ownership(const std::string& dir, uid_t uid, gid_t gid) {
  const int top = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (top < 0) fail("cannot take ownership of " + dir);
  struct stat st {};
  if (::fstat(top, &st) != 0) {
    ::close(top);
    fail("cannot take ownership of " + dir);
  }
  Walk w;
  w.uid = uid;
  w.gid = gid;
  w.dev = st.st_dev;
  if (hardlinks_protected()) walk_dir(w, top, dir, 0);  // count the names (else none count)
  w.counting = false;
  if (st.st_uid != uid || st.st_gid != gid) {
    if (::fchown(top, uid, gid) == 0) ++w.changed;
  }
  walk_dir(w, top, dir, 0);
  ::close(top);
  return w.changed;
}

void become(const Account& a, bool keep_bind) {
  // What is kept, if it is held at all (a container may have taken it already): nice -10 for
  // the media threads, and the binding of ports below 1024 when a listener wants one.
  std::vector<int> keep = {CAP_SYS_NICE};
  if (keep_bind) keep.push_back(CAP_NET_BIND_SERVICE);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct held[2] = {};
  if (::syscall(SYS_capget, &header, held) != 0) fail("cannot read the capabilities");
  std::vector<int> kept;
  for (int cap : keep) {
    if (held[cap / 32].permitted & (1u << (cap % 32))) kept.push_back(cap);
  }
  // Nothing else can come back by executing a program with file capabilities.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (std::find(kept.begin(), kept.end(), cap) == kept.end()) (void)::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  }
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail("cannot keep capabilities across the change of user");
  if (::setgroups(0, nullptr) != 0) fail("cannot drop the supplementary groups");
  if (::setresgid(a.gid, a.gid, a.gid) != 0) fail("cannot become group " + std::to_string(a.gid) + " of user " + a.name);
  if (::setresuid(a.uid, a.uid, a.uid) != 0) fail("cannot become user " + a.name);
  if (!set_capabilities(kept)) fail("cannot keep the capabilities it needs");
  // Off again, before any thread is made (threads inherit it).
  ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  // A change of user resets the dumpable flag to the system's default: not dumpable, again.
  ::prctl(PR_SET_DUMPABLE, 0);
  // No set-user-ID program gives anything back to this process or its children (user
  // namespaces, the converters' jails, still work under it).
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("cannot set no_new_privs");
  if (a.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) throw std::runtime_error("root could be taken back");
}

}  // namespace app
