// sqlite_job_store.hpp — the job store in one SQLite file: the embedded default. The operations
// are SqlJobStore's (sql_job_store.hpp); this is the file, its schema and its migrations.
//
// STORAGE: SQLite in WAL mode with synchronous=FULL (a COMMIT is on disk when it returns),
// foreign keys on, a busy timeout for other connections (CLI, a second process). The schema
// is created and migrated by open() under PRAGMA user_version (kSchemaVersion), in one write
// transaction, so two processes opening a new file do not both create it. Writers are
// serialized by BEGIN IMMEDIATE.
// THREADS: one thread at a time per instance; several instances, in one process or several,
// may share one file.
// PARAMETERS: StoreOptions::busy_timeout_ms (default 5000).
#pragma once

#include <memory>
#include <string>

#include "queue/sql_job_store.hpp"

namespace queue {

class SqliteJobStore final : public SqlJobStore {
 public:
  [[nodiscard]] static fb::Result<std::unique_ptr<SqliteJobStore>, StoreError> open(const std::string& path,
                                                                                    StoreOptions options = {});

 private:
  using SqlJobStore::SqlJobStore;
};

}  // namespace queue
