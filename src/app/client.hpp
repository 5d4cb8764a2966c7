// client.hpp — the CLI side of the JSON API: `faxbridge jobs`, `job ID`, `cancel ID`.
//
// Talks HTTP/1.1 to --server URL (default http://127.0.0.1:8025). Exit codes (INTERFACES.md):
// 0 done; 1 unknown job id (or a job that cannot be cancelled); 2 usage; 6 server unreachable.
#pragma once

#include <string>

namespace app {

inline constexpr const char* kDefaultServer = "http://127.0.0.1:8025";

int cmd_jobs(const std::string& server, bool json);
int cmd_job(const std::string& server, const std::string& id, bool json);
int cmd_cancel(const std::string& server, const std::string& id);

}  // namespace app
