// document.cpp — input type detection and dispatch to the renderers (see document.hpp).
#include "imaging/document.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "imaging/enriched.hpp"
#include "imaging/mupdf_render.hpp"
#include "imaging/office.hpp"
#include "imaging/text_render.hpp"
#include "imaging/tiff_read.hpp"

namespace imaging {
namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return r;
}

std::string extension(const std::string& filename) {
  auto slash = filename.find_last_of('/');
  auto dot = filename.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return {};
  return lower(std::string_view(filename).substr(dot + 1));
}

bool starts(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool is_zip(std::string_view b) { return starts(b, std::string_view("PK\x03\x04", 4)); }
bool is_ole2(std::string_view b) { return starts(b, std::string_view("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8)); }

// Content sniffing: the magic numbers of the formats we render.
bool sniff(std::string_view b, DocType& t) {
  if (starts(b, "%PDF-") || b.substr(0, 1024).find("%PDF-") != std::string_view::npos) t = DocType::pdf;
  else if (starts(b, std::string_view("II*\0", 4)) || starts(b, std::string_view("MM\0*", 4))) t = DocType::tiff;
  else if (starts(b, "\x89PNG") || starts(b, "\xFF\xD8\xFF") || starts(b, "GIF8") || starts(b, "BM") ||
           (b.size() > 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' && std::isspace(static_cast<unsigned char>(b[2]))))
    t = DocType::image;
  else return false;
  return true;
}

}  // namespace

std::string_view name(DocType t) {
  switch (t) {
    case DocType::pdf: return "PDF";
    case DocType::text: return "text";
    case DocType::enriched: return "enriched text";
    case DocType::html: return "HTML";
    case DocType::tiff: return "TIFF";
    case DocType::image: return "image";
    case DocType::office: return "Office document";
    case DocType::eml: return "mail message";
  }
  return "document";
}

Result<DocType> type_from_mime(std::string_view mime_in, const std::string& label) {
  std::string m = lower(mime_in.substr(0, mime_in.find(';')));
  while (!m.empty() && std::isspace(static_cast<unsigned char>(m.back()))) m.pop_back();
  static const std::map<std::string, DocType> kTypes = {
      {"application/pdf", DocType::pdf},
      {"text/plain", DocType::text},
      {"text/enriched", DocType::enriched},
      {"text/html", DocType::html},
      {"image/tiff", DocType::tiff},
      {"image/tiff-fx", DocType::tiff},
      {"image/png", DocType::image},
      {"image/jpeg", DocType::image},
      {"image/gif", DocType::image},
      {"image/bmp", DocType::image},
      {"image/x-ms-bmp", DocType::image},
      {"image/x-portable-bitmap", DocType::image},
      {"image/x-portable-graymap", DocType::image},
      {"image/x-portable-pixmap", DocType::image},
      {"image/x-portable-anymap", DocType::image},
      {"message/rfc822", DocType::eml},
      {"application/msword", DocType::office},
      {"application/rtf", DocType::office},
      {"application/vnd.ms-excel", DocType::office},
      {"application/vnd.ms-powerpoint", DocType::office},
  };
  if (auto it = kTypes.find(m); it != kTypes.end()) return it->second;
  if (starts(m, "application/vnd.openxmlformats-officedocument.") || starts(m, "application/vnd.oasis.opendocument.")) {
    return DocType::office;
  }
  return make_error(Errc::unsupported, label + ": documents of type " + m + " cannot be faxed");
}

Result<DocType> detect_type(const std::string& filename, std::string_view content, const std::string& label) {
  static const std::map<std::string, DocType> kExt = {
      {"pdf", DocType::pdf},       {"txt", DocType::text},      {"text", DocType::text},
      {"asc", DocType::text},      {"html", DocType::html},     {"htm", DocType::html},
      {"tif", DocType::tiff},      {"tiff", DocType::tiff},     {"png", DocType::image},
      {"jpg", DocType::image},     {"jpeg", DocType::image},    {"gif", DocType::image},
      {"bmp", DocType::image},     {"pbm", DocType::image},     {"pgm", DocType::image},
      {"ppm", DocType::image},     {"pnm", DocType::image},     {"eml", DocType::eml},
      {"docx", DocType::office},   {"doc", DocType::office},    {"odt", DocType::office},
      {"rtf", DocType::office},    {"xlsx", DocType::office},   {"xls", DocType::office},
      {"ods", DocType::office},    {"pptx", DocType::office},   {"ppt", DocType::office},
      {"odp", DocType::office},    {"enriched", DocType::enriched},
  };
  if (auto it = kExt.find(extension(filename)); it != kExt.end()) return it->second;
  DocType t;
  if (sniff(content, t)) return t;
  return make_error(Errc::unsupported, label + ": cannot tell what kind of document this is "
                                               "(use --type, or a known extension such as .pdf .txt .tif)");
}

namespace {

Result<Pages> render_office(std::string_view bytes, const RenderOptions& opt, const std::string& label,
                            const std::string& filename) {
  std::string ext = extension(filename);
  bool zip_kind = ext == "docx" || ext == "xlsx" || ext == "pptx" || ext == "odt" || ext == "ods" || ext == "odp";
  bool ole_kind = ext == "doc" || ext == "xls" || ext == "ppt";
  if (ext.empty()) {  // a MIME part with no useful name: tell the kind by its container
    ext = is_zip(bytes) ? "docx" : is_ole2(bytes) ? "doc" : starts(bytes, "{\\rtf") ? "rtf" : "";
    zip_kind = ext == "docx";
    ole_kind = ext == "doc";
  }
  // LibreOffice imports anything it does not recognise as plain text: check the container
  // first, so garbage with an Office name is refused rather than faxed as noise.
  if ((zip_kind && !is_zip(bytes)) || (ole_kind && !is_ole2(bytes)) || (ext == "rtf" && !starts(bytes, "{\\rtf")) ||
      ext.empty()) {
    return make_error(Errc::corrupt, label + ": not a valid Office document");
  }
  auto pdf = office_to_pdf(bytes, ext, label);
  if (!pdf) return pdf.error();
  return render_pdf(*pdf, opt, label);
}

}  // namespace

Result<Pages> render_document(std::string_view bytes, DocType type, const RenderOptions& opt,
                              const std::string& label, const std::string& filename) {
  if (int64_t(bytes.size()) > opt.limits.max_input_bytes) {
    return make_error(Errc::limit, label + ": " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                                       std::to_string(opt.limits.max_input_bytes));
  }
  switch (type) {
    case DocType::pdf: return render_pdf(bytes, opt, label);
    case DocType::html: {
      auto utf8 = to_utf8(bytes, opt.charset, label);  // MuPDF's HTML parser reads UTF-8
      if (!utf8) return utf8.error();
      return render_html(*utf8, opt, label);
    }
    case DocType::image: return render_image(bytes, opt, label);
    case DocType::tiff: return render_tiff(bytes, opt, label);
    case DocType::office: return render_office(bytes, opt, label, filename);
    case DocType::text: {
      auto utf8 = to_utf8(bytes, opt.charset, label);
      if (!utf8) return utf8.error();
      return render_text_document(plain_text_document(*utf8), TextFace::mono, opt, label);
    }
    case DocType::enriched: {
      auto utf8 = to_utf8(bytes, opt.charset, label);
      if (!utf8) return utf8.error();
      return render_text_document(enriched::parse(*utf8), TextFace::proportional, opt, label);
    }
    case DocType::eml:
      return make_error(Errc::unsupported, label + ": a mail message must be split into its parts first");
  }
  return make_error(Errc::unsupported, label + ": unknown document type");
}

}  // namespace imaging
