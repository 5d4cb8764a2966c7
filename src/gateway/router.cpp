#include "gateway/router.hpp"

#include <algorithm>

#include <cctype>
#include <string_view>

#include "sip/message.hpp"

namespace gateway {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding; a malformed escape is kept as written.
std::string unescape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(char(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool is_base64(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
           c == '=';
  });
}

std::vector<std::string> valid(const std::vector<std::string>& boxes) {
  std::vector<std::string> out;
  for (const auto& b : boxes) {
    if (plausible_mailbox(b) && std::find(out.begin(), out.end(), b) == out.end() && out.size() < kMaxMailboxes)
      out.push_back(b);
  }
  return out;
}

RouteResult to_postmaster(const std::string& postmaster, std::string reason) {
  RouteResult r;
  r.kind = RouteResult::postmaster;
  r.to = {postmaster};
  r.how = "postmaster";
  r.by = "postmaster";
  r.reason = std::move(reason);
  return r;
}

RouteResult from_rule(const RouteRule& rule, std::string how, std::string by, const std::string& postmaster) {
  auto boxes = valid(rule.mailboxes);
  if (boxes.empty()) return to_postmaster(postmaster, how + " routes to no valid mailbox");
  RouteResult r;
  r.kind = RouteResult::mailboxes;
  r.to = std::move(boxes);
  r.pdf = rule.pdf;
  r.tiff = rule.tiff;
  r.how = std::move(how);
  r.by = std::move(by);
  r.read_cover = rule.ocr;
  r.copy_to_central = rule.ocr_copy;
  return r;
}

}  // namespace

bool plausible_mailbox(const std::string& a) {
  if (a.empty() || a.size() > 254) return false;
  size_t at = a.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == a.size()) return false;
  for (unsigned char c : a) {
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '(' || c == ')' || c == ',' ||
        c == ';' || c == '\\' || c == '[' || c == ']')
      return false;
  }
  return a.find('@') == at;
}

// Read textually, not with the SIP URI grammar: Exchange writes the recipient unescaped
// ("msExchUMFaxRecipient=smtp:user@example.com"), whose '@' a URI parser takes for the end of a
// userinfo. A parameter value ends at ';', '>', '?', ',' or white space.
static std::optional<std::string> uri_param(std::string_view h, std::string_view name) {
  std::string lower_h(h), lower_n(name);
  for (auto* s : {&lower_h, &lower_n})
    for (char& c : *s) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (size_t pos = 0; (pos = lower_h.find(lower_n, pos)) != std::string::npos; pos += lower_n.size()) {
    if (pos == 0 || h[pos - 1] != ';' || pos + lower_n.size() >= h.size() || h[pos + lower_n.size()] != '=') continue;
    size_t b = pos + lower_n.size() + 1;
    size_t e = h.find_first_of(";>?, \t\r\n", b);
    return std::string(h.substr(b, e == std::string::npos ? std::string::npos : e - b));
  }
  return std::nullopt;
}

std::optional<PartnerReferral> parse_partner_referral(const std::string& referred_by) {
  auto rcpt = uri_param(referred_by, "msExchUMFaxRecipient");
  if (!rcpt) return std::nullopt;
  std::string address = unescape(*rcpt);
  if (address.size() >= 5 && sip::iequals(address.substr(0, 5), "smtp:")) address = address.substr(5);
  if (!plausible_mailbox(address)) return std::nullopt;
  PartnerReferral p;
  p.recipient = address;
  size_t sip = referred_by.find("sip:");
  if (sip == std::string::npos) sip = referred_by.find("sips:");
  if (sip != std::string::npos) {
    size_t b = referred_by.find(':', sip) + 1;
    size_t e = referred_by.find_first_of(";>?@ \t", b);
    p.server = referred_by.substr(b, e == std::string::npos ? std::string::npos : e - b);
  }
  if (auto ctx = uri_param(referred_by, "msExchUMContext")) {
    std::string c = unescape(*ctx);
    if (c.size() >= 2 && c.front() == '"' && c.back() == '"') c = c.substr(1, c.size() - 2);
    if (is_base64(c)) p.context = c;
  }
  return p;
}

namespace {

bool in_domains(const std::string& address, const std::vector<std::string>& domains) {
  const auto at = address.rfind('@');
  if (at == std::string::npos) return false;
  // "a%evil.example@example.com", "evil.example!a@example.com": a relay that still honours the
  // percent hack or bang paths (Postfix by default) would send it elsewhere.
  if (address.find_first_of("%!") < at) return false;
  std::string d = address.substr(at + 1);
  for (char& c : d) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (std::string want : domains) {
    for (char& c : want) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (d == want || (d.size() > want.size() && d.ends_with("." + want))) return true;
  }
  return false;
}

}  // namespace

RouteResult route(const std::vector<RouteRule>& rules, const InboundFax& fax, const Directory& directory,
                  const std::string& postmaster, const std::vector<std::string>& partner_domains) {
  if (fax.referred_by) {
    if (auto p = parse_partner_referral(*fax.referred_by); p && in_domains(p->recipient, partner_domains)) {
      RouteResult r;
      r.kind = RouteResult::mailboxes;
      r.to = {p->recipient};
      r.pdf = false;
      r.tiff = true;
      r.how = "Exchange UM referral from " + p->server;
      r.by = "referral";
      r.partner = std::move(*p);
      return r;
    }
  }
  if (fax.subaddress && !fax.subaddress->empty()) {
    for (const auto& rule : rules) {
      if (!rule.subaddress.empty() && rule.subaddress == *fax.subaddress)
        return from_rule(rule, "subaddress " + *fax.subaddress, "subaddress", postmaster);
    }
  }
  for (const auto& rule : rules) {
    if (!rule.did.empty() && rule.did == fax.did) return from_rule(rule, "DID " + fax.did, "did", postmaster);
  }
  if (directory) {
    std::vector<std::string> keys = {fax.did};
    if (fax.subaddress && !fax.subaddress->empty()) keys.push_back(*fax.subaddress);
    for (const auto& key : keys) {
      DirectoryAnswer a = directory(key);
      switch (a.status) {
        case DirectoryAnswer::found:
          if (plausible_mailbox(a.mailbox)) {
            RouteResult r;
            r.kind = RouteResult::mailboxes;
            r.to = {a.mailbox};
            r.how = "directory entry for " + key;
            r.by = "directory";
            return r;
          }
          return to_postmaster(postmaster, "the directory entry for " + key + " has no valid mail address");
        case DirectoryAnswer::not_allowed:
          return to_postmaster(postmaster, "the directory entry for " + key + " may not receive faxes" +
                                               (a.detail.empty() ? "" : " (" + a.detail + ")"));
        case DirectoryAnswer::unavailable: {
          RouteResult r;
          r.kind = RouteResult::later;
          r.reason = "the directory is unavailable" + (a.detail.empty() ? "" : ": " + a.detail);
          return r;
        }
        case DirectoryAnswer::not_found:
          break;
      }
    }
  }
  for (const auto& rule : rules) {
    if (rule.is_default) return from_rule(rule, "default route", "default", postmaster);
  }
  std::string why = "no route for the called number " + (fax.did.empty() ? std::string("(none)") : fax.did);
  if (fax.subaddress && !fax.subaddress->empty()) why += " or the subaddress " + *fax.subaddress;
  return to_postmaster(postmaster, why);
}

}  // namespace gateway
