// offramp.cpp — OffRamp intake: policy, spooling and the durable commit (see offramp.hpp).
#include "gateway/offramp.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include <crypt.h>
#include <glib.h>
#include <fcntl.h>
#include <unistd.h>

#include "mail/fax_parts.hpp"

namespace gateway {
namespace {

using smtp::Reply;

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = char(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// The domain of an RCPT path ("" when there is none).
std::string domain_of(std::string_view path) {
  auto at = path.rfind('@');
  return at == std::string_view::npos ? std::string() : lower(path.substr(at + 1));
}

std::string rfc5322_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

// Bytes from the message made safe for an SMTP reply line: printable ASCII, the rest as '?'.
std::string ascii(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

// RFC 2045 §6.8 base64 (GLib's encoder) in lines of 76 characters, each ended by CRLF.
std::string base64_lines(std::string_view data) {
  gchar* b64 = g_base64_encode(reinterpret_cast<const guchar*>(data.data()), data.size());
  const std::string_view all(b64);
  std::string out;
  out.reserve(all.size() + all.size() / 76 * 2 + 2);
  for (size_t at = 0; at < all.size(); at += 76) {
    out.append(all.substr(at, 76));
    out += "\r\n";
  }
  g_free(b64);
  return out;
}

// Writes `data` to the file at `path` (created or emptied); 0 or the errno that stopped it.
int write_file(const std::string& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd < 0) return errno;
  for (size_t at = 0; at < data.size();) {
    const ssize_t n = ::write(fd, data.data() + at, data.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      return err;
    }
    at += size_t(n);
  }
  return ::close(fd) == 0 ? 0 : errno;
}

// NOTIFY for one job asked by two RCPTs (RFC 3461 §4.1): none given is the node's default
// (`[dsn]`: FAILURE, DELAY when delay is on, SUCCESS when success is on), kept as none when the
// other asks nothing beyond it; NEVER only when both say so; else the union, in SUCCESS,
// FAILURE, DELAY order.
std::optional<std::string> merged_notify(const std::optional<std::string>& a, const std::optional<std::string>& b,
                                         const std::set<std::string>& by_default) {
  if (!a && !b) return std::nullopt;
  auto flags = [&](const std::optional<std::string>& n) {
    std::set<std::string> f;
    if (!n) return by_default;
    if (*n == "NEVER") return f;
    for (size_t at = 0; at <= n->size();) {
      size_t comma = n->find(',', at);
      if (comma == std::string::npos) comma = n->size();
      f.insert(n->substr(at, comma - at));
      at = comma + 1;
    }
    return f;
  };
  std::set<std::string> u = flags(a);
  for (auto& f : flags(b)) u.insert(f);
  if (u.empty()) return std::string("NEVER");
  if ((!a || !b) && u == by_default) return std::nullopt;
  std::string out;
  for (const char* f : {"SUCCESS", "FAILURE", "DELAY"}) {
    if (u.count(f)) out += (out.empty() ? "" : ",") + std::string(f);
  }
  return out;
}

// Mail for the postmaster from a client neither trusted nor authenticated: at most this.
constexpr size_t kPostmasterMaxBytes = size_t(1) << 20;
// Of a bounce, only this much is kept: the delivery report comes before the returned message
// (RFC 6522), which we sent and need not read back.
constexpr size_t kBounceKeptBytes = size_t(1) << 20;

class Intake : public smtp::Intake {
 public:
  Intake(OffRamp& ramp, asio::ip::address client, bool trusted)
      : ramp_(ramp), client_(std::move(client)), trusted_(trusted) {}
  ~Intake() override { abort(); }

  // An untrusted client without AUTH may begin a transaction: its mail may be for the
  // postmaster (RFC 5321 §4.5.1); a fax recipient gets 530 at RCPT, as Postfix defers its
  // refusals to RCPT (smtpd_delay_reject).
  std::optional<Reply> check_mail(const smtp::Envelope& env) override {
    forward_.clear();  // a new transaction
    bounce_.reset();
    if (const auto& o = ramp_.options(); o.min_free_mb > 0 && !o.spool_dir.empty()) {
      // RFC 3463 4.3.1: not now, and before the client sends its whole DATA.
      // RFC 1870: a declared SIZE must fit above the minimum too.
      const uint64_t need = uint64_t(o.min_free_mb) + (env.declared_size ? *env.declared_size >> 20 : 0);
      if (auto mb = queue::free_mb(o.spool_dir); mb && *mb < need) {
        return Reply{452, "4.3.1", "Insufficient system storage: " + std::to_string(*mb) + " MB free, try again later"};
      }
    }
    if (!ramp_.messages().allow(sender_key(env), ramp_.limits()->messages_per_hour, 1, now())) {
      return Reply{450, "4.7.1", "Too many fax messages from this sender in the last hour, try again later"};
    }
    return std::nullopt;
  }

  std::optional<Reply> check_rcpt(const smtp::Envelope& env, const smtp::Recipient& r) override {
    const auto& opt = ramp_.options();
    std::string domain = domain_of(r.address);
    bool ours = std::any_of(opt.domains.begin(), opt.domains.end(), [&](const std::string& d) { return lower(d) == domain; }) ||
                std::any_of(opt.address.number_domains.begin(), opt.address.number_domains.end(),
                            [&](const std::string& d) { return lower(d) == domain; });
    // RFC 5321 §4.5.1: <postmaster> (and postmaster at our domains) is accepted from anyone,
    // without authentication, and passed on to [delivery] postmaster.
    const std::string local = lower(r.address.substr(0, r.address.rfind('@')));
    if (local == "postmaster" && (r.address.find('@') == std::string::npos || ours)) {
      if (bounce_) return Reply{452, "4.5.3", "Too many recipients: a bounce address takes a transaction of its own"};
      forward_.insert(r.address);
      return std::nullopt;
    }
    // A bounce of our received-fax mail (RFC 3464), to its VERP address: from anyone (the
    // recipient's MTA), alone in its transaction (one reply tells the bounce's fate).
    if (auto b = ours ? mail::parse_bounce_address(r.address, opt.bounce_local) : std::nullopt) {
      if (!env.recipients.empty()) {
        return Reply{452, "4.5.3", "Too many recipients: a bounce address takes a transaction of its own"};
      }
      bounce_ = std::make_pair(r.address, *b);
      return std::nullopt;
    }
    if (bounce_) return Reply{452, "4.5.3", "Too many recipients: a bounce address takes a transaction of its own"};
    if (!ours) return Reply{550, "5.7.1", "<" + r.address + ">: relay access denied (not a fax domain of ours)"};
    if (!trusted_ && !env.auth_user) return Reply{530, "5.7.0", "Authentication required to send faxes"};
    auto fax = address::parse_fax_address(r.address, opt.address);
    if (!fax) return Reply{553, "5.1.3", "<" + r.address + ">: not a valid fax address: " + fax.error().reason};
    auto verdict = address::check_number(*ramp_.dialing(), fax->number);
    if (!verdict.allowed) return Reply{550, "5.7.1", "<" + r.address + ">: " + verdict.reason};
    if (opt.budget) {
      if (auto why = opt.budget->check(budget_sender(env.mail_from, env.auth_user), 0, int64_t(std::time(nullptr)))) {
        return Reply{450, "4.7.1", "<" + r.address + ">: " + *why + ", try again later"};
      }
    }
    if (!ramp_.recipients().allow(sender_key(env), ramp_.limits()->recipients_per_hour, 1, now())) {
      return Reply{450, "4.7.1", "Too many fax recipients from this sender in the last hour, try again later"};
    }
    parsed_[r.address] = *fax;
    return std::nullopt;
  }

  bool authenticate(std::string_view user, std::string_view password) override {
    const auto known = ramp_.users();
    const auto& users = *known;
    auto it = users.find(std::string(user));
    // Unknown users cost a hash too, so the reply time does not tell which names exist.
    static const std::string kDummy = "$6$faxbridgedummy$";
    if (it == users.end()) {
      password_matches(kDummy, password);
      return false;
    }
    return password_matches(it->second, password);
  }

  void begin(const smtp::Envelope& env) override {
    abort();
    // Anyone may write to the postmaster, but not fill the spool doing so: for a client neither
    // trusted nor authenticated writing only to the postmaster, what passes the cap is not
    // written at all (refused in prepare(), before anything is committed).
    const bool only_postmaster = std::all_of(env.recipients.begin(), env.recipients.end(),
                                             [&](const smtp::Recipient& r) { return forward_.count(r.address) > 0; });
    cap_ = !trusted_ && !env.auth_user && only_postmaster ? kPostmasterMaxBytes : 0;
    if (bounce_) cap_ = kBounceKeptBytes;  // kept, the rest dropped (not refused)
    written_ = 0;
    auto w = ramp_.spool().begin_message();
    if (!w) {
      spool_error_ = w.error().message;
      spool_errnum_ = w.error().errnum;
      return;
    }
    writer_.emplace(std::move(w.value()));
    // RFC 5321 §4.4: the trace header every MTA adds.
    std::string recv = "Received: from " + (env.helo.empty() ? std::string("unknown") : env.helo) + " ([" +
                       client_.to_string() + "])\r\n\tby " + ramp_.options().hostname + " (faxbridge) with " +
                       (env.tls ? "ESMTPS" : "ESMTP") + (env.auth_user ? "A" : "") + " id " + writer_->id() +
                       ";\r\n\t" + rfc5322_date(std::time(nullptr)) + "\r\n";
    recv_len_ = recv.size();
    write(recv);
  }

  void write(std::string_view bytes) override {
    written_ += bytes.size();
    if (cap_ && written_ > cap_ + recv_len_) return;  // over the cap: refused at the end
    if (writer_ && spool_error_.empty()) {
      if (auto s = writer_->append(bytes); !s) {
        spool_error_ = s.error().message;
        spool_errnum_ = s.error().errnum;
      }
    }
  }

  void abort() override {
    if (writer_) writer_->abort();
    writer_.reset();
    spool_error_.clear();
    spool_errnum_ = 0;
  }

  asio::awaitable<Reply> commit(const smtp::Envelope& env) override {
    // The disk work runs on the store executor; the io thread goes on serving others.
    return asio::async_initiate<decltype(asio::use_awaitable), void(Reply)>(
        [this](auto handler, const smtp::Envelope* e) {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          auto home = asio::get_associated_executor(*h);
          auto done = [h, home](Reply r) { asio::post(home, [h, r]() mutable { std::move(*h)(r); }); };
          asio::post(ramp_.store_executor(), [this, e, done]() {
            Reply early;
            if (auto m = prepare(*e, early)) ramp_.enqueue_commit(std::move(*m), done);
            else done(early);
          });
        },
        asio::use_awaitable, &env);
  }

 private:
  static std::chrono::steady_clock::time_point now() { return std::chrono::steady_clock::now(); }

  std::string sender_key(const smtp::Envelope& env) const {
    if (env.auth_user) return "user:" + *env.auth_user;
    return "from:" + lower(env.mail_from) + "@" + client_.to_string();
  }

  // Store executor: the spool file written and renamed (durable only at the group commit),
  // what can be faxed checked, the job rows built. nullopt with `reply` set when refused.
  std::optional<PreparedMessage> prepare(const smtp::Envelope& env, Reply& reply) {
    if (cap_ && written_ > cap_ + recv_len_ && !bounce_) {
      abort();
      reply = Reply{552, "5.3.4", "Message too big for the postmaster: at most " + std::to_string(cap_ >> 10) +
                                      " KiB without authentication"};
      return std::nullopt;
    }
    if (!writer_ || !spool_error_.empty()) {
      std::string why = spool_error_.empty() ? "the spool is unavailable" : spool_error_;
      const bool full = spool_errnum_ == ENOSPC || spool_errnum_ == EDQUOT;
      abort();
      reply = full ? Reply{452, "4.3.1", "Insufficient system storage, try again later (" + why + ")"}
                   : Reply{451, "4.3.0", "Local error in processing, try again later (" + why + ")"};
      return std::nullopt;
    }
    std::string id = writer_->id();
    auto committed = writer_->commit_unsynced();
    writer_.reset();
    if (!committed) {
      const int e = committed.error().errnum;
      reply = e == ENOSPC || e == EDQUOT
                  ? Reply{452, "4.3.1", "Insufficient system storage, try again later (" + committed.error().message + ")"}
                  : Reply{451, "4.3.0", "Local error in processing, try again later (" + committed.error().message + ")"};
      return std::nullopt;
    }
    // What can be faxed is known now: refuse at DATA rather than fail the job later. (Until
    // the jobs are committed the file is not acknowledged; start-up removes such orphans.)
    std::string body;
    bool read_ok = false;
    {
      std::ifstream f(*committed, std::ios::binary);
      body.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
      read_ok = f.good() || f.eof();
    }
    if (!read_ok) {
      ramp_.spool().remove_message(id);
      reply = Reply{451, "4.3.0", "Local error in processing, try again later (cannot read the spool file)"};
      return std::nullopt;
    }
    // A header block with no blank line after it (or none at all) gets one here, after our
    // Received: field, so that the spool holds the message as it is read (a DSN's headers, an
    // MDN request, the converter): the file is rewritten before it is synced.
    if (const size_t gap = mail::missing_blank_line_at(std::string_view(body).substr(std::min(recv_len_, body.size())));
        gap != std::string::npos && recv_len_ <= body.size()) {
      body.insert(recv_len_ + gap, "\r\n");
      // Written beside the spool's incoming messages (a crash leaves a temporary start-up
      // sweeps there), then renamed over the file.
      const std::string fixed = ramp_.spool().dir() + "/incoming/" + id + ".fixed.tmp";
      int err = write_file(fixed, body);
      if (!err && ::rename(fixed.c_str(), committed->c_str()) != 0) err = errno;
      if (err) {
        ::unlink(fixed.c_str());
        ramp_.spool().remove_message(id);
        const std::string why = std::string("cannot rewrite the spool file: ") + std::strerror(err);
        reply = err == ENOSPC || err == EDQUOT ? Reply{452, "4.3.1", "Insufficient system storage, try again later (" + why + ")"}
                                               : Reply{451, "4.3.0", "Local error in processing, try again later (" + why + ")"};
        return std::nullopt;
      }
    }
    if (bounce_) {
      const auto& [address, b] = *bounce_;
      std::optional<Reply> r =
          ramp_.on_bounce ? ramp_.on_bounce(b, address, body)
                          : std::optional<Reply>(Reply{550, "5.1.1", "<" + ascii(address) + ">: no such bounce address"});
      if (!r) {  // not a delivery report: a person's (or a program's) mail, for the postmaster
        r = forward(id, body);
        if (!r) r = Reply{250, "2.0.0", "Ok: queued as " + id + " for the postmaster (not a delivery report)"};
      }
      ramp_.spool().remove_message(id);
      reply = *r;
      return std::nullopt;
    }
    const bool to_fax = std::any_of(env.recipients.begin(), env.recipients.end(),
                                    [&](const smtp::Recipient& r) { return !forward_.count(r.address); });
    if (!to_fax) {  // for the postmaster only: passed on, whatever it contains
      std::optional<Reply> why = forward(id, body);
      ramp_.spool().remove_message(id);
      reply = why ? *why : Reply{250, "2.0.0", "Ok: queued as " + id + " for the postmaster"};
      return std::nullopt;
    }
    if (auto why = loop_refusal(body)) {
      ramp_.spool().remove_message(id);
      reply = *why;
      return std::nullopt;
    }
    mail::SelectOptions so;
    so.office = ramp_.options().office;
    so.max_bytes = body.size() + 1;
    auto parts = mail::select_fax_parts(body, so);
    if (!parts) {
      ramp_.spool().remove_message(id);
      reply = parts.error().code == mail::PartsErrc::limit
                  ? Reply{552, "5.3.4", "Message refused: " + parts.error().message}
                  : Reply{554, "5.6.1", "Message refused: " + parts.error().message};
      return std::nullopt;
    }
    PreparedMessage p;
    p.id = id;
    queue::NewMessage& m = p.message;
    m.id = id;
    m.spool_path = *committed;
    m.sender = env.mail_from;
    m.ret = !env.ret ? queue::Ret::unset : *env.ret == "FULL" ? queue::Ret::full : queue::Ret::hdrs;
    m.envid = env.envid;
    m.arrived = std::time(nullptr);
    m.size = int64_t(body.size());
    m.client = client_.to_string();
    m.auth_user = env.auth_user;
    m.body_8bit = env.body_8bit;
    m.smtputf8 = env.smtputf8;
    if (ramp_.options().share_documents) m.body = body;
    // One job per number: the same number (and subaddress) written two ways got its 250 but is
    // dialled, and charged, once; the job reports as every spelling asked (NOTIFY merged).
    std::map<std::pair<std::string, std::string>, size_t> numbers;
    for (const auto& r : env.recipients) {
      if (forward_.count(r.address)) continue;  // the postmaster's, below
      const auto& fax = parsed_.at(r.address);
      auto [it, fresh] = numbers.emplace(std::make_pair(fax.number, fax.subaddress.value_or("")), p.recipients.size());
      if (!fresh) {
        auto& first = p.recipients[it->second].notify;
        std::set<std::string> by_default{"FAILURE"};
        if (ramp_.options().dsn_delay) by_default.insert("DELAY");
        if (ramp_.options().dsn_success) by_default.insert("SUCCESS");
        first = merged_notify(first, r.notify, by_default);
        continue;
      }
      p.recipients.push_back({r.address, fax.number, fax.subaddress, ramp_.options().station_id, r.notify, r.orcpt,
                              parts->header.priority});
    }
    if (auto why = queue::JobStore::check(m, p.recipients)) {  // retrying would fail the same way
      ramp_.spool().remove_message(id);
      reply = Reply{554, "5.5.4", "Message refused: " + *why};
      return std::nullopt;
    }
    // Also for the postmaster: committed before the jobs (if their commit then fails, the client's
    // retry passes it on again: a duplicate, never a loss).
    if (!forward_.empty()) {
      if (auto why = forward(id, body)) {
        ramp_.spool().remove_message(id);
        reply = *why;
        return std::nullopt;
      }
    }
    return p;
  }

  // Store executor. The message as received, for [delivery] postmaster: its own durable file
  // in the spool's out/ directory and a delivery of no job (JobStore::add_forward). Only the
  // hop limit applies (a loop between postmasters); nothing else of the content is judged.
  // nullopt when committed, else the reply.
  std::optional<Reply> forward(const std::string& id, std::string_view body) {
    const auto& o = ramp_.options();
    if (auto t = mail::trace_facts(body); t && t->received - 1 > o.max_hops) {
      return Reply{554, "5.4.6", "Message refused: too many hops (it came with " + std::to_string(t->received - 1) +
                                     " Received: fields, at most " + std::to_string(o.max_hops) + "): a mail loop?"};
    }
    const std::string path = ramp_.spool().dir() + "/out/postmaster-" + id + ".eml";
    if (auto w = queue::Spool::write_durably(path, body); !w) {
      const bool full = w.error().errnum == ENOSPC || w.error().errnum == EDQUOT;
      return full ? Reply{452, "4.3.1", "Insufficient system storage, try again later (" + w.error().message + ")"}
                  : Reply{451, "4.3.0", "Local error in processing, try again later (" + w.error().message + ")"};
    }
    auto d = ramp_.store().add_forward({o.postmaster, queue::DeliveryKind::forward, path, id});
    if (!d) {
      ::unlink(path.c_str());
      return Reply{451, "4.3.0", "Local error in processing, try again later (" + d.error().message + ")"};
    }
    if (ramp_.on_forward) ramp_.on_forward();
    return std::nullopt;
  }

  // Why the message must not be faxed to avoid a mail loop (OffRampOptions::max_hops, own_from);
  // nullopt when it may be.
  std::optional<Reply> loop_refusal(std::string_view message) const {
    auto t = mail::trace_facts(message);
    if (!t) return std::nullopt;  // (what cannot be parsed is refused by the part selection)
    const auto& o = ramp_.options();
    // (The first Received: field is the one this server added.)
    if (const int hops = t->received - 1; hops > o.max_hops) {
      return Reply{554, "5.4.6", "Message refused: too many hops (it came with " + std::to_string(hops) +
                                     " Received: fields, at most " + std::to_string(o.max_hops) + "): a mail loop?"};
    }
    if (t->auto_submitted.empty() || t->auto_submitted == "no") return std::nullopt;
    // Our own mail (received faxes: auto-generated; reports: auto-replied) is never faxed back;
    // nor is anyone's automatic reply. Other systems' auto-generated mail (an ERP's invoices, a
    // monitor's alerts) is what a fax gateway is for.
    if (std::find(o.own_from.begin(), o.own_from.end(), t->from_address) != o.own_from.end() || t->fax_mail) {
      return Reply{554, "5.7.1", "Message refused: it comes from this fax server itself (From: " +
                                     ascii(t->from_address) + ", Auto-Submitted), and is not faxed back"};
    }
    if (t->auto_submitted != "auto-generated") {
      return Reply{554, "5.7.1", "Message refused: an automatic reply (Auto-Submitted: " + ascii(t->auto_submitted) +
                                     ") is not faxed (RFC 3834)"};
    }
    return std::nullopt;
  }

  OffRamp& ramp_;
  asio::ip::address client_;
  bool trusted_;
  std::optional<queue::SpoolWriter> writer_;
  std::string spool_error_;
  int spool_errnum_ = 0;  // ENOSPC/EDQUOT: 452 4.3.1
  std::map<std::string, address::FaxAddress> parsed_;
  std::set<std::string> forward_;  // this transaction's recipients that are the postmaster
  std::optional<std::pair<std::string, mail::BounceAddress>> bounce_;  // its bounce address, if that
  size_t cap_ = 0;                 // bytes this transaction may write (0: no cap here; begin())
  size_t written_ = 0;             // bytes it has written, our Received: field included
  size_t recv_len_ = 0;  // bytes of the Received: field begin() wrote first
};

}  // namespace

OffRamp::OffRamp(OffRampOptions opt, queue::Spool& spool, queue::JobStore& store, asio::any_io_executor store_exec,
                 std::function<void(const std::string&)> on_queued)
    : opt_(std::move(opt)),
      dialing_(opt_.dialing),
      limits_(SenderLimits{opt_.sender_messages_per_hour, opt_.sender_recipients_per_hour, opt_.max_recipients}),
      users_(opt_.users),
      spool_(spool), store_(store), store_exec_(std::move(store_exec)),
      on_queued_(std::move(on_queued)) {}

void OffRamp::enqueue_commit(PreparedMessage m, std::function<void(smtp::Reply)> done) {
  batch_.emplace_back(std::move(m), std::move(done));
  if (drain_scheduled_) return;
  drain_scheduled_ = true;
  // Runs after the commits already waiting on the store thread: they join this batch.
  asio::post(store_exec_, [this] { drain(); });
}

void OffRamp::drain() {
  drain_scheduled_ = false;
  auto batch = std::exchange(batch_, {});
  auto fail_all = [&](const std::string& why) {
    for (auto& [m, done] : batch) {
      spool_.remove_message(m.id);  // not acknowledged: must not be queued later
      done(Reply{451, "4.3.0", "Local error in processing, try again later (" + why + ")"});
    }
  };
  if (auto s = spool_.sync(); !s) return fail_all(s.error().message);
  std::vector<std::pair<queue::NewMessage, std::vector<queue::NewRecipient>>> rows;
  const int64_t lease_until = int64_t(std::time(nullptr)) + opt_.lease_s;
  for (const auto& [m, done] : batch) {
    rows.emplace_back(m.message, m.recipients);
    rows.back().first.node = opt_.node;
    rows.back().first.lease_until = lease_until;
  }
  if (auto r = store_.enqueue_messages(rows); !r) return fail_all(r.error().message);
  for (auto& [m, done] : batch) {
    queued(m.id);
    size_t n = m.recipients.size();
    done(Reply{250, "2.0.0", "Ok: queued as " + m.id + " (" + std::to_string(n) + " fax job" + (n == 1 ? "" : "s") + ")"});
  }
}

void OffRamp::submit(Submission sub, std::function<void(SubmitResult)> done) {
  auto refuse = [&](int status, std::string why) {
    SubmitResult r;
    r.status = status;
    r.error = std::move(why);
    done(r);
  };
  if (sub.to.empty()) return refuse(400, "no number to send to (give one or more `to`)");
  if (sub.documents.empty()) return refuse(400, "no document to send (give one or more `document` files)");
  if (opt_.domains.empty()) return refuse(503, "this node has no [smtp] domains to address faxes with");
  // The intake's limits hold for the API as for mail: recipients per message, and messages and
  // recipients per sender and hour (the user is the sender).
  const auto caps = limits();
  if (sub.to.size() > size_t(caps->max_recipients)) {
    return refuse(400, std::to_string(sub.to.size()) + " numbers: at most " + std::to_string(caps->max_recipients) +
                           " per fax ([smtp] max_recipients)");
  }
  const std::string sender = "user:" + sub.user;
  if (!messages_.allow(sender, caps->messages_per_hour, 1, std::chrono::steady_clock::now())) {
    return refuse(429, "too many faxes from " + ascii(sub.user) + " in the last hour, try again later");
  }

  // Each number as the mail intake would take it: parsed, then the dialling policy and the caps.
  PreparedMessage p;
  std::map<std::pair<std::string, std::string>, bool> seen;
  for (const auto& to : sub.to) {
    const std::string address = "FAX=" + to + "@" + opt_.domains.front();
    auto fax = address::parse_fax_address(address, opt_.address);
    if (!fax) return refuse(400, "\"" + ascii(to) + "\" is not a fax number: " + fax.error().reason);
    auto verdict = address::check_number(*dialing(), fax->number);
    if (!verdict.allowed) return refuse(403, fax->number + ": " + verdict.reason);
    if (opt_.budget) {
      if (auto why = opt_.budget->check(budget_sender("", sub.user), 0, int64_t(std::time(nullptr)))) {
        return refuse(429, fax->number + ": " + *why + ", try again later");
      }
    }
    if (!seen.emplace(std::make_pair(fax->number, fax->subaddress.value_or("")), true).second) continue;
    // NOTIFY=NEVER: an API user follows the fax through the API, not by mail.
    p.recipients.push_back({address::to_rfc3192(*fax), fax->number, fax->subaddress, opt_.station_id,
                            std::string("NEVER"), std::nullopt, sub.priority});
  }
  // Counted as SMTP counts them: the numbers accepted, once each.
  if (!recipients_.allow(sender, caps->recipients_per_hour, int(p.recipients.size()), std::chrono::steady_clock::now())) {
    return refuse(429, "too many fax recipients from " + ascii(sub.user) + " in the last hour, try again later");
  }
  // The message: From the user, one attachment per document, in order.
  const std::string boundary = "faxbridge-api-" + std::to_string(std::time(nullptr));
  std::string display;  // RFC 5322 quoted-string
  for (char c : ascii(sub.user)) {
    if (c == '"' || c == '\\') display += '\\';
    display += c;
  }
  std::string text = "From: \"" + display + "\" <api@" + opt_.domains.front() + ">\r\nTo: ";
  for (size_t i = 0; i < p.recipients.size(); ++i) text += (i ? ", " : "") + p.recipients[i].recipient;
  text += "\r\nSubject: Fax submitted through the API by " + ascii(sub.user) + "\r\nDate: " +
          rfc5322_date(std::time(nullptr)) + "\r\n" +
          (sub.priority > 0 ? "Priority: urgent\r\n" : sub.priority < 0 ? "Priority: non-urgent\r\n" : "") +
          (sub.cover ? "X-Fax-Cover: yes\r\n" : "") +
          "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n";
  // The cover's comment is the message's text (imaging/cover.hpp): the one text part, first.
  if (sub.cover && !sub.cover->empty()) {
    text += "--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
            base64_lines(*sub.cover) + "--" + boundary + "\r\n";
  }
  for (const auto& d : sub.documents) {
    std::string name;
    for (char c : d.filename) name.push_back(c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 ? '_' : c);
    const std::string type = d.content_type.empty() ? "application/octet-stream" : ascii(d.content_type);
    text += "--" + boundary + "\r\nContent-Type: " + type + "\r\nContent-Disposition: attachment; filename=\"" +
            name + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64_lines(d.data) + "--" + boundary + "\r\n";
  }
  text.resize(text.size() - 2);
  text += "--\r\n";
  mail::SelectOptions so;
  so.office = opt_.office;
  so.max_bytes = text.size() + 1;
  auto parts = mail::select_fax_parts(text, so);
  if (!parts) return refuse(422, parts.error().message);
  auto w = spool_.begin_message();
  if (!w) return refuse(503, "the spool: " + w.error().message);
  auto writer = std::move(w.value());
  p.id = writer.id();
  if (auto a = writer.append(text); !a) {
    writer.abort();
    return refuse(503, "the spool: " + a.error().message);
  }
  auto committed = writer.commit_unsynced();
  if (!committed) return refuse(503, "the spool: " + committed.error().message);
  queue::NewMessage& m = p.message;
  m.id = p.id;
  m.spool_path = *committed;
  m.sender = "";  // reports go nowhere: the API tells
  m.arrived = std::time(nullptr);
  m.size = int64_t(text.size());
  m.client = "api";
  m.auth_user = sub.user;
  m.webhook_url = sub.webhook_url;
  m.not_before = sub.send_after;
  if (opt_.share_documents) m.body = text;
  if (auto why = queue::JobStore::check(m, p.recipients)) {
    spool_.remove_message(p.id);
    return refuse(400, *why);
  }
  const std::string id = p.id;
  enqueue_commit(std::move(p), [this, id, done](smtp::Reply reply) {
    SubmitResult r;
    if (reply.code != 250) {
      r.status = 503;
      r.error = reply.text;
      return done(r);
    }
    r.message_id = id;
    queue::JobFilter f;
    f.message_id = id;
    if (auto jobs = store_.jobs(f)) {
      for (auto it = jobs->rbegin(); it != jobs->rend(); ++it) r.jobs.push_back(it->id);  // oldest first
    }
    done(r);
  });
}

std::unique_ptr<smtp::Intake> OffRamp::make_intake(const asio::ip::address& client, bool trusted) {
  return std::make_unique<Intake>(*this, client, trusted);
}

bool password_matches(const std::string& hash, std::string_view password) {
  if (hash.empty()) return false;
  crypt_data data{};
  std::string pw(password);
  const char* out = crypt_r(pw.c_str(), hash.c_str(), &data);
  if (!out || out[0] == '*') return false;
  std::string_view a(out), b(hash);
  if (a.size() != b.size()) return false;
  unsigned diff = 0;  // constant time over the hash length
  for (size_t i = 0; i < a.size(); ++i) diff |= unsigned(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace gateway
