// fuzz_smime.cpp — libFuzzer target for mail::open_smime (OpenSSL CMS): any bytes give the signed
// content or an error clause, never a crash, an undefined behaviour or a leak. Seeds:
// fuzz/corpus/smime/ (signed, enveloped and detached CMS blobs written by
// tests/data/mail/make_corpus.py).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mail/smime.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = mail::open_smime(std::string_view(reinterpret_cast<const char*>(data), size));
  if (r) {
    if (r->content.empty() || r->content.size() > size) abort();  // the content is inside the blob
  } else if (r.error().empty()) {
    abort();
  }
  return 0;
}
