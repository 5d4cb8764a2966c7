// tnef.hpp — Outlook's rich-text mail as Exchange sends it outside Outlook: an
// application/ms-tnef part (winmail.dat) that carries the real body and attachments.
//
// STANDARDS: [MS-OXTNEF] (the TNEF stream and its MAPI property lists), [MS-OXRTFCP] (compressed
// RTF), [MS-OXCDATA] (property types), [MS-OXPROPS] (the properties read: PR_BODY,
// PR_RTF_COMPRESSED, PR_BODY_HTML, PR_INTERNET_CPID, PR_ATTACH_LONG_FILENAME, PR_ATTACH_FILENAME,
// PR_DISPLAY_NAME, PR_ATTACH_MIME_TAG, PR_ATTACH_DATA_BIN/_OBJ).
// Read here, from memory, every length checked against its input. (Debian's libytnef 2.0 was
// tried first: it refuses whole streams over fixed caps ordinary mail exceeds — a subject over
// 100 bytes, attBody over 100 kB, a MAPI value over 512 KiB — and leaks memory on repeated
// attributes.) What comes out:
//   - the message body in each form the stream has: RTF (decompressed), plain text (with its
//     code page as an iconv charset name, or UTF-8 when the stream stored it as Unicode), HTML
//     (likewise);
//   - the attachments in stream order, each with its file name and MIME type when given; an
//     attachment that is itself a TNEF stream (an attached Outlook item) is unpacked in its place,
//     its body first, to kMaxTnefDepth levels.
// Malformed, truncated or checksum-failing streams are an error naming the problem (never a
// crash: fuzz_tnef).
// LIMITS: kMaxTnefFiles attachments in all; input size is bounded by the caller (the mail's limit).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace mail {

inline constexpr size_t kMaxTnefFiles = 200;
inline constexpr int kMaxTnefDepth = 4;

struct TnefFile {
  std::string name;       // the long file name, else the short one ("" when none)
  std::string mime_type;  // lower-cased, as the stream gives it ("" when none)
  std::string data;
};

struct TnefBody {
  std::optional<std::string> rtf;
  std::optional<std::string> plain;
  std::string plain_charset;  // iconv name: "utf-8", "windows-1252", ...
  std::optional<std::string> html;
  std::string html_charset;  // iconv name, as plain_charset
};

// One body or attachment, in the order Outlook showed them: the body first.
struct TnefItem {
  std::optional<TnefBody> body;  // set: a body; else `file`
  TnefFile file;
};

// The TNEF signature (0x223E9F78, little-endian) at the start of the bytes.
[[nodiscard]] bool is_tnef(std::string_view bytes);

// The stream's bodies and attachments; the error is a sentence ("the TNEF stream is truncated").
[[nodiscard]] fb::Result<std::vector<TnefItem>, std::string> unpack_tnef(std::string_view bytes);

// PR_RTF_COMPRESSED's bytes as RTF ([MS-OXRTFCP]), at most max_out bytes; what a damaged stream
// yields up to the damage; nullopt for a header that is not one. Exposed for tests.
[[nodiscard]] std::optional<std::string> decompress_rtf(std::string_view compressed, size_t max_out);

}  // namespace mail
