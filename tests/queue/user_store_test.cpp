// user_store_test.cpp — API users and token hashes: created with their first token, found by
// hash only, updated, listed, revoked with every token; bad names and mailboxes refused.
#include "queue/user_store.hpp"

#include <gtest/gtest.h>

#include "queue/job_store.hpp"
#include "job_store_fixtures.hpp"
#include "pg_server.hpp"
#include "temp_dir.hpp"

namespace {

using queue::StoreErrc;
using queue::UserStore;
using queue_test::TempDir;

const std::string kHashA(64, 'a'), kHashB(64, 'b'), kHashC(64, 'c');

// Where the store of a test's directory is: its SQLite file, or a PostgreSQL schema of its own.
using Location = std::string (*)(const TempDir&);
[[maybe_unused]] std::string sqlite_file(const TempDir& dir) { return dir / "fb.db"; }
[[maybe_unused]] std::string postgresql_schema(const TempDir& dir) {
  auto* pg = queue_test::PgServer::get();
  return pg ? pg->url(pg->schema_for(dir.path())) : "postgresql://no-test-server.invalid/";
}

class UserStoreTest : public ::testing::TestWithParam<Location> {
 protected:
  std::string where() const { return GetParam()(dir); }
  TempDir dir;
};

TEST_P(UserStoreTest, ATokenFindsItsUserAndOnlyItsHashIsKept) {
  auto jobs = queue::open_job_store(where());  // beside the job store, in its database
  ASSERT_TRUE(jobs) << jobs.error().message;
  auto s = UserStore::open(where());
  ASSERT_TRUE(s) << s.error().message;
  auto secret = s->add_token("carol", false, {"carol@example.com"}, kHashA, "s1");
  ASSERT_TRUE(secret) << secret.error().message;
  EXPECT_EQ(*secret, "s1");
  auto u = s->find(kHashA);
  ASSERT_TRUE(u && *u);
  EXPECT_EQ((*u)->name, "carol");
  EXPECT_FALSE((*u)->admin);
  EXPECT_EQ((*u)->mailboxes, std::vector<std::string>{"carol@example.com"});
  EXPECT_FALSE(*s->find(kHashB));

  // A second token: the same user and secret, now an admin with two mailboxes.
  secret = s->add_token("carol", true, {"carol@example.com", "sales@example.com"}, kHashB, "s2");
  ASSERT_TRUE(secret);
  EXPECT_EQ(*secret, "s1");
  EXPECT_TRUE((*s->find(kHashA))->admin);
  EXPECT_EQ((*s->find(kHashB))->mailboxes.size(), 2u);
  EXPECT_EQ(s->add_token("dave", false, {}, kHashB, "s3").error().code, StoreErrc::conflict);  // a known hash
  ASSERT_TRUE(s->add_token("dave", false, {}, kHashC, "s3"));

  auto list = s->list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(((*list)[0].name), "carol");
  EXPECT_EQ((*list)[0].tokens, 2);
  EXPECT_EQ((*list)[1].tokens, 1);
  EXPECT_TRUE((*list)[1].mailboxes.empty());

  ASSERT_TRUE(s->revoke("carol"));
  EXPECT_FALSE(*s->find(kHashA));
  EXPECT_FALSE(*s->find(kHashB));
  EXPECT_TRUE(*s->find(kHashC));
  EXPECT_EQ(s->revoke("carol").error().code, StoreErrc::not_found);

  // Reopened (a restart): still there.
  auto again = UserStore::open(where());
  ASSERT_TRUE(again);
  EXPECT_EQ((*again->find(kHashC))->name, "dave");
}

TEST_P(UserStoreTest, AWebhookHearsOfTheFaxesForItsUsersMailboxes) {
  auto s = UserStore::open(where());
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->add_token("erin", false, {"Erin@example.com", "sales@example.com"}, kHashA, "s1"));
  ASSERT_TRUE(s->add_token("finn", false, {"sales@example.com"}, kHashB, "s2"));  // no webhook: not told
  ASSERT_TRUE(s->set_webhook("erin", "https://hooks.example.com/erin"));
  EXPECT_EQ(s->set_webhook("nobody", "https://x.example").error().code, StoreErrc::not_found);
  auto t = s->webhook_targets({"erin@EXAMPLE.com"});  // mailboxes match whatever their case
  ASSERT_TRUE(t);
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ(((*t)[0].user), "erin");
  EXPECT_EQ(((*t)[0].url), "https://hooks.example.com/erin");
  EXPECT_EQ(s->webhook_targets({"sales@example.com", "erin@example.com"})->size(), 1u);  // once per user
  EXPECT_TRUE(s->webhook_targets({"other@example.com"})->empty());
  EXPECT_EQ((*s->list())[0].webhook_url, "https://hooks.example.com/erin");
  ASSERT_TRUE(s->set_webhook("erin", std::nullopt));
  EXPECT_TRUE(s->webhook_targets({"erin@example.com"})->empty());
}

#ifndef FB_TEST_POSTGRESQL
TEST(UserStore, AStoreMadeBeforeWebhooksGainsTheColumn) {
  TempDir dir;
  {
    auto s = UserStore::open(dir / "fb.db");
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->add_token("gail", false, {}, kHashA, "s1"));
  }
  queue_test::sql_scalar(dir / "fb.db", "ALTER TABLE api_users DROP COLUMN webhook_url");  // as an older version left it
  auto s = UserStore::open(dir / "fb.db");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->set_webhook("gail", "https://x.example/h"));
  EXPECT_EQ((*s->list())[0].webhook_url, "https://x.example/h");
}
#endif

TEST_P(UserStoreTest, BadNamesMailboxesAndHashesAreRefused) {
  auto s = UserStore::open(where());
  ASSERT_TRUE(s);
  for (const std::string& name : std::vector<std::string>{"", "a b", "x\n", std::string(65, 'n'), "semi;colon", "admin"}) {
    auto r = s->add_token(name, false, {}, kHashA, "s");
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, StoreErrc::invalid);
  }
  EXPECT_TRUE(s->add_token(std::string(64, 'n'), false, {}, kHashA, "s"));
  EXPECT_FALSE(s->add_token("u", false, {"no-at-sign"}, kHashB, "s"));
  EXPECT_FALSE(s->add_token("u", false, {"a@b@c"}, kHashB, "s"));
  EXPECT_FALSE(s->add_token("u", false, {"a b@c"}, kHashB, "s"));
  EXPECT_FALSE(s->add_token("u", false, std::vector<std::string>(17, "a@b"), kHashB, "s"));
  EXPECT_FALSE(s->add_token("u", false, {}, "short", "s"));
  EXPECT_TRUE(s->add_token("u", false, std::vector<std::string>(16, "a@b"), kHashB, "s"));
}

#ifdef FB_TEST_POSTGRESQL
INSTANTIATE_TEST_SUITE_P(Stores, UserStoreTest, ::testing::Values(&postgresql_schema),
#else
INSTANTIATE_TEST_SUITE_P(Stores, UserStoreTest, ::testing::Values(&sqlite_file),
#endif
                         [](const ::testing::TestParamInfo<Location>& i) {
                           return std::string(i.param == &sqlite_file ? "sqlite" : "postgresql");
                         });

}  // namespace
