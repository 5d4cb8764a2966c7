// router.hpp — which mailboxes a received fax goes to (the OnRamp's routing step).
//
// STANDARDS: ITU-T T.30 §5.3.6.2.6 / T.33 (SUB: the subaddress the caller dialled, the RFC 3192
// "/T33S=" of a mail-to-fax sender), RFC 3892 (Referred-By) and ../shared/specs/
// exchange-um-partner.md (an Exchange UM referral names the recipient), INTERFACES.md [[route]]
// and [ldap].
// ORDER, first match wins:
//   1. Exchange UM partner mode: the INVITE's Referred-By carries msExchUMFaxRecipient=smtp:ADDR
//      → ADDR alone, partner mail, with msExchUMContext echoed — only for an ADDR in [exchange]
//      recipient_domains, and only from an [exchange] server (fax_calls drops the header from
//      anyone else): otherwise the referral is ignored and the steps below route the fax;
//   2. a [[route]] for the SUB the caller sent;
//   3. a [[route]] for the called DID (E.164);
//   4. the directory (LDAP), asked for the DID, then for the SUB: found and allowed → that
//      mailbox (PDF and TIFF); found but not allowed to receive faxes → the postmaster with that
//      reason; unavailable → not routed now: try again later (the fax waits in the spool);
//   5. the default route;
//   6. the postmaster, with the reason no route matched. A fax is never discarded.
// Sans I/O: the directory is a function the caller supplies (ldap_directory.hpp does it for real).
// LIMITS: kMaxMailboxes per route.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace gateway {

inline constexpr size_t kMaxMailboxes = 100;

struct RouteRule {
  std::string did;         // E.164, "" when not a DID route
  std::string subaddress;  // "" when not a SUB route
  bool is_default = false;
  std::vector<std::string> mailboxes;
  bool pdf = true;
  bool tiff = true;
  bool ocr = false;       // a central number: its faxes are routed by reading their cover page
  bool ocr_copy = false;  // and its mailboxes get a copy of a fax routed so
};

// What the directory says of a number.
struct DirectoryAnswer {
  enum Status { found, not_found, not_allowed, unavailable } status = not_found;
  std::string mailbox;  // found
  std::string detail;   // not_allowed / unavailable: why, for the log and the postmaster
};
using Directory = std::function<DirectoryAnswer(const std::string& number)>;

struct InboundFax {
  std::string did;                         // the called number, E.164
  std::optional<std::string> subaddress;   // T.30 SUB
  std::optional<std::string> referred_by;  // the INVITE's Referred-By header value (kept by the
                                           // SIP side only when it came from an [exchange] server)
};

// The Exchange UM referral of a Referred-By, when it names a fax recipient.
struct PartnerReferral {
  std::string recipient;  // "user@example.com" ("smtp:" removed)
  std::string context;    // msExchUMContext as plain base64 (URI escapes undone); may be ""
  std::string server;     // the UM server host of the Referred-By URI
};
std::optional<PartnerReferral> parse_partner_referral(const std::string& referred_by);

struct RouteResult {
  enum Kind { mailboxes, postmaster, later } kind = postmaster;
  std::vector<std::string> to;              // mailboxes: the addresses; postmaster: the postmaster
  bool pdf = true, tiff = true;             // what to attach
  std::optional<PartnerReferral> partner;   // partner mode (kind == mailboxes, one address)
  std::string how;                          // "DID +15550100", "subaddress 42", "directory", ...
  std::string by;                           // INTERFACES.md routed_by: did, subaddress, referral, ...
  bool read_cover = false;                  // the rule is a central number's ([[route]] ocr)
  bool copy_to_central = false;             // ([[route]] ocr_copy)
  std::string reason;                       // postmaster: why; later: why not now
};

// `partner_domains` ([exchange] recipient_domains): an Exchange referral is honoured only for a
// recipient in one of them or a subdomain; none: never.
RouteResult route(const std::vector<RouteRule>& rules, const InboundFax& fax, const Directory& directory,
                  const std::string& postmaster, const std::vector<std::string>& partner_domains = {});

// A mail address we are willing to deliver to: local@domain, printable ASCII or UTF-8, no
// spaces, angle brackets, quotes or control characters, at most 254 bytes.
bool plausible_mailbox(const std::string& address);

}  // namespace gateway
