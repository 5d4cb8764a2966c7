// job_store_fixtures.hpp — what the job store tests share: a message and a recipient as SMTP
// would enqueue them, and a plain-SQLite reader for assertions on the file itself.
#pragma once

#include <string>

#include <sqlite3.h>

#include "queue/job_store.hpp"

namespace queue_test {

using queue::NewMessage;
using queue::NewRecipient;

constexpr int64_t k1630 = 1795365000;  // 2026-11-22T16:30:00Z

// Reads the file with plain SQLite, as an operator's sqlite3 shell would.
inline std::string sql_scalar(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  sqlite3_stmt* s = nullptr;
  std::string out = "<error>";
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      auto t = sqlite3_column_text(s, 0);
      out = t ? reinterpret_cast<const char*>(t) : "<null>";
    } else if (rc == SQLITE_DONE) {
      out = "<none>";
    }
  }
  sqlite3_finalize(s);
  sqlite3_close_v2(db);
  return out;
}

inline NewMessage message(const std::string& id) {
  NewMessage m;
  m.id = id;
  m.spool_path = "/var/spool/msg/" + id + ".eml";
  m.sender = "alice@example.com";
  m.ret = queue::Ret::hdrs;
  m.envid = "QQ314159+env";
  m.arrived = k1630 - 5;
  m.size = 12345;
  m.client = "192.0.2.7";
  m.auth_user = "alice";
  return m;
}

inline NewRecipient recipient(const std::string& number) {
  NewRecipient r;
  r.recipient = "FAX=" + number + "@fax.example.com";
  r.number = number;
  r.caller = "+15550100";
  return r;
}

}  // namespace queue_test
