// RFC 3263 server location over recorded DNS answers (sip/locate.hpp).
#include "sip/locate.hpp"

#include <gtest/gtest.h>

#include <map>

namespace sip {
namespace {

// A zone: answers by (name, type); anything else is NXDOMAIN. Records every query asked.
struct Zone {
  std::map<std::pair<std::string, RrType>, DnsAnswer> answers;
  std::vector<DnsQuery> asked;

  void naptr(const std::string& name, std::vector<NaptrRecord> r) { answers[{name, RrType::naptr}].naptr = std::move(r); }
  void srv(const std::string& name, std::vector<SrvRecord> r) { answers[{name, RrType::srv}].srv = std::move(r); }
  void a(const std::string& name, std::vector<std::string> ips, uint32_t ttl = 300) {
    auto& ans = answers[{name, RrType::a}];
    ans.addresses = std::move(ips);
    ans.ttl = ttl;
  }
  void aaaa(const std::string& name, std::vector<std::string> ips, uint32_t ttl = 300) {
    auto& ans = answers[{name, RrType::aaaa}];
    ans.addresses = std::move(ips);
    ans.ttl = ttl;
  }

  Location locate(const std::string& uri) {
    auto u = parse_uri(uri);
    EXPECT_TRUE(u) << uri;
    Locator l(*u);
    while (auto q = l.next()) {
      asked.push_back(*q);
      auto it = answers.find({q->name, q->type});
      if (it != answers.end()) {
        l.answer(it->second);
      } else {
        DnsAnswer none;
        none.error = "NXDOMAIN";
        l.answer(none);
      }
    }
    return l.result();
  }
};

std::vector<std::string> addresses(const Location& l) {
  std::vector<std::string> out;
  for (const auto& t : l.targets) out.push_back(t.address.to_string());
  return out;
}

TEST(Locate, NumericHostNeedsNoDns) {
  Zone z;
  auto l = z.locate("sip:192.0.2.7");
  EXPECT_TRUE(z.asked.empty());
  EXPECT_EQ(addresses(l), (std::vector<std::string>{"192.0.2.7:5060/UDP"}));
  EXPECT_EQ(l.ttl, 0u);
  EXPECT_EQ(addresses(z.locate("sips:[2001:db8::1]")), (std::vector<std::string>{"[2001:db8::1]:5061/TLS"}));
  EXPECT_EQ(addresses(z.locate("sip:192.0.2.7:5080;transport=tcp")), (std::vector<std::string>{"192.0.2.7:5080/TCP"}));
  EXPECT_TRUE(z.asked.empty());
}

TEST(Locate, ExplicitPortMeansAddressRecordsOnly) {
  Zone z;
  z.a("carrier.example", {"192.0.2.1", "192.0.2.2"}, 60);
  z.aaaa("carrier.example", {"2001:db8::5"}, 30);
  z.srv("_sip._udp.carrier.example", {{10, 0, 5999, "elsewhere.example"}});
  auto l = z.locate("sip:carrier.example:5070");
  EXPECT_EQ(addresses(l), (std::vector<std::string>{"192.0.2.1:5070/UDP", "192.0.2.2:5070/UDP", "[2001:db8::5]:5070/UDP"}));
  EXPECT_EQ(l.ttl, 30u);
  EXPECT_TRUE(l.error.empty());
  for (const auto& q : z.asked) EXPECT_TRUE(q.type == RrType::a || q.type == RrType::aaaa) << q.name;
}

TEST(Locate, NaptrPicksOurServicesInOrderThenPreference) {
  Zone z;
  z.naptr("carrier.example", {
                                 {20, 10, "s", "SIP+D2U", "", "_sip._udp.carrier.example."},
                                 {10, 20, "s", "SIP+D2T", "", "_sip._tcp.carrier.example."},
                                 {10, 10, "S", "SIPS+D2T", "", "_sips._tcp.carrier.example."},
                                 {5, 10, "s", "SIP+D2S", "", "_sip._sctp.carrier.example."},   // SCTP: not ours
                                 {5, 10, "u", "E2U+sip", "!^.*$!sip:x@y!", ""},              // ENUM-style: skipped
                             });
  z.srv("_sips._tcp.carrier.example", {{10, 0, 5061, "tls.carrier.example."}});
  z.srv("_sip._tcp.carrier.example", {{10, 0, 5060, "tcp.carrier.example."}});
  z.srv("_sip._udp.carrier.example", {{10, 0, 5060, "udp.carrier.example."}});
  z.a("tls.carrier.example", {"192.0.2.30"});
  z.a("tcp.carrier.example", {"192.0.2.20"});
  z.a("udp.carrier.example", {"192.0.2.10"});
  auto l = z.locate("sip:carrier.example");
  std::mt19937 rng(1);
  auto order = order_targets(l.targets, rng);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0].to_string(), "192.0.2.30:5061/TLS");
  EXPECT_EQ(order[1].to_string(), "192.0.2.20:5060/TCP");
  EXPECT_EQ(order[2].to_string(), "192.0.2.10:5060/UDP");
  // The SCTP service was never looked up.
  for (const auto& q : z.asked) EXPECT_EQ(q.name.find("sctp"), std::string::npos);
}

TEST(Locate, SipsUriTakesOnlySipsNaptr) {
  Zone z;
  z.naptr("carrier.example", {{10, 10, "s", "SIP+D2U", "", "_sip._udp.carrier.example"},
                              {20, 10, "s", "SIPS+D2T", "", "_sips._tcp.carrier.example"}});
  z.srv("_sip._udp.carrier.example", {{10, 0, 5060, "udp.carrier.example"}});
  z.srv("_sips._tcp.carrier.example", {{10, 0, 5061, "tls.carrier.example"}});
  z.a("udp.carrier.example", {"192.0.2.10"});
  z.a("tls.carrier.example", {"192.0.2.30"});
  EXPECT_EQ(addresses(z.locate("sips:carrier.example")), (std::vector<std::string>{"192.0.2.30:5061/TLS"}));
}

TEST(Locate, NoNaptrMeansSrvPerTransportThenAddress) {
  Zone z;
  z.srv("_sip._tcp.carrier.example", {{10, 0, 5080, "b.carrier.example"}});
  z.a("b.carrier.example", {"192.0.2.2"});
  z.a("carrier.example", {"192.0.2.99"});  // not used: SRV records exist
  auto l = z.locate("sip:carrier.example");
  EXPECT_EQ(addresses(l), (std::vector<std::string>{"192.0.2.2:5080/TCP"}));
  ASSERT_GE(z.asked.size(), 3u);
  EXPECT_EQ(z.asked[0], (DnsQuery{"carrier.example", RrType::naptr}));
  EXPECT_EQ(z.asked[1], (DnsQuery{"_sip._udp.carrier.example", RrType::srv}));
  EXPECT_EQ(z.asked[2], (DnsQuery{"_sip._tcp.carrier.example", RrType::srv}));
  for (const auto& q : z.asked) {
    if (q.type == RrType::a || q.type == RrType::aaaa) {
      EXPECT_NE(q.name, "carrier.example") << rr_name(q.type);
    }
  }
}

TEST(Locate, NothingButAnARecordUsesTheDefaultPortAndTransport) {
  Zone z;
  z.a("pbx.example", {"192.0.2.44"}, 120);
  auto l = z.locate("sip:pbx.example");
  EXPECT_EQ(addresses(l), (std::vector<std::string>{"192.0.2.44:5060/UDP"}));
  EXPECT_EQ(l.ttl, 120u);
  z.asked.clear();
  EXPECT_EQ(addresses(z.locate("sip:pbx.example;transport=tcp")), (std::vector<std::string>{"192.0.2.44:5060/TCP"}));
  ASSERT_FALSE(z.asked.empty());
  EXPECT_EQ(z.asked[0], (DnsQuery{"_sip._tcp.pbx.example", RrType::srv}));  // a transport: no NAPTR
  EXPECT_EQ(addresses(z.locate("sips:pbx.example")), (std::vector<std::string>{"192.0.2.44:5061/TLS"}));
}

TEST(Locate, SrvDotMeansNoServiceAndNothingResolvesIsAnError) {
  Zone z;
  z.srv("_sip._udp.gone.example", {{0, 0, 0, "."}});
  z.a("gone.example", {"192.0.2.80"});  // its web server: never taken for SIP
  auto l = z.locate("sip:gone.example");
  EXPECT_TRUE(l.targets.empty());
  EXPECT_NE(l.error.find("no address for gone.example"), std::string::npos) << l.error;
  for (const auto& q : z.asked) EXPECT_NE(q.type, RrType::a) << q.name;

  Zone none;
  auto n = none.locate("sip:nothing.example");
  EXPECT_TRUE(n.targets.empty());
  EXPECT_NE(n.error.find("A nothing.example: NXDOMAIN"), std::string::npos) << n.error;
  EXPECT_FALSE(n.incomplete);
}

TEST(Locate, AFailedSrvQueryNeverFallsBackToTheDomainsAddress) {
  // A resolver that times out on SRV but still holds the domain's A record (a web server): that
  // address is not the trunk, and the location says it is incomplete.
  Zone z;
  z.answers[{"_sip._udp.carrier.example", RrType::srv}].error = "SERVFAIL";
  z.answers[{"_sip._udp.carrier.example", RrType::srv}].transient = true;
  z.srv("_sip._tcp.carrier.example", {{10, 0, 5060, "tcp.carrier.example"}});
  z.a("tcp.carrier.example", {"192.0.2.20"});
  z.a("carrier.example", {"192.0.2.80"});
  auto l = z.locate("sip:carrier.example");
  EXPECT_TRUE(l.incomplete);
  EXPECT_EQ(addresses(l), (std::vector<std::string>{"192.0.2.20:5060/TCP"}));
  Zone only;
  only.answers[{"carrier.example", RrType::naptr}].error = "no answer from the DNS server";
  only.answers[{"carrier.example", RrType::naptr}].transient = true;
  only.a("carrier.example", {"192.0.2.80"});
  auto o = only.locate("sip:carrier.example");
  EXPECT_TRUE(o.incomplete);
  EXPECT_TRUE(o.targets.empty()) << addresses(o)[0];
}

TEST(Locate, NaptrsTransportHoldsWhenItsSrvRecordsAreMissingAndPortZeroAndRepeatsAreSkipped) {
  Zone z;
  z.naptr("carrier.example", {{10, 10, "s", "SIP+D2T", "", "_sip._tcp.carrier.example"}});
  z.a("carrier.example", {"192.0.2.5"});
  EXPECT_EQ(addresses(z.locate("sip:carrier.example")), (std::vector<std::string>{"192.0.2.5:5060/TCP"}));
  Zone y;
  y.srv("_sip._udp.carrier.example", {{10, 0, 0, "zero.carrier.example"}, {10, 0, 5060, "a.carrier.example"},
                                      {20, 0, 5060, "b.carrier.example"}});
  y.a("zero.carrier.example", {"192.0.2.9"});
  y.a("a.carrier.example", {"192.0.2.1"});
  y.a("b.carrier.example", {"192.0.2.1"});  // the same SBC under two names
  EXPECT_EQ(addresses(y.locate("sip:carrier.example")), (std::vector<std::string>{"192.0.2.1:5060/UDP"}));
}

TEST(Locate, UnknownTransportAndEmptyHostAreErrors) {
  Zone z;
  auto l = z.locate("sip:carrier.example;transport=sctp");
  EXPECT_TRUE(l.targets.empty());
  EXPECT_NE(l.error.find("transport sctp"), std::string::npos) << l.error;
  EXPECT_TRUE(z.asked.empty());
}

TEST(Locate, LimitsHoldAgainstAHostileZone) {
  Zone z;
  std::vector<NaptrRecord> naptr;
  for (int i = 0; i < 50; ++i) naptr.push_back({uint16_t(i), 0, "s", "SIP+D2U", "", "_sip._udp.n" + std::to_string(i) + ".example"});
  z.naptr("big.example", naptr);
  for (int i = 0; i < 50; ++i) {
    std::vector<SrvRecord> srv;
    for (int j = 0; j < 50; ++j) srv.push_back({0, 1, 5060, "h" + std::to_string(j) + ".example"});
    z.srv("_sip._udp.n" + std::to_string(i) + ".example", srv);
  }
  for (int j = 0; j < 50; ++j) {
    std::vector<std::string> ips;
    for (int k = 0; k < 20; ++k) ips.push_back("192.0." + std::to_string(j) + "." + std::to_string(k + 1));
    z.a("h" + std::to_string(j) + ".example", ips);
  }
  auto l = z.locate("sip:big.example");
  EXPECT_LE(z.asked.size(), kMaxQueries);
  EXPECT_LE(l.targets.size(), kMaxTargets);
  EXPECT_FALSE(l.targets.empty());
  for (size_t i = 0; i < l.targets.size(); ++i)
    for (size_t j = i + 1; j < l.targets.size(); ++j) EXPECT_NE(l.targets[i].address, l.targets[j].address);
}

TEST(Locate, WeightsShareTheFirstPlaceAndAddressesOfOneRecordStayTogether) {
  auto target = [](const char* ip, uint16_t priority, uint16_t weight, const char* host) {
    Target t;
    t.address = Address{ip, 5060, Transport::udp};
    t.priority = priority;
    t.weight = weight;
    t.host = host;
    return t;
  };
  std::vector<Target> t{target("192.0.2.1", 10, 90, "heavy"), target("192.0.2.2", 10, 90, "heavy"),
                        target("192.0.2.3", 10, 10, "light"), target("192.0.2.9", 20, 100, "backup")};
  std::mt19937 rng(42);
  int heavy_first = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    auto o = order_targets(t, rng);
    ASSERT_EQ(o.size(), 4u);
    EXPECT_EQ(o[3].ip, "192.0.2.9");  // priority 20 always last
    if (o[0].ip == "192.0.2.1") {
      heavy_first++;
      EXPECT_EQ(o[1].ip, "192.0.2.2");
      EXPECT_EQ(o[2].ip, "192.0.2.3");
    } else {
      EXPECT_EQ(o[0].ip, "192.0.2.3");
      EXPECT_EQ(o[1].ip, "192.0.2.1");
      EXPECT_EQ(o[2].ip, "192.0.2.2");
    }
  }
  // 90:10 by weight; the bounds are far outside what chance gives over 2000 draws.
  EXPECT_GT(heavy_first, n * 80 / 100);
  EXPECT_LT(heavy_first, n * 97 / 100);
}

}  // namespace
}  // namespace sip
