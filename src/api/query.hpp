// query.hpp — what the API routes share for reading a request target: ids and query values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace api {

// A positive decimal id, all of `s`; nullopt otherwise.
std::optional<int64_t> parse_id(std::string_view s);
// The value of `key` in "a=1&b=2", %XX-decoded ("" when absent; '+' stays '+': numbers).
std::string query_value(std::string_view query, std::string_view key);

}  // namespace api
