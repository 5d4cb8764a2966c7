// render_protocol.cpp — see render_protocol.hpp.
#include "gateway/render_protocol.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gateway {
namespace {

std::string join(std::initializer_list<std::string_view> fields) {
  std::string out;
  for (auto f : fields) {
    out.append(f);
    out.push_back('\0');
  }
  return out;
}

// The NUL-terminated fields of `bytes`; nullopt unless there are exactly `n`, each without a
// NUL, the last terminated.
std::optional<std::vector<std::string_view>> split(std::string_view bytes, size_t n) {
  std::vector<std::string_view> out;
  while (!bytes.empty()) {
    const size_t end = bytes.find('\0');
    if (end == std::string_view::npos) return std::nullopt;
    out.push_back(bytes.substr(0, end));
    bytes.remove_prefix(end + 1);
    if (out.size() > n) return std::nullopt;
  }
  if (out.size() != n) return std::nullopt;
  return out;
}

template <typename T>
bool number(std::string_view s, T& v) {
  if (s.empty() || s.size() > 12) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

bool one_line(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

std::string encode_hello(std::string_view jail_dir) { return join({"hello", jail_dir}); }

std::optional<std::string> decode_hello(std::string_view bytes) {
  auto f = split(bytes, 2);
  if (!f || (*f)[0] != "hello" || (*f)[1].empty() || (*f)[1][0] != '/' || !one_line((*f)[1])) return std::nullopt;
  return std::string((*f)[1]);
}

std::string encode(const RenderRequest& r) {
  const std::string limit = std::to_string(r.time_limit_s);
  return join({"render", r.resolution, r.paper, r.cover, r.cover_to, limit, r.input_name});
}

std::optional<RenderRequest> decode_request(std::string_view bytes) {
  auto f = split(bytes, 7);
  if (!f || (*f)[0] != "render") return std::nullopt;
  RenderRequest r;
  r.resolution = (*f)[1];
  r.paper = (*f)[2];
  r.cover = (*f)[3];
  r.cover_to = (*f)[4];
  r.input_name = (*f)[6];
  if (!number((*f)[5], r.time_limit_s) || r.time_limit_s < 1 || r.time_limit_s > 86400) return std::nullopt;
  if (r.cover != "ask" && r.cover != "always" && r.cover != "never") return std::nullopt;
  if (r.input_name.empty()) return std::nullopt;
  for (const auto* s : {&r.resolution, &r.paper, &r.cover_to, &r.input_name}) {
    if (!one_line(*s)) return std::nullopt;
  }
  return r;
}

std::string encode(const RenderReply& r) {
  return join({"done", std::to_string(r.code), r.message, std::to_string(r.worker_pid)});
}

std::optional<RenderReply> decode_reply(std::string_view bytes) {
  auto f = split(bytes, 4);
  if (!f || (*f)[0] != "done") return std::nullopt;
  RenderReply r;
  if (!number((*f)[1], r.code) || r.code < 0 || r.code > 255) return std::nullopt;
  if (!number((*f)[3], r.worker_pid) || r.worker_pid < 0) return std::nullopt;
  r.message = (*f)[2];
  return r;
}

bool send_message(int sock, std::string_view bytes, const std::vector<int>& fds) {
  if (bytes.size() > kMaxProtocolMessage || fds.size() > kMaxProtocolFds) return false;
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxProtocolFds)] = {};
  if (!fds.empty()) {
    m.msg_control = control;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = ::sendmsg(sock, &m, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    return n == ssize_t(bytes.size());
  }
}

ReceiveStatus receive_message(int sock, int timeout_ms, ProtocolMessage& out) {
  out = {};
  pollfd p{sock, POLLIN, 0};
  for (;;) {
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ReceiveStatus::error;
    if (r == 0) return ReceiveStatus::timeout;
    break;
  }
  std::string buf(kMaxProtocolMessage + 1, '\0');
  iovec iov{buf.data(), buf.size()};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * (kMaxProtocolFds + 2))] = {};
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      out.fds.push_back(fd);
    }
  }
  auto fail = [&](ReceiveStatus s) {
    for (int fd : out.fds) ::close(fd);
    out = {};
    return s;
  };
  if (n < 0) return fail(ReceiveStatus::error);
  if (n == 0) return fail(ReceiveStatus::closed);
  if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || size_t(n) > kMaxProtocolMessage || out.fds.size() > kMaxProtocolFds) {
    return fail(ReceiveStatus::error);
  }
  buf.resize(size_t(n));
  out.bytes = std::move(buf);
  return ReceiveStatus::ok;
}

}  // namespace gateway
