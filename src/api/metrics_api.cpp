// metrics_api.cpp — GET /metrics (see metrics_api.hpp).
#include "api/metrics_api.hpp"

#include <map>
#include <optional>

#include "core/metrics.hpp"

namespace api {
namespace {

using fb::metrics::Snapshot;
using fb::metrics::Type;

struct StatsOrError {
  std::optional<queue::StoreStats> stats;
  std::string error;
};

asio::awaitable<StatsOrError> read_stats(queue::JobStore* store) {
  auto st = store->stats();
  if (!st) co_return StatsOrError{std::nullopt, st.error().message};
  co_return StatsOrError{std::move(*st), ""};
}

asio::awaitable<Response> answer(queue::JobStore* store, asio::any_io_executor store_exec,
                                 std::function<std::vector<TrunkInfo>()> trunks, Request req) {
  if (req.method != "GET") co_return Response{405, "use GET\n", "text/plain"};
  std::vector<Snapshot> extra;
  Snapshot use{"faxbridge_trunk_channels_in_use", "Calls in progress on each trunk", Type::gauge, {}};
  Snapshot max{"faxbridge_trunk_channels_max", "The channels each trunk allows", Type::gauge, {}};
  Snapshot up{"faxbridge_trunk_up", "1 when the trunk is up, 0 when down", Type::gauge, {}};
  for (const auto& t : trunks ? trunks() : std::vector<TrunkInfo>{}) {
    use.values.push_back({{{"trunk", t.name}}, double(t.channels_in_use)});
    max.values.push_back({{{"trunk", t.name}}, double(t.max_channels)});
    up.values.push_back({{{"trunk", t.name}}, t.state == "up" ? 1.0 : 0.0});
  }
  auto got = co_await asio::co_spawn(store_exec, read_stats(store), asio::use_awaitable);
  if (!got.stats) co_return Response{503, "the job store: " + got.error + "\n", "text/plain"};
  const queue::StoreStats* st = &*got.stats;
  Snapshot jobs{"faxbridge_jobs", "Jobs in the store now, by direction and state", Type::gauge, {}};
  for (const auto& j : st->jobs) {
    jobs.values.push_back({{{"direction", std::string(queue::to_string(j.direction))}, {"state", j.state}}, double(j.count)});
  }
  Snapshot calls{"faxbridge_calls_total", "Fax calls ended, by direction and outcome (failures by cause)",
                 Type::counter, {}};
  std::map<std::string, double> pages;
  for (const auto& c : st->calls) {
    calls.values.push_back(
        {{{"direction", std::string(queue::to_string(c.direction))}, {"outcome", c.outcome}}, double(c.calls)});
    pages[std::string(queue::to_string(c.direction))] += double(c.pages);
  }
  Snapshot page{"faxbridge_pages_total", "Fax pages sent (out, confirmed) and received (in)", Type::counter, {}};
  for (const char* d : {"out", "in"}) page.values.push_back({{{"direction", d}}, pages[d]});
  extra = {jobs, calls, page, use, max, up};
  co_return Response{200, fb::metrics::render(extra), "text/plain; version=0.0.4; charset=utf-8"};
}

}  // namespace

Handler metrics_handler(queue::JobStore& store, asio::any_io_executor store_exec,
                        std::function<std::vector<TrunkInfo>()> trunks) {
  return [&store, store_exec, trunks](Request req) { return answer(&store, store_exec, trunks, std::move(req)); };
}

}  // namespace api
