// tokens.hpp — API tokens on the node's side: the node-local admin token file and the
// `token add|list|revoke` commands (INTERFACES.md).
//
// ADMIN TOKEN: `serve` keeps a token in <data_dir>/admin.token (mode 0600, owner only; written
// to a temporary file and renamed, so a reader never sees half of it). A valid file is reused,
// so a restart does not lock out a running `faxbridge jobs`; a file that is malformed, not a
// regular file, or readable by others is replaced. The CLI reads it when given no --token and
// no $FAXBRIDGE_TOKEN.
// Exit codes of the commands: 0 done; 1 unknown name (revoke) or a refused value; 2 usage;
// 3 the store cannot be opened.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace app {

inline constexpr const char* kAdminTokenFile = "admin.token";

// The admin token of `data_dir`, created when missing or unfit. Throws std::runtime_error
// naming the file when it cannot be written.
std::string ensure_admin_token(const std::string& data_dir);
// The token the file holds; nullopt when absent or malformed.
std::optional<std::string> read_admin_token(const std::string& data_dir);

int cmd_token_add(const std::optional<std::string>& config_path, const std::string& name, bool admin,
                  const std::vector<std::string>& mailboxes, const std::optional<std::string>& webhook = std::nullopt);
int cmd_token_list(const std::optional<std::string>& config_path);
int cmd_token_revoke(const std::optional<std::string>& config_path, const std::string& name);

}  // namespace app
