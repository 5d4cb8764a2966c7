// fuzz_fax_mail.cpp — libFuzzer target: what a fax caller controls, into the mail we compose.
// The input is split at NUL bytes into: the INVITE's Referred-By, the caller id, the caller's
// display name, the remote TSI, the SUB. Checked: routing never yields an implausible mailbox or
// a partner context with anything but base64; the composed mail (normal and, when referred,
// partner) has only the header fields we write — a CR/LF from the caller never starts one of
// its own — and has a body.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "gateway/router.hpp"
#include "mail/fax_mail.hpp"

namespace {

bool known_field(const std::string& name) {
  static const std::set<std::string> fields = {
      "Date", "From", "Subject", "To", "Message-Id", "Auto-Submitted", "X-Fax-Pages", "X-Fax-Job", "X-Fax-Caller",
      "X-Fax-Called", "X-Fax-Incomplete", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
      "Content-Class", "X-MS-Exchange-UM-PartnerContent", "X-MS-Exchange-UM-PartnerContext",
      "X-MS-Exchange-UM-PartnerStatus", "X-FaxNumberOfPages", "X-MS-Exchange-UM-PartnerAssignedID",
      "X-CallingTelephoneNumber", "X-VoiceMessageSenderName"};
  return fields.count(name) > 0;
}

void check(const std::string& mail) {
  size_t end = mail.find("\n\n");
  if (end == std::string::npos) __builtin_trap();
  size_t pos = 0;
  while (pos < end) {
    size_t nl = mail.find('\n', pos);
    std::string line = mail.substr(pos, nl - pos);
    if (line.find('\r') != std::string::npos) __builtin_trap();
    if (line[0] != ' ' && line[0] != '\t') {
      size_t colon = line.find(':');
      if (colon == std::string::npos || !known_field(line.substr(0, colon))) __builtin_trap();
    }
    pos = nl + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> f(5);
  size_t k = 0;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0 && k + 1 < f.size()) ++k;
    else f[k].push_back(char(data[i]));
  }
  gateway::RouteRule rule;
  rule.is_default = true;
  rule.mailboxes = {"fax@localhost"};
  auto r = gateway::route({rule}, {"+15550100", f[4], f[0]}, {}, "postmaster@localhost");
  for (const auto& to : r.to)
    if (!gateway::plausible_mailbox(to)) __builtin_trap();
  if (r.partner) {
    for (char c : r.partner->context)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/' && c != '=') __builtin_trap();
  }
  mail::ReceivedFaxInfo info;
  info.job_id = 1;
  info.did = "+15550100";
  info.caller = f[1];
  info.caller_name = f[2];
  info.remote_ident = f[3];
  info.subaddress = f[4];
  info.pages = 0;
  info.complete = false;
  info.reason = f[3];
  info.received_at = 1795380067;
  mail::FaxMailOptions o;
  o.from = "fax@fax.localhost";
  o.to = r.to;
  o.message_id = "fax-1.1@fax.localhost";
  auto m = mail::compose_fax_mail(info, o);
  if (!m) __builtin_trap();
  check(*m);
  if (r.partner) {
    o.partner_context = r.partner->context;
    auto p = mail::compose_fax_mail(info, o);
    if (!p) __builtin_trap();
    check(*p);
  }
  return 0;
}
