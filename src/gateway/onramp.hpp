// onramp.hpp — received faxes become mail: route, compose, deliver, archive (ARCHITECTURE.md,
// "spool → route → compose → deliver with retries → archived").
//
// STANDARDS: see router.hpp (routing), mail/fax_mail.hpp (the mail), mail/maildir.hpp and
// mail/smtp_client.hpp (delivery), ../shared/specs/exchange-um-partner.md.
// LIFE OF A RECEIVED FAX (an inbound job in state delivering, its TIFF in <spool>/in/<job>.tif):
//   1. route: router.hpp decides the mailboxes; a directory that is down sets the job's retry_at
//      (route_retry_s) and it is routed again then; nothing is lost meanwhile. A central number
//      ([[route]] ocr) has its fax read first (within [ocr] max_delay_s), and cover_routing.hpp
//      picks the addressee among the people (`people`) and the [[route]]s; not sure: the route's
//      own mailboxes, with the candidates named in the mail;
//   2. compose: the mail is written durably to <spool>/out/<job>.eml (its Message-ID derives
//      from the job, so composing again after a crash gives the same id), then ONE store
//      transaction adds a delivery per mailbox;
//   3. deliver each delivery (Maildir, LMTP or SMTP smarthost); a temporary failure retries with
//      exponential backoff (kFirstRetry doubling to kMaxRetry) for kGiveUpAfter, then counts as
//      permanent; a permanent failure sends the postmaster the same fax with the reason;
//   4. when every delivery is final: the TIFF moves to <spool>/archive/, the composed mails go,
//      and the job is done (or failed when no page came: the mailbox got a missed-fax notice;
//      or when even the postmaster could not be reached: the TIFF stays in the archive).
//   5. reports: outbound jobs that reached a final state, or their first retry, are reported to the
//      mail's sender as an RFC 3464 DSN (report.hpp decides what and whether; dsn.hpp composes),
//      one per message and action, delivered like a fax mail but from the null sender; a report
//      that cannot be delivered is logged, never reported on;
//   6. late bounces: over SMTP a received fax's mail goes from a VERP sender naming its delivery
//      (mail/delivery_report.hpp, with the delivery's secret tag), at `bounce_domain`; the
//      OffRamp hands a bounce to that address to bounce(), which marks the delivery failed and
//      sends the postmaster the fax with the bounce's reason, once (JobStore::delivery_bounced);
//   7. retention: inbound jobs final for more than [delivery] archive_days are purged, records
//      and archived TIFF alike (checked at start and hourly).
// CRASH SAFETY: every step is re-entrant from the store: a job without deliveries is routed and
// composed again; a pending delivery is attempted again (Maildir file names derive from the
// delivery, so a re-delivery replaces; over SMTP a crash between the server's 250 and our commit
// re-sends the same Message-ID).
// THREADS: the io thread runs this object and the SMTP/LMTP coroutines; the store is used only
// on the store executor; routing (LDAP), composition (PDF, thumbnail) and Maildir writes run on
// the OnRamp's own worker thread.
// LIMITS: kBatch jobs routed and kMaxInFlight deliveries at a time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <asio.hpp>

#include "core/reloadable.hpp"
#include "gateway/cover_routing.hpp"
#include "gateway/fax_reading.hpp"
#include "gateway/hourly_counts.hpp"
#include "gateway/report.hpp"
#include "gateway/router.hpp"
#include "mail/delivery_report.hpp"
#include "mail/smtp_client.hpp"
#include "mail/smtp_session.hpp"
#include "queue/job_store.hpp"
#include "queue/spool.hpp"

namespace gateway {

inline constexpr int kBatch = 8;
inline constexpr int kMaxInFlight = 16;
// A node that does not lead (JobStore::lead) asks again this often (seconds).
inline constexpr int kFollowerWait = 5;
inline constexpr int64_t kFirstRetry = 60;        // s: after the first temporary failure
inline constexpr int64_t kMaxRetry = 3600;        // s: the backoff's ceiling
inline constexpr int64_t kGiveUpAfter = 5 * 86400;  // s: temporary failures for this long → permanent

enum class DeliveryMode { maildir, smtp, lmtp };

struct OnRampOptions {
  // [node] name and lease_s: the deliveries this node makes are claimed in the store for it
  // (JobStore::claim_deliveries), renewed while it lives, so the next leader makes none twice.
  std::string node;
  int lease_s = 30;
  std::vector<RouteRule> routes;
  Directory directory;  // empty: no directory routing
  // The people a central number's cover page may name ([ldap], cover_routing.hpp); empty: the
  // [[route]]s only.
  std::function<fb::Result<std::vector<Addressee>, std::string>()> people;
  std::vector<std::string> partner_domains;  // [exchange] recipient_domains (router.hpp)
  std::string from = "fax@fax.localhost";
  std::string postmaster = "postmaster@localhost";
  DeliveryMode mode = DeliveryMode::maildir;
  std::string maildir = "var/mail";
  smtp::SmtpClientOptions smtp;  // smtp and lmtp modes
  int archive_days = 30;
  // Reports to the senders of fax mail (DSN): our host name, what to report without NOTIFY, and
  // the give-up time (Will-Retry-Until = the job's creation + kill_after_s).
  std::string reporting_mta = "localhost";
  NotifyDefaults notify;
  int kill_after_s = 10800;
  int route_retry_s = 60;  // a directory that was down is asked again after this long ([ldap] retry_s)
  // [fax] missed_notices_per_caller_per_hour: a call that brought no page mails a notice only
  // this often per caller number (withheld callers share one count); past it the job ends
  // without mail, its event saying why. 0: no limit.
  int missed_notices_per_caller_per_hour = 0;
  // Where bounces of received-fax mail come back to: "<local part of from>+<delivery>.<tag>@"
  // this domain, one of the OffRamp's (serve.cpp picks it). "": mail goes from `from` itself.
  std::string bounce_domain;
  // The users' webhooks that announce a fax routed to these mailboxes (store thread; empty: none):
  // stored with its deliveries, one "fax.received" each (api/webhooks.hpp sends them).
  std::function<fb::Result<std::vector<queue::WebhookTarget>, queue::StoreError>(const std::vector<std::string>&)>
      webhook_targets;
  std::function<void(const std::string&)> log;
  // [ocr]: each received fax read before its mail is composed — a text layer in its PDF and the
  // first lines of each page in the mail's body (null: off).
  std::shared_ptr<FaxReading> reading;
};

class OnRamp {
 public:
  OnRamp(asio::io_context& io, asio::any_io_executor store_exec, queue::JobStore& store, queue::Spool& spool,
         OnRampOptions opt);
  ~OnRamp();
  void start();
  void stop();
  // Something changed (a fax was received): look for work now rather than at the next timer.
  void poke();
  // [[route]] as SIGHUP reloaded it (any thread): faxes routed from now on use it.
  void set_routes(std::vector<RouteRule> routes) { routes_.set(std::move(routes)); }
  // Store thread. A message to the bounce address of delivery `b` (`address` as written): a
  // delivery report that it failed marks it failed and queues the postmaster's copy of the fax
  // with the reason (250 once committed; the same bounce again: 250, nothing more); a report of
  // delay or success is noted on the job; an unknown delivery or a wrong tag is 550 5.1.1; a
  // delivery still pending, or a store that fails, 451 (the bounce comes again). nullopt: the
  // message is no delivery report (the caller passes it to the postmaster; noted on the job).
  std::optional<smtp::Reply> bounce(const mail::BounceAddress& b, const std::string& address, std::string_view message);

 private:
  struct Worker;
  void scan();
  void route_and_compose(const queue::Job& job);
  RouteResult route_by_cover(const queue::Job& job, RouteResult central, const fb::Result<FaxText, std::string>& text);
  void compose(const queue::Job& job, RouteResult r, const std::function<void()>& done,
               const fb::Result<FaxText, std::string>* text);
  void deliver(const queue::Delivery& d);
  void delivered(const queue::Delivery& d, smtp::SendOutcome outcome);
  void maybe_finish(int64_t job_id);
  // The postmaster's copy of a received fax whose mail to d.recipient failed (`why`), written
  // durably to the spool; nullopt when it could not be composed or written.
  std::optional<queue::NewDelivery> postmaster_copy(const queue::Job& job, const queue::Delivery& d,
                                                    const std::string& why) const;
  std::string sender_of(const queue::Delivery& d) const;  // the envelope sender of its mail
  // Store thread: how many jobs it marked or began reporting.
  size_t report(std::vector<queue::Job> jobs);
  // io thread: renews the claims of the deliveries under way, ends the others (lease_s / 3).
  void hold_deliveries();
  void purge();
  void complete();
  void log(const std::string& s) const;

  asio::io_context& io_;
  asio::any_io_executor store_exec_;
  queue::JobStore& store_;
  queue::Spool& spool_;
  OnRampOptions opt_;
  fb::Reloadable<std::vector<RouteRule>> routes_;  // opt_.routes, then as reloaded
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<smtp::SmtpClient> client_;
  asio::steady_timer timer_;
  asio::steady_timer hold_timer_;
  std::set<int64_t> routing_, delivering_;  // io thread only
  HourlyCounts missed_;  // missed-call notices per caller (worker threads)
  std::set<int64_t> held_;                  // store thread only: deliveries claimed and under way here
  std::set<int64_t> reporting_;             // store thread only: jobs whose report is being composed
  bool scanning_ = false, rescan_ = false, stopped_ = false;
  bool leading_ = true;  // (store thread) what lead() said last: a change is logged
  std::chrono::steady_clock::time_point next_purge_{};
};

}  // namespace gateway
