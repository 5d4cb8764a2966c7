// fuzz_enriched.cpp — libFuzzer target for imaging::enriched::parse (RFC 1896 text/enriched).
//
// Any byte string is a document: parse must not crash, and its output must keep the model's
// invariants, checked here so that the fuzzer also finds logic errors, not only memory errors.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "imaging/enriched.hpp"

namespace {

constexpr int kMax = imaging::enriched::kMaxNesting;

void check(bool ok) {
  if (!ok) std::abort();
}

// Every shown byte comes from a byte of the input ("<<" and a line break give one each).
void check_document(const imaging::text::Document& doc, std::size_t input_size) {
  std::size_t shown = 0;
  for (const imaging::text::Paragraph& p : doc.paragraphs) {
    check(p.indent_left >= 0 && p.indent_right >= 0 && p.excerpt >= 0);
    check(p.indent_left <= kMax && p.indent_right <= kMax && p.excerpt <= kMax);
    check(!p.page_break_before);
    for (std::size_t i = 0; i < p.spans.size(); ++i) {
      const imaging::text::Span& s = p.spans[i];
      check(!s.text.empty());
      check(s.text.find_first_of("\r\n") == std::string_view::npos);
      check(s.size_steps >= -kMax && s.size_steps <= kMax);
      if (i > 0) {
        imaging::text::Span prev = p.spans[i - 1];
        prev.text = s.text;
        check(!(prev == s));  // adjacent spans with the same style are merged
      }
      shown += s.text.size();
    }
  }
  check(shown <= input_size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_document(imaging::enriched::parse(in), size);
  return 0;
}
