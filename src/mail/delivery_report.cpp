// delivery_report.cpp — RFC 3464 reports and VERP bounce addresses (see delivery_report.hpp).
#include "mail/delivery_report.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "mail/gmime_util.hpp"

namespace mail {
namespace {

template <class T>
using GPtr = gmime::Ptr<T>;

// The status part is small; what is past this is not read.
constexpr size_t kMaxStatusBytes = 64u << 10;

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = char(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Control characters as spaces, runs of spaces as one, at most kMaxReportValue bytes ending on a
// UTF-8 character boundary.
std::string clean(std::string_view v) {
  std::string out;
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    const char put = c < 0x20 || c == 0x7f ? ' ' : ch;
    if (put == ' ' && (out.empty() || out.back() == ' ')) continue;
    out.push_back(put);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > kMaxReportValue) {
    size_t cut = kMaxReportValue;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;
    out.resize(cut);
  }
  return out;
}

// "rfc822; a@b" -> "a@b" (RFC 3464 §2.1.2: a type, ';', the value); a value without a type as is.
std::string typed_value(std::string_view v) {
  const size_t semi = v.find(';');
  return clean(trim(semi == std::string_view::npos ? v : v.substr(semi + 1)));
}

// RFC 3463: class.subject.detail, class 2, 4 or 5, each part 1-3 digits.
bool valid_status(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  int dots = 0, digits = 0;
  for (size_t i = 2; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (digits == 0 || ++dots > 1) return false;
      digits = 0;
    } else if (std::isdigit(static_cast<unsigned char>(s[i])) && ++digits <= 3) {
    } else {
      return false;
    }
  }
  return dots == 1 && digits > 0;
}

// The fields of a delivery-status body, as groups of (lower-case name, unfolded value).
using Group = std::vector<std::pair<std::string, std::string>>;

std::vector<Group> field_groups(std::string_view text) {
  std::vector<Group> groups(1);
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) {
      if (!groups.back().empty()) {
        if (groups.size() > kMaxReportedRecipients) break;
        groups.emplace_back();
      }
      continue;
    }
    if ((line[0] == ' ' || line[0] == '\t')) {
      if (!groups.back().empty() && groups.back().back().second.size() < 4 * kMaxReportValue) {
        groups.back().back().second += " ";
        groups.back().back().second += trim(line);
      }
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;  // not a field: skipped
    std::string value(trim(line.substr(colon + 1)));
    if (value.size() > 4 * kMaxReportValue) value.resize(4 * kMaxReportValue);
    groups.back().emplace_back(lower(trim(line.substr(0, colon))), std::move(value));
  }
  if (!groups.empty() && groups.back().empty()) groups.pop_back();
  return groups;
}

std::optional<DeliveryReport> parse_status(std::string_view text) {
  auto groups = field_groups(text);
  if (groups.size() < 2) return std::nullopt;  // per-message fields and at least one recipient
  DeliveryReport r;
  for (const auto& [name, value] : groups[0]) {
    if (name == "reporting-mta") r.reporting_mta = typed_value(value);
  }
  for (size_t g = 1; g < groups.size() && r.recipients.size() < kMaxReportedRecipients; ++g) {
    ReportedRecipient rr;
    for (const auto& [name, value] : groups[g]) {
      if (name == "final-recipient") rr.final_recipient = typed_value(value);
      else if (name == "original-recipient") rr.original_recipient = typed_value(value);
      else if (name == "action") rr.action = lower(clean(value));
      else if (name == "status") rr.status = clean(trim(value).substr(0, trim(value).find_first_of(" \t(")));
      else if (name == "diagnostic-code") rr.diagnostic = typed_value(value);
      else if (name == "remote-mta") rr.remote_mta = typed_value(value);
    }
    if (!valid_status(rr.status)) rr.status.clear();
    if (rr.action.empty() && !rr.status.empty()) {
      rr.action = rr.status[0] == '5' ? "failed" : rr.status[0] == '4' ? "delayed" : "delivered";
    }
    // A group with neither an address nor an action says nothing of a recipient.
    if (rr.final_recipient.empty() && rr.action.empty()) continue;
    r.recipients.push_back(std::move(rr));
  }
  if (r.recipients.empty()) return std::nullopt;
  return r;
}

bool is_status_type(GMimeContentType* ct) {
  return ct && (g_mime_content_type_is_type(ct, "message", "delivery-status") ||
                g_mime_content_type_is_type(ct, "message", "global-delivery-status"));
}

// The decoded body of a status part, however GMime built it.
std::optional<std::string> status_text(GMimeObject* part) {
  if (GMIME_IS_PART(part)) {
    GMimeDataWrapper* w = g_mime_part_get_content(GMIME_PART(part));
    if (!w) return std::nullopt;
    GPtr<GMimeStream> mem(g_mime_stream_mem_new());
    if (g_mime_data_wrapper_write_to_stream(w, mem.get()) < 0) return std::nullopt;
    GByteArray* b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
    return std::string(reinterpret_cast<const char*>(b->data), std::min<size_t>(b->len, kMaxStatusBytes));
  }
  if (GMIME_IS_MESSAGE_PART(part)) {  // parsed as an embedded message: its "headers" are the fields
    GMimeMessage* m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
    if (!m) return std::nullopt;
    auto text = gmime::to_text(GMIME_OBJECT(m));
    if (text && text->size() > kMaxStatusBytes) text->resize(kMaxStatusBytes);
    return text;
  }
  return std::nullopt;
}

GMimeObject* find_status(GMimeObject* o, int depth) {
  if (!o || depth > 8) return nullptr;
  if (is_status_type(g_mime_object_get_content_type(o))) return o;
  if (GMIME_IS_MULTIPART(o)) {
    const int n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
    for (int i = 0; i < n && i < 64; ++i) {
      if (auto* f = find_status(g_mime_multipart_get_part(GMIME_MULTIPART(o), i), depth + 1)) return f;
    }
  }
  return nullptr;
}

}  // namespace

std::optional<DeliveryReport> read_delivery_report(std::string_view message) {
  gmime::init();
  GPtr<GMimeStream> st(g_mime_stream_mem_new_with_buffer(message.data(), message.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(st.get()));
  GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!msg) return std::nullopt;
  GMimeObject* status = find_status(g_mime_message_get_mime_part(msg.get()), 0);
  if (!status) return std::nullopt;
  auto text = status_text(status);
  if (!text) return std::nullopt;
  return parse_status(*text);
}

const ReportedRecipient& recipient_about(const DeliveryReport& report, std::string_view address) {
  const std::string a = lower(address);
  for (const auto& r : report.recipients) {
    if (lower(r.final_recipient) == a || lower(r.original_recipient) == a) return r;
  }
  for (const auto& r : report.recipients) {
    if (r.action == "failed") return r;
  }
  return report.recipients.front();
}

std::string describe(const DeliveryReport& report, const ReportedRecipient& r) {
  std::string s = r.status.empty() ? std::string("no status") : r.status;
  if (!r.diagnostic.empty()) s += " (" + r.diagnostic + ")";
  if (!report.reporting_mta.empty()) s += ", reported by " + report.reporting_mta;
  return s;
}

std::string bounce_address(std::string_view local, std::string_view domain, int64_t delivery, std::string_view tag) {
  return std::string(local) + "+" + std::to_string(delivery) + "." + std::string(tag) + "@" + std::string(domain);
}

std::optional<BounceAddress> parse_bounce_address(std::string_view address, std::string_view local) {
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos || local.empty()) return std::nullopt;
  const std::string lp = lower(address.substr(0, at));
  const std::string prefix = lower(local) + "+";
  if (lp.size() <= prefix.size() || lp.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  std::string_view rest = std::string_view(lp).substr(prefix.size());
  const size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 18) return std::nullopt;
  BounceAddress b;
  const auto id = rest.substr(0, dot);
  if (id[0] == '0') return std::nullopt;  // one spelling per delivery
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), b.delivery);
  if (ec != std::errc() || end != id.data() + id.size() || b.delivery <= 0) return std::nullopt;
  b.tag = std::string(rest.substr(dot + 1));
  if (b.tag.size() != 16 || b.tag.find_first_not_of("0123456789abcdef") != std::string::npos) return std::nullopt;
  return b;
}

}  // namespace mail
