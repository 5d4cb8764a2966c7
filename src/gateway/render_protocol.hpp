// render_protocol.hpp — what the converter (converter.hpp) and its warm render server
// (app/render_server.hpp) say to each other.
//
// One SOCK_SEQPACKET socketpair per converter worker: each send is one message, read whole or
// not at all; file descriptors travel with SCM_RIGHTS. Fields are NUL-terminated strings.
//   hello    server -> daemon, once, when warm:  "hello" <jail directory>
//   render   daemon -> server:  "render" resolution paper cover cover_to time_limit_s input_name
//            with two descriptors: the input (read) and the output (an empty file to write)
//   done     server -> daemon:  "done" code message worker_pid
// The daemon names the input for messages (its spool path); the server never sees a path of
// the daemon's. A message that does not parse ends the conversation (the daemon restarts the
// server; the server exits).
// LIMITS: kMaxProtocolMessage bytes a message, kMaxProtocolFds descriptors (more are closed).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gateway {

inline constexpr size_t kMaxProtocolMessage = 16 * 1024;
inline constexpr size_t kMaxProtocolFds = 2;

struct RenderRequest {
  std::string resolution = "fine";  // standard | fine | superfine
  std::string paper = "auto";
  std::string cover = "ask";  // ask | always | never
  std::string cover_to;       // the fax number the cover names ("" none)
  int time_limit_s = 300;
  std::string input_name;  // what messages call the input; its extension types it (".eml")
};

struct RenderReply {
  int code = 0;  // a convert exit code: 0 done, 2..5 (convert.hpp)
  std::string message;
  long worker_pid = 0;  // the process that rendered (in the server's PID namespace)
};

[[nodiscard]] std::string encode_hello(std::string_view jail_dir);
[[nodiscard]] std::optional<std::string> decode_hello(std::string_view bytes);
[[nodiscard]] std::string encode(const RenderRequest& r);
[[nodiscard]] std::optional<RenderRequest> decode_request(std::string_view bytes);
[[nodiscard]] std::string encode(const RenderReply& r);
[[nodiscard]] std::optional<RenderReply> decode_reply(std::string_view bytes);

struct ProtocolMessage {
  std::string bytes;
  std::vector<int> fds;  // owned by the receiver
};

enum class ReceiveStatus { ok, closed, timeout, error };

// Sends one message with `fds` (may be empty). False when the peer is gone.
[[nodiscard]] bool send_message(int sock, std::string_view bytes, const std::vector<int>& fds = {});
// Waits up to timeout_ms (-1: for ever) for one message. A message cut short (over the size or
// descriptor limits) is an error, its descriptors closed.
[[nodiscard]] ReceiveStatus receive_message(int sock, int timeout_ms, ProtocolMessage& out);

}  // namespace gateway
