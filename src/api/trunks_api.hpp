// trunks_api.hpp — the trunks of the node as the JSON API shows them:
//
//   GET /api/trunks   200 [{"name", "t38", "state", ["state_reason",] "channels_in_use", "max_channels",
//                          "t38_memory": [{"prefix", "reason", "since", "until"}, ...]}, ...]
//
// t38 is the trunk's policy (prefer | only | off); state is "up", or "down" with "state_reason"
// when its OPTIONS pings ([[trunk]] options_interval_s) go unanswered (failover skips it);
// t38_memory lists the destinations whose T.38 was refused or failed, which start on audio
// until `until` (gateway/t38_memory.hpp). Times in ISO 8601 UTC.
// THREADS: `snapshot` is called on the thread the handler runs on (call control's io thread).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/http_server.hpp"

namespace api {

struct TrunkInfo {
  std::string name;
  std::string t38;
  int channels_in_use = 0;
  int max_channels = 0;
  struct Remembered {
    std::string prefix;
    std::string reason;
    int64_t since = 0, until = 0;
  };
  std::vector<Remembered> t38_memory;
  std::string state = "up";  // up | down
  std::string state_reason;  // why it is down
  std::vector<std::string> addresses;  // RFC 3263 location of its uri: "192.0.2.1:5060/UDP"
  std::string dns_error;               // the last lookup's failure, "" when it worked
  std::vector<std::string> down_addresses;  // addresses whose OPTIONS went unanswered
  std::optional<int> channels_granted;      // on a shared store: this node's share (channel_grants.hpp)
};

std::string trunks_json(const std::vector<TrunkInfo>& trunks);
Handler trunks_handler(std::function<std::vector<TrunkInfo>()> snapshot);

}  // namespace api
