// dsn.cpp — composes RFC 3464 reports with GMime (rules: dsn.hpp).
#include "mail/dsn.hpp"

#include <gmime/gmime.h>

#include "core/printable.hpp"
#include "mail/fax_parts.hpp"
#include "mail/gmime_util.hpp"

#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

namespace mail {
namespace {

template <class T>
using GPtr = gmime::Ptr<T>;

using gmime::field;
using gmime::raw_part;
using gmime::utc;

std::string pages_text(const DsnRecipient& r) {
  if (r.pages == 0) return "";
  return std::to_string(r.pages_sent) + " of " + std::to_string(r.pages) + " page" + (r.pages == 1 ? "" : "s");
}

// The parts of the original that were not faxed (fax_parts.hpp), as lines for the sender.
std::vector<std::string> skipped_parts(std::string_view original) {
  std::vector<std::string> out;
  if (original.empty()) return out;
  auto parts = select_fax_parts(original);
  if (!parts) return out;
  for (const auto& p : parts->skipped) out.push_back(p.label + ": " + p.reason);
  return out;
}

std::string human(const DsnInput& in, const std::vector<std::string>& skipped) {
  std::string s = "This is the fax gateway " + in.reporting_mta + ", about your message of " +
                  utc(in.arrival, "%Y-%m-%d %H:%M UTC") + ".\n\n";
  for (const auto& r : in.recipients) {
    std::string when = r.last_attempt ? " (" + utc(r.last_attempt, "%Y-%m-%d %H:%M:%S UTC") +
                                            (r.node.empty() ? "" : ", by node " + fb::text_line(r.node)) + ")"
                                      : "";
    if (r.action == "delivered") {
      s += "Sent to " + r.number + ": " + pages_text(r) + " confirmed by the receiving fax machine" + when + ".\n";
    } else if (r.action == "delayed") {
      s += "Not yet sent to " + r.number + when + ": " + fb::text_line(r.why.empty() ? r.diagnostic : r.why) + "\n";
      if (r.pages_sent > 0)
        s += "  " + pages_text(r) + " went through so far; the next call resumes at page " +
             std::to_string(r.pages_sent + 1) + ".\n";
      if (r.will_retry_until)
        s += "  The gateway keeps trying until " + utc(*r.will_retry_until, "%Y-%m-%d %H:%M UTC") +
             "; you will hear again only if it fails or if you asked to be told of success.\n";
    } else {
      s += "Could NOT be sent to " + r.number + when + ": " + fb::text_line(r.why.empty() ? r.diagnostic : r.why) + "\n";
      if (r.pages_sent > 0)
        s += "  " + pages_text(r) + " went through (pages 1 to " + std::to_string(r.pages_sent) +
             "); the rest did not.\n";
      s += "  The gateway has stopped trying. Check the number, or send the fax again later.\n";
    }
  }
  if (!skipped.empty()) {
    s += "\nThese parts of your message were not faxed:\n";
    for (const auto& line : skipped) s += "  - " + fb::text_line(line) + "\n";
  }
  if (!in.notes.empty()) {
    s += "\nNotes on the documents faxed:\n";
    for (const auto& line : in.notes) s += "  - " + fb::text_line(line) + "\n";
  }
  s += "\nThe technical details follow, for your mail system.\n";
  return s;
}

std::string delivery_status(const DsnInput& in) {
  std::string s = "Reporting-MTA: dns; " + field(in.reporting_mta) + "\n";
  if (in.envid) s += "Original-Envelope-Id: " + field(*in.envid) + "\n";
  s += "Arrival-Date: " + rfc5322_date(in.arrival) + "\n";
  for (const auto& r : in.recipients) {
    s += "\n";
    if (r.orcpt) s += "Original-Recipient: " + field(*r.orcpt) + "\n";
    s += "Final-Recipient: rfc822; " + field(r.final_recipient) + "\n";
    s += "Action: " + r.action + "\n";
    s += "Status: " + r.status + "\n";
    if (!r.diagnostic.empty()) s += "Diagnostic-Code: x-fax; " + field(r.diagnostic) + "\n";
    if (r.last_attempt) s += "Last-Attempt-Date: " + rfc5322_date(r.last_attempt) + "\n";
    if (r.will_retry_until) s += "Will-Retry-Until: " + rfc5322_date(*r.will_retry_until) + "\n";
    if (!r.node.empty()) s += "X-Fax-Node: " + field(r.node) + "\n";
  }
  return s;
}

}  // namespace

std::string rfc5322_date(int64_t t) {
  return utc(t, "%a, %d %b %Y %H:%M:%S +0000");
}

fb::Result<std::string, ComposeError> compose_dsn(const DsnInput& in) {
  gmime::init();
  std::string original;
  if (!in.original_path.empty()) {
    std::ifstream f(in.original_path, std::ios::binary);
    if (f) {
      std::ostringstream ss;
      ss << f.rdbuf();
      original = ss.str();
    }
  }
  bool all_delivered = true, any_delayed = false;
  std::string numbers;
  for (const auto& r : in.recipients) {
    all_delivered = all_delivered && r.action == "delivered";
    any_delayed = any_delayed || r.action == "delayed";
    numbers += (numbers.empty() ? "" : ", ") + r.number;
  }
  std::string subject = all_delivered ? "Fax sent to " + numbers
                        : any_delayed ? "Fax delayed: not yet sent to " + numbers
                                      : "Fax NOT sent to " + numbers;
  const char* status_type = in.original_smtputf8 ? "global-delivery-status" : "delivery-status";
  auto report = gmime::new_report(in.from, in.to, subject, in.now, in.message_id, status_type);
  GMimeMultipart* body = report.body.get();
  gmime::add_part(body, gmime::text_part(human(in, skipped_parts(original))));
  gmime::add_part(body, raw_part("message", status_type, delivery_status(in)));
  if (!original.empty()) {
    GPtr<GMimeStream> st(g_mime_stream_mem_new_with_buffer(original.data(), original.size()));
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(st.get()));
    GPtr<GMimeMessage> orig(g_mime_parser_construct_message(parser.get(), nullptr));
    const bool eight_bit = in.original_8bit || in.original_smtputf8 || gmime::has_8bit(original);
    if (in.full && orig && !eight_bit) {
      gmime::add_part(body, GMIME_OBJECT(g_mime_message_part_new_with_message("rfc822", orig.get())));
    } else if (in.full && orig) {
      // 8-bit or UTF-8 (BODY=8BITMIME, SMTPUTF8) content cannot ride in a 7-bit report as
      // message/rfc822: message/global (RFC 6532 §3.7, RFC 6533) may be encoded, so it is, and
      // the report needs neither extension from the server it goes to.
      gmime::add_part(body, raw_part("message", "global", original));
    } else {
      const std::string headers = gmime::header_section(original);
      gmime::add_part(body, in.original_smtputf8 ? raw_part("message", "global-headers", headers)
                                                 : gmime::headers_part(headers));
    }
  }
  auto out = gmime::to_text(GMIME_OBJECT(report.message.get()));
  if (!out) return ComposeError{"GMime could not write the report"};
  return *out;
}

}  // namespace mail
