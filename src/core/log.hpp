// log.hpp — the daemon's one logger (spdlog), one line per event on stderr.
//
// Each line has a level, a component (the subsystem: smtp, sip, job, webhook, ...), the job id
// and the SIP Call-ID when it concerns a job or a call, and the text. Three formats ([log] format):
//   text    faxbridge: <text>[ call=<Call-ID>]     (the default; what operators and tests read)
//   json    {"time":"2026-12-04T20:40:00.123Z","level":"info","component":"job","job":12,"call":"...","msg":"..."}
//   logfmt  time=2026-12-04T20:40:00.123Z level=info component=job job=12 call=... msg="..."
// log(line) takes the component from the line's first word ("job 12: ..." -> job, "webhook
// event 3 delivered" -> webhook) and the job from its first "job <n>"; log(level, component,
// text, job) says them outright. Every byte that could forge or hide a line is escaped
// (printable.hpp: a caller's name with a CR LF in it stays on its line; JSON strings escaped).
// Lines below the [log] level are dropped.
// THREADS: safe from any thread (spdlog's mutex-guarded stderr sink).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fb {

inline constexpr size_t kMaxLogLine = 4000;

enum class LogLevel { debug, info, warn, error };
enum class LogFormat { text, json, logfmt };

// Set once at start-up ([log] format and level); text and info until then. set_log_format also
// puts it in FAXBRIDGE_LOG_FORMAT, so processes serve starts (the render server) write alike.
void set_log_format(LogFormat format);
// The format FAXBRIDGE_LOG_FORMAT names (text when unset or unknown).
LogFormat log_format_from_env();
void set_log_level(LogLevel level);

void log(LogLevel level, std::string_view component, std::string_view text, std::optional<int64_t> job = std::nullopt,
         std::string_view call = {});
void log(std::string_view line);  // info; component and job read from the line

// The line as `format` writes it, at unix time `ms` (milliseconds): what log() emits (tests).
std::string format_log_line(LogFormat format, int64_t ms, LogLevel level, std::string_view component,
                            std::string_view text, std::optional<int64_t> job, std::string_view call = {});
// The component and job log(line) reads from a line; call_of: the token after "call=" (how a T.30
// trace line's tag names its call; read from those lines only), "" when none.
std::string component_of(std::string_view line);
std::optional<int64_t> job_of(std::string_view line);
std::string call_of(std::string_view line);

}  // namespace fb
