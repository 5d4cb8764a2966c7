// dns.hpp — DNS lookups on asio through c-ares, and RFC 3263 location (sip/locate.hpp) over them.
//
// STANDARDS: RFC 1035 (queries to the servers of /etc/resolv.conf, read once when constructed —
// `ip netns exec` puts /etc/netns/NAME/resolv.conf there; its search list is not applied: names
// are taken as written in full), RFC 2915 NAPTR, RFC 2782 SRV, RFC 3596 AAAA; addresses through
// ares_getaddrinfo (the hosts file first, then DNS); parsing is c-ares's. A failure other than
// NXDOMAIN/NODATA is marked transient (sip/locate.hpp).
// THREADS: everything runs on the io_context given; callbacks are called on it, never from
// inside query() or locate().
// LIMITS: kDnsTimeout per try, kDnsTries tries per server; a query that outlives its Dns gets
// no callback.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>

#include <asio.hpp>

#include "sip/locate.hpp"

struct ares_addrinfo;  // c-ares, kept out of this header

namespace sip {

inline constexpr std::chrono::milliseconds kDnsTimeout{2000};
inline constexpr int kDnsTries = 2;

class Dns {
 public:
  // Throws std::runtime_error when c-ares cannot start (no resolv.conf is not an error:
  // c-ares then asks 127.0.0.1). `servers` ("127.0.0.1:5353,192.0.2.53"), when given, replaces
  // resolv.conf's.
  explicit Dns(asio::io_context& io, const std::string& servers = "");
  ~Dns();
  Dns(const Dns&) = delete;
  Dns& operator=(const Dns&) = delete;

  void query(const DnsQuery& q, std::function<void(DnsAnswer)> done);
  // Runs RFC 3263 §4 for `uri`, one query after another.
  void locate(const Uri& uri, std::function<void(Location)> done);

 private:
  struct Watch;
  static void on_sock_state(void* self, int fd, int readable, int writable);
  static void on_reply(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  static void on_addrinfo(void* arg, int status, int timeouts, ::ares_addrinfo* res);
  void sock_state(int fd, bool readable, bool writable);
  void arm(const std::shared_ptr<Watch>& w);
  void process(int read_fd, int write_fd);
  void arm_timer();
  void step(std::shared_ptr<Locator> l, std::function<void(Location)> done);

  asio::io_context& io_;
  void* channel_ = nullptr;  // ares_channel
  std::map<int, std::shared_ptr<Watch>> watches_;
  asio::steady_timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sip
