// log_test.cpp — core/log.hpp: each format's line, the component and job read from a line, and
// that no format lets a stranger's bytes forge or break a line.
#include "core/log.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using fb::format_log_line;
using fb::LogFormat;
using fb::LogLevel;

constexpr int64_t kMs = 1795365000123;  // 2026-11-22T16:30:00.123Z

TEST(Log, TextIsTheLineOperatorsAlwaysRead) {
  EXPECT_EQ(format_log_line(LogFormat::text, kMs, LogLevel::info, "job", "job 12: delivered", 12),
            "faxbridge: job 12: delivered");
}

TEST(Log, JsonIsOneObjectWithTimeLevelComponentJobAndMessage) {
  const std::string line =
      format_log_line(LogFormat::json, kMs, LogLevel::warn, "trunk", "trunk t is down: \"timeout\"", std::nullopt);
  EXPECT_EQ(line, R"({"time":"2026-11-22T16:30:00.123Z","level":"warn","component":"trunk","msg":"trunk t is down: \"timeout\""})");
  auto j = nlohmann::json::parse(format_log_line(LogFormat::json, kMs, LogLevel::error, "store", "x", 7));
  EXPECT_EQ(j["job"], 7);
  EXPECT_EQ(j["level"], "error");
}

TEST(Log, LogfmtQuotesWhatIsNotOneToken) {
  EXPECT_EQ(format_log_line(LogFormat::logfmt, kMs, LogLevel::info, "job", "job 3: done", 3),
            "time=2026-11-22T16:30:00.123Z level=info component=job job=3 msg=\"job 3: done\"");
  EXPECT_EQ(format_log_line(LogFormat::logfmt, kMs, LogLevel::info, "node", "ready", std::nullopt),
            "time=2026-11-22T16:30:00.123Z level=info component=node msg=ready");
  EXPECT_EQ(format_log_line(LogFormat::logfmt, kMs, LogLevel::info, "sip", R"(a "b" c\d)", std::nullopt),
            R"(time=2026-11-22T16:30:00.123Z level=info component=sip msg="a \"b\" c\\\\d")");
}

TEST(Log, AStrangersBytesStayOnTheirLineInEveryFormat) {
  const std::string forged = "call from Bob\r\nfaxbridge: ready\n{\"level\":\"info\"}";
  for (auto f : {LogFormat::text, LogFormat::json, LogFormat::logfmt}) {
    const std::string line = format_log_line(f, kMs, LogLevel::info, "sip\nx", forged, std::nullopt);
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    EXPECT_EQ(line.find('\r'), std::string::npos) << line;
  }
  auto j = nlohmann::json::parse(format_log_line(LogFormat::json, kMs, LogLevel::info, "sip", forged, std::nullopt));
  EXPECT_EQ(j.size(), 4u);  // no key injected
  EXPECT_EQ(format_log_line(LogFormat::text, kMs, LogLevel::info, "x", std::string(5000, 'a'), std::nullopt).size(),
            std::string("faxbridge: ").size() + fb::kMaxLogLine + 3);
}

TEST(Log, ACallsIdIsAFieldOfItsOwnAndEndsATextLine) {
  const std::string cid = "a84bc1d2e3@127.0.0.1";
  EXPECT_EQ(format_log_line(LogFormat::text, kMs, LogLevel::info, "call", "job 4: dialling +15550100", 4, cid),
            "faxbridge: job 4: dialling +15550100 call=" + cid);
  // A line that names it already (a T.30 trace tag) is not given it twice.
  EXPECT_EQ(format_log_line(LogFormat::text, kMs, LogLevel::info, "t30", "job 4 call=" + cid + " Rx DIS", 4, cid),
            "faxbridge: job 4 call=" + cid + " Rx DIS");
  auto j = nlohmann::json::parse(format_log_line(LogFormat::json, kMs, LogLevel::info, "call", "x", 4, cid));
  EXPECT_EQ(j["call"], cid);
  EXPECT_EQ(format_log_line(LogFormat::logfmt, kMs, LogLevel::info, "call", "x", 4, "a b"),
            "time=2026-11-22T16:30:00.123Z level=info component=call job=4 call=\"a b\" msg=x");
  EXPECT_EQ(fb::call_of("job 4 call=" + cid + " Rx DIS"), cid);
  EXPECT_EQ(fb::call_of("a call from Bob"), "");
  EXPECT_EQ(fb::call_of("recall=5"), "");
}

TEST(Log, TheComponentIsTheFirstWordAndTheJobTheFirstJobNumber) {
  EXPECT_EQ(fb::component_of("job 12: delivered to a@b"), "job");
  EXPECT_EQ(fb::component_of("webhooks: store busy"), "webhooks");
  EXPECT_EQ(fb::component_of("SMTP listening on 127.0.0.1:25"), "smtp");
  EXPECT_EQ(fb::component_of(": odd"), "node");
  EXPECT_EQ(fb::component_of(std::string(30, 'a')), "node");
  EXPECT_EQ(fb::job_of("job 12: delivered"), 12);
  EXPECT_EQ(fb::job_of("webhook event 3 of job 77 delivered"), 77);
  EXPECT_EQ(fb::job_of("blowjob 5"), std::nullopt);
  EXPECT_EQ(fb::job_of("job 5x"), std::nullopt);
  EXPECT_EQ(fb::job_of("job x, then job 9"), 9);
  EXPECT_EQ(fb::job_of("ready"), std::nullopt);
}

}  // namespace
