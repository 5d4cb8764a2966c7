// sip/dns.hpp against a real DNS server: dnsmasq on loopback, serving NAPTR, SRV and A records.
#include "sip/dns.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <optional>
#include <thread>

extern char** environ;

namespace sip {
namespace {

uint16_t free_udp_port() {
  asio::io_context io;
  asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return s.local_endpoint().port();
}

// dnsmasq in the foreground on 127.0.0.1:port with the records given; killed at the end. It
// binds UDP and TCP on its port: a port taken meanwhile makes it exit, and another is tried.
class Dnsmasq {
 public:
  explicit Dnsmasq(const std::vector<std::string>& records) {
    for (int attempt = 0; attempt < 5 && pid_ == 0; ++attempt) {
      port_ = free_udp_port();
      std::vector<std::string> args{"dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-daemon",
                                    "--listen-address=127.0.0.1", "--bind-interfaces", "--port=" + std::to_string(port_),
                                    "--local-ttl=7", "--user=root", "--pid-file=", "--conf-file=/dev/null",
                                    "--local=/carrier.test/"};  // answered from its records only: NODATA, not REFUSED
      for (const auto& r : records) args.push_back(r);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      if (posix_spawnp(&pid_, "dnsmasq", nullptr, nullptr, argv.data(), environ) != 0) {
        pid_ = 0;
        return;  // not installed
      }
      // Up when its TCP port accepts; gone (port taken) when it exited.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = 0;
          break;
        }
        asio::io_context io;
        asio::ip::tcp::socket s(io);
        std::error_code ec;
        s.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
        if (!ec) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
  ~Dnsmasq() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  uint16_t port_ = 0;
  pid_t pid_ = 0;
};

// Runs the io_context until `done` or the deadline.
template <class F>
bool run_until(asio::io_context& io, F done, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(50));
  }
  return done();
}

// Asks until the server answers (dnsmasq binds a moment after it starts).
Location locate_when_up(asio::io_context& io, Dns& dns, const std::string& uri_text, const std::string& probe) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::optional<DnsAnswer> a;
    dns.query({probe, RrType::a}, [&](DnsAnswer x) { a = x; });
    if (run_until(io, [&] { return a.has_value(); }) && !a->addresses.empty()) break;
  }
  std::optional<Location> l;
  dns.locate(*parse_uri(uri_text), [&](Location x) { l = x; });
  EXPECT_TRUE(run_until(io, [&] { return l.has_value(); }));
  return l.value_or(Location{});
}

TEST(Dns, NaptrSrvAndAddressRecordsFromARealServer) {
  Dnsmasq server({"--naptr-record=carrier.test,10,50,s,SIP+D2T,,_sip._tcp.carrier.test",
                  "--naptr-record=carrier.test,20,50,s,SIP+D2U,,_sip._udp.carrier.test",
                  "--srv-host=_sip._tcp.carrier.test,b1.carrier.test,5070,10,0",
                  "--srv-host=_sip._tcp.carrier.test,b2.carrier.test,5080,20,0",
                  "--srv-host=_sip._udp.carrier.test,b2.carrier.test,5060,10,0",
                  "--host-record=b1.carrier.test,192.0.2.1",
                  "--host-record=b2.carrier.test,192.0.2.2,2001:db8::2"});
  ASSERT_TRUE(server.started()) << "dnsmasq (scripts/install-deps: dnsmasq-base)";
  asio::io_context io;
  Dns dns(io, server.server());
  auto l = locate_when_up(io, dns, "sip:carrier.test", "b1.carrier.test");
  EXPECT_TRUE(l.error.empty()) << l.error << "\n" << l.trace;
  std::mt19937 rng(7);
  std::vector<std::string> order;
  for (const auto& a : order_targets(l.targets, rng)) order.push_back(a.to_string());
  EXPECT_EQ(order, (std::vector<std::string>{"192.0.2.1:5070/TCP", "192.0.2.2:5080/TCP", "[2001:db8::2]:5080/TCP",
                                             "192.0.2.2:5060/UDP", "[2001:db8::2]:5060/UDP"}))
      << l.trace;
  EXPECT_EQ(l.ttl, 7u);
  EXPECT_FALSE(l.incomplete) << l.trace;  // b1 has no AAAA record: "no records", not a failure
}

TEST(Dns, AMissingNameIsNamedAndNoServerIsAnError) {
  Dnsmasq server({"--host-record=up.carrier.test,192.0.2.1"});
  ASSERT_TRUE(server.started());
  asio::io_context io;
  Dns dns(io, server.server());
  auto l = locate_when_up(io, dns, "sip:gone.carrier.test", "up.carrier.test");
  EXPECT_TRUE(l.targets.empty());
  EXPECT_NE(l.error.find("no address for gone.carrier.test"), std::string::npos) << l.error;

  // Nothing listens on this port: every query fails, the location says so, and in bounded time.
  Dns silent(io, "127.0.0.1:" + std::to_string(free_udp_port()));
  std::optional<Location> none;
  silent.locate(*parse_uri("sip:carrier.test:5060"), [&](Location x) { none = x; });
  ASSERT_TRUE(run_until(io, [&] { return none.has_value(); }, std::chrono::seconds(30)));
  EXPECT_TRUE(none->targets.empty());
  EXPECT_NE(none->error.find("A carrier.test:"), std::string::npos) << none->error;
}

TEST(Dns, AQueryThatOutlivesItsResolverGetsNoCallback) {
  asio::io_context io;
  bool called = false;
  {
    Dns dns(io, "127.0.0.1:" + std::to_string(free_udp_port()));
    dns.query({"carrier.test", RrType::a}, [&](DnsAnswer) { called = true; });
  }
  io.restart();
  io.run_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(called);
}

TEST(Dns, AResolverDestroyedByOneAnswerGivesNoOtherAndSurvives) {
  // Answers already in: the first callback destroys the resolver; the others never come.
  Dnsmasq server({"--host-record=a.carrier.test,192.0.2.1", "--host-record=b.carrier.test,192.0.2.2"});
  ASSERT_TRUE(server.started());
  asio::io_context io;
  auto dns = std::make_unique<Dns>(io, server.server());
  (void)locate_when_up(io, *dns, "sip:a.carrier.test:5060", "a.carrier.test");
  int calls = 0;
  for (int i = 0; i < 8; ++i) {
    dns->query({i % 2 ? "a.carrier.test" : "b.carrier.test", RrType::a}, [&](DnsAnswer) {
      ++calls;
      dns.reset();
    });
  }
  // Let every answer arrive before any callback can run: one poll reads them all.
  ASSERT_TRUE(run_until(io, [&] { return calls > 0; }));
  io.restart();
  io.run_for(std::chrono::milliseconds(300));
  EXPECT_EQ(calls, 1);
}

TEST(Dns, TheHostsFileAnswersAddressQueries) {
  // ares_getaddrinfo reads /etc/hosts before DNS: "localhost" needs no server at all.
  asio::io_context io;
  Dns dns(io, "127.0.0.1:" + std::to_string(free_udp_port()));  // nothing listens
  std::optional<DnsAnswer> a;
  dns.query({"localhost", RrType::a}, [&](DnsAnswer x) { a = x; });
  ASSERT_TRUE(run_until(io, [&] { return a.has_value(); }));
  EXPECT_EQ(a->addresses, std::vector<std::string>{"127.0.0.1"}) << a->error;
}

}  // namespace
}  // namespace sip
