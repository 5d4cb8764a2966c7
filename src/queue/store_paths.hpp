// store_paths.hpp — the file paths an older faxbridge stored, made relative to the data
// directory (issue 14: serve now works inside its data directory, app/privileges.hpp).
//
// Versions before it stored messages.spool_path and deliveries.mail_path as the configuration
// named them, relative to serve's working directory then ("var/spool/msg/<id>.eml" for the
// default data_dir "var"). From its data directory those names lead nowhere: an in-flight
// delivery would wait its days out and a DSN lose its original. Once per store, before serve
// writes anything, every such path is rewritten by the caller's function and a marker is left
// (table store_meta, key "paths" = "data_dir"); a store whose paths already are (one this version
// made) only gets the marker. Its own connection, like user_store.hpp: the job store is untouched.
#pragma once

#include <functional>
#include <string>

#include "core/result.hpp"
#include "queue/store_error.hpp"

namespace queue {

// Rewrites each stored path p to rebase(p) in one transaction, unless the store is marked;
// returns how many paths changed.
[[nodiscard]] fb::Result<int, StoreError> rebase_stored_paths(const std::string& db_path,
                                                            const std::function<std::string(const std::string&)>& rebase);

}  // namespace queue
