#include "mail/maildir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mail {
namespace {

namespace fs = std::filesystem;

MaildirError sys(const std::string& what, const std::string& path, int err) {
  return MaildirError{false, what + " " + path + ": " + std::strerror(err)};
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

fb::Result<std::string, MaildirError> maildir_folder(const std::string& root, std::string_view address) {
  if (address.empty()) return MaildirError{true, "the address is empty"};
  if (address.size() > 254) return MaildirError{true, "the address is longer than 254 bytes"};
  if (address.front() == '.') return MaildirError{true, "the address " + std::string(address) + " starts with '.'"};
  if (address.find('/') != std::string_view::npos)
    return MaildirError{true, "the address " + std::string(address) + " contains '/'"};
  if (address.find('\0') != std::string_view::npos) return MaildirError{true, "the address contains a NUL"};
  std::string x(address);
  std::transform(x.begin(), x.end(), x.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return root + "/" + x;
}

fb::Result<std::string, MaildirError> deliver_maildir(const std::string& root, std::string_view address,
                                                      const std::string& key, std::string_view body,
                                                      std::optional<std::string_view> return_path) {
  auto folder = maildir_folder(root, address);
  if (!folder) return folder.error();
  std::string traced;
  std::string_view message = body;
  if (return_path) {
    auto line_safe = [](std::string_view s) {
      std::string out;
      for (char c : s) {
        if (c != '\r' && c != '\n' && c != '<' && c != '>') out.push_back(c);
      }
      return out;
    };
    const size_t eol = body.find('\n');
    const char* nl = eol != std::string_view::npos && eol > 0 && body[eol - 1] == '\r' ? "\r\n" : "\n";
    traced = "Return-Path: <" + line_safe(*return_path) + ">" + nl + "Delivered-To: " + line_safe(address) + nl;
    traced.append(body);
    message = traced;
  }
  if (key.empty() || !std::all_of(key.begin(), key.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
      }))
    return MaildirError{false, "the Maildir key '" + key + "' is not a file name"};
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return sys("create", root, ec.value());
  // Below the root, nothing is followed: every directory and file is opened relative to its
  // parent with O_NOFOLLOW, so a symlink planted in a Maildir (to /etc, to another user's
  // files) makes the delivery fail instead of writing through it.
  Fd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root_fd.fd < 0) return sys("open", root, errno);
  const std::string box = folder->substr(root.size() + 1);
  const bool fresh = ::mkdirat(root_fd.fd, box.c_str(), 0700) == 0;
  if (!fresh && errno != EEXIST) return sys("create", *folder, errno);
  Fd box_fd(::openat(root_fd.fd, box.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (box_fd.fd < 0) return sys("open", *folder, errno);
  Fd sub[3];
  const char* names[3] = {"tmp", "new", "cur"};
  for (int i = 0; i < 3; ++i) {
    if (::mkdirat(box_fd.fd, names[i], 0700) != 0 && errno != EEXIST) return sys("create", *folder + "/" + names[i], errno);
    sub[i].fd = ::openat(box_fd.fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub[i].fd < 0) return sys("open", *folder + "/" + names[i], errno);
  }
  if (fresh) {
    if (::fsync(box_fd.fd) != 0) return sys("fsync", *folder, errno);
    if (::fsync(root_fd.fd) != 0) return sys("fsync", root, errno);
  }
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  std::string h;
  for (char c : std::string(host)) h += c == '/' ? std::string("\\057") : c == ':' ? std::string("\\072") : std::string(1, c);
  const std::string name = key + "." + h + ",S=" + std::to_string(message.size());
  const std::string tmp = *folder + "/tmp/" + name, dst = *folder + "/new/" + name;
  // A fresh file: whatever had the name (a leftover of a crash, a planted link) is removed first,
  // so O_EXCL never writes through a hard link to someone else's file.
  ::unlinkat(sub[0].fd, name.c_str(), 0);
  int fd = ::openat(sub[0].fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return sys("create", tmp, errno);
  for (size_t off = 0; off < message.size();) {
    ssize_t n = ::write(fd, message.data() + off, message.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlinkat(sub[0].fd, name.c_str(), 0);
      return sys("write", tmp, err);
    }
    off += size_t(n);
  }
  int rc = ::fsync(fd), err = errno;
  if (::close(fd) != 0 && rc == 0) rc = -1, err = errno;
  if (rc != 0) {
    ::unlinkat(sub[0].fd, name.c_str(), 0);
    return sys("fsync", tmp, err);
  }
  // renameat replaces a name in new/ (a link there included) without following it.
  if (::renameat(sub[0].fd, name.c_str(), sub[1].fd, name.c_str()) != 0) {
    int err = errno;
    ::unlinkat(sub[0].fd, name.c_str(), 0);
    return sys("rename to", dst, err);
  }
  if (::fsync(sub[1].fd) != 0) return sys("fsync", *folder + "/new", errno);
  return dst;
}

}  // namespace mail
