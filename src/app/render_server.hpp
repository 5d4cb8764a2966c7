// render_server.hpp — `faxbridge render-server`: the warm render server (issue 14;
// docs/security.md "The converter").
//
// The converter (gateway/converter.hpp) starts one per worker thread, with a SOCK_SEQPACKET
// socket at descriptor 3 (gateway/render_protocol.hpp) and the daemon's directories to hide
// (--jail-hide). The server:
// 1. makes its jail (sandbox.hpp) and enters it once: the namespaces, the covered directories,
//    the other jails hidden. That is the costly part of a jail, no longer paid per document;
// 2. forks the jail's PID 1, the warm parent, which renders a short mail with a text part and a
//    PDF page (trusted bytes of its own) so that the libraries, fontconfig, Pango's font map,
//    MuPDF's context with the common standard fonts (imaging::keep_warm_context) and the code
//    are loaded and faulted in; its big allocations are then taken from mmap (M_MMAP_THRESHOLD)
//    so that its heap stays small;
// 3. starts the next document's process ahead (SandboxStart, inside the jail): forked from the
//    warm parent as PID 1 of a PID namespace of its own, with its own mount and IPC namespaces,
//    an empty /tmp and /dev/shm, its directory, and the limits, user and seccomp of every jailed
//    conversion, all before any request; it then faults in the memory rendering will write (its
//    copy of the heap, room for a page's buffers, a white page raster on huge pages:
//    imaging/raster_buffer.hpp), which was ~1,000 page faults on the sender's wait, and waits
//    for its request;
// 4. says hello, then for each request: copies the input into that document's directory and
//    hands the process the request; it writes the pages into its directory and reports, and
//    they are copied into the output descriptor the daemon passed, from the regular file it
//    left (checked on the descriptor opened; the daemon checks they are fax pages) while its
//    process may still be ending; the reply names the outcome in convert's words and exit
//    codes. After the reply the process is killed and reaped with its namespace, the directory
//    removed, and the next document's process started. (A process started once the request
//    is in hand, the one made ahead having died, closes the daemon's descriptors first.)
// Isolation: one document at a time per server, each in a fresh process that never held
// another's bytes (forked after the previous request was wiped), ended with everything it
// started, its directory removed before the next request is read. No document reaches the
// socket (closed in the work before anything runs) nor the daemon's descriptors (received
// after it was forked).
// Exit: 0 when the daemon closes the socket; 1 when the jail cannot be made, the socket is not
// one, or a request does not parse (the daemon then starts a new server).
#pragma once

#include <string>
#include <vector>

namespace app {

inline constexpr int kRenderServerFd = 3;

int render_server(int sock, const std::vector<std::string>& hide);

}  // namespace app
