// fax_parts.hpp — which parts of a mail are faxed (INTERFACES.md, "Which parts of a mail are faxed").
//
// STANDARDS: RFC 2045-2049 (MIME), RFC 2046 §5.1.4 (multipart/alternative), RFC 2183
// (Content-Disposition), RFC 2231 (parameter continuations), RFC 1896 (text/enriched).
// Walks a whole MIME message (GMime) and returns its renderable parts in order, decoded:
//   - text/plain and text/enriched bodies (empty or whitespace-only bodies are skipped);
//   - multipart/alternative: its best renderable alternative — plain or enriched text over
//     HTML; HTML when it is the sole body, or when it shows pictures (cid: images of its
//     multipart/related, RFC 2387/2392) the text cannot — pasted pictures are meant to be seen;
//     images referenced only from an HTML alternative that was not chosen are skipped;
//   - HTML faxed (a body or an attachment) carries the pictures it references by cid: in place, as
//     data: URIs for the renderer; they are not also faxed as pages of their own. Each picture is
//     copied at most four times its size over the whole message (first uses first); a picture
//     named only by Content-Location cannot be put in place and is listed as skipped;
//   - S/MIME (smime.hpp): opaque-signed content (application/pkcs7-mime, smime.p7m) is walked as the
//     part it stands for, the signature listed as skipped (not checked); encrypted or unreadable
//     S/MIME is refused naming why; a detached .p7s is a signature; a signed file (CAdES,
//     "contract.pdf.p7m") whose content is a document, not a MIME entity, is faxed as that file;
//   - TNEF (tnef.hpp: application/ms-tnef, winmail.dat, or the TNEF signature): its body (RTF
//     through the Office renderer when allowed, else its plain text, else its HTML — its HTML first
//     when the RTF was made from HTML; skipped when the message has faxed a text body already,
//     which Exchange sends beside it), then its attachments, each judged like a MIME part
//     (an attached Outlook item's body is faxed in its place);
//   - message/rfc822: recursed into;
//   - attachments: PDF, images, TIFF, Office documents (when allowed); any other text/*
//     subtype as text/plain (RFC 2046 §4.1.4: CSV, logs);
//     application/octet-stream is identified by content (PDF, TIFF, PNG, JPEG, GIF, BMP magic),
//     then by file name extension.
// Skipped, and listed so the sender's report can name them: signatures
// (application/pkcs7-signature, application/pgp-signature), vCards, calendars.
// Refused: any other part that cannot be rendered (an executable, an archive): an error
// naming the part.
// LIMITS: SelectOptions::max_depth (MIME nesting), max_parts (leaves, those unwrapped from S/MIME
// and TNEF included), max_bytes (input); 8 S/MIME or TNEF wrappers in one message.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace mail {

// The render type a faxable part is handed to the converter as.
enum class FaxPartKind { text_plain, text_enriched, html, pdf, image, tiff, office };

struct FaxPart {
  FaxPartKind kind;
  std::string content_type;  // as declared, lower-cased type/subtype ("application/pdf")
  std::string charset;       // text parts: the MIME charset as iconv names it ("" when none was given;
                             // utf-8 or windows-1252 for a label iconv does not know: never a failure later)
  std::string filename;      // from Content-Disposition/Content-Type name ("" when none)
  std::string label;         // how a report names it: "part 2 (report.pdf, application/pdf)"
  std::string data;          // decoded body bytes (transfer encoding undone; charset untouched)
};

struct SkippedPart {
  std::string label;
  std::string reason;  // "signature", "vCard", "calendar", "image used only by the HTML alternative"
};

// What a cover page shows of the mail's header (decoded to UTF-8, RFC 2047), whether the
// sender asked for one (X-Fax-Cover: yes | no; nullopt when absent or anything else), and the
// mail's priority: +1 urgent, -1 non-urgent, 0 normal, from Priority (RFC 2156 §5.3.6: urgent |
// normal | non-urgent), else X-Priority (1-2 high, 4-5 low), else Importance (high | low).
struct MailHeader {
  std::string from, to, subject, date;
  std::optional<bool> cover;
  int priority = 0;
};

struct FaxParts {
  std::vector<FaxPart> parts;
  std::vector<SkippedPart> skipped;
  MailHeader header;
};

enum class PartsErrc {
  unrenderable,  // a part we must refuse (554 5.6.1 naming it)
  nothing,       // no renderable part at all
  malformed,     // the message cannot be parsed as MIME at all
  limit,         // over max_depth / max_parts / max_bytes
};

struct PartsError {
  PartsErrc code;
  std::string message;  // one sentence naming the part: "part 3 (setup.exe, application/x-msdownload) cannot be faxed"
};

struct SelectOptions {
  bool office = true;  // Office documents renderable (LibreOffice present in the converter)
  int max_depth = 32;
  size_t max_parts = 200;
  size_t max_bytes = 64u << 20;
};

fb::Result<FaxParts, PartsError> select_fax_parts(std::string_view message, const SelectOptions& opt = {});

// What a mail's top-level header says about where it comes from, for loop protection
// (RFC 5321 §6.3, RFC 3834): read by GMime whether or not any part can be faxed.
struct TraceFacts {
  int received = 0;               // Received: fields (hops so far)
  std::string auto_submitted;     // the Auto-Submitted: value's keyword, lower-cased ("" when absent)
  std::string from_address;       // the first From: mailbox's address, lower-cased ("" when none)
  bool fax_mail = false;          // an X-Fax-Job: field (our received-fax mail carries one)
};
// nullopt when the message cannot be parsed at all.
std::optional<TraceFacts> trace_facts(std::string_view message);

// Where a message's header block runs into its body without the blank line RFC 5322 §2.1 asks
// for: the offset of the first line that is neither a header field nor the folded continuation
// of one (0 for a message that is all body); npos when the block ends as it should. Read as
// Postfix and Python's email package read it; select_fax_parts reads mail so, and the intake
// writes the blank line into the spool so that every later reader (DSN, MDN) agrees.
size_t missing_blank_line_at(std::string_view message);

}  // namespace mail
