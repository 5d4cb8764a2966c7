// fax_parts.cpp — chooses the parts of a mail that are faxed, with GMime 3 (rules: fax_parts.hpp).
//
// STANDARDS: RFC 2045-2049 (MIME), RFC 2046 §5.1.4 ("last is best" in multipart/alternative),
// RFC 2387 (multipart/related, start=), RFC 2392 (cid: URLs), RFC 1847 (multipart/signed),
// RFC 2183 (Content-Disposition), RFC 2231 (parameter continuations, via GMime).
//
// Part numbers: "part N" counts the leaves of the MIME tree (every part that is not a multipart or an
// embedded message) in document order, from 1, across embedded messages, and including leaves that are
// not faxed (an unchosen alternative, a signature). A reader counting the attachments their mail client
// shows, bodies included, arrives at the same N.
//
// Depth: the top-level part is at depth 0; each enclosing multipart or message/rfc822 adds one. A part
// deeper than SelectOptions::max_depth, more than max_parts leaves, or an input over max_bytes is a
// PartsErrc::limit, checked before any content is decoded. (GMime itself stops nesting at 1024 levels.)
//
// Choices the header leaves open, made here:
//   - an unchosen alternative contributes nothing, except: its images referenced (cid: or
//     Content-Location) from its HTML are listed as skipped, skip-listed parts (a text/calendar next to
//     the plain body of an invitation) are listed, and parts inside it that are neither bodies nor such
//     images (the PDF that Apple Mail puts between two HTML pieces) are handled as attachments, so that
//     no attachment disappears silently;
//   - in multipart/related, a part the root does not reference is an ordinary attachment;
//   - non-image parts the HTML references (a style sheet) are skipped as resources of the HTML;
//   - image/jpg, image/pjpeg, image/x-png, image/x-ms-bmp and image/x-bmp are accepted as the aliases
//     that real mailers send for the standard image types;
//   - the machine-readable parts of a multipart/report (RFC 6522: message/delivery-status, returned
//     headers, disposition notifications) are skipped as "delivery report"; its human-readable first
//     part is faxed, so a forwarded bounce is not refused;
//   - empty or whitespace-only HTML bodies are skipped like text bodies;
//   - labels replace control characters with '?' and shorten long file names, because they end up in
//     an SMTP reply.
#include "mail/fax_parts.hpp"

#include <gmime/gmime.h>

#include "mail/gmime_util.hpp"
#include "mail/smime.hpp"
#include "mail/tnef.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

namespace mail {
namespace {

template <class T>
using GPtr = gmime::Ptr<T>;

constexpr size_t kMaxLabelName = 80;  // bytes of a file name or type shown in a label

void init_gmime() {
  gmime::init();
}

// ---------------------------------------------------------------------------------------------------
// Small string helpers.

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = g_ascii_tolower(c);
  return out;
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

bool only_whitespace(std::string_view s) {
  return s.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

std::string extension(std::string_view filename) {
  size_t dot = filename.rfind('.');
  return dot == std::string_view::npos ? std::string() : lower(filename.substr(dot + 1));
}

// A label goes into a one-line SMTP reply: no control characters, no unbounded length.
std::string printable(std::string_view s, size_t max) {
  std::string out;
  for (unsigned char c : s) out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  if (out.size() <= max) return out;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
  out.resize(cut);
  return out + "...";
}

// A text part's charset as iconv knows it: the label through GMime's aliases
// (ks_c_5601-1987, gb2312, iso-8859-8-i and the like), lower-cased; for a label iconv cannot
// open ("unknown-8bit", a misspelling, one over 40 bytes or not a token: GMime caches every
// label it is asked about), utf-8 when the text is valid UTF-8, else windows-1252, which takes
// every byte mail clients send under such labels (the few it leaves undefined become U+FFFD
// when the text is decoded). "" stays "" (US-ASCII, RFC 2045 §5.2; decoded as UTF-8 where it
// is not).
std::string usable_charset(const std::string& label, std::string_view data) {
  if (label.empty()) return "";
  auto unknown = [&] { return g_utf8_validate(data.data(), gssize(data.size()), nullptr) ? "utf-8" : "windows-1252"; };
  const bool token = label.size() <= 40 && std::all_of(label.begin(), label.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':';
                     });
  if (!token) return unknown();
  const char* name = g_mime_charset_iconv_name(label.c_str());
  std::string cs = lower(name ? name : label);
  if (cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii") return cs;
  GIConv probe = g_iconv_open("UTF-8", cs.c_str());
  if (probe == reinterpret_cast<GIConv>(-1)) return unknown();  // ("unknown-8bit" is as often UTF-8)
  g_iconv_close(probe);
  return cs;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = i + 2 < s.size() ? g_ascii_xdigit_value(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? g_ascii_xdigit_value(s[i + 2]) : -1;
    if (s[i] == '%' && hi >= 0 && lo >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// GMime accessors.

std::string mime_type(GMimeObject* obj) {
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  const char* type = ct ? g_mime_content_type_get_media_type(ct) : nullptr;
  const char* sub = ct ? g_mime_content_type_get_media_subtype(ct) : nullptr;
  if (!type || !sub) return "application/octet-stream";
  return lower(type) + "/" + lower(sub);
}

std::string type_param(GMimeObject* obj, const char* name) {
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  const char* v = ct ? g_mime_content_type_get_parameter(ct, name) : nullptr;
  return v ? v : "";
}

bool is_attachment(GMimeObject* obj) {
  GMimeContentDisposition* d = g_mime_object_get_content_disposition(obj);
  return d && g_mime_content_disposition_is_attachment(d);
}

std::string content_id(GMimeObject* obj) {
  const char* id = g_mime_object_get_content_id(obj);
  return id ? id : "";
}

// The top-level part of an embedded message, or null when it is empty.
GMimeObject* embedded_part(GMimeMessagePart* mp) {
  GMimeMessage* msg = g_mime_message_part_get_message(mp);
  return msg ? g_mime_message_get_mime_part(msg) : nullptr;
}

// The body bytes with the transfer encoding (base64, quoted-printable, uuencode) undone.
std::string decoded(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return {};
  GPtr<GMimeStream> mem(g_mime_stream_mem_new());
  if (g_mime_data_wrapper_write_to_stream(content, mem.get()) < 0) return {};
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

struct Children {
  GMimeMultipart* mp;
  int size() const { return g_mime_multipart_get_count(mp); }
  GMimeObject* operator[](int i) const { return g_mime_multipart_get_part(mp, i); }
};

// RFC 2387: the root is the part named by start=, else the first.
int related_root(GMimeMultipart* mp) {
  std::string start = type_param(GMIME_OBJECT(mp), "start");
  start.erase(0, start.find_first_not_of(" \t<"));
  start.erase(std::min(start.size(), start.find_last_not_of(" \t>") + 1));
  Children kids{mp};
  for (int i = 0; !start.empty() && i < kids.size(); ++i) {
    if (content_id(kids[i]) == start) return i;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// What a leaf is, by its declared type, then (octet-stream, unknown types) by content and name.

enum class Verdict { fax, skip, refuse, identify };

struct Rule {
  Verdict verdict;
  FaxPartKind kind = FaxPartKind::pdf;
  const char* reason = "";
};

std::optional<Rule> skip_rule(std::string_view type) {
  if (one_of(type,
             {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}))
    return Rule{Verdict::skip, {}, "signature"};
  if (one_of(type, {"text/vcard", "text/x-vcard", "text/directory"})) return Rule{Verdict::skip, {}, "vCard"};
  if (one_of(type, {"text/calendar", "application/ics"})) return Rule{Verdict::skip, {}, "calendar"};
  if (type == "application/pgp-keys") return Rule{Verdict::skip, {}, "key"};
  if (one_of(type, {"message/delivery-status", "message/global-delivery-status",
                    "message/disposition-notification", "message/global-disposition-notification",
                    "text/rfc822-headers", "message/global-headers", "message/feedback-report"}))
    return Rule{Verdict::skip, {}, "delivery report"};
  return std::nullopt;
}

bool office_type(std::string_view type) {
  return type.starts_with("application/vnd.openxmlformats-officedocument.") ||
         type.starts_with("application/vnd.oasis.opendocument.") ||
         one_of(type, {"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
                       "application/rtf"});
}

std::optional<FaxPartKind> kind_by_type(std::string_view type) {
  using K = FaxPartKind;
  if (type == "text/plain") return K::text_plain;
  if (type == "text/enriched") return K::text_enriched;
  if (type == "text/html") return K::html;
  if (type == "application/pdf") return K::pdf;
  if (type == "image/tiff") return K::tiff;
  if (one_of(type, {"image/png", "image/jpeg", "image/gif", "image/bmp", "image/x-portable-bitmap",
                    "image/x-portable-anymap", "image/jpg", "image/pjpeg", "image/x-png", "image/x-ms-bmp",
                    "image/x-bmp"}))
    return K::image;
  if (office_type(type)) return K::office;
  return std::nullopt;
}

Rule rule_by_type(std::string_view type, bool has_filename) {
  if (auto skip = skip_rule(type)) return *skip;
  if (auto kind = kind_by_type(type)) return Rule{Verdict::fax, *kind};
  // RFC 2046 §4.1.4: unrecognised subtypes of text are treated as text/plain (CSV, logs, ...).
  if (type.starts_with("text/")) return Rule{Verdict::fax, FaxPartKind::text_plain};
  if (type == "application/octet-stream" || has_filename) return Rule{Verdict::identify};
  return Rule{Verdict::refuse};
}

bool bmp_magic(std::string_view d) {
  if (d.size() < 18 || !d.starts_with("BM")) return false;
  auto b = [&](size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(d[i])); };
  unsigned dib_header_size = b(14) | b(15) << 8 | b(16) << 16 | b(17) << 24;
  for (unsigned known : {12u, 40u, 52u, 56u, 64u, 108u, 124u}) {
    if (dib_header_size == known) return true;
  }
  return false;
}

std::optional<FaxPartKind> kind_by_magic(std::string_view d, std::string_view ext) {
  using K = FaxPartKind;
  using namespace std::literals;
  if (d.starts_with("%PDF-")) return K::pdf;
  if (d.starts_with("II*\0"sv) || d.starts_with("MM\0*"sv)) return K::tiff;
  if (d.starts_with("\x89PNG") || d.starts_with("\xFF\xD8\xFF") || d.starts_with("GIF87a") ||
      d.starts_with("GIF89a") || bmp_magic(d))
    return K::image;
  if (d.starts_with("PK\x03\x04") && one_of(ext, {"docx", "xlsx", "pptx", "odt", "ods", "odp"}))
    return K::office;
  if (d.starts_with("\xD0\xCF\x11\xE0") && one_of(ext, {"doc", "xls", "ppt"})) return K::office;
  return std::nullopt;
}

std::optional<FaxPartKind> kind_by_extension(std::string_view ext) {
  using K = FaxPartKind;
  if (ext == "pdf") return K::pdf;
  if (one_of(ext, {"tif", "tiff"})) return K::tiff;
  if (one_of(ext, {"png", "jpg", "jpeg", "gif", "bmp", "pbm"})) return K::image;
  if (ext == "txt") return K::text_plain;
  if (one_of(ext, {"html", "htm"})) return K::html;
  if (one_of(ext, {"docx", "doc", "odt", "xlsx", "xls", "pptx", "ppt", "ods", "odp", "rtf"}))
    return K::office;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------------
// multipart/alternative: which child is the body, and which images an HTML part references.

// How a child of multipart/alternative renders as the body: 2 plain or enriched text, 1 HTML, 0 neither.
int body_rank(GMimeObject* obj) {
  if (GMIME_IS_MULTIPART(obj)) {
    Children kids{GMIME_MULTIPART(obj)};
    if (kids.size() == 0) return 0;
    std::string type = mime_type(obj);
    if (type == "multipart/related") return body_rank(kids[related_root(kids.mp)]);
    if (type != "multipart/alternative") return body_rank(kids[0]);
    int best = 0;
    for (int i = 0; i < kids.size(); ++i) best = std::max(best, body_rank(kids[i]));
    return best;
  }
  if (!GMIME_IS_PART(obj) || is_attachment(obj)) return 0;
  std::string type = mime_type(obj);
  if (type == "text/plain" || type == "text/enriched") return 2;
  return type == "text/html" ? 1 : 0;
}

// RFC 2046 §5.1.4: the last alternative is the best; text is preferred over HTML, which a fax can only
// approximate; when no alternative is text or HTML the last one is taken and judged like any part.
bool has_pictures(GMimeObject* obj);

int chosen_alternative(Children kids) {
  // ... except that HTML showing pictures (cid: images of a multipart/related) the text
  // alternative cannot show is faxed instead: the sender pasted them to be seen.
  for (int i = kids.size() - 1; i >= 0; --i) {
    if (body_rank(kids[i]) == 1 && has_pictures(kids[i])) return i;
  }
  for (int rank : {2, 1}) {
    for (int i = kids.size() - 1; i >= 0; --i) {
      if (body_rank(kids[i]) == rank) return i;
    }
  }
  return kids.size() - 1;
}

// What the HTML inside a subtree points at: cid: URLs (RFC 2392) and Content-Location values.
class HtmlReferences {
 public:
  explicit HtmlReferences(GMimeObject* root) { collect(root); }

  bool references(GMimeObject* obj) const {
    if (by_cid(obj)) return true;
    const char* loc = GMIME_IS_PART(obj) ? g_mime_part_get_content_location(GMIME_PART(obj)) : nullptr;
    return loc && *loc && html_.find(lower(loc)) != std::string::npos;
  }

  // By a cid: URL naming its Content-ID (those are shown in place; Content-Location ones are not).
  bool by_cid(GMimeObject* obj) const {
    const std::string id = lower(content_id(obj));
    return !id.empty() && cids_.count(id) > 0;
  }

 private:
  // A nested multipart/related owns its HTML and resources; not descending into it also decodes each
  // HTML part for at most one related ancestor, keeping memory linear in the input.
  void collect(GMimeObject* obj) {
    if (GMIME_IS_MULTIPART(obj) && mime_type(obj) != "multipart/related") {
      Children kids{GMIME_MULTIPART(obj)};
      for (int i = 0; i < kids.size(); ++i) collect(kids[i]);
    } else if (GMIME_IS_PART(obj) && !is_attachment(obj) && mime_type(obj) == "text/html") {
      add(lower(decoded(GMIME_PART(obj))));
    }
  }

  void add(const std::string& html) {
    for (size_t at = html.find("cid:"); at != std::string::npos; at = html.find("cid:", at + 4)) {
      size_t end = html.find_first_of("\"'<>() \t\r\n", at + 4);
      cids_.insert(lower(percent_decode(html.substr(at + 4, end == std::string::npos ? end : end - at - 4))));
    }
    html_ += html;
  }

  std::string html_;
  std::set<std::string> cids_;
};

bool is_picture(GMimeObject* obj) {
  if (!GMIME_IS_PART(obj)) return false;
  const auto kind = kind_by_type(mime_type(obj));
  return kind == FaxPartKind::image || kind == FaxPartKind::tiff;
}

// Whether HTML in this subtree shows images of its multipart/related by cid: (RFC 2392).
bool has_pictures(GMimeObject* obj) {
  if (!GMIME_IS_MULTIPART(obj)) return false;
  Children kids{GMIME_MULTIPART(obj)};
  if (mime_type(obj) == "multipart/related" && kids.size() > 0) {
    const int root = related_root(kids.mp);
    HtmlReferences refs(kids[root]);
    for (int i = 0; i < kids.size(); ++i) {
      if (i != root && is_picture(kids[i]) && refs.by_cid(kids[i])) return true;
    }
    return false;
  }
  for (int i = 0; i < kids.size(); ++i) {
    if (has_pictures(kids[i])) return true;
  }
  return false;
}

// `html` with each cid: URL that names one of `images` (lower-cased Content-IDs) replaced by that
// image as a data: URI, so the renderer, which loads nothing else, shows it in place. Every
// inlined copy is paid from `budget` (the caller's, for the whole message): the first use of each
// picture first, then the repeats in order; what the budget cannot pay for stays a cid: reference,
// shown as nothing. So the HTML cannot grow without bound, however often a picture is used.
std::string with_inline_images(std::string_view html, const std::map<std::string, std::string>& images,
                               size_t& budget) {
  struct Use {
    size_t at, end;
    const std::string* uri;  // nullptr: not one of `images`
    bool first;
  };
  std::vector<Use> uses;
  std::set<const std::string*> seen;
  for (size_t i = 0; i + 4 <= html.size(); ++i) {
    if ((html[i] | 0x20) != 'c' || (html[i + 1] | 0x20) != 'i' || (html[i + 2] | 0x20) != 'd' || html[i + 3] != ':') {
      continue;
    }
    size_t end = html.find_first_of("\"'<>() \t\r\n", i + 4);
    if (end == std::string_view::npos) end = html.size();
    auto it = images.find(lower(percent_decode(html.substr(i + 4, end - i - 4))));
    const std::string* uri = it == images.end() ? nullptr : &it->second;
    uses.push_back({i, end, uri, uri && seen.insert(uri).second});
    i = end - 1;
  }
  std::vector<bool> inlined(uses.size(), false);
  for (bool firsts : {true, false}) {
    for (size_t k = 0; k < uses.size(); ++k) {
      if (!uses[k].uri || uses[k].first != firsts || uses[k].uri->size() > budget) continue;
      budget -= uses[k].uri->size();
      inlined[k] = true;
    }
  }
  std::string out;
  out.reserve(html.size());
  size_t at = 0;
  for (size_t k = 0; k < uses.size(); ++k) {
    if (!inlined[k]) continue;
    out.append(html.substr(at, uses[k].at - at));
    out.append(*uses[k].uri);
    at = uses[k].end;
  }
  out.append(html.substr(at));
  return out;
}

std::string base64(std::string_view data) {
  gchar* b = g_base64_encode(reinterpret_cast<const guchar*>(data.data()), data.size());
  std::string out(b ? b : "");
  g_free(b);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The limits, checked over the whole tree before anything is decoded.

class LimitCheck {
 public:
  explicit LimitCheck(const SelectOptions& opt) : opt_(opt) {}

  std::optional<PartsError> check(GMimeObject* obj, int depth) {
    if (depth > opt_.max_depth)
      return limit("nests MIME parts more than " + std::to_string(opt_.max_depth) + " levels deep");
    if (GMIME_IS_MESSAGE_PART(obj)) {
      GMimeObject* inner = embedded_part(GMIME_MESSAGE_PART(obj));
      return inner ? check(inner, depth + 1) : std::nullopt;
    }
    if (GMIME_IS_MULTIPART(obj)) {
      Children kids{GMIME_MULTIPART(obj)};
      for (int i = 0; i < kids.size(); ++i) {
        if (auto err = check(kids[i], depth + 1)) return err;
      }
      return std::nullopt;
    }
    if (GMIME_IS_PART(obj) && ++leaves_ > opt_.max_parts)
      return limit("has more than " + std::to_string(opt_.max_parts) + " parts");
    return std::nullopt;
  }

 private:
  static PartsError limit(const std::string& what) { return {PartsErrc::limit, "the message " + what}; }

  const SelectOptions& opt_;
  size_t leaves_ = 0;
};

// ---------------------------------------------------------------------------------------------------
// The walk, in document order.

struct Leaf {
  GMimePart* part;
  std::string type;
  std::string filename;
  std::string label;
  bool body;  // a text or HTML body rather than an attachment
};

// Where the walk is: `unchosen` inside an alternative that is not faxed; `top` for the top-level part
// of a message (a body whatever its disposition).
struct Place {
  bool unchosen = false;
  bool top = false;
};

std::string addresses(InternetAddressList* list) {
  if (!list || internet_address_list_length(list) == 0) return "";
  char* text = internet_address_list_to_string(list, nullptr, FALSE);
  std::string out = text ? text : "";
  g_free(text);
  return out;
}

class Walker {
 public:
  explicit Walker(const SelectOptions& opt) : opt_(opt) {}

  // False once a part is refused (error() says which).
  bool walk(GMimeObject* obj, Place at) {
    if (GMIME_IS_MESSAGE_PART(obj)) {
      GMimeMessage* msg = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
      GMimeObject* inner = msg ? g_mime_message_get_mime_part(msg) : nullptr;
      if (!msg || at.unchosen) return !inner || walk(inner, {at.unchosen, true});
      // A forwarded message: its From, Date, Subject and To above its body (a page of their own
      // when its body is not plain text).
      const size_t at_part = out_.parts.size();
      out_.parts.push_back({FaxPartKind::text_plain, "message/rfc822", "utf-8", "",
                            "forwarded message " + std::to_string(++forwards_) + " (its header)", forwarded_header(msg)});
      if (inner && !walk(inner, {false, true})) return false;
      if (out_.parts.size() == at_part + 1) {  // nothing of it is faxed: nor is its header alone
        out_.parts.pop_back();
        return true;
      }
      merge_header_into_body(at_part);
      return true;
    }
    if (GMIME_IS_MULTIPART(obj)) return walk_multipart(GMIME_MULTIPART(obj), {at.unchosen, false});
    if (GMIME_IS_PART(obj)) return visit(next_leaf(GMIME_PART(obj), at.top), at);
    return true;
  }

  FaxParts& result() { return out_; }
  std::optional<PartsError> check_limits(GMimeObject* top) { return limits_.check(top, 0); }
  const PartsError& error() const { return error_; }

 private:
  bool walk_multipart(GMimeMultipart* mp, Place at) {
    std::string type = mime_type(GMIME_OBJECT(mp));
    if (type == "multipart/alternative") return walk_alternative(Children{mp}, at);
    if (type == "multipart/related") return walk_related(Children{mp}, at);
    if (type == "multipart/signed") return walk_signed(Children{mp}, at);
    // mixed, report, digest (GMime defaults its children to message/rfc822), parallel, and unknown
    // subtypes, which RFC 2046 §5.1.7 says to treat as mixed.
    Children kids{mp};
    for (int i = 0; i < kids.size(); ++i) {
      if (!walk(kids[i], at)) return false;
    }
    return true;
  }

  bool walk_alternative(Children kids, Place at) {
    int chosen = chosen_alternative(kids);
    if (prefer_html_) {  // the HTML beside its pictures (walk_related)
      for (int i = kids.size() - 1; i >= 0; --i) {
        if (body_rank(kids[i]) == 1) {
          chosen = i;
          break;
        }
      }
      prefer_html_ = false;  // (only this alternative: not those nested in it)
    }
    for (int i = 0; i < kids.size(); ++i) {
      if (i == chosen) {
        if (!walk(kids[i], at)) return false;
      } else if (GMIME_IS_PART(kids[i])) {
        Leaf leaf = next_leaf(GMIME_PART(kids[i]), false);
        if (auto skip = skip_rule(leaf.type)) out_.skipped.push_back({leaf.label, skip->reason});
      } else if (!walk(kids[i], {true, false})) {
        return false;
      }
    }
    return true;
  }

  bool walk_related(Children kids, Place at) {
    int root = related_root(kids.mp);
    HtmlReferences refs(kids[root]);
    bool html_faxed = !at.unchosen && body_rank(kids[root]) == 1;
    // Outlook's shape: the root is a multipart/alternative of text and HTML, and the HTML shows
    // the pictures beside it; it is faxed instead of the text (prefer_html_), pictures in place.
    const bool alternative_root = !at.unchosen && GMIME_IS_MULTIPART(kids[root]) &&
                                  mime_type(kids[root]) == "multipart/alternative";
    // The pictures the HTML shows by cid: go into it, in place (with_inline_images).
    std::map<std::string, std::string> images;
    for (int i = 0; (html_faxed || alternative_root) && i < kids.size(); ++i) {
      if (i == root || !is_picture(kids[i]) || !refs.by_cid(kids[i])) continue;
      std::string& uri = images[lower(content_id(kids[i]))];
      uri = "data:" + mime_type(kids[i]) + ";base64," + base64(decoded(GMIME_PART(kids[i])));
      inline_budget_ += 4 * uri.size();  // each picture shown up to four times, for the message
    }
    if (alternative_root && !images.empty()) html_faxed = true;
    auto* outer = inline_images_;
    inline_images_ = images.empty() ? nullptr : &images;
    const bool outer_prefer = prefer_html_;
    prefer_html_ = alternative_root && !images.empty();
    for (int i = 0; i < kids.size(); ++i) {
      if (i != root && GMIME_IS_PART(kids[i]) && refs.references(kids[i])) {
        Leaf leaf = next_leaf(GMIME_PART(kids[i]), false);
        if (!images.count(lower(content_id(kids[i])))) skip_resource(leaf, html_faxed);  // else shown in place
      } else if (!walk(kids[i], at)) {
        inline_images_ = outer;
        prefer_html_ = outer_prefer;
        return false;
      }
    }
    inline_images_ = outer;
    prefer_html_ = outer_prefer;
    return true;
  }

  void skip_resource(const Leaf& leaf, bool html_faxed) {
    bool image = leaf.type.starts_with("image/");
    const char* reason = html_faxed ? (image ? "inline image of the HTML body" : "resource of the HTML body")
                                    : (image ? "image used only by the HTML alternative"
                                             : "resource used only by the HTML alternative");
    out_.skipped.push_back({leaf.label, reason});
  }

  // RFC 1847: the first part is the content, the second the signature, whatever its type.
  bool walk_signed(Children kids, Place at) {
    for (int i = 0; i < kids.size(); ++i) {
      if (i == 1 && GMIME_IS_PART(kids[i])) {
        out_.skipped.push_back({next_leaf(GMIME_PART(kids[i]), false).label, "signature"});
      } else if (!walk(kids[i], at)) {
        return false;
      }
    }
    return true;
  }

  // Numbers the next leaf in document order.
  Leaf next_leaf(GMimePart* part, bool top) {
    GMimeObject* obj = GMIME_OBJECT(part);
    Leaf leaf{part, mime_type(obj), "", "", false};
    const char* name = g_mime_part_get_filename(part);
    if (name) leaf.filename = name;
    leaf.body =
        (top || !is_attachment(obj)) && one_of(leaf.type, {"text/plain", "text/enriched", "text/html"});
    std::string type = printable(leaf.type, kMaxLabelName);
    std::string what = leaf.filename.empty() ? type : printable(leaf.filename, kMaxLabelName) + ", " + type;
    leaf.label = "part " + std::to_string(++leaves_) + " (" + what + ")";
    return leaf;
  }

  bool visit(const Leaf& leaf, Place at) {
    if (at.unchosen && leaf.body) return true;  // the same text in a form we do not fax
    const std::string ext = extension(leaf.filename);
    if (one_of(leaf.type, {"application/pkcs7-mime", "application/x-pkcs7-mime"}) ||
        (leaf.type == "application/octet-stream" && one_of(ext, {"p7m"}))) {
      return visit_smime(leaf, at);
    }
    if (leaf.type == "application/octet-stream" && one_of(ext, {"p7s"})) {
      out_.skipped.push_back({leaf.label, "signature"});
      return true;
    }
    if (one_of(leaf.type, {"application/ms-tnef", "application/vnd.ms-tnef"}) ||
        (leaf.type == "application/octet-stream" && lower(leaf.filename) == "winmail.dat")) {
      return visit_tnef(leaf, decoded(leaf.part));
    }
    Rule rule = rule_by_type(leaf.type, !leaf.filename.empty());
    if (rule.verdict == Verdict::skip) {
      out_.skipped.push_back({leaf.label, rule.reason});
      return true;
    }
    if (rule.verdict == Verdict::refuse) return refuse(leaf);
    std::string data = decoded(leaf.part);
    std::optional<FaxPartKind> kind = rule.kind;
    if (rule.verdict == Verdict::identify) {
      if (is_tnef(data)) return visit_tnef(leaf, std::move(data));
      kind = kind_by_magic(data, ext);
      if (!kind) kind = kind_by_extension(ext);
    }
    if (!kind || (*kind == FaxPartKind::office && !opt_.office)) return refuse(leaf);
    if (leaf.body && only_whitespace(data)) return true;
    if (leaf.body) ++bodies_;
    add(leaf, *kind, std::move(data));
    return true;
  }

  // S/MIME (smime.hpp): opaque-signed content is walked as the part it stands for, the signature
  // noted; encrypted or unreadable blobs are refused naming why.
  bool visit_smime(const Leaf& leaf, Place at) {
    auto opened = open_smime(decoded(leaf.part));
    if (!opened) {
      error_ = {PartsErrc::unrenderable, leaf.label + " " + opened.error()};
      return false;
    }
    out_.skipped.push_back({leaf.label, "S/MIME signature (the signed content is faxed; the signature is not checked)"});
    // A signed file rather than signed mail (CAdES, "contract.pdf.p7m"): the file itself, named
    // without ".p7m", when it is one we know by its first bytes and not a MIME entity.
    std::string inner_name = leaf.filename;
    if (lower(extension(inner_name)) == "p7m") inner_name.resize(inner_name.size() - 4);
    if (auto kind = kind_by_magic(opened->content, extension(inner_name)); kind && !starts_with_header(opened->content)) {
      if (*kind == FaxPartKind::office && !opt_.office) {
        error_ = {PartsErrc::unrenderable, leaf.label + " holds a signed document that cannot be faxed"};
        return false;
      }
      out_.parts.push_back({*kind, "application/octet-stream", "", inner_name, leaf.label + ", the signed file",
                            std::move(opened->content)});  // (by its first bytes: never text)
      return true;
    }
    return walk_unwrapped(opened->content, at, leaf.label);
  }

  // Whether the bytes begin with a header field ("Name: value", RFC 5322 §2.2): a MIME entity.
  static bool starts_with_header(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && s[i] > ' ' && s[i] < 127 && s[i] != ':') ++i;
    return i > 0 && i < s.size() && s[i] == ':';
  }

  // A MIME entity found inside a wrapper (S/MIME), parsed and walked in place, within the same
  // limits as the rest of the message.
  bool walk_unwrapped(const std::string& entity, Place at, const std::string& label) {
    if (++unwrapped_ > kMaxUnwrapped) {
      error_ = {PartsErrc::limit, "the message wraps more than " + std::to_string(kMaxUnwrapped) +
                                      " signed or TNEF parts inside one another"};
      return false;
    }
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(entity.data(), entity.size()));
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    GPtr<GMimeObject> inner(g_mime_parser_construct_part(parser.get(), nullptr));
    if (!inner) {
      error_ = {PartsErrc::unrenderable, label + " holds content that cannot be parsed as MIME"};
      return false;
    }
    if (auto err = limits_.check(inner.get(), 1)) {
      error_ = *err;
      return false;
    }
    return walk(inner.get(), {at.unchosen, at.top});
  }

  // Outlook's TNEF (tnef.hpp): its body, then its attachments, each judged like a MIME part.
  bool visit_tnef(const Leaf& leaf, std::string data) {
    auto items = unpack_tnef(data);
    if (!items) {
      error_ = {PartsErrc::unrenderable, leaf.label + " cannot be faxed: " + items.error()};
      return false;
    }
    if (++unwrapped_ > kMaxUnwrapped) {
      error_ = {PartsErrc::limit, "the message wraps more than " + std::to_string(kMaxUnwrapped) +
                                      " signed or TNEF parts inside one another"};
      return false;
    }
    int n = 0;
    for (auto& item : *items) {
      if (leaves_ + size_t(++n) > opt_.max_parts) {
        error_ = {PartsErrc::limit, "the message has more than " + std::to_string(opt_.max_parts) + " parts"};
        return false;
      }
      const std::string where = leaf.label + ", item " + std::to_string(n);
      // Exchange sends the text body beside winmail.dat too: then the stream's own body (its
      // first item) is a copy. The bodies of attached Outlook items are faxed whatever.
      if (item.body && n == 1 && bodies_ > 0) {
        out_.skipped.push_back({where + " (the rich-text copy of the body)", "the body is faxed from the message's text"});
        continue;
      }
      if (item.body) {
        ++bodies_;
        TnefBody& b = *item.body;
        const bool rtf = b.rtf && b.rtf->starts_with("{\\rtf");
        const bool plain = b.plain && !only_whitespace(*b.plain);
        const bool html = b.html && !only_whitespace(*b.html);
        // RTF that Outlook made from HTML (\fromhtml) is faxed from the HTML when the stream has it.
        const bool html_in_rtf = rtf && b.rtf->find("\\fromhtml") != std::string::npos;
        if (html && (html_in_rtf || (!plain && !(rtf && opt_.office)))) {
          out_.parts.push_back({FaxPartKind::html, "text/html", usable_charset(b.html_charset, *b.html), "",
                                where + " (the HTML body)", std::move(*b.html)});
        } else if (rtf && opt_.office && !(html_in_rtf && plain)) {
          out_.parts.push_back({FaxPartKind::office, "application/rtf", "", "", where + " (the rich-text body)",
                                std::move(*b.rtf)});
        } else if (plain) {
          out_.parts.push_back({FaxPartKind::text_plain, "text/plain", usable_charset(b.plain_charset, *b.plain), "",
                                where + " (the body)", std::move(*b.plain)});
        } else {
          out_.skipped.push_back({where + " (the body)", rtf ? "rich text that cannot be faxed here, without a plain copy"
                                                             : "the body is empty or damaged"});
        }
        continue;
      }
      TnefFile& f = item.file;
      const std::string what = printable(f.name.empty() ? "unnamed" : f.name, kMaxLabelName) +
                               (f.mime_type.empty() ? "" : ", " + printable(f.mime_type, kMaxLabelName));
      const std::string label = where + " (" + what + ")";
      const std::string type = f.mime_type.empty() ? "application/octet-stream" : f.mime_type;
      Rule rule = rule_by_type(type, !f.name.empty());
      if (rule.verdict == Verdict::skip) {
        out_.skipped.push_back({label, rule.reason});
        continue;
      }
      std::optional<FaxPartKind> kind;
      if (rule.verdict == Verdict::fax) kind = rule.kind;
      if (rule.verdict == Verdict::identify || (rule.verdict == Verdict::refuse && !f.name.empty())) {
        const std::string ext = extension(f.name);
        kind = kind_by_magic(f.data, ext);
        if (!kind) kind = kind_by_extension(ext);
      }
      if (!kind || (*kind == FaxPartKind::office && !opt_.office)) {
        error_ = {PartsErrc::unrenderable, label + " cannot be faxed"};
        return false;
      }
      const bool text = *kind == FaxPartKind::text_plain || *kind == FaxPartKind::text_enriched || *kind == FaxPartKind::html;
      // (A TNEF attachment has no charset label: UTF-8 when it is valid UTF-8, else Outlook's default.)
      const bool utf8 = g_utf8_validate(f.data.data(), gssize(f.data.size()), nullptr);
      std::string charset = text ? std::string(utf8 ? "utf-8" : "windows-1252") : "";
      out_.parts.push_back({*kind, type, std::move(charset), f.name, label, std::move(f.data)});
    }
    return true;
  }

  // The header block of a forwarded message, as mail clients show one: UTF-8, a line per field.
  static std::string forwarded_header(GMimeMessage* msg) {
    auto one_line = [](std::string s) {  // folding and control characters become spaces
      std::string out;
      for (char c : s) {
        const bool space = static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        if (space && (out.empty() || out.back() == ' ')) continue;
        out.push_back(space ? ' ' : c);
      }
      while (!out.empty() && out.back() == ' ') out.pop_back();
      return out;
    };
    std::string text = "---------- Forwarded message ----------\n";
    auto field = [&](const char* name, std::string value) {
      value = one_line(std::move(value));
      if (!value.empty()) text += std::string(name) + ": " + value + "\n";
    };
    field("From", addresses(g_mime_message_get_from(msg)));
    if (const char* d = g_mime_object_get_header(GMIME_OBJECT(msg), "Date")) field("Date", d);
    if (const char* s = g_mime_message_get_subject(msg)) field("Subject", s);
    field("To", addresses(g_mime_message_get_to(msg)));
    field("Cc", addresses(g_mime_message_get_cc(msg)));
    gchar* valid = g_utf8_make_valid(text.data(), gssize(text.size()));  // (headers may carry raw 8-bit)
    std::string out(valid);
    g_free(valid);
    return out;
  }

  // The forwarded header at parts[at] goes on top of the body that follows it when that body is
  // plain text (turned into UTF-8 to be joined), so the two share a page.
  void merge_header_into_body(size_t at) {
    if (at + 1 >= out_.parts.size()) return;
    FaxPart& body = out_.parts[at + 1];
    if (body.kind != FaxPartKind::text_plain || !body.filename.empty()) return;
    std::string utf8;
    if (body.charset.empty() || body.charset == "utf-8" || body.charset == "utf8" || body.charset == "us-ascii" ||
        body.charset == "ascii") {
      gchar* valid = g_utf8_make_valid(body.data.data(), gssize(body.data.size()));
      utf8 = valid;
      g_free(valid);
    } else {
      gsize written = 0;
      gchar* out = g_convert_with_fallback(body.data.data(), gssize(body.data.size()), "UTF-8", body.charset.c_str(),
                                           "\xEF\xBF\xBD", nullptr, &written, nullptr);
      if (out) {
        utf8.assign(out, written);
        g_free(out);
      } else {  // bytes the charset leaves undefined: each decoded alone, U+FFFD where it cannot be
        for (char c : body.data) {
          gchar* one = g_convert(&c, 1, "UTF-8", body.charset.c_str(), nullptr, &written, nullptr);
          if (one) {
            utf8.append(one, written);
            g_free(one);
          } else {
            utf8 += "\xEF\xBF\xBD";
          }
        }
      }
    }
    body.data = out_.parts[at].data + "\n" + utf8;
    body.charset = "utf-8";
    out_.parts.erase(out_.parts.begin() + std::ptrdiff_t(at));
  }

  void add(const Leaf& leaf, FaxPartKind kind, std::string data) {
    bool text =
        kind == FaxPartKind::text_plain || kind == FaxPartKind::text_enriched || kind == FaxPartKind::html;
    std::string charset = text ? usable_charset(type_param(GMIME_OBJECT(leaf.part), "charset"), data) : "";
    if (kind == FaxPartKind::html && inline_images_) data = with_inline_images(data, *inline_images_, inline_budget_);
    out_.parts.push_back({kind, leaf.type, std::move(charset), leaf.filename, leaf.label, std::move(data)});
  }

  bool refuse(const Leaf& leaf) {
    error_ = {PartsErrc::unrenderable, leaf.label + " cannot be faxed"};
    return false;
  }

  static constexpr int kMaxUnwrapped = 8;  // S/MIME and TNEF wrappers in one message

  const SelectOptions& opt_;
  LimitCheck limits_{opt_};  // shared by the whole message, the unwrapped parts included
  FaxParts out_;
  PartsError error_{PartsErrc::unrenderable, ""};
  size_t leaves_ = 0;
  int forwards_ = 0;  // forwarded messages met
  int unwrapped_ = 0;
  const std::map<std::string, std::string>* inline_images_ = nullptr;  // walking the root of a multipart/related
  size_t inline_budget_ = 0;  // bytes of data: URIs still to be spent (with_inline_images)
  bool prefer_html_ = false;  // the next multipart/alternative faxes its HTML (walk_related)
  int bodies_ = 0;            // text or HTML bodies faxed so far
};

// Where the header block ends when it runs into the body without the blank line RFC 5322 §2.1
// asks for: before the first line that is neither a header field ("name:" with printable
// characters other than ':' before it) nor the folded continuation of one, as Postfix and
// Python's email package read it. A message whose first line is not a header field (body only)
// has an empty header block: its body is text/plain (RFC 2045 §5.2). npos: the block ends as it
// should (a blank line, or the end).
size_t missing_blank_line(std::string_view m) {
  size_t at = 0;
  bool in_field = false;  // a continuation line belongs to a field before it
  while (at < m.size()) {
    size_t eol = m.find('\n', at);
    std::string_view line = m.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return std::string_view::npos;  // the blank line
    if ((line[0] == ' ' || line[0] == '\t') && in_field) {
      // folded: part of the field above
    } else {
      size_t i = 0;  // the field name: printable, no ':'; white space may precede the colon
      while (i < line.size() && line[i] > ' ' && line[i] < 0x7f && line[i] != ':') ++i;
      size_t colon = i;
      while (colon < line.size() && (line[colon] == ' ' || line[colon] == '\t')) ++colon;
      if (i == 0 || colon >= line.size() || line[colon] != ':') return at;
      in_field = true;
    }
    if (eol == std::string_view::npos) return std::string_view::npos;
    at = eol + 1;
  }
  return std::string_view::npos;
}

GPtr<GMimeMessage> parse(std::string_view message) {
  std::string fixed;  // the message with the blank line its header block lacks
  if (const size_t at = missing_blank_line(message); at != std::string_view::npos) {
    fixed.reserve(message.size() + 2);
    fixed.append(message.substr(0, at)).append("\r\n").append(message.substr(at));
    message = fixed;
  }
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(message.data(), message.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  return GPtr<GMimeMessage>(g_mime_parser_construct_message(parser.get(), nullptr));
}


MailHeader header_of(GMimeMessage* msg) {
  MailHeader h;
  h.from = addresses(g_mime_message_get_from(msg));
  h.to = addresses(g_mime_message_get_to(msg));
  if (const char* s = g_mime_message_get_subject(msg)) h.subject = s;
  GMimeObject* o = GMIME_OBJECT(msg);
  if (const char* d = g_mime_object_get_header(o, "Date")) h.date = d;
  auto word = [o](const char* name) {  // a header's value lower-cased, white space removed
    std::string v;
    if (const char* c = g_mime_object_get_header(o, name)) {
      for (char ch : std::string_view(c)) {
        if (!std::isspace(static_cast<unsigned char>(ch))) v.push_back(char(std::tolower(static_cast<unsigned char>(ch))));
      }
    }
    return v;
  };
  const std::string cover = word("X-Fax-Cover");
  if (cover == "yes") h.cover = true;
  if (cover == "no") h.cover = false;
  const std::string prio = word("Priority"), xprio = word("X-Priority"), imp = word("Importance");
  if (prio == "urgent") h.priority = 1;
  else if (prio == "non-urgent") h.priority = -1;
  else if (prio.empty() && !xprio.empty() && (xprio[0] == '1' || xprio[0] == '2')) h.priority = 1;
  else if (prio.empty() && !xprio.empty() && (xprio[0] == '4' || xprio[0] == '5')) h.priority = -1;
  else if (prio.empty() && xprio.empty() && imp == "high") h.priority = 1;
  else if (prio.empty() && xprio.empty() && imp == "low") h.priority = -1;
  auto trim = [](std::string& s) {  // folding and runs of white space become one space
    std::string out;
    for (char ch : s) {
      const bool space = ch == ' ' || ch == '\r' || ch == '\n' || ch == '\t';
      if (space && (out.empty() || out.back() == ' ')) continue;
      out.push_back(space ? ' ' : ch);
    }
    if (!out.empty() && out.back() == ' ') out.pop_back();
    s = std::move(out);
  };
  trim(h.from), trim(h.to), trim(h.subject), trim(h.date);
  return h;
}

}  // namespace

size_t missing_blank_line_at(std::string_view message) { return missing_blank_line(message); }

std::optional<TraceFacts> trace_facts(std::string_view message) {
  init_gmime();
  GPtr<GMimeMessage> msg = parse(message);
  if (!msg) return std::nullopt;
  TraceFacts t;
  GMimeHeaderList* headers = g_mime_object_get_header_list(GMIME_OBJECT(msg.get()));
  const int n = headers ? g_mime_header_list_get_count(headers) : 0;
  for (int i = 0; i < n; ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(headers, i);
    const char* name = h ? g_mime_header_get_name(h) : nullptr;
    if (!name) continue;
    if (g_ascii_strcasecmp(name, "Received") == 0) {
      ++t.received;
    } else if (g_ascii_strcasecmp(name, "X-Fax-Job") == 0) {
      t.fax_mail = true;
    } else if (g_ascii_strcasecmp(name, "Auto-Submitted") == 0 && t.auto_submitted.empty()) {
      // RFC 3834 §5: a keyword, perhaps with parameters ("auto-replied; owner-email=...").
      const char* v = g_mime_header_get_value(h);
      for (const char* c = v ? v : ""; *c && *c != ';' && *c != '('; ++c) {
        if (!std::isspace(static_cast<unsigned char>(*c))) t.auto_submitted.push_back(char(std::tolower(static_cast<unsigned char>(*c))));
      }
    }
  }
  if (InternetAddressList* from = g_mime_message_get_from(msg.get())) {
    for (int i = 0; i < internet_address_list_length(from) && t.from_address.empty(); ++i) {
      InternetAddress* a = internet_address_list_get_address(from, i);
      if (!INTERNET_ADDRESS_IS_MAILBOX(a)) continue;
      if (const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a))) {
        for (const char* c = addr; *c; ++c) {  // (a quoted local part may hold a folded line break)
          if (static_cast<unsigned char>(*c) >= 0x20 && *c != 0x7f) t.from_address.push_back(char(std::tolower(static_cast<unsigned char>(*c))));
        }
      }
    }
  }
  return t;
}

fb::Result<FaxParts, PartsError> select_fax_parts(std::string_view message, const SelectOptions& opt) {
  if (message.size() > opt.max_bytes)
    return PartsError{PartsErrc::limit,
                      "the message is larger than " + std::to_string(opt.max_bytes) + " bytes"};
  init_gmime();
  GPtr<GMimeMessage> msg = parse(message);
  if (!msg) return PartsError{PartsErrc::malformed, "the message cannot be parsed as MIME"};
  GMimeObject* top = g_mime_message_get_mime_part(msg.get());
  if (top) {
    Walker walker(opt);
    if (auto err = walker.check_limits(top)) return *err;
    if (!walker.walk(top, {false, true})) return walker.error();
    if (!walker.result().parts.empty()) {
      FaxParts out = std::move(walker.result());
      out.header = header_of(msg.get());
      return out;
    }
  }
  return PartsError{PartsErrc::nothing, "the message has no part that can be faxed"};
}

}  // namespace mail
