// fuzz_cover_routing.cpp — libFuzzer target: a central number's cover page as the sender made it
// (the words tesseract reads and the barcodes zbar decodes are the sender's to choose: any bytes,
// any boxes, any number of labels and fields). decide_cover never crashes or hangs, routes only
// to an addressee it was given, and names at most kMaxCandidates candidates, each given.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "gateway/cover_routing.hpp"

namespace {

std::string text(FuzzedDataProvider& in) {
  static const char* kWords[] = {"To:", "Attn", "An:", "À", ":", "From:", "Anna", "Schmidt", "Ext.", "4711",
                                 "anna@example.com", "@", "z.", "Hd.:", "l'attention", "de", "Mr.", ";"};
  if (in.ConsumeBool()) return kWords[in.ConsumeIntegralInRange<size_t>(0, std::size(kWords) - 1)];
  return in.ConsumeRandomLengthString(40);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  std::vector<gateway::Addressee> people = {
      {"Anna Schmidt", "Anna", "Schmidt", {"anna@example.com"}, {"+49 30 5550 4711"}, {}},
      {"Peter Schmidt", "Peter", "Schmidt", {"peter@example.com"}, {"+49 30 5550 4712"}, {}},
      {"route +15550177", "", "", {"sales@example.com"}, {"+15550177"}, {"+15550177", "42"}},
  };
  if (in.ConsumeBool()) people.push_back({text(in), text(in), text(in), {text(in)}, {text(in)}, {text(in)}});
  gateway::CoverPage page;
  page.read = in.ConsumeBool();
  page.xres = in.ConsumeIntegralInRange<int>(0, 400);
  page.yres = in.ConsumeIntegralInRange<int>(0, 400);
  const int words = in.ConsumeIntegralInRange<int>(0, 60);
  for (int i = 0; i < words; ++i) {
    ocr::Word w;
    w.text = text(in);
    w.x0 = in.ConsumeIntegralInRange<int>(-10, 3000);
    w.x1 = in.ConsumeIntegralInRange<int>(-10, 3000);
    w.y0 = in.ConsumeIntegralInRange<int>(-10, 3000);
    w.y1 = in.ConsumeIntegralInRange<int>(-10, 3000);
    w.line = in.ConsumeIntegralInRange<int>(0, 12);
    page.text.words.push_back(std::move(w));
  }
  const int codes = in.ConsumeIntegralInRange<int>(0, 3);
  for (int i = 0; i < codes; ++i) page.barcodes.push_back({"QR-Code", text(in)});
  const auto d = gateway::decide_cover(page, people);
  if (d.chosen && *d.chosen >= people.size()) std::abort();
  if (d.candidates.size() > gateway::kMaxCandidates) std::abort();
  for (const auto& c : d.candidates)
    if (c.index >= people.size()) std::abort();
  if (d.fields.size() > gateway::kMaxFields) std::abort();
  return 0;
}
