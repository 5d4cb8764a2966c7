// offramp.cpp — OffRamp intake: policy, spooling and the durable commit (see offramp.hpp).
#include "gateway/offramp.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iterator>

#include <crypt.h>

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

class Intake : public smtp::Intake {
 public:
  Intake(OffRamp& ramp, asio::ip::address client, bool trusted)
      : ramp_(ramp), client_(std::move(client)), trusted_(trusted) {}
  ~Intake() override { abort(); }

  std::optional<Reply> check_mail(const smtp::Envelope& env) override {
    if (!trusted_ && !env.auth_user) return Reply{530, "5.7.0", "Authentication required to send faxes"};
    if (!ramp_.messages().allow(sender_key(env), ramp_.options().sender_messages_per_hour, 1, now())) {
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
    if (!ours) return Reply{550, "5.7.1", "<" + r.address + ">: relay access denied (not a fax domain of ours)"};
    if (!trusted_ && !env.auth_user) return Reply{530, "5.7.0", "Authentication required to send faxes"};
    auto fax = address::parse_fax_address(r.address, opt.address);
    if (!fax) return Reply{553, "5.1.3", "<" + r.address + ">: not a valid fax address: " + fax.error().reason};
    auto verdict = address::check_number(opt.dialing, fax->number);
    if (!verdict.allowed) return Reply{550, "5.7.1", "<" + r.address + ">: " + verdict.reason};
    if (!ramp_.recipients().allow(sender_key(env), opt.sender_recipients_per_hour, 1, now())) {
      return Reply{450, "4.7.1", "Too many fax recipients from this sender in the last hour, try again later"};
    }
    parsed_[r.address] = *fax;
    return std::nullopt;
  }

  bool authenticate(std::string_view user, std::string_view password) override {
    const auto& users = ramp_.options().users;
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
    auto w = ramp_.spool().begin_message();
    if (!w) {
      spool_error_ = w.error().message;
      return;
    }
    writer_.emplace(std::move(w.value()));
    // RFC 5321 §4.4: the trace header every MTA adds.
    std::string recv = "Received: from " + (env.helo.empty() ? std::string("unknown") : env.helo) + " ([" +
                       client_.to_string() + "])\r\n\tby " + ramp_.options().hostname + " (faxbridge) with " +
                       (env.tls ? "ESMTPS" : "ESMTP") + (env.auth_user ? "A" : "") + " id " + writer_->id() +
                       ";\r\n\t" + rfc5322_date(std::time(nullptr)) + "\r\n";
    write(recv);
  }

  void write(std::string_view bytes) override {
    if (writer_ && spool_error_.empty()) {
      if (auto s = writer_->append(bytes); !s) spool_error_ = s.error().message;
    }
  }

  void abort() override {
    if (writer_) writer_->abort();
    writer_.reset();
    spool_error_.clear();
  }

  asio::awaitable<Reply> commit(const smtp::Envelope& env) override {
    // The disk work runs on the store executor; the io thread goes on serving others.
    return asio::co_spawn(ramp_.store_executor(), commit_on_store(this, &env), asio::use_awaitable);
  }

 private:
  static std::chrono::steady_clock::time_point now() { return std::chrono::steady_clock::now(); }

  std::string sender_key(const smtp::Envelope& env) const {
    if (env.auth_user) return "user:" + *env.auth_user;
    return "from:" + lower(env.mail_from) + "@" + client_.to_string();
  }

  // A plain coroutine function (GCC 12 mis-handles coroutine lambdas' captures).
  static asio::awaitable<Reply> commit_on_store(Intake* self, const smtp::Envelope* env) {
    co_return self->commit_now(*env);
  }

  Reply commit_now(const smtp::Envelope& env) {
    if (!writer_ || !spool_error_.empty()) {
      std::string why = spool_error_.empty() ? "the spool is unavailable" : spool_error_;
      abort();
      return Reply{451, "4.3.0", "Local error in processing, try again later (" + why + ")"};
    }
    std::string id = writer_->id();
    auto committed = writer_->commit();
    writer_.reset();
    if (!committed) {
      return Reply{451, "4.3.0", "Local error in processing, try again later (" + committed.error().message + ")"};
    }
    // What can be faxed is known now: refuse at DATA rather than fail the job later. (Until
    // the jobs are committed the file is not acknowledged; start-up removes such orphans.)
    std::string body;
    {
      std::ifstream f(*committed, std::ios::binary);
      body.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    mail::SelectOptions so;
    so.office = ramp_.options().office;
    so.max_bytes = body.size() + 1;
    auto parts = mail::select_fax_parts(body, so);
    if (!parts) {
      ramp_.spool().remove_message(id);
      if (parts.error().code == mail::PartsErrc::limit) return Reply{552, "5.3.4", "Message refused: " + parts.error().message};
      return Reply{554, "5.6.1", "Message refused: " + parts.error().message};
    }
    queue::NewMessage m;
    m.id = id;
    m.spool_path = *committed;
    m.sender = env.mail_from;
    m.ret = !env.ret ? queue::Ret::unset : *env.ret == "FULL" ? queue::Ret::full : queue::Ret::hdrs;
    m.envid = env.envid;
    m.arrived = std::time(nullptr);
    m.size = int64_t(body.size());
    m.client = client_.to_string();
    m.auth_user = env.auth_user;
    std::vector<queue::NewRecipient> rcpts;
    for (const auto& r : env.recipients) {
      const auto& fax = parsed_.at(r.address);
      rcpts.push_back({r.address, fax.number, fax.subaddress, ramp_.options().station_id, r.notify, r.orcpt});
    }
    auto jobs = ramp_.store().enqueue_message(m, rcpts);
    if (!jobs) {
      // Not acknowledged: take the message back out of the spool so it is not queued twice.
      ramp_.spool().remove_message(id);
      if (jobs.error().code == queue::StoreErrc::invalid) {  // retrying would fail the same way
        return Reply{554, "5.5.4", "Message refused: " + jobs.error().message};
      }
      return Reply{451, "4.3.0", "Local error in processing, try again later (" + jobs.error().message + ")"};
    }
    ramp_.queued(id);
    return Reply{250, "2.0.0", "Ok: queued as " + id + " (" + std::to_string(jobs->size()) + " fax job" +
                                   (jobs->size() == 1 ? "" : "s") + ")"};
  }

  OffRamp& ramp_;
  asio::ip::address client_;
  bool trusted_;
  std::optional<queue::SpoolWriter> writer_;
  std::string spool_error_;
  std::map<std::string, address::FaxAddress> parsed_;
};

}  // namespace

bool SenderLimits::allow(const std::string& sender, int limit, int amount, std::chrono::steady_clock::time_point now) {
  if (limit <= 0) return true;
  std::lock_guard lock(mu_);
  auto& v = seen_[sender];
  auto hour_ago = now - std::chrono::hours(1);
  std::erase_if(v, [&](const auto& e) { return e.first < hour_ago; });
  int used = 0;
  for (const auto& e : v) used += e.second;
  if (used + amount > limit) return false;
  v.emplace_back(now, amount);
  return true;
}

OffRamp::OffRamp(OffRampOptions opt, queue::Spool& spool, queue::JobStore& store, asio::any_io_executor store_exec,
                 std::function<void(const std::string&)> on_queued)
    : opt_(std::move(opt)), spool_(spool), store_(store), store_exec_(std::move(store_exec)),
      on_queued_(std::move(on_queued)) {}

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
