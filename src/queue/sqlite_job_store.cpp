// sqlite_job_store.cpp — the SQLite file, its schema and its migrations (sqlite_job_store.hpp).
#include "queue/sqlite_job_store.hpp"

#include <array>

#include "queue/sqlite.hpp"

namespace queue {

namespace {

using sqlite::Stmt;
using sqlite::Tx;

// Version 1. AUTOINCREMENT so that a job id, once shown to a user or written in a DSN, never
// names another job later. STRICT so that a wrong type is an error rather than a silent
// conversion. The CHECKs repeat the C++ validation as a last line of defence for rows
// written by other tools.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE messages (
  id TEXT PRIMARY KEY NOT NULL,
  spool_path TEXT NOT NULL,
  sender TEXT NOT NULL,
  ret TEXT CHECK (ret IN ('FULL', 'HDRS')),
  envid TEXT,
  arrived INTEGER NOT NULL,
  size INTEGER NOT NULL,
  client TEXT NOT NULL,
  auth_user TEXT,
  state TEXT NOT NULL CHECK (state IN ('active', 'done'))
) STRICT;
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT REFERENCES messages(id),
  direction TEXT NOT NULL CHECK (direction IN ('out', 'in')),
  state TEXT NOT NULL CHECK (state IN ('queued', 'rendering', 'ready', 'sending', 'retry', 'done', 'failed',
                                       'cancelled', 'receiving', 'delivering')),
  number TEXT NOT NULL,
  subaddress TEXT,
  caller TEXT NOT NULL,
  pages INTEGER NOT NULL DEFAULT 0,
  pages_done INTEGER NOT NULL DEFAULT 0,
  retry_at INTEGER,
  error TEXT,
  notify TEXT,
  orcpt TEXT,
  recipient TEXT NOT NULL,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  tries INTEGER NOT NULL DEFAULT 0,
  dials INTEGER NOT NULL DEFAULT 0,
  CHECK (direction = 'in' OR message_id IS NOT NULL)
) STRICT;
CREATE INDEX jobs_by_message ON jobs(message_id);
CREATE INDEX jobs_by_state ON jobs(state, retry_at);
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL REFERENCES jobs(id),
  time INTEGER NOT NULL,
  text TEXT NOT NULL
) STRICT;
CREATE INDEX events_by_job ON events(job_id, id);
)sql";

// Version 2: what a fax call learned — the far end's station id (TSI/CSID) and the rows T.30
// reported lost, summed over the pages.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE jobs ADD COLUMN remote_ident TEXT;
ALTER TABLE jobs ADD COLUMN bad_rows INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 3: the OnRamp. What an inbound call said of itself (the caller's display name, an
// RFC 3892 Referred-By for Exchange UM partner mode) and how it went (rate, ECM, duration), and
// the deliveries of received faxes as mail: one row per mailbox, each with its own retry timer,
// so a fax is delivered to every mailbox exactly once and never forgotten.
constexpr const char* kSchemaV3 = R"sql(
ALTER TABLE jobs ADD COLUMN caller_name TEXT;
ALTER TABLE jobs ADD COLUMN referred_by TEXT;
ALTER TABLE jobs ADD COLUMN bit_rate INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN ecm INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN duration INTEGER NOT NULL DEFAULT 0;
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER NOT NULL REFERENCES jobs(id),
  recipient TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('mailbox', 'postmaster')),
  state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
  mail_path TEXT NOT NULL,
  message_id TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL
) STRICT;
CREATE INDEX deliveries_due ON deliveries(state, next_at);
CREATE INDEX deliveries_by_job ON deliveries(job_id);
)sql";

// Version 4: reporting to the sender. The outcome class of an outbound job's last call (for the
// DSN status code) and what has been reported of it (NULL, 'delayed', 'final'); deliveries may
// now be reports (DSN/MDN) to a mail sender, so the table is rebuilt with the wider CHECK.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE jobs ADD COLUMN outcome TEXT;
ALTER TABLE jobs ADD COLUMN reported TEXT CHECK (reported IN ('delayed', 'final'));
CREATE TABLE deliveries_v4 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER NOT NULL REFERENCES jobs(id),
  recipient TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('mailbox', 'postmaster', 'report')),
  state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
  mail_path TEXT NOT NULL,
  message_id TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL
) STRICT;
INSERT INTO deliveries_v4 SELECT * FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v4 RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries(state, next_at);
CREATE INDEX deliveries_by_job ON deliveries(job_id);
CREATE TABLE accounting (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('out', 'in')),
  job_id INTEGER NOT NULL,
  number TEXT NOT NULL,
  caller TEXT NOT NULL,
  trunk TEXT NOT NULL,
  media TEXT NOT NULL,
  pages INTEGER NOT NULL,
  pages_total INTEGER NOT NULL,
  bit_rate INTEGER NOT NULL,
  duration INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  sender TEXT NOT NULL,
  remote_ident TEXT
) STRICT;
)sql";

// v5: scheduling. Each outbound job's priority (from the mail) and its message's sender (fair
// share between senders), kept with the job so the dispatcher's query needs no join.
constexpr const char* kSchemaV5 = R"sql(
ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN sender TEXT;
UPDATE jobs SET sender = (SELECT sender FROM messages WHERE messages.id = jobs.message_id)
  WHERE message_id IS NOT NULL;
)sql";

// v6: calls on G.711 as well as T.38: what each job's last call carried and what made it a fax,
// in the job and in each accounting record.
constexpr const char* kSchemaV6 = R"sql(
ALTER TABLE jobs ADD COLUMN media TEXT;
ALTER TABLE jobs ADD COLUMN detected_by TEXT;
ALTER TABLE accounting ADD COLUMN detected_by TEXT;
)sql";

// v7: several nodes (issue 17). Who works on a job (owner), until when its claim holds
// (lease_until) and the number of its last claim (attempt: the fencing token of a call's record).
constexpr const char* kSchemaV7 = R"sql(
ALTER TABLE jobs ADD COLUMN owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until INTEGER;
ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
)sql";

// v8: mail for the postmaster (RFC 5321 §4.5.1) passed on as a delivery of no job: job_id may
// be NULL and kind 'forward'; the table is rebuilt for the wider CHECK.
constexpr const char* kSchemaV8 = R"sql(
CREATE TABLE deliveries_v8 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER REFERENCES jobs(id),
  recipient TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('mailbox', 'postmaster', 'report', 'forward')),
  state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
  mail_path TEXT NOT NULL,
  message_id TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  CHECK ((kind = 'forward') = (job_id IS NULL))
) STRICT;
INSERT INTO deliveries_v8 SELECT * FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v8 RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries(state, next_at);
CREATE INDEX deliveries_by_job ON deliveries(job_id);
)sql";

// v9 (issue 15): a mail delivery's tag, the secret part of its VERP envelope sender, so a
// bounce arriving after the delivery names it and no one can forge one for another; and what a
// message's MAIL FROM declared of its content (BODY=8BITMIME, SMTPUTF8), for its reports.
constexpr const char* kSchemaV9 = R"sql(
ALTER TABLE deliveries ADD COLUMN tag TEXT;
ALTER TABLE messages ADD COLUMN body_8bit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN smtputf8 INTEGER NOT NULL DEFAULT 0;
)sql";

// v10 (issue 16): an API submission's webhook, and its announcements. The triggers write one
// row when a job of such a message is created and one each time its state changes, in the
// statement's own transaction: every change is announced, in order, whatever code made it.
constexpr const char* kSchemaV10 = R"sql(
ALTER TABLE messages ADD COLUMN webhook_url TEXT;
CREATE TABLE webhook_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER NOT NULL REFERENCES jobs(id),
  event TEXT NOT NULL,
  state TEXT NOT NULL,
  time INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  updated INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX webhook_events_due ON webhook_events(status, next_at);
CREATE INDEX webhook_events_by_job ON webhook_events(job_id, id);
CREATE TRIGGER webhook_on_create AFTER INSERT ON jobs
  WHEN (SELECT webhook_url FROM messages WHERE id = NEW.message_id) IS NOT NULL
BEGIN
  INSERT INTO webhook_events (job_id, event, state, time) VALUES (NEW.id, 'job.' || NEW.state, NEW.state, NEW.updated);
END;
CREATE TRIGGER webhook_on_state AFTER UPDATE OF state ON jobs
  WHEN NEW.state IS NOT OLD.state AND (SELECT webhook_url FROM messages WHERE id = NEW.message_id) IS NOT NULL
BEGIN
  INSERT INTO webhook_events (job_id, event, state, time) VALUES (NEW.id, 'job.' || NEW.state, NEW.state, NEW.updated);
END;
)sql";

// v11 (issue 16): each call's node, final SIP status and per-page results (JSON: [{"page",
// "rows","bad_rows"}]), for the attempts and page results of a fax's API detail.
constexpr const char* kSchemaV11 = R"sql(
ALTER TABLE accounting ADD COLUMN node TEXT;
ALTER TABLE accounting ADD COLUMN sip_status INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounting ADD COLUMN page_results TEXT;
CREATE INDEX accounting_by_job ON accounting(job_id, id);
)sql";

// v12 (issue 16): an API submission's send_after, kept with each of its jobs.
constexpr const char* kSchemaV12 = R"sql(
ALTER TABLE jobs ADD COLUMN not_before INTEGER;
)sql";

// v13 (issue 16): the dashboard's live view reads the jobs changed since a time.
constexpr const char* kSchemaV13 = R"sql(
CREATE INDEX jobs_by_updated ON jobs(updated);
)sql";

// v14 (issue 16): an announcement of its own target (a received fax, to a user's webhook); the
// others go where the job's message says.
constexpr const char* kSchemaV14 = R"sql(
ALTER TABLE webhook_events ADD COLUMN url TEXT;
ALTER TABLE webhook_events ADD COLUMN user TEXT;
)sql";

// v15 (issue 17): each node's share of a trunk's channels on a shared store (channel_grants.hpp);
// the daily caps read the last 24 hours of calls again and again there.
constexpr const char* kSchemaV15 = R"sql(
CREATE TABLE channel_grants (
  trunk TEXT NOT NULL,
  node TEXT NOT NULL,
  granted INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY (trunk, node)
);
CREATE INDEX accounting_by_time ON accounting(time);
)sql";

// v16 (issue 17): the node that holds a message for rendering, until when (a dead node's
// messages are taken over), and the node making a delivery (its claim).
constexpr const char* kSchemaV16 = R"sql(
ALTER TABLE messages ADD COLUMN owner TEXT;
ALTER TABLE messages ADD COLUMN lease_until INTEGER;
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
)sql";

// v17 (issue 18): how an inbound fax was routed (INTERFACES.md routed_by).
constexpr const char* kSchemaV17 = R"sql(
ALTER TABLE jobs ADD COLUMN routed_by TEXT;
)sql";

// kMigrations[i] takes the schema from version i to i + 1. Append steps; never edit a released one.
constexpr std::array<const char*, kSchemaVersion> kMigrations = {kSchemaV1, kSchemaV2, kSchemaV3, kSchemaV4,
                                                                 kSchemaV5, kSchemaV6, kSchemaV7, kSchemaV8,
                                                                 kSchemaV9, kSchemaV10, kSchemaV11, kSchemaV12,
                                                                 kSchemaV13, kSchemaV14, kSchemaV15,
                                                                 kSchemaV16, kSchemaV17};


fb::Result<int64_t, StoreError> query_int(sqlite3* db, const char* sql, const std::string& op) {
  auto s = Stmt::prepare(db, sql, op);
  if (!s) return s.error();
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return StoreError{StoreErrc::db, op + ": no result"};
  return s->int64(0);
}

// Under one write transaction, so two processes opening a new file do not both create it.
StoreStatus migrate(sqlite3* db) {
  const std::string op = "open: migrate";
  auto tx = Tx::begin(db, op);
  if (!tx) return tx.error();
  auto version = query_int(db, "PRAGMA user_version", op);
  if (!version) return version.error();
  if (*version > kSchemaVersion) {
    return StoreError{StoreErrc::db, op + ": the database has schema version " + std::to_string(*version) +
                                         ", newer than this faxbridge's " + std::to_string(kSchemaVersion)};
  }
  if (*version == kSchemaVersion) return fb::Unit{};
  for (int64_t v = *version; v < kSchemaVersion; ++v) {
    if (auto r = sqlite::exec(db, kMigrations[size_t(v)], op + " to " + std::to_string(v + 1)); !r) return r;
  }
  std::string set_version = "PRAGMA user_version = " + std::to_string(kSchemaVersion);
  if (auto r = sqlite::exec(db, set_version.c_str(), op); !r) return r;
  return tx->commit();
}

}  // namespace

fb::Result<std::unique_ptr<SqliteJobStore>, StoreError> SqliteJobStore::open(const std::string& path, StoreOptions options) {
  auto db = sqlite::open(path);
  if (!db) return db.error();
  if (auto r = sqlite::configure(db->get(), options.busy_timeout_ms); !r) return r.error();
  if (auto r = migrate(db->get()); !r) return r.error();
  return std::unique_ptr<SqliteJobStore>(new SqliteJobStore(sqlite::connection(std::move(*db)), std::move(options)));
}

}  // namespace queue
