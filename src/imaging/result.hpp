// result.hpp — imaging errors. The codes are the `faxbridge convert` exit codes of
// INTERFACES.md, so a renderer's error travels unchanged from the deepest decoder to the
// CLI's exit status.
#pragma once

#include <string>

#include "core/result.hpp"

namespace imaging {

enum class Errc {
  usage = 2,        // bad flags, missing/unreadable input, unwritable output
  unsupported = 3,  // the input's type is not one we render
  corrupt = 4,      // the type is known, the content is broken (or encrypted)
  limit = 5,        // over a resource limit (pages, pixels, memory, time)
};

struct Error {
  Errc code;
  std::string message;
};

template <class T>
using Result = fb::Result<T, Error>;
using Status = fb::Result<fb::Unit, Error>;

inline Error make_error(Errc c, std::string msg) { return Error{c, std::move(msg)}; }

}  // namespace imaging
