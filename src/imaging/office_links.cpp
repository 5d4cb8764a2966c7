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

// The value of attribute `name` inside one start tag (`tag` = "<...>"), quotes either kind;
// nullopt when absent. The name must stand alone (preceded by a space), so TargetMode does not
// match Target.
std::optional<std::string_view> attribute(std::string_view tag, std::string_view name) {
  for (size_t at = tag.find(name); at != std::string_view::npos; at = tag.find(name, at + 1)) {
    if (at == 0 || !std::isspace(static_cast<unsigned char>(tag[at - 1]))) continue;
    size_t p = at + name.size();
    while (p < tag.size() && std::isspace(static_cast<unsigned char>(tag[p]))) ++p;
    if (p >= tag.size() || tag[p] != '=') continue;
    ++p;
    while (p < tag.size() && std::isspace(static_cast<unsigned char>(tag[p]))) ++p;
    if (p >= tag.size() || (tag[p] != '"' && tag[p] != '\'')) continue;
    const char q = tag[p];
    const size_t end = tag.find(q, p + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return tag.substr(p + 1, end - p - 1);
  }
  return std::nullopt;
}

// An href that leaves the package: a scheme ("http:", "file:", "smb:"), an absolute or UNC path,
// or a path up out of it. Package parts are relative ("Pictures/x.png", "./Object 1").
bool external_href(std::string_view v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  if (v.empty() || v.front() == '#') return false;
  if (v.front() == '/' || v.front() == '\\' || v.substr(0, 3) == "../" || v.substr(0, 3) == "..\\") return true;
  const size_t colon = v.find(':');
  if (colon == std::string_view::npos) return false;
  // "&#58;"-style escapes are not undone here: a scheme must be letters, so such a value stays
  // relative to LibreOffice too.
  return std::all_of(v.begin(), v.begin() + std::ptrdiff_t(colon), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  }) && colon > 0;
}

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};

}  // namespace

std::string strip_external_relationships(std::string_view rels, int& removed) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t lt = rels.find('<', pos);
    if (lt == std::string_view::npos) break;
    size_t gt = rels.find('>', lt);
    if (gt == std::string_view::npos) break;
    std::string_view tag = rels.substr(lt, gt - lt + 1);
    // <Relationship .../> or <pfx:Relationship ...>...</pfx:Relationship>
    size_t name_end = 1;
    while (name_end < tag.size() && !std::isspace(static_cast<unsigned char>(tag[name_end])) && tag[name_end] != '/' &&
           tag[name_end] != '>') {
      ++name_end;
    }
    std::string_view name = tag.substr(1, name_end - 1);
    const bool is_rel = name == "Relationship" || ends_with(name, ":Relationship");
    auto mode = is_rel ? attribute(tag, "TargetMode") : std::nullopt;
    if (is_rel && mode && lower(*mode) == "external") {
      out.append(rels.substr(pos, lt - pos));
      size_t end = gt + 1;
      if (!ends_with(tag, "/>")) {  // its end tag goes too
        const std::string close = "</" + std::string(name);
        size_t c = rels.find(close, gt);
        size_t c_end = c == std::string_view::npos ? std::string_view::npos : rels.find('>', c);
        end = c_end == std::string_view::npos ? rels.size() : c_end + 1;
      }
      ++removed;
      pos = end;
      continue;
    }
    out.append(rels.substr(pos, gt + 1 - pos));
    pos = gt + 1;
  }
  out.append(rels.substr(std::min(pos, rels.size())));
  return out;
}

std::string strip_external_hrefs(std::string_view xml, int& removed) {
  std::string out;
  size_t pos = 0;
  const std::string_view key = "xlink:href";
  size_t next = 0;  // where to look for the next attribute: never inside a value already read
  for (size_t at = xml.find(key); at != std::string_view::npos; at = xml.find(key, next)) {
    next = at + key.size();
    size_t p = next;
    while (p < xml.size() && std::isspace(static_cast<unsigned char>(xml[p]))) ++p;
    if (p >= xml.size() || xml[p] != '=') continue;
    ++p;
    while (p < xml.size() && std::isspace(static_cast<unsigned char>(xml[p]))) ++p;
    if (p >= xml.size() || (xml[p] != '"' && xml[p] != '\'')) continue;
    const char q = xml[p];
    const size_t end = xml.find(q, p + 1);
    if (end == std::string_view::npos) break;
    next = end + 1;
    if (external_href(xml.substr(p + 1, end - p - 1))) {
      out.append(xml.substr(pos, p + 1 - pos));  // up to and with the opening quote
      pos = end;                                 // the value goes; the closing quote stays
      ++removed;
    }
  }
  out.append(xml.substr(pos));
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
    if (got != zip_int64_t(p.data.size())) {
      return make_error(Errc::corrupt, label + ": a part of the package is damaged (" + st.name + ")");
    }
    const std::string_view name = p.name;
    if (ooxml && ends_with(lower(name), ".rels")) {
      p.data = strip_external_relationships(p.data, out.removed);
    } else if (odf && (name == "content.xml" || name == "styles.xml")) {
      p.data = strip_external_hrefs(p.data, out.removed);
    }
    parts.push_back(std::move(p));
  }
  if (out.removed == 0) {
    out.bytes = std::string(bytes);
    return out;
  }
  // A new package with the same parts, in the same order (ODF wants "mimetype" first, stored).
  zip_source_t* dst = zip_source_buffer_create(nullptr, 0, 0, &err);
  if (!dst) return make_error(Errc::limit, label + ": out of memory writing the document");
  zip_source_keep(dst);
  std::unique_ptr<zip_source_t, void (*)(zip_source_t*)> dst_ref(dst, zip_source_free);
  zip_t* w = zip_open_from_source(dst, ZIP_TRUNCATE, &err);
  if (!w) return make_error(Errc::limit, label + ": cannot write the document again");
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
