// office_links.hpp — external references taken out of an Office document before LibreOffice
// opens it (issue 14; docs/security.md "The converter").
//
// DEFENDS: a document that makes the renderer fetch (http://169.254.169.254/..., an intranet
// host) or read a local file (file:///etc/passwd) and put what it got on the fax page, the
// LibreOffice SSRF / local-file class. A second wall, best effort: the jail having no network is
// the defence that does not depend on how LibreOffice's own parser reads the package.
// WHAT, failing closed, in any zip package named as OOXML or ODF (whatever it really is):
// every relationship of every *.rels part that is not plainly internal (TargetMode other than
// "Internal", a Target with a scheme or an entity) is removed; every href (any prefix) or
// template attribute of every *.xml part that could leave the package (a scheme, an absolute,
// UNC or ".." path, an entity) is emptied. The package is always written again, so LibreOffice
// reads exactly what was inspected. Field codes (INCLUDEPICTURE) and other formats (.doc .rtf
// .xls .ppt) are not touched: the jail is their defence.
// STANDARDS: ECMA-376 Part 2 (Open Packaging Conventions: relationships); OASIS ODF 1.2 (xlink).
// LIMITS: kMaxEntries parts, kMaxPartBytes per part uncompressed, kMaxTotalBytes in all
// (zip bombs are a corrupt document, not a long wait).
#pragma once

#include <string>
#include <string_view>

#include "imaging/result.hpp"

namespace imaging {

inline constexpr int kMaxEntries = 5000;
inline constexpr size_t kMaxPartBytes = size_t(64) << 20;
inline constexpr size_t kMaxTotalBytes = size_t(512) << 20;

struct Unlinked {
  std::string bytes;  // the document to open (the input itself when nothing was removed)
  int removed = 0;    // external references taken out
};

// `ext` as office_to_pdf takes it ("docx"). A zip that cannot be read: corrupt, naming `label`.
Result<Unlinked> strip_external_links(std::string_view bytes, const std::string& ext, const std::string& label);

// The pieces, for tests and the fuzz target: one .rels part without its external relationships;
// one ODF XML part with its external xlink:href values emptied. `removed` counts what went.
std::string strip_external_relationships(std::string_view rels, int& removed);
std::string strip_external_hrefs(std::string_view xml, int& removed);

}  // namespace imaging
