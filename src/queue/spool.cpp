// spool.cpp — the message spool (see spool.hpp).
#include "queue/spool.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace queue {

namespace fs = std::filesystem;

namespace {

constexpr mode_t kDirMode = 0750;
constexpr mode_t kFileMode = 0640;
constexpr int kIdAttempts = 8;  // fresh ids to try if one is taken (it never should be)

SpoolError sys_error(const std::string& what, const std::string& path, int err) {
  return SpoolError{err, what + " " + path + ": " + std::strerror(err)};
}

// A directory's entries (a create, a rename) are durable only once the directory is fsynced.
SpoolStatus fsync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error("open directory", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return sys_error("fsync directory", path, err);
  return fb::Unit{};
}

SpoolStatus write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("write", path, errno);
    bytes.remove_prefix(size_t(n));
  }
  return fb::Unit{};
}

// Never replaces an existing message. renameat2(RENAME_NOREPLACE) where the file system has
// it; link + unlink otherwise, which is as atomic (a crash in between leaves only the .tmp,
// which recover() removes).
int rename_noreplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (::link(from.c_str(), to.c_str()) != 0) return errno;
  ::unlink(from.c_str());
  return 0;
}

// Created with kDirMode; an existing directory is kept as the operator made it.
SpoolStatus make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), kDirMode) != 0 && errno != EEXIST)
    return sys_error("create directory", path, errno);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return sys_error("create directory", path, errno);
  if (!S_ISDIR(st.st_mode)) return sys_error("create directory", path, ENOTDIR);
  return fb::Unit{};
}

bool has_suffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

fb::Result<std::string, SpoolError> new_message_id() {
  unsigned char bytes[kMessageIdLength / 2];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SpoolError{errno, std::string("getrandom: ") + std::strerror(errno)};
    got += size_t(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

bool is_message_id(std::string_view id) {
  return id.size() == kMessageIdLength && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// ---- SpoolWriter

SpoolWriter::SpoolWriter(int fd, std::string id, std::string tmp_path, std::string final_path,
                         std::string msg_dir)
    : fd_(fd),
      id_(std::move(id)),
      tmp_path_(std::move(tmp_path)),
      final_path_(std::move(final_path)),
      msg_dir_(std::move(msg_dir)) {}

SpoolWriter::SpoolWriter(SpoolWriter&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      id_(std::move(o.id_)),
      tmp_path_(std::move(o.tmp_path_)),
      final_path_(std::move(o.final_path_)),
      msg_dir_(std::move(o.msg_dir_)),
      buf_(std::move(o.buf_)),
      size_(o.size_),
      finished_(std::exchange(o.finished_, true)) {}

SpoolWriter::~SpoolWriter() {
  abort();
}

void SpoolWriter::abort() {
  if (finished_) return;
  finished_ = true;
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  ::unlink(tmp_path_.c_str());
}

// Finishes the writer as abort() does and describes the failure.
SpoolError SpoolWriter::fail(const std::string& what, const std::string& path, int err) {
  abort();
  return sys_error(what, path, err);
}

SpoolStatus SpoolWriter::flush() {
  auto r = write_all(fd_, buf_, tmp_path_);
  buf_.clear();
  if (!r) abort();
  return r;
}

SpoolStatus SpoolWriter::append(std::string_view bytes) {
  if (finished_) return SpoolError{EBADF, "append to message " + id_ + ": already committed or aborted"};
  size_ += bytes.size();
  if (buf_.size() + bytes.size() < kWriteBufferBytes) {
    buf_.append(bytes);
    return fb::Unit{};
  }
  if (auto r = flush(); !r) return r;
  if (bytes.size() < kWriteBufferBytes) {
    buf_.append(bytes);
    return fb::Unit{};
  }
  auto r = write_all(fd_, bytes, tmp_path_);
  if (!r) abort();
  return r;
}

fb::Result<std::string, SpoolError> SpoolWriter::commit() {
  if (finished_) return SpoolError{EBADF, "commit message " + id_ + ": already committed or aborted"};
  if (auto r = flush(); !r) return r.error();
  if (::fsync(fd_) != 0) return fail("fsync", tmp_path_, errno);
  // close() can report a deferred write error (NFS); such a file is not safely stored.
  if (::close(std::exchange(fd_, -1)) != 0) return fail("close", tmp_path_, errno);
  if (int err = rename_noreplace(tmp_path_, final_path_)) return fail("rename to", final_path_, err);
  finished_ = true;
  if (auto r = fsync_dir(msg_dir_); !r) {
    // Not known to be durable, so not acknowledged: the client will send it again.
    ::unlink(final_path_.c_str());
    return r.error();
  }
  return final_path_;
}

fb::Result<std::string, SpoolError> SpoolWriter::commit_unsynced() {
  if (finished_) return SpoolError{EBADF, "commit message " + id_ + ": already committed or aborted"};
  if (auto r = flush(); !r) return r.error();
  if (::close(std::exchange(fd_, -1)) != 0) return fail("close", tmp_path_, errno);
  if (int err = rename_noreplace(tmp_path_, final_path_)) return fail("rename to", final_path_, err);
  finished_ = true;
  return final_path_;
}

// ---- Spool

Spool::Spool(std::string dir) : dir_(std::move(dir)) {}

SpoolStatus Spool::sync() {
  int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return SpoolError{errno, "open " + dir_ + " to sync it: " + std::strerror(errno)};
  int rc = ::syncfs(fd);  // Linux >= 5.8 reports write-back errors here
  int err = errno;
  ::close(fd);
  if (rc != 0) return SpoolError{err, "syncfs " + dir_ + ": " + std::strerror(err)};
  return fb::Unit{};
}

std::string Spool::message_path(std::string_view id) const {
  return dir_ + "/msg/" + std::string(id) + ".eml";
}
std::string Spool::fax_path(int64_t job_id) const {
  return dir_ + "/fax/" + std::to_string(job_id) + ".tif";
}

std::string Spool::received_path(int64_t job_id) const {
  return dir_ + "/in/" + std::to_string(job_id) + ".tif";
}

std::string Spool::mail_path(int64_t job_id, int n) const {
  return dir_ + "/out/" + std::to_string(job_id) + (n ? "-" + std::to_string(n) : "") + ".eml";
}

std::string Spool::archive_path(int64_t job_id) const {
  return dir_ + "/archive/" + std::to_string(job_id) + ".tif";
}

SpoolStatus Spool::write_durably(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return sys_error("create", tmp, errno);
  if (auto r = write_all(fd, bytes, tmp); !r) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return r;
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return sys_error("fsync", tmp, err);
  }
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return sys_error("close", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return sys_error("rename to", path, err);
  }
  return fsync_dir(fs::path(path).parent_path().string());
}

SpoolStatus Spool::append_line(const std::string& path, std::string_view line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return sys_error("open", path, errno);
  std::string text(line);
  text.push_back('\n');
  auto r = write_all(fd, text, path);
  if (r && ::fdatasync(fd) != 0) r = sys_error("fdatasync", path, errno);
  ::close(fd);
  return r;
}

SpoolStatus Spool::move_durably(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return sys_error("rename " + from + " to", to, errno);
  if (auto r = fsync_dir(fs::path(to).parent_path().string()); !r) return r;
  return fsync_dir(fs::path(from).parent_path().string());
}

SpoolStatus Spool::create_dirs() {
  // As given (serve names it relative to its data directory, whose parents it may not search).
  fs::path root = fs::path(dir_).lexically_normal();
  if (!root.has_filename() && root.has_parent_path()) root = root.parent_path();  // "var/spool/"
  const fs::path parent = root.has_parent_path() ? root.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(parent, ec)) {
    fs::create_directories(parent, ec);
    if (ec) return sys_error("create directory", parent.string(), ec.value());
  }
  for (const char* sub : {"", "/incoming", "/msg", "/fax", "/in", "/out", "/archive"}) {
    if (auto r = make_dir(root.string() + sub); !r) return r;
  }
  if (auto r = fsync_dir(root.string()); !r) return r;
  return fsync_dir(parent.string());
}

fb::Result<SpoolWriter, SpoolError> Spool::begin_message() {
  for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
    auto id = new_message_id();
    if (!id) return id.error();
    std::string final_path = message_path(*id);
    if (::access(final_path.c_str(), F_OK) == 0) continue;
    std::string tmp = dir_ + "/incoming/" + *id + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kFileMode);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) return sys_error("create", tmp, errno);
    return SpoolWriter(fd, *id, tmp, final_path, dir_ + "/msg");
  }
  return SpoolError{EEXIST, "begin message in " + dir_ + ": no free message id"};
}

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A temporary a writer leaves beside its target until the rename: "<name>.tmp" (spool
// writes), "<name>.tmp-<pid>" (imaging's TIFF and PDF writers), "<name>.jail-<pid>" (the
// converter taking its jail's output), "<name>.mmr-<pid>.tif" and "<name>.pages-<pid>.tif"
// (the PDF writers' staging TIFF), or "<message>.render.tif" (a message's rendering before its
// jobs link it: a job left without it renders again).
bool is_temporary(std::string_view name) {
  if (has_suffix(name, ".tmp") || has_suffix(name, ".render.tif")) return true;
  for (std::string_view mark : {".tmp-", ".jail-"}) {
    const size_t at = name.rfind(mark);
    if (at != std::string_view::npos && all_digits(name.substr(at + mark.size()))) return true;
  }
  if (has_suffix(name, ".tif")) {
    const std::string_view stem = name.substr(0, name.size() - 4);
    for (std::string_view mark : {".mmr-", ".pages-"}) {
      const size_t at = stem.rfind(mark);
      if (at != std::string_view::npos && all_digits(stem.substr(at + mark.size()))) return true;
    }
  }
  return false;
}

}  // namespace

fb::Result<int, SpoolError> Spool::recover() {
  int removed = 0;
  for (const char* sub : {"/incoming", "/fax", "/in", "/out", "/archive"}) {
    const std::string dir = dir_ + sub;
    std::error_code ec;
    fs::directory_iterator it(dir, ec), end;
    // Only incoming/ is required: the others came with later versions and are made by
    // create_dirs() when missing.
    if (ec == std::errc::no_such_file_or_directory && std::string_view(sub) != "/incoming") continue;
    for (; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      if (!is_temporary(p.filename().string()) || !it->is_regular_file()) continue;
      if (::unlink(p.c_str()) != 0) return sys_error("remove", p.string(), errno);
      ++removed;
    }
    if (ec) return sys_error("list", dir, ec.value());
  }
  return removed;
}

fb::Result<std::vector<std::string>, SpoolError> Spool::list_messages() const {
  const std::string msg = dir_ + "/msg";
  std::error_code ec;
  std::vector<std::string> ids;
  for (fs::directory_iterator it(msg, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!has_suffix(name, ".eml")) continue;
    name.resize(name.size() - 4);
    if (is_message_id(name)) ids.push_back(std::move(name));
  }
  if (ec) return sys_error("list", msg, ec.value());
  std::sort(ids.begin(), ids.end());
  return ids;
}

SpoolStatus Spool::remove_message(std::string_view id) {
  if (!is_message_id(id))
    return SpoolError{EINVAL, "remove message '" + std::string(id) + "': not a message id"};
  std::string path = message_path(id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_error("remove", path, errno);
  return fb::Unit{};
}

std::optional<uint64_t> free_mb(const std::string& dir) {
  struct statvfs v{};
  if (statvfs(dir.c_str(), &v) != 0) return std::nullopt;
  return uint64_t(v.f_bavail) * uint64_t(v.f_frsize) / (1024 * 1024);
}

}  // namespace queue
