// fuzz_fax_parts.cpp — libFuzzer target for mail::select_fax_parts, mail::trace_facts and mail::mdn_request (with the
// MDN composed from it): any bytes, as a mail, must give parts or an error, an MDN request or none,
// never a crash, an undefined behaviour or a leak (ASan + UBSan + LeakSanitizer).
//
// Build and run (seeds in fuzz/corpus/fax_parts/):
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc $(pkg-config --cflags gmime-3.0) \
//     src/mail/fax_parts.cpp fuzz/fuzz_fax_parts.cpp $(pkg-config --libs gmime-3.0) -o /tmp/fuzz_fax_parts
//   mkdir -p /tmp/fax_parts_corpus
//   /tmp/fuzz_fax_parts -max_total_time=60 /tmp/fax_parts_corpus fuzz/corpus/fax_parts
// (libFuzzer writes new inputs into the first directory; keep the seed directory a few files.)
//
// Leaks: GLib 2.74 hands out GObjects from its slice allocator, whose pooled blocks stay reachable, so
// LeakSanitizer cannot see a GObject that is never unreffed. G_SLICE=always-malloc turns that off, but
// GLib reads it in a constructor that runs before main, so LLVMFuzzerInitialize re-executes the binary
// with it set (checked: an extra g_object_ref is then reported at once; without it, never). No
// suppressions are needed: GLib's and GMime's one-time initialisation stays reachable from globals,
// which LeakSanitizer does not report. GLib criticals are made fatal: one means a GMime call was misused.
#include <glib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <unistd.h>

#include "mail/fax_parts.hpp"
#include "mail/mdn.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char*** argv) {
  const char* slice = getenv("G_SLICE");
  if (!slice || std::string_view(slice) != "always-malloc") {
    setenv("G_SLICE", "always-malloc", 1);
    execv("/proc/self/exe", *argv);  // only returns on failure: fuzz on, with weaker leak detection
  }
  g_log_set_always_fatal(static_cast<GLogLevelFlags>(G_LOG_LEVEL_CRITICAL | G_LOG_FATAL_MASK));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view mail(reinterpret_cast<const char*>(data), size);
  mail::SelectOptions opt;
  opt.max_depth = 16;  // small limits, so that both sides of each limit are reached
  opt.max_parts = 40;
  opt.office = size % 2 == 0;
  auto result = mail::select_fax_parts(mail, opt);
  if (result) {
    for (const auto& part : result->parts) {
      if (part.label.empty()) abort();
      // Decoding never grows the input; a forwarded message's header block (and the UTF-8 of the
      // body it is joined to, up to 3 bytes for each byte) is text of our own.
      // HTML carries its cid: pictures as data: URIs (base64, each copied at most to a budget of
      // four times their size); a TNEF body's RTF is decompressed (at most 8.5 times its bytes).
      const bool forwarded = part.data.starts_with("---------- Forwarded message ----------\n");
      const size_t most = forwarded                                  ? 3 * size + 64
                          : part.kind == mail::FaxPartKind::html     ? 32 * size + 4096
                          : part.content_type == "application/rtf"   ? 9 * size + 4096
                                                                     : size;
      if (part.data.size() > most) abort();
    }
    const auto& h = result->header;  // what a cover page shows: one line each
    for (const std::string* f : {&h.from, &h.to, &h.subject, &h.date}) {
      if (f->find_first_of("\r\n") != std::string::npos) abort();
    }
  } else if (result.error().message.empty()) {
    abort();
  }
  // Loop protection's reading of the header: counts and lower-cased one-line words.
  if (auto t = mail::trace_facts(mail)) {
    if (t->received < 0 || t->from_address.find_first_of("\r\n") != std::string::npos) abort();
  }
  // The MDN: asked only by the envelope sender; its fields never break a line.
  if (auto req = mail::mdn_request(mail, "alice@example.com")) {
    mail::MdnInput in;
    in.reporting_ua = "fax.test";
    in.from = "fax@fax.test";
    in.message_id = "mdn-1@fax.test";
    in.request = *req;
    in.final_recipient = "FAX=+12025550100@fax.test";
    in.number = "+12025550100";
    in.original = std::string(mail);
    auto m = mail::compose_mdn(in);
    if (!m) abort();
    if (req->original_message_id && req->original_message_id->find_first_of("\r\n") != std::string::npos) abort();
  }
  return 0;
}
