// faxes_api.hpp — the /api/v1 fax routes (INTERFACES.md, HTTP API): what `faxbridge send`, and
// any program, uses to send faxes and follow them.
//
//   POST /api/v1/faxes               multipart/form-data (RFC 7578): one or more `document` files
//                                    (any type the mail intake faxes), one or more `to` numbers
//                                    ("+12025550100", optional "/T33S=123"), optional `priority`
//                                    (urgent | normal | non-urgent) -> 201 {"items": [job, ...]}
//                                    once committed (one job per distinct number)
//   GET  /api/v1/faxes               ?direction=&state=&number=&cursor=&limit= (newest first;
//                                    limit 50 by default, at most 500) -> {"items": [...],
//                                    "next_cursor": "<id>" | null}; at most 2000 jobs are read per
//                                    request, so a user token's page may be short with a cursor
//   GET  /api/v1/faxes/{id}          the job object (queue::to_json)
//   POST /api/v1/faxes/{id}/cancel   the job, cancelled; 409 when already final, or received
//   POST /api/v1/faxes/{id}/retry    an outbound fax waiting for its retry is tried now; 409 otherwise
//   GET  /api/v1/faxes/{id}/document.pdf, document.tif   its pages (rendered to send, or received;
//                                    409 while they are still being rendered or received)
//   GET  /api/v1/faxes/{id}/pages/{n}.png                page n as a PNG preview (?width=16..1728, 600)
//   GET  /api/v1/me                  who the token is: {"user", "admin": bool, "mailboxes": [...]}
//   GET  /api/v1/events              ?since=<unix s> server-sent events: "event: job", "id: <job id>",
//                                    "data: <job object>" each time a fax the token sees changes
//                                    (read from the store once a second; since: at most an hour
//                                    back, now by default); a ": keep-alive" comment every 15 s;
//                                    a stream ends after 5 minutes (reconnect); 503 past 64 streams
//   GET  /api/v1/trunks              the trunks (admin tokens; trunks_api.hpp's objects)
//   GET  /api/v1/openapi.json        the OpenAPI 3.1 description of these routes (openapi.hpp)
// Errors: {"error": {"code": "...", "message": "..."}} with 400 bad_request, 403 refused (the
// dialling policy), 404 not_found, 405 method_not_allowed, 409 conflict, 413 (the server),
// 415 unsupported_media_type, 422 unprocessable (nothing that can be faxed), 429 over_cap,
// 503 unavailable.
// Who: an admin token sees and cancels every fax; a user token (faxbridge token add) sees only
// its own — sent through the API, by mail from one of its mailboxes or with SMTP AUTH as it, and
// received faxes mailed to one of its mailboxes — and anyone else's is 404, as if unknown.
// THREADS: handlers run on the store executor; `submit` is called there and answers there.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <asio.hpp>

#include "api/http_server.hpp"
#include "api/trunks_api.hpp"
#include "queue/job_store.hpp"

namespace api {

struct FaxRequest {
  std::string user;
  std::vector<std::string> to;
  struct Document {
    std::string filename, content_type, data;
  };
  std::vector<Document> documents;
  int priority = 0;
  std::optional<std::string> webhook_url;  // checked by parse_webhook_url
  std::optional<int64_t> send_after;       // unix seconds: not dialled before
  std::optional<std::string> cover;        // a cover page first; its comment
};
struct FaxAccepted {
  int status = 201;  // else the refusal's HTTP status
  std::string error;
  std::vector<int64_t> jobs;
};
// Checks, spools and commits a request; calls `done` (on the store executor) when durable or refused.
using Submitter = std::function<void(FaxRequest, std::function<void(FaxAccepted)>)>;

// A fax's pages as a file: `what` is "document.pdf", "document.tif" or "pages/<n>.png" (with
// `width`); a 404 (v1_error) when they are not kept. Runs on the documents executor.
using Documents = std::function<Response(const queue::Job& job, const std::string& what, int width)>;

struct FaxRoutes {
  Submitter submit;
  std::function<void(int64_t)> on_cancelled;  // a job cancelled: hang up its call (store thread)
  std::function<void()> on_retry;             // a job made due now: look for work (store thread)
  Documents documents;
  asio::any_io_executor documents_exec;  // where documents are made (not the store thread)
  std::function<std::vector<TrunkInfo>()> trunks;  // GET /api/v1/trunks (on the io thread)
};

Handler faxes_handler(queue::JobStore& store, asio::any_io_executor store_exec, FaxRoutes routes);

// {"error": {"code": code, "message": message}}
Response v1_error(int status, const std::string& code, const std::string& message);

}  // namespace api
