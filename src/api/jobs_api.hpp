// jobs_api.hpp — the jobs routes of the JSON API (INTERFACES.md: jobs, job ID, cancel ID).
//
//   GET  /api/jobs              200 [job, ...] newest first (?state=S&direction=out|in&limit=N)
//   GET  /api/jobs/<id>         200 job | 404 {"error": "..."}
//   POST /api/jobs/<id>/cancel  200 job | 404 unknown | 409 already final
// Each job object has at least id, direction, state, number, caller, pages, pages_done,
// retry_at (null or ISO 8601), error (null or a sentence) — queue::to_json.
// THREADS: the handler runs on the store executor, where the JobStore lives.
#pragma once

#include <functional>
#include <asio.hpp>

#include "api/http_server.hpp"
#include "queue/job_store.hpp"

namespace api {

Response handle_jobs(queue::JobStore& store, const Request& req,
                     const std::function<void(int64_t)>& on_cancelled = nullptr);

// A Handler that runs handle_jobs on `store_exec`.
// `on_cancelled` (optional) runs on the store thread after a job was cancelled: the live call of
// the job, if any, is to be hung up.
Handler jobs_handler(queue::JobStore& store, asio::any_io_executor store_exec,
                     std::function<void(int64_t)> on_cancelled = nullptr);

}  // namespace api
