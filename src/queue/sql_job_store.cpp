// sql_job_store.cpp — the job store's operations in SQL, for either backend (sql_job_store.hpp).
#include "queue/sql_job_store.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <iterator>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

namespace queue {

using sql::Stmt;
using sql::Tx;

namespace {

constexpr const char* kJobColumns =
    "id, message_id, direction, state, number, subaddress, caller, pages, pages_done, retry_at, error, "
    "notify, orcpt, recipient, created, updated, tries, dials, remote_ident, bad_rows, caller_name, referred_by, "
    "bit_rate, ecm, duration, outcome, reported, priority, sender, media, detected_by, owner, lease_until, attempt, "
    "not_before, routed_by";


StoreError invalid(const std::string& op, const std::string& why) {
  return {StoreErrc::invalid, op + ": " + why};
}
StoreError not_found(const std::string& op, const std::string& what) {
  return {StoreErrc::not_found, op + ": no " + what};
}

std::string call(const char* fn, int64_t id) {
  return std::string(fn) + "(" + std::to_string(id) + ")";
}

Direction parse_direction(std::string_view s) {
  return s == "in" ? Direction::in : Direction::out;
}

std::optional<std::string> ret_text(Ret r) {
  if (r == Ret::full) return "FULL";
  if (r == Ret::hdrs) return "HDRS";
  return std::nullopt;
}

Ret parse_ret(const std::optional<std::string>& s) {
  if (s == "FULL") return Ret::full;
  if (s == "HDRS") return Ret::hdrs;
  return Ret::unset;
}


Job read_job(const Stmt& s) {
  Job j;
  j.id = s.int64(0);
  j.message_id = s.opt_text(1);
  j.direction = parse_direction(s.text(2));
  j.state = s.text(3);
  j.number = s.text(4);
  j.subaddress = s.opt_text(5);
  j.caller = s.text(6);
  j.pages = int(s.int64(7));
  j.pages_done = int(s.int64(8));
  j.retry_at = s.opt_int64(9);
  j.error = s.opt_text(10);
  j.notify = s.opt_text(11);
  j.orcpt = s.opt_text(12);
  j.recipient = s.text(13);
  j.created = s.int64(14);
  j.updated = s.int64(15);
  j.tries = int(s.int64(16));
  j.dials = int(s.int64(17));
  j.remote_ident = s.opt_text(18);
  j.bad_rows = int(s.int64(19));
  j.caller_name = s.opt_text(20);
  j.referred_by = s.opt_text(21);
  j.bit_rate = int(s.int64(22));
  j.ecm = s.int64(23) != 0;
  j.duration = int(s.int64(24));
  j.outcome = s.opt_text(25);
  j.reported = s.opt_text(26);
  j.priority = int(s.int64(27));
  j.sender = s.opt_text(28);
  j.media = s.opt_text(29);
  j.detected_by = s.opt_text(30);
  j.owner = s.opt_text(31);
  j.lease_until = s.opt_int64(32);
  j.attempt = s.int64(33);
  j.not_before = s.opt_int64(34);
  j.routed_by = s.opt_text(35);
  return j;
}

template <class T>
fb::Result<std::vector<T>, StoreError> read_rows(Stmt& s, T (*read)(const Stmt&)) {
  std::vector<T> out;
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(read(s));
  }
}

fb::Result<std::vector<Job>, StoreError> read_jobs(Stmt& s) {
  return read_rows<Job>(s, read_job);
}

fb::Result<Stmt, StoreError> select_jobs(sql::Connection& db, const char* where, const std::string& op) {
  return Stmt::prepare(db, std::string("SELECT ") + kJobColumns + " FROM jobs " + where, op);
}

struct JobHead {
  Direction direction;
  std::string state;
};

fb::Result<JobHead, StoreError> load_head(sql::Connection& db, int64_t id, const std::string& op) {
  auto s = Stmt::prepare(db, "SELECT direction, state FROM jobs WHERE id = ?1", op);
  if (!s) return s.error();
  s->bind_int(1, id);
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return not_found(op, "job " + std::to_string(id));
  return JobHead{parse_direction(s->text(0)), s->text(1)};
}

StoreStatus upsert_document(sql::Connection& db, const std::string& name, std::string_view bytes, int64_t t,
                            const std::string& op) {
  auto s = Stmt::prepare(db,
                         "INSERT INTO documents (name, data, created) VALUES (?1, ?2, ?3) "
                         "ON CONFLICT (name) DO UPDATE SET data = excluded.data, created = excluded.created",
                         op);
  if (!s) return s.error();
  return s->bind_text(1, name).bind_blob(2, bytes).bind_int(3, t).run();
}

StoreStatus insert_event(sql::Connection& db, int64_t job, int64_t time, std::string_view text,
                         const std::string& op) {
  auto s = Stmt::prepare(db, "INSERT INTO events (job_id, time, text) VALUES (?1, ?2, ?3)", op);
  if (!s) return s.error();
  return s->bind_int(1, job).bind_int(2, time).bind_text(3, text).run();
}

}  // namespace


int64_t SqlJobStore::now() const {
  return options_.clock ? options_.clock() : int64_t(std::time(nullptr));
}

fb::Result<std::vector<int64_t>, StoreError> SqlJobStore::enqueue_message(
    const NewMessage& m, const std::vector<NewRecipient>& rcpts) {
  const std::string op = "enqueue_message(" + m.id + ")";
  if (auto why = JobStore::check(m, rcpts)) return invalid(op, *why);
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto ids = insert_message(m, rcpts, op);
  if (!ids) return ids.error();
  if (auto r = tx->commit(); !r) return r.error();
  return ids;
}


StoreStatus SqlJobStore::enqueue_messages(
    const std::vector<std::pair<NewMessage, std::vector<NewRecipient>>>& batch) {
  const std::string op = "enqueue_messages(" + std::to_string(batch.size()) + ")";
  for (const auto& [m, rcpts] : batch) {
    if (auto why = JobStore::check(m, rcpts)) return invalid(op + " " + m.id, *why);
  }
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  for (const auto& [m, rcpts] : batch) {
    auto ids = insert_message(m, rcpts, op + " " + m.id);
    if (!ids) return ids.error();
  }
  if (auto r = tx->commit(); !r) return r.error();
  return fb::Unit{};
}

fb::Result<std::vector<int64_t>, StoreError> SqlJobStore::insert_message(const NewMessage& m,
                                                                     const std::vector<NewRecipient>& rcpts,
                                                                     const std::string& op) {
  auto msg = Stmt::prepare(*db_,
                           "INSERT INTO messages (id, spool_path, sender, ret, envid, arrived, size, client, "
                           "auth_user, state, body_8bit, smtputf8, webhook_url, owner, lease_until) VALUES (?1, ?2, "
                           "?3, ?4, ?5, ?6, ?7, ?8, ?9, 'active', ?10, ?11, ?12, ?13, ?14)",
                           op + ": message");
  if (!msg) return msg.error();
  msg->bind_text(1, m.id).bind_text(2, m.spool_path).bind_text(3, m.sender).bind_opt_text(4, ret_text(m.ret));
  msg->bind_opt_text(5, m.envid).bind_int(6, m.arrived).bind_int(7, m.size).bind_text(8, m.client);
  msg->bind_int(10, m.body_8bit ? 1 : 0).bind_int(11, m.smtputf8 ? 1 : 0).bind_opt_text(12, m.webhook_url);
  msg->bind_opt_text(13, m.node.empty() ? std::nullopt : std::optional<std::string>(m.node));
  msg->bind_opt_int(14, m.node.empty() ? std::nullopt : m.lease_until);
  if (auto r = msg->bind_opt_text(9, m.auth_user).run(); !r) return r.error();
  if (m.body && shares_documents()) {
    if (auto r = upsert_document(*db_, "msg/" + m.id + ".eml", *m.body, now(), op + ": document"); !r) return r.error();
  }

  auto job =
      Stmt::prepare(*db_,
                    "INSERT INTO jobs (message_id, direction, state, number, subaddress, caller, notify, "
                    "orcpt, recipient, created, updated, priority, sender, not_before, retry_at) "
                    "VALUES (?1, 'out', 'queued', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?11) RETURNING id",
                    op + ": job");
  if (!job) return job.error();
  const int64_t t = now();
  std::vector<int64_t> ids;
  for (const auto& r : rcpts) {
    job->reset();
    job->bind_text(1, m.id).bind_text(2, r.number).bind_opt_text(3, r.subaddress).bind_text(4, r.caller);
    job->bind_opt_text(5, r.notify).bind_opt_text(6, r.orcpt).bind_text(7, r.recipient).bind_int(8, t);
    job->bind_int(9, std::clamp(r.priority, -1, 1)).bind_text(10, m.sender).bind_opt_int(11, m.not_before);
    auto row = job->step();
    if (!row) return row.error();
    ids.push_back(job->int64(0));
    if (auto done = job->run(); !done) return done.error();
    if (auto e = insert_event(*db_, ids.back(), t, "queued for " + r.recipient, op); !e)
      return e.error();
  }
  return ids;
}

fb::Result<int64_t, StoreError> SqlJobStore::create_inbound(const NewInbound& in) {
  const std::string op = "create_inbound(" + in.number + ")";
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto s =
      Stmt::prepare(*db_,
                    "INSERT INTO jobs (direction, state, number, subaddress, caller, recipient, created, "
                    "updated, caller_name, referred_by, owner, lease_until) "
                    "VALUES ('in', 'receiving', ?1, ?2, ?3, '', ?4, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                    op);
  if (!s) return s.error();
  const int64_t t = now();
  s->bind_text(1, in.number)
      .bind_opt_text(2, in.subaddress)
      .bind_text(3, in.caller)
      .bind_int(4, t)
      .bind_opt_text(5, in.caller_name)
      .bind_opt_text(6, in.referred_by)
      .bind_opt_text(7, in.node.empty() ? std::nullopt : std::optional<std::string>(in.node))
      .bind_opt_int(8, in.lease_until);
  auto row = s->step();
  if (!row) return row.error();
  const int64_t id = s->int64(0);
  if (auto r = s->run(); !r) return r.error();
  if (auto e = insert_event(*db_, id, t, "receiving from " + in.caller, op); !e) return e.error();
  if (auto r = tx->commit(); !r) return r.error();
  return id;
}

fb::Result<Job, StoreError> SqlJobStore::job(int64_t id) {
  const std::string op = call("job", id);
  auto s = select_jobs(*db_, "WHERE id = ?1", op);
  if (!s) return s.error();
  s->bind_int(1, id);
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return not_found(op, "job " + std::to_string(id));
  return read_job(*s);
}

fb::Result<std::vector<Job>, StoreError> SqlJobStore::jobs(const JobFilter& f) {
  const std::string op = "jobs";
  if (f.state && !is_state(Direction::out, *f.state) && !is_state(Direction::in, *f.state)) {
    return invalid(op, "unknown state '" + *f.state + "'");
  }
  if (f.limit < 0) return invalid(op, "the limit must not be negative");
  // Changed since a time: the updated index narrows it first (the event stream asks every second).
  const std::string where =
      // (INDEXED BY: left alone, SQLite scans by id for the ORDER BY, every row every second.)
      std::string(!f.updated_since                          ? "WHERE (?7 IS NULL OR TRUE) AND "
                  : db_->dialect() == sql::Dialect::sqlite ? "INDEXED BY jobs_by_updated WHERE updated >= ?7 AND "
                                                           : "WHERE updated >= ?7 AND ") +
      "(?1 IS NULL OR state = ?1) AND (?2 IS NULL OR direction = ?2) "
      "AND (?3 IS NULL OR message_id = ?3) AND (?5 IS NULL OR id < ?5) AND (?6 IS NULL OR number = ?6) "
      "ORDER BY id DESC LIMIT ?4";
  auto s = select_jobs(*db_, where.c_str(), op);
  if (!s) return s.error();
  std::optional<std::string> dir;
  if (f.direction) dir = std::string(to_string(*f.direction));
  s->bind_opt_text(1, f.state).bind_opt_text(2, dir).bind_opt_text(3, f.message_id);
  s->bind_int(4, f.limit == 0 ? std::numeric_limits<int64_t>::max() : f.limit);  // 0: no limit
  s->bind_opt_int(5, f.before_id).bind_opt_text(6, f.number).bind_opt_int(7, f.updated_since);
  return read_jobs(*s);
}

fb::Result<std::vector<Job>, StoreError> SqlJobStore::next_ready(int64_t now, int limit) {
  if (limit <= 0) return std::vector<Job>{};  // no free channel: nothing to start
  auto s = select_jobs(
      *db_,
      "JOIN (SELECT id AS pick, priority AS prio, COALESCE(retry_at, created) AS due, ROW_NUMBER() OVER "
      "(PARTITION BY COALESCE(sender, ''), priority ORDER BY COALESCE(retry_at, created), id) AS turn "
      "FROM jobs WHERE direction = 'out' AND state IN ('ready', 'retry') AND (retry_at IS NULL OR retry_at <= ?1)) AS p "
      "ON pick = jobs.id ORDER BY prio DESC, turn, due, pick LIMIT ?2",
      "next_ready");
  if (!s) return s.error();
  s->bind_int(1, now).bind_int(2, limit);
  return read_jobs(*s);
}

fb::Result<std::vector<Event>, StoreError> SqlJobStore::events(int64_t id) {
  const std::string op = call("events", id);
  if (auto head = load_head(*db_, id, op); !head) return head.error();
  auto s = Stmt::prepare(*db_, "SELECT time, text FROM events WHERE job_id = ?1 ORDER BY id", op);
  if (!s) return s.error();
  s->bind_int(1, id);
  std::vector<Event> out;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(Event{s->int64(0), s->text(1)});
  }
}

fb::Result<Message, StoreError> SqlJobStore::message(const std::string& id) {
  const std::string op = "message(" + id + ")";
  auto s = Stmt::prepare(*db_,
                         "SELECT id, spool_path, sender, ret, envid, arrived, size, client, auth_user, state, "
                         "body_8bit, smtputf8 FROM messages WHERE id = ?1",
                         op);
  if (!s) return s.error();
  s->bind_text(1, id);
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return not_found(op, "message " + id);
  Message m;
  m.id = s->text(0);
  m.spool_path = s->text(1);
  m.sender = s->text(2);
  m.ret = parse_ret(s->opt_text(3));
  m.envid = s->opt_text(4);
  m.arrived = s->int64(5);
  m.size = s->int64(6);
  m.client = s->text(7);
  m.auth_user = s->opt_text(8);
  m.state = s->text(9);
  m.body_8bit = s->int64(10) != 0;
  m.smtputf8 = s->int64(11) != 0;
  return m;
}

// One write transaction: the job must exist and not be final, then `change` runs.
template <class Change>
StoreStatus SqlJobStore::change_job(int64_t id, const std::string& op, Change&& change) {
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto head = load_head(*db_, id, op);
  if (!head) return head.error();
  if (is_final_state(head->state)) {
    return StoreError{StoreErrc::conflict, op + ": job " + std::to_string(id) + " is already " + head->state};
  }
  if (auto r = change(*head); !r) return r;
  return tx->commit();
}

StoreStatus SqlJobStore::set_state(int64_t id, std::string_view st, std::optional<std::string> error) {
  const std::string op = "set_state(" + std::to_string(id) + ", " + std::string(st) + ")";
  if (!is_state(Direction::out, st) && !is_state(Direction::in, st)) return invalid(op, "unknown state");
  return change_job(id, op, [&](const JobHead& head) -> StoreStatus {
    if (!is_state(head.direction, st)) {
      return invalid(op, "not a state of an " +
                             std::string(head.direction == Direction::in ? "inbound" : "outbound") + " job");
    }
    auto s = Stmt::prepare(*db_,
                           "UPDATE jobs SET state = ?1, error = ?2, updated = ?3, "
                           "retry_at = CASE WHEN ?1 IN ('queued', 'retry', 'delivering') THEN retry_at WHEN ?1 = 'ready' THEN "
                           "not_before END WHERE id = ?4",
                           op);
    if (!s) return s.error();
    const int64_t t = now();
    if (auto r = s->bind_text(1, st).bind_opt_text(2, error).bind_int(3, t).bind_int(4, id).run(); !r)
      return r;
    std::string text = "state " + std::string(st) + (error ? ": " + *error : "");
    return insert_event(*db_, id, t, text, op);
  });
}

fb::Result<bool, StoreError> SqlJobStore::start_rendering(int64_t id) {
  const std::string op = call("start_rendering", id);
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto head = load_head(*db_, id, op);
  if (!head) return head.error();
  if (head->direction != Direction::out) return invalid(op, "not an outbound job");
  if (head->state == state::rendering) return true;
  if (head->state != state::queued) return false;
  auto s = Stmt::prepare(*db_, "UPDATE jobs SET state = 'rendering', error = NULL, retry_at = NULL, updated = ?1 WHERE id = ?2",
                         op);
  if (!s) return s.error();
  const int64_t t = now();
  if (auto r = s->bind_int(1, t).bind_int(2, id).run(); !r) return r.error();
  if (auto r = insert_event(*db_, id, t, "state rendering", op); !r) return r.error();
  if (auto r = tx->commit(); !r) return r.error();
  return true;
}

fb::Result<bool, StoreError> SqlJobStore::finish_rendering(
    int64_t id, int pages, const std::optional<std::string>& error,
    const std::optional<std::pair<std::string, std::string>>& document) {
  const std::string op = call("finish_rendering", id);
  if (pages < 0 || (!error && pages == 0)) return invalid(op, "a rendering has pages, or an error");
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto head = load_head(*db_, id, op);
  if (!head) return head.error();
  if (head->state != state::rendering) return false;
  auto s = Stmt::prepare(*db_,
                         "UPDATE jobs SET state = ?1, error = ?2, pages = ?3, pages_done = 0, updated = ?4, "
                         "retry_at = CASE WHEN ?1 = 'ready' THEN not_before END WHERE id = ?5",
                         op);
  if (!s) return s.error();
  const int64_t t = now();
  const std::string st = error ? "failed" : "ready";
  if (auto r = s->bind_text(1, st).bind_opt_text(2, error).bind_int(3, error ? 0 : pages).bind_int(4, t).bind_int(5, id).run(); !r)
    return r.error();
  if (auto r = insert_event(*db_, id, t, "state " + st + (error ? ": " + *error : ""), op); !r) return r.error();
  if (document && !error && shares_documents()) {
    if (auto r = upsert_document(*db_, document->first, document->second, t, op + ": document"); !r) return r.error();
  }
  if (auto r = tx->commit(); !r) return r.error();
  return true;
}

StoreStatus SqlJobStore::cancel(int64_t id) {
  const std::string op = call("cancel", id);
  return change_job(id, op, [&](const JobHead& head) -> StoreStatus {
    if (head.direction == Direction::in) return invalid(op, "only outbound faxes can be cancelled");
    auto s = Stmt::prepare(*db_,
                           "UPDATE jobs SET state = 'cancelled', error = NULL, retry_at = NULL, updated = ?1 "
                           "WHERE id = ?2",
                           op);
    if (!s) return s.error();
    const int64_t t = now();
    if (auto r = s->bind_int(1, t).bind_int(2, id).run(); !r) return r;
    return insert_event(*db_, id, t, "cancelled (was " + head.state + ")", op);
  });
}

StoreStatus SqlJobStore::set_pages(int64_t id, int pages, int pages_done) {
  const std::string op = call("set_pages", id);
  if (pages < 0 || pages_done < 0 || pages_done > pages) {
    return invalid(op,
                   "pages_done " + std::to_string(pages_done) + " is not within 0.." + std::to_string(pages));
  }
  return change_job(id, op, [&](const JobHead&) -> StoreStatus {
    auto s = Stmt::prepare(*db_,
                           "UPDATE jobs SET pages = ?1, pages_done = ?2, updated = ?3 WHERE id = ?4", op);
    if (!s) return s.error();
    return s->bind_int(1, pages).bind_int(2, pages_done).bind_int(3, now()).bind_int(4, id).run();
  });
}

StoreStatus SqlJobStore::set_transfer(int64_t id, int pages, int pages_done, int bad_rows,
                                  std::optional<std::string> remote_ident) {
  const std::string op = call("set_transfer", id);
  if (pages < 0 || pages_done < 0 || pages_done > pages || bad_rows < 0) {
    return invalid(op, "pages_done " + std::to_string(pages_done) + " is not within 0.." + std::to_string(pages));
  }
  return change_job(id, op, [&](const JobHead&) -> StoreStatus {
    auto s = Stmt::prepare(*db_,
                           "UPDATE jobs SET pages = ?1, pages_done = ?2, bad_rows = ?3, remote_ident = ?4, "
                           "updated = ?5 WHERE id = ?6",
                           op);
    if (!s) return s.error();
    return s->bind_int(1, pages)
        .bind_int(2, pages_done)
        .bind_int(3, bad_rows)
        .bind_opt_text(4, remote_ident)
        .bind_int(5, now())
        .bind_int(6, id)
        .run();
  });
}

StoreStatus SqlJobStore::set_subaddress(int64_t id, std::optional<std::string> subaddress) {
  const std::string op = call("set_subaddress", id);
  return change_job(id, op, [&](const JobHead&) -> StoreStatus {
    auto s = Stmt::prepare(*db_, "UPDATE jobs SET subaddress = ?1, updated = ?2 WHERE id = ?3", op);
    if (!s) return s.error();
    return s->bind_opt_text(1, subaddress).bind_int(2, now()).bind_int(3, id).run();
  });
}

StoreStatus SqlJobStore::set_retry(int64_t id, std::optional<int64_t> retry_at) {
  const std::string op = call("set_retry", id);
  return change_job(id, op, [&](const JobHead&) -> StoreStatus {
    auto s = Stmt::prepare(*db_, "UPDATE jobs SET retry_at = ?1, updated = ?2 WHERE id = ?3", op);
    if (!s) return s.error();
    return s->bind_opt_int(1, retry_at).bind_int(2, now()).bind_int(3, id).run();
  });
}

// `column` is one of our two literals, never caller input.
fb::Result<int, StoreError> SqlJobStore::bump(int64_t id, const char* column, const char* fn) {
  const std::string op = call(fn, id);
  int count = 0;
  auto r = change_job(id, op, [&](const JobHead&) -> StoreStatus {
    std::string sql = std::string("UPDATE jobs SET ") + column + " = " + column +
                      " + 1, updated = ?1 WHERE id = ?2 "
                      "RETURNING " +
                      column;
    auto s = Stmt::prepare(*db_, sql, op);
    if (!s) return s.error();
    auto row = s->bind_int(1, now()).bind_int(2, id).step();
    if (!row) return row.error();
    count = int(s->int64(0));
    return s->run();
  });
  if (!r) return r.error();
  return count;
}

fb::Result<int, StoreError> SqlJobStore::add_dial(int64_t id) {
  return bump(id, "dials", "add_dial");
}
fb::Result<int, StoreError> SqlJobStore::add_try(int64_t id) {
  return bump(id, "tries", "add_try");
}

StoreStatus SqlJobStore::add_event(int64_t id, std::string_view text) {
  const std::string op = call("add_event", id);
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  if (auto head = load_head(*db_, id, op); !head) return head.error();
  if (auto r = insert_event(*db_, id, now(), text, op); !r) return r;
  return tx->commit();
}

StoreStatus SqlJobStore::set_message_state(const std::string& id, std::string_view st) {
  const std::string op = "set_message_state(" + id + ", " + std::string(st) + ")";
  if (st != "active" && st != "done") return invalid(op, "unknown message state");
  auto s = Stmt::prepare(*db_, "UPDATE messages SET state = ?1 WHERE id = ?2", op);
  if (!s) return s.error();
  if (auto r = s->bind_text(1, st).bind_text(2, id).run(); !r) return r;
  if (db_->changes() == 0) return not_found(op, "message " + id);
  return fb::Unit{};
}

bool SqlJobStore::shares_documents() const {
  return db_->dialect() == sql::Dialect::postgresql;
}


StoreStatus SqlJobStore::put_document(const std::string& name, std::string_view bytes) {
  const std::string op = "put_document(" + name + ")";
  if (!shares_documents()) return fb::Unit{};
  if (name.empty()) return invalid(op, "no name");
  return upsert_document(*db_, name, bytes, now(), op);
}

StoreStatus SqlJobStore::put_reception_pages(int64_t job, const std::string& node, const std::string& name,
                                             std::string_view bytes) {
  const std::string op = "put_reception_pages(" + name + ")";
  if (!shares_documents()) return fb::Unit{};
  if (name.empty()) return invalid(op, "no name");
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto mine = Stmt::prepare(*db_,
                            "SELECT 1 FROM jobs WHERE id = ?1 AND direction = 'in' AND state = 'receiving' AND owner = ?2",
                            op);
  if (!mine) return mine.error();
  auto row = mine->bind_int(1, job).bind_text(2, node).step();
  if (!row) return row.error();
  if (!*row) return StoreError{StoreErrc::conflict, op + ": job " + std::to_string(job) + " is no longer " + node + "'s reception"};
  if (auto r = mine->run(); !r) return r;
  if (auto r = upsert_document(*db_, name, bytes, now(), op); !r) return r;
  return tx->commit();
}

fb::Result<std::optional<std::string>, StoreError> SqlJobStore::document(const std::string& name) {
  const std::string op = "document(" + name + ")";
  if (!shares_documents()) return std::optional<std::string>();
  auto s = Stmt::prepare(*db_, "SELECT data FROM documents WHERE name = ?1", op);
  if (!s) return s.error();
  s->bind_text(1, name);
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(s->blob(0));
}

fb::Result<std::optional<JobStore::Digest>, StoreError> SqlJobStore::document_digest(const std::string& name) {
  const std::string op = "document_digest(" + name + ")";
  if (!shares_documents()) return std::optional<Digest>();
  auto s = Stmt::prepare(*db_, "SELECT length(data), encode(sha256(data), 'hex') FROM documents WHERE name = ?1", op);
  if (!s) return s.error();
  s->bind_text(1, name);
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return std::optional<Digest>();
  return std::optional<Digest>(Digest{s->int64(0), s->text(1)});
}

StoreStatus SqlJobStore::remove_documents(const std::vector<std::string>& names) {
  if (!shares_documents() || names.empty()) return fb::Unit{};
  const std::string op = "remove_documents(" + std::to_string(names.size()) + ")";
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto s = Stmt::prepare(*db_, "DELETE FROM documents WHERE name = ?1", op);
  if (!s) return s.error();
  for (const auto& n : names) {
    s->reset();
    if (auto r = s->bind_text(1, n).run(); !r) return r;
  }
  return tx->commit();
}

fb::Result<bool, StoreError> SqlJobStore::lead() {
  if (db_->dialect() != sql::Dialect::postgresql) return true;
  if (lead_session_ != 0 && lead_session_ == db_->session()) {
    // Held since, in this session, if the session is still there (a dead one fails here, and
    // the next call opens a new one and asks again).
    auto alive = Stmt::prepare(*db_, "SELECT 1", "lead");
    if (!alive) return alive.error();
    if (auto r = alive->run(); !r) return r.error();
    if (lead_session_ == db_->session()) return true;
  }
  lead_session_ = 0;
  auto s = Stmt::prepare(*db_, "SELECT pg_try_advisory_lock(7378697629483820648)", "lead");
  if (!s) return s.error();
  auto row = s->step();
  if (!row) return row.error();
  if (!*row || s->int64(0) == 0) return false;
  lead_session_ = db_->session();
  return true;
}

fb::Result<int, StoreError> SqlJobStore::grant_channels(const std::string& node, const std::string& trunk, int want,
                                                        int max, int64_t t, int64_t expires) {
  const std::string op = "grant_channels(" + node + ", " + trunk + ")";
  if (want < 0 || max < 0) return invalid(op, "want and max must not be negative");
  // A write transaction (the writers' lock): two nodes never both count the same free channels.
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto gone = Stmt::prepare(*db_, "DELETE FROM channel_grants WHERE expires < ?1", op);
  if (!gone) return gone.error();
  if (auto r = gone->bind_int(1, t).run(); !r) return r.error();
  auto others = Stmt::prepare(*db_,
                              "SELECT COALESCE(SUM(granted), 0) FROM channel_grants WHERE trunk = ?1 AND node <> ?2", op);
  if (!others) return others.error();
  others->bind_text(1, trunk).bind_text(2, node);
  auto row = others->step();
  if (!row) return row.error();
  const int64_t held = *row ? others->int64(0) : 0;
  const int granted = int(std::clamp<int64_t>(max - held, 0, want));
  auto put = Stmt::prepare(*db_,
                           "INSERT INTO channel_grants (trunk, node, granted, expires) VALUES (?1, ?2, ?3, ?4) "
                           "ON CONFLICT (trunk, node) DO UPDATE SET granted = excluded.granted, expires = excluded.expires",
                           op);
  if (!put) return put.error();
  if (auto r = put->bind_text(1, trunk).bind_text(2, node).bind_int(3, granted).bind_int(4, expires).run(); !r) {
    return r.error();
  }
  if (auto r = tx->commit(); !r) return r.error();
  return granted;
}

StoreStatus SqlJobStore::drop_channel_grants(const std::string& node) {
  const std::string op = "drop_channel_grants(" + node + ")";
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto s = Stmt::prepare(*db_, "DELETE FROM channel_grants WHERE node = ?1", op);
  if (!s) return s.error();
  if (auto r = s->bind_text(1, node).run(); !r) return r.error();
  return tx->commit();
}

fb::Result<std::vector<JobStore::ChannelGrant>, StoreError> SqlJobStore::channel_grants(int64_t t) {
  auto s = Stmt::prepare(*db_,
                         "SELECT trunk, node, granted, expires FROM channel_grants WHERE expires >= ?1 "
                         "ORDER BY trunk, node",
                         "channel_grants");
  if (!s) return s.error();
  s->bind_int(1, t);
  std::vector<ChannelGrant> out;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({s->text(0), s->text(1), int(s->int64(2)), s->int64(3)});
  }
  return out;
}

StoreStatus SqlJobStore::set_reception(int64_t id, int bit_rate, bool ecm, int duration) {
  const std::string op = call("set_reception", id);
  if (bit_rate < 0 || duration < 0) return invalid(op, "rate and duration must not be negative");
  return change_job(id, op, [&](const JobHead&) -> StoreStatus {
    auto s = Stmt::prepare(*db_, "UPDATE jobs SET bit_rate = ?1, ecm = ?2, duration = ?3, updated = ?4 WHERE id = ?5",
                           op);
    if (!s) return s.error();
    return s->bind_int(1, bit_rate).bind_int(2, ecm ? 1 : 0).bind_int(3, duration).bind_int(4, now()).bind_int(5, id).run();
  });
}

StoreStatus SqlJobStore::set_media(int64_t id, std::string_view media, std::string_view detected_by) {
  const std::string op = call("set_media", id);
  return change_job(id, op, [&](const JobHead&) -> StoreStatus {
    auto s = Stmt::prepare(*db_, "UPDATE jobs SET media = ?1, detected_by = ?2, updated = ?3 WHERE id = ?4", op);
    if (!s) return s.error();
    auto opt = [](std::string_view v) { return v.empty() ? std::nullopt : std::optional<std::string>(v); };
    return s->bind_opt_text(1, opt(media)).bind_opt_text(2, opt(detected_by)).bind_int(3, now()).bind_int(4, id).run();
  });
}

StoreStatus SqlJobStore::discard_inbound(int64_t id) {
  const std::string op = call("discard_inbound", id);
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto head = Stmt::prepare(*db_, "SELECT direction, state FROM jobs WHERE id = ?1", op);
  if (!head) return head.error();
  auto row = head->bind_int(1, id).step();
  if (!row) return row.error();
  if (!*row) return not_found(op, "job " + std::to_string(id));
  if (head->text(0) != "in" || head->text(1) != state::receiving) {
    return StoreError{StoreErrc::conflict, op + ": only an inbound job still receiving can be discarded"};
  }
  if (auto r = head->run(); !r) return r.error();
  for (const char* sql : {"DELETE FROM events WHERE job_id = ?1", "DELETE FROM jobs WHERE id = ?1"}) {
    auto s = Stmt::prepare(*db_, sql, op);
    if (!s) return s.error();
    if (auto r = s->bind_int(1, id).run(); !r) return r.error();
  }
  return tx->commit();
}

namespace {

constexpr const char* kDeliveryColumns =
    "id, job_id, recipient, kind, state, mail_path, message_id, attempts, next_at, error, created, tag";

const char* kind_text(DeliveryKind k) {
  return k == DeliveryKind::postmaster ? "postmaster"
         : k == DeliveryKind::report   ? "report"
         : k == DeliveryKind::forward  ? "forward"
                                       : "mailbox";
}

Delivery read_delivery(const Stmt& s) {
  Delivery d;
  d.id = s.int64(0);
  d.job_id = s.opt_int64(1).value_or(0);  // 0: a forward, of no job
  d.recipient = s.text(2);
  d.kind = s.text(3) == "postmaster" ? DeliveryKind::postmaster
           : s.text(3) == "report"   ? DeliveryKind::report
           : s.text(3) == "forward"  ? DeliveryKind::forward
                                     : DeliveryKind::mailbox;
  d.state = s.text(4);
  d.mail_path = s.text(5);
  d.message_id = s.text(6);
  d.attempts = int(s.int64(7));
  d.next_at = s.int64(8);
  d.error = s.opt_text(9);
  d.created = s.int64(10);
  d.tag = s.opt_text(11).value_or("");
  return d;
}

fb::Result<std::vector<Delivery>, StoreError> read_deliveries(Stmt& s) {
  return read_rows<Delivery>(s, read_delivery);
}

// One pending delivery of `job`; the caller holds the transaction.
StoreStatus insert_delivery(sql::Connection& db, int64_t job, const NewDelivery& d, int64_t t, const std::string& op) {
  auto s = Stmt::prepare(db,
                         "INSERT INTO deliveries (job_id, recipient, kind, state, mail_path, message_id, created, "
                         "updated, tag) VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?6, ?7)",
                         op);
  if (!s) return s.error();
  // A received fax's mail goes from a VERP sender (bounce_address) a late bounce comes back to.
  const bool bounces = d.kind == DeliveryKind::mailbox || d.kind == DeliveryKind::postmaster;
  return s->bind_opt_int(1, job == 0 ? std::nullopt : std::optional<int64_t>(job))
      .bind_text(2, d.recipient)
      .bind_text(3, kind_text(d.kind))
      .bind_text(4, d.mail_path)
      .bind_text(5, d.message_id)
      .bind_int(6, t)
      .bind_opt_text(7, bounces ? std::optional<std::string>(new_delivery_tag()) : std::nullopt)
      .run();
}

}  // namespace

fb::Result<std::vector<Job>, StoreError> SqlJobStore::to_route(int64_t t, int limit) {
  const std::string op = "to_route";
  if (limit <= 0) return std::vector<Job>{};
  auto s = select_jobs(*db_,
                       "WHERE direction = 'in' AND state = 'delivering' AND (retry_at IS NULL OR retry_at <= ?1) "
                       "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id) ORDER BY id LIMIT ?2",
                       op);
  if (!s) return s.error();
  s->bind_int(1, t).bind_int(2, limit);
  return read_jobs(*s);
}

StoreStatus SqlJobStore::add_deliveries(int64_t job, const std::vector<NewDelivery>& ds, std::string_view event,
                                     bool first, const std::vector<WebhookTarget>& webhooks,
                                     std::string_view routed_by) {
  const std::string op = call("add_deliveries", job);
  if (ds.empty()) return invalid(op, "no delivery");
  for (const auto& d : ds) {
    if (d.recipient.empty() || d.mail_path.empty() || d.message_id.empty())
      return invalid(op, "a delivery needs a recipient, a mail file and a Message-ID");
  }
  return change_job(job, op, [&](const JobHead& head) -> StoreStatus {
    if (head.direction != Direction::in) return invalid(op, "only inbound faxes are delivered as mail");
    auto n = Stmt::prepare(*db_, "SELECT COUNT(*) FROM deliveries WHERE job_id = ?1", op);
    if (!n) return n.error();
    n->bind_int(1, job);
    if (auto row = n->step(); !row) return row.error();
    if (first && n->int64(0) > 0) return StoreError{StoreErrc::conflict, op + ": the job already has its deliveries"};
    const int64_t t = now();
    for (const auto& d : ds) {
      if (auto r = insert_delivery(*db_, job, d, t, op); !r) return r;
    }
    auto u = Stmt::prepare(*db_,
                           "UPDATE jobs SET retry_at = NULL, updated = ?1, routed_by = COALESCE(?3, routed_by) "
                           "WHERE id = ?2",
                           op);
    if (!u) return u.error();
    const auto by = routed_by.empty() ? std::nullopt : std::optional<std::string>(routed_by);
    if (auto r = u->bind_int(1, t).bind_int(2, job).bind_opt_text(3, by).run(); !r) return r;
    for (const auto& w : webhooks) {
      auto a = Stmt::prepare(*db_,
                             "INSERT INTO webhook_events (job_id, event, state, time, url, \"user\") "
                             "VALUES (?1, 'fax.received', ?2, ?3, ?4, ?5)",
                             op);
      if (!a) return a.error();
      if (auto r = a->bind_int(1, job).bind_text(2, head.state).bind_int(3, t).bind_text(4, w.url).bind_text(5, w.user).run(); !r)
        return r;
    }
    return insert_event(*db_, job, t, event, op);
  });
}

fb::Result<std::vector<Delivery>, StoreError> SqlJobStore::deliveries(int64_t job) {
  const std::string op = call("deliveries", job);
  auto s = Stmt::prepare(*db_, std::string("SELECT ") + kDeliveryColumns + " FROM deliveries WHERE job_id = ?1 ORDER BY id", op);
  if (!s) return s.error();
  s->bind_int(1, job);
  return read_deliveries(*s);
}

fb::Result<std::vector<Delivery>, StoreError> SqlJobStore::due_deliveries(int64_t t, int limit) {
  const std::string op = "due_deliveries";
  if (limit <= 0) return std::vector<Delivery>{};
  auto s = Stmt::prepare(*db_,
                         std::string("SELECT ") + kDeliveryColumns +
                             " FROM deliveries WHERE state = 'pending' AND next_at <= ?1 ORDER BY next_at, id LIMIT ?2",
                         op);
  if (!s) return s.error();
  s->bind_int(1, t).bind_int(2, limit);
  return read_deliveries(*s);
}

fb::Result<std::vector<Delivery>, StoreError> SqlJobStore::claim_deliveries(const std::string& node, int64_t t,
                                                                          int64_t until, int limit) {
  const std::string op = "claim_deliveries(" + node + ")";
  if (limit <= 0) return std::vector<Delivery>{};
  {  // Asked at every scan: the write lock only when there is something to claim.
    auto any = Stmt::prepare(*db_, "SELECT 1 FROM deliveries WHERE state = 'pending' AND next_at <= ?1 LIMIT 1", op);
    if (!any) return any.error();
    auto row = any->bind_int(1, t).step();
    if (!row) return row.error();
    if (!*row) return std::vector<Delivery>{};
  }
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto s = Stmt::prepare(*db_,
                         std::string("SELECT ") + kDeliveryColumns +
                             " FROM deliveries WHERE state = 'pending' AND next_at <= ?1 ORDER BY next_at, id LIMIT ?2",
                         op);
  if (!s) return s.error();
  s->bind_int(1, t).bind_int(2, limit);
  auto due = read_deliveries(*s);
  if (!due) return due.error();
  auto claim = Stmt::prepare(*db_, "UPDATE deliveries SET next_at = ?1, claimed_by = ?2 WHERE id = ?3", op);
  if (!claim) return claim.error();
  for (const auto& d : *due) {
    claim->reset();
    if (auto r = claim->bind_int(1, until).bind_text(2, node).bind_int(3, d.id).run(); !r) return r.error();
  }
  if (auto r = tx->commit(); !r) return r.error();
  return due;
}

fb::Result<int, StoreError> SqlJobStore::hold_deliveries(const std::string& node, int64_t t, int64_t until,
                                                         const std::vector<int64_t>& ids) {
  const std::string op = "hold_deliveries(" + node + ")";
  {  // Asked every few seconds by every node: the write lock only when it holds any.
    auto any = Stmt::prepare(*db_, "SELECT 1 FROM deliveries WHERE claimed_by = ?1 AND state = 'pending' LIMIT 1", op);
    if (!any) return any.error();
    auto row = any->bind_text(1, node).step();
    if (!row) return row.error();
    if (!*row) return 0;
  }
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto held = Stmt::prepare(*db_, "SELECT id FROM deliveries WHERE claimed_by = ?1 AND state = 'pending'", op);
  if (!held) return held.error();
  held->bind_text(1, node);
  std::vector<int64_t> claimed;
  for (;;) {
    auto row = held->step();
    if (!row) return row.error();
    if (!*row) break;
    claimed.push_back(held->int64(0));
  }
  const std::set<int64_t> mine(ids.begin(), ids.end());
  auto renew = Stmt::prepare(*db_, "UPDATE deliveries SET next_at = ?1 WHERE id = ?2", op);
  auto release = Stmt::prepare(*db_, "UPDATE deliveries SET next_at = ?1, claimed_by = NULL WHERE id = ?2", op);
  if (!renew) return renew.error();
  if (!release) return release.error();
  int released = 0;
  for (int64_t id : claimed) {
    Stmt& s = mine.count(id) ? *renew : *release;
    s.reset();
    if (auto r = s.bind_int(1, mine.count(id) ? until : t).bind_int(2, id).run(); !r) return r.error();
    released += mine.count(id) ? 0 : 1;
  }
  if (auto r = tx->commit(); !r) return r.error();
  return released;
}

fb::Result<std::optional<int64_t>, StoreError> SqlJobStore::next_delivery_at() {
  const std::string op = "next_delivery_at";
  auto s = Stmt::prepare(*db_, "SELECT MIN(next_at) FROM deliveries WHERE state = 'pending'", op);
  if (!s) return s.error();
  auto row = s->step();
  if (!row) return row.error();
  return s->opt_int64(0);
}

StoreStatus SqlJobStore::finish_delivery(int64_t id, std::string_view st, std::optional<int64_t> next_at,
                                      const std::optional<std::string>& error, std::string_view event,
                                      const std::optional<NewDelivery>& then, const std::optional<std::string>& node) {
  const std::string op = "delivery(" + std::to_string(id) + ", " + std::string(st) + ")";
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  if (node) {
    auto by = Stmt::prepare(*db_, "SELECT claimed_by FROM deliveries WHERE id = ?1 AND state = 'pending'", op);
    if (!by) return by.error();
    auto row = by->bind_int(1, id).step();
    if (!row) return row.error();
    const auto holder = *row ? by->opt_text(0) : std::nullopt;
    if (holder && *holder != *node)
      return StoreError{StoreErrc::conflict, op + ": claimed by " + *holder + " since " + *node + "'s claim ran out"};
  }
  auto s = Stmt::prepare(*db_,
                         "UPDATE deliveries SET state = ?1, next_at = COALESCE(?2, next_at), error = ?3, "
                         "attempts = attempts + 1, updated = ?4, claimed_by = NULL WHERE id = ?5 AND state = 'pending' "
                         "RETURNING job_id",
                         op);
  if (!s) return s.error();
  const int64_t t = now();
  auto row = s->bind_text(1, st).bind_opt_int(2, next_at).bind_opt_text(3, error).bind_int(4, t).bind_int(5, id).step();
  if (!row) return row.error();
  if (!*row) return not_found(op, "pending delivery " + std::to_string(id));
  const std::optional<int64_t> job = s->opt_int64(0);  // none: a forward
  if (auto r = s->run(); !r) return r;
  if (!job) return tx->commit();
  if (auto r = insert_event(*db_, *job, t, event, op); !r) return r;
  if (then) {
    if (auto r = insert_delivery(*db_, *job, *then, t, op); !r) return r;
    if (auto r = insert_event(*db_, *job, t, "to " + then->recipient + " instead", op); !r) return r;
  }
  return tx->commit();
}

fb::Result<StoreStats, StoreError> SqlJobStore::stats() {
  const std::string op = "stats";
  StoreStats st;
  auto j = Stmt::prepare(*db_, "SELECT direction, state, COUNT(*) FROM jobs GROUP BY direction, state ORDER BY 1, 2", op);
  if (!j) return j.error();
  for (;;) {
    auto row = j->step();
    if (!row) return row.error();
    if (!*row) break;
    st.jobs.push_back({j->text(0) == "in" ? Direction::in : Direction::out, j->text(1), j->int64(2)});
  }
  auto c = Stmt::prepare(*db_,
                         "SELECT direction, outcome, COUNT(*), COALESCE(SUM(pages), 0) FROM accounting "
                         "GROUP BY direction, outcome ORDER BY 1, 2",
                         op);
  if (!c) return c.error();
  for (;;) {
    auto row = c->step();
    if (!row) return row.error();
    if (!*row) break;
    st.calls.push_back({c->text(0) == "in" ? Direction::in : Direction::out, c->text(1), c->int64(2), c->int64(3)});
  }
  return st;
}

fb::Result<Delivery, StoreError> SqlJobStore::delivery(int64_t id) {
  const std::string op = "delivery(" + std::to_string(id) + ")";
  auto s = Stmt::prepare(*db_, std::string("SELECT ") + kDeliveryColumns + " FROM deliveries WHERE id = ?1", op);
  if (!s) return s.error();
  s->bind_int(1, id);
  auto rows = read_deliveries(*s);
  if (!rows) return rows.error();
  if (rows->empty()) return not_found(op, "delivery " + std::to_string(id));
  return rows->front();
}

fb::Result<bool, StoreError> SqlJobStore::delivery_bounced(int64_t id, const std::string& error,
                                                              const std::optional<NewDelivery>& then) {
  const std::string op = "delivery_bounced(" + std::to_string(id) + ")";
  if (error.empty()) return invalid(op, "a bounce needs its reason");
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto s = Stmt::prepare(*db_, "SELECT state, job_id, recipient, tag FROM deliveries WHERE id = ?1", op);
  if (!s) return s.error();
  auto row = s->bind_int(1, id).step();
  if (!row) return row.error();
  if (!*row) return not_found(op, "delivery " + std::to_string(id));
  const std::string st = s->text(0), recipient = s->text(2);
  const std::optional<int64_t> job = s->opt_int64(1);
  if (!s->opt_text(3) || !job) return invalid(op, "only a received fax's mail has a bounce address");
  if (st == "failed") return false;
  if (st == "pending") {
    return StoreError{StoreErrc::conflict, op + ": the delivery is still pending; its bounce must come again"};
  }
  const int64_t t = now();
  auto u = Stmt::prepare(*db_, "UPDATE deliveries SET state = 'failed', error = ?1, updated = ?2 WHERE id = ?3", op);
  if (!u) return u.error();
  if (auto r = u->bind_text(1, error).bind_int(2, t).bind_int(3, id).run(); !r) return r.error();
  if (auto r = insert_event(*db_, *job, t, "the mail to " + recipient + " bounced: " + error, op); !r) return r.error();
  if (then) {
    if (auto r = insert_delivery(*db_, *job, *then, t, op); !r) return r.error();
    if (auto r = insert_event(*db_, *job, t, "to " + then->recipient + " instead", op); !r) return r.error();
  }
  if (auto r = tx->commit(); !r) return r.error();
  return true;
}

StoreStatus SqlJobStore::set_outcome(int64_t id, std::string_view outcome) {
  const std::string op = call("set_outcome", id);
  return change_job(id, op, [&](const JobHead&) -> StoreStatus {
    auto s = Stmt::prepare(*db_, "UPDATE jobs SET outcome = ?1 WHERE id = ?2", op);
    if (!s) return s.error();
    return s->bind_text(1, outcome).bind_int(2, id).run();
  });
}

fb::Result<std::vector<Job>, StoreError> SqlJobStore::to_report(int limit) {
  const std::string op = "to_report";
  if (limit <= 0) return std::vector<Job>{};
  auto s = select_jobs(*db_,
                       "WHERE direction = 'out' AND ((state IN ('done', 'failed', 'cancelled') AND "
                       "(reported IS NULL OR reported = 'delayed') AND NOT EXISTS (SELECT 1 FROM jobs s "
                       "WHERE s.message_id = jobs.message_id AND s.state NOT IN ('done', 'failed', 'cancelled'))) "
                       "OR (state = 'retry' AND reported IS NULL)) "
                       "ORDER BY message_id, id LIMIT ?1",
                       op);
  if (!s) return s.error();
  s->bind_int(1, limit);
  return read_jobs(*s);
}

StoreStatus SqlJobStore::mark_reported(const std::vector<int64_t>& jobs, std::string_view reported,
                                    const std::vector<JobDelivery>& reports, std::string_view event) {
  const std::string op = "mark_reported";
  if (jobs.empty()) return invalid(op, "no job");
  if (reported != "delayed" && reported != "final") return invalid(op, "reported is delayed or final");
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  const int64_t t = now();
  // Only a job not reported so yet (another node, leading before, may have reported it since
  // it was read): else nothing is written.
  auto s = Stmt::prepare(*db_,
                         "UPDATE jobs SET reported = ?1 WHERE id = ?2 AND (reported IS NULL OR "
                         "(reported = 'delayed' AND ?1 = 'final')) RETURNING id",
                         op);
  if (!s) return s.error();
  for (int64_t id : jobs) {
    s->reset();
    auto row = s->bind_text(1, reported).bind_int(2, id).step();
    if (!row) return row.error();
    if (!*row) {
      return StoreError{StoreErrc::conflict,
                        op + ": job " + std::to_string(id) + " was already reported " + std::string(reported) +
                            " (or is unknown)"};
    }
    if (auto r = s->run(); !r) return r;
    if (auto r = insert_event(*db_, id, t, event, op); !r) return r;
  }
  for (const auto& rep : reports) {
    if (auto r = insert_delivery(*db_, rep.job, rep.delivery, t, op); !r) return r;
  }
  return tx->commit();
}

namespace {

fb::Result<int64_t, StoreError> insert_accounting(sql::Connection& db, const AccountingRecord& a, const std::string& op) {
  auto s = Stmt::prepare(db,
                         "INSERT INTO accounting (time, direction, job_id, number, caller, trunk, media, pages, "
                         "pages_total, bit_rate, duration, outcome, sender, remote_ident, detected_by, node, "
                         "sip_status, page_results) VALUES "
                         "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) RETURNING id",
                         op);
  if (!s) return s.error();
  nlohmann::json pages = nlohmann::json::array();
  for (const auto& p : a.page_results) pages.push_back({{"page", p.page}, {"rows", p.rows}, {"bad_rows", p.bad_rows}});
  s->bind_opt_text(16, a.node.empty() ? std::nullopt : std::optional<std::string>(a.node));
  // (none: NULL, so a record of a call cut short is read back by its page count)
  s->bind_int(17, a.sip_status).bind_opt_text(18, a.page_results.empty() ? std::nullopt : std::optional<std::string>(pages.dump()));
  auto row = s->bind_int(1, a.time)
                 .bind_text(2, to_string(a.direction))
                 .bind_int(3, a.job_id)
                 .bind_text(4, a.number)
                 .bind_text(5, a.caller)
                 .bind_text(6, a.trunk)
                 .bind_text(7, a.media)
                 .bind_int(8, a.pages)
                 .bind_int(9, a.pages_total)
                 .bind_int(10, a.bit_rate)
                 .bind_int(11, a.duration)
                 .bind_text(12, a.outcome)
                 .bind_text(13, a.sender)
                 .bind_opt_text(14, a.remote_ident)
                 .bind_opt_text(15, a.detected_by)
                 .step();
  if (!row) return row.error();
  const int64_t id = s->int64(0);
  if (auto r = s->run(); !r) return r.error();
  return id;
}

}  // namespace

fb::Result<int64_t, StoreError> SqlJobStore::add_accounting(const AccountingRecord& a) {
  return insert_accounting(*db_, a, "add_accounting(" + std::to_string(a.job_id) + ")");
}

fb::Result<std::vector<JobStore::BudgetCall>, StoreError> SqlJobStore::budget_calls_since(int64_t since) {
  const std::string op = "budget_calls_since";
  // The calls in progress first: one that ends before the finished calls are read is counted
  // twice until the next reading, never not at all.
  auto read = [&](const std::string& sql, bool in_progress) -> fb::Result<std::vector<BudgetCall>, StoreError> {
    auto s = Stmt::prepare(*db_, sql, op);
    if (!s) return s.error();
    if (!in_progress) s->bind_int(1, since);
    std::vector<BudgetCall> out;
    for (;;) {
      auto row = s->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back({s->int64(0), s->int64(1), s->text(2), s->opt_text(3), int(s->int64(4)), in_progress});
    }
    return out;
  };
  // A call in progress: the pages it is to send, from the pages confirmed when it began (those
  // its earlier calls' records hold), so that the pages it has sent so far count too.
  const std::string sent = "COALESCE((SELECT MAX(a.pages) FROM accounting a WHERE a.job_id = j.id), 0)";
  auto now = read("SELECT j.updated, j.id, COALESCE(j.sender, ''), m.auth_user, CASE WHEN j.pages > " + sent +
                      " THEN j.pages - " + sent +
                      " ELSE 0 END "
                  "FROM jobs j LEFT JOIN messages m ON m.id = j.message_id "
                  "WHERE j.direction = 'out' AND j.state = 'sending' ORDER BY j.id",
                  true);
  if (!now) return now.error();
  auto done = read("SELECT a.time, a.job_id, a.sender, m.auth_user, a.pages FROM accounting a "
                   "LEFT JOIN jobs j ON j.id = a.job_id LEFT JOIN messages m ON m.id = j.message_id "
                   "WHERE a.direction = 'out' AND a.time >= ?1 ORDER BY a.time, a.id",
                   false);
  if (!done) return done.error();
  done->insert(done->end(), now->begin(), now->end());
  return std::move(*done);
}

fb::Result<std::vector<Job>, StoreError> SqlJobStore::to_finish(int limit) {
  const std::string op = "to_finish";
  if (limit <= 0) return std::vector<Job>{};
  auto s = select_jobs(*db_,
                       "WHERE direction = 'in' AND state = 'delivering' "
                       "AND EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id) "
                       "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id AND d.state = 'pending') "
                       "ORDER BY id LIMIT ?1",
                       op);
  if (!s) return s.error();
  s->bind_int(1, limit);
  return read_jobs(*s);
}

StoreStatus SqlJobStore::delivery_done(int64_t id, std::string_view event) {
  return finish_delivery(id, "done", std::nullopt, std::nullopt, event);
}

StoreStatus SqlJobStore::delivery_failed(int64_t id, const std::string& error, const std::string& node,
                                         const std::optional<NewDelivery>& then) {
  return finish_delivery(id, "failed", std::nullopt, error, "delivery failed: " + error, then, node);
}

StoreStatus SqlJobStore::delivery_deferred(int64_t id, int64_t next_at, const std::string& error, const std::string& node) {
  return finish_delivery(id, "pending", next_at, error, "delivery deferred to " + format_utc(next_at) + ": " + error,
                         std::nullopt, node);
}

fb::Result<std::vector<std::string>, StoreError> SqlJobStore::to_complete(int limit) {
  const std::string op = "to_complete";
  auto s = Stmt::prepare(*db_,
                         "SELECT id FROM messages WHERE state = 'active' AND NOT EXISTS (SELECT 1 FROM jobs j "
                         "WHERE j.message_id = messages.id AND NOT (j.state IN ('done', 'failed', 'cancelled') "
                         "AND COALESCE(j.reported, '') = 'final')) LIMIT ?1",
                         op);
  if (!s) return s.error();
  s->bind_int(1, limit);
  std::vector<std::string> ids;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return ids;
    ids.push_back(s->text(0));
  }
}

fb::Result<std::vector<JobStore::Purged>, StoreError> SqlJobStore::purge(int64_t before) {
  const std::string op = "purge";
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto s = Stmt::prepare(
      *db_,
      "SELECT id, direction FROM jobs WHERE updated < ?1 AND ((direction = 'in' AND state IN ('done', 'failed')) "
      "OR (direction = 'out' AND state IN ('done', 'failed', 'cancelled') AND reported = 'final')) "
      "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id AND d.state = 'pending') "
      // Nor while its webhook has news to tell (given up after 72 h at most).
      "AND NOT EXISTS (SELECT 1 FROM webhook_events w WHERE w.job_id = jobs.id AND w.status = 'pending') "
      // A received fax that nobody took after all (a late bounce, then the postmaster's copy
      // failed too) is kept for the operator.
      "AND NOT (direction = 'in' AND state = 'done' AND pages > 0 "
      "AND EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id) "
      "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id AND d.state = 'done'))",
      op);
  if (!s) return s.error();
  s->bind_int(1, before);
  std::vector<Purged> out;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back({s->int64(0), s->text(1) == "out" ? Direction::out : Direction::in, {}});
  }
  auto files = Stmt::prepare(*db_, "SELECT mail_path FROM deliveries WHERE job_id = ?1", op);
  if (!files) return files.error();
  for (auto& p : out) {
    files->reset();
    files->bind_int(1, p.id);
    for (;;) {
      auto row = files->step();
      if (!row) return row.error();
      if (!*row) break;
      p.mails.push_back(files->text(0));
    }
  }
  for (const char* sql : {"DELETE FROM events WHERE job_id = ?1", "DELETE FROM deliveries WHERE job_id = ?1",
                          "DELETE FROM webhook_events WHERE job_id = ?1", "DELETE FROM jobs WHERE id = ?1"}) {
    auto d = Stmt::prepare(*db_, sql, op);
    if (!d) return d.error();
    for (const auto& p : out) {
      d->reset();
      if (auto r = d->bind_int(1, p.id).run(); !r) return r.error();
    }
  }
  auto fwd = Stmt::prepare(*db_,
                           "DELETE FROM deliveries WHERE job_id IS NULL AND state != 'pending' AND updated < ?1 "
                           "RETURNING mail_path",
                           op);
  if (!fwd) return fwd.error();
  Purged forwards{0, Direction::in, {}};
  fwd->bind_int(1, before);
  for (;;) {
    auto row = fwd->step();
    if (!row) return row.error();
    if (!*row) break;
    forwards.mails.push_back(fwd->text(0));
  }
  if (!forwards.mails.empty()) out.push_back(std::move(forwards));
  auto m = Stmt::prepare(*db_,
                         "DELETE FROM messages WHERE state = 'done' AND NOT EXISTS "
                         "(SELECT 1 FROM jobs WHERE jobs.message_id = messages.id)",
                         op);
  if (!m) return m.error();
  if (auto r = m->run(); !r) return r.error();
  if (auto r = tx->commit(); !r) return r.error();
  return out;
}


fb::Result<std::optional<int64_t>, StoreError> SqlJobStore::claim(int64_t id, const std::string& node,
                                                                       int64_t lease_until, int calls_per_number) {
  const std::string op = call("claim", id);
  if (node.empty()) return invalid(op, "a claim needs a node name");
  auto tx = Tx::begin_claim(*db_, op);
  if (!tx) return tx.error();
  if (db_->dialect() == sql::Dialect::postgresql) {
    // Claims on several nodes run at once (sql.hpp begin_claim): the job's row is locked, or
    // skipped when another node is claiming it this moment; and the number it calls is locked,
    // so the count of calls to it below sees every other claim of it (its own key space: the
    // two-key advisory locks never meet the store's one-key writer lock).
    auto row_lock = Stmt::prepare(*db_,
                                  "SELECT number FROM jobs WHERE id = ?1 AND direction = 'out' "
                                  "AND state IN ('ready', 'retry') FOR UPDATE SKIP LOCKED",
                                  op);
    if (!row_lock) return row_lock.error();
    auto got = row_lock->bind_int(1, id).step();
    if (!got) return got.error();
    if (!*got) return std::optional<int64_t>{};  // taken, being taken, or not claimable: nothing written
    const std::string number = row_lock->text(0);
    if (auto r = row_lock->run(); !r) return r.error();
    if (calls_per_number > 0) {
      auto number_lock = Stmt::prepare(*db_, "SELECT pg_advisory_xact_lock(1718182002, hashtext(?1))", op);
      if (!number_lock) return number_lock.error();
      if (auto r = number_lock->bind_text(1, number).run(); !r) return r.error();
    }
  }
  auto s = Stmt::prepare(*db_,
                         "UPDATE jobs SET state = 'sending', owner = ?1, lease_until = ?2, attempt = attempt + 1, "
                         "error = NULL, retry_at = NULL, updated = ?3 "
                         "WHERE id = ?4 AND direction = 'out' AND state IN ('ready', 'retry') "
                         "AND (?5 <= 0 OR (SELECT COUNT(*) FROM jobs o WHERE o.direction = 'out' AND o.state = 'sending' "
                         "AND o.number = jobs.number) < ?5) RETURNING attempt",
                         op);
  if (!s) return s.error();
  const int64_t t = now();
  auto row = s->bind_text(1, node).bind_int(2, lease_until).bind_int(3, t).bind_int(4, id).bind_int(5, calls_per_number).step();
  if (!row) return row.error();
  if (!*row) return std::optional<int64_t>{};  // not claimable: nothing written
  const int64_t attempt = s->int64(0);
  if (auto r = s->run(); !r) return r.error();
  if (auto e = insert_event(*db_, id, t, "state sending (attempt " + std::to_string(attempt) + " by " + node + ")", op);
      !e)
    return e.error();
  if (auto r = tx->commit(); !r) return r.error();
  return std::optional<int64_t>(attempt);
}

namespace {

// The fencing check: the job is sending under `attempt`, else why not.
StoreStatus check_attempt(sql::Connection& db, int64_t id, int64_t attempt, const std::string& op) {
  auto s = Stmt::prepare(db, "SELECT state, attempt, owner FROM jobs WHERE id = ?1", op);
  if (!s) return s.error();
  auto row = s->bind_int(1, id).step();
  if (!row) return row.error();
  if (!*row) return not_found(op, "job " + std::to_string(id));
  if (s->text(0) == state::sending && s->int64(1) == attempt) return fb::Unit{};
  return StoreError{StoreErrc::conflict, op + ": job " + std::to_string(id) + " is no longer sending under attempt " +
                                             std::to_string(attempt) + " (it is " + s->text(0) + ", attempt " +
                                             std::to_string(s->int64(1)) + " by " +
                                             s->opt_text(2).value_or("no node") + ")"};
}

}  // namespace

StoreStatus SqlJobStore::confirm_pages(int64_t id, int64_t attempt, int pages, int pages_done) {
  const std::string op = call("confirm_pages", id);
  if (pages < 0 || pages_done < 0 || pages_done > pages) {
    return invalid(op, "pages_done " + std::to_string(pages_done) + " is not within 0.." + std::to_string(pages));
  }
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  if (auto r = check_attempt(*db_, id, attempt, op); !r) return r;
  auto s = Stmt::prepare(*db_, "UPDATE jobs SET pages = ?1, pages_done = ?2, updated = ?3 WHERE id = ?4", op);
  if (!s) return s.error();
  if (auto r = s->bind_int(1, pages).bind_int(2, pages_done).bind_int(3, now()).bind_int(4, id).run(); !r) return r;
  return tx->commit();
}

fb::Result<int, StoreError> SqlJobStore::renew_leases(const std::string& node, int64_t t, int64_t lease_until) {
  const std::string op = "renew_leases(" + node + ")";
  // A write transaction (the writers' lock): a renewal never falls between another node's
  // takeover check and its write (record_call).
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto s = Stmt::prepare(*db_,
                         "UPDATE jobs SET lease_until = ?1 WHERE owner = ?2 AND state IN ('sending', 'receiving') "
                         "AND (lease_until IS NULL OR lease_until >= ?3)",
                         op);
  if (!s) return s.error();
  if (auto r = s->bind_int(1, lease_until).bind_text(2, node).bind_int(3, t).run(); !r) return r.error();
  int n = int(db_->changes());
  // The messages it holds with a job still to render, even after a lapse (a store outage longer
  // than lease_s): a message another node took over has that node as its owner.
  auto m = Stmt::prepare(*db_,
                         "UPDATE messages SET lease_until = ?1 WHERE owner = ?2 AND state = 'active' AND "
                         "EXISTS (SELECT 1 FROM jobs j WHERE j.message_id = messages.id AND j.state IN ('queued', "
                         "'rendering'))",
                         op);
  if (!m) return m.error();
  if (auto r = m->bind_int(1, lease_until).bind_text(2, node).run(); !r) return r.error();
  n += int(db_->changes());
  if (auto r = tx->commit(); !r) return r.error();
  return n;
}

fb::Result<std::vector<std::string>, StoreError> SqlJobStore::take_over_messages(const std::string& node, int64_t t,
                                                                                int64_t lease_until) {
  const std::string op = "take_over_messages(" + node + ")";
  // (From the jobs waiting to be rendered, by their state's index: few, however many messages.)
  const char* waiting =
      "id IN (SELECT j.message_id FROM jobs j WHERE j.state IN ('queued', 'rendering') AND j.message_id IS NOT NULL) "
      "AND state = 'active' AND (owner IS NULL OR (owner <> ?1 AND (lease_until IS NULL OR lease_until < ?2)))";
  {  // Asked every few seconds by every node: the write lock only when there is one to take.
    auto any = Stmt::prepare(*db_, std::string("SELECT 1 FROM messages WHERE ") + waiting + " LIMIT 1", op);
    if (!any) return any.error();
    auto row = any->bind_text(1, node).bind_int(2, t).step();
    if (!row) return row.error();
    if (!*row) return std::vector<std::string>{};
  }
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto s = Stmt::prepare(
      *db_, std::string("UPDATE messages SET owner = ?1, lease_until = ?3 WHERE ") + waiting + " RETURNING id", op);
  if (!s) return s.error();
  s->bind_text(1, node).bind_int(2, t).bind_int(3, lease_until);
  std::vector<std::string> ids;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) break;
    ids.push_back(s->text(0));
  }
  auto ev = Stmt::prepare(*db_,
                          "INSERT INTO events (job_id, time, text) SELECT id, ?1, ?2 FROM jobs "
                          "WHERE message_id = ?3 AND state IN ('queued', 'rendering')",
                          op);
  if (!ev) return ev.error();
  const std::string text = "to be rendered by " + node + ": the node that held it stopped";
  for (const auto& id : ids) {
    ev->reset();
    if (auto r = ev->bind_int(1, now()).bind_text(2, text).bind_text(3, id).run(); !r) return r.error();
  }
  if (auto r = tx->commit(); !r) return r.error();
  std::sort(ids.begin(), ids.end());
  return ids;
}

fb::Result<std::vector<Job>, StoreError> SqlJobStore::to_recover(const std::string& node, int64_t t) {
  auto s = select_jobs(*db_,
                       "WHERE state IN ('sending', 'receiving') AND (owner IS NULL OR owner = ?1 OR "
                       "(direction = 'out' AND (lease_until IS NULL OR lease_until < ?2))) ORDER BY id",
                       "to_recover(" + node + ")");
  if (!s) return s.error();
  s->bind_text(1, node).bind_int(2, t);
  return read_jobs(*s);
}

StoreStatus SqlJobStore::record_call(const CallRecord& c) {
  const std::string op = call("record_call", c.job);
  if (!is_state(Direction::out, c.state) && !is_state(Direction::in, c.state)) {
    return invalid(op, "unknown state '" + c.state + "'");
  }
  if (c.transfer && (c.transfer->pages < 0 || c.transfer->pages_done < 0 || c.transfer->pages_done > c.transfer->pages ||
                     c.transfer->bad_rows < 0)) {
    return invalid(op, "pages_done " + std::to_string(c.transfer->pages_done) + " is not within 0.." +
                           std::to_string(c.transfer->pages));
  }
  if (c.reception && (c.reception->bit_rate < 0 || c.reception->duration < 0)) {
    return invalid(op, "rate and duration must not be negative");
  }
  return change_job(c.job, op, [&](const JobHead& head) -> StoreStatus {
    if (!is_state(head.direction, c.state)) {
      return invalid(op, "'" + c.state + "' is not a state of an " +
                             std::string(head.direction == Direction::in ? "inbound" : "outbound") + " job");
    }
    if (c.expired_before) {  // a takeover: only of a claim that ran out
      auto l = Stmt::prepare(*db_, "SELECT lease_until FROM jobs WHERE id = ?1", op);
      if (!l) return l.error();
      if (auto row = l->bind_int(1, c.job).step(); !row) return row.error();
      const auto until = l->opt_int64(0);
      if (until && *until >= *c.expired_before) {
        return StoreError{StoreErrc::conflict, op + ": job " + std::to_string(c.job) +
                                                   "'s claim was renewed; its node is alive"};
      }
      if (auto r = l->run(); !r) return r;
    }
    if (head.direction == Direction::out) {
      if (auto r = check_attempt(*db_, c.job, c.attempt, op); !r) return r;
    } else if (head.state != state::receiving) {
      // A reception is recorded once: by its call, or by the start that closed it (a late
      // result from a node whose claim ran out finds it closed).
      return StoreError{StoreErrc::conflict, op + ": the reception of job " + std::to_string(c.job) +
                                                 " was already recorded (it is " + head.state + ")"};
    }
    auto s = Stmt::prepare(
        *db_,
        "UPDATE jobs SET dials = dials + ?1, tries = tries + ?2, "
        "pages = CASE WHEN ?3 <> 0 THEN ?4 ELSE pages END, pages_done = CASE WHEN ?3 <> 0 THEN ?5 ELSE pages_done END, "
        "bad_rows = CASE WHEN ?3 <> 0 THEN ?6 ELSE bad_rows END, remote_ident = CASE WHEN ?3 <> 0 THEN ?7 ELSE remote_ident END, "
        "subaddress = COALESCE(?8, subaddress), bit_rate = CASE WHEN ?9 <> 0 THEN ?10 ELSE bit_rate END, "
        "ecm = CASE WHEN ?9 <> 0 THEN ?11 ELSE ecm END, duration = CASE WHEN ?9 <> 0 THEN ?12 ELSE duration END, "
        "media = CASE WHEN ?13 IS NULL THEN media ELSE ?13 END, "
        "detected_by = CASE WHEN ?13 IS NULL THEN detected_by ELSE ?14 END, outcome = COALESCE(?15, outcome), "
        "state = ?16, error = ?17, retry_at = ?18, lease_until = NULL, updated = ?19 WHERE id = ?20 "
        "RETURNING number, caller",
        op);
    if (!s) return s.error();
    const int64_t t = now();
    const CallRecord::Transfer tr = c.transfer.value_or(CallRecord::Transfer{});
    const CallRecord::Reception rc = c.reception.value_or(CallRecord::Reception{});
    auto opt = [](const std::string& v) { return v.empty() ? std::nullopt : std::optional<std::string>(v); };
    s->bind_int(1, c.add_dial ? 1 : 0).bind_int(2, c.add_try ? 1 : 0).bind_int(3, c.transfer ? 1 : 0);
    s->bind_int(4, tr.pages).bind_int(5, tr.pages_done).bind_int(6, tr.bad_rows).bind_opt_text(7, tr.remote_ident);
    s->bind_opt_text(8, c.subaddress).bind_int(9, c.reception ? 1 : 0).bind_int(10, rc.bit_rate);
    s->bind_int(11, rc.ecm ? 1 : 0).bind_int(12, rc.duration).bind_opt_text(13, opt(c.media));
    s->bind_opt_text(14, opt(c.detected_by)).bind_opt_text(15, c.outcome).bind_text(16, c.state);
    s->bind_opt_text(17, c.error).bind_opt_int(18, c.retry_at).bind_int(19, t).bind_int(20, c.job);
    auto row = s->step();
    if (!row) return row.error();
    const std::string number = s->text(0), caller = s->text(1);
    if (auto r = s->run(); !r) return r;
    for (const auto& e : c.events) {
      if (auto r = insert_event(*db_, c.job, t, e, op); !r) return r;
    }
    if (auto r = insert_event(*db_, c.job, t, "state " + c.state + (c.error ? ": " + *c.error : ""), op); !r)
      return r;
    if (c.accounting) {
      AccountingRecord a = *c.accounting;
      if (a.job_id == 0) a.job_id = c.job;
      if (a.number.empty()) a.number = number;
      if (a.caller.empty()) a.caller = caller;
      if (auto r = insert_accounting(*db_, a, op); !r) return r.error();
    }
    return fb::Unit{};
  });
}

fb::Result<std::vector<Job>, StoreError> SqlJobStore::to_take_over(const std::string& node, int64_t t) {
  auto s = select_jobs(*db_,
                       "WHERE state IN ('sending', 'receiving') AND owner IS NOT NULL AND owner != ?1 AND "
                       "lease_until IS NOT NULL AND lease_until < ?2 ORDER BY id",
                       "to_take_over(" + node + ")");
  if (!s) return s.error();
  s->bind_text(1, node).bind_int(2, t);
  return read_jobs(*s);
}

StoreStatus SqlJobStore::change_waiting(int64_t id, int64_t attempt, const std::string& op, const std::string& set_sql,
                                           const std::function<void(Stmt&)>& bind, const std::string& event) {
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto head = load_head(*db_, id, op);
  if (!head) return head.error();
  if (head->direction != Direction::out) return invalid(op, "job " + std::to_string(id) + " is inbound");
  if (head->state != state::ready && head->state != state::retry) {
    return StoreError{StoreErrc::conflict, op + ": job " + std::to_string(id) + " is no longer waiting (it is " +
                                               head->state + ")"};
  }
  auto a = Stmt::prepare(*db_, "SELECT attempt FROM jobs WHERE id = ?1", op);
  if (!a) return a.error();
  if (auto row = a->bind_int(1, id).step(); !row) return row.error();
  if (a->int64(0) != attempt) {
    return StoreError{StoreErrc::conflict, op + ": job " + std::to_string(id) + " was claimed since (attempt " +
                                               std::to_string(a->int64(0)) + ")"};
  }
  if (auto r = a->run(); !r) return r;
  auto s = Stmt::prepare(*db_, "UPDATE jobs SET " + set_sql + ", updated = ?1 WHERE id = ?2", op);
  if (!s) return s.error();
  const int64_t t = now();
  s->bind_int(1, t).bind_int(2, id);
  bind(*s);
  if (auto r = s->run(); !r) return r;
  if (auto r = insert_event(*db_, id, t, event, op); !r) return r;
  return tx->commit();
}

StoreStatus SqlJobStore::refuse_waiting(int64_t id, int64_t attempt, std::string_view outcome,
                                           const std::string& error) {
  const std::string o(outcome);
  return change_waiting(
      id, attempt, call("refuse_waiting", id), "state = 'failed', outcome = ?3, error = ?4, retry_at = NULL",
      [&](Stmt& s) { s.bind_text(3, o).bind_text(4, error); }, "state failed: " + error);
}

StoreStatus SqlJobStore::postpone_waiting(int64_t id, int64_t attempt, int64_t retry_at, std::string_view event) {
  return change_waiting(
      id, attempt, call("postpone_waiting", id), "retry_at = ?3", [&](Stmt& s) { s.bind_int(3, retry_at); }, std::string(event));
}

fb::Result<int64_t, StoreError> SqlJobStore::add_forward(const NewDelivery& d) {
  const std::string op = "add_forward(" + d.recipient + ")";
  if (d.kind != DeliveryKind::forward) return invalid(op, "not a forward");
  if (d.recipient.empty() || d.mail_path.empty()) return invalid(op, "a forward needs a recipient and a mail");
  auto s = Stmt::prepare(*db_,
                         "INSERT INTO deliveries (job_id, recipient, kind, state, mail_path, message_id, created, "
                         "updated) VALUES (NULL, ?1, 'forward', 'pending', ?2, ?3, ?4, ?4) RETURNING id",
                         op);
  if (!s) return s.error();
  auto row = s->bind_text(1, d.recipient).bind_text(2, d.mail_path).bind_text(3, d.message_id).bind_int(4, now()).step();
  if (!row) return row.error();
  const int64_t id = s->int64(0);
  if (auto r = s->run(); !r) return r.error();
  return id;
}

}  // namespace queue

namespace queue {
namespace {

constexpr const char* kWebhookColumns =
    "w.id, w.job_id, w.event, w.state, w.time, w.status, w.attempts, w.next_at, w.error, "
    "COALESCE(w.url, m.webhook_url, ''), COALESCE(w.\"user\", m.auth_user, '') "
    "FROM webhook_events w JOIN jobs j ON j.id = w.job_id LEFT JOIN messages m ON m.id = j.message_id ";

fb::Result<std::vector<WebhookEvent>, StoreError> read_webhooks(Stmt& s) {
  std::vector<WebhookEvent> out;
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return out;
    WebhookEvent e;
    e.id = s.int64(0);
    e.job_id = s.int64(1);
    e.event = s.text(2);
    e.state = s.text(3);
    e.time = s.int64(4);
    e.status = s.text(5);
    e.attempts = int(s.int64(6));
    e.next_at = s.int64(7);
    e.error = s.opt_text(8);
    e.url = s.text(9);
    e.user = s.text(10);
    out.push_back(std::move(e));
  }
}

}  // namespace

fb::Result<std::vector<WebhookEvent>, StoreError> SqlJobStore::claim_webhooks(int64_t t, int64_t until, int limit) {
  const std::string op = "claim_webhooks";
  if (limit <= 0) return std::vector<WebhookEvent>{};
  {  // Asked every second: the write lock only when there is something to claim.
    auto any = Stmt::prepare(*db_, "SELECT 1 FROM webhook_events WHERE status = 'pending' AND next_at <= ?1 LIMIT 1", op);
    if (!any) return any.error();
    auto row = any->bind_int(1, t).step();
    if (!row) return row.error();
    if (!*row) return std::vector<WebhookEvent>{};
  }
  auto tx = Tx::begin(*db_, op);
  if (!tx) return tx.error();
  auto s = Stmt::prepare(*db_,
                         std::string("SELECT ") + kWebhookColumns +
                             "WHERE w.status = 'pending' AND w.next_at <= ?1 AND NOT EXISTS (SELECT 1 FROM "
                             "webhook_events e WHERE e.job_id = w.job_id AND e.status = 'pending' AND e.id < w.id "
                             // one receiver's order: a user's own webhook does not wait behind another's
                             "AND COALESCE(e.url, '') = COALESCE(w.url, '') AND COALESCE(e.user, '') = COALESCE(w.user, '')) "
                             "ORDER BY w.id LIMIT ?2",
                         op);
  if (!s) return s.error();
  s->bind_int(1, t).bind_int(2, limit);
  auto due = read_webhooks(*s);
  if (!due) return due.error();
  auto claim = Stmt::prepare(*db_, "UPDATE webhook_events SET next_at = ?1 WHERE id = ?2", op);
  if (!claim) return claim.error();
  for (const auto& e : *due) {
    claim->reset();
    if (auto r = claim->bind_int(1, until).bind_int(2, e.id).run(); !r) return r.error();
  }
  if (auto r = tx->commit(); !r) return r.error();
  return due;
}

StoreStatus SqlJobStore::webhook_attempted(int64_t id, std::string_view status, int64_t next_at,
                                              const std::optional<std::string>& error) {
  const std::string op = "webhook_attempted(" + std::to_string(id) + ")";
  if (status != "delivered" && status != "failed" && status != "pending") {
    return invalid(op, "status " + std::string(status));
  }
  auto s = Stmt::prepare(*db_,
                         "UPDATE webhook_events SET status = ?1, next_at = ?2, error = ?3, attempts = attempts + 1, "
                         "updated = ?4 WHERE id = ?5 RETURNING id",
                         op);
  if (!s) return s.error();
  s->bind_text(1, status).bind_int(2, next_at).bind_opt_text(3, error).bind_int(4, now()).bind_int(5, id);
  auto row = s->step();
  if (!row) return row.error();
  if (!*row) return not_found(op, "webhook event " + std::to_string(id));
  return s->run();
}

fb::Result<std::vector<WebhookEvent>, StoreError> SqlJobStore::webhooks(int64_t job) {
  auto s = Stmt::prepare(*db_, std::string("SELECT ") + kWebhookColumns + "WHERE w.job_id = ?1 ORDER BY w.id",
                         "webhooks(" + std::to_string(job) + ")");
  if (!s) return s.error();
  s->bind_int(1, job);
  return read_webhooks(*s);
}

}  // namespace queue

namespace queue {

fb::Result<std::vector<AccountingRecord>, StoreError> SqlJobStore::calls(int64_t job) {
  auto s = Stmt::prepare(*db_,
                         "SELECT time, direction, job_id, number, caller, trunk, media, pages, pages_total, bit_rate, "
                         "duration, outcome, sender, remote_ident, detected_by, node, sip_status, page_results "
                         "FROM accounting WHERE job_id = ?1 ORDER BY id",
                         "calls(" + std::to_string(job) + ")");
  if (!s) return s.error();
  s->bind_int(1, job);
  std::vector<AccountingRecord> out;
  for (;;) {
    auto row = s->step();
    if (!row) return row.error();
    if (!*row) return out;
    AccountingRecord a;
    a.time = s->int64(0);
    a.direction = s->text(1) == "in" ? Direction::in : Direction::out;
    a.job_id = s->int64(2);
    a.number = s->text(3);
    a.caller = s->text(4);
    a.trunk = s->text(5);
    a.media = s->text(6);
    a.pages = int(s->int64(7));
    a.pages_total = int(s->int64(8));
    a.bit_rate = int(s->int64(9));
    a.duration = int(s->int64(10));
    a.outcome = s->text(11);
    a.sender = s->text(12);
    a.remote_ident = s->opt_text(13);
    a.detected_by = s->opt_text(14);
    a.node = s->opt_text(15).value_or("");
    a.sip_status = int(s->int64(16));
    if (auto pages = s->opt_text(17)) {
      a.has_page_results = true;
      auto j = nlohmann::json::parse(*pages, nullptr, false);
      if (j.is_array()) {
        for (const auto& p : j) {
          if (p.is_object()) a.page_results.push_back({p.value("page", 0), p.value("rows", 0), p.value("bad_rows", 0)});
        }
      }
    }
    out.push_back(std::move(a));
  }
}

}  // namespace queue
