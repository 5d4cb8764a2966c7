// unwrap_test.cpp — mail that wraps its real content: Outlook's TNEF (mail/tnef.hpp), S/MIME
// (mail/smime.hpp), HTML with pasted pictures (cid:), through mail::select_fax_parts. Inputs are
// tests/data/mail/*.eml (written by make_corpus.py) and small blobs built here.
#include "mail/fax_parts.hpp"
#include "mail/smime.hpp"
#include "mail/tnef.hpp"

#include <glib.h>
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "common/test_data.hpp"

namespace mail {
namespace {

using K = FaxPartKind;

std::string eml(const std::string& name) { return testdata::slurp(testdata::data("mail/" + name + ".eml")); }

std::string labels(const FaxParts& p) {
  std::string out;
  for (const auto& part : p.parts) out += part.label + "\n";
  return out;
}

TEST(CompressedRtf, DecodesTheSpecificationsExample) {
  // [MS-OXRTFCP] §3.1.1's compressed stream.
  const unsigned char b[] = {0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1,
                             0xc5, 0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32,
                             0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62,
                             0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0};
  auto rtf = decompress_rtf(std::string_view(reinterpret_cast<const char*>(b), sizeof b), 1000);
  ASSERT_TRUE(rtf);
  EXPECT_EQ(*rtf, "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n");
}

TEST(CompressedRtf, LyingSizesReadNothingOutsideTheInput) {
  // A header claiming 4 GiB of RTF, then a cut stream: what is there, and no more.
  std::string s("\xff\xff\xff\x0f\xff\xff\xff\xff" "LZFu" "\0\0\0\0" "\x00" "ab", 19);
  auto rtf = decompress_rtf(s, 1u << 20);
  ASSERT_TRUE(rtf);
  EXPECT_EQ(*rtf, "ab");
  std::string stored("\x10\0\0\0\xff\xff\xff\x7f" "MELA" "\0\0\0\0" "{\\rtf1}", 23);
  EXPECT_EQ(decompress_rtf(stored, 1u << 20).value_or("?"), "{\\rtf1}");
  EXPECT_FALSE(decompress_rtf("short", 100));
  EXPECT_FALSE(decompress_rtf(std::string(16, 'x'), 100));  // neither MELA nor LZFu
}

TEST(Tnef, ExchangesTextBodyThenTheAttachmentNotTheRichTextCopy) {
  auto p = select_fax_parts(eml("outlook-tnef"));
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->parts.size(), 2u) << labels(*p);
  EXPECT_EQ(p->parts[0].kind, K::text_plain);
  EXPECT_EQ(p->parts[1].kind, K::pdf);
  EXPECT_EQ(p->parts[1].filename, "order.pdf");
  EXPECT_EQ(p->parts[1].label, "part 2 (winmail.dat, application/ms-tnef), item 2 (order.pdf, application/pdf)");
  EXPECT_TRUE(p->parts[1].data.starts_with("%PDF-"));
  ASSERT_EQ(p->skipped.size(), 1u);
  EXPECT_EQ(p->skipped[0].label, "part 2 (winmail.dat, application/ms-tnef), item 1 (the rich-text copy of the body)");
}

TEST(Tnef, AMessageThatIsAllTnefFaxesItsRichTextThenItsPicture) {
  auto p = select_fax_parts(eml("outlook-tnef-only"));
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->parts.size(), 2u) << labels(*p);
  EXPECT_EQ(p->parts[0].kind, K::office);
  EXPECT_EQ(p->parts[0].content_type, "application/rtf");
  EXPECT_TRUE(p->parts[0].data.starts_with("{\\rtf1")) << p->parts[0].data;
  EXPECT_NE(p->parts[0].data.find("weekly report"), std::string::npos);
  EXPECT_EQ(p->parts[1].kind, K::image);
  EXPECT_EQ(p->parts[1].filename, "chart.png");
  // Without an Office renderer, the plain copy of the body.
  SelectOptions no_office;
  no_office.office = false;
  auto q = select_fax_parts(eml("outlook-tnef-only"), no_office);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->parts[0].kind, K::text_plain);
  EXPECT_EQ(q->parts[0].data, "The plain copy.");
  EXPECT_EQ(q->parts[0].charset, "cp1252");  // (windows-1252 as GMime names it for iconv)
}

TEST(Tnef, ADamagedStreamIsRefusedByName) {
  std::string m = eml("outlook-tnef-only");
  // Cut the base64 body short: the stream ends inside an attribute.
  m.resize(m.find("\r\n\r\n") + 4 + 200);
  auto p = select_fax_parts(m);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, PartsErrc::unrenderable);
  EXPECT_EQ(p.error().message,
            "part 1 (winmail.dat, application/ms-tnef) cannot be faxed: the TNEF stream is truncated");
  auto u = unpack_tnef("not tnef at all");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error(), "it does not start with the TNEF signature");
}

// A TNEF stream built attribute by attribute: level, id, length, data, checksum ([MS-OXTNEF] §2.1.3).
std::string tnef_attr(unsigned level, uint32_t id, const std::string& data, int checksum_error = 0) {
  auto le32 = [](uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; };
  unsigned sum = 0;
  for (char c : data) sum += static_cast<unsigned char>(c);
  sum += unsigned(checksum_error);
  return std::string(1, char(level)) + le32(id) + le32(uint32_t(data.size())) + data +
         std::string{char(sum), char(sum >> 8)};
}
const std::string kTnefHead("\x78\x9f\x3e\x22\x01\x00", 6);
constexpr uint32_t kAttBody = 0x0002800c, kAttSubject = 0x00018004, kAttMapiProps = 0x00069003,
                   kAttRenddata = 0x00069002, kAttTitle = 0x00018010, kAttAttachment = 0x00069005;

std::string le32(uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; }
std::string padded(std::string s) { return s + std::string((4 - s.size() % 4) % 4, '\0'); }
// A MAPI property list ([MS-OXTNEF] §2.1.3.4) of single-valued variable-length properties.
std::string mapi(const std::vector<std::tuple<unsigned, unsigned, std::string>>& props) {
  std::string out = le32(uint32_t(props.size()));
  for (const auto& [type, id, value] : props) {
    out += le32(id << 16 | type) + le32(1) + le32(uint32_t(value.size())) + padded(value);
  }
  return out;
}
std::string utf16le(const std::u16string& s) {
  std::string out;
  for (char16_t c : s) out += {char(c), char(c >> 8)};
  return out + std::string(2, '\0');
}

TEST(Tnef, AStreamIsReadWithinItsBytesAndItsChecksums) {
  const std::string body = tnef_attr(1, kAttBody, "Plain body");
  auto ok = unpack_tnef(kTnefHead + body);
  ASSERT_TRUE(ok) << ok.error();
  ASSERT_EQ(ok->size(), 1u);
  ASSERT_TRUE((*ok)[0].body);
  EXPECT_EQ((*ok)[0].body->plain.value_or("?"), "Plain body");
  EXPECT_EQ((*ok)[0].body->plain_charset, "windows-1252");
  auto bad_sum = unpack_tnef(kTnefHead + tnef_attr(1, kAttBody, "Plain body", 1));
  ASSERT_FALSE(bad_sum);
  EXPECT_EQ(bad_sum.error(), "the TNEF stream is damaged (an attribute's checksum does not match)");
  auto cut = unpack_tnef(kTnefHead + body.substr(0, body.size() - 1));
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error(), "the TNEF stream is truncated");
  // A property list that claims more than it holds, and one with a type no writer uses.
  auto lying = unpack_tnef(kTnefHead + tnef_attr(1, kAttMapiProps, le32(3) + le32(0x1000001f) + le32(1) + le32(4000)));
  ASSERT_FALSE(lying);
  EXPECT_EQ(lying.error(), "a MAPI property list in the TNEF stream is damaged");
  auto odd = unpack_tnef(kTnefHead + tnef_attr(1, kAttMapiProps, le32(1) + le32(0x10000077) + le32(0)));
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error(), "a MAPI property in the TNEF stream has an unknown type (119)");
}

TEST(Tnef, OrdinaryOutlookSizesAreRead) {
  // What libytnef 2.0 refused whole: a 150-byte subject, a 200 kB attBody, a 600 kB attachment
  // held as PR_ATTACH_DATA_BIN, a Unicode body in PR_BODY.
  const std::string big_body(200000, 'b'), big_file = "%PDF-1.4\n" + std::string(600000, 'p');
  const std::string stream =
      kTnefHead + tnef_attr(1, kAttSubject, std::string(150, 's') + '\0') + tnef_attr(1, kAttBody, big_body) +
      tnef_attr(1, kAttMapiProps, mapi({{0x1f, 0x1000, utf16le(u"Price 5\u20ac, \u6771\u4eac \U0001F600")}})) +
      tnef_attr(2, kAttRenddata, std::string(14, '\0')) + tnef_attr(2, kAttTitle, std::string("LONGNA~1.PDF\0", 13)) +
      tnef_attr(2, kAttAttachment, mapi({{0x102, 0x3701, big_file}, {0x1e, 0x3707, std::string("Long name.pdf\0", 14)}}));
  auto items = unpack_tnef(stream);
  ASSERT_TRUE(items) << items.error();
  ASSERT_EQ(items->size(), 2u);
  ASSERT_TRUE((*items)[0].body);
  EXPECT_EQ((*items)[0].body->plain.value_or("?"), "Price 5\u20ac, \u6771\u4eac \U0001F600");  // PR_BODY over attBody
  EXPECT_EQ((*items)[0].body->plain_charset, "utf-8");
  EXPECT_EQ((*items)[1].file.name, "Long name.pdf");
  EXPECT_EQ((*items)[1].file.data, big_file);
}

// Exchange's shape: a text body beside winmail.dat, whose own body is a copy — but an Outlook item
// attached inside it has a body of its own, which is faxed.
TEST(Tnef, TheBodyOfAnAttachedOutlookItemIsFaxed) {
  const std::string inner = kTnefHead + tnef_attr(1, kAttBody, "The attached memo.");
  const std::string iid(16, '\x0b');
  const std::string outer = kTnefHead + tnef_attr(1, kAttBody, "Copy of the text body.") +
                            tnef_attr(2, kAttRenddata, std::string(14, '\0')) +
                            tnef_attr(2, kAttAttachment, mapi({{0x0d, 0x3701, iid + inner}}));
  gchar* b64 = g_base64_encode(reinterpret_cast<const guchar*>(outer.data()), outer.size());
  const std::string m = std::string("From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\n") +
                        "--x\nContent-Type: text/plain\n\nThe text body.\n--x\nContent-Type: application/ms-tnef\n"
                        "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=winmail.dat\n\n" +
                        b64 + "\n--x--\n";
  g_free(b64);
  auto p = select_fax_parts(m);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->parts.size(), 2u) << labels(*p);
  EXPECT_EQ(p->parts[0].data, "The text body.");
  EXPECT_EQ(p->parts[1].data, "The attached memo.");
  EXPECT_EQ(p->parts[1].label, "part 2 (winmail.dat, application/ms-tnef), item 2 (the body)");
  ASSERT_EQ(p->skipped.size(), 1u);
  EXPECT_EQ(p->skipped[0].label, "part 2 (winmail.dat, application/ms-tnef), item 1 (the rich-text copy of the body)");
}

TEST(Smime, OpaqueSignedContentIsFaxedAndTheSignatureNoted) {
  auto p = select_fax_parts(eml("smime-opaque-signed"));
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->parts.size(), 1u) << labels(*p);
  EXPECT_EQ(p->parts[0].kind, K::text_plain);
  EXPECT_EQ(p->parts[0].data, "Signed purchase order number 4711 for forty chairs.\r\n");
  EXPECT_EQ(p->parts[0].label, "part 2 (text/plain)");
  ASSERT_EQ(p->skipped.size(), 1u);
  EXPECT_EQ(p->skipped[0].label, "part 1 (smime.p7m, application/pkcs7-mime)");
  EXPECT_EQ(p->skipped[0].reason, "S/MIME signature (the signed content is faxed; the signature is not checked)");
}

TEST(Smime, EncryptedAndBrokenBlobsAreRefusedByName) {
  auto p = select_fax_parts(eml("smime-encrypted"));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message,
            "part 1 (smime.p7m, application/pkcs7-mime) is encrypted (S/MIME enveloped data) for its recipients and "
            "cannot be read here");
  std::string broken = eml("smime-opaque-signed");
  broken.resize(broken.size() - 300);  // the DER cut short
  auto q = select_fax_parts(broken);
  ASSERT_FALSE(q);
  EXPECT_TRUE(q.error().message.starts_with("part 1 (smime.p7m, application/pkcs7-mime) is not readable S/MIME ("))
      << q.error().message;
  // A detached signature's blob alone holds no content.
  auto d = open_smime(testdata::slurp(testdata::data("../../fuzz/corpus/smime/detached")));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), "is an S/MIME signature without the content it signs");
}

TEST(Smime, ASignedFileIsFaxedAsTheFileItHolds) {
  auto p = select_fax_parts(eml("cades-signed-pdf"));
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->parts.size(), 2u) << labels(*p);
  EXPECT_EQ(p->parts[1].kind, K::pdf);
  EXPECT_EQ(p->parts[1].filename, "contract.pdf");
  EXPECT_EQ(p->parts[1].label, "part 2 (contract.pdf.p7m, application/pkcs7-mime), the signed file");
  EXPECT_TRUE(p->parts[1].data.starts_with("%PDF-"));
}

TEST(InlinePictures, GmailHtmlIsFaxedWithItsPictureInPlace) {
  auto p = select_fax_parts(eml("html-cid-image"));
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->parts.size(), 1u) << labels(*p);
  EXPECT_EQ(p->parts[0].kind, K::html);
  EXPECT_NE(p->parts[0].data.find("<img src=\"data:image/png;base64,iVBORw0KGgo"), std::string::npos) << p->parts[0].data;
  EXPECT_EQ(p->parts[0].data.find("cid:"), std::string::npos);
  EXPECT_TRUE(p->skipped.empty());  // the picture is in the page, not skipped
}

TEST(InlinePictures, OutlooksHtmlBesideItsPicturesIsChosenOverTheText) {
  auto p = select_fax_parts(eml("outlook-inline-image"));
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->parts.size(), 1u) << labels(*p);
  EXPECT_EQ(p->parts[0].kind, K::html);
  EXPECT_NE(p->parts[0].data.find("src=\"data:image/png;base64,"), std::string::npos);
}

TEST(InlinePictures, APictureUsedManyTimesStopsBeingCopiedAtTheBudget) {
  const std::string png = "\x89PNG\r\n\x1a\n0123456789";
  std::string html = "<p>";
  for (int i = 0; i < 50; ++i) html += "<img src=\"cid:p\">";
  std::string m = std::string("From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary=r\n\n") +
                  "--r\nContent-Type: text/html\n\n" + html + "\n--r\nContent-Type: image/png\nContent-ID: <p>\n\n" +
                  png + "\n--r--\n";
  auto p = select_fax_parts(m);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->parts.size(), 1u);
  size_t copies = 0;
  for (size_t at = 0; (at = p->parts[0].data.find("data:image/png", at)) != std::string::npos; ++at) ++copies;
  EXPECT_EQ(copies, 4u);  // four times the picture's size, then cid: left as it was
  EXPECT_NE(p->parts[0].data.find("cid:p"), std::string::npos);
}

// The budget is the message's: thirty HTML parts each showing the picture once get four copies in
// all, not thirty; and a second picture's first use is paid before the first one's repeats.
TEST(InlinePictures, TheBudgetIsTheMessagesAndFirstUsesComeFirst) {
  const std::string png = "\x89PNG\r\n\x1a\n0123456789";
  std::string m = "From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary=r\n\n"
                  "--r\nContent-Type: multipart/mixed; boundary=m\n\n";
  for (int i = 0; i < 30; ++i) m += "--m\nContent-Type: text/html\n\n<p><img src=\"cid:p\"></p>\n";
  m += "--m--\n--r\nContent-Type: image/png\nContent-ID: <p>\n\n" + png + "\n--r--\n";
  auto p = select_fax_parts(m);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->parts.size(), 30u);
  size_t copies = 0;
  for (const auto& part : p->parts) copies += part.data.find("data:image/png") != std::string::npos;
  EXPECT_EQ(copies, 4u);

  std::string html = "<p>";
  for (int i = 0; i < 20; ++i) html += "<img src=\"cid:a\">";
  html += "<img src=\"CID:B%40x\">";  // RFC 2392: percent-encoded, any case
  const std::string m2 = std::string("From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary=r\n\n") +
                         "--r\nContent-Type: text/html\n\n" + html +
                         "\n--r\nContent-Type: image/png\nContent-ID: <a>\n\n" + png +
                         "\n--r\nContent-Type: image/gif\nContent-ID: <b@X>\n\nGIF89a0123456789\n--r--\n";
  auto q = select_fax_parts(m2);
  ASSERT_TRUE(q) << q.error().message;
  ASSERT_EQ(q->parts.size(), 1u);
  EXPECT_NE(q->parts[0].data.find("data:image/gif"), std::string::npos);
  EXPECT_TRUE(q->skipped.empty());
}

// A picture the HTML names by Content-Location cannot be put in place: it is reported, not lost.
TEST(InlinePictures, APictureByContentLocationIsReported) {
  const std::string m =
      "From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary=r\n\n"
      "--r\nContent-Type: text/html\n\n<p><img src=\"http://x.test/plan.png\"></p>\n"
      "--r\nContent-Type: image/png\nContent-ID: <p>\nContent-Location: http://x.test/plan.png\n\n\x89PNG\r\n\x1a\n01\n--r--\n";
  auto p = select_fax_parts(m);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->parts.size(), 1u);
  ASSERT_EQ(p->skipped.size(), 1u);
  EXPECT_EQ(p->skipped[0].reason, "inline image of the HTML body");
}

}  // namespace
}  // namespace mail
