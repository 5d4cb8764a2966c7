// office.hpp — Office documents (.docx .doc .odt .rtf .xlsx .xls .ods .pptx .ppt .odp) to PDF
// through LibreOffice headless, the one faithful open renderer of these formats.
//
// Each conversion runs `soffice --headless --convert-to pdf` in a fresh temporary directory
// with its own throw-away user profile (so conversions never share state or lock each other
// out), in its own process group, killed as a whole at the time limit.
// LIMITS: kOfficeTimeoutS wall-clock seconds per document.
#pragma once

#include <string>
#include <string_view>

#include "imaging/result.hpp"

namespace imaging {

inline constexpr int kOfficeTimeoutS = 120;

bool office_available();

// `ext` is the file extension LibreOffice should see ("docx"). Returns the PDF bytes.
Result<std::string> office_to_pdf(std::string_view bytes, const std::string& ext, const std::string& label,
                                  int timeout_s = kOfficeTimeoutS);

}  // namespace imaging
