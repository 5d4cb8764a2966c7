// reload.hpp — what a SIGHUP changes (serve.cpp): the configuration file read again, checked
// whole like at start-up (a file with an error changes nothing: the error is logged and the node
// goes on as it was), then compared with the file the node runs on, top-level section by section.
//
// Applied in place, without touching a live call or SMTP session:
//   [[trunk]]   added, changed (all but uri, username/password, register) or removed
//               (FaxCalls::reload_trunks: a removed trunk takes no new call)
//   [[route]]   the OnRamp's routes (faxes routed from now on) and the DIDs and voice_uris call
//               control knows
//   [dialing]   allow and deny, at RCPT, at POST /api/v1/faxes and when a job is dialled
//   [smtp]      the limits (max_sessions, idle_timeout_s, max_message_bytes, max_recipients,
//               sender_*_per_hour, client_*), trusted_networks and the AUTH users ([[smtp.user]])
//               for the sessions that start from now on
// API users and tokens live in the store: `faxbridge token add|revoke` takes effect at once.
// Anything else that differs is named in the log as not reloaded (a restart applies it):
// e.g. "[sip]", "[smtp]", "[dialing] calls_per_day".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace app {

struct ReloadPlan {
  bool trunks = false;
  bool routes = false;
  bool dialing = false;  // allow/deny
  bool smtp = false;     // kReloadableSmtp
  std::vector<std::string> not_reloaded;  // "[sip]", "[dialing] calls_per_day", by name
  bool nothing() const { return !trunks && !routes && !dialing && !smtp && not_reloaded.empty(); }
};

// Compares two configuration texts (both already valid); an error only for TOML that does not parse.
[[nodiscard]] fb::Result<ReloadPlan, std::string> plan_reload(std::string_view running, std::string_view next);

}  // namespace app
