// store_copy.hpp — `faxbridge store copy`: one node's SQLite store, with the files of its
// spool, moved into a PostgreSQL store that several nodes share (INTERFACES.md: store copy
// --from URL --to URL).
//
// WHAT IS KEPT: every message, job, event, delivery, accounting record, webhook announcement and
// API user with its tokens — numbers, states, pages, attempts and reports as they are. Job and
// delivery ids are the target's (the target may hold other nodes' jobs already): each row that
// names a job or delivery is renumbered with it, and so are the spool files named by them
// (fax/<job>.tif, in/<job>.tif, out/<job>[-<delivery>].eml ...). A received fax already archived
// (archive/<job>.tif) becomes in/<job>.tif, the name nodes on a shared store give it.
// DOCUMENTS: the spool's files that belong to what is copied — each message's body, each job's
// pages, each delivery's mail — go into the target's documents; those the spool lacks are named
// in the report (their jobs go on as with a missing file).
// ATOMIC: one transaction on the target: all or nothing. The source is only read.
// REFUSED: a target that already holds one of the messages, or a received fax with the same
// number, caller and time (the store was copied before); an API user of the same name is kept as
// the target has it (reported).
// LIMITS: all in memory per table row by row, documents one at a time; the source node must be
// stopped (a row written during the copy may be missed). Ids inside webhook payloads already
// built keep the old job id.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "queue/sql.hpp"
#include "queue/store_error.hpp"

namespace queue {

struct CopyReport {
  std::map<std::string, int> rows;        // per table: rows copied
  int documents = 0;                      // files put in the target
  std::vector<std::string> missing;       // documents the spool did not have
  std::vector<std::string> users_kept;    // API users the target had already
  std::map<int64_t, int64_t> jobs;        // source job id -> target job id
};

// A spool file's name in the target (relative to the spool), given the renumbering of jobs and
// deliveries; "" when it belongs to a job that is not copied. Pure.
std::string renamed_document(const std::string& name, const std::map<int64_t, int64_t>& jobs,
                             const std::map<int64_t, int64_t>& deliveries);

// `from`: the source (SQLite, at the current schema); `to`: the target (PostgreSQL, at the current
// schema); `spool_dir`: the source node's spool (absolute), and the spool directory the target's
// nodes use; `data_dir`: what the rows' relative paths are relative to (a node works in its data
// directory). The target's rows keep each path as the source wrote it, absolute or relative.
[[nodiscard]] fb::Result<CopyReport, StoreError> copy_store(sql::Connection& from, sql::Connection& to,
                                                            const std::string& spool_dir, const std::string& data_dir);

}  // namespace queue
