// store_cli.hpp — `faxbridge store copy --from URL --to URL` (INTERFACES.md): a node's SQLite
// store and its spool's files into a PostgreSQL store (queue/store_copy.hpp says what is kept).
// The source's spool is <the database's directory>/spool, the default layout, unless --spool
// names it. Exit 0 with a summary; 1 with the reason (nothing written to the target then).
#pragma once

#include <optional>
#include <string>

namespace app {

int cmd_store_copy(const std::string& from, const std::string& to, const std::optional<std::string>& spool);

}  // namespace app
