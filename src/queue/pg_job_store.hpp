// pg_job_store.hpp — the job store in PostgreSQL: what several nodes share (issue 17,
// ARCHITECTURE.md). The operations are SqlJobStore's (sql_job_store.hpp); this is the
// connection, the schema and its version.
//
// STORAGE: the tables of SqliteJobStore's schema at kSchemaVersion, in the connection's current
// schema (search_path), with 64-bit integers throughout and identity ids that are never reused;
// and documents (name, bytea): the files a job needs, which any node may have to read
// (JobStore::shares_documents), the accepted message committed with its row.
// The webhook announcements are written by a trigger in the statement's own transaction, as in
// SQLite. The version is kept in the table schema_version.
// START: every node opens the store itself. Creating or migrating the schema runs in one
// transaction under an advisory lock, so when several nodes start together the first creates
// it and the others wait, then find it current (however long it takes, up to a minute: a
// wait that runs into the lock timeout is tried again). A schema newer than this build is refused.
// DURABILITY and WRITERS: postgres.hpp (synchronous_commit on; writers serialized).
// PARAMETERS: [store] url = "postgresql://user:password@host:port/db?..." (any libpq URI);
// StoreOptions::busy_timeout_ms bounds every lock wait (lock_timeout).
#pragma once

#include <memory>
#include <string>

#include "queue/sql_job_store.hpp"

namespace queue {

class PgJobStore final : public SqlJobStore {
 public:
  [[nodiscard]] static fb::Result<std::unique_ptr<PgJobStore>, StoreError> open(const std::string& url,
                                                                                StoreOptions options = {});

 private:
  using SqlJobStore::SqlJobStore;
};

}  // namespace queue
