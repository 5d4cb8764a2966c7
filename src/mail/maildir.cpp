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

fb::Result<fb::Unit, MaildirError> fsync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys("open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return sys("fsync", path, err);
  return fb::Unit{};
}

fb::Result<fb::Unit, MaildirError> make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return sys("create", path, errno);
  return fb::Unit{};
}

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
                                                      const std::string& key, std::string_view message) {
  auto folder = maildir_folder(root, address);
  if (!folder) return folder.error();
  if (key.empty() || !std::all_of(key.begin(), key.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
      }))
    return MaildirError{false, "the Maildir key '" + key + "' is not a file name"};
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return sys("create", root, ec.value());
  bool fresh = !fs::exists(*folder);
  for (const char* sub : {"", "/tmp", "/new", "/cur"}) {
    if (auto r = make_dir(*folder + sub); !r) return r.error();
  }
  if (fresh) {
    if (auto r = fsync_dir(*folder); !r) return r.error();
    if (auto r = fsync_dir(root); !r) return r.error();
  }
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  std::string h;
  for (char c : std::string(host)) h += c == '/' ? std::string("\\057") : c == ':' ? std::string("\\072") : std::string(1, c);
  const std::string name = key + "." + h + ",S=" + std::to_string(message.size());
  const std::string tmp = *folder + "/tmp/" + name, dst = *folder + "/new/" + name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return sys("create", tmp, errno);
  for (size_t off = 0; off < message.size();) {
    ssize_t n = ::write(fd, message.data() + off, message.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return sys("write", tmp, err);
    }
    off += size_t(n);
  }
  int rc = ::fsync(fd), err = errno;
  if (::close(fd) != 0 && rc == 0) rc = -1, err = errno;
  if (rc != 0) {
    ::unlink(tmp.c_str());
    return sys("fsync", tmp, err);
  }
  if (::rename(tmp.c_str(), dst.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return sys("rename to", dst, err);
  }
  if (auto r = fsync_dir(*folder + "/new"); !r) return r.error();
  return dst;
}

}  // namespace mail
