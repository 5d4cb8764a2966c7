// office_links.cpp — external references out of OOXML and ODF packages (see office_links.hpp).
#include "imaging/office_links.hpp"

#include <zip.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <vector>

namespace imaging {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = char(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// One attribute of a start tag: where its value lies in the document.
struct Attr {
  std::string_view name;
  size_t value_begin = 0, value_end = 0;  // the value, without its quotes
};

// A start or empty tag at `lt` ('<'): its name, attributes and end ('>' past every quoted
// value, which may hold '>'). Comments, CDATA, processing instructions and end tags are skipped
// whole (`skip` set). nullopt at a tag that does not end.
struct Tag {
  std::string_view name;
  std::vector<Attr> attrs;
  size_t end = 0;  // one past '>'
  bool empty = false;
  bool skip = false;
};

std::optional<Tag> read_tag(std::string_view x, size_t lt) {
  Tag t;
  auto past = [&](std::string_view close) -> std::optional<Tag> {
    size_t e = x.find(close, lt);
    if (e == std::string_view::npos) return std::nullopt;
    t.end = e + close.size();
    t.skip = true;
    return t;
  };
  if (x.substr(lt, 4) == "<!--") return past("-->");
  if (x.substr(lt, 9) == "<![CDATA[") return past("]]>");
  if (x.substr(lt, 2) == "<?") return past("?>");
  size_t p = lt + 1;
  const bool closing = p < x.size() && (x[p] == '/' || x[p] == '!');
  size_t n = p;
  while (n < x.size() && !space(x[n]) && x[n] != '>' && x[n] != '/') ++n;
  t.name = x.substr(p, n - p);
  p = n;
  for (;;) {
    while (p < x.size() && space(x[p])) ++p;
    if (p >= x.size()) return std::nullopt;
    if (x[p] == '>') {
      t.end = p + 1;
      break;
    }
    if (x[p] == '/' && p + 1 < x.size() && x[p + 1] == '>') {
      t.end = p + 2;
      t.empty = true;
      break;
    }
    size_t a = p;
    while (p < x.size() && !space(x[p]) && x[p] != '=' && x[p] != '>' && x[p] != '/') ++p;
    Attr attr{x.substr(a, p - a)};
    while (p < x.size() && space(x[p])) ++p;
    if (p < x.size() && x[p] == '=') {
      ++p;
      while (p < x.size() && space(x[p])) ++p;
      if (p >= x.size()) return std::nullopt;
      if (x[p] == '"' || x[p] == '\'') {
        const char q = x[p];
        const size_t e = x.find(q, p + 1);
        if (e == std::string_view::npos) return std::nullopt;
        attr.value_begin = p + 1;
        attr.value_end = e;
        p = e + 1;
      } else {  // unquoted (not XML, but read as a parser might): to the next space or '>'
        attr.value_begin = p;
        while (p < x.size() && !space(x[p]) && x[p] != '>') ++p;
        attr.value_end = p;
      }
    } else if (p < x.size() && x[p] == '/' && !(p + 1 < x.size() && x[p + 1] == '>')) {
      ++p;  // a stray '/': move on
    }
    if (!attr.name.empty()) t.attrs.push_back(attr);
    else if (p == a) ++p;  // nothing read: never stand still
  }
  t.skip = closing;
  return t;
}

// A reference that may leave the package, failing closed: an entity or character reference
// (a parser would decode "&#104;ttp:" to "http:"), a scheme, an absolute, UNC or drive path, or
// any ".." segment. Package parts are plain relative names ("Pictures/1.png", "./Object 1").
bool external_ref(std::string_view v) {
  while (!v.empty() && space(v.front())) v.remove_prefix(1);
  if (v.empty() || v.front() == '#') return false;
  if (v.find('&') != std::string_view::npos || v.find(':') != std::string_view::npos) return true;
  if (v.front() == '/' || v.front() == '\\') return true;
  std::string path(v);
  std::replace(path.begin(), path.end(), '\\', '/');
  return path == ".." || path.rfind("../", 0) == 0 || path.find("/../") != std::string::npos || ends_with(path, "/..");
}

std::string_view local_name(std::string_view n) {
  const size_t colon = n.rfind(':');
  return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};

}  // namespace

std::string strip_external_relationships(std::string_view rels, int& removed) {
  std::string out;
  size_t pos = 0, at = 0;
  while ((at = rels.find('<', at)) != std::string_view::npos) {
    auto tag = read_tag(rels, at);
    if (!tag) break;
    if (tag->skip || local_name(tag->name) != "Relationship") {
      at = tag->end;
      continue;
    }
    // Kept only when plainly internal: TargetMode absent or exactly "Internal", and a Target
    // that names a part of the package. Anything else (External, an encoded value, a scheme)
    // goes: a broken relationship costs a picture, a kept one could cost a file.
    bool drop = false;
    for (const auto& a : tag->attrs) {
      const std::string_view v = rels.substr(a.value_begin, a.value_end - a.value_begin);
      if (local_name(a.name) == "TargetMode" && v != "Internal") drop = true;
      if (local_name(a.name) == "Target" && (v.find(':') != std::string_view::npos || v.find('&') != std::string_view::npos ||
                                              v.substr(0, 2) == "//" || v.substr(0, 2) == "\\\\")) {
        drop = true;
      }
    }
    size_t end = tag->end;
    if (drop && !tag->empty) {  // its end tag goes too
      const std::string close = "</" + std::string(tag->name);
      const size_t c = rels.find(close, end);
      const size_t c_end = c == std::string_view::npos ? std::string_view::npos : rels.find('>', c);
      end = c_end == std::string_view::npos ? rels.size() : c_end + 1;
    }
    if (drop) {
      out.append(rels.substr(pos, at - pos));
      pos = end;
      ++removed;
    }
    at = end;
  }
  out.append(rels.substr(std::min(pos, rels.size())));
  return out;
}

std::string strip_external_hrefs(std::string_view xml, int& removed) {
  std::string out;
  size_t pos = 0, at = 0;
  while ((at = xml.find('<', at)) != std::string_view::npos) {
    auto tag = read_tag(xml, at);
    if (!tag) break;
    if (!tag->skip) {
      for (const auto& a : tag->attrs) {
        // Any prefix bound to XLink (xlink:href, x:href, a default namespace's href).
        if (local_name(a.name) != "href" && local_name(a.name) != "template") continue;
        if (!external_ref(xml.substr(a.value_begin, a.value_end - a.value_begin))) continue;
        out.append(xml.substr(pos, a.value_begin - pos));  // up to the value; the value goes
        pos = a.value_end;
        ++removed;
      }
    }
    at = tag->end;
  }
  out.append(xml.substr(std::min(pos, xml.size())));
  return out;
}

Result<Unlinked> strip_external_links(std::string_view bytes, const std::string& ext, const std::string& label) {
  const std::string e = lower(ext);
  const bool ooxml = e == "docx" || e == "docm" || e == "dotx" || e == "dotm" || e == "xlsx" || e == "xlsm" ||
                     e == "pptx" || e == "ppsx" || e == "pptm";
  const bool odf = e == "odt" || e == "ods" || e == "odp" || e == "odg" || e == "ott";
  Unlinked out;
  if (!ooxml && !odf) {
    out.bytes = std::string(bytes);
    return out;
  }
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
  if (!src) return make_error(Errc::limit, label + ": out of memory reading the document");
  std::unique_ptr<zip_t, ZipCloser> in(zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err));
  if (!in) {
    zip_source_free(src);
    zip_error_fini(&err);
    return make_error(Errc::corrupt, label + ": not a readable " + e + " package (its zip structure is broken)");
  }
  const zip_int64_t n = zip_get_num_entries(in.get(), 0);
  if (n < 0 || n > kMaxEntries) return make_error(Errc::limit, label + ": more than " + std::to_string(kMaxEntries) + " parts");
  struct Part {
    std::string name;
    std::string data;
    bool store = false;
  };
  std::vector<Part> parts;
  size_t total = 0;
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(in.get(), zip_uint64_t(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) || !(st.valid & ZIP_STAT_SIZE)) {
      return make_error(Errc::corrupt, label + ": a part of the package cannot be read");
    }
    if (st.size > kMaxPartBytes || total + st.size > kMaxTotalBytes) {
      return make_error(Errc::limit, label + ": the package unpacks to more than " +
                                         std::to_string(kMaxTotalBytes >> 20) + " MiB");
    }
    total += st.size;
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen_index(in.get(), zip_uint64_t(i), 0), zip_fclose);
    if (!f) return make_error(Errc::corrupt, label + ": a part of the package cannot be read (" + st.name + ")");
    Part p{st.name, std::string(size_t(st.size), '\0'), st.comp_method == ZIP_CM_STORE};
    zip_int64_t got = p.data.empty() ? 0 : zip_fread(f.get(), p.data.data(), p.data.size());
    char more = 0;
    // Reading on to the end makes libzip check the CRC and the declared size: a part longer than
    // it says would otherwise be seen cut short here and whole by LibreOffice.
    if (got != zip_int64_t(p.data.size()) || zip_fread(f.get(), &more, 1) != 0) {
      return make_error(Errc::corrupt, label + ": a part of the package is damaged (" + st.name + ")");
    }
    // Whatever the name says the package is, both kinds of link are looked for in every part
    // that can hold them (LibreOffice tells the format by the content, not the name).
    const std::string name = lower(p.name);
    if (ends_with(name, ".rels")) p.data = strip_external_relationships(p.data, out.removed);
    else if (ends_with(name, ".xml")) p.data = strip_external_hrefs(p.data, out.removed);
    parts.push_back(std::move(p));
  }
  // Always a new package with the same parts, in the same order (ODF wants "mimetype" first,
  // stored): LibreOffice then reads exactly what was inspected, nothing a second zip reader
  // might find differently in the original.
  zip_source_t* dst = zip_source_buffer_create(nullptr, 0, 0, &err);
  if (!dst) return make_error(Errc::limit, label + ": out of memory writing the document");
  zip_source_keep(dst);  // ours after zip_close, as zip_open_from_source takes one reference
  std::unique_ptr<zip_source_t, void (*)(zip_source_t*)> dst_ref(dst, zip_source_free);
  zip_t* w = zip_open_from_source(dst, ZIP_TRUNCATE, &err);
  if (!w) {
    zip_source_free(dst);  // the reference the failed open did not take
    return make_error(Errc::limit, label + ": cannot write the document again");
  }
  for (auto& p : parts) {
    zip_source_t* s = zip_source_buffer(w, p.data.data(), p.data.size(), 0);
    zip_int64_t idx = s ? zip_file_add(w, p.name.c_str(), s, ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0) {
      if (s) zip_source_free(s);
      zip_discard(w);
      return make_error(Errc::corrupt, label + ": cannot write the part " + p.name + " again");
    }
    zip_set_file_compression(w, zip_uint64_t(idx), p.store ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0);
  }
  if (zip_close(w) != 0) {
    zip_discard(w);
    return make_error(Errc::limit, label + ": cannot write the document again");
  }
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_source_stat(dst, &st) != 0 || zip_source_open(dst) != 0) {
    return make_error(Errc::limit, label + ": cannot read back the rewritten document");
  }
  out.bytes.resize(size_t(st.size));
  zip_int64_t got = out.bytes.empty() ? 0 : zip_source_read(dst, out.bytes.data(), out.bytes.size());
  zip_source_close(dst);
  if (got != zip_int64_t(out.bytes.size())) return make_error(Errc::limit, label + ": cannot read back the rewritten document");
  return out;
}

}  // namespace imaging
