// window.cpp — sending windows with GLib's time zones (rules: window.hpp).
#include "gateway/window.hpp"

#include <glib.h>

#include <memory>

namespace gateway {
namespace {

struct TzUnref {
  void operator()(GTimeZone* z) const { g_time_zone_unref(z); }
};
struct DtUnref {
  void operator()(GDateTime* d) const { g_date_time_unref(d); }
};
using Tz = std::unique_ptr<GTimeZone, TzUnref>;
using Dt = std::unique_ptr<GDateTime, DtUnref>;

Tz zone(const std::string& iana) { return Tz(g_time_zone_new_identifier(iana.c_str())); }

bool open_at(const SendingWindow& w, int day, int minute) {  // day 0 = Monday
  const int s = w.start_minute, e = w.end_minute;
  if (s == e) return w.days[size_t(day)];
  if (s < e) return w.days[size_t(day)] && minute >= s && minute < e;
  return (w.days[size_t(day)] && minute >= s) || (w.days[size_t((day + 6) % 7)] && minute < e);
}

}  // namespace

std::optional<std::pair<int, int>> parse_hours(std::string_view t) {
  auto hm = [](std::string_view v) -> std::optional<int> {
    if (v.size() != 5 || v[2] != ':') return std::nullopt;
    for (size_t i : {0u, 1u, 3u, 4u}) {
      if (v[i] < '0' || v[i] > '9') return std::nullopt;
    }
    int h = (v[0] - '0') * 10 + (v[1] - '0'), m = (v[3] - '0') * 10 + (v[4] - '0');
    if (h > 24 || m > 59 || (h == 24 && m != 0)) return std::nullopt;
    return h * 60 + m;
  };
  auto dash = t.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto a = hm(t.substr(0, dash)), b = hm(t.substr(dash + 1));
  if (!a || !b) return std::nullopt;
  return std::pair{*a % 1440, *b % 1440};
}

std::optional<int> parse_day(std::string_view text) {
  static constexpr std::array<std::string_view, 7> kDays = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  for (size_t i = 0; i < kDays.size(); ++i) {
    if (kDays[i] == text) return int(i);
  }
  return std::nullopt;
}

bool known_timezone(const std::string& iana) { return !iana.empty() && zone(iana) != nullptr; }

const SendingWindow* window_for(const std::vector<SendingWindow>& windows, std::string_view number) {
  const SendingWindow* best = nullptr;
  size_t best_len = 0;
  for (const auto& w : windows) {
    for (const auto& p : w.prefixes) {
      if (number.substr(0, p.size()) == p && (!best || p.size() > best_len)) {
        best = &w;
        best_len = p.size();
      }
    }
  }
  return best;
}

std::optional<int64_t> closed_until(const SendingWindow& w, int64_t now) {
  Tz tz = zone(w.timezone);
  if (!tz) tz = Tz(g_time_zone_new_utc());
  Dt utc(g_date_time_new_from_unix_utc(now));
  Dt local(g_date_time_to_timezone(utc.get(), tz.get()));
  const int day = g_date_time_get_day_of_week(local.get()) - 1;
  const int minute = g_date_time_get_hour(local.get()) * 60 + g_date_time_get_minute(local.get());
  if (open_at(w, day, minute)) return std::nullopt;
  bool any_day = false;
  for (bool d : w.days) any_day = any_day || d;
  if (!any_day) return now + 7 * 86400;  // never open: look again in a week
  // The next start on an allowed day, today's only if it is still ahead.
  for (int d = 0; d <= 7; ++d) {
    const int wd = (day + d) % 7;
    if (!w.days[size_t(wd)] || (d == 0 && w.start_minute <= minute)) continue;
    Dt date(g_date_time_add_days(local.get(), d));
    Dt start(g_date_time_new(tz.get(), g_date_time_get_year(date.get()), g_date_time_get_month(date.get()),
                             g_date_time_get_day_of_month(date.get()), w.start_minute / 60, w.start_minute % 60, 0));
    if (!start) continue;
    const int64_t t = g_date_time_to_unix(start.get());
    if (t > now) return t;
  }
  return now + 86400;
}

}  // namespace gateway
