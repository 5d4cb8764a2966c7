// mdn.hpp — the message disposition notification a fax mail's sender asked for (OffRamp).
//
// STANDARDS: RFC 3798 (MDN: multipart/report; report-type=disposition-notification, the
// message/disposition-notification fields, §2.1 when one may be sent automatically), RFC 2532
// §4 (extended Internet fax: an offramp gateway answers Disposition-Notification-To with an MDN
// once the fax is processed), ../shared/specs/dsn-and-status.md ("MDN").
// WHEN: the original carries Disposition-Notification-To naming exactly one address, and that
// address equals the envelope sender (otherwise the MDN would go to a third party unasked:
// RFC 3798 §2.1 says not automatically). Never for a message from the null sender.
// THE MAIL: From the gateway, To that address (envelope sender <>, RFC 3798 §3), one per fax
// recipient, three parts:
//   1. text/plain for a person: the number, pages sent of pages, and what failed;
//   2. message/disposition-notification: Reporting-UA, Original-Recipient (from ORCPT),
//      Final-Recipient, Original-Message-ID, Disposition
//      `automatic-action/MDN-sent-automatically; processed` when every page went, `processed/error`
//      with an Error field naming what failed otherwise, and the extension field X-Fax-Node
//      (the node of a cluster that made the last call);
//   3. the original's header section (text/rfc822-headers).
// LIMITS: the original is parsed whole (bounded by [smtp] max_message_bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "mail/fax_mail.hpp"

namespace mail {

struct MdnRequest {
  std::string to;                                   // the Disposition-Notification-To address
  std::optional<std::string> original_message_id;  // without <>
};

// Whether `original` asks for an MDN that may be sent automatically to `envelope_sender`.
std::optional<MdnRequest> mdn_request(std::string_view original, std::string_view envelope_sender);

struct MdnInput {
  std::string reporting_ua;  // our host name
  std::string from;          // the gateway's address
  std::string message_id;    // of the MDN, without <>
  MdnRequest request;
  std::string final_recipient;       // "FAX=+12025550100@fax.example.com"
  std::optional<std::string> orcpt;  // "rfc822;FAX=+12025550100@fax.example.com"
  std::string number;
  bool complete = false;  // every page confirmed: processed; otherwise processed/error
  std::string error;      // one sentence: what failed ("" when complete)
  int pages = 0, pages_sent = 0;
  std::string node;      // the node that made the last call ("" none): in the text and as X-Fax-Node
  std::string original;  // the original message (its headers become the third part)
  int64_t now = 0;
};

fb::Result<std::string, ComposeError> compose_mdn(const MdnInput& in);

}  // namespace mail
