// privileges.hpp — `serve` gives up root (issue 14; docs/security.md "No root").
//
// Started as root, serve:
// 1. finds [node] user (default faxbridge, made by scripts/install-deps; "root" keeps root);
// 2. locks the data directory (one serve each), creates it, and its spool and Maildir
//    directories when they lie outside it, and takes ownership of what is in them (files an
//    earlier run as root made). The walk works on descriptors (a name swapped for a link while
//    it runs changes nothing elsewhere), never follows a link or leaves the file system, and
//    skips a file with a name outside the tree (a hard link planted to a system file). A
//    directory that belongs to a third user (a home) is refused, not taken;
// 3. moves into the data directory and from then on names its files relative to it, so a data
//    directory under a private (0700) home, such as a checkout's var/, still works;
// 4. reads the certificates and keys it will need (serve.cpp: only root may read them, often),
//    then becomes the user: its primary group, no supplementary groups, real, effective and
//    saved ids all the user's, so root cannot be taken back. It keeps CAP_SYS_NICE (its media
//    threads run at nice -10) and, only when a listener wants a port below 1024,
//    CAP_NET_BIND_SERVICE, each only if it was held; the bounding set loses the rest.
// Started as another user, serve stays that user; steps 2 (without the change of owner) and 3
// are the same.
// A data directory that is / or a system directory (/usr, /etc, /var, /home, ...) is refused:
// taking ownership of it would give the system away.
// Errors are std::runtime_error naming the user or path and what failed.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <sys/types.h>

namespace app {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The account `name`, or nullopt when there is none.
[[nodiscard]] std::optional<Account> find_account(const std::string& name);
[[nodiscard]] std::optional<Account> find_account_by_uid(uid_t uid);

// `path` for a process whose working directory is `data_dir` (absolute, normal): "." for the
// directory itself, a relative path for what lies under it, else the absolute path (resolved
// against the current working directory).
[[nodiscard]] std::string relative_to(const std::string& path, const std::filesystem::path& data_dir);

// True when `dir` (absolute; links resolved) is / or lies in a system tree (/usr, /etc, /boot,
// /lib..., /bin, /sbin, /proc, /sys, /dev) or is a directory shared by others (/var, /home,
// /tmp, /var/lib, ...): none may become a daemon's.
[[nodiscard]] bool is_system_directory(const std::filesystem::path& dir);

// Gives everything under `dir` (itself included) to uid:gid, as step 2 says. Returns how many
// entries changed owner; throws when `dir` cannot be walked.
int take_ownership(const std::string& dir, uid_t uid, gid_t gid);

// Step 4, before any thread starts. Throws when an id cannot be set or root could be taken back.
void become(const Account& account, bool keep_bind);

}  // namespace app
