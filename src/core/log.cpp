// log.cpp — see log.hpp.
#include "core/log.hpp"

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "core/printable.hpp"

namespace fb {
namespace {

std::atomic<LogFormat> g_format{LogFormat::text};

spdlog::logger& logger() {
  // Raw lines (the format is ours): spdlog gives the level filter, the lock and the sink.
  // Never destroyed: a thread may still log while the process exits.
  static spdlog::logger* l = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto* lg = new spdlog::logger("faxbridge", sink);
    lg->set_pattern("%v");
    lg->set_level(spdlog::level::info);
    lg->flush_on(spdlog::level::debug);  // every line at once: a crash loses none
    return lg;
  }();
  return *l;
}

spdlog::level::level_enum to_spdlog(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

const char* name_of(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

std::string utc_ms(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", int(ms % 1000));
  return buf;
}

// A logfmt value: bare when it is one safe token, else quoted with " and \ escaped (the rest
// is printable() already).
std::string logfmt_value(const std::string& v) {
  bool bare = !v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\') bare = false;
  }
  if (bare) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

void set_log_format(LogFormat format) {
  g_format = format;
  ::setenv("FAXBRIDGE_LOG_FORMAT", format == LogFormat::json ? "json" : format == LogFormat::logfmt ? "logfmt" : "text", 1);
}

LogFormat log_format_from_env() {
  const char* v = std::getenv("FAXBRIDGE_LOG_FORMAT");
  const std::string_view f = v ? v : "";
  return f == "json" ? LogFormat::json : f == "logfmt" ? LogFormat::logfmt : LogFormat::text;
}
void set_log_level(LogLevel level) { logger().set_level(to_spdlog(level)); }

std::string format_log_line(LogFormat format, int64_t ms, LogLevel level, std::string_view component,
                            std::string_view text, std::optional<int64_t> job, std::string_view call) {
  const std::string msg = printable(text, kMaxLogLine);
  const std::string comp = printable(component, 40);
  const std::string cid = printable(call, 256);
  switch (format) {
    case LogFormat::text:
      return "faxbridge: " + msg + (cid.empty() || msg.find("call=" + cid) != std::string::npos ? "" : " call=" + cid);
    case LogFormat::json: {
      nlohmann::ordered_json o;
      o["time"] = utc_ms(ms);
      o["level"] = name_of(level);
      o["component"] = comp;
      if (job) o["job"] = *job;
      if (!cid.empty()) o["call"] = cid;
      o["msg"] = msg;
      return o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    case LogFormat::logfmt: {
      std::string out = "time=" + utc_ms(ms) + " level=" + name_of(level) + " component=" + logfmt_value(comp);
      if (job) out += " job=" + std::to_string(*job);
      if (!cid.empty()) out += " call=" + logfmt_value(cid);
      return out + " msg=" + logfmt_value(msg);
    }
  }
  return msg;
}

std::string component_of(std::string_view line) {
  std::string word;
  for (char c : line) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') break;
    word += char(std::tolower(static_cast<unsigned char>(c)));
    if (word.size() > 24) break;
  }
  return word.empty() || word.size() > 24 ? "node" : word;
}

std::optional<int64_t> job_of(std::string_view line) {
  for (size_t at = line.find("job "); at != std::string_view::npos; at = line.find("job ", at + 4)) {
    if (at > 0 && std::isalnum(static_cast<unsigned char>(line[at - 1]))) continue;
    int64_t id = 0;
    size_t i = at + 4, digits = 0;
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])) && digits < 18) {
      id = id * 10 + (line[i++] - '0');
      ++digits;
    }
    if (digits > 0 && (i == line.size() || !std::isalnum(static_cast<unsigned char>(line[i])))) return id;
  }
  return std::nullopt;
}

std::string call_of(std::string_view line) {
  for (size_t at = line.find("call="); at != std::string_view::npos; at = line.find("call=", at + 5)) {
    if (at > 0 && std::isalnum(static_cast<unsigned char>(line[at - 1]))) continue;
    size_t end = at + 5;
    while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end])) && end - at - 5 < 256) ++end;
    if (end > at + 5) return std::string(line.substr(at + 5, end - at - 5));
  }
  return "";
}

void log(LogLevel level, std::string_view component, std::string_view text, std::optional<int64_t> job,
         std::string_view call) {
  auto& l = logger();
  if (!l.should_log(to_spdlog(level))) return;
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  l.log(to_spdlog(level), "{}", format_log_line(g_format, ms, level, component, text, job, call));
}

void log(std::string_view line) { log(LogLevel::info, component_of(line), line, job_of(line)); }

}  // namespace fb
