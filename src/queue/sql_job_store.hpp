// sql_job_store.hpp — the job store's operations (job_store.hpp says what each does) written
// once in SQL, over either backend of sql.hpp: SqliteJobStore (sqlite_job_store.hpp, one file,
// the embedded default) and PgJobStore (pg_job_store.hpp, PostgreSQL, the cluster store). Each
// backend creates and migrates its own schema; both hold the same tables and columns at
// kSchemaVersion, so every statement here runs on either.
//
// TRANSACTIONS: each operation that writes is one sql::Tx; writers are serialized by the
// backend (sql.hpp), so an operation that reads a job and then changes it sees no other writer
// in between (no lost update across processes or nodes).
// THREADS: one thread at a time per instance; several instances, in one process or several,
// may share one store.
#pragma once

#include <functional>
#include <memory>

#include "queue/job_store.hpp"
#include "queue/sql.hpp"

namespace queue {

// The schema both backends hold (SQLite's PRAGMA user_version, PostgreSQL's schema_version).
inline constexpr int kSchemaVersion = 17;

class SqlJobStore : public JobStore {
 public:
  fb::Result<std::vector<int64_t>, StoreError> enqueue_message(const NewMessage& msg, const std::vector<NewRecipient>& rcpts) override;
  StoreStatus enqueue_messages(const std::vector<std::pair<NewMessage, std::vector<NewRecipient>>>& batch) override;
  fb::Result<int64_t, StoreError> create_inbound(const NewInbound& in) override;
  fb::Result<Job, StoreError> job(int64_t id) override;
  fb::Result<std::vector<Job>, StoreError> jobs(const JobFilter& filter) override;
  fb::Result<std::vector<Job>, StoreError> next_ready(int64_t now, int limit) override;
  fb::Result<std::vector<Event>, StoreError> events(int64_t id) override;
  fb::Result<Message, StoreError> message(const std::string& id) override;
  StoreStatus set_state(int64_t id, std::string_view state, std::optional<std::string> error) override;
  StoreStatus set_pages(int64_t id, int pages, int pages_done) override;
  StoreStatus set_retry(int64_t id, std::optional<int64_t> retry_at) override;
  StoreStatus set_subaddress(int64_t id, std::optional<std::string> subaddress) override;
  StoreStatus set_transfer(int64_t id, int pages, int pages_done, int bad_rows, std::optional<std::string> remote_ident) override;
  fb::Result<int, StoreError> add_dial(int64_t id) override;
  fb::Result<int, StoreError> add_try(int64_t id) override;
  StoreStatus add_event(int64_t id, std::string_view text) override;
  StoreStatus set_reception(int64_t id, int bit_rate, bool ecm, int duration) override;
  StoreStatus set_media(int64_t id, std::string_view media, std::string_view detected_by) override;
  StoreStatus discard_inbound(int64_t id) override;
  fb::Result<std::vector<Job>, StoreError> to_route(int64_t now, int limit) override;
  StoreStatus add_deliveries(int64_t job, const std::vector<NewDelivery>& d, std::string_view event, bool first,
                             const std::vector<WebhookTarget>& webhooks, std::string_view routed_by) override;
  fb::Result<std::vector<Delivery>, StoreError> deliveries(int64_t job) override;
  fb::Result<std::vector<Delivery>, StoreError> due_deliveries(int64_t now, int limit) override;
  fb::Result<std::vector<Delivery>, StoreError> claim_deliveries(const std::string& node, int64_t now, int64_t until,
                                                                 int limit) override;
  fb::Result<int, StoreError> hold_deliveries(const std::string& node, int64_t now, int64_t until,
                                              const std::vector<int64_t>& ids) override;
  fb::Result<std::optional<int64_t>, StoreError> next_delivery_at() override;
  StoreStatus delivery_done(int64_t delivery, std::string_view event) override;
  StoreStatus delivery_failed(int64_t delivery, const std::string& error, const std::string& node,
                              const std::optional<NewDelivery>& then) override;
  StoreStatus delivery_deferred(int64_t delivery, int64_t next_at, const std::string& error,
                                const std::string& node) override;
  fb::Result<Delivery, StoreError> delivery(int64_t id) override;
  fb::Result<bool, StoreError> delivery_bounced(int64_t delivery, const std::string& error,
                                                const std::optional<NewDelivery>& then) override;
  StoreStatus set_outcome(int64_t id, std::string_view outcome) override;
  fb::Result<int64_t, StoreError> add_accounting(const AccountingRecord& a) override;
  fb::Result<std::vector<Job>, StoreError> to_report(int limit) override;
  StoreStatus mark_reported(const std::vector<int64_t>& jobs, std::string_view reported, const std::vector<JobDelivery>& reports, std::string_view event) override;
  fb::Result<std::vector<Job>, StoreError> to_finish(int limit) override;
  fb::Result<std::vector<std::string>, StoreError> to_complete(int limit) override;
  fb::Result<std::vector<JobStore::Purged>, StoreError> purge(int64_t before) override;
  StoreStatus cancel(int64_t id) override;
  fb::Result<StoreStats, StoreError> stats() override;
  fb::Result<std::vector<WebhookEvent>, StoreError> claim_webhooks(int64_t now, int64_t until, int limit) override;
  StoreStatus webhook_attempted(int64_t event, std::string_view status, int64_t next_at,
                                const std::optional<std::string>& error) override;
  fb::Result<std::vector<WebhookEvent>, StoreError> webhooks(int64_t job) override;
  fb::Result<std::vector<AccountingRecord>, StoreError> calls(int64_t job) override;
  StoreStatus set_message_state(const std::string& id, std::string_view state) override;
  fb::Result<std::optional<int64_t>, StoreError> claim(int64_t id, const std::string& node, int64_t lease_until,
                                                       int calls_per_number = 0) override;
  StoreStatus confirm_pages(int64_t id, int64_t attempt, int pages, int pages_done) override;
  fb::Result<int, StoreError> renew_leases(const std::string& node, int64_t now, int64_t lease_until) override;
  fb::Result<std::vector<Job>, StoreError> to_recover(const std::string& node, int64_t now) override;
  StoreStatus record_call(const CallRecord& call) override;
  fb::Result<int64_t, StoreError> add_forward(const NewDelivery& d) override;
  fb::Result<std::vector<Job>, StoreError> to_take_over(const std::string& node, int64_t now) override;
  fb::Result<std::vector<std::string>, StoreError> take_over_messages(const std::string& node, int64_t now,
                                                                      int64_t lease_until) override;
  StoreStatus refuse_waiting(int64_t id, int64_t attempt, std::string_view outcome, const std::string& error) override;
  StoreStatus postpone_waiting(int64_t id, int64_t attempt, int64_t retry_at, std::string_view event) override;
  // PostgreSQL keeps documents (table documents); SQLite keeps none (the node's spool does).
  bool shares_documents() const override;
  StoreStatus put_document(const std::string& name, std::string_view bytes) override;
  StoreStatus put_reception_pages(int64_t job, const std::string& node, const std::string& name,
                                  std::string_view bytes) override;
  fb::Result<std::optional<std::string>, StoreError> document(const std::string& name) override;
  StoreStatus remove_documents(const std::vector<std::string>& names) override;
  fb::Result<bool, StoreError> lead() override;
  fb::Result<std::vector<BudgetCall>, StoreError> budget_calls_since(int64_t since) override;
  fb::Result<int, StoreError> grant_channels(const std::string& node, const std::string& trunk, int want, int max,
                                             int64_t now, int64_t expires) override;
  StoreStatus drop_channel_grants(const std::string& node) override;
  fb::Result<std::vector<ChannelGrant>, StoreError> channel_grants(int64_t now) override;
  fb::Result<bool, StoreError> start_rendering(int64_t id) override;
  fb::Result<bool, StoreError> finish_rendering(
      int64_t id, int pages, const std::optional<std::string>& error,
      const std::optional<std::pair<std::string, std::string>>& document) override;
  fb::Result<std::optional<Digest>, StoreError> document_digest(const std::string& name) override;

 protected:
  SqlJobStore(std::unique_ptr<sql::Connection> db, StoreOptions options)
      : db_(std::move(db)), options_(std::move(options)) {}

 private:
  int64_t now() const;
  fb::Result<std::vector<int64_t>, StoreError> insert_message(const NewMessage& m, const std::vector<NewRecipient>& rcpts,
                                                              const std::string& op);
  fb::Result<int, StoreError> bump(int64_t id, const char* column, const char* op);
  StoreStatus finish_delivery(int64_t id, std::string_view state, std::optional<int64_t> next_at,
                              const std::optional<std::string>& error, std::string_view event,
                              const std::optional<NewDelivery>& then = std::nullopt,
                              const std::optional<std::string>& node = std::nullopt);
  // Changes an outbound job only while it waits (ready or retry): conflict otherwise.
  StoreStatus change_waiting(int64_t id, int64_t attempt, const std::string& op, const std::string& set_sql,
                             const std::function<void(sql::Stmt&)>& bind, const std::string& event);
  template <class Change>
  StoreStatus change_job(int64_t id, const std::string& op, Change&& change);

  std::unique_ptr<sql::Connection> db_;
  StoreOptions options_;
  uint64_t lead_session_ = 0;  // the session that holds the leader's lock (0: none)
};

}  // namespace queue
