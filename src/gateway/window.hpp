// window.hpp — sending windows: the hours of the week faxes to some numbers may be sent
// (issue 6: "optional sending windows (time of day)"; [[window]] in the configuration).
//
// A window covers the numbers starting with one of its prefixes (E.164, "+" for all); the
// longest matching prefix among all windows decides, and a number no window covers may be sent
// at any time. Hours are local wall-clock time in an IANA time zone (GLib's GTimeZone, from the
// system's tzdata): "08:00-20:00", or "22:00-06:00" across midnight (the night belongs to the
// day it starts on), "00:00-00:00" all day. Days: mon..sun, every day when none are given.
// A job whose window is closed is not dialled; it waits, due when the window next opens.
// Pure functions of the time given: the tests drive them directly.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gateway {

struct SendingWindow {
  std::vector<std::string> prefixes = {"+"};
  int start_minute = 0;  // minutes after local midnight
  int end_minute = 0;    // equal to start: all day
  std::array<bool, 7> days = {true, true, true, true, true, true, true};  // Monday first
  std::string timezone = "UTC";
};

// "08:00-20:00" → {480, 1200}; nullopt when malformed.
std::optional<std::pair<int, int>> parse_hours(std::string_view text);
// "mon".."sun" → 0..6; nullopt otherwise.
std::optional<int> parse_day(std::string_view text);
bool known_timezone(const std::string& iana);

// The window that governs `number` (longest prefix), or nullptr when none does.
const SendingWindow* window_for(const std::vector<SendingWindow>& windows, std::string_view number);

// nullopt when `w` is open at `now` (unix seconds); otherwise when it next opens.
std::optional<int64_t> closed_until(const SendingWindow& w, int64_t now);

}  // namespace gateway
