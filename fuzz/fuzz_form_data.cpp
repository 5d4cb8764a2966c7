// fuzz_form_data.cpp — libFuzzer target for mail::parse_form_data (the body of POST
// /api/v1/faxes): any bytes give fields or a sentence, never a crash, an undefined behaviour or a
// leak (ASan + UBSan + LeakSanitizer). The first line of the input is the Content-Type, the rest
// the body. Seeds: fuzz/corpus/form_data/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mail/form_data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  std::string_view type = nl == std::string_view::npos ? in : in.substr(0, nl);
  std::string_view body = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  auto f = mail::parse_form_data(type, body);
  if (f) {
    if (f->empty() || f->size() > mail::kMaxFormFields) abort();
    for (const auto& x : *f) {
      if (x.name.empty() || x.name.size() > 100) abort();
    }
  } else if (f.error().empty()) {
    abort();
  }
  return 0;
}
