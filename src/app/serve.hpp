// serve.hpp — `faxbridge serve`: the gateway daemon.
//
// Loads the configuration (--config FILE, else the embedded default of INTERFACES.md),
// prepares the data directory (one serve per directory: <data_dir>/serve.lock, an flock held
// for the life of the process), recovers the spool (never-acknowledged files removed), opens
// the job store, and runs: the ESMTP OffRamp intake ([smtp] listen), the converter (messages to
// fax pages), and the JSON API ([http] listen). Logs go to stderr.
// SIGTERM/SIGINT stop intake at once (new connections refused, idle sessions told 421), let
// messages being received finish, and exit 0 — within 10 s when idle.
// Exit: 0 after a clean stop; 1 when the configuration is invalid, a port cannot be bound or
// another serve holds the data directory.
#pragma once

#include <optional>
#include <string>

namespace app {

int serve(const std::optional<std::string>& config_path);

}  // namespace app
