// metrics_api.hpp — GET /metrics: Prometheus text (exposition format 0.0.4) for an operator's
// scraper: what the process counted (core/metrics.hpp: SMTP sessions and replies by code, mail
// deliveries by result, rendering time, store commit time), what the store counts (jobs by
// direction and state; calls by direction and outcome, i.e. failures by cause; pages sent and
// received) and the trunks' channels. INTERFACES.md: no token needed from loopback (guard.hpp),
// a token otherwise.
// THREADS: the trunks are read on the calling (io) thread, the store on its executor.
#pragma once

#include <functional>
#include <vector>

#include <asio.hpp>

#include "api/http_server.hpp"
#include "api/trunks_api.hpp"
#include "queue/job_store.hpp"

namespace api {

Handler metrics_handler(queue::JobStore& store, asio::any_io_executor store_exec,
                        std::function<std::vector<TrunkInfo>()> trunks);

}  // namespace api
