// metrics.hpp — the process's counters and histograms, rendered as Prometheus text (the exposition
// format 0.0.4) at GET /metrics (api/metrics_api.hpp). Header-only so that every part (mail, queue,
// gateway) can count without a dependency on the API.
//
// A family is a name, a help line, a type (counter or histogram) and, for histograms, bucket
// bounds; a series is one family with one set of label values. Families are declared where they
// are first used (declare(), idempotent). What the store already knows (jobs by state, calls and
// pages) is read from it at scrape time instead (metrics_api.cpp), so it survives a restart.
// THREADS: any thread (one mutex; a metric is touched a few times per message or call).
// LIMITS: kMaxSeries series per family (labels come from our own code: a reply code, a result),
// further label sets are dropped rather than grow without bound.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fb::metrics {

inline constexpr size_t kMaxSeries = 200;

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { counter, gauge, histogram };

// Seconds, for durations from a millisecond to ten minutes.
inline const std::vector<double> kSecondsBuckets = {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600};

namespace detail {

struct Series {
  double value = 0;             // counter or gauge; a histogram's sum
  uint64_t count = 0;           // histogram: observations
  std::vector<uint64_t> below;  // histogram: per bucket, observations <= its bound
};

struct Family {
  std::string help;
  Type type = Type::counter;
  std::vector<double> buckets;
  std::map<Labels, Series> series;
};

struct Registry {
  std::mutex mu;
  std::map<std::string, Family, std::less<>> families;
};

inline Registry& registry() {
  static Registry r;
  return r;
}

inline std::string escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// The shortest text that reads back as the same double (a growing _sum keeps its precision).
inline std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

inline std::string label_text(const Labels& labels, std::string_view extra_name = {}, std::string_view extra = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string s = "{";
  for (const auto& [k, v] : labels) s += (s.size() > 1 ? "," : "") + k + "=\"" + escape(v) + "\"";
  if (!extra_name.empty()) s += (s.size() > 1 ? "," : "") + std::string(extra_name) + "=\"" + std::string(extra) + "\"";
  return s + "}";
}

// The caller holds the mutex.
inline Series* series(Family& f, const Labels& labels) {
  auto it = f.series.find(labels);
  if (it != f.series.end()) return &it->second;
  if (f.series.size() >= kMaxSeries) return nullptr;
  Series s;
  s.below.assign(f.buckets.size(), 0);
  return &f.series.emplace(labels, std::move(s)).first->second;
}

}  // namespace detail

// Declares a family (first declaration wins; later ones are no-ops).
inline void declare(std::string_view name, std::string_view help, Type type,
                    const std::vector<double>& buckets = kSecondsBuckets) {
  auto& r = detail::registry();
  std::lock_guard lock(r.mu);
  if (r.families.find(name) != r.families.end()) return;
  detail::Family f;
  f.help = std::string(help);
  f.type = type;
  if (type == Type::histogram) f.buckets = buckets;
  r.families.emplace(std::string(name), std::move(f));
}

// Adds `by` to a counter (declared as a counter with `help` if new).
inline void count(std::string_view name, std::string_view help, const Labels& labels = {}, double by = 1) {
  declare(name, help, Type::counter);
  auto& r = detail::registry();
  std::lock_guard lock(r.mu);
  if (auto* s = detail::series(r.families.find(name)->second, labels)) s->value += by;
}

// One observation of a histogram (seconds by default).
inline void observe(std::string_view name, std::string_view help, double value, const Labels& labels = {}) {
  declare(name, help, Type::histogram);
  auto& r = detail::registry();
  std::lock_guard lock(r.mu);
  auto& f = r.families.find(name)->second;
  if (auto* s = detail::series(f, labels)) {
    s->value += value;
    ++s->count;
    for (size_t i = 0; i < f.buckets.size(); ++i) {
      if (value <= f.buckets[i]) ++s->below[i];
    }
  }
}

// One family computed at scrape time (a gauge or a counter the store keeps).
struct Snapshot {
  std::string name, help;
  Type type = Type::gauge;
  std::vector<std::pair<Labels, double>> values;
};

// The exposition text: the registry's families, then `extra`, each with # HELP and # TYPE.
inline std::string render(const std::vector<Snapshot>& extra = {}) {
  std::string out;
  auto head = [&](const std::string& name, const std::string& help, Type t) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " +
           (t == Type::counter ? "counter" : t == Type::gauge ? "gauge" : "histogram") + "\n";
  };
  {
    auto& r = detail::registry();
    std::lock_guard lock(r.mu);
    for (const auto& [name, f] : r.families) {
      head(name, f.help, f.type);
      for (const auto& [labels, s] : f.series) {
        if (f.type != Type::histogram) {
          out += name + detail::label_text(labels) + " " + detail::number(s.value) + "\n";
          continue;
        }
        for (size_t i = 0; i < f.buckets.size(); ++i) {
          out += name + "_bucket" + detail::label_text(labels, "le", detail::number(f.buckets[i])) + " " +
                 std::to_string(s.below[i]) + "\n";
        }
        out += name + "_bucket" + detail::label_text(labels, "le", "+Inf") + " " + std::to_string(s.count) + "\n";
        out += name + "_sum" + detail::label_text(labels) + " " + detail::number(s.value) + "\n";
        out += name + "_count" + detail::label_text(labels) + " " + std::to_string(s.count) + "\n";
      }
    }
  }
  for (const auto& x : extra) {
    head(x.name, x.help, x.type);
    for (const auto& [labels, v] : x.values) out += x.name + detail::label_text(labels) + " " + detail::number(v) + "\n";
  }
  return out;
}

}  // namespace fb::metrics
