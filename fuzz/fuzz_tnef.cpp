// fuzz_tnef.cpp — libFuzzer target for mail::unpack_tnef and our compressed-RTF
// decoder: any bytes give items or an error sentence, never a crash, an undefined behaviour, a
// leak or a read outside the input (ASan + UBSan + LeakSanitizer). Seeds: fuzz/corpus/tnef/
// (TNEF streams written by tests/data/mail/make_corpus.py).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mail/tnef.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // The stream as a winmail.dat (the signature put in front when the input lacks it, so the
  // fuzzer need not find it).
  std::string stream = mail::is_tnef(in) ? std::string(in) : std::string("\x78\x9F\x3E\x22", 4) + std::string(in);
  auto items = mail::unpack_tnef(stream);
  if (items) {
    for (const auto& it : *items) {
      if (it.body && !it.body->rtf && !it.body->plain && !it.body->html) abort();  // a body has a form
      if (!it.body && it.file.data.empty()) abort();  // empty attachments are not items
    }
  } else if (items.error().empty()) {
    abort();
  }
  // The RTF decoder alone, whose header sizes are the input's to lie about.
  if (auto rtf = mail::decompress_rtf(in, 1u << 20); rtf && rtf->size() > (1u << 20)) abort();
  return 0;
}
