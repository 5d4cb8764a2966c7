// spool_test.cpp — the spool keeps exactly the bytes it was given, leaves nothing behind
// for a message that was not committed, and never hands out the same id twice.
#include "queue/spool.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using queue::Spool;
using queue_test::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

size_t count_files(const std::string& dir) {
  return size_t(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(spool.create_dirs()) << spool.create_dirs().error().message; }
  std::string incoming() const { return tmp / "spool/incoming"; }
  std::string msg() const { return tmp / "spool/msg"; }

  TempDir tmp;
  Spool spool{tmp / "spool"};
};

TEST_F(SpoolTest, CreateDirsMakesTheLayoutAndIsIdempotent) {
  for (const char* sub : {"incoming", "msg", "fax"})
    EXPECT_TRUE(fs::is_directory(tmp / "spool/" + sub)) << sub;
  struct stat st {};
  ASSERT_EQ(::stat(msg().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777 & ~0750, 0u) << "no access for others";
  EXPECT_TRUE(spool.create_dirs());
}

TEST_F(SpoolTest, CreateDirsFailsOverAFile) {
  std::ofstream(tmp / "file") << "x";
  auto r = Spool(tmp / "file").create_dirs();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("file"), std::string::npos) << r.error().message;
}

TEST_F(SpoolTest, CommitKeepsTheExactBytesUnderMsg) {
  // Binary, NULs, CRLF, and more than the write buffer, in odd-sized chunks.
  std::string body = "Subject: fax\r\n\r\n";
  for (int i = 0; i < 300000; ++i) body += char(i * 7 + i / 256);
  auto w = spool.begin_message();
  ASSERT_TRUE(w) << w.error().message;
  for (size_t pos = 0; pos < body.size(); pos += 1 + pos % 90001) {
    ASSERT_TRUE(w->append(std::string_view(body).substr(pos, 1 + pos % 90001)));
  }
  EXPECT_EQ(w->size(), body.size());
  auto path = w->commit();
  ASSERT_TRUE(path) << path.error().message;
  EXPECT_EQ(*path, spool.message_path(w->id()));
  EXPECT_EQ(*path, tmp / "spool/msg/" + w->id() + ".eml");
  EXPECT_EQ(slurp(*path), body);
  EXPECT_EQ(count_files(incoming()), 0u);
}

TEST_F(SpoolTest, GroupCommitRenamesNowAndSyncsOnce) {
  auto a = spool.begin_message(), b = spool.begin_message();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->append("first\r\n") && b->append("second\r\n"));
  auto pa = a->commit_unsynced(), pb = b->commit_unsynced();
  ASSERT_TRUE(pa && pb);
  EXPECT_EQ(slurp(*pa), "first\r\n");
  EXPECT_EQ(slurp(*pb), "second\r\n");
  EXPECT_EQ(count_files(incoming()), 0u);
  EXPECT_FALSE(a->commit_unsynced());  // finished: a second commit is refused
  EXPECT_TRUE(spool.sync());
  Spool missing{tmp / "no-such-spool"};
  auto bad = missing.sync();
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("no-such-spool"), std::string::npos);
}

TEST_F(SpoolTest, AnEmptyBodyCommitsAnEmptyFile) {
  auto w = spool.begin_message();
  ASSERT_TRUE(w);
  auto path = w->commit();
  ASSERT_TRUE(path);
  EXPECT_TRUE(fs::exists(*path));
  EXPECT_EQ(fs::file_size(*path), 0u);
}

TEST_F(SpoolTest, TheBodyIsInIncomingUntilCommitted) {
  auto w = spool.begin_message();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append("hello"));
  EXPECT_TRUE(fs::exists(incoming() + "/" + w->id() + ".tmp"));
  EXPECT_EQ(count_files(msg()), 0u);
}

TEST_F(SpoolTest, AbortLeavesNothing) {
  auto w = spool.begin_message();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append("partial body"));
  w->abort();
  EXPECT_EQ(count_files(incoming()), 0u);
  EXPECT_EQ(count_files(msg()), 0u);
  EXPECT_FALSE(w->append("more"));
  EXPECT_FALSE(w->commit());
  EXPECT_EQ(count_files(msg()), 0u);
}

TEST_F(SpoolTest, DestroyingAnUncommittedWriterLeavesNothing) {
  {
    auto w = spool.begin_message();
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->append(std::string(200000, 'x')));  // some of it already written out
  }
  EXPECT_EQ(count_files(incoming()), 0u);
  EXPECT_EQ(count_files(msg()), 0u);
}

TEST_F(SpoolTest, DestroyingACommittedWriterKeepsTheMessage) {
  std::string path;
  {
    auto w = spool.begin_message();
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->append("kept"));
    auto p = w->commit();
    ASSERT_TRUE(p);
    path = *p;
  }
  EXPECT_EQ(slurp(path), "kept");
}

TEST_F(SpoolTest, CommitTwiceIsRefused) {
  auto w = spool.begin_message();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->commit());
  auto again = w->commit();
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("already committed"), std::string::npos);
  EXPECT_FALSE(w->append("late"));
  EXPECT_EQ(count_files(msg()), 1u);
}

TEST_F(SpoolTest, AMovedWriterOwnsTheFileOnce) {
  auto w = spool.begin_message();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append("moved "));
  queue::SpoolWriter moved(std::move(*w));
  ASSERT_TRUE(moved.append("body"));
  auto p = moved.commit();
  ASSERT_TRUE(p);
  EXPECT_EQ(slurp(*p), "moved body");
}

TEST_F(SpoolTest, CommitNeverReplacesAnExistingMessage) {
  auto w = spool.begin_message();
  ASSERT_TRUE(w);
  std::ofstream(spool.message_path(w->id())) << "older message";  // an id collision, forced
  ASSERT_TRUE(w->append("newer"));
  auto p = w->commit();
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().errnum, EEXIST);
  EXPECT_EQ(slurp(spool.message_path(w->id())), "older message");
  EXPECT_EQ(count_files(incoming()), 0u);
}

TEST_F(SpoolTest, BeginWithoutTheDirectoriesIsAnError) {
  Spool missing(tmp / "nowhere");
  auto w = missing.begin_message();
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().errnum, ENOENT);
  EXPECT_NE(w.error().message.find("nowhere/incoming"), std::string::npos) << w.error().message;
}

TEST_F(SpoolTest, RecoverRemovesOnlyLeftoverTmpFiles) {
  {
    auto committed = spool.begin_message();
    ASSERT_TRUE(committed && committed->commit());
  }
  // What a crash leaves: temporaries of sessions that never got their 250.
  std::ofstream(incoming() + "/0123456789abcdef.tmp") << "half a message";
  std::ofstream(incoming() + "/fedcba9876543210.tmp");
  std::ofstream(incoming() + "/README") << "not ours";
  fs::create_directory(incoming() + "/dir.tmp");
  auto n = spool.recover();
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 2);
  EXPECT_FALSE(fs::exists(incoming() + "/0123456789abcdef.tmp"));
  EXPECT_TRUE(fs::exists(incoming() + "/README"));
  EXPECT_TRUE(fs::exists(incoming() + "/dir.tmp"));
  EXPECT_EQ(count_files(msg()), 1u);
  EXPECT_EQ(*spool.recover(), 0);
}

TEST_F(SpoolTest, RecoverRemovesWhatACrashCutOffBeforeItsRename) {
  // A kill -9 while a received fax, a rendered fax or an outgoing mail was being written.
  const std::string sp = tmp / "spool";
  std::ofstream(sp + "/in/2.tif.tmp-17535") << "II*";
  std::ofstream(sp + "/fax/7.tif.tmp-4") << "II*";
  std::ofstream(sp + "/out/3.eml.tmp") << "From:";
  std::ofstream(sp + "/archive/9.pdf.tmp-123") << "%PDF";
  std::ofstream(sp + "/fax/8.tif.jail-99") << "II*";
  std::ofstream(sp + "/fax/0123456789abcdef.render.tif") << "II*";
  std::ofstream(sp + "/archive/4.pdf.mmr-77.tif") << "II*";
  std::ofstream(sp + "/out/4.pdf.pages-78.tif") << "II*";
  // Finished files, and names that only look alike, stay.
  std::ofstream(sp + "/in/2.tif") << "II*";
  std::ofstream(sp + "/in/5.tif.tmp-") << "x";
  std::ofstream(sp + "/in/5.tif.tmp-12a") << "x";
  std::ofstream(sp + "/out/3.eml") << "From:";
  std::ofstream(sp + "/fax/8.tif.jail-") << "x";
  std::ofstream(sp + "/archive/4.pdf.mmr-.tif") << "x";
  std::ofstream(sp + "/fax/8.tif") << "x";
  auto n = spool.recover();
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 8);
  EXPECT_FALSE(fs::exists(sp + "/in/2.tif.tmp-17535"));
  EXPECT_FALSE(fs::exists(sp + "/fax/8.tif.jail-99"));
  EXPECT_FALSE(fs::exists(sp + "/fax/7.tif.tmp-4"));
  EXPECT_FALSE(fs::exists(sp + "/out/3.eml.tmp"));
  EXPECT_FALSE(fs::exists(sp + "/archive/9.pdf.tmp-123"));
  EXPECT_FALSE(fs::exists(sp + "/fax/0123456789abcdef.render.tif"));
  EXPECT_FALSE(fs::exists(sp + "/archive/4.pdf.mmr-77.tif"));
  EXPECT_FALSE(fs::exists(sp + "/out/4.pdf.pages-78.tif"));
  for (const char* kept : {"/in/2.tif", "/in/5.tif.tmp-", "/in/5.tif.tmp-12a", "/out/3.eml", "/fax/8.tif.jail-",
                           "/archive/4.pdf.mmr-.tif", "/fax/8.tif"})
    EXPECT_TRUE(fs::exists(sp + kept)) << kept;
}

TEST_F(SpoolTest, RecoverOfASpoolFromBeforeTheReceivedDirectoriesWorks) {
  for (const char* sub : {"fax", "in", "out", "archive"}) fs::remove(tmp / (std::string("spool/") + sub));
  std::ofstream(incoming() + "/0123456789abcdef.tmp");
  auto n = spool.recover();
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 1);
}

TEST_F(SpoolTest, RecoverOfAMissingSpoolIsAnError) {
  auto n = Spool(tmp / "nowhere").recover();
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().errnum, ENOENT);
}

TEST_F(SpoolTest, ListMessagesNamesTheCommittedOnes) {
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto w = spool.begin_message();
    ASSERT_TRUE(w && w->commit());
    ids.insert(w->id());
  }
  auto open = spool.begin_message();  // not committed: not listed
  ASSERT_TRUE(open);
  std::ofstream(msg() + "/notes.txt") << "x";
  auto listed = spool.list_messages();
  ASSERT_TRUE(listed);
  EXPECT_EQ(*listed, std::vector<std::string>(ids.begin(), ids.end()));
}

TEST_F(SpoolTest, RemoveMessageIsIdempotentAndRefusesPaths) {
  auto w = spool.begin_message();
  ASSERT_TRUE(w && w->commit());
  ASSERT_TRUE(spool.remove_message(w->id()));
  EXPECT_FALSE(fs::exists(spool.message_path(w->id())));
  EXPECT_TRUE(spool.remove_message(w->id())) << "already gone is success";
  std::ofstream(tmp / "victim") << "x";
  for (std::string bad : {"../../victim", "", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0"}) {
    auto r = spool.remove_message(bad);
    EXPECT_FALSE(r) << bad;
  }
  EXPECT_TRUE(fs::exists(tmp / "victim"));
}

TEST_F(SpoolTest, FaxAndMessagePaths) {
  EXPECT_EQ(spool.fax_path(42), tmp / "spool/fax/42.tif");
  EXPECT_EQ(spool.message_path("0123456789abcdef"), tmp / "spool/msg/0123456789abcdef.eml");
}

TEST(MessageId, SixteenLowercaseHexAndUniqueOver10000) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    auto id = queue::new_message_id();
    ASSERT_TRUE(id) << id.error().message;
    ASSERT_TRUE(queue::is_message_id(*id)) << *id;
    ASSERT_TRUE(seen.insert(*id).second) << "duplicate " << *id;
  }
}

TEST(MessageId, ValidatesExactlyTheFormat) {
  EXPECT_TRUE(queue::is_message_id("0123456789abcdef"));
  EXPECT_FALSE(queue::is_message_id("0123456789abcdeg"));
  EXPECT_FALSE(queue::is_message_id("0123456789abcde/"));
  EXPECT_FALSE(queue::is_message_id(std::string_view("0123456789abcde\0", 16)));
}

TEST_F(SpoolTest, WritersGetDistinctIds) {
  std::set<std::string> ids;
  std::vector<queue::SpoolWriter> open;
  for (int i = 0; i < 100; ++i) {
    auto w = spool.begin_message();
    ASSERT_TRUE(w);
    ids.insert(w->id());
    open.push_back(std::move(*w));
  }
  EXPECT_EQ(ids.size(), 100u);
  EXPECT_EQ(count_files(incoming()), 100u);
  open.clear();
  EXPECT_EQ(count_files(incoming()), 0u);
}

}  // namespace
