// document.hpp — what kind of document an input is, and rendering it to fax pages.
//
// The single entry point the converter uses for one document (a file or a MIME part):
// the type comes from an explicit MIME type, else the file name extension, else the content's
// magic bytes; the bytes then go to the matching renderer (MuPDF for PDF, HTML and raster
// images; libtiff for TIFF; Pango for text/plain and text/enriched; LibreOffice for Office).
// A type we know whose content does not match it is corrupt (exit 4), a type we do not
// render is unsupported (exit 3). Whole MIME messages (.eml) are the mail part's business
// (mail/fax_parts.hpp): the CLI splits them and renders each part through here.
#pragma once

#include <string>
#include <string_view>

#include "imaging/page.hpp"
#include "imaging/render_options.hpp"
#include "imaging/result.hpp"

namespace imaging {

enum class DocType { pdf, text, enriched, html, tiff, image, office, eml };

std::string_view name(DocType t);

// From a MIME type ("application/pdf", "text/enriched"; parameters ignored).
Result<DocType> type_from_mime(std::string_view mime, const std::string& label);
// From a file name's extension, then the content. `label` names the input in errors.
Result<DocType> detect_type(const std::string& filename, std::string_view content, const std::string& label);

// Renders one document. `filename` is only used for Office (LibreOffice wants the extension).
Result<Pages> render_document(std::string_view bytes, DocType type, const RenderOptions& opt,
                              const std::string& label, const std::string& filename = {});

}  // namespace imaging
