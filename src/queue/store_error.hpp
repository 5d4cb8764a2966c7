// store_error.hpp — what the job store reports when an operation does not happen.
//
// Every error names the operation and, for database failures, carries sqlite3_errmsg, so a
// log line alone says what failed and why. The code lets callers choose a reply without
// parsing the sentence (the HTTP API maps not_found to 404 and `faxbridge job` to exit 1;
// busy is worth retrying; db is a disk or database fault).
#pragma once

#include <string>

#include "core/result.hpp"

namespace queue {

enum class StoreErrc {
  db,         // SQLite failed (I/O error, disk full, corrupt file, ...)
  busy,       // another connection held the lock longer than the busy timeout
  not_found,  // no job or message with that id
  invalid,    // the request itself is wrong (unknown state, bad NOTIFY, no recipients, ...)
  conflict,   // the request is valid but not now (the job is final, the message id exists)
};

struct StoreError {
  StoreErrc code;
  std::string message;
};

using StoreStatus = fb::Result<fb::Unit, StoreError>;

}  // namespace queue
