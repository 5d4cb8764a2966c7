// onramp.cpp — route, compose, deliver, archive (rules: onramp.hpp).
#include "gateway/onramp.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "core/metrics.hpp"
#include "imaging/pdf_writer.hpp"
#include "imaging/tiff_f.hpp"
#include "mail/dsn.hpp"
#include "mail/fax_parts.hpp"
#include "mail/fax_mail.hpp"
#include "mail/maildir.hpp"
#include "mail/mdn.hpp"

namespace gateway {
namespace {

namespace fs = std::filesystem;

// Reports (DSN, MDN) and mail passed on to the postmaster go from the null reverse path.
bool null_sender(queue::DeliveryKind k) {
  return k == queue::DeliveryKind::report || k == queue::DeliveryKind::forward;
}

int64_t unix_now() {
  return int64_t(std::time(nullptr));
}

std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? std::string("localhost") : address.substr(at + 1);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

mail::ReceivedFaxInfo info_of(const queue::Job& j) {
  mail::ReceivedFaxInfo i;
  i.job_id = j.id;
  i.did = j.number;
  i.subaddress = j.subaddress;
  i.caller = j.caller;
  i.caller_name = j.caller_name;
  i.remote_ident = j.remote_ident;
  i.pages = j.pages;
  i.bad_rows = j.bad_rows;
  i.bit_rate = j.bit_rate;
  i.ecm = j.ecm;
  i.duration_s = j.duration;
  i.received_at = j.created;
  // A reception records an error exactly when it did not end as a whole document.
  i.complete = !j.error.has_value();
  i.reason = j.error.value_or("");
  if (i.pages == 0 && i.reason.empty()) i.reason = "No page was received.";
  i.server_error = i.pages == 0 && (i.reason.find("Server Internal") != std::string::npos ||
                                    i.reason.find("Service Unavailable") != std::string::npos);
  i.voice = j.outcome == "voice";
  return i;
}

// Backoff after the n-th failed attempt (n >= 1).
int64_t backoff(int attempts) {
  int64_t d = kFirstRetry;
  for (int i = 1; i < attempts && d < kMaxRetry; ++i) d *= 2;
  return std::min(d, kMaxRetry);
}

std::string read_all(const std::string& path, std::string& error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    error = "cannot read the composed mail " + path;
    return {};
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The notes rendering left on the pages of a message's faxes (imaging::TiffPageInfo::note: a
// damaged PDF repaired, ...), for the sender's DSN. One rendering serves every job of a message:
// the first job whose pages are still there is read.
std::vector<std::string> render_notes(const queue::Spool& spool, const std::vector<queue::Job>& jobs) {
  std::vector<std::string> notes;
  for (const auto& j : jobs) {
    if (j.direction != queue::Direction::out) continue;
    auto info = imaging::inspect_tiff(spool.fax_path(j.id));
    if (!info) continue;
    for (const auto& p : info->pages) {
      if (!p.note.empty() && notes.size() < 20) notes.push_back(p.note);
    }
    break;
  }
  return notes;
}

}  // namespace

struct OnRamp::Worker {
  asio::thread_pool pool{1};
};

OnRamp::OnRamp(asio::io_context& io, asio::any_io_executor store_exec, queue::JobStore& store, queue::Spool& spool,
               OnRampOptions opt)
    : io_(io), store_exec_(std::move(store_exec)), store_(store), spool_(spool), opt_(std::move(opt)), routes_(opt_.routes), timer_(io), hold_timer_(io) {
  // The worker never takes SIGINT/SIGTERM: they belong to the io thread (serve.cpp).
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  worker_ = std::make_unique<Worker>();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (opt_.mode != DeliveryMode::maildir) client_ = std::make_unique<smtp::SmtpClient>(io_.get_executor(), opt_.smtp);
}

OnRamp::~OnRamp() {
  stopped_ = true;
  if (opt_.reading) opt_.reading->stop();  // no reading's callback after this one is gone
  worker_->pool.join();
}

void OnRamp::log(const std::string& s) const {
  if (opt_.log) opt_.log(s);
}

void OnRamp::start() {
  next_purge_ = std::chrono::steady_clock::now();
  hold_deliveries();  // at once: the claims of before the start end (none is under way now)
  scan();
}

// Every lease_s / 3: the deliveries under way here keep their claims; any other this node holds
// (its attempt's end not recorded, a start's) is due again, for whichever node leads.
void OnRamp::hold_deliveries() {
  if (stopped_) return;
  asio::post(store_exec_, [this] {
    const int64_t now = unix_now();
    auto r = store_.hold_deliveries(opt_.node, now, now + opt_.lease_s, std::vector<int64_t>(held_.begin(), held_.end()));
    if (!r) log("OnRamp: the deliveries under way cannot be held: " + r.error().message);
    else if (*r > 0) poke();
  });
  hold_timer_.expires_after(std::chrono::seconds(std::max(1, opt_.lease_s / 3)));
  hold_timer_.async_wait([this](std::error_code ec) {
    if (!ec) hold_deliveries();
  });
}

void OnRamp::stop() {
  stopped_ = true;
  if (opt_.reading) opt_.reading->cancel();  // the read under way cancelled: its fax is read at the next start
  timer_.cancel();
  hold_timer_.cancel();
}

void OnRamp::poke() {
  asio::post(io_, [this] { scan(); });
}

void OnRamp::scan() {
  if (stopped_) return;
  if (scanning_) {
    rescan_ = true;
    return;
  }
  scanning_ = true;
  const int64_t now = unix_now();
  const int skip_routes = int(routing_.size()), skip_del = int(delivering_.size());
  const bool purge_now = std::chrono::steady_clock::now() >= next_purge_;
  if (purge_now) next_purge_ = std::chrono::steady_clock::now() + std::chrono::hours(1);
  // (Copies for the store thread: the work in hand, whose files are not fetched again.)
  asio::post(store_exec_, [this, now, skip_routes, skip_del, purge_now, routing = routing_, delivering = delivering_] {
    // Several nodes on one store: one of them at a time does this work for all (JobStore::lead);
    // the others ask again every few seconds, to take over when the leader goes.
    auto leading = store_.lead();
    if (!leading) log("OnRamp: " + leading.error().message);
    const bool leads = leading && *leading;
    if (leads != leading_) {
      leading_ = leads;
      log(leads ? "OnRamp: this node now routes, mails and reports for every node"
                : "OnRamp: another node routes, mails and reports");
    }
    if (!leads) {
      asio::post(io_, [this] {
        scanning_ = false;
        if (stopped_) return;
        timer_.expires_after(std::chrono::seconds(kFollowerWait));
        timer_.async_wait([this](std::error_code ec) {
          if (!ec) scan();
        });
      });
      return;
    }
    if (purge_now) purge();
    auto finish = store_.to_finish(kBatch);
    if (finish) {
      for (const auto& j : *finish) maybe_finish(j.id);
    }
    constexpr size_t kReportBatch = 64;
    if (auto rep = store_.to_report(int(kReportBatch)); rep && !rep->empty()) {
      // A full batch may have cut its last message in two: that message waits for the next
      // scan, so one report covers all its recipients that ended the same way.
      const bool full = rep->size() == kReportBatch;
      if (full && rep->front().message_id != rep->back().message_id) {
        const auto last = rep->back().message_id;
        while (rep->back().message_id == last) rep->pop_back();
      }
      if (report(std::move(*rep)) > 0 && full) poke();  // more may wait behind this batch
    }
    complete();
    auto jobs = store_.to_route(now, kBatch + skip_routes);
    // Claimed for this node (renewed with its leases), so a node that leads after it makes none
    // of them again while they are under way here.
    auto due = store_.claim_deliveries(opt_.node, now, unix_now() + opt_.lease_s, kMaxInFlight - skip_del);
    // What other nodes received or composed (a store that shares documents): here before use.
    // The store unreachable, the work waits for a later scan; the document missing, it goes on as
    // with a file missing (a fax mailed without its pages, a delivery failing and retried).
    // Work already in hand is not fetched again.
    if (jobs) {
      std::erase_if(*jobs, [&](const queue::Job& j) {
        if (j.pages == 0 || routing.count(j.id)) return false;
        auto f = queue::fetch_document(store_, spool_.dir(), spool_.received_path(j.id));
        if (f) return false;
        log("job " + std::to_string(j.id) + ": " + f.error().message);
        return queue::fetch_transient(f.error());
      });
    }
    if (due) {
      // (One not made now stays claimed until the next hold_deliveries(), then is due again.)
      std::erase_if(*due, [&](const queue::Delivery& d) {
        if (delivering.count(d.id)) return false;
        auto f = queue::fetch_document(store_, spool_.dir(), d.mail_path);
        if (f) return false;
        log("delivery " + std::to_string(d.id) + ": " + f.error().message);
        return queue::fetch_transient(f.error());
      });
      for (const auto& d : *due) held_.insert(d.id);
    }
    auto next = store_.next_delivery_at();
    if (!jobs) log("OnRamp: " + jobs.error().message);
    if (!due) log("OnRamp: " + due.error().message);
    asio::post(io_, [this, jobs = jobs ? *jobs : std::vector<queue::Job>{},
                     due = due ? *due : std::vector<queue::Delivery>{},
                     next = next ? *next : std::nullopt, now] {
      scanning_ = false;
      if (stopped_) return;
      for (const auto& j : jobs) {
        if (!routing_.count(j.id)) route_and_compose(j);
      }
      for (const auto& d : due) {
        if (delivering_.size() >= size_t(kMaxInFlight)) break;
        if (!delivering_.count(d.id)) deliver(d);
      }
      // Look again when the next delivery falls due, and at least every 30 s (a job whose
      // directory was down, the hourly purge).
      int64_t wait = 30;
      if (next && *next > now) wait = std::min<int64_t>(wait, *next - now);
      timer_.expires_after(std::chrono::seconds(std::max<int64_t>(wait, 1)));
      timer_.async_wait([this](std::error_code ec) {
        if (!ec) scan();
      });
      if (rescan_) {
        rescan_ = false;
        scan();
      }
    });
  });
}

void OnRamp::route_and_compose(const queue::Job& job) {
  routing_.insert(job.id);
  asio::post(worker_->pool, [this, job] {
    RouteResult r = route(*routes_.get(), InboundFax{job.number, job.subaddress, job.referred_by}, opt_.directory,
                          opt_.postmaster, opt_.partner_domains);
    if (job.referred_by && !r.partner && r.kind != RouteResult::later) {
      if (auto p = parse_partner_referral(*job.referred_by)) {
        // A referral we did not honour: said where the operator looks.
        const auto at = p->recipient.rfind('@');
        const std::string cause = opt_.partner_domains.empty() ? "no [exchange] recipient_domains are set"
                                  : p->recipient.find_first_of("%!") < at
                                      ? "its local part has % or ! (a relay could send it elsewhere)"
                                      : "not in [exchange] recipient_domains";
        const std::string why = "ignored an Exchange UM referral for " + p->recipient + ": " + cause +
                                " (routed by " + (r.how.empty() ? std::string("the postmaster rule") : r.how) + ")";
        log("job " + std::to_string(job.id) + ": " + why);
        asio::post(store_exec_, [this, id = job.id, why] { queue::logged(store_.add_event(id, why)); });
      }
    }
    auto done = [this, id = job.id] {
      asio::post(io_, [this, id] {
        routing_.erase(id);
        scan();
      });
    };
    if (r.kind == RouteResult::later) {
      asio::post(store_exec_, [this, job, r, done] {
        queue::logged(store_.set_retry(job.id, unix_now() + opt_.route_retry_s));
        queue::logged(store_.add_event(job.id, "not routed yet: " + r.reason));
        log("job " + std::to_string(job.id) + ": not routed yet: " + r.reason);
        done();
      });
      return;
    }
    if (job.pages == 0) {
      // Junk calls (a dialler, a wrong number calling again and again) mail a notice each: only
      // so many per caller an hour.
      const std::string who = job.caller.empty() ? "withheld numbers" : job.caller;
      if (!missed_.allow(job.caller.empty() ? "withheld" : job.caller, opt_.missed_notices_per_caller_per_hour, 1,
                         HourlyCounts::Clock::now())) {
        const std::string why = "no notice mailed: " + std::to_string(opt_.missed_notices_per_caller_per_hour) +
                                " already sent for calls from " + who +
                                " in the last hour ([fax] missed_notices_per_caller_per_hour)";
        asio::post(store_exec_, [this, job, why, done] {
          queue::logged(store_.add_event(job.id, why));
          const bool voice = job.outcome && *job.outcome == "voice";
          queue::logged(store_.set_state(job.id, voice ? queue::state::done : queue::state::failed,
                           job.error.value_or("No page was received.")));
          log("job " + std::to_string(job.id) + ": " + why);
          done();
        });
        return;
      }
    }
    // [ocr]: the pages read first, on the reading thread, by max_delay_s after the reception was
    // recorded; then composed here (Exchange partner mail: never, its body is the contract's).
    const std::string tiff = spool_.received_path(job.id);
    if (opt_.reading && !r.partner && job.pages > 0 && fs::exists(tiff)) {
      const int64_t left = job.updated + opt_.reading->max_delay_s() - unix_now();
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(left, 0));
      const bool cover = r.read_cover && r.kind == RouteResult::mailboxes;
      opt_.reading->read(
          tiff, deadline,
          [this, job, r, done](fb::Result<FaxText, std::string> text, bool cancelled) {
            if (cancelled) return done();  // stopping: read and mailed at the next start
            asio::post(worker_->pool, [this, job, r, done, text = std::move(text)]() mutable {
              if (r.read_cover && r.kind == RouteResult::mailboxes) r = route_by_cover(job, std::move(r), text);
              compose(job, r, done, &text);
            });
          },
          5, cover);
      return;
    }
    compose(job, r, done, nullptr);
  });
}

// A worker thread. A central number's fax: to the addressee its cover page names, when sure
// (cover_routing.hpp); else to the route's own mailboxes, with why and the candidates.
RouteResult OnRamp::route_by_cover(const queue::Job& job, RouteResult central,
                                   const fb::Result<FaxText, std::string>& text) {
  std::vector<Addressee> people;
  std::string directory_note;
  if (opt_.people) {
    if (auto p = opt_.people()) people = std::move(*p);
    else directory_note = "the directory could not be read (" + p.error() + ")";
  }
  // The routes, held for the whole decision (a SIGHUP may replace them meanwhile). A central
  // number's route is no destination of its own cover pages.
  const auto routes = routes_.get();
  for (size_t i = 0; i < routes->size(); ++i) {
    const RouteRule& rule = (*routes)[i];
    if (rule.is_default || rule.ocr || rule.mailboxes.empty()) continue;
    Addressee a;
    a.name = rule.did.empty() ? "route subaddress " + rule.subaddress : "route " + rule.did;
    a.mails = rule.mailboxes;
    a.route = int(i);
    if (!rule.did.empty()) {
      a.numbers = {rule.did};
      a.keys.push_back(rule.did);
    }
    if (!rule.subaddress.empty()) a.keys.push_back(rule.subaddress);
    people.push_back(std::move(a));
  }
  CoverPage page;
  if (text && (*text).cover) {
    page.text = *(*text).cover;
    page.read = true;
  }
  if (text) {
    page.barcodes = (*text).barcodes;
    page.xres = (*text).cover_xres;
    page.yres = (*text).cover_yres;
  }
  const CoverDecision d = decide_cover(page, people);
  char score[16];
  if (d.chosen) {
    const Addressee& a = people[*d.chosen];
    std::snprintf(score, sizeof score, "%.2f", d.score);
    RouteResult r = central;
    if (a.route >= 0) {  // a route: every mailbox it has, with what it attaches
      const RouteRule& rule = (*routes)[size_t(a.route)];
      r.to.clear();
      for (const auto& m : rule.mailboxes)
        if (plausible_mailbox(m) && std::find(r.to.begin(), r.to.end(), m) == r.to.end() && r.to.size() < kMaxMailboxes)
          r.to.push_back(m);
      r.pdf = rule.pdf;
      r.tiff = rule.tiff;
    } else {
      r.to = {a.mails.front()};
    }
    if (central.copy_to_central)
      for (const auto& m : central.to)
        if (std::find(r.to.begin(), r.to.end(), m) == r.to.end()) r.to.push_back(m);
    r.by = d.by;
    r.how = (d.by == "barcode" ? "barcode \"" + d.matched + "\" on the cover page"
                               : "OCR: read \"" + d.matched + "\" on the cover page (score " + score + ")") +
            ", matched " + a.name + " <" + join(r.to) + ">" +
            (central.copy_to_central ? "; copy to " + central.how : "");
    return r;
  }
  std::string candidates;
  for (const auto& c : d.candidates) {
    std::snprintf(score, sizeof score, "%.2f", c.score);
    const Addressee& a = people[c.index];
    candidates += (candidates.empty() ? "" : ", ") + a.name + (a.mails.empty() ? "" : " <" + a.mails.front() + ">") +
                  (a.may_receive ? "" : " (may not receive faxes)") + " (" + score + ")";
  }
  std::string why = !text ? "the fax could not be read (" + text.error() + ")" : d.why;
  if (!directory_note.empty()) why += "; " + directory_note;
  central.how += " (central number; not routed by its cover page: " + why +
                 (candidates.empty() ? "" : "; candidates: " + candidates) + ")";
  log("job " + std::to_string(job.id) + ": cover page: " + why + (candidates.empty() ? "" : "; candidates: " + candidates));
  return central;
}

// A worker thread. The mail of a routed fax, durably in the spool, then its deliveries.
void OnRamp::compose(const queue::Job& job, RouteResult r, const std::function<void()>& done,
                     const fb::Result<FaxText, std::string>* text) {
  {
    mail::ReceivedFaxInfo info = info_of(job);
    const std::string tiff = spool_.received_path(job.id);
    const bool has_pages = job.pages > 0 && fs::exists(tiff);
    mail::FaxMailOptions mo;
    mo.from = opt_.from;
    mo.to = r.to;
    mo.message_id = "fax-" + std::to_string(job.id) + "." + std::to_string(job.created) + "@" + domain_of(opt_.from);
    mo.tiff_path = has_pages ? tiff : "";
    mo.attach_tiff = r.tiff;
    mo.attach_pdf = r.pdf && !r.partner;
    if (r.partner) mo.partner_context = r.partner->context;
    if (r.kind == RouteResult::postmaster) mo.postmaster_reason = r.reason;
    if (!r.partner && r.kind != RouteResult::postmaster) mo.routing = r.how;
    const std::string pdf = spool_.dir() + "/out/" + std::to_string(job.id) + ".pdf";
    std::string problem;
    // [ocr]: the pages read for the PDF's text layer and the mail's body. Unread, the fax goes
    // as it would without OCR.
    std::vector<imaging::PageWords> words;
    if (has_pages && text) {
      if (*text) {
        words = (*text)->words;
        mo.page_lines = (*text)->lines;
        log("job " + std::to_string(job.id) + ": read " + std::to_string((*text)->pages_read) + " of " +
            std::to_string((*text)->pages) + " page(s) in " + std::to_string(int((*text)->seconds * 1000)) + " ms" +
            ((*text)->note.empty() ? "" : " (" + (*text)->note + ")"));
      } else {
        log("job " + std::to_string(job.id) + ": not read (" + text->error() + "); mailed without text");
      }
    }
    if (has_pages && mo.attach_pdf) {
      if (auto s = imaging::write_pdf_from_tiff(tiff, pdf, words); !s) {
        // The TIFF still goes; the PDF is a convenience copy of it.
        problem = "no PDF: " + s.error().message;
        mo.attach_pdf = false;
        mo.attach_tiff = true;
      } else {
        mo.pdf_path = pdf;
      }
    }
    auto mail = mail::compose_fax_mail(info, mo);
    if (!mail) {
      // The fax cannot be attached (its file is unreadable): the postmaster hears of it, with
      // the job number to look for it, rather than nobody.
      problem = mail.error().message;
      mo.to = {opt_.postmaster};
      mo.postmaster_reason = "the received fax could not be attached: " + problem;
      mo.tiff_path.clear();
      mo.partner_context.reset();
      mo.routing.clear();
      r.kind = RouteResult::postmaster;
      r.by = "postmaster";
      r.to = mo.to;
      mail = mail::compose_fax_mail(info, mo);
    }
    std::error_code ec;
    fs::remove(pdf, ec);
    const std::string path = spool_.mail_path(job.id);
    if (!mail) {
      log("job " + std::to_string(job.id) + ": cannot compose its mail: " + mail.error().message);
      asio::post(store_exec_, [this, job, done] {
        queue::logged(store_.set_retry(job.id, unix_now() + opt_.route_retry_s));
        done();
      });
      return;
    }
    if (auto w = queue::Spool::write_durably(path, *mail); !w) {
      log("job " + std::to_string(job.id) + ": cannot write its mail: " + w.error().message);
      asio::post(store_exec_, [this, job, done] {
        queue::logged(store_.set_retry(job.id, unix_now() + opt_.route_retry_s));
        done();
      });
      return;
    }
    std::vector<queue::NewDelivery> ds;
    for (const auto& to : r.to) {
      ds.push_back({to, r.kind == RouteResult::postmaster ? queue::DeliveryKind::postmaster : queue::DeliveryKind::mailbox,
                    path, mo.message_id});
    }
    std::string event = (r.kind == RouteResult::postmaster ? "to the postmaster (" + r.reason + "): "
                                                           : "routed by " + r.how + " to ") +
                        join(r.to) + (problem.empty() ? "" : "; " + problem);
    const bool to_mailboxes = r.kind != RouteResult::postmaster;
    asio::post(store_exec_, [this, job, ds, event, done, to_mailboxes, to = r.to, by = r.by] {
      std::vector<queue::WebhookTarget> hooks;
      if (to_mailboxes && opt_.webhook_targets) {
        auto t = opt_.webhook_targets(to);
        if (!t) {  // the users' table cannot be read now: routed again at the next round, announced then
          log("job " + std::to_string(job.id) + ": its webhooks cannot be read: " + t.error().message);
          done();
          return;
        }
        hooks = std::move(*t);
      }
      // The mail, for whichever node leads next (a store that shares documents), then its rows.
      if (auto sh = queue::share_document(store_, spool_.dir(), ds.front().mail_path); !sh) {
        log("job " + std::to_string(job.id) + ": " + sh.error().message);
        done();
        return;
      }
      if (auto a = store_.add_deliveries(job.id, ds, event, true, hooks, by); !a) log("job " + std::to_string(job.id) + ": " + a.error().message);
      else log("job " + std::to_string(job.id) + ": " + event);
      done();
    });
  }
}

void OnRamp::deliver(const queue::Delivery& d) {
  delivering_.insert(d.id);
  asio::post(worker_->pool, [this, d] {
    std::string error;
    std::string message = read_all(d.mail_path, error);
    if (!error.empty()) {
      asio::post(io_, [this, d, error] { delivered(d, {smtp::SendOutcome::temporary, error}); });
      return;
    }
    if (opt_.mode == DeliveryMode::maildir) {
      std::string key = std::to_string(d.job_id) + ".faxbridge-" + std::to_string(d.id);
      // As an MTA would deliver it: Return-Path the envelope sender (reports and forwards: <>).
      const std::string sender = null_sender(d.kind) ? "" : opt_.from;
      auto r = mail::deliver_maildir(opt_.maildir, d.recipient, key, message, sender);
      smtp::SendOutcome o;
      if (r) o = {smtp::SendOutcome::delivered, "in " + *r};
      else o = {r.error().permanent ? smtp::SendOutcome::permanent : smtp::SendOutcome::temporary, r.error().message};
      asio::post(io_, [this, d, o] { delivered(d, o); });
      return;
    }
    asio::post(io_, [this, d, message = std::move(message)]() mutable {
      std::string sender = sender_of(d);
      asio::co_spawn(io_, client_->send(sender, d.recipient, std::move(message)),
                     [this, d](std::exception_ptr e, smtp::SendOutcome o) {
                       if (e) o = {smtp::SendOutcome::temporary, "the SMTP client failed"};
                       delivered(d, o);
                     });
    });
  });
}

void OnRamp::delivered(const queue::Delivery& d, smtp::SendOutcome o) {
  const char* via = opt_.mode == DeliveryMode::maildir ? "Maildir" : opt_.mode == DeliveryMode::lmtp ? "LMTP" : "SMTP";
  const int64_t now = unix_now();
  if (o.kind == smtp::SendOutcome::temporary && now - d.created > kGiveUpAfter) {
    o.kind = smtp::SendOutcome::permanent;
    o.detail += " (temporary failures for 5 days: giving up)";
  }
  fb::metrics::count("faxbridge_mail_deliveries_total", "Attempts to deliver a received fax, report or forward as mail",
                     {{"result", o.kind == smtp::SendOutcome::delivered   ? "delivered"
                                 : o.kind == smtp::SendOutcome::temporary ? "deferred"
                                                                          : "failed"}});
  if (o.kind == smtp::SendOutcome::permanent && d.kind == queue::DeliveryKind::mailbox) {
    // Compose the postmaster's copy first, so the failure and its replacement are recorded together.
    asio::post(worker_->pool, [this, d, o] {
      std::optional<queue::NewDelivery> then;
      auto job = std::make_shared<std::optional<queue::Job>>();
      auto got = std::make_shared<std::promise<void>>();
      auto ready = got->get_future();
      asio::post(store_exec_, [this, d, job, got] {
        if (auto j = store_.job(d.job_id)) *job = *j;
        got->set_value();
      });
      // Bounded: at shutdown the store thread may be gone, and the worker must still end.
      if (ready.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        // The store too slow to answer: the attempt ends here unrecorded, its claim with it (due
        // again at the next hold, for whichever node leads).
        asio::post(store_exec_, [this, d] {
          held_.erase(d.id);
          asio::post(io_, [this, d] { delivering_.erase(d.id); });
        });
        return;
      }
      if (*job) then = postmaster_copy(**job, d, "delivery to " + d.recipient + " failed: " + o.detail);
      asio::post(store_exec_, [this, d, o, then] {
        if (then) {  // the postmaster's copy, there for whichever node leads next (else tried again)
          if (auto sh = queue::share_document(store_, spool_.dir(), then->mail_path); !sh) {
            log(sh.error().message + "; tried again later");
            held_.erase(d.id);
            asio::post(io_, [this, d] { delivering_.erase(d.id); });
            return;
          }
        }
        if (auto r = store_.delivery_failed(d.id, o.detail, opt_.node, then); !r) log("delivery " + std::to_string(d.id) + ": " + r.error().message);
        held_.erase(d.id);
        log("job " + std::to_string(d.job_id) + ": delivery to " + d.recipient + " failed: " + o.detail);
        maybe_finish(d.job_id);
        asio::post(io_, [this, d] {
          delivering_.erase(d.id);
          scan();
        });
      });
    });
    return;
  }
  asio::post(store_exec_, [this, d, o, via, now] {
    queue::StoreStatus r = fb::Unit{};
    if (o.kind == smtp::SendOutcome::delivered) {
      r = store_.delivery_done(d.id, std::string("delivered to ") + d.recipient + " by " + via + ": " + o.detail);
      log("job " + std::to_string(d.job_id) + ": delivered to " + d.recipient + " by " + via);
    } else if (o.kind == smtp::SendOutcome::temporary) {
      r = store_.delivery_deferred(d.id, now + backoff(d.attempts + 1), o.detail, opt_.node);
      log("job " + std::to_string(d.job_id) + ": delivery to " + d.recipient + " deferred: " + o.detail);
    } else {
      r = store_.delivery_failed(d.id, o.detail, opt_.node);
      log("job " + std::to_string(d.job_id) + ": delivery of the " +
          (d.kind == queue::DeliveryKind::report    ? "report to "
           : d.kind == queue::DeliveryKind::forward ? "mail for the postmaster to "
                                                    : "postmaster's copy to ") +
          d.recipient +
          " failed: " + o.detail);
    }
    if (!r) log("delivery " + std::to_string(d.id) + ": " + r.error().message);
    held_.erase(d.id);  // the attempt is over (its end unrecorded: due again at the next hold)
    // A report's (or a forward's) mail is ours alone: once it is delivered or refused for good,
    // it goes (after the commit; a crash in between leaves a file that retention removes).
    if (r && null_sender(d.kind) && o.kind != smtp::SendOutcome::temporary) {
      std::error_code ec;
      fs::remove(d.mail_path, ec);
    }
    if (d.job_id != 0) maybe_finish(d.job_id);
    asio::post(io_, [this, d] {
      delivering_.erase(d.id);
      scan();
    });
  });
}

std::string OnRamp::sender_of(const queue::Delivery& d) const {
  // Reports go from the null reverse path (RFC 3464 §2): a bounce of one is never reported on.
  // So does mail passed on to the postmaster: its bounce must not come back to us in a loop.
  if (null_sender(d.kind)) return "";
  // A received fax's mail: from its bounce address, so that a late bounce is heard (bounce()).
  if (d.tag.empty() || opt_.bounce_domain.empty()) return opt_.from;
  const auto at = opt_.from.rfind('@');
  return mail::bounce_address(at == std::string::npos ? opt_.from : opt_.from.substr(0, at), opt_.bounce_domain, d.id,
                              d.tag);
}

std::optional<queue::NewDelivery> OnRamp::postmaster_copy(const queue::Job& job, const queue::Delivery& d,
                                                          const std::string& why) const {
  mail::FaxMailOptions mo;
  mo.from = opt_.from;
  mo.to = {opt_.postmaster};
  mo.message_id = "fax-" + std::to_string(d.job_id) + "-" + std::to_string(d.id) + "." + std::to_string(job.created) +
                  "@" + domain_of(opt_.from);
  // Still in the spool, or archived already (a late bounce).
  std::error_code ec;
  std::string tiff = spool_.received_path(d.job_id);
  if (!fs::exists(tiff, ec)) tiff = spool_.archive_path(d.job_id);
  mo.tiff_path = job.pages > 0 && fs::exists(tiff, ec) ? tiff : "";
  mo.attach_pdf = false;
  mo.postmaster_reason = why;
  auto mail = mail::compose_fax_mail(info_of(job), mo);
  const std::string path = spool_.mail_path(d.job_id, int(d.id));
  if (!mail || !queue::Spool::write_durably(path, *mail)) return std::nullopt;
  return queue::NewDelivery{opt_.postmaster, queue::DeliveryKind::postmaster, path, mo.message_id};
}

std::optional<smtp::Reply> OnRamp::bounce(const mail::BounceAddress& b, const std::string& address,
                                          std::string_view message) {
  const std::string who = "<" + address + ">";
  auto d = store_.delivery(b.delivery);
  if (!d && d.error().code != queue::StoreErrc::not_found) {
    return smtp::Reply{451, "4.3.0", "Local error in processing, try again later (the store: " + d.error().message + ")"};
  }
  // An unknown delivery and a wrong tag read the same: nothing to learn by trying.
  if (!d || d->tag.empty() || d->tag != b.tag || d->job_id == 0) {
    log("a bounce to " + address + " named no mail of ours: refused");
    return smtp::Reply{550, "5.1.1", who + ": no such bounce address"};
  }
  const std::string job = "job " + std::to_string(d->job_id);
  auto report = mail::read_delivery_report(message);
  if (!report) {
    // An automatic reply (an out-of-office to the Return-Path; RFC 3834) is noted, not passed on.
    if (auto t = mail::trace_facts(message); t && !t->auto_submitted.empty() && t->auto_submitted != "no") {
      queue::logged(store_.add_event(d->job_id, "an automatic reply (Auto-Submitted: " + t->auto_submitted +
                                                    ") came back to the bounce address of the mail to " + d->recipient));
      return smtp::Reply{250, "2.0.0", "Ok: automatic reply noted"};
    }
    const std::string why = "a mail that is not a delivery report came back to the bounce address of the mail to " +
                            d->recipient + ": passed on to the postmaster";
    queue::logged(store_.add_event(d->job_id, why));
    log(job + ": " + why);
    return std::nullopt;
  }
  const auto& r = mail::recipient_about(*report, d->recipient);
  const std::string why = mail::describe(*report, r);
  if (r.action != "failed") {
    // A delay warning, or a success notice (NOTIFY is not sent; some MTAs report relays anyway).
    queue::logged(store_.add_event(d->job_id, "the mail to " + d->recipient + ": " +
                                                  (r.action.empty() ? std::string("reported") : r.action) + ", " + why));
    return smtp::Reply{250, "2.0.0", "Ok: report noted"};
  }
  if (d->state == "failed") return smtp::Reply{250, "2.0.0", "Ok: that bounce was recorded already"};
  if (d->state == "pending") {
    return smtp::Reply{451, "4.3.0", "The mail is being delivered again; try this bounce later"};
  }
  auto j = store_.job(d->job_id);
  if (!j) return smtp::Reply{451, "4.3.0", "Local error in processing, try again later (" + j.error().message + ")"};
  std::optional<queue::NewDelivery> then;
  if (d->kind == queue::DeliveryKind::mailbox) {
    // The fax goes to the postmaster with the reason; composed before the commit that records both
    // (on a store several nodes share, from the received pages in the store).
    if (j->pages > 0) {
      if (auto f = queue::fetch_document(store_, spool_.dir(), spool_.received_path(d->job_id));
          !f && queue::fetch_transient(f.error()))
        return smtp::Reply{451, "4.3.0", "Local error in processing, try again later (" + f.error().message + ")"};
    }
    then = postmaster_copy(*j, *d, "the mail to " + d->recipient + " bounced after it was sent: " + why);
    if (!then) return smtp::Reply{451, "4.3.0", "Local error in processing, try again later (cannot write the postmaster's copy)"};
    if (auto sh = queue::share_document(store_, spool_.dir(), then->mail_path); !sh)
      return smtp::Reply{451, "4.3.0", "Local error in processing, try again later (" + sh.error().message + ")"};
  }
  auto done = store_.delivery_bounced(d->id, "bounced: " + why, then);
  if (!done) {
    if (done.error().code == queue::StoreErrc::conflict) {
      return smtp::Reply{451, "4.3.0", "The mail is being delivered again; try this bounce later"};
    }
    return smtp::Reply{451, "4.3.0", "Local error in processing, try again later (" + done.error().message + ")"};
  }
  if (!*done) return smtp::Reply{250, "2.0.0", "Ok: that bounce was recorded already"};
  log(job + ": the mail to " + d->recipient + " bounced: " + why +
      (then ? "; the postmaster gets the fax" : "; it was the postmaster's copy: the fax stays in the archive"));
  poke();
  return smtp::Reply{250, "2.0.0", then ? "Ok: bounce recorded; the fax goes to the postmaster" : "Ok: bounce recorded"};
}

// Store thread.
void OnRamp::maybe_finish(int64_t job_id) {
  auto ds = store_.deliveries(job_id);
  auto job = store_.job(job_id);
  if (!ds || !job || ds->empty() || job->state != queue::state::delivering) return;
  bool any_done = false;
  for (const auto& d : *ds) {
    if (d.state == "pending") return;
    if (d.state == "done") any_done = true;
  }
  std::error_code ec;
  const std::string tiff = spool_.received_path(job_id);
  if (any_done && fs::exists(tiff, ec)) {
    if (auto m = queue::Spool::move_durably(tiff, spool_.archive_path(job_id)); !m) {
      log("job " + std::to_string(job_id) + ": cannot archive the fax: " + m.error().message);
      return;  // tried again at the next scan
    }
  }
  if (any_done) {
    for (const auto& d : *ds) fs::remove(d.mail_path, ec);
  }
  if (!any_done) {
    // Nobody, not even the postmaster, could take it: the fax stays in the spool and says so.
    queue::logged(store_.set_state(job_id, queue::state::failed,
                                   "The fax could not be delivered to anyone; it is kept as " + tiff + "."));
    log("job " + std::to_string(job_id) + ": undeliverable, kept in " + tiff);
    return;
  }
  // A voice call that could not be transferred was never a fax: it is done once its notice went.
  if (job->outcome == "voice") {
    queue::logged(store_.set_state(job_id, queue::state::done, job->error));
  } else if (job->pages == 0) {
    queue::logged(store_.set_state(job_id, queue::state::failed, job->error.value_or("No page was received.")));
  } else {
    queue::logged(store_.set_state(job_id, queue::state::done, job->error));
  }
}

// Store thread. Groups the jobs by message and action. Whether a final job also owes an MDN is
// known only from the original's header, read on the worker; a job that can owe nothing (null
// sender; delayed and not wanted) is only marked.
size_t OnRamp::report(std::vector<queue::Job> jobs) {
  size_t handled = 0;
  std::set<std::string> fetched, unfetched;  // messages whose original was fetched (or failed to be)
  struct Group {
    queue::Message msg;
    std::string action;
    std::vector<queue::Job> jobs;
    std::vector<bool> dsn;  // per job: the sender wants the DSN of this action
  };
  std::vector<Group> groups;
  for (const auto& j : jobs) {
    if (!j.message_id || reporting_.count(j.id)) continue;
    ReportLine line = report_line(j);
    const std::string reported = line.action == "delayed" ? "delayed" : "final";
    auto msg = store_.message(*j.message_id);
    if (!msg) continue;
    const bool dsn = !msg->sender.empty() && wants_report(j.notify, line.action, opt_.notify);
    const bool mdn_possible = !msg->sender.empty() && reported == "final";
    // Accepted by another node (a store that shares documents): the original from the store, once
    // per message and only when a report may be sent. The store unreachable, reported at a later
    // scan; the document missing, reported without the original.
    if ((dsn || mdn_possible) && fetched.insert(msg->id).second) {
      if (auto f = queue::fetch_document(store_, spool_.dir(), msg->spool_path); !f) {
        log("job " + std::to_string(j.id) + ": " + f.error().message);
        if (queue::fetch_transient(f.error())) {
          unfetched.insert(msg->id);
          continue;
        }
      }
    }
    if (unfetched.count(msg->id)) continue;
    if (!dsn && !mdn_possible) {
      std::string why = msg->sender.empty() ? "no report: the message came from the null sender"
                                            : "no report of " + line.action + ": NOTIFY=" + j.notify.value_or("(default)");
      queue::logged(store_.mark_reported({j.id}, reported, {}, why));
      ++handled;
      continue;
    }
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const Group& x) { return x.msg.id == msg->id && x.action == line.action; });
    if (g == groups.end()) {
      groups.push_back({*msg, line.action, {}, {}});
      g = groups.end() - 1;
    }
    g->jobs.push_back(j);
    g->dsn.push_back(dsn);
    reporting_.insert(j.id);
    ++handled;
  }
  for (auto& g : groups) {
    asio::post(worker_->pool, [this, g = std::move(g)] {
      const std::string domain = domain_of(opt_.from);
      const int64_t now = unix_now();
      // The original decides whether an MDN is owed: when it is there but cannot be read (a
      // transient error), nothing is marked and the group is tried again.
      std::string original;
      bool ok = true;
      std::error_code exists_ec;
      if (fs::exists(g.msg.spool_path, exists_ec)) {
        std::ifstream f(g.msg.spool_path, std::ios::binary);
        std::ostringstream ss;
        if (f) ss << f.rdbuf();
        ok = f && !f.bad();
        original = ss.str();
      }
      std::vector<queue::JobDelivery> reports;
      std::vector<int64_t> ids;
      auto spool_report = [&](int64_t job, const std::string& name, const std::string& message_id,
                              const std::string& to, const std::string& text) {
        const std::string path = spool_.dir() + "/out/" + name + ".eml";
        if (!queue::Spool::write_durably(path, text)) return false;
        reports.push_back({job, queue::NewDelivery{to, queue::DeliveryKind::report, path, message_id}});
        return true;
      };
      // The DSN: one for the jobs of this message and action whose sender asked for it.
      mail::DsnInput in;
      in.reporting_mta = opt_.reporting_mta;
      in.from = opt_.from;
      in.to = g.msg.sender;
      in.envid = g.msg.envid;
      in.arrival = g.msg.arrived;
      in.original_path = g.msg.spool_path;
      in.full = g.msg.ret == queue::Ret::full;
      in.original_8bit = g.msg.body_8bit;
      in.original_smtputf8 = g.msg.smtputf8;
      in.now = now;
      in.notes = render_notes(spool_, g.jobs);
      for (size_t i = 0; i < g.jobs.size(); ++i) {
        const queue::Job& j = g.jobs[i];
        ids.push_back(j.id);
        if (!g.dsn[i]) continue;
        ReportLine line = report_line(j);
        mail::DsnRecipient r;
        r.final_recipient = j.recipient;
        r.orcpt = j.orcpt;
        r.action = line.action;
        r.status = line.status;
        r.diagnostic = line.diagnostic;
        r.number = j.number;
        r.pages = j.pages;
        r.pages_sent = j.pages_done;
        r.last_attempt = j.dials + j.tries > 0 ? j.updated : 0;
        if (line.action == "delayed") r.will_retry_until = j.created + opt_.kill_after_s;
        r.why = j.error.value_or("");
        if (r.last_attempt) r.node = j.owner.value_or("");  // the node of its last call
        in.recipients.push_back(r);
      }
      std::string sent;
      if (!in.recipients.empty()) {
        const std::string name = "dsn-" + g.msg.id + "-" + std::to_string(ids.front()) + "-" + g.action;
        in.message_id = name + "@" + domain;
        auto text = mail::compose_dsn(in);
        ok = ok && text && spool_report(ids.front(), name, in.message_id, g.msg.sender, *text);
        sent = "DSN (" + g.action + ")";
      }
      // MDNs: one per fax recipient, once it is final, when the original asked (mdn.hpp).
      if (g.action != "delayed") {
        if (auto req = mail::mdn_request(original, g.msg.sender)) {
          for (const auto& j : g.jobs) {
            mail::MdnInput m;
            m.reporting_ua = opt_.reporting_mta;
            m.from = opt_.from;
            m.request = *req;
            const std::string name = "mdn-" + g.msg.id + "-" + std::to_string(j.id);
            m.message_id = name + "@" + domain;
            m.final_recipient = j.recipient;
            m.orcpt = j.orcpt;
            m.number = j.number;
            m.complete = j.state == queue::state::done;
            m.error = m.complete ? "" : j.error.value_or(report_line(j).diagnostic);
            m.pages = j.pages;
            m.pages_sent = j.pages_done;
            if (j.dials + j.tries > 0) m.node = j.owner.value_or("");
            m.original = original;
            m.now = now;
            auto text = mail::compose_mdn(m);
            ok = ok && text && spool_report(j.id, name, m.message_id, req->to, *text);
          }
          sent += std::string(sent.empty() ? "" : " and ") + "MDN";
        }
      }
      const std::string reported = g.action == "delayed" ? "delayed" : "final";
      const std::string event = sent.empty() ? "no report of " + g.action + ": not asked for"
                                             : sent + " to " + g.msg.sender;
      asio::post(store_exec_, [this, ids, reported, ok, reports = std::move(reports), event, to = g.msg.sender] {
        for (int64_t id : ids) reporting_.erase(id);
        if (!ok) {
          log("cannot compose the report to " + to + "; trying again later");
          return;
        }
        // Reported meanwhile by a node that led before: this report goes. Its files have the
        // names of that node's (the same report, composed twice) and stay: that node's delivery
        // names them, and a node making it compares its copy with the store's first.
        auto drop = [&](const std::string& why) { log(why + "; this node's report to " + to + " is dropped"); };
        for (int64_t id : ids) {
          auto j = store_.job(id);
          if (j && j->reported && (*j->reported == "final" || *j->reported == reported)) {
            return drop("job " + std::to_string(id) + " was reported " + *j->reported + " by another node");
          }
        }
        for (const auto& rep : reports) {  // there for whichever node leads next
          if (auto sh = queue::share_document(store_, spool_.dir(), rep.delivery.mail_path); !sh) {
            log(sh.error().message + "; trying again later");
            return;
          }
        }
        if (auto r = store_.mark_reported(ids, reported, reports, event); !r) {
          if (r.error().code == queue::StoreErrc::conflict) return drop(r.error().message);
          log(r.error().message);
        }
        else if (!reports.empty()) log(event + " about " + std::to_string(ids.size()) + " fax(es)");
        poke();
      });
    });
  }
  return handled;
}

// Store thread. Messages whose every fax is final and reported: the original goes from the spool
// (removed first: a crash in between leaves an active message with no file, completed again).
void OnRamp::complete() {
  auto ids = store_.to_complete(kBatch);
  if (!ids) {
    log("OnRamp: " + ids.error().message);
    return;
  }
  for (const auto& id : *ids) {
    std::error_code ec;
    fs::remove(spool_.message_path(id), ec);
    if (auto r = store_.remove_documents({"msg/" + id + ".eml"}); !r) log(r.error().message);
    if (auto r = store_.set_message_state(id, "done"); !r) log(r.error().message);
  }
}

// Store thread. Retention: received faxes (archived) and sent ones (their pages) after
// [delivery] archive_days, with their records.
void OnRamp::purge() {
  auto jobs = store_.purge(unix_now() - int64_t(opt_.archive_days) * 86400);
  if (!jobs) {
    log("OnRamp: purge: " + jobs.error().message);
    return;
  }
  std::error_code ec;
  std::vector<std::string> documents;  // their copies in a store that shares documents
  for (const auto& j : *jobs) {
    if (j.id != 0) {  // (0: forwards to the postmaster, their mails only)
      fs::remove(j.direction == queue::Direction::in ? spool_.archive_path(j.id) : spool_.fax_path(j.id), ec);
      documents.push_back(queue::document_name(spool_.dir(), j.direction == queue::Direction::in
                                                                 ? spool_.received_path(j.id)
                                                                 : spool_.fax_path(j.id)));
    }
    for (const auto& f : j.mails) {
      fs::remove(f, ec);
      documents.push_back(queue::document_name(spool_.dir(), f));
    }
  }
  std::erase(documents, std::string());
  if (auto r = store_.remove_documents(documents); !r) log("OnRamp: purge: " + r.error().message);
  const auto faxes = std::count_if(jobs->begin(), jobs->end(), [](const auto& j) { return j.id != 0; });
  if (faxes) log("purged " + std::to_string(faxes) + " fax(es) older than " + std::to_string(opt_.archive_days) + " days");
}

}  // namespace gateway
