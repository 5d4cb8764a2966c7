// job_store.cpp — what every job store shares: validation, names, the JSON objects, fair order
// and opening the store a URL names (see job_store.hpp).
#include "queue/job_store.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ctime>
#include <random>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "core/log.hpp"
#include "queue/pg_job_store.hpp"
#include "queue/spool.hpp"
#include "queue/sqlite_job_store.hpp"

namespace queue {

namespace {

constexpr std::array<std::string_view, 8> kOutStates = {state::queued,  state::rendering, state::ready,
                                                        state::sending, state::retry,     state::done,
                                                        state::failed,  state::cancelled};
constexpr std::array<std::string_view, 4> kInStates = {state::receiving, state::delivering, state::done,
                                                       state::failed};

template <size_t N>
bool contains(const std::array<std::string_view, N>& a, std::string_view s) {
  return std::find(a.begin(), a.end(), s) != a.end();
}

// RFC 3461 §4.1: NEVER alone, or one or more of SUCCESS, FAILURE, DELAY. The SMTP server
// upper-cases the keywords; the store insists on that one spelling so the reporter need not.
bool valid_notify(std::string_view s) {
  if (s == "NEVER") return true;
  std::vector<std::string_view> seen;
  for (size_t pos = 0; pos <= s.size();) {
    size_t comma = std::min(s.find(',', pos), s.size());
    std::string_view word = s.substr(pos, comma - pos);
    if (word != "SUCCESS" && word != "FAILURE" && word != "DELAY") return false;
    if (std::find(seen.begin(), seen.end(), word) != seen.end()) return false;
    seen.push_back(word);
    pos = comma + 1;
  }
  return true;
}

// RFC 3461 §4.2: ORCPT is addr-type ";" address; kept decoded, type included.
bool valid_orcpt(std::string_view s) {
  size_t semi = s.find(';');
  return semi != std::string_view::npos && semi > 0 && semi + 1 < s.size();
}

std::optional<std::string> check_recipient(const NewRecipient& r) {
  if (r.recipient.empty()) return "the recipient address is empty";
  if (r.number.empty()) return "the fax number of " + r.recipient + " is empty";
  if (r.notify && !valid_notify(*r.notify)) {
    return "NOTIFY '" + *r.notify + "' of " + r.recipient +
           " is not NEVER or a list of SUCCESS, FAILURE, DELAY";
  }
  if (r.orcpt && !valid_orcpt(*r.orcpt))
    return "ORCPT '" + *r.orcpt + "' of " + r.recipient + " has no addr-type";
  return std::nullopt;
}

std::optional<std::string> check_message(const NewMessage& m, const std::vector<NewRecipient>& rcpts) {
  if (m.id.empty()) return "the message id is empty";
  if (m.size < 0 || m.arrived < 0) return "size and arrival time must not be negative";
  if (rcpts.empty()) return "a message needs at least one recipient";
  for (const auto& r : rcpts) {
    if (auto why = check_recipient(r)) return why;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(Direction d) {
  return d == Direction::in ? "in" : "out";
}

bool is_state(Direction d, std::string_view s) {
  return d == Direction::out ? contains(kOutStates, s) : contains(kInStates, s);
}

bool is_final_state(std::string_view s) {
  return s == state::done || s == state::failed || s == state::cancelled;
}

std::optional<std::string> JobStore::check(const NewMessage& m, const std::vector<NewRecipient>& rcpts) {
  return check_message(m, rcpts);
}

std::string new_delivery_tag() {
  // std::random_device is the system's random source (getrandom) on Linux.
  std::random_device rd;
  const uint64_t v = (uint64_t(rd()) << 32) | rd();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag(16, '0');
  for (int i = 0; i < 16; ++i) tag[size_t(i)] = kHex[(v >> (4 * (15 - i))) & 0xf];
  return tag;
}

bool logged(const StoreStatus& status) {
  if (!status) fb::log(fb::LogLevel::error, "store", "store: " + status.error().message, fb::job_of(status.error().message));
  return bool(status);
}

std::string document_name(const std::string& spool_dir, const std::string& path) {
  const std::filesystem::path rel =
      std::filesystem::path(path).lexically_normal().lexically_relative(std::filesystem::path(spool_dir).lexically_normal());
  const std::string r = rel.generic_string();
  if (r.empty() || r == "." || r.rfind("..", 0) == 0 || rel.is_absolute()) return "";
  return r;
}

namespace {

// The size and SHA-256 (lowercase hex) of a file; nullopt when it cannot be read.
std::optional<JobStore::Digest> file_digest(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    return std::nullopt;
  }
  JobStore::Digest d;
  char buf[65536];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    EVP_DigestUpdate(ctx, buf, size_t(f.gcount()));
    d.size += f.gcount();
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  const bool ok = !f.bad() && EVP_DigestFinal_ex(ctx, md, &n) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return std::nullopt;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned i = 0; i < n; ++i) {
    d.sha256 += kHex[md[i] >> 4];
    d.sha256 += kHex[md[i] & 0xf];
  }
  return d;
}

}  // namespace

bool fetch_transient(const StoreError& e) {
  return e.code == StoreErrc::db || e.code == StoreErrc::busy;
}

StoreStatus fetch_document(JobStore& store, const std::string& spool_dir, const std::string& path) {
  if (!store.shares_documents()) return fb::Unit{};
  const std::string name = document_name(spool_dir, path);
  const std::string op = "fetch_document(" + path + ")";
  if (name.empty()) return StoreError{StoreErrc::invalid, op + ": not a spool file"};
  // The store is the truth: a file of that name on this disk may be another job's, of a store
  // used before (ids start again at 1), so it is kept only when it has the same size and digest.
  auto digest = store.document_digest(name);
  if (!digest) return digest.error();
  if (!*digest) return StoreError{StoreErrc::not_found, op + ": not in the store"};
  if (auto local = file_digest(path); local && local->size == (*digest)->size && local->sha256 == (*digest)->sha256)
    return fb::Unit{};
  auto doc = store.document(name);
  if (!doc) return doc.error();
  if (!*doc) return StoreError{StoreErrc::not_found, op + ": not in the store"};
  if (auto w = Spool::write_durably(path, **doc); !w) return StoreError{StoreErrc::db, op + ": " + w.error().message};
  return fb::Unit{};
}

namespace {

// A spool file's document name and bytes, for a put (what `op` names in an error).
fb::Result<std::pair<std::string, std::string>, StoreError> spool_file(const std::string& spool_dir,
                                                                      const std::string& path, const std::string& op) {
  const std::string name = document_name(spool_dir, path);
  if (name.empty()) return StoreError{StoreErrc::invalid, op + ": not a spool file"};
  std::ifstream f(path, std::ios::binary);
  if (!f) return StoreError{StoreErrc::not_found, op + ": cannot read it"};
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) return StoreError{StoreErrc::db, op + ": cannot read it"};
  return std::pair{name, std::move(bytes)};
}

}  // namespace

StoreStatus share_document(JobStore& store, const std::string& spool_dir, const std::string& path) {
  if (!store.shares_documents()) return fb::Unit{};
  auto f = spool_file(spool_dir, path, "share_document(" + path + ")");
  if (!f) return f.error();
  return store.put_document(f->first, f->second);
}

StoreStatus share_reception(JobStore& store, const std::string& spool_dir, const std::string& path, int64_t job,
                            const std::string& node) {
  if (!store.shares_documents()) return fb::Unit{};
  auto f = spool_file(spool_dir, path, "share_reception(" + path + ")");
  if (!f) return f.error();
  return store.put_reception_pages(job, node, f->first, f->second);
}

bool is_postgresql_url(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

fb::Result<std::unique_ptr<JobStore>, StoreError> open_job_store(const std::string& location, StoreOptions options) {
  if (is_postgresql_url(location)) {
    auto s = PgJobStore::open(location, std::move(options));
    if (!s) return s.error();
    return std::unique_ptr<JobStore>(std::move(*s));
  }
  auto s = SqliteJobStore::open(location, std::move(options));
  if (!s) return s.error();
  return std::unique_ptr<JobStore>(std::move(*s));
}

std::string to_json(const AccountingRecord& a) {
  nlohmann::ordered_json o;
  o["time"] = format_utc(a.time);
  o["direction"] = std::string(to_string(a.direction));
  o["job"] = a.job_id;
  o["number"] = a.number;
  o["caller"] = a.caller;
  o["trunk"] = a.trunk;
  o["media"] = a.media.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(a.media);
  o["detected_by"] = a.detected_by ? nlohmann::ordered_json(*a.detected_by) : nlohmann::ordered_json(nullptr);
  o["pages"] = a.pages;
  o["pages_total"] = a.pages_total;
  o["bit_rate"] = a.bit_rate;
  o["duration_s"] = a.duration;
  o["outcome"] = a.outcome;
  o["sender"] = a.sender;
  o["remote_ident"] = a.remote_ident ? nlohmann::ordered_json(*a.remote_ident) : nlohmann::ordered_json(nullptr);
  return o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string format_utc(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

template <class T>
nlohmann::ordered_json or_null(const std::optional<T>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json job_object(const Job& j) {
  nlohmann::ordered_json o;
  o["id"] = j.id;
  o["direction"] = to_string(j.direction);
  o["state"] = j.state;
  o["number"] = j.number;
  o["caller"] = j.caller;
  o["pages"] = j.pages;
  o["pages_done"] = j.pages_done;
  o["retry_at"] =
      j.retry_at ? nlohmann::ordered_json(format_utc(*j.retry_at)) : nlohmann::ordered_json(nullptr);
  o["error"] = or_null(j.error);
  o["message_id"] = or_null(j.message_id);
  o["subaddress"] = or_null(j.subaddress);
  o["created"] = format_utc(j.created);
  o["updated"] = format_utc(j.updated);
  o["remote_ident"] = or_null(j.remote_ident);
  o["bad_rows"] = j.bad_rows;
  o["media"] = or_null(j.media);
  o["detected_by"] = or_null(j.detected_by);
  o["node"] = or_null(j.owner);  // the node that handled its last call (issue 17)
  if (j.direction == Direction::out) o["priority"] = j.priority;
  else o["routed_by"] = or_null(j.routed_by);
  return o;
}

// Error sentences may quote what a peer sent; invalid UTF-8 is replaced, never thrown on.
std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

std::string to_json(const Job& job) {
  return dump(job_object(job));
}

std::string to_json(const std::vector<Job>& jobs) {
  auto a = nlohmann::ordered_json::array();
  for (const auto& j : jobs) a.push_back(job_object(j));
  return dump(a);
}

// Fair share: by priority, then each sender's n-th waiting job counts n plus the calls that
// sender already has in progress, so a sender with many faxes cannot hold every channel.
void fair_order(std::vector<Job>& jobs, const std::map<std::string, int>& load) {
  std::map<std::pair<std::string, int>, int> turn;  // turns are taken per sender within a priority
  std::vector<std::pair<int, size_t>> key;           // (share, position)
  for (size_t i = 0; i < jobs.size(); ++i) {
    const std::string who = jobs[i].sender.value_or("");
    auto l = load.find(who);
    key.emplace_back(++turn[{who, jobs[i].priority}] + (l == load.end() ? 0 : l->second), i);
  }
  std::vector<size_t> order(jobs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (jobs[a].priority != jobs[b].priority) return jobs[a].priority > jobs[b].priority;
    return key[a].first < key[b].first;
  });
  std::vector<Job> out;
  out.reserve(jobs.size());
  for (size_t i : order) out.push_back(std::move(jobs[i]));
  jobs = std::move(out);
}

}  // namespace queue
