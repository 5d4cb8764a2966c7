// client.hpp — the CLI side of the JSON API: `faxbridge send`, `jobs`, `job ID`, `cancel ID`.
//
// Talks HTTP/1.1 to --server URL (default http://127.0.0.1:8025) with Authorization: Bearer and
// the token of --token, else $FAXBRIDGE_TOKEN, else the node-local admin token
// (<data_dir>/admin.token of --config, or of the embedded default: ./var). Exit codes
// (INTERFACES.md): 0 done; 1 unknown job id (or a job that cannot be cancelled); 2 usage;
// 6 server unreachable; 7 refused (no token, a bad one, or one without the right).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace app {

inline constexpr const char* kDefaultServer = "http://127.0.0.1:8025";

struct Remote {
  std::string server = kDefaultServer;
  std::string token;  // "" sends no Authorization
};
// The token as above ("" when none is found).
// The admin token file is read only for a --server on this host (localhost, 127.x, ::1).
std::string find_token(const std::optional<std::string>& flag, const std::optional<std::string>& config_path,
                       const std::string& server);

int cmd_jobs(const Remote& remote, bool json);
int cmd_job(const Remote& remote, const std::string& id, bool json);
int cmd_cancel(const Remote& remote, const std::string& id);
// `faxbridge send --to NUMBER... FILE...` (POST /api/v1/faxes), then the progress of each job
// until all are final: on a terminal one live line per recipient, redrawn in place; otherwise a
// plain line whenever a recipient's line changes. --no-wait prints the job ids. Exit 0 when every
// recipient got every page; 1 when any did not; 2 usage (a file that cannot be read, a bad
// number, nothing that can be faxed); 6 the node unreachable or failing; 7 refused (a token, the
// dialling policy, a cap).
int cmd_send(const Remote& remote, const std::vector<std::string>& to, const std::vector<std::string>& files,
             bool no_wait);

}  // namespace app
