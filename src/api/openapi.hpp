// openapi.hpp — the OpenAPI 3.1 description of /api/v1 (GET /api/v1/openapi.json): the routes of
// faxes_api.hpp, the job object (queue::to_json) and the error object, as JSON Schema 2020-12.
// tests/app/send_test.py validates the server's real responses against it, so the two cannot
// drift apart unnoticed.
#pragma once

#include <string_view>

namespace api {

std::string_view openapi_json();

}  // namespace api
