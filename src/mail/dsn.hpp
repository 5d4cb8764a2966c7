// dsn.hpp — the delivery status notification a mail sender gets about their fax (OffRamp report).
//
// STANDARDS: RFC 3464 (multipart/report; report-type=delivery-status, message/delivery-status
// fields), RFC 6522 (multipart/report), RFC 3461 §4.3 (RET: the original message or its headers),
// RFC 3463 (status codes), RFC 3834 (Auto-Submitted: auto-replied), ../shared/specs/dsn-and-status.md.
// THE MAIL: From the gateway's address (the envelope sender is the null path <>, the caller's
// business), To the original envelope sender; three parts:
//   1. text/plain for a person: per fax number, what happened, pages sent of pages, when, why,
//      and what happens next;
//   2. message/delivery-status: Reporting-MTA, Original-Envelope-Id (when ENVID was given),
//      Arrival-Date; per recipient Original-Recipient (from ORCPT), Final-Recipient, Action,
//      Status, Diagnostic-Code (x-fax), Last-Attempt-Date, Will-Retry-Until (delayed), and the
//      extension field X-Fax-Node (RFC 3464 2.4: the node of a cluster that made the last call);
//   3. the original message (RET=FULL) or its header (otherwise: text/rfc822-headers).
// LIMITS: the original is read whole into memory (bounded by [smtp] max_message_bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "mail/fax_mail.hpp"

namespace mail {

struct DsnRecipient {
  std::string final_recipient;       // the address as given, "FAX=+12025550100@fax.example.com"
  std::optional<std::string> orcpt;  // "rfc822;FAX=+12025550100@fax.example.com"
  std::string action;                // delivered | failed | delayed
  std::string status;                // "2.0.0", "5.4.1", ...
  std::string diagnostic;            // the fax reason in words, "busy"
  std::string number;                // "+12025550100"
  int pages = 0, pages_sent = 0;
  int64_t last_attempt = 0;                 // unix seconds (0: never dialled)
  std::optional<int64_t> will_retry_until;  // delayed
  std::string why;                          // a sentence: the job's error ("" when delivered)
  std::string node;  // the node that made its last call ("" none): in the text and as X-Fax-Node
};

struct DsnInput {
  std::string reporting_mta;  // our host name
  std::string from;           // "fax@fax.example.com"
  std::string to;             // the original envelope sender
  std::string message_id;     // of the report, without <>
  std::optional<std::string> envid;
  int64_t arrival = 0;          // when we accepted the original
  std::string original_path;    // the spooled original ("" when gone: no third part)
  bool full = false;            // RET=FULL
  // What the original's MAIL FROM declared (queue::NewMessage): an SMTPUTF8 original is reported
  // in message/global-delivery-status (RFC 6533 §6.1, report-type to match); an 8BITMIME or
  // SMTPUTF8 one (or any with 8-bit bytes, declared or not) is returned as encoded message/global
  // or message/global-headers, so the report itself needs neither extension.
  bool original_8bit = false;
  bool original_smtputf8 = false;
  std::vector<DsnRecipient> recipients;
  int64_t now = 0;
  // What rendering had to do that the sender should know, a line per document ("part 2
  // (report.pdf, application/pdf): the PDF was damaged ...; it was repaired ..."): imaging's page notes.
  std::vector<std::string> notes;
};

fb::Result<std::string, ComposeError> compose_dsn(const DsnInput& in);

// "Sun, 22 Nov 2026 20:41:07 +0000"
std::string rfc5322_date(int64_t unix_seconds);

}  // namespace mail
