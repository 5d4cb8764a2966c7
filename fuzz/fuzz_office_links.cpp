// fuzz_office_links.cpp — libFuzzer target: taking external links out of Office packages on
// arbitrary bytes. The first byte picks the path: a .rels part, an ODF XML part, or a whole
// package (.docx / .odt) through libzip. Never a crash, never an output longer than its input.
// (Running it again on its own output is not asserted to find nothing: on XML that is not
// well-formed, emptying a value can change how what follows is read.)
#include <cstddef>
#include <cstdint>
#include <string>

#include "imaging/office_links.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  int removed = 0;
  switch (data[0] % 4) {
    case 0: {
      std::string out = imaging::strip_external_relationships(input, removed);
      if (out.size() > input.size()) __builtin_trap();
      if (removed == 0 && out != input) __builtin_trap();
      break;
    }
    case 1: {
      std::string out = imaging::strip_external_hrefs(input, removed);
      if (out.size() > input.size()) __builtin_trap();
      break;
    }
    case 2:
      (void)imaging::strip_external_links(input, "docx", "fuzz.docx");
      break;
    default:
      (void)imaging::strip_external_links(input, "odt", "fuzz.odt");
  }
  return 0;
}
