// job_store_fixtures.hpp — what the job store tests share: a message and a recipient as SMTP
// would enqueue them, and a plain-SQLite reader for assertions on the file itself.
#pragma once

#include <string>
#include <vector>

#include <sqlite3.h>
#include <unistd.h>

#include <gtest/gtest.h>

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

// One message with `n` recipients (+12025550100, +12025550101, ...); returns the job ids.
inline std::vector<int64_t> enqueue(queue::JobStore& s, const std::string& msg_id, int n) {
  std::vector<NewRecipient> rcpts;
  for (int i = 0; i < n; ++i) rcpts.push_back(recipient("+1202555010" + std::to_string(i)));
  auto ids = s.enqueue_message(message(msg_id), rcpts);
  if (!ids) ADD_FAILURE() << ids.error().message;
  return ids ? *ids : std::vector<int64_t>{};
}

// Reads `fd` until end of file (`stop_at_line`: until the first whole line) and appends to `out`.
inline void read_from(int fd, std::string& out, bool stop_at_line = false) {
  char buf[4096];
  for (ssize_t n; (!stop_at_line || out.find('\n') == std::string::npos) && (n = read(fd, buf, sizeof buf)) > 0;)
    out.append(buf, size_t(n));
}

}  // namespace queue_test
