// privileges_test.cpp — app/privileges.hpp: paths relative to the data directory, the
// directories no daemon may own, and taking ownership without following links or taking a
// planted hard link. (Becoming the user is shown end to end by tests/app/no_root_test.py:
// it changes the whole test process.)
#include "app/privileges.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace fs = std::filesystem;

namespace {

struct TempTree {
  fs::path dir;
  TempTree() {
    std::string t = (fs::temp_directory_path() / "fb-priv-XXXXXX").string();
    dir = ::mkdtemp(t.data());
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

struct stat stat_of(const fs::path& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st;
}

}  // namespace

TEST(Privileges, PathsUnderTheDataDirectoryBecomeRelative) {
  const fs::path data = "/srv/fax/var";
  EXPECT_EQ(app::relative_to("/srv/fax/var", data), ".");
  EXPECT_EQ(app::relative_to("/srv/fax/var/", data), ".");
  EXPECT_EQ(app::relative_to("/srv/fax/var/spool", data), "spool");
  EXPECT_EQ(app::relative_to("/srv/fax/var/./mail/../mail/x", data), "mail/x");
  EXPECT_EQ(app::relative_to("/srv/fax/var2/spool", data), "/srv/fax/var2/spool");  // a sibling, not inside
  EXPECT_EQ(app::relative_to("/srv/fax/cert.pem", data), "/srv/fax/cert.pem");
  EXPECT_EQ(app::relative_to("/etc/ssl/key.pem", data), "/etc/ssl/key.pem");
  // Relative paths mean the working directory of the call.
  const fs::path cwd = fs::current_path();
  EXPECT_EQ(app::relative_to("var/spool", cwd / "var"), "spool");
  EXPECT_EQ(app::relative_to("cert.pem", cwd / "var"), (cwd / "cert.pem").string());
}

TEST(Privileges, SystemDirectoriesAreNeverADataDirectory) {
  for (const char* d : {"/", "/var", "/var/", "/etc", "/usr", "/home", "/root", "/tmp", "/var/lib", "/usr/local",
                        "/usr/lib", "/etc/ssl", "/usr/share/fax", "/boot/x", "/proc/1"})
    EXPECT_TRUE(app::is_system_directory(d)) << d;
  TempTree t;
  fs::create_directory_symlink("/etc", t.dir / "etc-link");
  EXPECT_TRUE(app::is_system_directory(t.dir / "etc-link")) << "a link to /etc is /etc";
  EXPECT_TRUE(app::is_system_directory(t.dir / "etc-link/faxbridge"));
  for (const char* d : {"/var/lib/faxbridge", "/srv/fax", "/home/alice/faxbridge/var", "/tmp/x"})
    EXPECT_FALSE(app::is_system_directory(d)) << d;
}

TEST(Privileges, TakingOwnershipChangesOwnersButFollowsNoLinkAndTakesNoSecondName) {
  if (::geteuid() != 0) GTEST_SKIP() << "changing owners needs root";
  const auto nobody = app::find_account("nobody");
  ASSERT_TRUE(nobody);
  TempTree outside, data;
  // What a run as root left: files and a directory of root's.
  fs::create_directories(data.dir / "spool/fax");
  { std::ofstream(data.dir / "faxbridge.db") << "x"; }
  { std::ofstream(data.dir / "spool/fax/1.tif") << "II*"; }
  // A link out of the data directory, and a second name of a foreign file.
  { std::ofstream(outside.dir / "system.conf") << "secret"; }
  fs::create_symlink(outside.dir / "system.conf", data.dir / "link");
  fs::create_hard_link(outside.dir / "system.conf", data.dir / "hard");
  fs::create_directory_symlink(outside.dir, data.dir / "dirlink");
  // One rendering hard-linked as several jobs' pages: every name is here, so it is ours.
  fs::create_hard_link(data.dir / "spool/fax/1.tif", data.dir / "spool/fax/2.tif");
  const int changed = app::take_ownership(data.dir.string(), nobody->uid, nobody->gid);
  EXPECT_EQ(changed, 7);  // the directory, spool, spool/fax, the rendering, the store, both links
  for (const char* p : {"", "spool", "spool/fax", "spool/fax/1.tif", "spool/fax/2.tif", "faxbridge.db", "link",
                        "dirlink"}) {
    EXPECT_EQ(stat_of(data.dir / p).st_uid, nobody->uid) << p;
  }
  EXPECT_EQ(stat_of(outside.dir / "system.conf").st_uid, 0u) << "a link was followed or a second name taken";
  EXPECT_EQ(stat_of(outside.dir).st_uid, 0u) << "a directory link was followed";
  EXPECT_EQ(stat_of(data.dir / "hard").st_uid, 0u);
  EXPECT_EQ(app::take_ownership(data.dir.string(), nobody->uid, nobody->gid), 0);  // nothing left to do
}

TEST(Privileges, AMissingDirectoryIsAnErrorNamingIt) {
  try {
    (void)app::take_ownership("/nonexistent/faxbridge", 0, 0);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/faxbridge"), std::string::npos) << e.what();
  }
}

TEST(Privileges, AnUnknownAccountIsNone) {
  EXPECT_FALSE(app::find_account("no-such-user-faxbridge"));
  const auto root = app::find_account("root");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->uid, 0u);
}
