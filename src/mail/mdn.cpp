// mdn.cpp — composes RFC 3798 disposition notifications with GMime (rules: mdn.hpp).
#include "mail/mdn.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>

#include "core/printable.hpp"
#include "mail/gmime_util.hpp"

namespace mail {
namespace {

using gmime::field;
using gmime::raw_part;

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string human(const MdnInput& in) {
  std::string s = "This is the fax gateway " + field(in.reporting_ua) + ". You asked to be told when your message";
  if (in.request.original_message_id) s += " <" + field(*in.request.original_message_id) + ">";
  s += " had been processed for " + field(in.final_recipient) + ".\n\n";
  const std::string pages = std::to_string(in.pages_sent) + " of " + std::to_string(in.pages) + " page" +
                            (in.pages == 1 ? "" : "s");
  const std::string by = in.node.empty() ? "" : " by node " + fb::text_line(in.node);
  if (in.complete) {
    s += "It was faxed to " + field(in.number) + by + ": " + pages + " confirmed by the receiving fax machine.\n";
  } else {
    s += "It could NOT be faxed completely to " + field(in.number) + by + ": " + pages + " went through.\n";
    s += "What failed: " + fb::text_line(in.error) + "\n";
  }
  return s;
}

std::string disposition(const MdnInput& in) {
  std::string s = "Reporting-UA: " + field(in.reporting_ua) + "; faxbridge\n";
  if (in.orcpt) s += "Original-Recipient: " + field(*in.orcpt) + "\n";
  s += "Final-Recipient: rfc822; " + field(in.final_recipient) + "\n";
  if (in.request.original_message_id) s += "Original-Message-ID: <" + field(*in.request.original_message_id) + ">\n";
  s += std::string("Disposition: automatic-action/MDN-sent-automatically; ") +
       (in.complete ? "processed" : "processed/error") + "\n";
  if (!in.complete) s += "Error: " + field(in.error.empty() ? "the fax was not sent" : in.error) + "\n";
  if (!in.node.empty()) s += "X-Fax-Node: " + field(in.node) + "\n";  // an extension field (RFC 3798 3.3)
  return s;
}

}  // namespace

std::optional<MdnRequest> mdn_request(std::string_view original, std::string_view envelope_sender) {
  if (envelope_sender.empty() || original.empty()) return std::nullopt;
  gmime::init();
  std::string headers = gmime::header_section(std::string(original)) + "\n";
  gmime::Ptr<GMimeStream> st(g_mime_stream_mem_new_with_buffer(headers.data(), headers.size()));
  gmime::Ptr<GMimeParser> parser(g_mime_parser_new_with_stream(st.get()));
  gmime::Ptr<GMimeMessage> m(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!m) return std::nullopt;
  const char* dnt = g_mime_object_get_header(GMIME_OBJECT(m.get()), "Disposition-Notification-To");
  if (!dnt) return std::nullopt;
  InternetAddressList* list = internet_address_list_parse(nullptr, dnt);
  if (!list) return std::nullopt;
  gmime::Ptr<InternetAddressList> owned(list);
  if (internet_address_list_length(list) != 1) return std::nullopt;  // several: not automatically
  InternetAddress* a = internet_address_list_get_address(list, 0);
  if (!INTERNET_ADDRESS_IS_MAILBOX(a)) return std::nullopt;
  const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
  if (!addr || lower(addr) != lower(std::string(envelope_sender))) return std::nullopt;
  MdnRequest r;
  r.to = addr;
  if (const char* id = g_mime_message_get_message_id(m.get()); id && *id) r.original_message_id = field(id);
  return r;
}

fb::Result<std::string, ComposeError> compose_mdn(const MdnInput& in) {
  gmime::init();
  std::string subject = (in.complete ? "Fax processed: sent to " : "Fax processed with errors: NOT sent to ") +
                        field(in.number);
  auto report = gmime::new_report(in.from, in.request.to, subject, in.now, in.message_id, "disposition-notification");
  gmime::add_part(report.body.get(), gmime::text_part(human(in)));
  gmime::add_part(report.body.get(), raw_part("message", "disposition-notification", disposition(in)));
  if (const std::string headers = gmime::header_section(in.original); !headers.empty()) {
    gmime::add_part(report.body.get(), gmime::headers_part(headers));
  }
  auto out = gmime::to_text(GMIME_OBJECT(report.message.get()));
  if (!out) return ComposeError{"GMime could not write the MDN"};
  return *out;
}

}  // namespace mail
