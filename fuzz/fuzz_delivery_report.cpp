// fuzz_delivery_report.cpp — libFuzzer target for mail::read_delivery_report and
// mail::parse_bounce_address: anything anyone mails to a bounce address gives a report or
// nullopt, never a crash, an undefined behaviour, a leak or an unbounded value (ASan + UBSan +
// LeakSanitizer). Seeds: fuzz/corpus/delivery_report/ (bounces as Postfix, Exchange and an RFC
// 6533 MTA write them).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mail/delivery_report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = mail::read_delivery_report(in)) {
    if (r->recipients.empty() || r->recipients.size() > mail::kMaxReportedRecipients) abort();
    if (r->reporting_mta.size() > mail::kMaxReportValue) abort();
    for (const auto& rr : r->recipients) {
      for (const auto* v : {&rr.final_recipient, &rr.original_recipient, &rr.diagnostic, &rr.remote_mta}) {
        if (v->size() > mail::kMaxReportValue) abort();
        for (unsigned char c : *v) {
          if (c < 0x20 || c == 0x7f) abort();  // control characters cleaned
        }
      }
      if (!rr.status.empty() && rr.status[0] != '2' && rr.status[0] != '4' && rr.status[0] != '5') abort();
    }
    (void)mail::describe(*r, mail::recipient_about(*r, "a@b"));
  }
  // The same bytes as an address.
  if (auto b = mail::parse_bounce_address(in.substr(0, 300), "fax")) {
    if (b->delivery <= 0 || b->tag.size() != 16) abort();
  }
  return 0;
}
