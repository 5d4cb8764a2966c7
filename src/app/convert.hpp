// convert.hpp — the `faxbridge convert` pipeline: documents in, one TIFF-F or PDF out.
//
// Every INPUT is read, typed (--type, else extension, else content), rendered to fax pages
// (imaging/document.hpp; whole mails split by mail/fax_parts.hpp), the pages concatenated in
// order, the optional header line added, and OUT written atomically: .tif as TIFF-F (Profile
// S with MH, Profile F with MR/MMR or superfine), .pdf with the fax coding passed through.
// The rendering runs in a sandboxed child (sandbox.hpp); argument and file checks that need no
// rendering happen first, in the caller, so usage errors are exit 2 without forking.
// Exit codes (INTERFACES.md): 0 done, 2 usage, 3 unsupported type, 4 corrupt, 5 over a limit.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "app/sandbox.hpp"
#include "imaging/render_options.hpp"
#include "imaging/tiff_f.hpp"

namespace app {

struct ConvertRequest {
  std::vector<std::string> inputs;
  std::string output;
  imaging::RenderOptions render;
  imaging::Coding coding = imaging::Coding::mh;
  std::string type;    // --type MIME ("" = detect)
  std::optional<std::string> header;  // --header TEXT
  // --cover: a cover page (imaging/cover.hpp) first. ask: when a mail input says X-Fax-Cover: yes;
  // always: unless it says no; never. The first mail's header and text fill it in.
  enum class Cover { ask, always, never } cover = Cover::ask;
  std::string cover_to;  // --cover-to: the fax numbers the cover names
  SandboxLimits limits;
  std::vector<std::string> jail_hide;  // --jail-hide: absolute directories the jail covers
  // fsync the output; off in the warm render server, whose output is a scratch file the daemon
  // copies and syncs itself.
  bool sync_output = true;
};

// Checks that need no rendering: output kind, inputs readable, output directory writable.
SandboxOutcome check_convert(const ConvertRequest& req);

// Renders and writes; call inside the sandbox.
SandboxOutcome run_convert(const ConvertRequest& req);

// The whole command: run_convert in the sandbox's jail (sandbox.hpp). The inputs are copied into
// the jail's private directory (the jail user reads nothing else of ours), the output is written
// there and moved to req.output once the jail has ended; messages name the caller's paths.
SandboxOutcome convert_in_jail(const ConvertRequest& req);

}  // namespace app
