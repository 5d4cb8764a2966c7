// delivery_report.hpp — reading a bounce: the delivery status notification another MTA sends
// back to a mail's envelope sender, and the VERP bounce address that says which of our mails it
// is about.
//
// STANDARDS: RFC 3464 (message/delivery-status: per-message fields, then one group per
// recipient: Final-Recipient, Original-Recipient, Action, Status, Remote-MTA, Diagnostic-Code),
// RFC 6533 (message/global-delivery-status: the same fields in UTF-8, possibly encoded), RFC 6522
// (multipart/report), RFC 3463 (status codes). VERP: the envelope sender names the delivery
// (`<local>+<delivery id>.<tag>@<domain>`), as Postfix's and qmail's VERP do, so a bounce need
// not be matched by guessing at its text.
// UNTRUSTED: anyone can send mail to a bounce address. The report is found by its content type
// (the first such part, depth-first, within GMime's limits); field values are unfolded, control
// characters become spaces, and each is cut to kMaxReportValue bytes (at a UTF-8 boundary);
// kMaxReportedRecipients groups at most; a report with no recipient group is no report.
// Non-DSN mail (an autoresponder, a person replying) is not read here: nullopt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mail {

inline constexpr size_t kMaxReportValue = 500;
inline constexpr size_t kMaxReportedRecipients = 100;

struct ReportedRecipient {
  std::string final_recipient;     // the address, its type ("rfc822;") taken off
  std::string original_recipient;  // likewise ("" when absent)
  std::string action;              // lower case: failed, delayed, delivered, relayed, expanded
  std::string status;              // "5.2.2" ("" when absent or malformed)
  std::string diagnostic;          // "552 5.2.2 Mailbox is full" (its type, "smtp;", taken off)
  std::string remote_mta;          // "mx.example.com"
};

struct DeliveryReport {
  std::string reporting_mta;
  std::vector<ReportedRecipient> recipients;
};

// The delivery report in `message` (an RFC 5322 message as received), or nullopt when it holds
// none. An Action left out is taken from the status class (5: failed, 4: delayed, 2: delivered).
std::optional<DeliveryReport> read_delivery_report(std::string_view message);

// The recipient group about `address` (its Final- or Original-Recipient, any letter case); else
// the first that failed; else the first.
const ReportedRecipient& recipient_about(const DeliveryReport& report, std::string_view address);

// One sentence for a person: "5.2.2 (552 5.2.2 Mailbox is full), reported by smarthost.test".
std::string describe(const DeliveryReport& report, const ReportedRecipient& r);

struct BounceAddress {
  int64_t delivery = 0;
  std::string tag;  // 16 lowercase hex digits (queue::new_delivery_tag)
};

// "fax+42.0123456789abcdef@fax.example.com": `local` the sender's own local part.
std::string bounce_address(std::string_view local, std::string_view domain, int64_t delivery, std::string_view tag);

// The delivery and tag of a bounce address whose local part is `local` + "+..." (letter case of
// `local` and of the tag ignored: some MTAs fold it); nullopt for any other address. The domain
// is the caller's to check.
std::optional<BounceAddress> parse_bounce_address(std::string_view address, std::string_view local);

}  // namespace mail
