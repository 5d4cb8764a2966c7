// form_data.hpp — an HTTP request body of type multipart/form-data, read into its fields: what
// `POST /api/v1/faxes` receives (documents and numbers).
//
// STANDARDS: RFC 7578 (multipart/form-data: each part's Content-Disposition: form-data with its
// name and, for a file, its filename; a part's Content-Type, text/plain by default), RFC 2046
// (multipart syntax). Parsed with GMime, already the mail parser here (no second MIME parser).
// UNTRUSTED: any client with a token. Limits: kMaxFormFields fields; a name of at most 100 bytes;
// the body is bounded by the HTTP server. A part without a name, or a body that is not
// multipart/form-data with a boundary, is an error naming it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace mail {

inline constexpr size_t kMaxFormFields = 64;

struct FormField {
  std::string name;                     // the form field's name
  std::optional<std::string> filename;  // set for a file
  std::string content_type;             // lower case, e.g. "application/pdf" ("text/plain" by default),
                                        // with its "; charset=..." when it has one
  std::string data;                     // the content, transfer-decoded
};

// The fields in order, or a sentence naming what is wrong.
[[nodiscard]] fb::Result<std::vector<FormField>, std::string> parse_form_data(std::string_view content_type,
                                                                             std::string_view body);

}  // namespace mail
