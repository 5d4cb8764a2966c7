// gmime_util.hpp — small helpers shared by the parts of mail/ that use GMime 3: owning pointers
// for GObjects, one-time library initialisation, and writing a message out with LF line ends.
#pragma once

#include <gmime/gmime.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace mail::gmime {

struct Unref {
  void operator()(gpointer p) const {
    if (p) g_object_unref(p);
  }
};
template <class T>
using Ptr = std::unique_ptr<T, Unref>;

inline void init() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

// The whole object as text with LF line ends (the SMTP client writes CRLF); nullopt if GMime fails.
inline std::optional<std::string> to_text(GMimeObject* o) {
  GMimeFormatOptions* fo = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_UNIX);
  char* text = g_mime_object_to_string(o, fo);
  g_mime_format_options_free(fo);
  if (!text) return std::nullopt;
  std::string out(text);
  g_free(text);
  return out;
}

// A leaf part holding `text` as is, in the best encoding for 7-bit transport.
inline GMimeObject* raw_part(const char* type, const char* subtype, const std::string& text) {
  GMimePart* p = g_mime_part_new_with_type(type, subtype);
  Ptr<GMimeStream> st(g_mime_stream_mem_new_with_buffer(text.data(), text.size()));
  Ptr<GMimeDataWrapper> w(g_mime_data_wrapper_new_with_stream(st.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(p, w.get());
  g_mime_part_set_content_encoding(p, g_mime_part_get_best_content_encoding(p, GMIME_ENCODING_CONSTRAINT_7BIT));
  return GMIME_OBJECT(p);
}

inline bool has_8bit(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return true;
  }
  return false;
}

// A report's human part: text/plain, us-ascii or, when a name in it is not ASCII, utf-8 (in
// quoted-printable or base64, as raw_part chooses: the report itself stays 7-bit).
inline GMimeObject* text_part(const std::string& text) {
  GMimeObject* p = raw_part("text", "plain", text);
  g_mime_object_set_content_type_parameter(p, "charset", has_8bit(text) ? "utf-8" : "us-ascii");
  return p;
}

// A report's copy of the original's header section: text/rfc822-headers, or, when the headers
// are not ASCII (an SMTPUTF8 message), message/global-headers (RFC 6533 §6.3), encoded.
inline GMimeObject* headers_part(const std::string& headers) {
  return raw_part(has_8bit(headers) ? "message" : "text", has_8bit(headers) ? "global-headers" : "rfc822-headers",
                  headers);
}

// A report to a mail's sender (RFC 6522: a DSN or an MDN): From the gateway, To, Subject, Date,
// Message-ID, Auto-Submitted: auto-replied (RFC 3834), and a multipart/report body of
// `report_type`, for the caller to fill with add_part() and write with to_text(message).
struct Report {
  Ptr<GMimeMessage> message;
  Ptr<GMimeMultipart> body;  // already the message's MIME part
};
inline Report new_report(const std::string& from, const std::string& to, const std::string& subject, int64_t now,
                         const std::string& message_id, const char* report_type) {
  Report r{Ptr<GMimeMessage>(g_mime_message_new(TRUE)), Ptr<GMimeMultipart>(g_mime_multipart_new_with_subtype("report"))};
  GMimeMessage* m = r.message.get();
  g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_FROM, "Fax Gateway", from.c_str());
  g_mime_message_add_mailbox(m, GMIME_ADDRESS_TYPE_TO, nullptr, to.c_str());
  g_mime_message_set_subject(m, subject.c_str(), "utf-8");
  GDateTime* date = g_date_time_new_from_unix_utc(now);
  g_mime_message_set_date(m, date);
  g_date_time_unref(date);
  g_mime_message_set_message_id(m, message_id.c_str());
  g_mime_object_set_header(GMIME_OBJECT(m), "Auto-Submitted", "auto-replied", nullptr);
  g_mime_object_set_content_type_parameter(GMIME_OBJECT(r.body.get()), "report-type", report_type);
  g_mime_message_set_mime_part(m, GMIME_OBJECT(r.body.get()));
  return r;
}

// Adds `part` (owned: its reference passes to the multipart) at the end.
inline void add_part(GMimeMultipart* to, GMimeObject* part) {
  g_mime_multipart_add(to, part);
  g_object_unref(part);
}

// The header section of a raw message, up to and including its last line end.
inline std::string header_section(const std::string& message) {
  size_t end = message.find("\r\n\r\n");
  size_t end_lf = message.find("\n\n");
  size_t cut = std::min(end == std::string::npos ? message.size() : end + 2,
                        end_lf == std::string::npos ? message.size() : end_lf + 1);
  return message.substr(0, cut);
}

// A header or report field value from untrusted text: one line of printable ASCII, at most 400 bytes.
inline std::string field(std::string_view v) {
  std::string out;
  for (unsigned char c : v.substr(0, 400)) out.push_back(c < 0x20 || c >= 0x7f ? ' ' : char(c));
  return out;
}

// strftime in UTC.
inline std::string utc(int64_t t, const char* fmt) {
  std::time_t tt = std::time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

}  // namespace mail::gmime
