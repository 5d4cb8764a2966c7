// store_paths_test.cpp — queue/store_paths.hpp: an older store's relative paths are rewritten
// once, a marked store is left alone.
#include "queue/store_paths.hpp"

#include <sqlite3.h>

#include <string>

#include <gtest/gtest.h>

#include "queue/job_store.hpp"
#include "temp_dir.hpp"

namespace {

using queue_test::TempDir;

std::string one(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  sqlite3_open(db.c_str(), &h);
  sqlite3_stmt* s = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

void exec(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  sqlite3_open(db.c_str(), &h);
  char* err = nullptr;
  sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  if (err) ADD_FAILURE() << err << " in " << sql;
  sqlite3_free(err);
  sqlite3_close(h);
}

}  // namespace

TEST(StorePaths, AnOlderStoresRelativePathsAreRewrittenOnce) {
  TempDir dir;
  const std::string db = dir / "faxbridge.db";
  {
    auto s = queue::open_job_store(db);
    ASSERT_TRUE(s) << s.error().message;
    queue::NewMessage m;
    m.id = "0123456789abcdef";
    m.spool_path = "var/spool/msg/0123456789abcdef.eml";  // as a version run from the checkout wrote it
    m.sender = "alice@example.com";
    queue::NewRecipient r;
    r.recipient = "FAX=+15550100@fax.example.com";
    r.number = "+15550100";
    auto ids = (*s)->enqueue_message(m, {r});
    ASSERT_TRUE(ids) << ids.error().message;
    exec(db, "INSERT INTO deliveries (job_id, recipient, kind, state, mail_path, message_id, created, updated) "
             "VALUES (" + std::to_string(ids->front()) + ", 'a@example.com', 'report', 'pending', "
             "'var/spool/out/1.eml', 'x@y', 1, 1)");
  }
  auto rebase = [](const std::string& p) { return p.rfind("var/", 0) == 0 ? p.substr(4) : p; };
  auto n = queue::rebase_stored_paths(db, rebase);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(one(db, "SELECT spool_path FROM messages"), "spool/msg/0123456789abcdef.eml");
  EXPECT_EQ(one(db, "SELECT mail_path FROM deliveries"), "spool/out/1.eml");
  // Marked: a second start rewrites nothing, though the function would.
  auto again = queue::rebase_stored_paths(db, [](const std::string& p) { return "x/" + p; });
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(one(db, "SELECT spool_path FROM messages"), "spool/msg/0123456789abcdef.eml");
}

TEST(StorePaths, ANewStoreIsOnlyMarked) {
  TempDir dir;
  const std::string db = dir / "faxbridge.db";
  ASSERT_TRUE(queue::open_job_store(db));
  auto n = queue::rebase_stored_paths(db, [](const std::string& p) { return p; });
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(one(db, "SELECT value FROM store_meta WHERE key = 'paths'"), "data_dir");
  // And the job store still opens it (the table is no part of its schema).
  EXPECT_TRUE(queue::open_job_store(db));
}
