// fuzz_store_text.cpp — libFuzzer target for what the PostgreSQL store does to bytes it did not
// choose (queue/postgres.hpp): text from strangers (a caller's name, a far end's error) made valid
// UTF-8 without NUL before PostgreSQL sees it; the ?N parameters of a statement numbered $N; a
// connection URL with its password hidden. Any bytes give a result, never a crash, an undefined
// behaviour or a leak; valid_text's result is valid (asking again changes nothing) and has no NUL;
// numbering replaces characters one for one.
// Seeds: fuzz/corpus/store_text/.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "queue/postgres.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string text = queue::postgres::valid_text(in);
  if (text.find('\0') != std::string::npos) abort();
  if (queue::postgres::valid_text(text) != text) abort();  // what it made is valid UTF-8
  if (text.size() < in.size()) abort();                    // nothing dropped: each bad byte becomes U+FFFD
  if (queue::postgres::numbered_parameters(in).size() != in.size()) abort();
  const std::string shown = queue::postgres::redacted(std::string(in));
  (void)queue::postgres::is_query(in);
  (void)shown;
  return 0;
}
