// fuzz_render_protocol.cpp — libFuzzer target: the render server's requests and the daemon's
// view of its replies (gateway/render_protocol.hpp) on arbitrary bytes. Never a crash; what
// decodes encodes to what decodes to the same.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gateway/render_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  if (auto r = gateway::decode_request(in)) {
    auto again = gateway::decode_request(gateway::encode(*r));
    if (!again || again->resolution != r->resolution || again->paper != r->paper || again->cover != r->cover ||
        again->cover_to != r->cover_to || again->time_limit_s != r->time_limit_s || again->input_name != r->input_name)
      __builtin_trap();
  }
  if (auto r = gateway::decode_reply(in)) {
    auto again = gateway::decode_reply(gateway::encode(*r));
    if (!again || again->code != r->code || again->message != r->message || again->worker_pid != r->worker_pid)
      __builtin_trap();
  }
  (void)gateway::decode_hello(in);
  return 0;
}
