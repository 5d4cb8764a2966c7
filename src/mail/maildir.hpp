// maildir.hpp — delivering a mail into a Maildir (the embedded default delivery mode).
//
// STANDARDS: the Maildir format (D. J. Bernstein, "Using maildir format"; Dovecot and Courier
// read it): write to tmp/, fsync, rename into new/, fsync new/ — a reader sees a whole message
// or none. INTERFACES.md: a mail for address X goes to <root>/X/new/, X lower-cased, refused if
// X contains '/' or a NUL or starts with '.'; <root>/X/{tmp,new,cur} are created as needed.
// EXACTLY ONCE: the file name is derived from the caller's unique key (the delivery's id), not
// from the clock: delivering the same key again after a crash replaces the file rather than
// adding a second copy.
// LIMITS: addresses of at most 254 bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mail {

struct MaildirError {
  bool permanent = false;  // the address can never be delivered here (postmaster instead)
  std::string message;
};

// The folder of `address` under `root`, or a permanent error naming why it is refused.
fb::Result<std::string, MaildirError> maildir_folder(const std::string& root, std::string_view address);

// Writes `message` into the folder of `address`; returns the path in new/. `key` names the
// file (letters, digits, '-', '_', '.': e.g. "1763840467.faxbridge-17-3"); `host` is added as
// Maildir names do. With `return_path` (the envelope sender, "" for <>), the trace fields a
// delivering MTA adds go on top (RFC 5321 §4.4): "Return-Path: <...>" and "Delivered-To: ...",
// in the message's own line endings.
fb::Result<std::string, MaildirError> deliver_maildir(const std::string& root, std::string_view address,
                                                      const std::string& key, std::string_view message,
                                                      std::optional<std::string_view> return_path = std::nullopt);

}  // namespace mail
