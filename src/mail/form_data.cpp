// form_data.cpp — multipart/form-data with GMime (see form_data.hpp).
#include "mail/form_data.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>

#include "mail/gmime_util.hpp"

namespace mail {
namespace {

template <class T>
using GPtr = gmime::Ptr<T>;

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = char(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

}  // namespace

fb::Result<std::vector<FormField>, std::string> parse_form_data(std::string_view content_type, std::string_view body) {
  gmime::init();
  GPtr<GMimeContentType> ct(g_mime_content_type_parse(nullptr, std::string(content_type).c_str()));
  if (!ct || !g_mime_content_type_is_type(ct.get(), "multipart", "form-data")) {
    return std::string("the body is not multipart/form-data");
  }
  const char* boundary = g_mime_content_type_get_parameter(ct.get(), "boundary");
  if (!boundary || !*boundary) return std::string("multipart/form-data without a boundary");
  // GMime reads a MIME entity: the Content-Type field, a blank line, then the body as sent.
  std::string entity = "Content-Type: " + std::string(content_type) + "\r\n\r\n";
  entity.append(body);
  GPtr<GMimeStream> st(g_mime_stream_mem_new_with_buffer(entity.data(), entity.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(st.get()));
  GPtr<GMimeObject> root(g_mime_parser_construct_part(parser.get(), nullptr));
  if (!root || !GMIME_IS_MULTIPART(root.get())) return std::string("the multipart/form-data body cannot be read");
  GMimeMultipart* mp = GMIME_MULTIPART(root.get());
  const int n = g_mime_multipart_get_count(mp);
  if (n <= 0) return std::string("the form has no field (is the boundary right?)");
  if (size_t(n) > kMaxFormFields) {
    return "the form has " + std::to_string(n) + " fields, at most " + std::to_string(kMaxFormFields);
  }
  std::vector<FormField> fields;
  for (int i = 0; i < n; ++i) {
    GMimeObject* part = g_mime_multipart_get_part(mp, i);
    const std::string which = "form part " + std::to_string(i + 1);
    if (!GMIME_IS_PART(part)) return which + " is itself multipart (not supported)";
    GMimeContentDisposition* cd = g_mime_object_get_content_disposition(part);
    const char* name = cd ? g_mime_content_disposition_get_parameter(cd, "name") : nullptr;
    if (!cd || lower(g_mime_content_disposition_get_disposition(cd)) != "form-data" || !name || !*name) {
      return which + " has no Content-Disposition: form-data with a name";
    }
    FormField f;
    f.name = name;
    if (f.name.size() > 100 || !printable(f.name)) return which + " has a name that is too long or not printable";
    if (const char* fn = g_mime_part_get_filename(GMIME_PART(part))) f.filename = fn;
    GMimeContentType* pct = g_mime_object_get_content_type(part);
    f.content_type = lower(pct ? std::string(g_mime_content_type_get_media_type(pct)) + "/" +
                                     g_mime_content_type_get_media_subtype(pct)
                               : std::string("text/plain"));
    // A text's charset goes with it (the rest of the parameters do not).
    if (const char* cs = pct ? g_mime_content_type_get_parameter(pct, "charset") : nullptr) {
      const std::string c = lower(cs);
      if (!c.empty() && c.size() <= 40 && c.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.:") == std::string::npos) {
        f.content_type += "; charset=" + c;
      }
    }
    if (GMimeDataWrapper* w = g_mime_part_get_content(GMIME_PART(part))) {
      GPtr<GMimeStream> mem(g_mime_stream_mem_new());
      if (g_mime_data_wrapper_write_to_stream(w, mem.get()) < 0) return which + " cannot be decoded";
      GByteArray* b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
      f.data.assign(reinterpret_cast<const char*>(b->data), b->len);
    }
    fields.push_back(std::move(f));
  }
  return fields;
}

}  // namespace mail
