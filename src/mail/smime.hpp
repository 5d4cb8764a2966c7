// smime.hpp — what an S/MIME part (application/pkcs7-mime, smime.p7m) holds, so that mail signed
// the opaque way is faxed as what was signed.
//
// STANDARDS: RFC 8551 (S/MIME 4.0: smime-type signed-data, enveloped-data, authEnveloped-data,
// compressed-data, certs-only), RFC 5652 (CMS), RFC 3274 (compressed data). Parsed with OpenSSL's
// CMS (DER or BER).
// Signed data: the encapsulated content (a MIME entity) is returned; the signature is not verified
// — a fax server has no trust anchors for its senders, and the fax carries no signature; the
// caller notes it in the report. Compressed data is refused by name (OpenSSL's CMS uncompresses
// without a size bound: a few bytes could fill the memory; no mail client sends it). Enveloped
// (encrypted) data cannot be read without the recipient's key: reported as such, never guessed at.
// Anything else (a bare certificate bag, bytes that are not CMS) is an error naming it.
// LIMITS: kMaxSmimeContent bytes of content (the caller's message limit bounds the input).
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace mail {

inline constexpr size_t kMaxSmimeContent = 64u << 20;

struct SmimeContent {
  std::string content;  // the MIME entity inside
};

// The error is a clause for "part N (smime.p7m, ...) ...": "is encrypted (S/MIME enveloped data)
// for its recipients and cannot be read here", "is not readable S/MIME (...)".
[[nodiscard]] fb::Result<SmimeContent, std::string> open_smime(std::string_view der);

}  // namespace mail
