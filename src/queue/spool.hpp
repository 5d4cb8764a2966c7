// spool.hpp — the message spool: where an accepted SMTP message lives until its faxes are
// reported, and where each outbound job's rendered fax is kept.
//
// ARCHITECTURE.md (Durability): nothing is acknowledged before it is on disk. A message body
// is written to <dir>/incoming/<id>.tmp through a SpoolWriter; commit() fsyncs the file,
// renames it to <dir>/msg/<id>.eml and fsyncs msg/, so once commit() returns the message
// survives a crash or power loss. Then its jobs are committed (job_store.hpp), then SMTP
// says 250. A .tmp left by a crash was never acknowledged (the client will retry):
// recover() deletes them at start-up, with the half-written temporaries of the other
// directories.
//
// LAYOUT:  <dir>/incoming/<id>.tmp  bodies being received
//          <dir>/msg/<id>.eml       committed messages, removed once every job is reported
//          <dir>/fax/<job_id>.tif   the rendered TIFF-F of an outbound job
// IDS: 16 lowercase hex characters, 64 bits from getrandom(2): unique in practice, never
// derived from anything a client sent, and so safe as file names and in logs. commit()
// refuses to replace an existing message all the same.
// LIMITS: the message size is bounded by the SMTP server (smtp.max_message_bytes), not here.
// Small appends are gathered in a kWriteBufferBytes buffer so that a body arriving line by
// line is not one write(2) per line.
// PARAMETERS: the spool directory (default <node.data_dir>/spool).
// FREE SPACE: free_mb() says what an unprivileged writer may still use on a directory's file
// system; the SMTP server refuses MAIL below [node] min_free_mb (452 4.3.1), and inbound calls
// get 503, so a message is never taken in only to fail after its whole DATA.
// THREADS: a Spool holds no mutable state and may be shared; a SpoolWriter belongs to one
// SMTP session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace queue {

inline constexpr size_t kWriteBufferBytes = 64 * 1024;
inline constexpr size_t kMessageIdLength = 16;

struct SpoolError {
  int errnum = 0;  // errno of the failed call (ENOSPC: the SMTP server answers 452), 0 if none
  std::string message;
};

using SpoolStatus = fb::Result<fb::Unit, SpoolError>;

// A fresh message id from getrandom(2).
fb::Result<std::string, SpoolError> new_message_id();
// 16 lowercase hex characters: what new_message_id() makes and nothing else.
bool is_message_id(std::string_view id);

// One incoming message body. Not committed when destroyed: aborted, leaving nothing behind.
// Megabytes an unprivileged writer may still use on the file system of `dir` (statvfs f_bavail);
// nullopt when it cannot be asked.
[[nodiscard]] std::optional<uint64_t> free_mb(const std::string& dir);

class SpoolWriter {
 public:
  SpoolWriter(SpoolWriter&& o) noexcept;
  SpoolWriter& operator=(SpoolWriter&&) = delete;
  SpoolWriter(const SpoolWriter&) = delete;
  ~SpoolWriter();

  const std::string& id() const { return id_; }
  uint64_t size() const { return size_; }  // bytes appended so far

  SpoolStatus append(std::string_view bytes);
  // Makes the message durable under msg/ and returns its path. On failure nothing is left
  // behind and the writer is finished, as after abort().
  fb::Result<std::string, SpoolError> commit();
  void abort();  // removes the temporary file; a no-op once finished
  // Group commit, first half: the file is written, closed and renamed under msg/ but NOT yet
  // durable. Not acknowledgeable until Spool::sync() returns success (a crash before that
  // leaves a msg/ file with no job store row, which start-up removes).
  fb::Result<std::string, SpoolError> commit_unsynced();

 private:
  friend class Spool;
  SpoolWriter(int fd, std::string id, std::string tmp_path, std::string final_path, std::string msg_dir);
  SpoolStatus flush();
  SpoolError fail(const std::string& what, const std::string& path, int err);

  int fd_;
  std::string id_, tmp_path_, final_path_, msg_dir_;
  std::string buf_;
  uint64_t size_ = 0;
  bool finished_ = false;
};

class Spool {
 public:
  explicit Spool(std::string dir);

  const std::string& dir() const { return dir_; }
  // Creates <dir> and its subdirectories (mode 0750) if missing, durably.
  SpoolStatus create_dirs();
  // Starts a message under a fresh id: <dir>/incoming/<id>.tmp, mode 0640.
  fb::Result<SpoolWriter, SpoolError> begin_message();
  // Deletes the temporaries a crash left: incoming/*.tmp (never acknowledged) and the
  // "*.tmp" / "*.tmp-<pid>" files of fax/, in/, out/ and archive/ (a TIFF, PDF or mail cut
  // off before its rename; the job that wanted it redoes it). Returns how many. Call once at
  // start-up, before anything can be writing.
  fb::Result<int, SpoolError> recover();
  // Ids of the committed messages, sorted; lets start-up find files with no job store row
  // (committed to the spool, then a crash before the jobs were: never acknowledged).
  fb::Result<std::vector<std::string>, SpoolError> list_messages() const;
  // Deletes msg/<id>.eml. Already gone is success, so a restart can repeat it; an id that
  // is not a message id is refused rather than used in a path.
  SpoolStatus remove_message(std::string_view id);

  std::string message_path(std::string_view id) const;  // <dir>/msg/<id>.eml
  // Group commit, second half: makes every file and rename on the spool's file system durable
  // with one syncfs(2) — one journal commit for a whole batch of messages instead of three
  // syncs per message.
  SpoolStatus sync();
  std::string fax_path(int64_t job_id) const;           // <dir>/fax/<job_id>.tif
  // A received fax (inbound job): kept until its delivery is confirmed.
  std::string received_path(int64_t job_id) const;      // <dir>/in/<job_id>.tif
  // The mail composed from a received fax, kept until every delivery of it is final; `n`
  // numbers several mails of one job (0: the routed mail, 1..: postmaster notices).
  std::string mail_path(int64_t job_id, int n = 0) const;  // <dir>/out/<job_id>[-n].eml
  // Received faxes whose delivery is confirmed, kept for [delivery] archive_days.
  std::string archive_path(int64_t job_id) const;       // <dir>/archive/<job_id>.tif
  // Writes `bytes` to `path` durably: a temporary beside it, fsync, rename over, fsync the
  // directory. A reader sees the old file or the whole new one, never a part.
  static SpoolStatus write_durably(const std::string& path, std::string_view bytes);
  // Appends one line (a newline is added) and fdatasyncs: an append-only log such as
  // accounting.jsonl. O_APPEND keeps concurrent writers' lines whole.
  static SpoolStatus append_line(const std::string& path, std::string_view line);
  // Renames durably (fsync of both directories). A missing `from` is an error.
  static SpoolStatus move_durably(const std::string& from, const std::string& to);

 private:
  std::string dir_;
};

}  // namespace queue
