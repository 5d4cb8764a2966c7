// offramp.hpp — OffRamp intake (ITU-T T.37 store-and-forward, the mail half): who may send a
// fax, which recipients are fax addresses of ours, and the durable acceptance of a message as
// one fax job per recipient.
//
// STANDARDS: RFC 3192 (fax addresses), RFC 3461 (DSN parameters kept with each job),
// RFC 5321 §4.4 (the Received: trace header we add), RFC 3463 (the status codes below).
// Decisions, in the order a client meets them:
//   MAIL: neither authenticated nor on a trusted network      530 5.7.0 (faxes cost money)
//         the sender's messages this hour over the limit        450 4.7.1
//   RCPT: a domain that is not ours                             550 5.7.1 (never an open relay)
//         not a valid RFC 3192 address in our domain            553 5.1.3 with the reason
//         a number the dialling policy forbids                  550 5.7.1 with the reason
//         the sender's fax recipients this hour over the limit  450 4.7.1
//   DATA: no part of the mail can be faxed (an executable, ...) 554 5.6.1 naming the part
//         the spool or the job store failed                     451 4.3.0 (the client retries)
// A message is acknowledged (250) only after its spool file is durable and its jobs are
// committed in the job store: kill -9 at any point loses nothing acknowledged and leaves
// nothing half-queued (an unacknowledged spool file is removed at the next start).
// Group commit: messages finishing at about the same time share the work — their spool files
// are made durable by one syncfs and their jobs by one SQLite transaction — instead of three
// syncs each in series (what bench/smtp measured against Postfix).
// THREADS: intakes live on the io thread; spooling to disk and the store commit run on the
// store executor (one thread), so no io thread ever waits for fsync.
// LIMITS: OffRampOptions (per-sender hourly message and recipient limits, 0 = none).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <asio.hpp>

#include "address/dialing_policy.hpp"
#include "core/reloadable.hpp"
#include "gateway/call_budget.hpp"
#include "gateway/hourly_counts.hpp"
#include "address/fax_address.hpp"
#include "mail/delivery_report.hpp"
#include "mail/smtp_server.hpp"
#include "queue/job_store.hpp"
#include "queue/spool.hpp"

namespace gateway {

struct OffRampOptions {
  std::string hostname = "localhost";
  std::vector<std::string> domains = {"fax.localhost"};  // FAX=...@<one of these> is ours
  address::ParseOptions address;
  address::DialingPolicy dialing;
  std::string station_id;  // our TSI, recorded as each job's caller
  int sender_messages_per_hour = 100;
  int max_recipients = 100;  // [smtp] max_recipients: also the numbers of one API submission
  int sender_recipients_per_hour = 500;
  // [dialing] daily caps (shared with the dispatcher): a cap already reached refuses RCPT with
  // 450 4.7.1. Null: none.
  std::shared_ptr<CallBudget> budget;
  // [node] min_free_mb on the spool's file system: below it, MAIL is refused with 452 4.3.1.
  std::string spool_dir;
  int min_free_mb = 0;
  bool office = true;  // Office attachments are renderable (LibreOffice installed)
  // The store shares documents (several nodes, JobStore::shares_documents): each message's bytes
  // are committed with its row (NewMessage::body), so every node can render and report it.
  bool share_documents = false;
  // [node] name and lease_s: the node holds each message it accepts until it is rendered
  // (NewMessage::node), so a node that dies first has its messages rendered by another.
  std::string node;
  int lease_s = 30;
  // user -> crypt(3) hash ("$6$...", "$y$..."): SMTP AUTH accounts.
  std::map<std::string, std::string> users;
  // Loop protection (RFC 5321 §6.3, RFC 3834): a message that came with more Received: fields
  // than this is refused (554 5.4.6, as Postfix's hopcount_limit of 50); so are an automatic
  // reply (Auto-Submitted other than "no" or "auto-generated") and a message from one of
  // `own_from` (the address our received-fax mail and reports are sent from), or carrying our
  // received-fax mail's X-Fax-Job field (forwarded on by a mailbox rule), that is marked
  // Auto-Submitted at all: our own mail, which would loop through a fax call (554 5.7.1). A person writing from that address, and
  // other systems' auto-generated mail, are faxed.
  int max_hops = 50;
  // [dsn] success, delay: what a recipient without NOTIFY is reported on (report.hpp); two
  // spellings of one number merge their NOTIFY against it.
  bool dsn_success = false;
  bool dsn_delay = true;
  std::vector<std::string> own_from;  // lower-cased
  // [delivery] postmaster: where mail to RCPT TO:<postmaster> (or postmaster@ one of our
  // domains) is passed on, from anyone (RFC 5321 §4.5.1: it MUST be accepted).
  std::string postmaster = "postmaster@localhost";
  // The local part of our received-fax mail's bounce addresses (mail/delivery_report.hpp:
  // "<bounce_local>+<delivery>.<tag>@" one of `domains`): accepted from anyone, as the only
  // recipient of its transaction, and handed to on_bounce. "": none.
  std::string bounce_local;
};


// A fax submitted through the HTTP API (POST /api/v1/faxes): documents of any type the mail
// intake faxes, and numbers as `faxbridge address` takes them ("+12025550100", with an optional
// "/T33S=123"). It becomes a message in the spool like a mail (From the user, one attachment per
// document) and goes through the same checks and the same group commit.
struct Submission {
  std::string user;  // the token's user ("admin" for the node's own token)
  std::vector<std::string> to;
  struct Document {
    std::string filename, content_type, data;
  };
  std::vector<Document> documents;
  int priority = 0;  // +1 urgent, 0 normal, -1 non-urgent
  std::optional<std::string> webhook_url;  // each state change of its jobs announced there
  std::optional<int64_t> send_after;       // unix seconds: its jobs are not dialled before
  std::optional<std::string> cover;        // a cover page first, with this text as its comment
};
struct SubmitResult {
  int status = 201;   // 201, or the HTTP status of the refusal: 400 bad input, 403 policy,
                      // 422 nothing to fax, 429 a cap, 503 the spool or store failed
  std::string error;  // the refusal's sentence
  std::string message_id;
  std::vector<int64_t> jobs;  // one per distinct number, in the order given
};

// A message ready to be committed: its spool file written and renamed (not yet durable) and
// the rows for the job store.
struct PreparedMessage {
  std::string id;
  queue::NewMessage message;
  std::vector<queue::NewRecipient> recipients;
};

class OffRamp {
 public:
  // `store_exec` runs spool and store work; `store` is used only there. `on_queued` is told of
  // every message accepted (the converter starts rendering it).
  OffRamp(OffRampOptions opt, queue::Spool& spool, queue::JobStore& store, asio::any_io_executor store_exec,
          std::function<void(const std::string& message_id)> on_queued);

  std::unique_ptr<smtp::Intake> make_intake(const asio::ip::address& client, bool trusted);

  const OffRampOptions& options() const { return opt_; }
  // [dialing] allow/deny as now in force (SIGHUP replaces it: set_dialing; any thread).
  [[nodiscard]] std::shared_ptr<const address::DialingPolicy> dialing() const { return dialing_.get(); }
  void set_dialing(address::DialingPolicy p) { dialing_.set(std::move(p)); }
  // The per-sender limits and the SMTP AUTH users ([smtp]) as now in force (a reload replaces them).
  struct SenderLimits {
    int messages_per_hour = 100;
    int recipients_per_hour = 500;
    int max_recipients = 100;
  };
  [[nodiscard]] std::shared_ptr<const SenderLimits> limits() const { return limits_.get(); }
  void set_limits(SenderLimits l) { limits_.set(l); }
  [[nodiscard]] std::shared_ptr<const std::map<std::string, std::string>> users() const { return users_.get(); }
  void set_users(std::map<std::string, std::string> u) { users_.set(std::move(u)); }
  queue::Spool& spool() { return spool_; }
  queue::JobStore& store() { return store_; }
  asio::any_io_executor store_executor() const { return store_exec_; }
  HourlyCounts& messages() { return messages_; }
  HourlyCounts& recipients() { return recipients_; }
  void queued(const std::string& id) {
    if (on_queued_) on_queued_(id);
  }
  // Told (on the store executor) when mail for the postmaster was committed: deliver it.
  std::function<void()> on_forward;
  // Runs on the store executor for a message to a bounce address (OffRampOptions::bounce_local),
  // which `address` names; returns the reply, or nullopt when the message is no delivery report:
  // it is then passed on to the postmaster. Unset: every bounce address is unknown (550).
  std::function<std::optional<smtp::Reply>(const mail::BounceAddress& bounce, const std::string& address,
                                           std::string_view message)>
      on_bounce;

  // Store executor only: a submission checked, spooled and committed like a mail; `done` gets
  // the jobs once they are durable, or the refusal (nothing queued).
  void submit(Submission s, std::function<void(SubmitResult)> done);

  // Store executor only: add a prepared message to the next group commit; `done` gets its reply.
  void enqueue_commit(PreparedMessage m, std::function<void(smtp::Reply)> done);

 private:
  void drain();  // store executor: one sync and one transaction for everything queued

  std::vector<std::pair<PreparedMessage, std::function<void(smtp::Reply)>>> batch_;
  bool drain_scheduled_ = false;
  OffRampOptions opt_;
  fb::Reloadable<address::DialingPolicy> dialing_;
  fb::Reloadable<SenderLimits> limits_;
  fb::Reloadable<std::map<std::string, std::string>> users_;
  queue::Spool& spool_;
  queue::JobStore& store_;
  asio::any_io_executor store_exec_;
  std::function<void(const std::string&)> on_queued_;
  // A sender is the authenticated user, else the envelope sender and the client address.
  HourlyCounts messages_, recipients_;
};

// crypt(3) check of a password against a stored hash.
bool password_matches(const std::string& hash, std::string_view password);

}  // namespace gateway
