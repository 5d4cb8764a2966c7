// cover_routing.hpp — a central fax number's faxes routed by their cover page (issue 18): a
// barcode on it, or the addressee read (OCR) next to a "To:" label, matched against the people of
// the directory and the [[route]]s. Misrouting is worse than not routing: when in doubt, the fax
// goes to the central number's own mailboxes, with the candidates named for whoever sorts it.
//
// BARCODES first (QR or Code 128, ocr/barcode.hpp): a code whose text is a known person's mail
// address ("mailto:" allowed) or a [[route]]'s key (its did or subaddress, or "route:KEY") routes
// the fax. An address nobody is known by is never mailed to: a fax is not a relay. Codes that
// name two different people: not routed by code.
// ADDRESSEE FIELDS: a label of up to three words ("To", "Attn", "Attention", "For", "Recipient",
// "An", "Empfänger", "z. Hd.", "À"/"A", "À l'attention de", "Destinataire", "Para",
// "Destinatario", "Atención", ...) at the start of a line or after a wide gap, with its colon (or
// ";", as a colon often reads at standard resolution; without it only a label that starts its
// line and is no common word: "TO" in capitals, "Attn", "Empfänger", ...), then the words after it
// on its line (the next cell of a table row the label starts, however far; a table read column by
// column: the words level with the label) up to a label of another kind ("From", "Von", "De",
// "Fax", "Date", ...) or a gap wider than three times the line's height; when nothing follows, the
// next line.
// MATCHING each field against each addressee:
//   - a mail address in it, equal to one of theirs (case-insensitive, "rn" read for "m" forgiven:
//     1), or one slip away in an address of 8 characters or more (0.9: an equal neighbour then
//     wins by less than the margin, and nobody is chosen);
//   - a telephone number (7 or more digits) whose trailing digits (as many as both have) are a
//     telephone or fax number's, or an extension (3 to 6 digits after "Ext", "x", "Durchwahl",
//     "Poste", not followed by more digits) equal to the end of the first number listed (0.95);
//   - a name: the field's words (titles dropped) against the surname and given name, compared
//     without case and accents, with the common OCR slips ("rn" for "m", "0" for "o") folded, by
//     edit distance. A surname alone scores 0.9 at best; a surname with another given name is that
//     other person (0.3: named as a candidate, never routed to); one word that is someone's given
//     name scores 0.8 at best (a candidate that keeps a namesake by surname from being sure).
// Addressees with the same destination (a person, and the [[route]] of their own number) count
// as one. An addressee that may not receive faxes (Addressee::may_receive) competes like anyone
// but is never routed to.
// DECISION: the best scores at least kAccept and every other at least kMargin less; else not
// routed, with everyone scoring at least kCandidate named (at most kMaxCandidates). Text read
// from the page appears in the decision printable only (no control characters, at most 80 bytes).
// LIMITS: kMaxFields fields per page; names of at most 64 bytes compared.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ocr/barcode.hpp"
#include "ocr/ocr.hpp"

namespace gateway {

inline constexpr double kAccept = 0.85;
inline constexpr double kMargin = 0.15;
inline constexpr double kCandidate = 0.3;
inline constexpr size_t kMaxCandidates = 5;
inline constexpr size_t kMaxFields = 8;

// Someone a cover page may name: a directory entry, or a [[route]] (its key and mailboxes).
struct Addressee {
  std::string name;                  // as shown ("Anna Schmidt"; a route: "route +15550177")
  std::string given, surname;        // "" for a route (and for an entry without them)
  std::vector<std::string> mails;    // where the fax goes: the first; all are matched
  std::vector<std::string> numbers;  // telephone and fax numbers as written
  std::vector<std::string> keys;     // a route's did and subaddress (barcode keys)
  bool may_receive = true;           // false: a competitor for the name, never routed to
  int route = -1;                    // a [[route]]: its index (all its mailboxes get the fax)
};

struct CoverPage {
  ocr::PageText text;                  // page 1 as read (may be empty: not read in time)
  int xres = 204, yres = 196;          // its resolution (boxes are in its pixels)
  std::vector<ocr::Barcode> barcodes;  // page 1's codes
  bool read = false;                   // whether page 1 was read at all
};

struct Candidate {
  size_t index = 0;  // into the addressees
  double score = 0;
};

struct CoverDecision {
  std::optional<size_t> chosen;  // the addressee routed to
  std::string by;                // "barcode" or "ocr" when chosen
  std::string matched;           // what was read: the field's text or the code's
  double score = 0;              // of the chosen (1 for a barcode)
  std::vector<Candidate> candidates;  // not chosen: the likely ones, best first
  std::vector<std::string> fields;    // the addressee fields read (for the audit trail)
  std::string why;               // not chosen: why, one phrase
};

CoverDecision decide_cover(const CoverPage& page, const std::vector<Addressee>& people);

// The addressee fields of a page (exposed for the tests).
std::vector<std::string> addressee_fields(const ocr::PageText& text, int xres = 204, int yres = 196);

// Letters folded for comparison: lower case, Latin accents removed (ä → a, ß → ss), OCR slips
// folded ("rn" → "m", "0" → "o", "1" → "l"); everything but letters dropped.
std::string fold_name(const std::string& utf8);

}  // namespace gateway
