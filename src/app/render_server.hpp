// render_server.hpp — `faxbridge render-server`: the warm render server (issue 14;
// docs/security.md "The converter").
//
// The converter (gateway/converter.hpp) starts one per worker thread, with a SOCK_SEQPACKET
// socket at descriptor 3 (gateway/render_protocol.hpp) and the daemon's directories to hide
// (--jail-hide). The server:
// 1. makes its jail (sandbox.hpp) and enters it once: the namespaces, the covered directories,
//    the other jails hidden. That is the costly part of a jail, no longer paid per document;
// 2. forks the jail's PID 1, the warm parent, which renders a short mail with a text part and a
//    PDF page (trusted bytes of its own) so that the libraries, fontconfig, Pango's font map
//    and the code are loaded and faulted in; big allocations are then taken fresh from mmap
//    (M_MMAP_THRESHOLD), so a document's page buffers are not copies of the parent's heap;
// 3. says hello, then for each request: copies the input into a fresh directory of the jail
//    user's, and renders it with run_sandboxed(inside): a process forked from the warm parent,
//    in a PID namespace of its own, under the limits, user and seccomp of every jailed
//    conversion. It writes the pages into the output descriptor the daemon passed; the reply
//    names its outcome in convert's words and exit codes.
// Isolation: one document at a time per server, each in a fresh process that never held
// another's bytes, ended with everything it started, its directory removed before the next.
// No document reaches the socket (closed in the work before anything runs).
// Exit: 0 when the daemon closes the socket; 1 when the jail cannot be made, the socket is not
// one, or a request does not parse (the daemon then starts a new server).
#pragma once

#include <string>
#include <vector>

namespace app {

inline constexpr int kRenderServerFd = 3;

int render_server(int sock, const std::vector<std::string>& hide);

}  // namespace app
