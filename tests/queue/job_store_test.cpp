// job_store_test.cpp — the job store conformance suite, run against every implementation
// (job_store.hpp): it keeps what SMTP acknowledged, one job per recipient with its DSN fields,
// committed before enqueue returns; states move only as INTERFACES.md allows; deliveries,
// reports and accounting are kept as the flows need them. SQLite-only behaviour (the file, its
// migrations, a killed writer) is in sqlite_job_store_test.cpp.
#include "queue/job_store.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <functional>
#include <memory>
#include <set>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "job_store_fixtures.hpp"
#include "pg_server.hpp"
#include "queue/pg_job_store.hpp"
#include "queue/sqlite_job_store.hpp"
#include "temp_dir.hpp"

namespace {

using queue::Direction;
using queue::JobFilter;
using queue::JobStore;
using queue::NewMessage;
using queue::NewRecipient;
using queue::StoreErrc;
using queue_test::enqueue;
using queue_test::k1630;
using queue_test::message;
using queue_test::recipient;
using queue_test::TempDir;

// One implementation under test: how to open a store in an empty directory (every open in
// one test reaches the same store), and how to read one value with SQL, for assertions on
// what no operation shows.
struct Backend {
  std::string name;
  std::function<fb::Result<std::unique_ptr<JobStore>, queue::StoreError>(const TempDir&, queue::StoreOptions)> open;
  std::function<std::string(const TempDir&, const std::string& sql)> scalar;
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

[[maybe_unused]] Backend sqlite_backend() {
  return {"sqlite",
          [](const TempDir& dir, queue::StoreOptions opt) -> fb::Result<std::unique_ptr<JobStore>, queue::StoreError> {
            auto s = queue::SqliteJobStore::open(dir / "faxbridge.db", std::move(opt));
            if (!s) return s.error();
            return std::unique_ptr<JobStore>(std::move(*s));
          },
          [](const TempDir& dir, const std::string& sql) { return queue_test::sql_scalar(dir / "faxbridge.db", sql); }};
}

// PostgreSQL (pg_server.hpp): each test's directory names a schema of its own.
[[maybe_unused]] Backend postgresql_backend() {
  return {"postgresql",
          [](const TempDir& dir, queue::StoreOptions opt) -> fb::Result<std::unique_ptr<JobStore>, queue::StoreError> {
            auto* pg = queue_test::PgServer::get();
            if (!pg) return queue::StoreError{queue::StoreErrc::db, "no test PostgreSQL"};
            auto s = queue::PgJobStore::open(pg->url(pg->schema_for(dir.path())), std::move(opt));
            if (!s) return s.error();
            return std::unique_ptr<JobStore>(std::move(*s));
          },
          [](const TempDir& dir, const std::string& sql) {
            auto* pg = queue_test::PgServer::get();
            return pg ? pg->scalar(pg->schema_for(dir.path()), sql) : std::string("<error>");
          }};
}

class JobStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  std::unique_ptr<JobStore> open_store() {
    queue::StoreOptions opt;
    opt.clock = [this] { return clock; };
    auto s = GetParam().open(tmp, opt);
    if (!s) ADD_FAILURE() << s.error().message;
    return s ? std::move(*s) : nullptr;
  }
  std::string scalar(const std::string& sql) const { return GetParam().scalar(tmp, sql); }

  TempDir tmp;
  int64_t clock = k1630;
};

TEST_P(JobStoreTest, EnqueueMakesOneQueuedJobPerRecipientWithItsDsnFields) {
  auto s = open_store();
  std::vector<NewRecipient> rcpts = {recipient("+12025550100"), recipient("+442071838750")};
  rcpts[0].subaddress = "42";
  rcpts[0].notify = "SUCCESS,FAILURE";
  rcpts[0].orcpt = "rfc822;FAX=+12025550100/T33S=42@fax.example.com";
  rcpts[1].notify = "NEVER";
  auto ids = s->enqueue_message(message("0123456789abcdef"), rcpts);
  ASSERT_TRUE(ids) << ids.error().message;
  ASSERT_EQ(ids->size(), 2u);

  auto a = s->job((*ids)[0]);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->message_id, "0123456789abcdef");
  EXPECT_EQ(a->direction, Direction::out);
  EXPECT_EQ(a->state, "queued");
  EXPECT_EQ(a->number, "+12025550100");
  EXPECT_EQ(a->subaddress, "42");
  EXPECT_EQ(a->caller, "+15550100");
  EXPECT_EQ(a->recipient, "FAX=+12025550100@fax.example.com");
  EXPECT_EQ(a->notify, "SUCCESS,FAILURE");
  EXPECT_EQ(a->orcpt, "rfc822;FAX=+12025550100/T33S=42@fax.example.com");
  EXPECT_EQ(a->created, k1630);
  EXPECT_EQ(a->updated, k1630);
  EXPECT_EQ(a->retry_at, std::nullopt);
  EXPECT_EQ(a->error, std::nullopt);
  EXPECT_EQ(a->pages, 0);
  EXPECT_EQ(a->tries + a->dials, 0);

  auto b = s->job((*ids)[1]);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->number, "+442071838750");
  EXPECT_EQ(b->notify, "NEVER");
  EXPECT_EQ(b->orcpt, std::nullopt);
  EXPECT_EQ(b->subaddress, std::nullopt);
}

TEST_P(JobStoreTest, EnqueueKeepsTheMessageEnvelope) {
  auto s = open_store();
  NewMessage m = message("00000000000000aa");
  m.sender = "";  // the null reverse path <>
  m.ret = queue::Ret::full;
  m.auth_user = std::nullopt;
  m.body_8bit = true;
  ASSERT_TRUE(s->enqueue_message(m, {recipient("+12025550100")}));
  auto got = s->message("00000000000000aa");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->sender, "");
  EXPECT_TRUE(got->body_8bit);
  EXPECT_FALSE(got->smtputf8);
  EXPECT_EQ(got->ret, queue::Ret::full);
  EXPECT_EQ(got->envid, "QQ314159+env");
  EXPECT_EQ(got->spool_path, "/var/spool/msg/00000000000000aa.eml");
  EXPECT_EQ(got->arrived, k1630 - 5);
  EXPECT_EQ(got->size, 12345);
  EXPECT_EQ(got->client, "192.0.2.7");
  EXPECT_EQ(got->auth_user, std::nullopt);
  EXPECT_EQ(got->state, "active");

  m = message("00000000000000bb");
  m.ret = queue::Ret::unset;
  m.envid = std::nullopt;
  ASSERT_TRUE(s->enqueue_message(m, {recipient("+12025550100")}));
  got = s->message("00000000000000bb");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->ret, queue::Ret::unset);
  EXPECT_EQ(got->envid, std::nullopt);
  EXPECT_EQ(got->auth_user, "alice");
  EXPECT_EQ(scalar("SELECT count(*) FROM messages WHERE id = '00000000000000bb' AND ret IS NULL"), "1");
  EXPECT_FALSE(got->body_8bit);
  m = message("00000000000000cc");
  m.smtputf8 = true;
  ASSERT_TRUE(s->enqueue_message(m, {recipient("+12025550100")}));
  EXPECT_TRUE(s->message("00000000000000cc")->smtputf8);
}

TEST_P(JobStoreTest, EnqueueRefusesBadInputAndWritesNothing) {
  auto s = open_store();
  auto refuse = [&](std::vector<NewRecipient> rcpts, const std::string& says) {
    auto r = s->enqueue_message(message("0123456789abcdef"), rcpts);
    ASSERT_FALSE(r) << says;
    EXPECT_EQ(r.error().code, StoreErrc::invalid);
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("enqueue_message(0123456789abcdef)"), std::string::npos);
  };
  refuse({}, "at least one recipient");
  for (std::string bad : {"NEVER,SUCCESS", "success", "SUCCESS,,DELAY", "", "DELAY,DELAY", "SUCCESS,"}) {
    auto r = recipient("+12025550100");
    r.notify = bad;
    refuse({recipient("+12025550101"), r}, "NOTIFY '" + bad + "'");
  }
  auto r = recipient("+12025550100");
  r.orcpt = "FAX=+12025550100@fax.example.com";
  refuse({r}, "has no addr-type");
  r = recipient("");
  refuse({r}, "fax number");
  EXPECT_EQ(scalar("SELECT count(*) FROM messages"), "0");
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), "0");
}

TEST_P(JobStoreTest, EnqueueOfAKnownMessageIdIsAConflictAndAddsNoJobs) {
  auto s = open_store();
  enqueue(*s, "0123456789abcdef", 2);
  auto again = s->enqueue_message(message("0123456789abcdef"), {recipient("+12025550109")});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, StoreErrc::conflict);
  std::string why = again.error().message;
  std::transform(why.begin(), why.end(), why.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  EXPECT_NE(why.find("unique"), std::string::npos) << again.error().message;
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), "2");
}

TEST_P(JobStoreTest, GroupEnqueueCommitsEveryMessageOrNone) {
  auto s = open_store();
  std::vector<std::pair<NewMessage, std::vector<NewRecipient>>> batch = {
      {message("aaaaaaaaaaaaaaaa"), {recipient("+15550100"), recipient("+15550101")}},
      {message("bbbbbbbbbbbbbbbb"), {recipient("+442079460000")}}};
  ASSERT_TRUE(s->enqueue_messages(batch));
  auto all = s->jobs();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 3u);
  EXPECT_TRUE(s->message("bbbbbbbbbbbbbbbb"));
  // One bad message (no recipient) refuses the whole batch before anything is written.
  std::vector<std::pair<NewMessage, std::vector<NewRecipient>>> bad = {
      {message("cccccccccccccccc"), {recipient("+15550102")}}, {message("dddddddddddddddd"), {}}};
  EXPECT_TRUE(JobStore::check(bad[1].first, bad[1].second).has_value());
  auto r = s->enqueue_messages(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, queue::StoreErrc::invalid);
  EXPECT_FALSE(s->message("cccccccccccccccc"));
  EXPECT_EQ(s->jobs()->size(), 3u);
}

TEST_P(JobStoreTest, JobsAreListedNewestFirstAndFiltered) {
  auto s = open_store();
  auto m1 = enqueue(*s, "000000000000000a", 2);
  auto m2 = enqueue(*s, "000000000000000b", 1);
  auto in = s->create_inbound({"+15550100", "7", "+33140000000"});
  ASSERT_TRUE(in) << in.error().message;
  ASSERT_TRUE(s->set_state(m1[1], "rendering"));

  auto ids = [](const std::vector<queue::Job>& jobs) {
    std::vector<int64_t> out;
    for (const auto& j : jobs) out.push_back(j.id);
    return out;
  };
  auto all = s->jobs();
  ASSERT_TRUE(all);
  EXPECT_EQ(ids(*all), (std::vector<int64_t>{*in, m2[0], m1[1], m1[0]}));

  JobFilter f;
  f.direction = Direction::in;
  EXPECT_EQ(ids(*s->jobs(f)), std::vector<int64_t>{*in});
  f.direction = Direction::out;
  f.state = "queued";
  EXPECT_EQ(ids(*s->jobs(f)), (std::vector<int64_t>{m2[0], m1[0]}));
  f = {};
  f.message_id = "000000000000000a";
  EXPECT_EQ(ids(*s->jobs(f)), (std::vector<int64_t>{m1[1], m1[0]}));
  f = {};
  f.limit = 2;
  EXPECT_EQ(ids(*s->jobs(f)), (std::vector<int64_t>{*in, m2[0]}));
  f = {};
  f.state = "lost";
  auto bad = s->jobs(f);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, StoreErrc::invalid);
  f = {};
  f.limit = -1;
  EXPECT_FALSE(s->jobs(f));
}

TEST_P(JobStoreTest, InboundJobsStartReceivingWithoutAMessage) {
  auto s = open_store();
  auto id = s->create_inbound({"+15550100", std::nullopt, ""});
  ASSERT_TRUE(id);
  auto j = s->job(*id);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->direction, Direction::in);
  EXPECT_EQ(j->state, "receiving");
  EXPECT_EQ(j->number, "+15550100");
  EXPECT_EQ(j->caller, "");
  EXPECT_EQ(j->message_id, std::nullopt);
}

TEST_P(JobStoreTest, AnUnknownJobIsNotFound) {
  auto s = open_store();
  auto j = s->job(77);
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().code, StoreErrc::not_found);
  EXPECT_EQ(j.error().message, "job(77): no job 77");
  EXPECT_EQ(s->set_state(77, "sending").error().code, StoreErrc::not_found);
  EXPECT_EQ(s->set_pages(77, 1, 0).error().code, StoreErrc::not_found);
  EXPECT_EQ(s->set_retry(77, k1630).error().code, StoreErrc::not_found);
  EXPECT_EQ(s->add_event(77, "x").error().code, StoreErrc::not_found);
  EXPECT_EQ(s->events(77).error().code, StoreErrc::not_found);
  EXPECT_EQ(s->add_dial(77).error().code, StoreErrc::not_found);
  EXPECT_EQ(s->message("0123456789abcdef").error().code, StoreErrc::not_found);
}

TEST_P(JobStoreTest, SetStateWalksTheOutboundStatesAndRecordsThem) {
  auto s = open_store();
  int64_t id = enqueue(*s, "0123456789abcdef", 1)[0];
  for (const char* st : {"rendering", "ready", "sending", "retry", "sending"}) {
    clock += 10;
    ASSERT_TRUE(s->set_state(id, st)) << st;
    EXPECT_EQ(s->job(id)->state, st);
    EXPECT_EQ(s->job(id)->updated, clock);
  }
  ASSERT_TRUE(s->set_state(id, "done"));
  auto ev = s->events(id);
  ASSERT_TRUE(ev);
  std::vector<std::string> texts;
  for (const auto& e : *ev) texts.push_back(e.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"queued for FAX=+12025550100@fax.example.com", "state rendering",
                                             "state ready", "state sending", "state retry", "state sending",
                                             "state done"}));
  EXPECT_EQ(ev->front().time, k1630);
  EXPECT_EQ(ev->back().time, clock);
}

TEST_P(JobStoreTest, SetStateRefusesUnknownAndForeignStates) {
  auto s = open_store();
  int64_t out = enqueue(*s, "0123456789abcdef", 1)[0];
  int64_t in = *s->create_inbound({"+15550100", std::nullopt, "+33140000000"});
  auto r = s->set_state(out, "lost");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, StoreErrc::invalid);
  EXPECT_EQ(r.error().message, "set_state(1, lost): unknown state");
  r = s->set_state(out, "receiving");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "set_state(1, receiving): not a state of an outbound job");
  EXPECT_EQ(s->set_state(in, "queued").error().code, StoreErrc::invalid);
  EXPECT_EQ(s->set_state(in, "cancelled").error().code, StoreErrc::invalid);
  EXPECT_EQ(s->set_state(out, "QUEUED").error().code, StoreErrc::invalid);
  ASSERT_TRUE(s->set_state(in, "delivering"));
  ASSERT_TRUE(s->set_state(in, "done"));
  EXPECT_EQ(s->job(out)->state, "queued");
}

TEST_P(JobStoreTest, AFinalJobNeverChangesAgainButKeepsItsHistory) {
  auto s = open_store();
  auto ids = enqueue(*s, "0123456789abcdef", 3);
  ASSERT_TRUE(s->set_state(ids[0], "done"));
  ASSERT_TRUE(s->set_state(ids[1], "failed", "The number is not allocated."));
  ASSERT_TRUE(s->cancel(ids[2]));
  for (int64_t id : ids) {
    auto r = s->set_state(id, "sending");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, StoreErrc::conflict);
    EXPECT_EQ(s->set_pages(id, 2, 2).error().code, StoreErrc::conflict);
    EXPECT_EQ(s->set_retry(id, k1630).error().code, StoreErrc::conflict);
    EXPECT_EQ(s->add_try(id).error().code, StoreErrc::conflict);
    EXPECT_TRUE(s->add_event(id, "report sent"));
  }
  EXPECT_EQ(s->set_state(ids[1], "done").error().message, "set_state(2, done): job 2 is already failed");
  EXPECT_EQ(s->job(ids[1])->error, "The number is not allocated.");
  EXPECT_EQ(s->events(ids[0])->back().text, "report sent");
}

TEST_P(JobStoreTest, ErrorIsSetWithTheStateAndClearedByTheNext) {
  auto s = open_store();
  int64_t id = enqueue(*s, "0123456789abcdef", 1)[0];
  ASSERT_TRUE(s->set_state(id, "retry", "The line was busy."));
  EXPECT_EQ(s->job(id)->error, "The line was busy.");
  EXPECT_EQ(s->events(id)->back().text, "state retry: The line was busy.");
  ASSERT_TRUE(s->set_state(id, "sending"));
  EXPECT_EQ(s->job(id)->error, std::nullopt);
}

TEST_P(JobStoreTest, RetryAtIsKeptOnlyWhileWaiting) {
  auto s = open_store();
  int64_t id = enqueue(*s, "0123456789abcdef", 1)[0];
  ASSERT_TRUE(s->set_state(id, "retry", "No answer."));
  ASSERT_TRUE(s->set_retry(id, k1630 + 300));
  EXPECT_EQ(s->job(id)->retry_at, k1630 + 300);
  ASSERT_TRUE(s->set_state(id, "retry", "No answer."));
  EXPECT_EQ(s->job(id)->retry_at, k1630 + 300);
  ASSERT_TRUE(s->set_state(id, "sending"));
  EXPECT_EQ(s->job(id)->retry_at, std::nullopt);
  ASSERT_TRUE(s->set_state(id, "retry"));
  ASSERT_TRUE(s->set_retry(id, k1630 + 600));
  ASSERT_TRUE(s->set_retry(id, std::nullopt));
  EXPECT_EQ(s->job(id)->retry_at, std::nullopt);
}

TEST_P(JobStoreTest, PagesAreValidated) {
  auto s = open_store();
  int64_t id = enqueue(*s, "0123456789abcdef", 1)[0];
  ASSERT_TRUE(s->set_pages(id, 3, 0));
  ASSERT_TRUE(s->set_pages(id, 3, 3));
  EXPECT_EQ(s->job(id)->pages, 3);
  EXPECT_EQ(s->job(id)->pages_done, 3);
  auto r = s->set_pages(id, 3, 4);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, StoreErrc::invalid);
  EXPECT_EQ(r.error().message, "set_pages(1): pages_done 4 is not within 0..3");
  EXPECT_FALSE(s->set_pages(id, -1, 0));
  EXPECT_FALSE(s->set_pages(id, 2, -1));
  EXPECT_EQ(s->job(id)->pages_done, 3);
}

TEST_P(JobStoreTest, DialsAndTriesAreCounted) {
  auto s = open_store();
  int64_t id = enqueue(*s, "0123456789abcdef", 1)[0];
  EXPECT_EQ(*s->add_dial(id), 1);
  EXPECT_EQ(*s->add_dial(id), 2);
  EXPECT_EQ(*s->add_try(id), 1);
  auto j = s->job(id);
  EXPECT_EQ(j->dials, 2);
  EXPECT_EQ(j->tries, 1);
}

TEST_P(JobStoreTest, CancelMovesAnyNonFinalOutboundJob) {
  auto s = open_store();
  auto ids = enqueue(*s, "0123456789abcdef", 4);
  ASSERT_TRUE(s->set_state(ids[1], "sending"));
  ASSERT_TRUE(s->set_state(ids[2], "retry", "The line was busy."));
  ASSERT_TRUE(s->set_retry(ids[2], k1630 + 120));
  ASSERT_TRUE(s->set_state(ids[3], "ready"));
  for (int64_t id : ids) {
    ASSERT_TRUE(s->cancel(id)) << id;
    auto j = s->job(id);
    EXPECT_EQ(j->state, "cancelled");
    EXPECT_EQ(j->retry_at, std::nullopt);
  }
  EXPECT_EQ(s->events(ids[1])->back().text, "cancelled (was sending)");
}

TEST_P(JobStoreTest, CancelRefusesUnknownFinalAndInboundJobs) {
  auto s = open_store();
  auto ids = enqueue(*s, "0123456789abcdef", 2);
  int64_t in = *s->create_inbound({"+15550100", std::nullopt, "+33140000000"});
  auto r = s->cancel(999);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, StoreErrc::not_found);
  EXPECT_EQ(r.error().message, "cancel(999): no job 999");
  ASSERT_TRUE(s->set_state(ids[0], "done"));
  r = s->cancel(ids[0]);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, StoreErrc::conflict);
  EXPECT_EQ(r.error().message, "cancel(1): job 1 is already done");
  ASSERT_TRUE(s->cancel(ids[1]));
  EXPECT_EQ(s->cancel(ids[1]).error().code, StoreErrc::conflict);
  r = s->cancel(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, StoreErrc::invalid);
  EXPECT_EQ(s->job(in)->state, "receiving");
  EXPECT_EQ(s->job(ids[0])->state, "done");
}

TEST_P(JobStoreTest, NextReadyTakesDueQueuedAndRetryJobsOldestFirst) {
  auto s = open_store();
  auto a = enqueue(*s, "000000000000000a", 1)[0];  // ready at 16:30, no retry_at: due now
  ASSERT_TRUE(s->set_state(a, "ready"));
  clock += 60;
  auto b = enqueue(*s, "000000000000000b", 1)[0];  // ready at 16:31
  ASSERT_TRUE(s->set_state(b, "ready"));
  auto c = enqueue(*s, "000000000000000c", 1)[0];  // retry at 16:35
  ASSERT_TRUE(s->set_state(c, "retry", "The line was busy."));
  ASSERT_TRUE(s->set_retry(c, k1630 + 300));
  auto d = enqueue(*s, "000000000000000d", 1)[0];  // sending: not for the scheduler
  ASSERT_TRUE(s->set_state(d, "sending"));
  auto e = enqueue(*s, "000000000000000e", 1)[0];  // a retry held until 16:33
  ASSERT_TRUE(s->set_state(e, "retry"));
  ASSERT_TRUE(s->set_retry(e, k1630 + 180));
  enqueue(*s, "0000000000000010", 1);  // queued: not rendered yet, not for the scheduler
  auto f = enqueue(*s, "000000000000000f", 1)[0];
  ASSERT_TRUE(s->set_state(f, "done"));
  ASSERT_TRUE(s->create_inbound({"+15550100", std::nullopt, ""}));

  auto ids = [&](int64_t now, int limit) {
    std::vector<int64_t> out;
    auto r = s->next_ready(now, limit);
    EXPECT_TRUE(r);
    for (const auto& j : *r) out.push_back(j.id);
    return out;
  };
  EXPECT_EQ(ids(k1630 + 60, 10), (std::vector<int64_t>{a, b}));
  EXPECT_EQ(ids(k1630 + 179, 10), (std::vector<int64_t>{a, b}));
  EXPECT_EQ(ids(k1630 + 180, 10), (std::vector<int64_t>{a, b, e}));
  EXPECT_EQ(ids(k1630 + 299, 10), (std::vector<int64_t>{a, b, e}));
  EXPECT_EQ(ids(k1630 + 300, 10), (std::vector<int64_t>{a, b, e, c}));
  EXPECT_EQ(ids(k1630 + 300, 2), (std::vector<int64_t>{a, b}));
  EXPECT_EQ(ids(k1630 + 300, 0), std::vector<int64_t>{});
}

TEST_P(JobStoreTest, NextReadyGivesUrgentFirstThenTakesTurnsBetweenSenders) {
  auto s = open_store();
  auto ready = [&](const std::string& msg_id, const std::string& sender, int n, int priority = 0) {
    NewMessage m = message(msg_id);
    m.sender = sender;
    std::vector<NewRecipient> rcpts;
    for (int i = 0; i < n; ++i) {
      rcpts.push_back(recipient("+1202555010" + std::to_string(i)));
      rcpts.back().priority = priority;
    }
    auto ids = *s->enqueue_message(m, rcpts);
    for (auto id : ids) EXPECT_TRUE(s->set_state(id, "ready"));
    clock += 10;
    return ids;
  };
  auto alice = ready("000000000000000a", "alice@example.com", 3);  // the oldest, and many
  auto bob = ready("000000000000000b", "bob@example.com", 1);
  auto carol = ready("000000000000000c", "carol@example.com", 1, +1);  // the newest, urgent
  auto dave = ready("000000000000000d", "dave@example.com", 1, -1);    // non-urgent
  auto r = s->next_ready(clock, 10);
  ASSERT_TRUE(r);
  std::vector<int64_t> got;
  for (const auto& j : *r) got.push_back(j.id);
  EXPECT_EQ(got, (std::vector<int64_t>{carol[0], alice[0], bob[0], alice[1], alice[2], dave[0]}));
  EXPECT_EQ((*r)[0].sender, "carol@example.com");
  EXPECT_EQ((*r)[0].priority, 1);
  got.clear();
  auto three = s->next_ready(clock, 3);
  ASSERT_TRUE(three);
  for (const auto& j : *three) got.push_back(j.id);
  EXPECT_EQ(got, (std::vector<int64_t>{carol[0], alice[0], bob[0]}));
}

TEST(FairOrder, SendersWithCallsInProgressWaitTheirTurn) {
  auto job = [](int64_t id, std::string sender, int priority = 0) {
    queue::Job j;
    j.id = id;
    j.sender = std::move(sender);
    j.priority = priority;
    return j;
  };
  // next_ready's order: alice's three, then bob's; bob has nothing in progress, alice has two.
  std::vector<queue::Job> jobs = {job(1, "alice"), job(2, "alice"), job(3, "alice"), job(4, "bob"), job(5, "bob"),
                                  job(6, "carol", 1)};
  queue::fair_order(jobs, {{"alice", 2}});
  std::vector<int64_t> got;
  for (const auto& j : jobs) got.push_back(j.id);
  // carol is urgent; bob's 1st and 2nd (shares 1, 2) before alice's 1st (1 + 2 in progress).
  EXPECT_EQ(got, (std::vector<int64_t>{6, 4, 5, 1, 2, 3}));
  // A sender's urgent faxes do not spend the turns of its normal ones.
  jobs = {job(7, "dave", 1), job(8, "dave", 1), job(9, "dave"), job(10, "erin"), job(11, "erin")};
  queue::fair_order(jobs, {});
  got.clear();
  for (const auto& j : jobs) got.push_back(j.id);
  EXPECT_EQ(got, (std::vector<int64_t>{7, 8, 9, 10, 11}));
}

TEST_P(JobStoreTest, JsonIsTheInterfaceObject) {
  auto s = open_store();
  NewRecipient r = recipient("+12025550100");
  r.subaddress = "42";
  r.priority = 1;
  auto id = (*s->enqueue_message(message("0123456789abcdef"), {r}))[0];
  clock += 60;
  ASSERT_TRUE(s->set_pages(id, 3, 1));
  ASSERT_TRUE(s->set_state(id, "retry", "The line was busy."));
  ASSERT_TRUE(s->set_retry(id, k1630 + 600));
  EXPECT_EQ(queue::to_json(*s->job(id)),
            R"({"id":1,"direction":"out","state":"retry","number":"+12025550100","caller":"+15550100",)"
            R"("pages":3,"pages_done":1,"retry_at":"2026-11-22T16:40:00Z","error":"The line was busy.",)"
            R"("message_id":"0123456789abcdef","subaddress":"42","created":"2026-11-22T16:30:00Z",)"
            R"("updated":"2026-11-22T16:31:00Z","remote_ident":null,"bad_rows":0,"media":null,"detected_by":null,)"
            R"("node":null,"priority":1})");
  ASSERT_TRUE(s->set_state(id, "ready"));
  ASSERT_TRUE(*s->claim(id, "node-1.dc2", k1630 + 90));
  EXPECT_NE(queue::to_json(*s->job(id)).find(R"("detected_by":null,"node":"node-1.dc2","priority":1})"), std::string::npos)
      << queue::to_json(*s->job(id));
}

TEST_P(JobStoreTest, JsonOfAnInboundJobHasNulls) {
  auto s = open_store();
  auto id = *s->create_inbound({"+15550100", std::nullopt, "+33140000000"});
  EXPECT_EQ(queue::to_json(*s->job(id)),
            R"({"id":1,"direction":"in","state":"receiving","number":"+15550100","caller":"+33140000000",)"
            R"("pages":0,"pages_done":0,"retry_at":null,"error":null,"message_id":null,"subaddress":null,)"
            R"("created":"2026-11-22T16:30:00Z","updated":"2026-11-22T16:30:00Z","remote_ident":null,"bad_rows":0,)"
            R"("media":null,"detected_by":null,"node":null,"routed_by":null})");
  EXPECT_EQ(queue::to_json(std::vector<queue::Job>{}), "[]");
  auto list = queue::to_json(*s->jobs());
  EXPECT_EQ(list.front(), '[');
  EXPECT_EQ(list.back(), ']');
}

TEST_P(JobStoreTest, JsonSurvivesAnErrorThatIsNotUtf8) {
  auto s = open_store();
  int64_t id = enqueue(*s, "0123456789abcdef", 1)[0];
  ASSERT_TRUE(s->set_state(id, "failed", "Remote said \xff\xfe\"bye\"."));
  std::string json = queue::to_json(*s->job(id));
  // Each bad byte becomes U+FFFD (written as UTF-8: the output is not ASCII-escaped).
  EXPECT_NE(json.find("\"error\":\"Remote said \xef\xbf\xbd\xef\xbf\xbd\\\"bye\\\".\""), std::string::npos)
      << json;
}

TEST_P(JobStoreTest, FormatUtc) {
  EXPECT_EQ(queue::format_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(queue::format_utc(k1630 + 600), "2026-11-22T16:40:00Z");
}

TEST_P(JobStoreTest, MessageStateIsValidated) {
  auto s = open_store();
  enqueue(*s, "0123456789abcdef", 1);
  ASSERT_TRUE(s->set_message_state("0123456789abcdef", "done"));
  EXPECT_EQ(s->message("0123456789abcdef")->state, "done");
  EXPECT_EQ(s->set_message_state("0123456789abcdef", "gone").error().code, StoreErrc::invalid);
  EXPECT_EQ(s->set_message_state("ffffffffffffffff", "done").error().code, StoreErrc::not_found);
}

TEST_P(JobStoreTest, AnotherInstanceSeesWhatWasCommitted) {
  auto writer = open_store();
  auto reader = open_store();  // a second connection, as the CLI or a second process has
  auto ids = enqueue(*writer, "0123456789abcdef", 2);
  ASSERT_EQ(reader->jobs()->size(), 2u);
  ASSERT_TRUE(writer->set_state(ids[0], "sending"));
  EXPECT_EQ(reader->job(ids[0])->state, "sending");
  ASSERT_TRUE(reader->cancel(ids[1]));  // and writes through it are seen back
  EXPECT_EQ(writer->job(ids[1])->state, "cancelled");
  {
    auto moved = std::move(writer);  // a store can be handed to its thread
    EXPECT_TRUE(moved->set_pages(ids[0], 2, 1));
  }
  auto later = open_store();
  auto j = later->job(ids[0]);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->state, "sending");
  EXPECT_EQ(j->pages_done, 1);
  EXPECT_EQ(later->message("0123456789abcdef")->sender, "alice@example.com");
}

TEST_P(JobStoreTest, SetTransferRecordsWhatTheCallLearned) {
  auto s = open_store();
  auto id = *s->create_inbound({"+15550100", std::string("42"), "+33140000000"});
  ASSERT_TRUE(s->set_transfer(id, 3, 3, 12, std::string("+33 1 40 00 00 00")));
  auto j = *s->job(id);
  EXPECT_EQ(j.pages, 3);
  EXPECT_EQ(j.pages_done, 3);
  EXPECT_EQ(j.bad_rows, 12);
  EXPECT_EQ(j.remote_ident, "+33 1 40 00 00 00");
  EXPECT_NE(queue::to_json(j).find(R"("remote_ident":"+33 1 40 00 00 00","bad_rows":12,)"), std::string::npos);
  EXPECT_EQ(s->set_transfer(id, 1, 2, 0, std::nullopt).error().code, queue::StoreErrc::invalid);
  ASSERT_TRUE(s->set_subaddress(id, std::string("7")));
  EXPECT_EQ(s->job(id)->subaddress, "7");
}

TEST_P(JobStoreTest, MediaAndWhatMadeItAFaxAreKept) {
  auto s = open_store();
  auto id = *s->create_inbound({"+15550100", std::nullopt, "+33140000000"});
  EXPECT_NE(queue::to_json(*s->job(id)).find(R"("media":null,"detected_by":null)"), std::string::npos);
  ASSERT_TRUE(s->set_media(id, "pcmu+t38", "tone"));
  EXPECT_EQ(s->job(id)->media, "pcmu+t38");
  EXPECT_EQ(s->job(id)->detected_by, "tone");
  EXPECT_NE(queue::to_json(*s->job(id)).find(R"("media":"pcmu+t38","detected_by":"tone")"), std::string::npos);
  ASSERT_TRUE(s->set_media(id, "pcma", ""));
  EXPECT_FALSE(s->job(id)->detected_by);
  EXPECT_EQ(s->set_media(999, "t38", "offer").error().code, queue::StoreErrc::not_found);
}

TEST_P(JobStoreTest, HowAnInboundFaxWasRoutedIsKeptWithItsDeliveriesAndShown) {
  auto s = open_store();
  auto id = s->create_inbound({"+15550100", std::nullopt, ""});
  ASSERT_TRUE(id);
  EXPECT_FALSE(s->job(*id)->routed_by);
  const std::vector<queue::NewDelivery> d = {{"anna@example.com", queue::DeliveryKind::mailbox, "/x/1.eml", "m1@x"}};
  ASSERT_TRUE(s->add_deliveries(*id, d, "routed by OCR", true, {}, "ocr"));
  EXPECT_EQ(s->job(*id)->routed_by, "ocr");
  EXPECT_NE(queue::to_json(*s->job(*id)).find(R"("routed_by":"ocr")"), std::string::npos);
  // A second routing (another node's, after a handover) is refused and changes nothing.
  EXPECT_EQ(s->add_deliveries(*id, d, "routed by DID", true, {}, "did").error().code, queue::StoreErrc::conflict);
  EXPECT_EQ(s->job(*id)->routed_by, "ocr");
  // A later addition (the postmaster after a failure) leaves it as it was.
  ASSERT_TRUE(s->add_deliveries(*id, {{"postmaster@x", queue::DeliveryKind::postmaster, "/x/2.eml", "m2@x"}},
                                "to the postmaster", false));
  EXPECT_EQ(s->job(*id)->routed_by, "ocr");
}

TEST_P(JobStoreTest, AVoiceCallsJobIsDiscardedOnlyWhileReceiving) {
  auto s = open_store();
  auto voice = *s->create_inbound({"+15550100", std::nullopt, "+33140000000"});
  auto fax = *s->create_inbound({"+15550100", std::nullopt, "+33140000001"});
  ASSERT_TRUE(s->set_state(fax, queue::state::delivering));
  ASSERT_TRUE(s->discard_inbound(voice));
  EXPECT_EQ(s->job(voice).error().code, queue::StoreErrc::not_found);
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE job_id = " + std::to_string(voice)), "0");
  EXPECT_EQ(s->discard_inbound(fax).error().code, queue::StoreErrc::conflict);
  EXPECT_EQ(s->discard_inbound(voice).error().code, queue::StoreErrc::not_found);
  enqueue(*s, "000000000000000b", 1);
  auto out = s->jobs({std::nullopt, queue::Direction::out, std::nullopt, 0});
  EXPECT_EQ(s->discard_inbound(out->front().id).error().code, queue::StoreErrc::conflict);
}

TEST_P(JobStoreTest, InboundJobsKeepWhatTheCallSaidOfItself) {
  auto s = open_store();
  queue::NewInbound in{"+15550100", std::nullopt, "+15551234", "Alice", "<sip:um.example.com;msExchUMFaxRecipient=smtp:a@b.c>"};
  auto id = s->create_inbound(in);
  ASSERT_TRUE(id);
  ASSERT_TRUE(s->set_reception(*id, 14400, true, 75));
  auto j = s->job(*id);
  EXPECT_EQ(j->caller_name, "Alice");
  EXPECT_EQ(j->referred_by, in.referred_by);
  EXPECT_EQ(j->bit_rate, 14400);
  EXPECT_TRUE(j->ecm);
  EXPECT_EQ(j->duration, 75);
}

TEST_P(JobStoreTest, DeliveriesOfAReceivedFaxRetryAndFinish) {
  auto s = open_store();
  auto id = *s->create_inbound({"+15550100", std::nullopt, "+15551234"});
  // Receiving: not yet to be routed.
  EXPECT_TRUE(s->to_route(clock, 10)->empty());
  ASSERT_TRUE(s->set_state(id, "delivering"));
  ASSERT_EQ(s->to_route(clock, 10)->size(), 1u);
  // The directory was down: the job waits, visibly.
  ASSERT_TRUE(s->set_retry(id, clock + 60));
  EXPECT_TRUE(s->to_route(clock, 10)->empty());
  EXPECT_EQ(s->job(id)->retry_at, clock + 60);
  ASSERT_EQ(s->to_route(clock + 60, 10)->size(), 1u);
  std::vector<queue::NewDelivery> ds = {{"a@example.com", queue::DeliveryKind::mailbox, "/s/out/1.eml", "fax-1@x"},
                                        {"b@example.com", queue::DeliveryKind::mailbox, "/s/out/1.eml", "fax-1@x"}};
  ASSERT_TRUE(s->add_deliveries(id, ds, "routed by DID +15550100"));
  EXPECT_FALSE(s->job(id)->retry_at);
  EXPECT_TRUE(s->to_route(clock + 60, 10)->empty());
  // Routing twice would deliver twice: refused.
  EXPECT_EQ(s->add_deliveries(id, ds, "again").error().code, queue::StoreErrc::conflict);
  EXPECT_TRUE(s->webhooks(id)->empty());  // no user's webhook was named
  auto due = s->due_deliveries(clock, 10);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].recipient, "a@example.com");
  EXPECT_EQ((*due)[0].state, "pending");
  ASSERT_TRUE(s->delivery_done((*due)[0].id, "delivered to a@example.com"));
  ASSERT_TRUE(s->delivery_deferred((*due)[1].id, clock + 300, "451 4.3.0 try later", "node1"));
  EXPECT_TRUE(s->due_deliveries(clock + 299, 10)->empty());
  EXPECT_EQ(*s->next_delivery_at(), clock + 300);
  auto all = s->deliveries(id);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].state, "done");
  EXPECT_EQ((*all)[1].attempts, 1);
  EXPECT_EQ((*all)[1].error, "451 4.3.0 try later");
  // A finished delivery cannot finish again.
  EXPECT_EQ(s->delivery_done((*due)[0].id, "x").error().code, queue::StoreErrc::not_found);
  ASSERT_TRUE(s->delivery_failed((*due)[1].id, "550 5.1.1 no such user", "node1"));
  EXPECT_FALSE(*s->next_delivery_at());
  // The postmaster gets it after a permanent failure.
  ASSERT_TRUE(s->add_deliveries(id, {{"pm@localhost", queue::DeliveryKind::postmaster, "/s/out/1-1.eml", "fax-1-1@x"}},
                               "to the postmaster", false));
  EXPECT_EQ(s->deliveries(id)->back().kind, queue::DeliveryKind::postmaster);
  auto ev = s->events(id);
  EXPECT_EQ(ev->back().text, "to the postmaster");
}

TEST_P(JobStoreTest, PurgeRemovesOldFinishedJobsAndTheirMessages) {
  auto s = open_store();
  auto old_done = *s->create_inbound({"+15550100", std::nullopt, "1"});
  ASSERT_TRUE(s->set_state(old_done, "done"));
  auto old_pending = *s->create_inbound({"+15550100", std::nullopt, "2"});
  ASSERT_TRUE(s->set_state(old_pending, "delivering"));
  auto unreported = enqueue(*s, "m1", 1)[0];  // final, but the sender has not been told yet
  ASSERT_TRUE(s->set_state(unreported, "failed"));
  auto sent = enqueue(*s, "m2", 1)[0];  // final and reported: its message completes, then goes
  ASSERT_TRUE(s->set_state(sent, "done"));
  ASSERT_TRUE(s->mark_reported({sent}, "final", {}, "no report"));
  EXPECT_EQ(*s->to_complete(10), std::vector<std::string>{"m2"});
  ASSERT_TRUE(s->set_message_state("m2", "done"));
  EXPECT_TRUE(s->to_complete(10)->empty());
  clock += 86400;
  auto fresh = *s->create_inbound({"+15550100", std::nullopt, "3"});
  ASSERT_TRUE(s->set_state(fresh, "done"));
  auto purged = s->purge(clock - 3600);
  ASSERT_TRUE(purged);
  ASSERT_EQ(purged->size(), 2u);
  EXPECT_EQ(((*purged)[0].id), old_done);
  EXPECT_EQ(((*purged)[0].direction), queue::Direction::in);
  EXPECT_EQ(((*purged)[1].id), sent);
  EXPECT_EQ(((*purged)[1].direction), queue::Direction::out);
  EXPECT_EQ(s->job(old_done).error().code, queue::StoreErrc::not_found);
  EXPECT_EQ(s->message("m2").error().code, queue::StoreErrc::not_found);
  EXPECT_TRUE(s->message("m1"));
  EXPECT_TRUE(s->job(old_pending));
  EXPECT_TRUE(s->job(unreported));
  EXPECT_TRUE(s->job(fresh));
}

TEST_P(JobStoreTest, ReportsAreTrackedPerJobOncePerMessageAndState) {
  auto s = open_store();
  auto ids = enqueue(*s, "m1", 3);
  ASSERT_TRUE(s->set_state(ids[0], "retry"));
  ASSERT_TRUE(s->set_outcome(ids[0], "busy"));
  ASSERT_TRUE(s->set_state(ids[1], "sending"));
  ASSERT_TRUE(s->set_state(ids[2], "done"));
  // Waiting for a retry and never reported: to be reported (delayed); a call in progress is not,
  // and a final job waits for the rest of its message (one final report for all of them).
  auto r = s->to_report(10);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].outcome, "busy");
  ASSERT_TRUE(s->mark_reported(
      {ids[0]}, "delayed",
      {{ids[0], queue::NewDelivery{"alice@example.com", queue::DeliveryKind::report, "/s/out/d.eml", "dsn-1@x"}}},
      "report (delayed) to alice@example.com"));
  EXPECT_TRUE(s->to_report(10)->empty());  // reported once, not on every retry
  ASSERT_TRUE(s->set_state(ids[0], "failed", std::string("Busy. Gave up after 12 dials.")));
  EXPECT_TRUE(s->to_report(10)->empty());  // ids[1] is still sending
  ASSERT_TRUE(s->set_state(ids[1], "done"));
  r = s->to_report(10);
  ASSERT_EQ(r->size(), 3u);
  ASSERT_TRUE(s->mark_reported(
      ids, "final",
      {{ids[2], queue::NewDelivery{"alice@example.com", queue::DeliveryKind::report, "/s/out/m.eml", "mdn-1@x"}}},
      "report (final) to alice@example.com"));
  EXPECT_TRUE(s->to_report(10)->empty());
  auto d = s->deliveries(ids[0]);
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ((*d)[0].kind, queue::DeliveryKind::report);
  EXPECT_EQ(s->deliveries(ids[1])->size(), 0u);
  ASSERT_EQ(s->deliveries(ids[2])->size(), 1u);
  EXPECT_EQ((*s->deliveries(ids[2]))[0].message_id, "mdn-1@x");
  EXPECT_EQ(s->job(ids[1])->reported, "final");
  EXPECT_FALSE(s->mark_reported(ids, "sometime", {}, "x"));
}

// Two nodes leading one after the other may compose the same report: only the first is marked,
// and the second adds no delivery (no second DSN).
TEST_P(JobStoreTest, MarkingAReportIsACompareAndSet) {
  auto s = open_store();
  auto ids = enqueue(*s, "m1", 2);
  ASSERT_TRUE(s->set_state(ids[0], "retry"));
  ASSERT_TRUE(s->set_state(ids[1], "failed"));
  auto dsn = [&](const std::string& id) {
    return std::vector<queue::JobDelivery>{
        {ids[0], queue::NewDelivery{"alice@example.com", queue::DeliveryKind::report, "/s/out/" + id + ".eml", id}}};
  };
  ASSERT_TRUE(s->mark_reported({ids[0]}, "delayed", dsn("d1"), "DSN (delayed)"));
  auto again = s->mark_reported({ids[0]}, "delayed", dsn("d2"), "DSN (delayed)");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, StoreErrc::conflict);
  ASSERT_TRUE(s->set_state(ids[0], "failed"));
  ASSERT_TRUE(s->mark_reported(ids, "final", dsn("f1"), "DSN (failed)"));  // after delayed: once
  auto twice = s->mark_reported(ids, "final", dsn("f2"), "DSN (failed)");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, StoreErrc::conflict);
  // A late "delayed" from a node that read the job before it ended changes nothing either.
  EXPECT_EQ(s->mark_reported({ids[0]}, "delayed", dsn("d3"), "late").error().code, StoreErrc::conflict);
  // One job already reported fails the lot: nothing of the batch is written.
  auto more = enqueue(*s, "m2", 2);
  ASSERT_TRUE(s->set_state(more[0], "done"));
  ASSERT_TRUE(s->set_state(more[1], "done"));
  ASSERT_TRUE(s->mark_reported({more[1]}, "final", {}, "no report"));
  EXPECT_EQ(s->mark_reported(more, "final", {}, "x").error().code, StoreErrc::conflict);
  EXPECT_FALSE(s->job(more[0])->reported);
  auto d = *s->deliveries(ids[0]);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].message_id, "d1");
  EXPECT_EQ(d[1].message_id, "f1");
  // ids[0]: delayed and failed; ids[1]: failed.
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE text LIKE 'DSN%' OR text IN ('late', 'x')"), "3");
}

// A delivery under way on one node is not made by another: claimed until its claim runs out
// (held while the node makes it), then due to any node; an attempt's end, or the node no longer
// holding it (its end not recorded, a start), ends the claim.
TEST_P(JobStoreTest, ClaimedDeliveriesAreMadeByOneNodeUntilItsClaimRunsOut) {
  auto s = open_store();
  auto id = *s->create_inbound({"+15550100", std::nullopt, "+15551234"});
  ASSERT_TRUE(s->set_pages(id, 1, 0));
  ASSERT_TRUE(s->set_state(id, "delivering"));
  ASSERT_TRUE(s->add_deliveries(id, {{"a@example.com", queue::DeliveryKind::mailbox, "/s/out/1.eml", "fax-1@x"},
                                     {"b@example.com", queue::DeliveryKind::mailbox, "/s/out/1.eml", "fax-1@x"},
                                     {"c@example.com", queue::DeliveryKind::mailbox, "/s/out/1.eml", "fax-1@x"}},
                                "routed"));
  auto mine = s->claim_deliveries("node1", clock, clock + 30, 2);
  ASSERT_TRUE(mine) << mine.error().message;
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].recipient, "a@example.com");
  auto theirs = *s->claim_deliveries("node2", clock, clock + 30, 10);
  ASSERT_EQ(theirs.size(), 1u);  // only the one node1 left
  EXPECT_EQ(theirs[0].recipient, "c@example.com");
  EXPECT_TRUE(s->claim_deliveries("node2", clock + 29, clock + 60, 10)->empty());
  // node1 holds both; node2 does not (it died): its claim runs out, node1's holds.
  clock += 20;
  EXPECT_EQ(*s->hold_deliveries("node1", clock, clock + 30, {(*mine)[0].id, (*mine)[1].id}), 0);
  clock += 15;
  auto after = *s->claim_deliveries("node3", clock, clock + 30, 10);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].recipient, "c@example.com");
  // node2's claim ran out and node3 took c: node2's late deferral of c changes nothing.
  auto late = s->delivery_deferred(theirs[0].id, clock + 5, "451 later", "node2");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, queue::StoreErrc::conflict) << late.error().message;
  EXPECT_EQ(s->delivery(theirs[0].id)->attempts, 0);
  const size_t before = s->deliveries(id)->size();
  auto failed = s->delivery_failed(theirs[0].id, "550 no", "node2",
                                   queue::NewDelivery{"postmaster@example.com", queue::DeliveryKind::postmaster, "/s/out/1-2.eml",
                                               "fax-1-2@x"});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, queue::StoreErrc::conflict) << failed.error().message;
  EXPECT_EQ(s->deliveries(id)->size(), before);  // no postmaster's copy beside node3's attempt
  EXPECT_TRUE(s->claim_deliveries("node1", clock, clock + 30, 10)->empty());  // still node3's
  // An attempt's end ends the claim: deferred, it is due at its own time, to anyone.
  ASSERT_TRUE(s->delivery_deferred((*mine)[0].id, clock + 5, "451 later", "node1"));
  ASSERT_TRUE(s->delivery_done((*mine)[1].id, "delivered"));
  EXPECT_TRUE(s->claim_deliveries("node2", clock + 4, clock + 30, 10)->empty());
  EXPECT_EQ(s->claim_deliveries("node2", clock + 5, clock + 30, 10)->size(), 1u);
  // node3 starts again: its claims (none under way) are due at once.
  EXPECT_EQ(*s->hold_deliveries("node3", clock, clock + 30, {}), 1);
  EXPECT_EQ(*s->hold_deliveries("node3", clock, clock + 30, {}), 0);
  auto again = *s->claim_deliveries("node3", clock, clock + 30, 10);
  ASSERT_EQ(again.size(), 1u);
  // Held by node3, renewed; another node's hold leaves it alone; once node3 no longer holds it
  // (its attempt ended unrecorded), it is due again.
  EXPECT_EQ(*s->hold_deliveries("node3", clock, clock + 60, {again[0].id}), 0);
  EXPECT_EQ(*s->hold_deliveries("node1", clock, clock + 30, {}), 0);
  EXPECT_TRUE(s->due_deliveries(clock + 29, 10)->empty());  // (node2 holds the other until clock + 30)
  EXPECT_EQ(*s->hold_deliveries("node3", clock, clock + 30, {}), 1);
  EXPECT_EQ(s->due_deliveries(clock, 10)->size(), 1u);
}

// The node that accepted a message holds it until it is rendered; a node that dies first has its
// messages taken over by one live node once its claim runs out.
TEST_P(JobStoreTest, ADeadNodesUnrenderedMessagesAreTakenOverOnce) {
  auto s = open_store();
  auto enqueue_by = [&](const std::string& id, const std::string& node) {
    NewMessage m = message(id);
    m.node = node;
    m.lease_until = clock + 30;
    auto r = s->enqueue_message(m, {recipient("+15550100")});
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->front() : 0;
  };
  const int64_t a = enqueue_by("aaaa000000000001", "node1");
  const int64_t b = enqueue_by("bbbb000000000002", "node2");
  const int64_t c = enqueue_by("cccc000000000003", "node2");
  enqueue_by("dddd000000000004", "");  // held by none (an older faxbridge's): anyone's
  ASSERT_TRUE(*s->start_rendering(b));
  ASSERT_TRUE(*s->start_rendering(c));
  ASSERT_TRUE(*s->finish_rendering(c, 1, std::nullopt));  // c is rendered: nothing to take
  auto none = s->take_over_messages("node1", clock, clock + 30);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(*none, std::vector<std::string>{"dddd000000000004"});
  // node1 renews; node2 has died.
  clock += 20;
  EXPECT_GE(*s->renew_leases("node1", clock, clock + 30), 1);
  clock += 15;
  EXPECT_EQ(*s->take_over_messages("node1", clock, clock + 30), std::vector<std::string>{"bbbb000000000002"});
  EXPECT_TRUE(s->take_over_messages("node3", clock, clock + 30)->empty());  // taken once
  EXPECT_TRUE(s->take_over_messages("node1", clock, clock + 30)->empty());  // its own now
  // node2 comes back late: its claim ran out, and renewing does not win it back.
  ASSERT_TRUE(s->renew_leases("node2", clock, clock + 30));
  EXPECT_EQ(scalar("SELECT owner FROM messages WHERE id = 'bbbb000000000002'"), "node1");
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE job_id = " + std::to_string(b) +
                   " AND text = 'to be rendered by node1: the node that held it stopped'"),
            "1");
  (void)a;
}

TEST_P(JobStoreTest, AccountingRecordsEveryCallAsAJsonLine) {
  auto s = open_store();
  queue::AccountingRecord a;
  a.time = k1630;
  a.job_id = 7;
  a.number = "+12025550100";
  a.caller = "+15550100";
  a.trunk = "carrier";
  a.pages = 2;
  a.pages_total = 3;
  a.bit_rate = 14400;
  a.duration = 61;
  a.outcome = "partial";
  a.sender = "alice@example.com";
  ASSERT_TRUE(s->add_accounting(a));
  EXPECT_EQ(scalar("SELECT outcome || ',' || pages || ',' || trunk FROM accounting"), "partial,2,carrier");
  EXPECT_EQ(queue::to_json(a),
            R"({"time":"2026-11-22T16:30:00Z","direction":"out","job":7,"number":"+12025550100","caller":"+15550100",)"
            R"("trunk":"carrier","media":"t38","detected_by":null,"pages":2,"pages_total":3,"bit_rate":14400,"duration_s":61,)"
            R"("outcome":"partial","sender":"alice@example.com","remote_ident":null})");
}


// Claims (issue 17): a compare-and-set from ready or retry to sending, for one node, with a
// lease and an attempt number; anything else is not claimable and nothing is written.
TEST_P(JobStoreTest, AClaimIsACompareAndSetWithAnAttemptNumber) {
  auto s = open_store();
  auto ids = enqueue(*s, "0123456789abcdef", 4);
  ASSERT_TRUE(s->set_state(ids[0], "ready"));
  ASSERT_TRUE(s->set_state(ids[1], "retry"));
  ASSERT_TRUE(s->set_retry(ids[1], clock + 60));
  ASSERT_TRUE(s->cancel(ids[2]));  // ids[3] stays queued

  auto a = s->claim(ids[0], "node1", clock + 30);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(*a);
  EXPECT_EQ(**a, 1);
  auto j = *s->job(ids[0]);
  EXPECT_EQ(j.state, "sending");
  EXPECT_EQ(j.owner, "node1");
  EXPECT_EQ(j.lease_until, clock + 30);
  EXPECT_EQ(j.attempt, 1);
  EXPECT_EQ(s->events(ids[0])->back().text, "state sending (attempt 1 by node1)");

  auto again = s->claim(ids[0], "node2", clock + 30);  // already sending: another node cannot have it
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_EQ(s->job(ids[0])->owner, "node1");
  EXPECT_EQ(s->job(ids[0])->attempt, 1);

  auto retry = s->claim(ids[1], "node2", clock + 30);
  ASSERT_TRUE(retry && *retry);
  EXPECT_EQ(s->job(ids[1])->retry_at, std::nullopt);  // due no more: it is being sent
  for (int64_t id : {ids[2], ids[3]}) {
    const size_t events = s->events(id)->size();
    auto none = s->claim(id, "node1", clock + 30);
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none) << "job " << id;
    EXPECT_EQ(s->events(id)->size(), events);
  }
  auto in = *s->create_inbound({"+15550100", std::nullopt, "+33140000000"});
  EXPECT_FALSE(*s->claim(in, "node1", clock + 30));
  EXPECT_FALSE(*s->claim(999, "node1", clock + 30));
  EXPECT_EQ(s->claim(ids[0], "", clock + 30).error().code, StoreErrc::invalid);
}

// calls_per_number holds for every node together: the claim itself counts the calls in progress
// to the number, in its transaction.
TEST_P(JobStoreTest, AClaimRespectsCallsPerNumberAcrossNodes) {
  auto s = open_store();
  auto first = enqueue(*s, "00000000000000c1", 2);   // +12025550100, +12025550101
  auto second = enqueue(*s, "00000000000000c2", 1);  // +12025550100 again
  for (int64_t id : {first[0], first[1], second[0]}) ASSERT_TRUE(s->set_state(id, "ready"));
  ASSERT_TRUE(**s->claim(first[0], "node1", clock + 30, 1));
  auto refused = s->claim(second[0], "node2", clock + 30, 1);  // the number is busy on node1
  ASSERT_TRUE(refused) << refused.error().message;
  EXPECT_FALSE(*refused);
  EXPECT_EQ(s->job(second[0])->state, "ready");
  EXPECT_TRUE(**s->claim(first[1], "node2", clock + 30, 1));  // another number
  EXPECT_TRUE(**s->claim(second[0], "node2", clock + 30, 2));  // two at once allowed
}

TEST_P(JobStoreTest, RecordCallWritesTheWholeOutcomeInOneTransaction) {
  auto s = open_store();
  auto ids = enqueue(*s, "0123456789abcdef", 1);
  ASSERT_TRUE(s->set_pages(ids[0], 3, 0));
  ASSERT_TRUE(s->set_state(ids[0], "ready"));
  auto attempt = **s->claim(ids[0], "node1", clock + 30);
  ASSERT_TRUE(s->confirm_pages(ids[0], attempt, 3, 1));

  queue::CallRecord c;
  c.job = ids[0];
  c.attempt = attempt;
  c.add_try = true;
  c.transfer = queue::CallRecord::Transfer{3, 2, 7, std::string("+44 20 7183 8750")};
  c.reception = queue::CallRecord::Reception{14400, true, 95};
  c.media = "t38";
  c.detected_by = "offer";
  c.outcome = "partial";
  c.events = {"call via carrier over t38: partial, 2 of 3 pages"};
  c.state = "retry";
  c.error = "The far end hung up after page 2.";
  c.retry_at = clock + 60;
  queue::AccountingRecord a;
  a.time = clock - 95;
  a.direction = Direction::out;
  a.trunk = "carrier";
  a.media = "t38";
  a.pages = 2;
  a.pages_total = 3;
  a.outcome = "partial";
  a.sender = "alice@example.com";
  a.node = "node-a";
  a.sip_status = 200;
  a.page_results = {{1, 2200, 0}, {2, 2180, 7}};
  c.accounting = a;

  // A record that cannot hold changes nothing: not a state of an outbound job.
  queue::CallRecord bad = c;
  bad.state = "receiving";
  EXPECT_EQ(s->record_call(bad).error().code, StoreErrc::invalid);
  bad = c;
  bad.transfer->pages_done = 4;
  EXPECT_EQ(s->record_call(bad).error().code, StoreErrc::invalid);
  EXPECT_EQ(s->job(ids[0])->tries, 0);
  // The daily caps count the call in progress (the pages it is to send), not yet as a call.
  auto counted = *s->budget_calls_since(0);
  ASSERT_EQ(counted.size(), 1u);
  EXPECT_EQ((std::tuple{counted[0].job_id, counted[0].in_progress}), (std::tuple{ids[0], true}));

  EXPECT_TRUE(s->calls(ids[0])->empty());
  ASSERT_TRUE(s->record_call(c));
  // The call as its attempt: which node, its SIP answer, each page T.30 confirmed.
  auto attempts = *s->calls(ids[0]);
  ASSERT_EQ(attempts.size(), 1u);
  const auto& at = attempts[0];
  EXPECT_EQ((std::tuple{at.node, at.sip_status, at.outcome, at.trunk, at.job_id}),
            (std::tuple{std::string("node-a"), 200, std::string("partial"), std::string("carrier"), ids[0]}));
  EXPECT_TRUE(at.has_page_results);
  ASSERT_EQ(at.page_results.size(), 2u);
  EXPECT_EQ((std::tuple{at.page_results[1].page, at.page_results[1].rows, at.page_results[1].bad_rows}),
            (std::tuple{2, 2180, 7}));
  EXPECT_TRUE(s->calls(ids[0] + 1000)->empty());  // (a job with no call)
  auto j = *s->job(ids[0]);
  EXPECT_EQ(j.state, "retry");
  EXPECT_EQ(j.tries, 1);
  EXPECT_EQ(j.dials, 0);
  EXPECT_EQ(j.pages, 3);
  EXPECT_EQ(j.pages_done, 2);
  EXPECT_EQ(j.bad_rows, 7);
  EXPECT_EQ(j.remote_ident, "+44 20 7183 8750");
  EXPECT_EQ(j.bit_rate, 14400);
  EXPECT_TRUE(j.ecm);
  EXPECT_EQ(j.duration, 95);
  EXPECT_EQ(j.media, "t38");
  EXPECT_EQ(j.detected_by, "offer");
  EXPECT_EQ(j.outcome, "partial");
  EXPECT_EQ(j.error, "The far end hung up after page 2.");
  EXPECT_EQ(j.retry_at, clock + 60);
  EXPECT_EQ(j.owner, "node1");  // who handled the last attempt
  EXPECT_EQ(j.lease_until, std::nullopt);
  auto ev = *s->events(ids[0]);
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev[ev.size() - 2].text, "call via carrier over t38: partial, 2 of 3 pages");
  EXPECT_EQ(ev.back().text, "state retry: The far end hung up after page 2.");
  auto calls = *s->budget_calls_since(0);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].job_id, ids[0]);  // filled from the job
  EXPECT_EQ(calls[0].pages, 2);
  EXPECT_FALSE(calls[0].in_progress);
  EXPECT_EQ(calls[0].sender, "alice@example.com");
  EXPECT_TRUE(s->budget_calls_since(clock + 1)->empty());
  EXPECT_EQ(scalar("SELECT number || ',' || caller || ',' || trunk FROM accounting"), "+12025550100,+15550100,carrier");

  // The same attempt cannot be recorded twice: the job is no longer sending.
  EXPECT_EQ(s->record_call(c).error().code, StoreErrc::conflict);
  EXPECT_EQ(s->job(ids[0])->tries, 1);
}

// A node that lost its claim (its lease ran out and another node took the job over) comes back
// late: neither its confirmed pages nor its call's result overwrite the new attempt's.
TEST_P(JobStoreTest, AStaleAttemptCannotOverwriteTheNewOne) {
  auto s = open_store();
  auto ids = enqueue(*s, "0123456789abcdef", 1);
  ASSERT_TRUE(s->set_pages(ids[0], 2, 0));
  ASSERT_TRUE(s->set_state(ids[0], "ready"));
  const int64_t first = **s->claim(ids[0], "node1", clock + 30);

  clock += 31;  // node1 stopped renewing
  auto open = *s->to_recover("node2", clock);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].owner, "node1");
  queue::CallRecord back;
  back.job = ids[0];
  back.attempt = open[0].attempt;
  back.state = "ready";
  back.retry_at = clock;
  back.events = {"taken over from node1, whose claim ran out"};
  ASSERT_TRUE(s->record_call(back));
  const int64_t second = **s->claim(ids[0], "node2", clock + 30);
  EXPECT_EQ(second, first + 1);

  EXPECT_EQ(s->confirm_pages(ids[0], first, 2, 2).error().code, StoreErrc::conflict);
  queue::CallRecord late;
  late.job = ids[0];
  late.attempt = first;
  late.add_try = true;
  late.transfer = queue::CallRecord::Transfer{2, 2, 0, std::nullopt};
  late.outcome = "done";
  late.state = "done";
  auto r = s->record_call(late);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, StoreErrc::conflict);
  EXPECT_NE(r.error().message.find("attempt 2 by node2"), std::string::npos) << r.error().message;
  auto j = *s->job(ids[0]);
  EXPECT_EQ(j.state, "sending");
  EXPECT_EQ(j.pages_done, 0);
  EXPECT_EQ(j.tries, 0);

  ASSERT_TRUE(s->confirm_pages(ids[0], second, 2, 2));
  late.attempt = second;
  ASSERT_TRUE(s->record_call(late));
  EXPECT_EQ(s->job(ids[0])->state, "done");
  EXPECT_EQ(s->job(ids[0])->tries, 1);
}

TEST_P(JobStoreTest, ToRecoverTakesOwnUnownedAndExpiredCallsOnly) {
  auto s = open_store();
  auto ids = enqueue(*s, "0123456789abcdef", 4);
  for (auto id : ids) ASSERT_TRUE(s->set_state(id, "ready"));
  ASSERT_TRUE(*s->claim(ids[0], "node1", clock + 30));
  ASSERT_TRUE(*s->claim(ids[1], "node2", clock + 30));
  ASSERT_TRUE(*s->claim(ids[2], "node3", clock - 1));  // node3's lease has run out
  queue::NewInbound mine{"+15550100", std::nullopt, "+33140000000"};
  mine.node = "node1";
  mine.lease_until = clock + 30;
  auto in1 = *s->create_inbound(mine);
  queue::NewInbound theirs = mine;
  theirs.node = "node2";
  auto in2 = *s->create_inbound(theirs);
  EXPECT_EQ(s->job(in2)->owner, "node2");
  auto legacy = *s->create_inbound({"+15550100", std::nullopt, "+33140000001"});  // no owner

  std::set<int64_t> got;
  auto open = s->to_recover("node1", clock);
  ASSERT_TRUE(open) << open.error().message;
  for (const auto& j : *open) got.insert(j.id);
  EXPECT_EQ(got, (std::set<int64_t>{ids[0], ids[2], in1, legacy}));  // never node2's live calls, nor ready ids[3]

  auto renewed = s->renew_leases("node2", clock, clock + 60);
  ASSERT_TRUE(renewed);
  EXPECT_EQ(*renewed, 2);
  EXPECT_EQ(*s->renew_leases("node3", clock, clock + 60), 0);  // node3's ran out: it may be taken over
  EXPECT_EQ(s->job(ids[1])->lease_until, clock + 60);
  clock += 45;  // node1's and node3's leases are out, node2's renewed one holds
  got.clear();
  open = s->to_recover("node4", clock);
  ASSERT_TRUE(open) << open.error().message;
  for (const auto& j : *open) got.insert(j.id);
  // node1's reception is node1's to close (its spool holds the pages); its call is anyone's.
  EXPECT_EQ(got, (std::set<int64_t>{ids[0], ids[2], legacy}));
}

// Four messages of 40 recipients each (+12025550100 ... +120255501039: each number four times),
// every job ready; their ids.
std::vector<int64_t> forty_numbers_four_times(queue::JobStore& s) {
  std::vector<int64_t> all;
  for (int m = 0; m < 4; ++m) {
    auto ids = enqueue(s, "00000000000000a" + std::to_string(m), 40);
    for (auto id : ids) EXPECT_TRUE(s.set_state(id, "ready"));
    all.insert(all.end(), ids.begin(), ids.end());
  }
  return all;
}

// Four processes claim from one store at once, as four nodes do, with `calls_per_number`
// (JobStore::claim), until a pass claims nothing; the ids each claimed, together.
std::multiset<int64_t> claim_in_four_processes(const Backend& store_kind, const TempDir& tmp,
                                                int calls_per_number) {
  std::vector<std::pair<pid_t, int>> children;
  for (int n = 0; n < 4; ++n) {
    int fds[2];
    if (pipe(fds) != 0) ADD_FAILURE() << "pipe";
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      auto store = store_kind.open(tmp, {});
      if (!store) _exit(2);
      const std::string node = "node" + std::to_string(n);
      for (bool took = true; took;) {
        took = false;
        auto ready = (*store)->next_ready(int64_t(1) << 40, 200);
        if (!ready) _exit(3);
        for (const auto& j : *ready) {
          auto c = (*store)->claim(j.id, node, int64_t(1) << 40, calls_per_number);
          if (!c) _exit(4);
          if (!*c) continue;  // another node was first, or the number is busy
          took = true;
          std::string line = std::to_string(j.id) + "\n";
          if (write(fds[1], line.data(), line.size()) != ssize_t(line.size())) _exit(5);
        }
      }
      _exit(0);
    }
    close(fds[1]);
    children.emplace_back(pid, fds[0]);
  }
  std::multiset<int64_t> claimed;
  for (auto [pid, fd] : children) {
    std::string out;
    queue_test::read_from(fd, out);
    close(fd);
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a claiming process failed: " << status;
    std::istringstream lines(out);
    for (std::string id; std::getline(lines, id);) claimed.insert(std::stoll(id));
  }
  return claimed;
}

// Several processes claim from one store at once, as several nodes do: every job is claimed,
// none twice.
TEST_P(JobStoreTest, ConcurrentClaimsFromSeveralProcessesNeverTakeAJobTwice) {
  std::vector<int64_t> all = forty_numbers_four_times(*open_store());
  auto claimed = claim_in_four_processes(GetParam(), tmp, 0);
  for (auto id : all) EXPECT_EQ(claimed.count(id), 1u) << "job " << id;
  EXPECT_EQ(claimed.size(), all.size());
  auto s = open_store();
  for (auto id : all) EXPECT_EQ(s->job(id)->attempt, 1) << "job " << id;
}

// ... and calls_per_number holds for them together: with 2, each number is called twice at most
// at once, and every number that has jobs is called as often as it may.
TEST_P(JobStoreTest, ConcurrentClaimsFromSeveralProcessesKeepCallsPerNumber) {
  auto s = open_store();
  std::vector<int64_t> all = forty_numbers_four_times(*s);
  auto claimed = claim_in_four_processes(GetParam(), tmp, 2);
  EXPECT_EQ(claimed.size(), 80u);
  std::map<std::string, int> per_number;
  for (auto id : claimed) ++per_number[s->job(id)->number];
  EXPECT_EQ(per_number.size(), 40u);
  for (const auto& [number, calls] : per_number) EXPECT_EQ(calls, 2) << number;
}

// A reception is recorded once: by its call, or by the start that closed it; a late result (a
// node whose claim ran out) is refused and changes nothing. A cancelled outbound job keeps its
// state whatever its call's record says.
TEST_P(JobStoreTest, AReceptionIsRecordedOnceAndAFinalJobNotAtAll) {
  auto s = open_store();
  auto in = *s->create_inbound({"+15550100", std::nullopt, "+33140000000"});
  queue::CallRecord closed;
  closed.job = in;
  closed.state = "delivering";
  closed.error = "The node stopped during the reception; no page had arrived.";
  ASSERT_TRUE(s->record_call(closed));
  queue::CallRecord late;
  late.job = in;
  late.transfer = queue::CallRecord::Transfer{2, 2, 0, std::nullopt};
  late.state = "delivering";
  queue::AccountingRecord a;
  a.direction = Direction::in;
  a.outcome = "received";
  late.accounting = a;
  auto r = s->record_call(late);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, StoreErrc::conflict);
  EXPECT_EQ(s->job(in)->pages, 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM accounting"), "0");

  auto ids = enqueue(*s, "0123456789abcdef", 1);
  ASSERT_TRUE(s->set_state(ids[0], "ready"));
  const int64_t attempt = **s->claim(ids[0], "node1", clock + 30);
  ASSERT_TRUE(s->cancel(ids[0]));
  queue::CallRecord done;
  done.job = ids[0];
  done.attempt = attempt;
  done.add_try = true;
  done.state = "done";
  EXPECT_EQ(s->record_call(done).error().code, StoreErrc::conflict);
  EXPECT_EQ(s->job(ids[0])->state, "cancelled");
  EXPECT_EQ(s->job(ids[0])->tries, 0);
}

// What a live node takes over without a restart: only other nodes' calls whose claim ran out.
TEST_P(JobStoreTest, ToTakeOverNamesOnlyOtherNodesExpiredCalls) {
  auto s = open_store();
  auto ids = enqueue(*s, "0123456789abcdef", 3);
  for (auto id : ids) ASSERT_TRUE(s->set_state(id, "ready"));
  ASSERT_TRUE(*s->claim(ids[0], "node1", clock - 1));  // ours, even expired: a start closes it
  ASSERT_TRUE(*s->claim(ids[1], "node2", clock - 1));  // node2 is gone
  ASSERT_TRUE(*s->claim(ids[2], "node3", clock + 30));  // node3 is alive
  queue::NewInbound in{"+15550100", std::nullopt, "+33140000000"};
  in.node = "node2";
  in.lease_until = clock - 1;
  auto rx = *s->create_inbound(in);
  auto legacy = *s->create_inbound({"+15550100", std::nullopt, "+33140000001"});  // no owner: a start's
  auto dead = s->to_take_over("node1", clock);
  ASSERT_TRUE(dead) << dead.error().message;
  std::set<int64_t> got;
  for (const auto& j : *dead) got.insert(j.id);
  EXPECT_EQ(got, (std::set<int64_t>{ids[1], rx}));  // node2's call and reception, not the unowned one
  (void)legacy;

  // A takeover holds only for a claim that has run out by its time: at clock - 10, node2's
  // claim (until clock - 1) still held, and its call stays its own.
  const auto j = *s->job(ids[1]);
  queue::CallRecord take;
  take.job = ids[1];
  take.attempt = j.attempt;
  take.expired_before = clock - 10;
  take.state = "ready";
  auto r = s->record_call(take);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, StoreErrc::conflict);
  EXPECT_EQ(s->job(ids[1])->state, "sending");
  take.expired_before = clock;
  ASSERT_TRUE(s->record_call(take));
  EXPECT_EQ(s->job(ids[1])->state, "ready");
}

// Refusing or postponing a job at dial time is a compare-and-set too: once another node has
// claimed the job, neither touches it.
TEST_P(JobStoreTest, RefusingOrPostponingAWaitingJobNeverTouchesAClaimedOne) {
  auto s = open_store();
  auto ids = enqueue(*s, "0123456789abcdef", 4);
  for (auto id : ids) ASSERT_TRUE(s->set_state(id, "ready"));
  ASSERT_TRUE(s->refuse_waiting(ids[0], 0, "not_allowed", "Not dialled: +1900 is not allowed."));
  auto j = *s->job(ids[0]);
  EXPECT_EQ(j.state, "failed");
  EXPECT_EQ(j.outcome, "not_allowed");
  EXPECT_EQ(j.error, "Not dialled: +1900 is not allowed.");
  EXPECT_EQ(s->events(ids[0])->back().text, "state failed: Not dialled: +1900 is not allowed.");

  ASSERT_TRUE(s->postpone_waiting(ids[1], 0, clock + 3600, "waiting for the sending window"));
  EXPECT_EQ(s->job(ids[1])->retry_at, clock + 3600);
  EXPECT_EQ(s->job(ids[1])->state, "ready");
  EXPECT_EQ(s->events(ids[1])->back().text, "waiting for the sending window");

  ASSERT_TRUE(*s->claim(ids[2], "node2", clock + 30));
  EXPECT_EQ(s->refuse_waiting(ids[2], 0, "over_cap", "Not dialled: over the cap.").error().code, StoreErrc::conflict);
  EXPECT_EQ(s->postpone_waiting(ids[2], 0, clock + 60, "x").error().code, StoreErrc::conflict);
  j = *s->job(ids[2]);
  EXPECT_EQ(j.state, "sending");
  EXPECT_EQ(j.retry_at, std::nullopt);
  EXPECT_EQ(j.outcome, std::nullopt);
  EXPECT_EQ(s->events(ids[2])->back().text, "state sending (attempt 1 by node2)");
  // Claimed and back to retry since it was read (attempt 0 then, 1 now): not the job it was.
  queue::CallRecord busy;
  busy.job = ids[2];
  busy.attempt = 1;
  busy.add_dial = true;
  busy.state = "retry";
  busy.retry_at = clock + 120;
  ASSERT_TRUE(s->record_call(busy));
  EXPECT_EQ(s->refuse_waiting(ids[2], 0, "over_cap", "x").error().code, StoreErrc::conflict);
  EXPECT_EQ(s->postpone_waiting(ids[2], 0, clock + 60, "x").error().code, StoreErrc::conflict);
  EXPECT_EQ(s->job(ids[2])->retry_at, clock + 120);
  ASSERT_TRUE(s->postpone_waiting(ids[2], 1, clock + 60, "x"));
  EXPECT_EQ(s->job(ids[2])->retry_at, clock + 60);
  ASSERT_TRUE(s->cancel(ids[3]));
  EXPECT_EQ(s->refuse_waiting(ids[3], 0, "over_cap", "x").error().code, StoreErrc::conflict);
  auto in = *s->create_inbound({"+15550100", std::nullopt, "+33140000000"});
  EXPECT_EQ(s->refuse_waiting(in, 0, "over_cap", "x").error().code, StoreErrc::invalid);
  EXPECT_EQ(s->postpone_waiting(999, 0, clock, "x").error().code, StoreErrc::not_found);
}

// Mail for the postmaster (RFC 5321 §4.5.1) is a delivery of no job: due, attempted and
// finished like any other, without events, and purged once final and old.
TEST_P(JobStoreTest, AForwardToThePostmasterIsADeliveryOfNoJob) {
  auto s = open_store();
  EXPECT_EQ(s->add_forward({"postmaster@example.com", queue::DeliveryKind::mailbox, "/x", "m@x"}).error().code,
            StoreErrc::invalid);
  auto id = s->add_forward({"postmaster@example.com", queue::DeliveryKind::forward, "/spool/out/fwd-1.eml", "abc@client"});
  ASSERT_TRUE(id) << id.error().message;
  auto due = *s->due_deliveries(clock, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, *id);
  EXPECT_EQ(due[0].job_id, 0);
  EXPECT_EQ(due[0].kind, queue::DeliveryKind::forward);
  EXPECT_EQ(due[0].recipient, "postmaster@example.com");
  ASSERT_TRUE(s->delivery_deferred(*id, clock + 60, "451 try later", "node1"));
  EXPECT_TRUE(s->due_deliveries(clock, 10)->empty());
  EXPECT_EQ(*s->next_delivery_at(), clock + 60);
  clock += 60;
  ASSERT_TRUE(s->delivery_done(*id, "delivered"));
  EXPECT_TRUE(s->due_deliveries(clock, 10)->empty());
  EXPECT_EQ(scalar("SELECT count(*) FROM events"), "0");
  auto kept = *s->purge(clock);  // not older than `before` yet
  EXPECT_TRUE(kept.empty());
  clock += 10;
  auto purged = *s->purge(clock);
  ASSERT_EQ(purged.size(), 1u);
  EXPECT_EQ(purged[0].id, 0);
  EXPECT_EQ(purged[0].mails, std::vector<std::string>{"/spool/out/fwd-1.eml"});
  EXPECT_EQ(scalar("SELECT count(*) FROM deliveries"), "0");
}

TEST_P(JobStoreTest, ALateBounceFailsADoneDeliveryOnceWithItsReplacement) {
  auto s = open_store();
  auto id = *s->create_inbound({"+15550100", std::nullopt, "+15551234"});
  ASSERT_TRUE(s->set_pages(id, 2, 0));
  ASSERT_TRUE(s->set_state(id, "delivering"));
  ASSERT_TRUE(s->add_deliveries(id, {{"a@example.com", queue::DeliveryKind::mailbox, "/s/out/1.eml", "fax-1@x"},
                                     {"b@example.com", queue::DeliveryKind::mailbox, "/s/out/1.eml", "fax-1@x"}},
                               "routed"));
  auto due = *s->due_deliveries(clock, 10);
  ASSERT_EQ(due.size(), 2u);
  // Each mail has its own secret tag, for its bounce address.
  EXPECT_EQ(due[0].tag.size(), 16u);
  EXPECT_EQ(due[0].tag.find_first_not_of("0123456789abcdef"), std::string::npos) << due[0].tag;
  EXPECT_NE(due[0].tag, due[1].tag);
  EXPECT_EQ(s->delivery(due[1].id)->tag, due[1].tag);
  EXPECT_EQ(s->delivery(999).error().code, StoreErrc::not_found);
  const queue::NewDelivery pm{"pm@example.com", queue::DeliveryKind::postmaster, "/s/out/1-1.eml", "fax-1-1@x"};
  // Still pending: an attempt may be under way, so the bounce must come again.
  EXPECT_EQ(s->delivery_bounced(due[0].id, "5.2.2 mailbox full", pm).error().code, StoreErrc::conflict);
  ASSERT_TRUE(s->delivery_done(due[0].id, "delivered to a@example.com"));
  ASSERT_TRUE(s->delivery_done(due[1].id, "delivered to b@example.com"));
  ASSERT_TRUE(s->set_state(id, "done"));
  auto first = s->delivery_bounced(due[0].id, "5.2.2 mailbox full", pm);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(*first);
  auto d = *s->delivery(due[0].id);
  EXPECT_EQ(d.state, "failed");
  EXPECT_EQ(d.error, "5.2.2 mailbox full");
  auto all = *s->deliveries(id);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].recipient, "pm@example.com");
  EXPECT_EQ(all[2].state, "pending");
  EXPECT_EQ(all[2].tag.size(), 16u);
  // The job stays final; its history says what happened.
  EXPECT_EQ(s->job(id)->state, "done");
  auto ev = *s->events(id);
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev[ev.size() - 2].text, "the mail to a@example.com bounced: 5.2.2 mailbox full");
  EXPECT_EQ(ev.back().text, "to pm@example.com instead");
  // The same bounce again changes nothing: one postmaster copy.
  auto again = s->delivery_bounced(due[0].id, "5.2.2 mailbox full", pm);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_EQ(s->deliveries(id)->size(), 3u);
  EXPECT_EQ(s->events(id)->size(), ev.size());
  // The postmaster's copy bounces too: nobody has the fax, and retention keeps it.
  ASSERT_TRUE(s->delivery_done(all[2].id, "delivered to pm@example.com"));
  ASSERT_TRUE(*s->delivery_bounced(all[2].id, "5.1.1 (no such user)", std::nullopt));
  EXPECT_EQ(s->deliveries(id)->size(), 3u);  // no copy of the postmaster's copy
  clock += 100;
  EXPECT_EQ(s->purge(clock)->size(), 1u);  // b@example.com has it: retention as usual ...
  EXPECT_FALSE(s->job(id));
  // ... but a fax whose every mail failed is kept.
  auto lone = *s->create_inbound({"+15550100", std::nullopt, "+15551234"});
  ASSERT_TRUE(s->set_pages(lone, 1, 0));
  ASSERT_TRUE(s->set_state(lone, "delivering"));
  ASSERT_TRUE(s->add_deliveries(lone, {{"c@example.com", queue::DeliveryKind::mailbox, "/s/out/2.eml", "fax-2@x"}}, "routed"));
  const int64_t c = s->deliveries(lone)->front().id;
  ASSERT_TRUE(s->delivery_done(c, "delivered"));
  ASSERT_TRUE(s->set_state(lone, "done"));
  ASSERT_TRUE(*s->delivery_bounced(c, "5.2.2 (full)", std::nullopt));
  clock += 100;
  EXPECT_TRUE(s->purge(clock)->empty());
  EXPECT_TRUE(s->job(lone));
  // Reports and forwards have no bounce address.
  auto fwd = *s->add_forward({"pm@example.com", queue::DeliveryKind::forward, "/s/out/f.eml", "f@x"});
  EXPECT_EQ(s->delivery(fwd)->tag, "");
  ASSERT_TRUE(s->delivery_done(fwd, "delivered"));
  EXPECT_EQ(s->delivery_bounced(fwd, "x", std::nullopt).error().code, StoreErrc::invalid);
  EXPECT_EQ(s->delivery_bounced(999, "x", std::nullopt).error().code, StoreErrc::not_found);
}

TEST_P(JobStoreTest, JobsArePagedByIdAndFilteredByNumber) {
  auto s = open_store();
  auto ids = enqueue(*s, "00000000000000aa", 5);
  queue::JobFilter f;
  f.limit = 2;
  auto page = *s->jobs(f);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].id, ids[4]);
  f.before_id = page[1].id;
  page = *s->jobs(f);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].id, ids[2]);
  EXPECT_EQ(page[1].id, ids[1]);
  queue::JobFilter n;
  n.number = s->job(ids[3])->number;
  auto by_number = *s->jobs(n);
  ASSERT_FALSE(by_number.empty());
  for (const auto& j : by_number) EXPECT_EQ(j.number, *n.number);
}

TEST_P(JobStoreTest, AReceivedFaxIsAnnouncedToTheWebhooksGivenWithItsDeliveries) {
  auto s = open_store();
  auto id = *s->create_inbound({"+15550100", std::nullopt, "+4930123", std::nullopt, std::nullopt});
  ASSERT_TRUE(s->set_state(id, "delivering"));
  std::vector<queue::NewDelivery> ds = {{"erin@example.com", queue::DeliveryKind::mailbox, "/s/out/1.eml", "fax-1@x"}};
  ASSERT_TRUE(s->add_deliveries(id, ds, "routed", true, {{"erin", "https://hooks.example.com/erin"}}));
  auto w = s->webhooks(id);
  ASSERT_TRUE(w);
  ASSERT_EQ(w->size(), 1u);
  EXPECT_EQ(((*w)[0].event), "fax.received");
  EXPECT_EQ(((*w)[0].state), "delivering");
  EXPECT_EQ(((*w)[0].url), "https://hooks.example.com/erin");
  EXPECT_EQ(((*w)[0].user), "erin");
  auto due = s->claim_webhooks(clock, clock + 60, 10);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(((*due)[0].url), "https://hooks.example.com/erin");
}

TEST_P(JobStoreTest, JobsChangedSinceATimeAreTheOnesTouchedAtOrAfterIt) {
  auto s = open_store();
  auto ids = enqueue(*s, "00000000000000ab", 3);
  clock += 10;
  ASSERT_TRUE(s->set_state(ids[1], queue::state::rendering));
  queue::JobFilter f;
  f.updated_since = clock;
  auto changed = *s->jobs(f);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].id, ids[1]);
  f.updated_since = clock - 10;  // the second the three were made: all of them
  EXPECT_EQ(s->jobs(f)->size(), 3u);
  f.updated_since = clock + 1;
  EXPECT_TRUE(s->jobs(f)->empty());
}

TEST_P(JobStoreTest, StatsCountJobsByStateAndCallsByOutcome) {
  auto s = open_store();
  EXPECT_TRUE(s->stats()->jobs.empty());
  enqueue(*s, "00000000000000aa", 2);
  auto in = *s->create_inbound({"+15550100", std::nullopt, "+15551234"});
  queue::AccountingRecord a;
  a.time = clock;
  a.direction = queue::Direction::in;
  a.job_id = in;
  a.number = "+15550100";
  a.pages = 3;
  a.outcome = "received";
  ASSERT_TRUE(s->add_accounting(a));
  ASSERT_TRUE(s->add_accounting(a));
  a.direction = queue::Direction::out;
  a.outcome = "busy";
  a.pages = 0;
  ASSERT_TRUE(s->add_accounting(a));
  auto st = *s->stats();
  ASSERT_EQ(st.jobs.size(), 2u);
  EXPECT_EQ((st.jobs[0].direction == queue::Direction::in ? st.jobs[0] : st.jobs[1]).state, "receiving");
  int64_t queued = 0;
  for (const auto& j : st.jobs) queued += j.state == "queued" ? j.count : 0;
  EXPECT_EQ(queued, 2);
  ASSERT_EQ(st.calls.size(), 2u);
  for (const auto& c : st.calls) {
    if (c.direction == queue::Direction::in) {
      EXPECT_EQ(c.outcome, "received");
      EXPECT_EQ(c.calls, 2);
      EXPECT_EQ(c.pages, 6);
    } else {
      EXPECT_EQ(c.outcome, "busy");
      EXPECT_EQ(c.calls, 1);
      EXPECT_EQ(c.pages, 0);
    }
  }
}

// Two nodes may render one message; the moves are compare-and-sets, so neither undoes what the
// other, or a node that claimed the job since, has done.
TEST_P(JobStoreTest, RenderingMovesOnlyAJobStillWaitingForIt) {
  auto s = open_store();
  auto ids = enqueue(*s, "00000000000000e1", 3);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(s->start_rendering(ids[0]).value(), true);
  EXPECT_EQ(s->start_rendering(ids[0]).value(), true);  // a second renderer joins
  EXPECT_EQ(s->job(ids[0])->state, "rendering");
  const std::string pages_name = "fax/" + std::to_string(ids[0]) + ".tif";
  EXPECT_EQ(s->finish_rendering(ids[0], 2, std::nullopt, std::make_pair(pages_name, std::string("first"))).value(), true);
  auto j = *s->job(ids[0]);
  EXPECT_EQ(j.state, "ready");
  EXPECT_EQ(j.pages, 2);
  EXPECT_EQ(j.pages_done, 0);
  // The second renderer, late: the job is ready (or claimed) and stays so, with the first pages.
  EXPECT_EQ(s->finish_rendering(ids[0], 3, std::nullopt, std::make_pair(pages_name, std::string("late"))).value(), false);
  if (s->shares_documents()) {
    EXPECT_EQ(*s->document(pages_name).value(), "first");
  }
  EXPECT_EQ(s->start_rendering(ids[0]).value(), false);
  ASSERT_TRUE(s->claim(ids[0], "n1", k1630 + 60).value());
  EXPECT_EQ(s->finish_rendering(ids[0], 3, "late").value(), false);
  EXPECT_EQ(s->start_rendering(ids[0]).value(), false);
  j = *s->job(ids[0]);
  EXPECT_EQ(j.state, "sending");
  EXPECT_EQ(j.pages, 2);
  EXPECT_EQ(j.error, std::nullopt);
  // A failed rendering.
  ASSERT_EQ(s->start_rendering(ids[1]).value(), true);
  EXPECT_EQ(s->finish_rendering(ids[1], 0, "the message cannot be faxed: no page").value(), true);
  j = *s->job(ids[1]);
  EXPECT_EQ(j.state, "failed");
  EXPECT_EQ(j.error, "the message cannot be faxed: no page");
  // Not started: nothing to finish; a cancelled job is not started.
  EXPECT_EQ(s->finish_rendering(ids[2], 1, std::nullopt).value(), false);
  ASSERT_TRUE(s->cancel(ids[2]));
  EXPECT_EQ(s->start_rendering(ids[2]).value(), false);
  EXPECT_EQ(s->job(ids[2])->state, "cancelled");
  EXPECT_FALSE(s->finish_rendering(ids[1], 0, std::nullopt));  // no pages and no error: invalid
}

// A trunk's channels across nodes (issue 17): the live grants of a trunk never add up to more
// than its max_channels; a node's own grant may grow into what the others leave, and shrink.
TEST_P(JobStoreTest, ChannelGrantsNeverAddUpToMoreThanTheTrunkCarries) {
  auto s = open_store();
  const int64_t until = k1630 + 30;
  EXPECT_EQ(s->grant_channels("a", "t", 8, 10, k1630, until).value(), 8);
  EXPECT_EQ(s->grant_channels("b", "t", 5, 10, k1630, until).value(), 2);  // what a leaves
  EXPECT_EQ(s->grant_channels("c", "t", 1, 10, k1630, until).value(), 0);
  EXPECT_EQ(s->grant_channels("c", "u", 4, 4, k1630, until).value(), 4);  // another trunk: its own count
  EXPECT_EQ(s->grant_channels("a", "t", 3, 10, k1630, until).value(), 3);  // a shrinks
  EXPECT_EQ(s->grant_channels("b", "t", 5, 10, k1630, until).value(), 5);
  EXPECT_EQ(s->grant_channels("c", "t", 5, 10, k1630, until).value(), 2);
  EXPECT_EQ(s->grant_channels("a", "t", 9, 10, k1630, until).value(), 3);  // its own grant is not counted against it
  auto live = s->channel_grants(k1630).value();
  ASSERT_EQ(live.size(), 4u);
  EXPECT_EQ((std::vector<std::string>{live[0].node, live[1].node, live[2].node, live[3].node}),
            (std::vector<std::string>{"a", "b", "c", "c"}));
  EXPECT_EQ((std::vector<int>{live[0].granted, live[1].granted, live[2].granted, live[3].granted}),
            (std::vector<int>{3, 5, 2, 4}));
  EXPECT_EQ(live[3].trunk, "u");
  EXPECT_EQ(live[0].expires, until);
  // A node that stopped renewing (it died): its grant runs out and counts no more.
  EXPECT_EQ(s->grant_channels("a", "t", 4, 10, until + 1, until + 31).value(), 4);
  EXPECT_EQ(s->channel_grants(until + 1).value().size(), 1u);
  EXPECT_EQ(scalar("SELECT count(*) FROM channel_grants"), "1");  // the expired rows are gone
  // A node that starts (or stops) drops its own.
  EXPECT_EQ(s->grant_channels("b", "t", 6, 10, until + 1, until + 31).value(), 6);
  ASSERT_TRUE(s->drop_channel_grants("a"));
  EXPECT_EQ(s->grant_channels("b", "t", 10, 10, until + 1, until + 31).value(), 10);
  // A smaller max_channels than the grants already held (a reload): nothing more, never below 0.
  EXPECT_EQ(s->grant_channels("c", "t", 3, 6, until + 1, until + 31).value(), 0);
  EXPECT_FALSE(s->grant_channels("c", "t", -1, 6, until + 1, until + 31));
}

// The pages of a reception go into the store while its node is receiving it, and not once
// another node has closed it (the late node's pages go to a new job instead).
TEST_P(JobStoreTest, AReceptionsPagesArePutOnlyByTheNodeReceivingIt) {
  auto s = open_store();
  queue::NewInbound in{"+15550100", std::nullopt, "+33140000000"};
  in.node = "node1";
  in.lease_until = clock + 30;
  auto id = *s->create_inbound(in);
  const std::string name = "in/" + std::to_string(id) + ".tif";
  ASSERT_TRUE(s->put_reception_pages(id, "node1", name, "two pages"));
  auto other = s->put_reception_pages(id, "node2", name, "not node2's");
  if (!s->shares_documents()) {  // the embedded store keeps none: nothing to refuse either
    EXPECT_TRUE(other);
    EXPECT_EQ(*s->document(name), std::nullopt);
    return;
  }
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, StoreErrc::conflict);
  EXPECT_EQ(**s->document(name), "two pages");
  ASSERT_TRUE(s->set_state(id, "delivering"));  // closed (by another node, or at its end)
  auto late = s->put_reception_pages(id, "node1", name, "three pages");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, StoreErrc::conflict);
  EXPECT_EQ(**s->document(name), "two pages");
}

// Documents (issue 17): a store several nodes share keeps the files a job needs, the accepted
// message committed with its row; the embedded store keeps none (its node's spool does).
TEST_P(JobStoreTest, DocumentsAreKeptWhereTheStoreSharesThem) {
  auto s = open_store();
  const std::string tiff = std::string("II*\0\xff\0\x80", 7) + " any bytes" + std::string(1, '\0');
  ASSERT_TRUE(s->put_document("fax/7.tif", tiff));
  auto m = message("00000000000000d1");
  m.body = "From: alice@example.com\r\n\r\nhello\r\n";
  ASSERT_TRUE(s->enqueue_message(m, {recipient("+12025550100")}));
  auto got = s->document("fax/7.tif");
  ASSERT_TRUE(got) << got.error().message;
  auto msg = s->document("msg/00000000000000d1.eml");
  ASSERT_TRUE(msg);
  if (!s->shares_documents()) {
    EXPECT_EQ(*got, std::nullopt);
    EXPECT_EQ(*msg, std::nullopt);
    return;
  }
  EXPECT_EQ(*got, tiff);
  EXPECT_EQ(*msg, *m.body);
  ASSERT_TRUE(s->put_document("fax/7.tif", "again"));  // a second rendering replaces the first
  EXPECT_EQ(**s->document("fax/7.tif"), "again");
  EXPECT_EQ(*s->document("fax/8.tif"), std::nullopt);
  // A message refused (its id is known) leaves its document as it was.
  auto dup = message("00000000000000d1");
  dup.body = "other bytes";
  EXPECT_FALSE(s->enqueue_message(dup, {recipient("+12025550101")}));
  EXPECT_EQ(**s->document("msg/00000000000000d1.eml"), *m.body);
  ASSERT_TRUE(s->remove_documents({"fax/7.tif", "msg/00000000000000d1.eml", "fax/unknown.tif"}));
  EXPECT_EQ(*s->document("fax/7.tif"), std::nullopt);
  EXPECT_EQ(*s->document("msg/00000000000000d1.eml"), std::nullopt);
}

// A node's copy of a document is the store's: a file of that name left from a store used before
// (here of the same size) is replaced; on a store that shares none, the node's file is the truth.
TEST_P(JobStoreTest, AFetchedFileIsTheStoresBytes) {
  auto s = open_store();
  const std::string spool = tmp / "spool";
  std::filesystem::create_directories(spool + "/fax");
  const std::string path = spool + "/fax/9.tif";
  auto write = [](const std::string& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; };
  auto read = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  ASSERT_TRUE(s->put_document("fax/9.tif", "store bytes"));
  write(path, "stale bytes");  // as long as the store's
  ASSERT_TRUE(queue::fetch_document(*s, spool, path));
  EXPECT_EQ(read(path), s->shares_documents() ? "store bytes" : "stale bytes");
  ASSERT_TRUE(queue::fetch_document(*s, spool, path));  // the same bytes: left as they are
  EXPECT_EQ(read(path), s->shares_documents() ? "store bytes" : "stale bytes");
  auto missing = queue::fetch_document(*s, spool, spool + "/fax/10.tif");
  if (s->shares_documents()) {
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, StoreErrc::not_found);
    EXPECT_FALSE(queue::fetch_transient(missing.error()));
    EXPECT_FALSE(std::filesystem::exists(spool + "/fax/10.tif"));
    auto digest = s->document_digest("fax/9.tif");
    ASSERT_TRUE(digest && *digest);
    EXPECT_EQ((*digest)->size, 11);
    EXPECT_EQ((*digest)->sha256.size(), 64u);
  } else {
    EXPECT_TRUE(missing);
  }
  auto outside = queue::fetch_document(*s, spool, tmp / "elsewhere.tif");
  EXPECT_EQ(bool(outside), !s->shares_documents());
}

TEST(DocumentName, IsThePathBelowTheSpool) {
  EXPECT_EQ(queue::document_name("spool", "spool/msg/0123.eml"), "msg/0123.eml");
  EXPECT_EQ(queue::document_name("/var/spool/", "/var/spool/fax/7.tif"), "fax/7.tif");
  EXPECT_EQ(queue::document_name("./spool", "spool/out/7-2.eml"), "out/7-2.eml");
  EXPECT_EQ(queue::document_name("spool", "other/msg/0123.eml"), "");
  EXPECT_EQ(queue::document_name("spool", "spool/../etc/passwd"), "");
  EXPECT_EQ(queue::document_name("spool", "spool"), "");
}

#ifdef FB_TEST_POSTGRESQL
INSTANTIATE_TEST_SUITE_P(Stores, JobStoreTest, ::testing::Values(postgresql_backend()),
#else
INSTANTIATE_TEST_SUITE_P(Stores, JobStoreTest, ::testing::Values(sqlite_backend()),
#endif
                         [](const ::testing::TestParamInfo<Backend>& i) { return i.param.name; });

}  // namespace

namespace {

TEST_P(JobStoreTest, EveryStateOfAWebhookJobIsAnnouncedOnceInOrder) {
  auto s = open_store();
  NewMessage m = message("0123456789abcdef");
  m.webhook_url = "https://hooks.example.com/fax";
  m.auth_user = "alice";
  auto ids = *s->enqueue_message(m, {recipient("+12025550100"), recipient("+12025550101")});
  auto plain = enqueue(*s, "fedcba9876543210", 1);  // no webhook: nothing announced
  ASSERT_TRUE(s->set_state(plain[0], "rendering"));
  ASSERT_TRUE(s->set_state(ids[0], "rendering"));
  ASSERT_TRUE(s->set_state(ids[0], "rendering"));  // (no change: no announcement)
  ++clock;
  ASSERT_TRUE(s->set_state(ids[0], "ready"));
  ASSERT_TRUE(s->cancel(ids[1]));
  auto all = *s->webhooks(ids[0]);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].event, "job.queued");
  EXPECT_EQ(all[1].event, "job.rendering");
  EXPECT_EQ(all[2].event, "job.ready");
  EXPECT_EQ(all[2].state, "ready");
  EXPECT_EQ(all[2].time, k1630 + 1);
  EXPECT_EQ(all[2].status, "pending");
  EXPECT_EQ(all[2].url, "https://hooks.example.com/fax");
  EXPECT_EQ(all[2].user, "alice");
  EXPECT_TRUE(s->webhooks(plain[0])->empty());
  // Claimed: the oldest pending event of each job, and only that one; claimed, it is not due
  // again until its claim runs out (another sender does not take it meanwhile).
  auto due = *s->claim_webhooks(clock, clock + 40, 10);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].id, all[0].id);
  EXPECT_EQ(due[1].job_id, ids[1]);
  EXPECT_EQ(due[1].event, "job.queued");
  EXPECT_TRUE(s->claim_webhooks(clock + 39, clock + 80, 10)->empty());
  ASSERT_EQ(s->claim_webhooks(clock + 40, clock + 80, 10)->size(), 2u);  // never recorded: due again
  // A failed attempt waits; the job's next events wait behind it.
  ASSERT_TRUE(s->webhook_attempted(all[0].id, "pending", clock + 60, "connection refused"));
  ASSERT_TRUE(s->webhook_attempted(due[1].id, "delivered", 0, std::nullopt));
  due = *s->claim_webhooks(clock, clock + 40, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].event, "job.cancelled");
  ASSERT_TRUE(s->webhook_attempted(due[0].id, "delivered", 0, std::nullopt));
  EXPECT_TRUE(s->claim_webhooks(clock, clock + 40, 10)->empty());
  due = *s->claim_webhooks(clock + 60, clock + 100, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].attempts, 1);
  EXPECT_EQ(due[0].error, "connection refused");
  ASSERT_TRUE(s->webhook_attempted(due[0].id, "failed", 0, "gave up"));  // given up: the next goes
  due = *s->claim_webhooks(clock + 60, clock + 100, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].event, "job.rendering");
  EXPECT_EQ(s->webhook_attempted(999, "delivered", 0, std::nullopt).error().code, StoreErrc::not_found);
  EXPECT_EQ(s->webhook_attempted(due[0].id, "lost", 0, std::nullopt).error().code, StoreErrc::invalid);
  // A restart reads them all back.
  s.reset();
  s = open_store();
  EXPECT_EQ(s->webhooks(ids[0])->size(), 3u);
  EXPECT_EQ((*s->webhooks(ids[0]))[0].status, "failed");
}

TEST_P(JobStoreTest, ASendAfterHoldsTheJobsUntilThen) {
  auto s = open_store();
  NewMessage m = message("0123456789abcdef");
  m.not_before = clock + 3600;
  auto ids = *s->enqueue_message(m, {recipient("+12025550100")});
  auto plain = enqueue(*s, "fedcba9876543210", 1);
  EXPECT_EQ(s->job(ids[0])->not_before, clock + 3600);
  EXPECT_EQ(s->job(ids[0])->retry_at, clock + 3600);
  for (int64_t id : {ids[0], plain[0]}) {
    ASSERT_TRUE(s->set_state(id, "rendering"));
    ASSERT_TRUE(s->set_state(id, "ready"));
  }
  EXPECT_EQ(s->job(ids[0])->retry_at, clock + 3600);  // ready: due at its send_after
  EXPECT_EQ(s->job(plain[0])->retry_at, std::nullopt);
  auto ready = *s->next_ready(clock, 10);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].id, plain[0]);
  ready = *s->next_ready(clock + 3600, 10);
  EXPECT_EQ(ready.size(), 2u);
}

TEST_P(JobStoreTest, RetentionWaitsForAJobsWebhookNews) {
  auto s = open_store();
  NewMessage m = message("0123456789abcdef");
  m.webhook_url = "https://hooks.example.com/fax";
  m.auth_user = "alice";
  auto ids = *s->enqueue_message(m, {recipient("+12025550100")});
  ASSERT_TRUE(s->cancel(ids[0]));
  ASSERT_TRUE(s->mark_reported(ids, "final", {}, "reported"));
  clock += 86400;
  EXPECT_TRUE(s->purge(clock)->empty());  // job.queued and job.cancelled not told yet
  for (int i = 0; i < 2; ++i) {
    auto due = *s->claim_webhooks(clock, clock + 40, 10);
    ASSERT_EQ(due.size(), 1u);
    ASSERT_TRUE(s->webhook_attempted(due[0].id, "delivered", 0, std::nullopt));
  }
  auto purged = *s->purge(clock);
  ASSERT_EQ(purged.size(), 1u);
  EXPECT_EQ(purged[0].id, ids[0]);
  EXPECT_EQ(scalar("SELECT COUNT(*) FROM webhook_events"), "0");
}

}  // namespace
