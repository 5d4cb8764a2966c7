// postgres.hpp — a PostgreSQL connection through libpq, as the job store sees one (sql.hpp).
// Internal to queue/.
//
// WHAT: statements written with SQLite's ?N parameters run as $N (outside quotes); parameters
// are sent as text with their type (int8 or text), results read as text. A connection that
// PostgreSQL dropped (a server restart, a failover) is opened again before the next statement
// or transaction that starts outside a transaction; a BEGIN or a query (SELECT) outside a
// transaction that finds it dead is asked again on the new one; a write outside a transaction
// is not (it may have been done), and a transaction the connection was in is lost and reported.
// DURABILITY: each session sets synchronous_commit = on, whatever the server's default, so a
// COMMIT has reached the server's disk (and its synchronous standbys) when it returns: the SMTP
// 250 relies on it. A COMMIT that PostgreSQL turns into a ROLLBACK (an aborted transaction) is
// an error, never success. A COMMIT whose connection was lost before its answer came is asked
// about on a new connection (txid_status of the id each transaction takes at its BEGIN): done is
// success, so the work is not done twice; not done, or not known within the busy timeout, is
// an error.
// A NODE THAT STOPS: each session also asks the server to end it when it stays idle inside a
// transaction for 10 s, and to probe its client with TCP keepalives (10 s idle, 5 s apart, 3
// probes): a node frozen or gone without a word (a power cut, a partition) lets go of the writer
// lock and the leader lock within about half a minute.
// WRITERS: begin() takes a transaction-scoped advisory lock (pg_advisory_xact_lock), so the
// store's writers, on every node, are serialized as SQLite's BEGIN IMMEDIATE serializes them,
// and a read-then-write operation cannot lose another node's update. Waiting for it (or any
// row lock) is bounded by lock_timeout = the store's busy timeout: then busy. begin_claim()
// takes the same lock shared: claims on several nodes run at once (each locks its job's row,
// FOR UPDATE SKIP LOCKED, and the number it calls), never beside another writer.
// TEXT: PostgreSQL keeps text as UTF-8 and refuses a NUL byte or an invalid sequence; such bytes
// from strangers (a caller's name, a far end's error) are stored as U+FFFD rather than losing
// the row that carries them.
// ERRORS: SQLSTATE class 23 (integrity) -> conflict; 40001, 40P01, 55P03 (serialization,
// deadlock, lock timeout) -> busy; anything else, and a lost connection -> db.
#pragma once

#include <memory>
#include <string>

#include "queue/sql.hpp"

namespace queue::postgres {

// Connects to `url` (a libpq connection URI, postgresql://user:password@host:port/db?...).
// The password is never part of an error message.
[[nodiscard]] fb::Result<std::unique_ptr<sql::Connection>, StoreError> connect(const std::string& url,
                                                                               int busy_timeout_ms);

// `url` with its password (if any) replaced by "***": what a log line or an error may show.
std::string redacted(const std::string& url);

// Whether `sql` only reads (it starts with SELECT): what may be asked again on a new connection
// when the old one was found dead.
bool is_query(std::string_view sql);

// `sql` with each ?N parameter outside quotes written $N (what the PostgreSQL backend sends).
std::string numbered_parameters(std::string_view sql);

// `s` as valid UTF-8 without NUL: each invalid byte and each NUL becomes U+FFFD.
std::string valid_text(std::string_view s);

}  // namespace queue::postgres
