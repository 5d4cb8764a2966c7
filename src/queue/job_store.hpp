// job_store.hpp — the durable record of every fax job: accepted messages, their outbound jobs
// (one per fax recipient), inbound receptions, and each job's history.
//
// JobStore is the interface every flow uses; each operation is one transaction. The embedded
// default is SqliteJobStore (sqlite_job_store.hpp; its operations are SqlJobStore's, sql_job_store.hpp); open_job_store() opens the one a [store]
// url names. One conformance suite (tests/queue/job_store_test.cpp) holds for every
// implementation.
//
// ARCHITECTURE.md (Durability): SMTP says 250 only after the spool file is committed
// (spool.hpp) and enqueue_message() has returned; that call commits the message and all its
// jobs in ONE transaction, so after a crash a message has all its jobs or none. A restart
// resumes every job from here.
// STANDARDS: RFC 3461 (SMTP DSN extension): NOTIFY and ORCPT are kept per job, RET and ENVID
// per message, decoded from xtext, for the report of dsn-and-status.md. INTERFACES.md: the
// `jobs`/`job` JSON fields and states (to_json).
// STATES: out: queued, rendering, ready, sending, retry, done, failed, cancelled;
// in: receiving, delivering, done, failed. done, failed and cancelled are final: a final job
// never changes state again (its outcome has been or is being reported), but may gain events.
// THREADS: all calls are synchronous and a JobStore is used by one thread at a time (the
// daemon's store thread). Several instances, in one process or several, may share one store.
// PARAMETERS: [store] url (default sqlite:<node.data_dir>/faxbridge.db); StoreOptions.
// LIMITS: JobFilter::limit (0 = no limit); no limit on recipients per message here: the SMTP
// server bounds them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "queue/webhook_target.hpp"
#include "queue/store_error.hpp"

namespace queue {

enum class Direction { out, in };
std::string_view to_string(Direction d);

// State names, for set_state() and JobFilter without typos.
namespace state {
inline constexpr std::string_view queued = "queued", rendering = "rendering", ready = "ready",
                                  sending = "sending", retry = "retry", done = "done", failed = "failed",
                                  cancelled = "cancelled", receiving = "receiving", delivering = "delivering";
}  // namespace state

bool is_state(Direction d, std::string_view state);
bool is_final_state(std::string_view state);

// RET of MAIL FROM (RFC 3461 §4.3): what of the original a failure report carries.
enum class Ret { unset, full, hdrs };

// An accepted SMTP message, already committed to the spool.
struct NewMessage {
  std::string id;          // the spool id (spool.hpp)
  std::string spool_path;  // <spool>/msg/<id>.eml
  std::string sender;      // envelope sender; "" for the null reverse path <>
  Ret ret = Ret::unset;
  std::optional<std::string> envid;  // ENVID, xtext decoded
  int64_t arrived = 0;               // unix seconds
  int64_t size = 0;                  // bytes of the spool file
  std::string client;                // the SMTP client's address, e.g. "192.0.2.7"
  std::optional<std::string> auth_user;
  // What MAIL FROM declared (RFC 6152 BODY=8BITMIME, RFC 6531 SMTPUTF8): a report that carries
  // the original (or its headers) must carry it in a form that needs neither (RFC 6533).
  bool body_8bit = false;
  bool smtputf8 = false;
  // An API submission's webhook (http or https URL): each state change of its jobs is announced
  // there, signed with the key of its auth_user (WebhookEvent).
  std::optional<std::string> webhook_url;
  // An API submission's send_after (unix seconds): its jobs are not dialled before it.
  std::optional<int64_t> not_before;
  // The message's bytes, for a store that shares documents (JobStore::shares_documents): kept
  // as the document "msg/<id>.eml" in the transaction that commits the message, so its 250
  // means every node can read it. Not read back by message().
  std::optional<std::string> body;
  // The node that accepted it, which renders it (issue 17): it holds the message until
  // lease_until, renewed by renew_leases while a job of it waits to be rendered; a node that
  // dies has its messages taken over (take_over_messages). "" / nullopt: held by none.
  std::string node;
  std::optional<int64_t> lease_until;
};

// Message states: active while any job is in progress; done when every job is final and
// reported, so its spool file may go.
struct Message : NewMessage {
  std::string state;
};

// One fax recipient of a message (one RCPT TO); becomes one outbound job.
struct NewRecipient {
  std::string recipient;                  // the address as given, e.g. "FAX=+12025550100@fax.example.com"
  std::string number;                     // E.164, "+12025550100"
  std::optional<std::string> subaddress;  // T.33 subaddress
  std::string caller;                     // our station id for this call
  std::optional<std::string> notify;  // "NEVER" or a comma list of SUCCESS,FAILURE,DELAY; nullopt: not given
  std::optional<std::string> orcpt;   // xtext decoded, with its addr-type: "rfc822;FAX=+1...@gw"
  int priority = 0;                   // +1 urgent, 0 normal, -1 non-urgent (the mail's Priority)
};

// A fax call arriving over SIP; becomes one inbound job in state receiving.
struct NewInbound {
  std::string number;  // the called DID
  std::optional<std::string> subaddress;
  std::string caller;  // the caller id ("" when withheld)
  std::optional<std::string> caller_name;  // the From display name
  std::optional<std::string> referred_by;  // RFC 3892 Referred-By of the INVITE, as received
  std::string node;                        // the node receiving it: the job's owner ("" none)
  std::optional<int64_t> lease_until;      // until when that node's claim holds (renew_leases)
};

// A webhook announcement (issue 16): one for the job's creation and one for each change of its
// state, for a job whose message names a webhook_url. The store writes it in the transaction that
// changed the state (a trigger), so none is lost by a crash and they are in the order the job
// went through its states. Delivered one at a time per job, oldest first.
struct WebhookEvent {
  int64_t id = 0;
  int64_t job_id = 0;
  std::string event;   // "job.<state>", or "fax.received"
  std::string state;   // the state it announces
  int64_t time = 0;    // when the job entered it (unix seconds)
  std::string status;  // pending, delivered, failed (given up)
  int attempts = 0;
  int64_t next_at = 0;               // a pending one's next attempt
  std::optional<std::string> error;  // why the last attempt failed
  std::string url;                   // the job's message's webhook_url
  std::string user;                  // whose secret signs it (the message's auth_user)
  // url and user: the event's own (a received fax's, to a user's webhook), else the message's.
};

struct Job {
  int64_t id = 0;
  std::optional<std::string> message_id;  // null for inbound jobs
  Direction direction = Direction::out;
  std::string state;
  std::string number;  // dialled number (out) or called DID (in)
  std::optional<std::string> subaddress;
  std::string caller;  // our station (out) or the caller id (in)
  int pages = 0;
  int pages_done = 0;
  std::optional<int64_t> retry_at;   // unix seconds: not to be tried before
  std::optional<std::string> error;  // one sentence: why the last attempt failed
  std::optional<std::string> notify;
  std::optional<std::string> orcpt;
  std::string recipient;  // original recipient as given ("" for inbound)
  int64_t created = 0;
  int64_t updated = 0;
  int tries = 0;  // calls that reached a fax machine
  int dials = 0;  // calls that did not (busy, no answer, congestion)
  std::optional<std::string> remote_ident;  // the far end's TSI/CSID, once a call reached it
  int bad_rows = 0;                         // rows T.30 reported lost, all pages
  std::optional<std::string> caller_name;   // inbound: the caller's display name
  std::optional<std::string> referred_by;   // inbound: the INVITE's Referred-By (Exchange UM referral)
  int bit_rate = 0;                         // the last call's T.30 rate, bit/s (0: no call reached a fax)
  bool ecm = false;
  int duration = 0;  // seconds the last call lasted
  // outbound: the class of the last call's outcome (done, busy, no_answer, congestion,
  // t30_failure, partial, invalid_number, t38_refused, rejected, expired, not_allowed: the dialling
  // policy, over_cap: a daily cap, both at dial time); what the sender has
  // been told: nullopt, "delayed" (the first retry was reported) or "final".
  std::optional<std::string> outcome;
  std::optional<std::string> reported;
  int priority = 0;                   // outbound: +1 urgent, 0 normal, -1 non-urgent
  std::optional<std::string> sender;  // outbound: the message's envelope sender ("" for <>)
  // The last call's media ("t38", "pcmu", "pcma", "pcmu+t38", "pcma+t38") and what made it a fax
  // ("offer", "reinvite", "rfc4733", "tone", "answered"); nullopt before any call.
  std::optional<std::string> media;
  std::optional<std::string> detected_by;
  // Who works on it (issue 17): the node that claimed it last (kept after the call, as who
  // handled it), until when its claim holds while in progress, and the attempt number of its
  // last claim (the fencing token of CallRecord).
  std::optional<std::string> owner;
  std::optional<int64_t> lease_until;
  int64_t attempt = 0;
  // Not dialled before this (NewMessage::not_before): retry_at once it is ready, and where its
  // retry policy's kill_after counts from.
  std::optional<int64_t> not_before;
  // Inbound: how it was routed (add_deliveries: referral, subaddress, did, directory, ocr,
  // barcode, default, postmaster); nullopt until its mail was composed.
  std::optional<std::string> routed_by;
};

// One call attempt, either direction: what a fax service bills from (issue 6). Kept in the store
// and written as a JSON line (to_json) to <data_dir>/accounting.jsonl.
struct AccountingRecord {
  int64_t time = 0;  // the call's start, unix seconds
  Direction direction = Direction::out;
  int64_t job_id = 0;
  std::string number;  // dialled (out) or called DID (in)
  std::string caller;  // our station (out) or the caller id (in)
  std::string trunk;
  std::string media = "t38";
  std::optional<std::string> detected_by;
  int pages = 0;        // confirmed (out) or received (in)
  int pages_total = 0;  // of the document (out)
  int bit_rate = 0;
  int duration = 0;     // seconds
  std::string outcome;  // done, busy, no_answer, ..., received, incomplete, missed
  std::string sender;   // the mail sender (out), "" for inbound
  std::optional<std::string> remote_ident;
  std::string node;     // the node that made or took the call ("" before schema v11)
  int sip_status = 0;   // the final SIP response of an outbound INVITE (0: none, or inbound)
  // The pages this call confirmed (out) or received (in), numbered in the document.
  struct Page {
    int page = 0, rows = 0, bad_rows = 0;
  };
  std::vector<Page> page_results;
  bool has_page_results = false;  // read back: the row holds them (schema v11 and later)
};
std::string to_json(const AccountingRecord& a);  // one line, no newline

// What one call did to its job, recorded in ONE transaction by record_call(): a crash leaves
// all of it or none (before, seven separate writes could leave a call counted and its outcome
// lost). Also what a start records of a call its stop cut short.
struct CallRecord {
  int64_t job = 0;
  // Outbound: the attempt claim() returned (its fencing token). The record is refused
  // (conflict) unless the job is still sending under this attempt, so a node that lost its
  // claim cannot overwrite the result of the node that took the job over. Inbound: the job
  // must still be receiving (a reception is recorded once), else conflict.
  int64_t attempt = 0;
  // A takeover of another node's call: refused (conflict) unless that node's claim ran out
  // before this time (a node that only stalled and renewed it keeps its call).
  std::optional<int64_t> expired_before;
  bool add_dial = false;  // a call that did not reach a fax machine (busy, no answer, congestion)
  bool add_try = false;   // a call that did
  struct Transfer {
    int pages = 0, pages_done = 0, bad_rows = 0;
    std::optional<std::string> remote_ident;
  };
  std::optional<Transfer> transfer;       // what the call transferred (absent: unchanged)
  std::optional<std::string> subaddress;  // inbound: the T.30 SUB frame (absent: unchanged)
  struct Reception {
    int bit_rate = 0;
    bool ecm = false;
    int duration = 0;
  };
  std::optional<Reception> reception;  // the last call's rate, ECM and seconds (absent: unchanged)
  std::string media, detected_by;      // what it carried and what made it a fax ("" media: unchanged)
  std::optional<std::string> outcome;  // the outcome class (absent: unchanged)
  std::vector<std::string> events;     // recorded in order, before the state's own event
  std::string state;                   // the job's next state (its event: "state S[: error]")
  std::optional<std::string> error;    // replaces the job's error
  std::optional<int64_t> retry_at;     // replaces the job's retry time
  // The call's accounting record; job_id, number and caller are the job's when left empty.
  std::optional<AccountingRecord> accounting;
};

// A received fax (or missed-fax notice) to be mailed to one mailbox. The composed mail is a
// spool file, durable before the row is committed; the row's retry timer drives delivery.
// forward: a mail sent to the postmaster address (RCPT TO:<postmaster>, RFC 5321 §4.5.1),
// passed on to [delivery] postmaster; it belongs to no job (job_id 0).
enum class DeliveryKind { mailbox, postmaster, report, forward };
struct NewDelivery {
  std::string recipient;   // the mail address
  DeliveryKind kind = DeliveryKind::mailbox;
  std::string mail_path;   // the composed RFC 5322 message
  std::string message_id;  // its Message-ID, without <>
};
struct JobDelivery {  // a report about a job (mark_reported)
  int64_t job = 0;
  NewDelivery delivery;
};
struct Delivery : NewDelivery {
  int64_t id = 0;
  int64_t job_id = 0;
  std::string state;  // pending | done | failed
  int attempts = 0;
  int64_t next_at = 0;
  std::optional<std::string> error;
  int64_t created = 0;
  // The mail's bounce tag: set by the store for mailbox and postmaster deliveries (16 random hex
  // digits), the secret part of the VERP envelope sender a late bounce comes back to
  // (gateway/onramp.hpp, mail/delivery_report.hpp); "" for reports and forwards, which go from <>.
  std::string tag;
};

// 16 lowercase hex digits from the system's random source: a new delivery's tag.
std::string new_delivery_tag();

struct Event {
  int64_t time = 0;
  std::string text;
};

struct JobFilter {
  std::optional<std::string> state;
  std::optional<Direction> direction;
  std::optional<std::string> message_id;
  int limit = 0;  // 0: all
  std::optional<int64_t> before_id;   // only ids below it (a page's cursor)
  std::optional<std::string> number;  // only this number (dialled or called)
  std::optional<int64_t> updated_since;  // only jobs changed at or after this unix second
};

// What the store counts, for /metrics (read at each scrape, so it survives a restart).
struct StoreStats {
  struct Jobs {
    Direction direction = Direction::out;
    std::string state;
    int64_t count = 0;
  };
  std::vector<Jobs> jobs;  // jobs now, by direction and state
  struct Calls {
    Direction direction = Direction::out;
    std::string outcome;
    int64_t calls = 0, pages = 0;
  };
  std::vector<Calls> calls;  // every call ever accounted, by direction and outcome, with its pages
};

struct StoreOptions {
  int busy_timeout_ms = 5000;
  std::function<int64_t()> clock;  // unix seconds for created/updated/events; empty: the system clock
};

// The store: what the flows ask of it. Each call is one transaction. Implementations:
// SqliteJobStore (sqlite_job_store.hpp), the embedded default.
class JobStore {
 public:
  virtual ~JobStore() = default;
  JobStore() = default;
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  // Inserts the message and one job per recipient (state queued), committed before it
  // returns. Returns the job ids in recipient order.
  [[nodiscard]] virtual fb::Result<std::vector<int64_t>, StoreError> enqueue_message(const NewMessage& msg,
                                                               const std::vector<NewRecipient>& rcpts) = 0;
  // Group commit: several messages and their jobs in ONE transaction (one sync for all).
  // All or nothing; validate each with check() first, since one invalid message fails the lot.
  [[nodiscard]] virtual StoreStatus enqueue_messages(const std::vector<std::pair<NewMessage, std::vector<NewRecipient>>>& batch) = 0;
  [[nodiscard]] static std::optional<std::string> check(const NewMessage& msg, const std::vector<NewRecipient>& rcpts);
  [[nodiscard]] virtual fb::Result<int64_t, StoreError> create_inbound(const NewInbound& in) = 0;

  [[nodiscard]] virtual fb::Result<Job, StoreError> job(int64_t id) = 0;
  [[nodiscard]] virtual fb::Result<std::vector<Job>, StoreError> jobs(const JobFilter& filter = {}) = 0;  // newest first
  // Outbound jobs in ready or retry whose retry_at is unset or <= now: by priority, then in
  // turns between senders (each sender's longest waiting job, then each one's second, ...), then
  // longest waiting first; at most `limit`, none when limit <= 0 (no free channel: nothing to start).
  [[nodiscard]] virtual fb::Result<std::vector<Job>, StoreError> next_ready(int64_t now, int limit) = 0;
  // Claims a ready or retry outbound job for `node`, as a compare-and-set: nullopt when the job
  // is no longer ready or retry (another node took it, or it was cancelled). Else the job is
  // sending, owned by node until lease_until, and the new attempt number is returned: the
  // fencing token its CallRecord and confirm_pages() must carry. `calls_per_number` > 0: also
  // nullopt when that many outbound calls to the job's number are in progress already, on any
  // node (checked in the claim's transaction, so two nodes cannot both start the one too many).
  [[nodiscard]] virtual fb::Result<std::optional<int64_t>, StoreError> claim(int64_t id, const std::string& node,
                                                                           int64_t lease_until,
                                                                           int calls_per_number = 0) = 0;
  // Pages the far end confirmed during a call, each committed as it comes; conflict when the
  // job is no longer sending under `attempt`.
  [[nodiscard]] virtual StoreStatus confirm_pages(int64_t id, int64_t attempt, int pages, int pages_done) = 0;
  // Extends to lease_until the claims of every job `node` works on (sending or receiving) that
  // have not run out at `now` (one that has may be another node's to take over), and of the
  // messages it holds with a job still to render (NewMessage::node: held until another node takes
  // them over, which changes their owner); returns how many.
  [[nodiscard]] virtual fb::Result<int, StoreError> renew_leases(const std::string& node, int64_t now,
                                                               int64_t lease_until) = 0;
  // The calls a start must close: jobs sending or receiving owned by `node` or by no node, and
  // outbound ones of a node whose lease ran out before `now` (another node's reception is closed
  // by that node, whose spool holds its pages). Oldest first.
  [[nodiscard]] virtual fb::Result<std::vector<Job>, StoreError> to_recover(const std::string& node, int64_t now) = 0;
  // Calls of other nodes whose claim ran out before `now`: a live node takes them over without
  // waiting for a start (CallRecord::expired_before) — an outbound call is dialled again, a
  // reception closed with the pages the store holds. Oldest first.
  [[nodiscard]] virtual fb::Result<std::vector<Job>, StoreError> to_take_over(const std::string& node, int64_t now) = 0;
  // Messages left unrendered by a node that died: in one transaction, the active messages with a
  // job queued or rendering whose holder's claim ran out before `now` (or that no node holds)
  // become `node`'s until lease_until. Their ids, to render (the converter's moves are
  // compare-and-sets: a holder that was only slow changes nothing the taker has moved on).
  [[nodiscard]] virtual fb::Result<std::vector<std::string>, StoreError> take_over_messages(const std::string& node,
                                                                                            int64_t now,
                                                                                            int64_t lease_until) = 0;
  // A waiting outbound job (ready or retry, claimed by no call) failed without a call: the
  // dialling policy or a daily cap refused it at dial time. Compare-and-set on the job as it was
  // read (`attempt`): conflict when it is no longer waiting or was claimed since, and nothing is
  // written.
  [[nodiscard]] virtual StoreStatus refuse_waiting(int64_t id, int64_t attempt, std::string_view outcome,
                                                   const std::string& error) = 0;
  // A waiting outbound job not due before `retry_at` (its sending window is closed), with an
  // event; conflict, nothing written, when it is no longer waiting or was claimed since.
  [[nodiscard]] virtual StoreStatus postpone_waiting(int64_t id, int64_t attempt, int64_t retry_at,
                                                     std::string_view event) = 0;
  // Records a call's outcome in one transaction (CallRecord). Unknown job: not_found; a final
  // job or a stale attempt: conflict; a state not of its direction or bad counts: invalid.
  [[nodiscard]] virtual StoreStatus record_call(const CallRecord& call) = 0;
  [[nodiscard]] virtual fb::Result<std::vector<Event>, StoreError> events(int64_t id) = 0;  // oldest first
  [[nodiscard]] virtual fb::Result<Message, StoreError> message(const std::string& id) = 0;

  // Moves a job to `state` and records an event. `error` replaces the job's error (nullopt
  // clears it). retry_at is kept in queued, retry and delivering; ready sets it to the job's
  // not_before (a send_after: null for most jobs); other states clear it. Unknown ids: not_found; a state
  // not of the job's direction: invalid; a final job: conflict.
  [[nodiscard]] virtual StoreStatus set_state(int64_t id, std::string_view state, std::optional<std::string> error = std::nullopt) = 0;
  [[nodiscard]] virtual StoreStatus set_pages(int64_t id, int pages, int pages_done) = 0;
  [[nodiscard]] virtual StoreStatus set_retry(int64_t id, std::optional<int64_t> retry_at) = 0;
  // The T.30 subaddress (SUB frame) of an inbound fax, known only once the call is under way.
  [[nodiscard]] virtual StoreStatus set_subaddress(int64_t id, std::optional<std::string> subaddress) = 0;
  // What a call transferred: pages (of the document or received), pages confirmed, bad rows,
  // the far end's station id.
  [[nodiscard]] virtual StoreStatus set_transfer(int64_t id, int pages, int pages_done, int bad_rows, std::optional<std::string> remote_ident) = 0;
  [[nodiscard]] virtual fb::Result<int, StoreError> add_dial(int64_t id) = 0;  // returns the new count
  [[nodiscard]] virtual fb::Result<int, StoreError> add_try(int64_t id) = 0;
  [[nodiscard]] virtual StoreStatus add_event(int64_t id, std::string_view text) = 0;
  // How the last call went: T.30 rate, ECM, seconds.
  [[nodiscard]] virtual StoreStatus set_reception(int64_t id, int bit_rate, bool ecm, int duration) = 0;
  // What the last call carried and what made it a fax ("" leaves a field null).
  [[nodiscard]] virtual StoreStatus set_media(int64_t id, std::string_view media, std::string_view detected_by) = 0;
  // An inbound job made for a call that turned out to be a voice call and was transferred: it was
  // never a fax, and goes with its events. Only a job still receiving (else conflict).
  [[nodiscard]] virtual StoreStatus discard_inbound(int64_t id) = 0;

  // OnRamp. Inbound jobs in delivering that have no delivery yet and whose retry_at is unset or
  // <= now: to be routed and composed. Oldest first, at most limit.
  [[nodiscard]] virtual fb::Result<std::vector<Job>, StoreError> to_route(int64_t now, int limit) = 0;
  // Adds the deliveries of a job and an event, in one transaction. `first`: the job's routing
  // result, added once — a second such call is a conflict (a restart that recomposes never
  // duplicates); later additions (the postmaster after a permanent failure) pass first = false.
  // `webhooks`: announcements of the received fax ("fax.received", to each target's URL, signed
  // with its user's secret), committed with the deliveries. `routed_by` (not ""): how the fax was
  // routed (INTERFACES.md routed_by), kept on the job in the same transaction.
  [[nodiscard]] virtual StoreStatus add_deliveries(int64_t job, const std::vector<NewDelivery>& d, std::string_view event,
                                                   bool first = true, const std::vector<WebhookTarget>& webhooks = {},
                                                   std::string_view routed_by = {}) = 0;
  [[nodiscard]] virtual fb::Result<std::vector<Delivery>, StoreError> deliveries(int64_t job) = 0;  // in id order
  // A mail for the postmaster (DeliveryKind::forward, no job), durable in its spool file before
  // this commits it; the SMTP 250 follows. Returns the delivery id. Its attempts are recorded
  // like any delivery's (delivery_done/_failed/_deferred), without events; purge() removes it
  // once final and older than its `before`.
  [[nodiscard]] virtual fb::Result<int64_t, StoreError> add_forward(const NewDelivery& d) = 0;
  // Pending deliveries due at now (next_at <= now), earliest first, at most limit.
  [[nodiscard]] virtual fb::Result<std::vector<Delivery>, StoreError> due_deliveries(int64_t now, int limit) = 0;
  // The due deliveries (as due_deliveries), claimed for `node` in one transaction: their next_at
  // becomes `until` (renewed by hold_deliveries while the node lives), so no other node — the
  // next leader — makes them meanwhile, and a dead node's are due again once its claim runs out.
  // An attempt's end (delivery_done, _failed, _deferred) ends the claim.
  [[nodiscard]] virtual fb::Result<std::vector<Delivery>, StoreError> claim_deliveries(const std::string& node,
                                                                                       int64_t now, int64_t until,
                                                                                       int limit) = 0;
  // The deliveries `node` is making are these (its attempts under way): their claims are renewed
  // to `until`; its other claims (an attempt whose end could not be recorded, a start's: none is
  // under way any more) end, due at `now`. Returns how many were released.
  [[nodiscard]] virtual fb::Result<int, StoreError> hold_deliveries(const std::string& node, int64_t now,
                                                                    int64_t until,
                                                                    const std::vector<int64_t>& ids) = 0;
  // The earliest next_at of a pending delivery, if any: when to look again.
  [[nodiscard]] virtual fb::Result<std::optional<int64_t>, StoreError> next_delivery_at() = 0;
  // A delivery attempt ended: done or failed (final, with the reason), or deferred to next_at
  // with the reason (attempts + 1 either way). Records an event on the job.
  [[nodiscard]] virtual StoreStatus delivery_done(int64_t delivery, std::string_view event) = 0;
  // `then`: a delivery that replaces it (the postmaster's copy), added in the same transaction,
  // so a crash cannot leave the failure recorded and the replacement not.
  // Failed or deferred by `node`: refused (conflict, nothing written) when another node has
  // claimed the delivery since (this node's claim ran out), so a late result cannot end that
  // node's claim (nor add a second postmaster's copy while it delivers).
  [[nodiscard]] virtual StoreStatus delivery_failed(int64_t delivery, const std::string& error, const std::string& node,
                                                    const std::optional<NewDelivery>& then = std::nullopt) = 0;
  [[nodiscard]] virtual StoreStatus delivery_deferred(int64_t delivery, int64_t next_at, const std::string& error,
                                                      const std::string& node) = 0;
  [[nodiscard]] virtual fb::Result<Delivery, StoreError> delivery(int64_t id) = 0;  // not_found when unknown
  // A late bounce (RFC 3464, to the delivery's VERP sender): a delivery the next MTA accepted
  // (done) that failed after all. In one transaction: failed with `error`, an event on its job,
  // and `then` (the postmaster's copy) added. The job's state is kept: a final job stays final.
  // false, nothing written, when it has failed already (the same bounce again: exactly once);
  // conflict while it is pending (an attempt may be under way: the bounce is to come again);
  // invalid for a delivery with no tag (a report, a forward).
  [[nodiscard]] virtual fb::Result<bool, StoreError> delivery_bounced(int64_t delivery, const std::string& error,
                                                                    const std::optional<NewDelivery>& then) = 0;
  [[nodiscard]] virtual StoreStatus set_outcome(int64_t id, std::string_view outcome) = 0;
  [[nodiscard]] virtual fb::Result<int64_t, StoreError> add_accounting(const AccountingRecord& a) = 0;
  // What the daily caps count, for every node of the store (gateway/call_budget.hpp): each
  // outbound call that started at `since` or later (its job's confirmed pages after it; oldest
  // first), then each outbound job in a call now (`sending`, in_progress: the pages still to
  // send, at its last change) — with the sender and its message's AUTH user.
  struct BudgetCall {
    int64_t time = 0;
    int64_t job_id = 0;
    std::string sender;
    std::optional<std::string> auth_user;
    int pages = 0;
    bool in_progress = false;
  };
  [[nodiscard]] virtual fb::Result<std::vector<BudgetCall>, StoreError> budget_calls_since(int64_t since) = 0;
  // Outbound jobs whose news the sender has not had: final and not reported final, once every
  // job of their message is final (one report per message and state), or waiting for a retry
  // and not reported at all. Grouped by message (ordered by message_id, id).
  [[nodiscard]] virtual fb::Result<std::vector<Job>, StoreError> to_report(int limit) = 0;
  // Records that these jobs' state was reported ("delayed" or "final"), with the reports'
  // deliveries (kind report: the DSN, MDNs) in the same transaction; none when nothing is sent
  // (NOTIFY=NEVER, a null sender). A compare-and-set, so a report is made once however the lead
  // moves: conflict, nothing written, when a job was reported so since it was read ("delayed" is
  // marked only on a job not reported, "final" on one not reported final).
  [[nodiscard]] virtual StoreStatus mark_reported(const std::vector<int64_t>& jobs, std::string_view reported,
                            const std::vector<JobDelivery>& reports, std::string_view event) = 0;
  // Inbound jobs in delivering whose deliveries are all final: to be finished (archived, done).
  [[nodiscard]] virtual fb::Result<std::vector<Job>, StoreError> to_finish(int limit) = 0;
  // Active messages whose every job is final and reported final: done, so the spool file of the
  // original may go (the reports were composed from it already). Ids, at most `limit`.
  [[nodiscard]] virtual fb::Result<std::vector<std::string>, StoreError> to_complete(int limit) = 0;
  // Retention: deletes jobs finished before `before` with their events, deliveries and webhook
  // events (never while one of those is pending) —
  // inbound ones final with no delivery pending (but never a received fax whose every mail
  // failed after all: kept for the operator), outbound ones final and reported final — and
  // messages left with no job, and final forwards (one Purged with id 0 carries their mails);
  // returns the jobs (so their spool files can go).
  struct Purged {
    int64_t id = 0;
    Direction direction = Direction::in;
    std::vector<std::string> mails;  // its deliveries' composed mails, to remove if still there
  };
  [[nodiscard]] virtual fb::Result<std::vector<Purged>, StoreError> purge(int64_t before) = 0;

  // Outbound, non-final job -> cancelled. not_found for an unknown id, conflict for a final
  // job, invalid for an inbound one.
  [[nodiscard]] virtual StoreStatus cancel(int64_t id) = 0;
  [[nodiscard]] virtual fb::Result<StoreStats, StoreError> stats() = 0;
  // Claims webhook events to send: pending, due at `now`, and each the oldest pending one of
  // its job (a job's events go out in order); in one transaction their next_at becomes `until`,
  // so no other sender (another process, another node) takes them meanwhile, and one whose
  // attempt is never recorded (a crash, a store error) is due again then. Oldest first, at
  // most `limit`.
  [[nodiscard]] virtual fb::Result<std::vector<WebhookEvent>, StoreError> claim_webhooks(int64_t now, int64_t until,
                                                                                       int limit) = 0;
  // An attempt ended: `status` delivered, failed (given up), or pending again at `next_at`;
  // attempts + 1, the error kept (nullopt when delivered). not_found for an unknown event.
  [[nodiscard]] virtual StoreStatus webhook_attempted(int64_t event, std::string_view status, int64_t next_at,
                                                      const std::optional<std::string>& error) = 0;
  // A job's webhook events, oldest first (its detail in the API).
  [[nodiscard]] virtual fb::Result<std::vector<WebhookEvent>, StoreError> webhooks(int64_t job) = 0;
  // A job's calls (its accounting records), oldest first: the attempts in its API detail.
  [[nodiscard]] virtual fb::Result<std::vector<AccountingRecord>, StoreError> calls(int64_t job) = 0;
  [[nodiscard]] virtual StoreStatus set_message_state(const std::string& id, std::string_view state) = 0;

  // Documents (issue 17): the files a job needs — an accepted message, a rendered fax, a received
  // fax, a composed mail — named as in the spool: "msg/<id>.eml", "fax/<job>.tif",
  // "in/<job>.tif", "out/<job>[-<n>].eml" (document_name()). A store several nodes share keeps
  // them, so any node can work on any job; the embedded SQLite store keeps none (the node's spool
  // is where they are): shares_documents() is false, put and remove do nothing, document() finds
  // nothing.
  [[nodiscard]] virtual bool shares_documents() const = 0;
  // Stores (or replaces) a document, committed when it returns.
  [[nodiscard]] virtual StoreStatus put_document(const std::string& name, std::string_view bytes) = 0;
  // The pages of reception `job` (its document `name`), put while `node` is still receiving it:
  // conflict, nothing written, once the job is no longer receiving under node (another node
  // closed it with the pages it found, and this node's pages go to a new job instead).
  [[nodiscard]] virtual StoreStatus put_reception_pages(int64_t job, const std::string& node, const std::string& name,
                                                        std::string_view bytes) = 0;
  [[nodiscard]] virtual fb::Result<std::optional<std::string>, StoreError> document(const std::string& name) = 0;
  // A document's size and SHA-256 (lowercase hex), without its bytes: whether a node's copy is
  // the store's. nullopt when the store has none.
  struct Digest {
    int64_t size = 0;
    std::string sha256;
  };
  [[nodiscard]] virtual fb::Result<std::optional<Digest>, StoreError> document_digest(const std::string& name) = 0;
  [[nodiscard]] virtual StoreStatus remove_documents(const std::vector<std::string>& names) = 0;

  // Whether this instance may do the work one node at a time does for all of them: routing and
  // mailing received faxes, reports, completing messages, retention, resuming what a stopped
  // node left unrendered. A store one node uses (SQLite): always. PostgreSQL: the instance that
  // holds a session advisory lock; the lock goes with the session, so when the leading node dies
  // or loses its connection, another leads at its next call.
  [[nodiscard]] virtual fb::Result<bool, StoreError> lead() = 0;

  // A trunk's channels across the nodes of a shared store (gateway/channel_grants.hpp): each
  // node holds a grant, and the live grants of a trunk (expires >= now) never add up to more
  // than its max_channels. grant_channels sets this node's grant to `want` or what the others
  // leave of `max`, whichever is less (never below 0), until `expires`, and returns it; expired
  // grants are removed as it goes. drop_channel_grants: a node's grants, all gone (it carries no
  // call: at its start and stop). channel_grants: the live ones, by trunk and node.
  struct ChannelGrant {
    std::string trunk;
    std::string node;
    int granted = 0;
    int64_t expires = 0;
  };
  [[nodiscard]] virtual fb::Result<int, StoreError> grant_channels(const std::string& node, const std::string& trunk,
                                                                   int want, int max, int64_t now, int64_t expires) = 0;
  [[nodiscard]] virtual StoreStatus drop_channel_grants(const std::string& node) = 0;
  [[nodiscard]] virtual fb::Result<std::vector<ChannelGrant>, StoreError> channel_grants(int64_t now) = 0;

  // The converter's moves, as compare-and-sets: on a shared store two nodes may render one
  // message (one resuming what the other still renders), and neither may move a job the other
  // has made ready, or a node has claimed since. start_rendering: queued -> rendering (true;
  // already rendering: true, unchanged); false, nothing written, in any other state.
  // finish_rendering: rendering -> ready with `pages` (pages_done 0, retry_at its not_before), or
  // -> failed with `error`; false, nothing written, when it is no longer rendering. `document`
  // (name, bytes): the rendered pages, kept in the same transaction by a store that shares
  // documents — only by the rendering that made the job ready.
  [[nodiscard]] virtual fb::Result<bool, StoreError> start_rendering(int64_t id) = 0;
  [[nodiscard]] virtual fb::Result<bool, StoreError> finish_rendering(
      int64_t id, int pages, const std::optional<std::string>& error,
      const std::optional<std::pair<std::string, std::string>>& document = std::nullopt) = 0;
};

// A spool file's document name (JobStore::put_document): its path below the spool directory
// ("msg/<id>.eml" for <spool>/msg/<id>.eml); "" for a path outside it.
std::string document_name(const std::string& spool_dir, const std::string& path);

// A spool file another node may have made, from a store that shares documents: written here
// (durably) unless this node's file has the same size and SHA-256 (a file of that name may be
// left from a store used before). Ok when the file is the store's afterwards, or the store shares
// none (the file is as it is); not_found when the store lacks it. A caller that gets a transient
// error (fetch_transient) does not use the file and tries again later; after any other, it goes
// on as it would with the file missing.
[[nodiscard]] StoreStatus fetch_document(JobStore& store, const std::string& spool_dir, const std::string& path);
// A spool file this node made, put in a store that shares documents for the other nodes (for
// one that shares none, nothing to do).
[[nodiscard]] StoreStatus share_document(JobStore& store, const std::string& spool_dir, const std::string& path);
// The same for the file of a reception `node` is making (JobStore::put_reception_pages).
[[nodiscard]] StoreStatus share_reception(JobStore& store, const std::string& spool_dir, const std::string& path,
                                          int64_t job, const std::string& node);
// A fetch that may work later (the store unreachable or busy, a local write failing), not one
// whose document is missing.
bool fetch_transient(const StoreError& e);

// A PostgreSQL connection URI: postgresql://... or postgres://...
bool is_postgresql_url(std::string_view location);

// Opens the store a [store] url names: a postgresql:// URL (PgJobStore), else the path of its
// SQLite file ("sqlite:" already taken off). Created or migrated as needed.
[[nodiscard]] fb::Result<std::unique_ptr<JobStore>, StoreError> open_job_store(const std::string& location,
                                                                               StoreOptions options = {});

// For a write whose failure its caller can only make known: logs the store's sentence (which
// names the operation and the job) and says whether the write held.
bool logged(const StoreStatus& status);

// "2026-11-22T16:40:00Z"
std::string format_utc(int64_t unix_seconds);

// Orders jobs ready to dial (next_ready's order) for fair share: by priority, then by each
// sender's share, its n-th job here counting n plus its calls in progress (`load`, by sender).
void fair_order(std::vector<Job>& jobs, const std::map<std::string, int>& load);

// The INTERFACES.md job object: id, direction, state, number, caller, pages, pages_done,
// retry_at, error, message_id, subaddress, created, updated, remote_ident, bad_rows, media,
// detected_by, node (the node that handled its last call; then priority for outbound jobs), in
// that order; times as
// format_utc(), absent values as null. One line, no trailing newline.
std::string to_json(const Job& job);
std::string to_json(const std::vector<Job>& jobs);  // a JSON array of the above

}  // namespace queue
