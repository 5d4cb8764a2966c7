// sqlite_job_store_test.cpp — what the SQLite store adds to the conformance suite
// (job_store_test.cpp): the file in WAL mode under its schema version, migrations from older
// files, and a writer killed mid-transaction leaving whole messages only.
#include "queue/sqlite_job_store.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "job_store_fixtures.hpp"
#include "temp_dir.hpp"

namespace {

using queue::JobStore;
using queue::NewMessage;
using queue::NewRecipient;
using queue::SqliteJobStore;
using queue::StoreErrc;
using queue_test::enqueue;
using queue_test::k1630;
using queue_test::message;
using queue_test::recipient;
using queue_test::sql_scalar;
using queue_test::TempDir;

class SqliteJobStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteJobStore> open_store() {
    queue::StoreOptions opt;
    opt.clock = [this] { return clock; };
    auto s = SqliteJobStore::open(db_path(), opt);
    if (!s) ADD_FAILURE() << s.error().message;
    return s ? std::move(*s) : nullptr;
  }
  std::string db_path() const { return tmp / "faxbridge.db"; }

  TempDir tmp;
  int64_t clock = k1630;
};

TEST_F(SqliteJobStoreTest, OpenCreatesTheSchemaInWalMode) {
  { auto s = open_store(); }
  EXPECT_EQ(sql_scalar(db_path(), "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(sql_scalar(db_path(), "PRAGMA user_version"), std::to_string(queue::kSchemaVersion));
  EXPECT_EQ(sql_scalar(db_path(),
                       "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema "
                       "WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name)"),
            "accounting,channel_grants,deliveries,events,jobs,messages,webhook_events");
  auto again = SqliteJobStore::open(db_path());  // an existing, current schema is left alone
  ASSERT_TRUE(again) << again.error().message;
}

// One node uses a SQLite file: whoever opens it leads (JobStore::lead), and shares no documents.
TEST_F(SqliteJobStoreTest, EveryInstanceLeadsAndNoneSharesDocuments) {
  auto a = open_store();
  auto b = open_store();
  EXPECT_TRUE(a->lead().value());
  EXPECT_TRUE(b->lead().value());
  EXPECT_FALSE(a->shares_documents());
}

TEST_F(SqliteJobStoreTest, OpenRefusesASchemaFromTheFuture) {
  { auto s = open_store(); }
  sql_scalar(db_path(), "PRAGMA user_version = 99");
  auto s = SqliteJobStore::open(db_path());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("schema version 99"), std::string::npos) << s.error().message;
}

TEST_F(SqliteJobStoreTest, OpenNamesTheFileItCannotOpen) {
  auto s = SqliteJobStore::open(tmp / "no/such/dir/x.db");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, StoreErrc::db);
  EXPECT_NE(s.error().message.find("open " + tmp / "no/such/dir/x.db"), std::string::npos)
      << s.error().message;
}

// The child enqueues messages with 1..3 recipients as fast as it can and reports each id
// once enqueue_message has returned (the moment SMTP would say 250); it is SIGKILLed at a
// random moment. Afterwards every reported message is there, and every message there has
// all its jobs (its `size` says how many): never a message with some of its recipients.
void enqueue_until_killed(const std::string& path, int round, int report_fd) {
  auto s = SqliteJobStore::open(path);
  if (!s) _exit(2);
  for (int i = 0;; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "%08x%08x", unsigned(round), unsigned(i));
    int n = 1 + i % 3;
    NewMessage m = message(id);
    m.size = n;
    std::vector<NewRecipient> rcpts(size_t(n), recipient("+12025550100"));
    if (!(*s)->enqueue_message(m, rcpts)) _exit(3);
    std::string line = std::string(id) + "\n";
    if (write(report_fd, line.data(), line.size()) != ssize_t(line.size())) _exit(4);
  }
}

TEST_F(SqliteJobStoreTest, AKilledWriterLeavesWholeMessagesOnly) {
  std::mt19937 rng(std::random_device{}());
  std::set<std::string> acknowledged;
  for (int round = 0; round < 6; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      enqueue_until_killed(db_path(), round, fds[1]);
    }
    close(fds[1]);
    // Killed at a random moment once it has committed something (waited for, not slept for:
    // under load its first commit may take a while).
    std::string reported;
    queue_test::read_from(fds[0], reported, true);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 200));
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child stopped by itself: " << WEXITSTATUS(status);
    queue_test::read_from(fds[0], reported);
    close(fds[0]);
    std::istringstream lines(reported);
    for (std::string id; std::getline(lines, id);) acknowledged.insert(id);
  }
  ASSERT_FALSE(acknowledged.empty()) << "the child never committed anything";
  RecordProperty("acknowledged", int(acknowledged.size()));

  auto s = open_store();  // recovers the WAL
  EXPECT_EQ(sql_scalar(db_path(), "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(sql_scalar(db_path(), "PRAGMA foreign_key_check"), "<none>");
  EXPECT_EQ(sql_scalar(db_path(),
                       "SELECT count(*) FROM messages m WHERE m.size != "
                       "(SELECT count(*) FROM jobs j WHERE j.message_id = m.id)"),
            "0");
  EXPECT_EQ(sql_scalar(db_path(),
                       "SELECT count(*) FROM jobs j WHERE NOT EXISTS "
                       "(SELECT 1 FROM events e WHERE e.job_id = j.id)"),
            "0");
  for (const auto& id : acknowledged) EXPECT_TRUE(s->message(id)) << "acknowledged message " << id << " lost";
  EXPECT_TRUE(s->enqueue_message(message("ffffffffffffffff"), {recipient("+12025550100")}));
}

TEST_F(SqliteJobStoreTest, AVersion1DatabaseIsMigrated) {
  {
    auto s = open_store();
    ASSERT_TRUE(s->create_inbound({"+15550100", std::nullopt, ""}));
    enqueue(*s, "000000000000000a", 1);
  }
  for (const char* sql : {"DROP TRIGGER webhook_on_create", "DROP TRIGGER webhook_on_state",
                          "DROP TABLE webhook_events", "ALTER TABLE messages DROP COLUMN webhook_url"})
    sql_scalar(db_path(), sql);
  for (const char* col : {"remote_ident", "bad_rows", "caller_name", "referred_by", "bit_rate", "ecm", "duration",
                          "outcome", "reported", "priority", "sender", "media", "detected_by", "owner", "lease_until",
                          "attempt", "not_before", "routed_by"})
    sql_scalar(db_path(), std::string("ALTER TABLE jobs DROP COLUMN ") + col);
  for (const char* col : {"body_8bit", "smtputf8", "owner", "lease_until"})
    sql_scalar(db_path(), std::string("ALTER TABLE messages DROP COLUMN ") + col);
  sql_scalar(db_path(), "DROP INDEX jobs_by_updated");
  sql_scalar(db_path(), "DROP TABLE deliveries");
  sql_scalar(db_path(), "DROP TABLE channel_grants");
  sql_scalar(db_path(), "DROP TABLE accounting");
  sql_scalar(db_path(), "PRAGMA user_version = 1");
  auto s = open_store();
  ASSERT_TRUE(s);
  EXPECT_EQ(sql_scalar(db_path(), "PRAGMA user_version"), std::to_string(queue::kSchemaVersion));
  auto j = s->job(1);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->bad_rows, 0);
  EXPECT_FALSE(j->remote_ident);
  EXPECT_EQ(s->job(2)->sender, "alice@example.com");  // v5 takes it from the message
  EXPECT_EQ(s->job(2)->priority, 0);
  EXPECT_FALSE(s->message("000000000000000a")->body_8bit);  // v9: nothing was declared
  EXPECT_FALSE(s->job(2)->media);  // v6
  EXPECT_FALSE(s->job(2)->owner);  // v7
  EXPECT_EQ(s->job(2)->attempt, 0);
}


}  // namespace
