// smime.cpp — the content of an S/MIME CMS blob with OpenSSL (rules: smime.hpp).
#include "mail/smime.hpp"

#include <algorithm>
#include <climits>
#include <memory>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

namespace mail {
namespace {

struct CmsFree {
  void operator()(CMS_ContentInfo* c) const { CMS_ContentInfo_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  const char* r = e ? ERR_reason_error_string(e) : nullptr;
  return r ? r : "not CMS";
}

}  // namespace

fb::Result<SmimeContent, std::string> open_smime(std::string_view der) {
  ERR_clear_error();
  std::unique_ptr<BIO, BioFree> in(BIO_new_mem_buf(der.data(), int(std::min(der.size(), size_t(INT32_MAX)))));
  if (!in) return std::string("cannot be read (out of memory)");
  std::unique_ptr<CMS_ContentInfo, CmsFree> cms(d2i_CMS_bio(in.get(), nullptr));
  if (!cms) return "is not readable S/MIME (" + openssl_reason() + ")";
  const int type = OBJ_obj2nid(CMS_get0_type(cms.get()));
  if (type == NID_pkcs7_enveloped || type == NID_id_smime_ct_authEnvelopedData) {
    return std::string("is encrypted (S/MIME enveloped data) for its recipients and cannot be read here");
  }
  if (type == NID_pkcs7_signed) {
    ASN1_OCTET_STRING** content = CMS_get0_content(cms.get());
    if (!content || !*content) return std::string("is an S/MIME signature without the content it signs");
    const int n = ASN1_STRING_length(*content);
    if (n <= 0) return std::string("is an S/MIME signature of empty content");
    if (size_t(n) > kMaxSmimeContent) return std::string("holds more signed content than a fax can take");
    SmimeContent out;
    out.content.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(*content)), size_t(n));
    return out;
  }
  if (type == NID_id_smime_ct_compressedData) {
    // (Uncompressing has no size bound in OpenSSL's CMS: a small blob could fill the memory.)
    return std::string("is compressed S/MIME (RFC 3274), which is not unpacked here: send it uncompressed");
  }
  const char* name = OBJ_nid2ln(type);
  return std::string("is S/MIME of a kind that holds no document (") + (name ? name : "unknown type") + ")";
}

}  // namespace mail
