// pg_job_store_test.cpp — what only the PostgreSQL store does (the operations themselves are in
// the conformance suite, job_store_test.cpp): the schema created once when nodes start together,
// a schema from the future refused, a connection PostgreSQL dropped opened again, text PostgreSQL
// would refuse kept, a COMMIT whose answer was lost settled by asking the server, a password
// never shown; and the SQL rewriting of postgres.hpp.
#include "queue/pg_job_store.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "job_store_fixtures.hpp"
#include "pg_cut_proxy.hpp"
#include "pg_server.hpp"
#include "queue/postgres.hpp"
#include "temp_dir.hpp"

namespace {

using queue::PgJobStore;
using queue_test::PgServer;
using queue_test::TempDir;

// lead() as a value: true or false, or "error" when it failed.
std::string leads(queue::JobStore& s) {
  auto r = s.lead();
  return !r ? "error: " + r.error().message : *r ? "true" : "false";
}

// lead() once it says true, or what it said when 10 s have passed: a session that ended lets
// its lock go as its backend exits, a moment later.
std::string leads_within(queue::JobStore& s) {
  std::string said;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       (said = leads(s)) != "true" && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a poll interval inside the deadline loop
  }
  return said;
}

// Runs body(0..n-1) in n forked processes at once; each one's exit code (body's return value,
// or -1 when the process did not exit normally).
std::vector<int> in_processes(int n, const std::function<int(int)>& body) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) _exit(body(i));
    pids.push_back(pid);
  }
  std::vector<int> codes;
  for (pid_t pid : pids) {
    int status = 0;
    codes.push_back(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return codes;
}

class PgJobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg = PgServer::get();
    ASSERT_NE(pg, nullptr);
    schema = pg->schema_for(tmp.path());
  }
  std::string url() const { return pg->url(schema); }
  std::string scalar(const std::string& sql) const { return pg->scalar(schema, sql); }

  TempDir tmp;
  PgServer* pg = nullptr;
  std::string schema;
};

TEST_F(PgJobStoreTest, NodesStartingTogetherCreateTheSchemaOnce) {
  constexpr int kNodes = 4;
  auto codes = in_processes(kNodes, [&](int n) {
    auto s = PgJobStore::open(url());
    if (!s) return 2;
    auto ids = queue_test::enqueue(**s, "00000000000000a" + std::to_string(n), 1);
    return ids.size() == 1 ? 0 : 3;
  });
  EXPECT_EQ(codes, std::vector<int>(kNodes, 0)) << "a node failed to open the store";
  EXPECT_EQ(scalar("SELECT string_agg(version::text, ',') FROM schema_version"), std::to_string(queue::kSchemaVersion));
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), std::to_string(kNodes));
  auto again = PgJobStore::open(url());  // an existing, current schema is left alone
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), std::to_string(kNodes));
}

// A node that starts while another holds the store's locks longer than the lock timeout (a
// long upgrade of the schema) waits for it rather than failing busy.
TEST_F(PgJobStoreTest, ANodeStartingWaitsForAnotherThatHoldsTheSchemaLongerThanTheLockTimeout) {
  {
    auto first = PgJobStore::open(url());  // the schema made
    ASSERT_TRUE(first) << first.error().message;
  }
  auto holder = queue::postgres::connect(url(), 5000);
  ASSERT_TRUE(holder) << holder.error().message;
  ASSERT_TRUE((*holder)->begin("upgrading"));
  queue::StoreOptions quick;
  quick.busy_timeout_ms = 500;  // each wait of the starting node ends busy after 0.5 s
  const auto start = std::chrono::steady_clock::now();
  auto opening = std::async(std::launch::async, [&] { return PgJobStore::open(url(), quick); });
  // The hold: three of the starting node's lock timeouts.
  EXPECT_EQ(opening.wait_for(std::chrono::milliseconds(1500)), std::future_status::timeout);
  ASSERT_TRUE((*holder)->commit("upgrading"));
  auto opened = opening.get();
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_TRUE((*opened)->create_inbound(queue::NewInbound{"+15550100", std::nullopt, "+33140000000"}));
}

TEST_F(PgJobStoreTest, ASchemaFromTheFutureIsRefused) {
  ASSERT_TRUE(PgJobStore::open(url()));
  ASSERT_EQ(scalar("UPDATE schema_version SET version = 999 RETURNING version"), "999");
  auto s = PgJobStore::open(url());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("schema version 999, newer than this faxbridge's"), std::string::npos)
      << s.error().message;
}

// A store made by the release before (schema 14) gains what this one adds, keeping its rows.
TEST_F(PgJobStoreTest, AnOlderSchemaIsUpgradedInPlace) {
  {
    auto s = PgJobStore::open(url());
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_EQ(queue_test::enqueue(**s, "00000000000000c1", 1).size(), 1u);
  }
  ASSERT_EQ(scalar("DROP TABLE channel_grants; DROP INDEX accounting_by_time; "
                   "ALTER TABLE messages DROP COLUMN owner, DROP COLUMN lease_until; "
                   "ALTER TABLE deliveries DROP COLUMN claimed_by; ALTER TABLE jobs DROP COLUMN routed_by; "
                   "UPDATE schema_version SET version = 14 RETURNING version"),
            "14");
  auto s = PgJobStore::open(url());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(scalar("SELECT string_agg(version::text, ',') FROM schema_version"), std::to_string(queue::kSchemaVersion));
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), "1");
  EXPECT_EQ((*s)->grant_channels("a", "t", 2, 10, 100, 130).value(), 2);
  // The message of before is held by none: any node takes it over (v16).
  EXPECT_EQ((*s)->take_over_messages("a", 100, 130).value(), std::vector<std::string>{"00000000000000c1"});
}

// Nodes taking over a dead node's messages and claiming deliveries at once: each message is
// taken by one node, each delivery claimed by one (every process writes what it got to a file).
TEST_F(PgJobStoreTest, NodesTakingOverAtOnceTakeEachMessageAndDeliveryOnce) {
  constexpr int kMessages = 30, kNodes = 4;
  {
    auto s = PgJobStore::open(url());
    ASSERT_TRUE(s) << s.error().message;
    for (int i = 0; i < kMessages; ++i) {
      char id[17];
      std::snprintf(id, sizeof id, "%016x", 0xd00 + i);
      ASSERT_EQ(queue_test::enqueue(**s, id, 1).size(), 1u);  // held by none: any node's to take
      queue::JobStore& js = **s;
      auto in = js.create_inbound({"+15550100", std::nullopt, "+15551234"});
      ASSERT_TRUE(in && js.set_state(*in, "delivering"));
      ASSERT_TRUE(js.add_deliveries(*in, {{"a@example.com", queue::DeliveryKind::mailbox, "/s/1.eml", "f@x"}}, "r"));
    }
  }
  auto codes = in_processes(kNodes, [&](int n) {
    auto s = PgJobStore::open(url());
    if (!s) return 2;
    std::ofstream out(tmp / ("taken-" + std::to_string(n)));
    for (int i = 0; i < 20; ++i) {
      auto m = (*s)->take_over_messages("n" + std::to_string(n), 100, 200);
      auto d = (*s)->claim_deliveries("n" + std::to_string(n), 100, 200, 3);
      if (!m || !d) return 3;
      for (const auto& id : *m) out << "m " << id << "\n";
      for (const auto& x : *d) out << "d " << x.id << "\n";
    }
    return out.flush() ? 0 : 4;
  });
  EXPECT_EQ(codes, std::vector<int>(kNodes, 0));
  std::map<std::string, int> taken;
  for (int n = 0; n < kNodes; ++n) {
    std::ifstream in(tmp / ("taken-" + std::to_string(n)));
    for (std::string line; std::getline(in, line);) ++taken[line];
  }
  EXPECT_EQ(taken.size(), size_t(2 * kMessages));
  for (const auto& [what, times] : taken) EXPECT_EQ(times, 1) << what << " taken " << times << " times";
}

// Nodes asking for a trunk's channels at once: the grants they commit never add up to more
// than max_channels, whatever the interleaving (each process checks the sum after each grant).
TEST_F(PgJobStoreTest, NodesGrantingAtOnceNeverExceedTheTrunk) {
  ASSERT_TRUE(PgJobStore::open(url()));
  constexpr int kNodes = 4;
  auto codes = in_processes(kNodes, [&](int n) {
    auto s = PgJobStore::open(url());
    if (!s) return 2;
    auto sum = queue::postgres::connect(url(), 5000);
    if (!sum) return 2;
    const std::string node = "n" + std::to_string(n);
    for (int i = 0; i < 150; ++i) {
      const int want = (i * 7 + n * 3) % 11;  // 0..10, out of step between the nodes
      if (!(*s)->grant_channels(node, "t", want, 10, 100, 1000)) return 3;
      auto q = queue::sql::Stmt::prepare(**sum, "SELECT COALESCE(SUM(granted), 0) FROM channel_grants", "sum");
      if (!q) return 4;
      auto row = q->step();
      if (!row || !*row) return 4;
      if (q->int64(0) > 10) return 5;  // more granted than the trunk carries
    }
    return 0;
  });
  EXPECT_EQ(codes, std::vector<int>(kNodes, 0)) << "5: a node saw more than 10 granted";
}

TEST_F(PgJobStoreTest, AServerThatCannotBeReachedIsNamedWithoutItsPassword) {
  auto s = PgJobStore::open("postgresql://fax:s3cret@127.0.0.1:1/fax?connect_timeout=2");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, queue::StoreErrc::db);
  EXPECT_EQ(s.error().message.rfind("open postgresql://fax:***@127.0.0.1:1/fax?connect_timeout=2: ", 0), 0u)
      << s.error().message;
  EXPECT_EQ(s.error().message.find("s3cret"), std::string::npos);
}

// PostgreSQL restarted, or a pooler or failover cut the session: the next operation opens it
// again; nothing committed is lost.
TEST_F(PgJobStoreTest, AConnectionPostgresqlDroppedIsOpenedAgain) {
  auto s = PgJobStore::open(url());
  ASSERT_TRUE(s) << s.error().message;
  auto ids = queue_test::enqueue(**s, "00000000000000b1", 1);
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_NE(scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'fbtest' "
                   "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"),
            "0");
  // A query finds the connection dead and is asked again on a new one; so is a BEGIN.
  auto job = (*s)->job(ids[0]);
  ASSERT_TRUE(job) << job.error().message;
  EXPECT_EQ(job->state, "queued");
  ASSERT_NE(scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'fbtest' "
                   "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"),
            "0");
  auto set = static_cast<queue::JobStore&>(**s).set_state(ids[0], "ready");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(scalar("SELECT state FROM jobs WHERE id = " + std::to_string(ids[0])), "ready");
}

// The store's URL through `proxy` instead of straight to the server.
std::string through(const std::string& url, const std::string& server_dir, const std::string& proxy_dir) {
  std::string out = url;
  const std::string host = "host=" + server_dir;
  if (auto p = out.find(host); p != std::string::npos) out.replace(p, host.size(), "host=" + proxy_dir);
  return out;
}

// The connection goes after the server committed but before its answer came (a network cut, a
// crash of the server after its commit): the store asks the server and reports what was done —
// here, done, so the caller does not do it again (an SMTP client told 451 would send the mail
// twice).
TEST_F(PgJobStoreTest, ACommitWhoseAnswerWasLostIsDoneWhenTheServerDidIt) {
  queue_test::PgCutProxy proxy(tmp.path() + "/proxy", pg->socket_dir());
  ASSERT_TRUE(proxy.ok());
  auto s = PgJobStore::open(through(url(), pg->socket_dir(), tmp.path() + "/proxy"));
  ASSERT_TRUE(s) << s.error().message;
  proxy.arm(queue_test::PgCutProxy::Cut::after_commit);
  auto id = (*s)->create_inbound(queue::NewInbound{"+15550100", std::nullopt, "+33140000000"});
  EXPECT_EQ(proxy.cuts(), 1);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), "1");
  EXPECT_EQ(scalar("SELECT number FROM jobs WHERE id = " + std::to_string(*id)), "+15550100");
  // The store goes on, on its new session.
  auto again = (*s)->create_inbound(queue::NewInbound{"+15550101", std::nullopt, "+33140000000"});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), "2");
}

// The COMMIT itself is lost with the connection: the server rolled the transaction back, and
// the store says so (an error: the caller must not acknowledge it).
TEST_F(PgJobStoreTest, ACommitLostOnItsWayIsAnErrorAndNothingWasWritten) {
  queue_test::PgCutProxy proxy(tmp.path() + "/proxy", pg->socket_dir());
  ASSERT_TRUE(proxy.ok());
  auto s = PgJobStore::open(through(url(), pg->socket_dir(), tmp.path() + "/proxy"));
  ASSERT_TRUE(s) << s.error().message;
  proxy.arm(queue_test::PgCutProxy::Cut::before_commit);
  auto id = (*s)->create_inbound(queue::NewInbound{"+15550100", std::nullopt, "+33140000000"});
  EXPECT_EQ(proxy.cuts(), 1);
  ASSERT_FALSE(id);
  EXPECT_NE(id.error().message.find("the transaction was not committed"), std::string::npos) << id.error().message;
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), "0");
  auto again = (*s)->create_inbound(queue::NewInbound{"+15550101", std::nullopt, "+33140000000"});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), "1");
}

// A node frozen in the middle of a write transaction (or gone without a word): the server ends
// its session, and with it the writer lock, so the other nodes' writes go through again — after
// the busy errors of the wait.
TEST_F(PgJobStoreTest, ANodeStoppedInsideATransactionDoesNotStopTheOthersForGood) {
  auto s = PgJobStore::open(url());
  ASSERT_TRUE(s) << s.error().message;
  auto frozen = queue::postgres::connect(url(), 5000);
  ASSERT_TRUE(frozen) << frozen.error().message;
  ASSERT_TRUE((*frozen)->begin("frozen"));  // holds the writer lock and says nothing more
  fb::Result<int64_t, queue::StoreError> id = queue::StoreError{queue::StoreErrc::db, "not tried"};
  int busy = 0;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
       std::chrono::steady_clock::now() < deadline;) {
    id = (*s)->create_inbound(queue::NewInbound{"+15550100", std::nullopt, "+33140000000"});
    if (id) break;
    busy += id.error().code == queue::StoreErrc::busy;
  }
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_GE(busy, 1);  // it did wait for the frozen one's lock
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), "1");
  EXPECT_FALSE((*frozen)->commit("frozen"));  // its session was ended
}

// Claims on several nodes run at once: while another node is in the middle of claiming a job
// (its claim's transaction holds the row), a claim of that job skips it at once (SKIP LOCKED,
// not a wait into the lock timeout), and a claim of another job goes through beside it.
TEST_F(PgJobStoreTest, ClaimsOnSeveralNodesRunTogetherAndSkipTheRowAnotherIsClaiming) {
  auto s = PgJobStore::open(url());
  ASSERT_TRUE(s) << s.error().message;
  auto ids = queue_test::enqueue(**s, "00000000000000d1", 2);
  for (int64_t id : ids) ASSERT_TRUE(static_cast<queue::JobStore&>(**s).set_state(id, "ready"));
  queue::StoreOptions quick;
  quick.busy_timeout_ms = 300;
  auto writer = PgJobStore::open(url(), quick);  // a third node, for a write that is not a claim
  ASSERT_TRUE(writer) << writer.error().message;
  auto other = queue::postgres::connect(url(), 5000);  // another node, half-way through claiming ids[0]
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_TRUE((*other)->begin_claim("claim"));
  auto lock = queue::sql::Stmt::prepare(**other, "SELECT id FROM jobs WHERE id = ?1 FOR UPDATE SKIP LOCKED", "claim");
  ASSERT_TRUE(lock);
  auto held = lock->bind_int(1, ids[0]).step();
  ASSERT_TRUE(held && *held);

  const auto t0 = std::chrono::steady_clock::now();
  auto skipped = (*s)->claim(ids[0], "node2", int64_t(1) << 40, 1);
  ASSERT_TRUE(skipped) << skipped.error().message;
  EXPECT_FALSE(*skipped);
  auto beside = (*s)->claim(ids[1], "node2", int64_t(1) << 40, 1);
  ASSERT_TRUE(beside) << beside.error().message;  // an exclusive lock would have waited and failed busy
  EXPECT_TRUE(*beside);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));  // neither waited for the 5 s lock timeout
  // A writer that is not a claim waits for the claims to end.
  auto blocked = static_cast<queue::JobStore&>(**writer).set_state(ids[0], "cancelled");
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, queue::StoreErrc::busy) << blocked.error().message;

  (*other)->rollback();  // the other node's claim did not happen: the job is there to claim
  auto after = (*s)->claim(ids[0], "node2", int64_t(1) << 40, 1);
  ASSERT_TRUE(after && *after);
  EXPECT_EQ((*s)->job(ids[0])->owner, "node2");
}

// A caller's name from SIP may hold bytes that are not UTF-8, or a NUL: the reception is recorded
// with U+FFFD in their place rather than refused.
TEST_F(PgJobStoreTest, TextPostgresqlWouldRefuseIsKeptWithReplacementCharacters) {
  auto s = PgJobStore::open(url());
  ASSERT_TRUE(s) << s.error().message;
  queue::NewInbound in{"+15550100", std::nullopt, "+33140000000"};
  in.caller_name = std::string("Caf\xe9 \xff", 6) + std::string(1, '\0') + "x";
  auto id = (*s)->create_inbound(in);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ((*s)->job(*id)->caller_name, "Caf\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBDx");
}

// One node at a time leads (routes received faxes, reports, ...); when it goes, another leads.
TEST_F(PgJobStoreTest, OneInstanceLeadsAtATimeAndAnotherOnceItIsGone) {
  auto a = PgJobStore::open(url());
  auto b = PgJobStore::open(url());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(leads(**a), "true");
  EXPECT_EQ(leads(**b), "false");
  EXPECT_EQ(leads(**a), "true");  // still, and only once held
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"), "1");
  a->reset();  // the leading node goes: its session ends as its backend exits, just after
  EXPECT_EQ(leads_within(**b), "true");
  // Its session cut (a restart of PostgreSQL, a failover): the lock went with it.
  ASSERT_NE(scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'fbtest' "
                   "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"),
            "0");
  auto c = PgJobStore::open(url());
  ASSERT_TRUE(c);
  EXPECT_EQ(leads_within(**c), "true");
  // b's dead session is noticed (an error, or at once not leading), and its new one cannot lead.
  EXPECT_NE(leads(**b), "true");
  EXPECT_EQ(leads(**b), "false");
}

TEST(Postgres, ParametersAreNumberedOutsideQuotesOnly) {
  using queue::postgres::numbered_parameters;
  EXPECT_EQ(numbered_parameters("SELECT a FROM t WHERE b = ?1 AND c IN (?2, ?12)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $12)");
  EXPECT_EQ(numbered_parameters("SELECT '?1', \"?2\", ?3, 'it''s ?4'"), "SELECT '?1', \"?2\", $3, 'it''s ?4'");
  EXPECT_EQ(numbered_parameters("SELECT ? , ?x"), "SELECT ? , ?x");
}

TEST(Postgres, OnlyQueriesAreAskedAgain) {
  using queue::postgres::is_query;
  EXPECT_TRUE(is_query("SELECT id FROM jobs"));
  EXPECT_TRUE(is_query("\n  SELECT 1"));
  EXPECT_FALSE(is_query("UPDATE jobs SET state = 'x'"));
  EXPECT_FALSE(is_query("INSERT INTO jobs DEFAULT VALUES RETURNING id"));
  EXPECT_FALSE(is_query("SELECTED"));
}

TEST(Postgres, TextIsMadeValidUtf8) {
  using queue::postgres::valid_text;
  EXPECT_EQ(valid_text("plain ASCII"), "plain ASCII");
  EXPECT_EQ(valid_text("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x93\xA0"), "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x93\xA0");  // é € 📠
  EXPECT_EQ(valid_text(std::string("a\0b", 3)), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(valid_text("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");              // overlong
  EXPECT_EQ(valid_text("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(valid_text("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");              // cut short
  EXPECT_EQ(valid_text("\xF4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // > U+10FFFF
}

TEST(Postgres, PasswordsAreRedacted) {
  using queue::postgres::redacted;
  EXPECT_EQ(redacted("postgresql://fax:pw@db.example:5432/fax"), "postgresql://fax:***@db.example:5432/fax");
  EXPECT_EQ(redacted("postgresql://fax@db/fax"), "postgresql://fax@db/fax");
  EXPECT_EQ(redacted("postgresql://db/fax?user=a@b"), "postgresql://db/fax?user=a@b");
  EXPECT_EQ(redacted("postgresql://fax:p@ss@db/fax"), "postgresql://fax:***@db/fax");
  EXPECT_EQ(redacted("postgresql://fax:a?b@db/fax"), "postgresql://fax:***@db/fax");  // as libpq reads it
  EXPECT_EQ(redacted("postgresql://fax:a#b@db:5432/fax"), "postgresql://fax:***@db:5432/fax");
  EXPECT_EQ(redacted("postgresql:///fax?host=/run/postgresql"), "postgresql:///fax?host=/run/postgresql");
  EXPECT_EQ(redacted("postgresql://db/fax?user=fax&password=pw&sslmode=require"),
            "postgresql://db/fax?user=fax&password=***&sslmode=require");
}

}  // namespace
