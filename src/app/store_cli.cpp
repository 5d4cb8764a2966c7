// store_cli.cpp — `faxbridge store copy` (store_cli.hpp).
#include "app/store_cli.hpp"

#include <filesystem>
#include <iostream>

#include "queue/job_store.hpp"
#include "queue/postgres.hpp"
#include "queue/sqlite.hpp"
#include "queue/store_copy.hpp"
#include "queue/user_store.hpp"

namespace app {

namespace {

namespace fs = std::filesystem;

int fail(const std::string& why) {
  std::cerr << "faxbridge store copy: " << why << "\n";
  return 1;
}

}  // namespace

int cmd_store_copy(const std::string& from, const std::string& to, const std::optional<std::string>& spool) {
  if (from.rfind("sqlite:", 0) != 0) return fail("--from " + from + ": a SQLite store is copied (sqlite:PATH)");
  if (!queue::is_postgresql_url(to)) return fail("--to: a PostgreSQL store is copied into (postgresql://...)");
  const std::string path = from.substr(7);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return fail("--from " + from + ": no such database file");
  const std::string spool_dir =
      fs::absolute(spool ? fs::path(*spool) : fs::path(path).parent_path() / "spool").lexically_normal().string();
  if (!fs::is_directory(spool_dir, ec)) return fail("the spool " + spool_dir + " is not a directory (--spool DIR)");
  // Both at the current schema (the source migrated as its node would at start), users' tables too.
  for (const std::string& location : {path, to}) {
    if (auto s = queue::open_job_store(location); !s) return fail(s.error().message);
    if (auto u = queue::UserStore::open(location); !u) return fail(u.error().message);
  }
  auto source = queue::sqlite::open(path);
  if (!source) return fail(source.error().message);
  auto src = queue::sqlite::connection(std::move(*source));
  auto target = queue::postgres::connect(to, 5000);
  if (!target) return fail(target.error().message);
  const std::string data_dir = fs::absolute(fs::path(path)).parent_path().lexically_normal().string();
  auto report = queue::copy_store(*src, **target, spool_dir, data_dir);
  if (!report) return fail(report.error().message + " (nothing was written to the target)");
  std::cout << "copied into " << queue::postgres::redacted(to) << ":";
  for (const auto& [table, n] : report->rows) std::cout << " " << n << " " << table << ",";
  std::cout << " " << report->documents << " documents\n";
  for (const auto& [old, id] : report->jobs) {
    if (old != id) std::cout << "job " << old << " is now job " << id << "\n";
  }
  for (const auto& m : report->missing) std::cout << "not in the spool: " << m << "\n";
  for (const auto& u : report->users_kept) std::cout << "API user " << u << ": the target's kept\n";
  return 0;
}

}  // namespace app
