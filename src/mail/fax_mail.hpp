// fax_mail.hpp — the mail a received fax becomes (INTERFACES.md "Mail produced").
//
// STANDARDS: RFC 5322 (From, To, Subject, Date, Message-ID), RFC 2045-2049 (MIME), RFC 2047 and
// RFC 2231 (non-ASCII words and file names, GMime encodes them), RFC 2387 (multipart/related
// for the inline thumbnail), RFC 3834 (Auto-Submitted: auto-generated), RFC 3302/3949 (image/tiff
// TIFF-F), ../shared/specs/exchange-um-partner.md (partner mode).
// THE MAIL, normal mode: multipart/mixed of
//   - multipart/alternative: text/plain, and multipart/related {text/html, image/png page-1
//     thumbnail (Content-ID, inline)} — caller id and name, remote CSID, called number, SUB,
//     pages (complete or not), time, duration, rate, ECM, damaged rows;
//   - the attachments asked for: application/pdf and/or image/tiff named
//     fax-YYYYMMDD-HHMMSS-<caller digits or "unknown">.pdf|.tif (UTC time of the call).
// A call with no page: a short text-only "missed fax" notice (caller, time, reason); a voice call
// to a shared number that could not be transferred: a "missed call" notice instead.
// Postmaster mode: the same mail addressed to the postmaster, with the reason it could not go
// where it should have first (no route, a permanent delivery failure).
// Partner mode: exactly the contract — plain-text body, exactly one image/tiff attachment when
// pages arrived and no other non-text part, Content-Class, the X-MS-Exchange-UM-* headers,
// X-FaxNumberOfPages; PartnerStatus 2.0.0 complete, 2.6.0 incomplete, 2.4.0 no page (the caller
// gave up), 5.0.0 no page through our fault.
// Every mail: Auto-Submitted: auto-generated, X-Fax-Pages, a Message-ID chosen by the caller (so
// a mail composed again after a crash keeps its id) and Date of the call.
// The output has LF line ends; the SMTP client writes CRLF.
// LIMITS: the attachments are read whole into memory (a fax TIFF is ~50 KB a page).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace mail {

struct ReceivedFaxInfo {
  int64_t job_id = 0;
  std::string did;                         // called number
  std::optional<std::string> subaddress;   // T.30 SUB
  std::string caller;                      // caller id, "" when withheld
  std::optional<std::string> caller_name;  // From display name
  std::optional<std::string> remote_ident; // the sender's TSI
  int pages = 0;
  int bad_rows = 0;
  int bit_rate = 0;
  bool ecm = false;
  int duration_s = 0;
  int64_t received_at = 0;  // unix seconds, the start of the call
  bool complete = true;     // the sender ended the document and every page arrived whole
  std::string reason;       // why it is incomplete / why no page arrived ("" when complete)
  bool server_error = false;  // no page through our own fault (partner status 5.0.0)
  bool voice = false;  // a voice call to a shared voice/fax number that could not be transferred
};

struct FaxMailOptions {
  std::string from;             // "fax@fax.localhost"
  std::vector<std::string> to;  // the route's mailboxes
  std::string message_id;       // without <>
  std::string tiff_path;        // the received TIFF ("" when no page arrived)
  bool attach_tiff = true;
  bool attach_pdf = true;
  std::string pdf_path;         // the PDF made from the TIFF, when attach_pdf
  bool thumbnail = true;
  // Partner mode: the msExchUMContext to echo (plain base64).
  std::optional<std::string> partner_context;
  // Postmaster mode: why the fax came here.
  std::optional<std::string> postmaster_reason;
  // The first lines of text read from each page (OCR, issue 18), in the text and HTML bodies
  // (not in partner mode, whose body the contract fixes); nullopt for a page not read (in time);
  // none: no such section. At most kMaxTextPages pages are listed; a run of unread pages is one
  // line.
  std::vector<std::optional<std::vector<std::string>>> page_lines;
  // How the fax was routed, for the reader (the fax secretary's audit trail, issue 18): a row
  // "Routed by" in both bodies ("DID +15550100", "OCR: ..."); "": none (not in partner mode).
  std::string routing;
};

inline constexpr size_t kMaxTextPages = 20;

struct ComposeError {
  std::string message;  // names the file that could not be read
};

// The whole RFC 5322 message.
fb::Result<std::string, ComposeError> compose_fax_mail(const ReceivedFaxInfo& info, const FaxMailOptions& opt);

// "fax-20261122-204107-15551234" (the caller's digits, or "unknown").
std::string fax_file_stem(const ReceivedFaxInfo& info);
// The partner status of ../shared/specs/exchange-um-partner.md for this reception.
std::string partner_status(const ReceivedFaxInfo& info);
// Whether an echoed msExchUMContext is what the contract needs (base64 of a query string with a
// non-empty CallId); without one the fax is mailed as an ordinary fax mail.
bool usable_partner_context(const std::string& context);

}  // namespace mail
