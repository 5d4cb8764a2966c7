// reload_test.cpp — what a SIGHUP would apply and what it names as needing a restart (app/reload.hpp).
#include "app/reload.hpp"

#include <gtest/gtest.h>

namespace {

const char* kRunning = R"(
[node]
data_dir = "var"

[dialing]
allow = ["+1"]
calls_per_day = 100

[[trunk]]
name = "a"
uri = "sip:127.0.0.1:5070"

[[route]]
default = true
mailbox = "fax@localhost"
)";

TEST(ReloadPlan, TheSameFileChangesNothing) {
  auto p = app::plan_reload(kRunning, kRunning);
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->nothing());
}

TEST(ReloadPlan, ATrunkAndARouteAddedAreReloaded) {
  std::string next = std::string(kRunning) +
                     "[[trunk]]\nname = \"b\"\nuri = \"sip:127.0.0.1:5080\"\n\n[[route]]\ndid = \"+15550199\"\nmailbox = \"b@localhost\"\n";
  auto p = app::plan_reload(kRunning, next);
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->trunks);
  EXPECT_TRUE(p->routes);
  EXPECT_FALSE(p->dialing);
  EXPECT_TRUE(p->not_reloaded.empty());
}

TEST(ReloadPlan, DialingAllowReloadsButADailyCapIsNamed) {
  std::string next = kRunning;
  next.replace(next.find("allow = [\"+1\"]"), 14, "allow = [\"+44\"]");
  next.replace(next.find("calls_per_day = 100"), 19, "calls_per_day = 5");
  auto p = app::plan_reload(kRunning, next);
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->dialing);
  EXPECT_EQ(p->not_reloaded, std::vector<std::string>{"[dialing] calls_per_day"});
}

TEST(ReloadPlan, OtherSectionsAreNamedAsNotReloaded) {
  std::string next = std::string(kRunning) + "\n[sip]\nlisten = [\"udp:127.0.0.1:5062\"]\n\n[[window]]\nhours = \"08:00-18:00\"\n";
  next.replace(next.find("data_dir = \"var\""), 16, "data_dir = \"other\"");
  auto p = app::plan_reload(kRunning, next);
  ASSERT_TRUE(p) << p.error();
  EXPECT_FALSE(p->trunks || p->routes || p->dialing || p->smtp);
  EXPECT_EQ(p->not_reloaded, (std::vector<std::string>{"[node]", "[sip]", "[[window]]"}));
}

TEST(ReloadPlan, SmtpLimitsAndUsersReloadButItsListenersAreNamed) {
  std::string next = std::string(kRunning) +
                     "\n[smtp]\nmax_sessions = 5\nhostname = \"fax2.test\"\n\n[[smtp.user]]\nname = \"x\"\npassword_hash = \"$6$a$b\"\n";
  auto p = app::plan_reload(kRunning, next);
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->smtp);
  EXPECT_EQ(p->not_reloaded, std::vector<std::string>{"[smtp] hostname"});
}

TEST(ReloadPlan, ARemovedSectionCountsAsAChange) {
  std::string next = kRunning;
  next.erase(next.find("[[route]]"));
  auto p = app::plan_reload(kRunning, next);
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->routes);
}

TEST(ReloadPlan, TomlThatDoesNotParseIsAnError) {
  auto p = app::plan_reload(kRunning, "[sip\n");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("the new configuration"), std::string::npos);
}

}  // namespace
