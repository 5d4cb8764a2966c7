// trunks_api.cpp — GET /api/trunks (see trunks_api.hpp).
#include "api/trunks_api.hpp"

#include <nlohmann/json.hpp>

#include "queue/job_store.hpp"

namespace api {

std::string trunks_json(const std::vector<TrunkInfo>& trunks) {
  auto a = nlohmann::ordered_json::array();
  for (const auto& t : trunks) {
    nlohmann::ordered_json o;
    o["name"] = t.name;
    o["t38"] = t.t38;
    o["state"] = t.state;
    if (!t.state_reason.empty()) o["state_reason"] = t.state_reason;
    o["addresses"] = t.addresses;
    if (!t.dns_error.empty()) o["dns_error"] = t.dns_error;
    if (!t.down_addresses.empty()) o["down_addresses"] = t.down_addresses;
    o["channels_in_use"] = t.channels_in_use;
    o["max_channels"] = t.max_channels;
    if (t.channels_granted) o["channels_granted"] = *t.channels_granted;
    auto m = nlohmann::ordered_json::array();
    for (const auto& r : t.t38_memory) {
      m.push_back({{"prefix", r.prefix}, {"reason", r.reason}, {"since", queue::format_utc(r.since)},
                   {"until", queue::format_utc(r.until)}});
    }
    o["t38_memory"] = m;
    a.push_back(o);
  }
  return a.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

namespace {
asio::awaitable<Response> answer(std::function<std::vector<TrunkInfo>()> snapshot, Request req) {
  if (req.method != "GET") co_return Response{405, "{\"error\":\"use GET\"}\n"};
  co_return Response{200, trunks_json(snapshot())};
}
}  // namespace

Handler trunks_handler(std::function<std::vector<TrunkInfo>()> snapshot) {
  return [snapshot](Request req) { return answer(snapshot, std::move(req)); };
}

}  // namespace api
