// pg_cut_proxy.hpp — a relay between the store and the test PostgreSQL that can cut a session at
// its COMMIT, as a network failure or a server crash would: the store's COMMIT reaches the server
// (which then commits) and its answer is lost with the connection, or the COMMIT itself is lost.
//
// It listens on a Unix socket `.s.PGSQL.5432` in a directory of its own (a libpq URL with
// host=<dir> reaches it) and relays every session byte for byte to the server's socket. Armed,
// it watches what the client sends for a simple-query COMMIT (the 12 bytes 'Q', length 11,
// "COMMIT\0", as libpq sends PQexec("COMMIT")) and cuts that session once, then relays again.
// Test code only; loopback Unix sockets, no network.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace queue_test {

class PgCutProxy {
 public:
  enum class Cut {
    none,
    after_commit,   // the COMMIT is sent on; the server's answer is awaited, dropped, and the session cut
    before_commit,  // the session is cut instead of sending the COMMIT on
  };

  // Relays `dir`/.s.PGSQL.5432 to `server_dir`/.s.PGSQL.5432.
  PgCutProxy(const std::string& dir, const std::string& server_dir)
      : dir_(dir), upstream_(server_dir + "/.s.PGSQL.5432") {
    std::filesystem::create_directories(dir_);
    listen_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a = address(dir_ + "/.s.PGSQL.5432");
    unlink(a.sun_path);
    ok_ = listen_ >= 0 && bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(listen_, 16) == 0;
    if (ok_) accepter_ = std::thread([this] { accept_loop(); });
  }
  ~PgCutProxy() {
    stop_ = true;
    if (accepter_.joinable()) accepter_.join();
    std::lock_guard<std::mutex> l(m_);
    for (auto& t : relays_) t.join();
    if (listen_ >= 0) close(listen_);
  }
  PgCutProxy(const PgCutProxy&) = delete;
  PgCutProxy& operator=(const PgCutProxy&) = delete;

  bool ok() const { return ok_; }
  // The next COMMIT any session sends is cut this way; then relaying goes on as before.
  void arm(Cut c) { cut_ = c; }
  // Sessions cut so far.
  int cuts() const { return cuts_; }

 private:
  static sockaddr_un address(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    return a;
  }

  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;  // 50 ms: how soon a stop is seen
      const int client = accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const int server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a = address(upstream_);
      if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(client);
        if (server >= 0) close(server);
        continue;
      }
      std::lock_guard<std::mutex> l(m_);
      relays_.emplace_back([this, client, server] { relay(client, server); });
    }
  }

  static bool send_all(int fd, const char* p, size_t n) {
    while (n > 0) {
      const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= size_t(w);
    }
    return true;
  }

  void relay(int client, int server) {
    static constexpr char kCommit[] = {'Q', 0, 0, 0, 11, 'C', 'O', 'M', 'M', 'I', 'T', 0};
    const std::string_view commit(kCommit, sizeof kCommit);
    char buf[65536];
    bool open = true;
    while (open && !stop_) {
      pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (poll(p, 2, 50) <= 0) continue;  // 50 ms: how soon a stop is seen
      for (int i = 0; i < 2 && open; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = recv(p[i].fd, buf, sizeof buf, 0);
        if (n <= 0) {
          open = false;
          break;
        }
        const std::string_view chunk(buf, size_t(n));
        const Cut cut = cut_;
        if (i == 0 && cut != Cut::none && chunk.find(commit) != std::string_view::npos) {
          cut_ = Cut::none;
          if (cut == Cut::after_commit) {
            send_all(server, buf, size_t(n));
            pollfd answer{server, POLLIN, 0};
            if (poll(&answer, 1, 10000) > 0) (void)recv(server, buf, sizeof buf, 0);  // dropped
          }
          ++cuts_;
          open = false;
          break;
        }
        open = send_all(i == 0 ? server : client, buf, size_t(n));
      }
    }
    close(client);
    close(server);
  }

  std::string dir_, upstream_;
  int listen_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<Cut> cut_{Cut::none};
  std::atomic<int> cuts_{0};
  std::thread accepter_;
  std::mutex m_;
  std::vector<std::thread> relays_;
};

}  // namespace queue_test
