// fax_mail.cpp — composes the mail of a received fax with GMime 3 (rules: fax_mail.hpp).
#include "mail/fax_mail.hpp"

#include <gmime/gmime.h>

#include "mail/gmime_util.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <utility>

#include "imaging/thumbnail.hpp"
#include "imaging/tiff_read.hpp"

namespace mail {
namespace {

template <class T>
using GPtr = gmime::Ptr<T>;

void init_gmime() {
  gmime::init();
}

// The thumbnail's Content-ID: unique per mail (RFC 2392: a Content-ID names one body part
// world-wide; clients that cache parts by it showed one fax's thumbnail in another's mail).
std::string thumbnail_cid(const FaxMailOptions& o) {
  return o.message_id.empty() ? std::string("page1.thumbnail@faxbridge") : "page1." + o.message_id;
}

fb::Result<std::string, ComposeError> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return ComposeError{"cannot read " + path};
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return ComposeError{"cannot read " + path};
  return ss.str();
}

using gmime::utc;

// What the caller chose (the SIP From user and display name, the T.30 TSI, a SUB) goes into
// header fields: control characters (CR/LF could start a header of the caller's choosing) become
// spaces, and the length is bounded.
std::string clean(std::string_view v, size_t max = 200) {
  std::string out;
  for (unsigned char c : v.substr(0, max)) out.push_back(c < 0x20 || c == 0x7f ? ' ' : char(c));
  return out;
}

ReceivedFaxInfo cleaned(ReceivedFaxInfo i) {
  i.did = clean(i.did, 40);
  i.caller = clean(i.caller, 80);
  if (i.caller_name) i.caller_name = clean(*i.caller_name, 120);
  if (i.remote_ident) i.remote_ident = clean(*i.remote_ident, 40);
  if (i.subaddress) i.subaddress = clean(*i.subaddress, 40);
  i.reason = clean(i.reason, 400);
  return i;
}

std::string caller_label(const ReceivedFaxInfo& i) {
  std::string number = i.caller.empty() ? std::string("an unknown caller") : i.caller;
  if (i.caller_name && !i.caller_name->empty()) return *i.caller_name + " (" + number + ")";
  return number;
}

std::string plural(int n, const char* one) {
  return std::to_string(n) + " " + one + (n == 1 ? "" : "s");
}

std::string duration_text(int s) {
  if (s < 60) return plural(s, "second");
  return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
}

// The facts of the call, in the order both bodies show them.
std::vector<std::pair<std::string, std::string>> facts(const ReceivedFaxInfo& i) {
  std::vector<std::pair<std::string, std::string>> f;
  f.emplace_back("From", caller_label(i));
  if (i.remote_ident && !i.remote_ident->empty()) f.emplace_back("Sending station", *i.remote_ident);
  f.emplace_back("Called number", i.did.empty() ? "unknown" : i.did);
  if (i.subaddress && !i.subaddress->empty()) f.emplace_back("Subaddress", *i.subaddress);
  std::string pages = plural(i.pages, "page");
  if (i.pages > 0) pages += i.complete ? ", complete" : ", INCOMPLETE";
  if (!i.voice) f.emplace_back("Pages received", pages);
  f.emplace_back("Received", utc(i.received_at, "%Y-%m-%d %H:%M:%S UTC"));
  f.emplace_back("Duration", duration_text(i.duration_s));
  if (i.bit_rate > 0) f.emplace_back("Rate", std::to_string(i.bit_rate) + " bit/s" + (i.ecm ? ", error correction (ECM)" : ", no error correction"));
  if (i.pages > 0)
    f.emplace_back("Quality", i.bad_rows == 0 ? std::string("every row received intact")
                                              : plural(i.bad_rows, "row") + " received damaged");
  if (!i.complete && !i.reason.empty()) f.emplace_back(i.pages > 0 ? "Why incomplete" : "Why", i.reason);
  f.emplace_back("Job", std::to_string(i.job_id));
  return f;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string intro(const ReceivedFaxInfo& i, const FaxMailOptions& o) {
  std::string s;
  if (o.postmaster_reason) s += "This fax could not be delivered where it should go: " + *o.postmaster_reason + ".\n\n";
  if (i.voice) {
    s += "A call from " + caller_label(i) + " to " + i.did + " was a voice call and could not be transferred.";
  } else if (i.pages == 0) {
    s += "A fax call from " + caller_label(i) + " ended before any page arrived.";
  } else if (!i.complete) {
    s += "An incomplete fax arrived from " + caller_label(i) + ": the pages that came are attached.";
  } else {
    s += "A fax arrived from " + caller_label(i) + ".";
  }
  return s;
}

// The OCR section's entries, label and lines: each page read, a run of pages not read as one,
// and what passes kMaxTextPages as one; none when no page has a line of text.
std::vector<std::pair<std::string, std::vector<std::string>>> page_text(const FaxMailOptions& o) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  const auto& pl = o.page_lines;
  if (std::none_of(pl.begin(), pl.end(), [](const auto& l) { return l && !l->empty(); })) return out;
  auto range = [](size_t a, size_t b) {
    return a == b ? "Page " + std::to_string(a + 1) : "Pages " + std::to_string(a + 1) + "-" + std::to_string(b + 1);
  };
  for (size_t p = 0; p < pl.size();) {
    if (p == kMaxTextPages) {
      out.push_back({range(p, pl.size() - 1), {"(not listed here)"}});
      break;
    }
    if (!pl[p]) {
      size_t q = p;
      while (q + 1 < pl.size() && q + 1 < kMaxTextPages && !pl[q + 1]) ++q;
      out.push_back({range(p, q), {"(not read)"}});
      p = q + 1;
      continue;
    }
    out.push_back({range(p, p), pl[p]->empty() ? std::vector<std::string>{"(no text)"} : *pl[p]});
    ++p;
  }
  return out;
}

// The facts of the fax, and how it was routed when the OnRamp says.
std::vector<std::pair<std::string, std::string>> facts_and_routing(const ReceivedFaxInfo& i, const FaxMailOptions& o) {
  auto rows = facts(i);
  if (!o.routing.empty()) rows.push_back({"Routed by", o.routing});
  return rows;
}

std::string text_body(const ReceivedFaxInfo& i, const FaxMailOptions& o) {
  std::string s = intro(i, o) + "\n\n";
  const auto rows = facts_and_routing(i, o);
  size_t w = 0;
  for (const auto& [k, v] : rows) w = std::max(w, k.size());
  for (const auto& [k, v] : rows) s += k + ":" + std::string(w + 2 - k.size(), ' ') + v + "\n";
  if (i.pages > 0 && (o.attach_pdf || o.attach_tiff)) {
    s += "\nThe fax is attached";
    if (o.attach_pdf && o.attach_tiff) s += " as PDF and as TIFF.\n";
    else s += o.attach_pdf ? " as PDF.\n" : " as TIFF.\n";
  }
  if (auto text = page_text(o); !text.empty()) {
    s += "\nThe first lines read from its pages (by OCR, which may misread):\n";
    for (const auto& [label, lines] : text) {
      const std::string head = label + ": ";
      for (size_t k = 0; k < lines.size(); ++k) s += (k == 0 ? "\n" + head : std::string(head.size(), ' ')) + lines[k] + "\n";
    }
  }
  s += "\n-- \nfaxbridge\n";
  return s;
}

std::string html_body(const ReceivedFaxInfo& i, const FaxMailOptions& o, bool with_thumbnail) {
  std::string s =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Fax</title></head>\n"
      "<body style=\"font-family: sans-serif\">\n<p>" + html_escape(intro(i, o)) + "</p>\n<table>\n";
  for (const auto& [k, v] : facts_and_routing(i, o))
    s += "<tr><th style=\"text-align:left; padding-right:1em\">" + html_escape(k) + "</th><td>" + html_escape(v) + "</td></tr>\n";
  s += "</table>\n";
  if (auto text = page_text(o); !text.empty()) {
    s += "<p>The first lines read from its pages (by OCR, which may misread):</p>\n";
    for (const auto& [label, lines] : text) {
      s += "<p><b>" + html_escape(label) + "</b>";
      for (const auto& l : lines) s += "<br>\n" + html_escape(l);
      s += "</p>\n";
    }
  }
  if (with_thumbnail)
    s += "<p><img src=\"cid:" + thumbnail_cid(o) + "\" alt=\"page 1\" style=\"border:1px solid #888\"></p>\n";
  s += "</body></html>\n";
  return s;
}

// UTF-8 always (GMime would pick ISO-8859-1 for Latin text), in the best 7-bit encoding.
GMimeObject* text_part(const char* subtype, const std::string& text) {
  GMimeTextPart* t = g_mime_text_part_new_with_subtype(subtype);
  GPtr<GMimeStream> st(g_mime_stream_mem_new_with_buffer(text.data(), text.size()));
  GPtr<GMimeDataWrapper> w(g_mime_data_wrapper_new_with_stream(st.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(GMIME_PART(t), w.get());
  g_mime_text_part_set_charset(t, "utf-8");
  g_mime_part_set_content_encoding(GMIME_PART(t), g_mime_part_get_best_content_encoding(GMIME_PART(t), GMIME_ENCODING_CONSTRAINT_7BIT));
  return GMIME_OBJECT(t);
}

GMimeObject* binary_part(const char* type, const char* subtype, const std::string& data, const std::string& filename,
                         bool inline_) {
  GMimePart* p = g_mime_part_new_with_type(type, subtype);
  GPtr<GMimeStream> st(g_mime_stream_mem_new_with_buffer(data.data(), data.size()));
  GPtr<GMimeDataWrapper> w(g_mime_data_wrapper_new_with_stream(st.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(p, w.get());
  g_mime_part_set_content_encoding(p, GMIME_CONTENT_ENCODING_BASE64);
  g_mime_object_set_disposition(GMIME_OBJECT(p), inline_ ? "inline" : "attachment");
  if (!filename.empty()) g_mime_part_set_filename(p, filename.c_str());
  return GMIME_OBJECT(p);
}

// A header whose value must reach the reader byte for byte: GMime would RFC 2047-encode a long
// token (the partner context), which Exchange does not decode. `value` is ASCII without CR/LF.
void set_raw_header(GMimeObject* o, const char* name, const std::string& value) {
  g_mime_object_set_header(o, name, "", nullptr);
  GMimeHeader* h = g_mime_header_list_get_header(g_mime_object_get_header_list(o), name);
  if (h) g_mime_header_set_raw_value(h, (" " + value + "\n").c_str());
}

void add(GMimeMultipart* mp, GMimeObject* part) {
  g_mime_multipart_add(mp, part);
  g_object_unref(part);
}

}  // namespace

std::string fax_file_stem(const ReceivedFaxInfo& i) {
  std::string digits;
  for (char c : i.caller)
    if (c >= '0' && c <= '9') digits.push_back(c);
  if (digits.size() > 20) digits.resize(20);
  return "fax-" + utc(i.received_at, "%Y%m%d-%H%M%S") + "-" + (digits.empty() ? std::string("unknown") : digits);
}

std::string partner_status(const ReceivedFaxInfo& i) {
  if (i.pages == 0) return i.server_error ? "5.0.0" : "2.4.0";
  return i.complete && i.bad_rows == 0 ? "2.0.0" : "2.6.0";
}

bool usable_partner_context(const std::string& context) {
  // Base64 of a query string with a non-empty CallId (the contract): anything else makes
  // Exchange refuse the partner mail, so the fax goes as an ordinary mail instead.
  gsize n = 0;
  guchar* raw = g_base64_decode(context.c_str(), &n);
  std::string q(reinterpret_cast<const char*>(raw), n);
  g_free(raw);
  for (size_t at = 0; at < q.size();) {
    size_t amp = q.find('&', at);
    if (amp == std::string::npos) amp = q.size();
    if (q.compare(at, 7, "CallId=") == 0 && amp > at + 7) return true;
    at = amp + 1;
  }
  return false;
}

fb::Result<std::string, ComposeError> compose_fax_mail(const ReceivedFaxInfo& raw_info, const FaxMailOptions& opt) {
  init_gmime();
  const ReceivedFaxInfo info = cleaned(raw_info);
  const bool partner = opt.partner_context.has_value() && !opt.postmaster_reason &&
                       usable_partner_context(clean(*opt.partner_context, 4096));
  const bool has_pages = info.pages > 0 && !opt.tiff_path.empty();
  std::string tiff, pdf, png;
  if (has_pages && (opt.attach_tiff || partner)) {
    auto r = read_file(opt.tiff_path);
    if (!r) return r.error();
    tiff = std::move(*r);
  }
  if (has_pages && opt.attach_pdf && !partner) {
    auto r = read_file(opt.pdf_path);
    if (!r) return r.error();
    pdf = std::move(*r);
  }
  if (has_pages && opt.thumbnail && !partner) {
    // A thumbnail is a courtesy: a page that cannot be shrunk leaves it out, not the fax.
    if (auto pages = imaging::read_fax_tiff(opt.tiff_path); pages && !pages->empty()) {
      if (auto p = imaging::thumbnail_png(pages->front())) png = std::move(*p);
    }
  }

  GPtr<GMimeMessage> m(g_mime_message_new(TRUE));
  GMimeObject* mo = GMIME_OBJECT(m.get());
  g_mime_message_add_mailbox(m.get(), GMIME_ADDRESS_TYPE_FROM, "Fax", opt.from.c_str());
  for (const auto& to : opt.to) g_mime_message_add_mailbox(m.get(), GMIME_ADDRESS_TYPE_TO, nullptr, to.c_str());
  std::string subject;
  if (info.voice) subject = "Missed call from " + caller_label(info);
  else if (info.pages == 0) subject = "Missed fax from " + caller_label(info);
  else subject = std::string(info.complete ? "" : "[incomplete] ") + "Fax from " + caller_label(info) + ", " + plural(info.pages, "page");
  if (opt.postmaster_reason) subject = "Undelivered: " + subject;
  g_mime_message_set_subject(m.get(), subject.c_str(), "utf-8");
  GDateTime* date = g_date_time_new_from_unix_utc(info.received_at);
  g_mime_message_set_date(m.get(), date);
  g_date_time_unref(date);
  g_mime_message_set_message_id(m.get(), opt.message_id.c_str());
  g_mime_object_set_header(mo, "Auto-Submitted", "auto-generated", nullptr);
  g_mime_object_set_header(mo, "X-Fax-Pages", std::to_string(info.pages).c_str(), nullptr);
  g_mime_object_set_header(mo, "X-Fax-Job", std::to_string(info.job_id).c_str(), nullptr);
  if (!info.caller.empty()) g_mime_object_set_header(mo, "X-Fax-Caller", info.caller.c_str(), nullptr);
  if (!info.did.empty()) g_mime_object_set_header(mo, "X-Fax-Called", info.did.c_str(), nullptr);
  if (!info.complete && info.pages > 0) g_mime_object_set_header(mo, "X-Fax-Incomplete", "yes", nullptr);

  const std::string stem = fax_file_stem(info);
  if (partner) {
    g_mime_object_set_header(mo, "X-MS-Exchange-UM-PartnerContent", "fax", nullptr);
    set_raw_header(mo, "X-MS-Exchange-UM-PartnerContext", clean(*opt.partner_context, 4096));
    // Pages that came but cannot be attached (their TIFF is gone) are a server error, not 2.0.0
    // with no pages: the contract allows X-FaxNumberOfPages: 0 only with a missed-call status.
    const std::string status = has_pages || info.pages == 0 ? partner_status(info) : "5.0.0";
    g_mime_object_set_header(mo, "X-MS-Exchange-UM-PartnerStatus", status.c_str(), nullptr);
    g_mime_object_set_header(mo, "X-FaxNumberOfPages", std::to_string(has_pages ? info.pages : 0).c_str(), nullptr);
    g_mime_object_set_header(mo, "X-MS-Exchange-UM-PartnerAssignedID", std::to_string(info.job_id).c_str(), nullptr);
    if (!info.caller.empty()) g_mime_object_set_header(mo, "X-CallingTelephoneNumber", info.caller.c_str(), nullptr);
    if (info.caller_name && !info.caller_name->empty())
      g_mime_object_set_header(mo, "X-VoiceMessageSenderName", info.caller_name->c_str(), "utf-8");
    FaxMailOptions plain = opt;
    plain.attach_pdf = false;
    plain.attach_tiff = has_pages;
    GMimeObject* body = text_part("plain", text_body(info, plain));
    if (!has_pages) {
      g_mime_message_set_mime_part(m.get(), body);
      g_object_unref(body);
    } else {
      GPtr<GMimeMultipart> mixed(g_mime_multipart_new_with_subtype("mixed"));
      add(mixed.get(), body);
      add(mixed.get(), binary_part("image", "tiff", tiff, stem + ".tif", false));
      g_mime_message_set_mime_part(m.get(), GMIME_OBJECT(mixed.get()));
    }
    // GMime hands a message's Content-* headers to its MIME part, which prints them below
    // MIME-Version; Exchange reads Content-Class among the message headers either way.
    set_raw_header(mo, "Content-Class", "MS-Exchange-UM-Partner");
  } else if (!has_pages) {
    GPtr<GMimeMultipart> alt(g_mime_multipart_new_with_subtype("alternative"));
    add(alt.get(), text_part("plain", text_body(info, opt)));
    add(alt.get(), text_part("html", html_body(info, opt, false)));
    g_mime_message_set_mime_part(m.get(), GMIME_OBJECT(alt.get()));
  } else {
    GPtr<GMimeMultipart> mixed(g_mime_multipart_new_with_subtype("mixed"));
    GMimeMultipart* alt = g_mime_multipart_new_with_subtype("alternative");
    add(alt, text_part("plain", text_body(info, opt)));
    if (!png.empty()) {
      GMimeMultipart* related = g_mime_multipart_new_with_subtype("related");
      // RFC 2387 §3.1: the type of the root, a required parameter.
      g_mime_object_set_content_type_parameter(GMIME_OBJECT(related), "type", "text/html");
      add(related, text_part("html", html_body(info, opt, true)));
      GMimeObject* img = binary_part("image", "png", png, "page1.png", true);
      g_mime_object_set_content_id(img, thumbnail_cid(opt).c_str());
      add(related, img);
      add(alt, GMIME_OBJECT(related));
    } else {
      add(alt, text_part("html", html_body(info, opt, false)));
    }
    add(mixed.get(), GMIME_OBJECT(alt));
    if (opt.attach_pdf) add(mixed.get(), binary_part("application", "pdf", pdf, stem + ".pdf", false));
    if (opt.attach_tiff) add(mixed.get(), binary_part("image", "tiff", tiff, stem + ".tif", false));
    g_mime_message_set_mime_part(m.get(), GMIME_OBJECT(mixed.get()));
  }

  auto out = gmime::to_text(mo);
  if (!out) return ComposeError{"GMime could not write the message"};
  return *out;
}

}  // namespace mail
