// fax_parts_test.cpp — mail::select_fax_parts: which parts of a mail are faxed, skipped, refused.
//
// Messages are built inline; each test asserts the exact parts (kind, type, charset, name, label,
// decoded bytes), the exact skipped list, or the exact error.
#include "mail/fax_parts.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mail {
namespace {

using K = FaxPartKind;

// --- Building messages -------------------------------------------------------------------------------

std::string base64(const std::string& in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += abc[n >> 18 & 63];
    out += abc[n >> 12 & 63];
    out += i + 1 < in.size() ? abc[n >> 6 & 63] : '=';
    out += i + 2 < in.size() ? abc[n & 63] : '=';
    if (out.size() % 77 == 76) out += '\n';
  }
  return out + "\n";
}

const char* kHead =
    "From: Alice <alice@example.com>\n"
    "To: FAX=+15550100@fax.localhost\n"
    "Subject: test\n"
    "MIME-Version: 1.0\n";

// A MIME entity: header lines (each ending "\n") and a body.
std::string part(const std::string& headers, const std::string& body) {
  return headers + "\n" + body;
}

std::string multipart(const std::string& subtype, const std::string& boundary,
                      const std::vector<std::string>& kids, const std::string& extra_params = "") {
  std::string s =
      "Content-Type: multipart/" + subtype + "; boundary=\"" + boundary + "\"" + extra_params + "\n\n";
  for (const auto& k : kids) s += "--" + boundary + "\n" + k + "\n";
  return s + "--" + boundary + "--\n";
}

std::string message(const std::string& top_entity) {
  return kHead + top_entity;
}

std::string plain(const std::string& text) {
  return part("Content-Type: text/plain; charset=utf-8\n", text);
}

std::string html(const std::string& text) {
  return part("Content-Type: text/html; charset=utf-8\n", text);
}

std::string attachment(const std::string& type, const std::string& name, const std::string& bytes) {
  return part("Content-Type: " + type + "; name=\"" + name +
                  "\"\n"
                  "Content-Disposition: attachment; filename=\"" +
                  name +
                  "\"\n"
                  "Content-Transfer-Encoding: base64\n",
              base64(bytes));
}

// A string literal's bytes, embedded NULs included.
template <size_t N>
std::string bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

const std::string kPdf = bytes("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n\x00\x01\xFF\r\nstream\n%%EOF\n");
const std::string kPng = bytes("\x89PNG\r\n\x1A\n\0\0\0\rIHDR");
const std::string kZip = bytes("PK\x03\x04\x14\0\0\0\x08\0word/document.xml");
const std::string kDocxType = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

// --- Checking results --------------------------------------------------------------------------------

FaxParts ok(const std::string& msg, const SelectOptions& opt = {}) {
  auto r = select_fax_parts(msg, opt);
  if (!r) ADD_FAILURE() << "unexpected error: " << r.error().message;
  return r ? std::move(r.value()) : FaxParts{};
}

PartsError err(const std::string& msg, const SelectOptions& opt = {}) {
  auto r = select_fax_parts(msg, opt);
  if (r) {
    ADD_FAILURE() << "unexpected success with " << r->parts.size() << " parts";
    return {};
  }
  return r.error();
}

std::vector<std::string> labels(const FaxParts& p) {
  std::vector<std::string> out;
  for (const auto& x : p.parts) out.push_back(x.label);
  return out;
}

std::vector<std::string> skipped(const FaxParts& p) {
  std::vector<std::string> out;
  for (const auto& x : p.skipped) out.push_back(x.label + ": " + x.reason);
  return out;
}

using Strings = std::vector<std::string>;

// --- Bodies ------------------------------------------------------------------------------------------

TEST(FaxParts, PlainBodyOnly) {
  FaxParts p = ok(message("Content-Type: text/plain; charset=US-ASCII\n\nHello fax.\n"));
  ASSERT_EQ(p.parts.size(), 1u);
  EXPECT_EQ(p.parts[0].kind, K::text_plain);
  EXPECT_EQ(p.parts[0].content_type, "text/plain");
  EXPECT_EQ(p.parts[0].charset, "us-ascii");
  EXPECT_EQ(p.parts[0].filename, "");
  EXPECT_EQ(p.parts[0].label, "part 1 (text/plain)");
  EXPECT_EQ(p.parts[0].data, "Hello fax.\n");
  EXPECT_TRUE(p.skipped.empty());
}

TEST(FaxParts, NoMimeHeadersIsPlainTextWithoutCharset) {
  FaxParts p = ok("From: a@example.com\nSubject: x\n\nJust text.\n");
  ASSERT_EQ(p.parts.size(), 1u);
  EXPECT_EQ(p.parts[0].kind, K::text_plain);
  EXPECT_EQ(p.parts[0].charset, "");
  EXPECT_EQ(p.parts[0].data, "Just text.\n");
}

// A body with no header block at all, and a header block that runs into the body without the
// blank line: read as Postfix and Python's email package read them.
TEST(FaxParts, HeaderlessMailAndAHeaderBlockWithoutItsBlankLine) {
  FaxParts body_only = ok("Please fax this to the office.\r\nThank you: Bob\r\n");
  ASSERT_EQ(body_only.parts.size(), 1u);
  EXPECT_EQ(body_only.parts[0].kind, K::text_plain);
  EXPECT_EQ(body_only.parts[0].data, "Please fax this to the office.\r\nThank you: Bob\r\n");
  FaxParts runs_on = ok("From: Bob <bob@example.com>\nSubject: a long\n  subject\nDear all,\nsee you.\n");
  ASSERT_EQ(runs_on.parts.size(), 1u);
  EXPECT_EQ(runs_on.parts[0].data, "Dear all,\nsee you.\n");
  EXPECT_EQ(runs_on.header.from, "Bob <bob@example.com>");
  EXPECT_EQ(runs_on.header.subject, "a long subject");
  // A field name may have white space before its colon; a line starting with white space
  // continues the field above; the first other line is the body.
  FaxParts spaced = ok("Subject : spaced\nX-Note: one\n\ttwo\n Not a field\nBody line\n");
  ASSERT_EQ(spaced.parts.size(), 1u);
  EXPECT_EQ(spaced.parts[0].data, "Body line\n");
}

TEST(FaxParts, TextEnrichedBody) {
  FaxParts p = ok(message("Content-Type: text/enriched\n\n<bold>Now</bold> is the time\n"));
  ASSERT_EQ(p.parts.size(), 1u);
  EXPECT_EQ(p.parts[0].kind, K::text_enriched);
  EXPECT_EQ(p.parts[0].content_type, "text/enriched");
  EXPECT_EQ(p.parts[0].data, "<bold>Now</bold> is the time\n");
}

TEST(FaxParts, WhitespaceOnlyBodyIsSkippedSilently) {
  FaxParts p = ok(message(
      multipart("mixed", "b1", {plain(" \t\r\n\n  "), attachment("application/pdf", "a.pdf", kPdf)})));
  EXPECT_EQ(labels(p), (Strings{"part 2 (a.pdf, application/pdf)"}));
  EXPECT_TRUE(p.skipped.empty());
}

TEST(FaxParts, PlainAndBase64PdfDecodedExactly) {
  FaxParts p = ok(message(multipart(
      "mixed", "b1", {plain("See the report.\n"), attachment("application/pdf", "report.pdf", kPdf)})));
  ASSERT_EQ(p.parts.size(), 2u);
  EXPECT_EQ(p.parts[0].kind, K::text_plain);
  EXPECT_EQ(p.parts[0].data, "See the report.\n");
  EXPECT_EQ(p.parts[0].charset, "utf-8");
  EXPECT_EQ(p.parts[1].kind, K::pdf);
  EXPECT_EQ(p.parts[1].content_type, "application/pdf");
  EXPECT_EQ(p.parts[1].charset, "");
  EXPECT_EQ(p.parts[1].filename, "report.pdf");
  EXPECT_EQ(p.parts[1].label, "part 2 (report.pdf, application/pdf)");
  EXPECT_EQ(p.parts[1].data, kPdf);
}

TEST(FaxParts, QuotedPrintableLatin1KeepsCharsetBytes) {
  FaxParts p =
      ok(message("Content-Type: text/plain; charset=ISO-8859-1\n"
                 "Content-Transfer-Encoding: quoted-printable\n\n"
                 "Caf=E9 cr=E8me=\n br=FBl=E9e\n"));
  ASSERT_EQ(p.parts.size(), 1u);
  EXPECT_EQ(p.parts[0].charset, "iso-8859-1");
  EXPECT_EQ(p.parts[0].data,
            "Caf\xE9 cr\xE8me br\xFBl\xE9"
            "e\n");
}

// Whatever the label, a text part leaves with a charset iconv opens: GMime's aliases first, then
// windows-1252 for a label no one knows (the message was accepted: it must not fail later).
TEST(FaxParts, CharsetLabelsAreMadeUsable) {
  auto charset_of = [](const std::string& label) {
    FaxParts p = ok(message("Content-Type: text/plain; charset=\"" + label + "\"\n\nCaf\xE9\n"));
    return p.parts.empty() ? std::string("(none)") : p.parts[0].charset;
  };
  EXPECT_EQ(charset_of("UTF-8"), "utf-8");
  EXPECT_EQ(charset_of("latin1"), "latin1");
  EXPECT_EQ(charset_of("ks_c_5601-1987"), "euc-kr");  // GMime's aliases: Outlook's Korean label
  EXPECT_EQ(charset_of("iso-8859-8-i"), "iso-8859-8");
  EXPECT_EQ(charset_of("gb2312"), "gbk");
  EXPECT_EQ(charset_of("unknown-8bit"), "windows-1252");
  EXPECT_EQ(charset_of("windoes-1252"), "windows-1252");
  EXPECT_EQ(charset_of("x-no-such-charset"), "windows-1252");
  EXPECT_EQ(charset_of(std::string(60, 'x')), "windows-1252");  // not asked of GMime (it caches labels)
  FaxParts utf8 = ok(message("Content-Type: text/plain; charset=unknown-8bit\n\nCaf\xC3\xA9\n"));
  ASSERT_EQ(utf8.parts.size(), 1u);
  EXPECT_EQ(utf8.parts[0].charset, "utf-8");  // "unknown-8bit" text that is valid UTF-8
  FaxParts none = ok(message("Content-Type: text/plain\n\nHello\n"));
  ASSERT_EQ(none.parts.size(), 1u);
  EXPECT_EQ(none.parts[0].charset, "");
}

TEST(FaxParts, Rfc2231FileName) {
  std::string pdf = part(
      "Content-Type: application/pdf\n"
      "Content-Disposition: attachment;\n"
      " filename*0*=UTF-8''R%C3%A9sum%C3%A9%20;\n"
      " filename*1=\"2024.pdf\"\n"
      "Content-Transfer-Encoding: base64\n",
      base64(kPdf));
  FaxParts p = ok(message(multipart("mixed", "b1", {plain("cv\n"), pdf})));
  ASSERT_EQ(p.parts.size(), 2u);
  EXPECT_EQ(p.parts[1].filename, "R\xC3\xA9sum\xC3\xA9 2024.pdf");
  EXPECT_EQ(p.parts[1].label, "part 2 (R\xC3\xA9sum\xC3\xA9 2024.pdf, application/pdf)");
}

TEST(FaxParts, HtmlAttachmentIsHtml) {
  FaxParts p = ok(
      message(multipart("mixed", "b1", {plain("x\n"), attachment("text/html", "page.html", "<p>hi</p>")})));
  ASSERT_EQ(p.parts.size(), 2u);
  EXPECT_EQ(p.parts[1].kind, K::html);
  EXPECT_EQ(p.parts[1].filename, "page.html");
  EXPECT_EQ(p.parts[1].data, "<p>hi</p>");
}

// --- multipart/alternative ---------------------------------------------------------------------------

TEST(FaxParts, AlternativeChoosesPlainOverHtml) {
  FaxParts p =
      ok(message(multipart("alternative", "a1", {plain("Plain words.\n"), html("<p>Rich words.</p>\n")})));
  ASSERT_EQ(p.parts.size(), 1u);
  EXPECT_EQ(p.parts[0].kind, K::text_plain);
  EXPECT_EQ(p.parts[0].label, "part 1 (text/plain)");
  EXPECT_EQ(p.parts[0].data, "Plain words.\n");
  EXPECT_TRUE(p.skipped.empty());
}

TEST(FaxParts, AlternativePrefersLastTextAlternative) {
  std::string enriched = part("Content-Type: text/enriched\n", "<bold>Rich</bold>\n");
  FaxParts p =
      ok(message(multipart("alternative", "a1", {plain("Plain.\n"), enriched, html("<b>Rich</b>\n")})));
  ASSERT_EQ(p.parts.size(), 1u);
  EXPECT_EQ(p.parts[0].kind, K::text_enriched);
  EXPECT_EQ(p.parts[0].label, "part 2 (text/enriched)");
}

TEST(FaxParts, AlternativeHtmlOnlyChoosesHtml) {
  FaxParts p = ok(message(multipart("alternative", "a1", {html("<p>Only HTML.</p>\n")})));
  ASSERT_EQ(p.parts.size(), 1u);
  EXPECT_EQ(p.parts[0].kind, K::html);
  EXPECT_EQ(p.parts[0].content_type, "text/html");
  EXPECT_EQ(p.parts[0].charset, "utf-8");
  EXPECT_EQ(p.parts[0].data, "<p>Only HTML.</p>\n");
}

std::string logo_png() {
  return part(
      "Content-Type: image/png; name=\"logo.png\"\n"
      "Content-Disposition: inline; filename=\"logo.png\"\n"
      "Content-ID: <logo@example.com>\n"
      "Content-Transfer-Encoding: base64\n",
      base64(kPng));
}

TEST(FaxParts, HtmlWithPicturesChosenOverThePlainAlternative) {
  std::string related =
      multipart("related", "r1", {html("<img src=\"cid:logo@example.com\">\n"), logo_png()});
  FaxParts p = ok(message(multipart("alternative", "a1", {plain("Hello.\n"), related})));
  EXPECT_EQ(labels(p), (Strings{"part 2 (text/html)"}));
  EXPECT_EQ(p.parts[0].data, "<img src=\"data:image/png;base64," + base64(kPng).substr(0, base64(kPng).size() - 1) + "\">\n");
  EXPECT_EQ(skipped(p), Strings{});
}

TEST(FaxParts, RelatedImageSkippedWhenPlainChosenAndTheHtmlShowsNoPicture) {
  // The HTML names the image only by Content-Location: not a picture it shows by cid:.
  std::string img = part("Content-Type: image/png\nContent-Location: http://x/logo.png\nContent-Transfer-Encoding: base64\n",
                         base64(kPng));
  std::string related = multipart("related", "r1", {html("<img src=\"http://x/logo.png\">\n"), img});
  FaxParts p = ok(message(multipart("alternative", "a1", {plain("Hello.\n"), related})));
  EXPECT_EQ(labels(p), (Strings{"part 1 (text/plain)"}));
  EXPECT_EQ(skipped(p), (Strings{"part 3 (image/png): image used only by the HTML alternative"}));
}

TEST(FaxParts, HtmlChosenItsInlineImageSkippedUnreferencedImageFaxed) {
  std::string photo = attachment("image/png", "photo.png", kPng);
  std::string related =
      multipart("related", "r1", {html("<IMG SRC='CID:logo%40example.com'>\n"), logo_png(), photo});
  FaxParts p = ok(message(related));
  EXPECT_EQ(labels(p), (Strings{"part 1 (text/html)", "part 3 (photo.png, image/png)"}));
  EXPECT_EQ(p.parts[1].kind, K::image);
  EXPECT_EQ(p.parts[1].data, kPng);
  EXPECT_TRUE(p.parts[0].data.starts_with("<IMG SRC='data:image/png;base64,")) << p.parts[0].data;
  EXPECT_EQ(skipped(p), Strings{});  // shown in place
}

TEST(FaxParts, RelatedRootNamedByStart) {
  std::string root =
      part("Content-Type: text/html\nContent-ID: <root@x>\n", "<img src=\"cid:logo@example.com\">\n");
  FaxParts p = ok(message(multipart("related", "r1", {logo_png(), root}, "; start=\"<root@x>\"")));
  EXPECT_EQ(labels(p), (Strings{"part 2 (text/html)"}));
  EXPECT_NE(p.parts[0].data.find("data:image/png;base64,"), std::string::npos);
  EXPECT_EQ(skipped(p), Strings{});
}

TEST(FaxParts, StyleSheetAndContentLocationResourcesSkipped) {
  std::string css = part("Content-Type: text/css\nContent-ID: <style@x>\n", "p { color: red }\n");
  std::string img = part("Content-Type: image/gif\nContent-Location: images/Dot.gif\n", "GIF89a");
  std::string root = html("<link rel=stylesheet href=\"cid:style@x\"><img src=\"images/dot.gif\">\n");
  FaxParts p = ok(message(multipart("related", "r1", {root, css, img})));
  EXPECT_EQ(labels(p), (Strings{"part 1 (text/html)"}));
  EXPECT_EQ(skipped(p), (Strings{"part 2 (text/css): resource of the HTML body",
                                 "part 3 (image/gif): inline image of the HTML body"}));
}

TEST(FaxParts, CalendarAlternativeOfAnInvitationIsListed) {
  std::string ics = part("Content-Type: text/calendar; method=REQUEST\n", "BEGIN:VCALENDAR\nEND:VCALENDAR\n");
  FaxParts p =
      ok(message(multipart("alternative", "a1", {plain("Meeting.\n"), html("<p>Meeting.</p>\n"), ics})));
  EXPECT_EQ(labels(p), (Strings{"part 1 (text/plain)"}));
  EXPECT_EQ(skipped(p), (Strings{"part 3 (text/calendar): calendar"}));
}

TEST(FaxParts, AttachmentInsideUnchosenHtmlAlternativeIsStillFaxed) {
  // Apple Mail: the PDF sits between two HTML pieces and appears only in the HTML alternative.
  std::string rich = multipart(
      "mixed", "m1",
      {html("<p>Before</p>\n"), attachment("application/pdf", "a.pdf", kPdf), html("<p>After</p>\n")});
  FaxParts p = ok(message(multipart("alternative", "a1", {plain("Before\n<a.pdf>\nAfter\n"), rich})));
  EXPECT_EQ(labels(p), (Strings{"part 1 (text/plain)", "part 3 (a.pdf, application/pdf)"}));
}

// --- Containers --------------------------------------------------------------------------------------

TEST(FaxParts, SignedPkcs7SignatureSkipped) {
  std::string content =
      multipart("mixed", "m1", {plain("Signed text.\n"), attachment("application/pdf", "a.pdf", kPdf)});
  std::string sig = attachment("application/pkcs7-signature", "smime.p7s", "\x30\x82\x01\x00");
  FaxParts p = ok(message(multipart("signed", "s1", {content, sig},
                                    "; protocol=\"application/pkcs7-signature\"; micalg=sha-256")));
  EXPECT_EQ(labels(p), (Strings{"part 1 (text/plain)", "part 2 (a.pdf, application/pdf)"}));
  EXPECT_EQ(skipped(p), (Strings{"part 3 (smime.p7s, application/pkcs7-signature): signature"}));
}

TEST(FaxParts, VcardCalendarAndKeySkipped) {
  std::string vcf = attachment("text/vcard", "alice.vcf", "BEGIN:VCARD\nEND:VCARD\n");
  std::string ics = attachment("text/calendar", "invite.ics", "BEGIN:VCALENDAR\nEND:VCALENDAR\n");
  std::string key = part("Content-Type: application/pgp-keys\n", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n");
  FaxParts p = ok(message(multipart("mixed", "m1", {plain("Hi.\n"), vcf, ics, key})));
  EXPECT_EQ(labels(p), (Strings{"part 1 (text/plain)"}));
  EXPECT_EQ(skipped(p),
            (Strings{"part 2 (alice.vcf, text/vcard): vCard", "part 3 (invite.ics, text/calendar): calendar",
                     "part 4 (application/pgp-keys): key"}));
}

// A forwarded message is recursed into, its From, Date, Subject and To on top of its text body
// (turned into UTF-8), or on a part of their own when its body is not plain text.
TEST(FaxParts, EmbeddedMessageIsRecursedIntoUnderItsHeader) {
  std::string inner =
      "From: bob@example.com\nSubject: original\nMIME-Version: 1.0\n" +
      multipart("mixed", "m2", {plain("Inner text.\n"), attachment("application/pdf", "in.pdf", kPdf)});
  std::string fwd = part("Content-Type: message/rfc822\nContent-Disposition: attachment\n", inner);
  FaxParts p = ok(message(multipart("mixed", "m1", {plain("Forwarding.\n"), fwd})));
  EXPECT_EQ(labels(p),
            (Strings{"part 1 (text/plain)", "part 2 (text/plain)", "part 3 (in.pdf, application/pdf)"}));
  EXPECT_EQ(p.parts[1].data, "---------- Forwarded message ----------\nFrom: bob@example.com\nSubject: original\n\nInner text.\n");
  EXPECT_EQ(p.parts[1].charset, "utf-8");
  EXPECT_EQ(p.parts[2].data, kPdf);
  std::string latin = "From: =?utf-8?q?Zo=C3=A9?= <zoe@example.com>\nDate: Tue, 1 Dec 2026 09:30:00 +0100\n"
                      "Subject: caf\xC3\xA9\nTo: bob@example.com\nContent-Type: text/plain; charset=iso-8859-1\n\n"
                      "Cr\xE8me br\xFBl\xE9" "e\n";
  FaxParts top = ok(kHead + std::string("Content-Type: message/rfc822\n\n") + latin);
  ASSERT_EQ(top.parts.size(), 1u);
  EXPECT_EQ(top.parts[0].data, "---------- Forwarded message ----------\nFrom: Zo\xC3\xA9 <zoe@example.com>\n"
                               "Date: Tue, 1 Dec 2026 09:30:00 +0100\nSubject: caf\xC3\xA9\nTo: bob@example.com\n\n"
                               "Cr\xC3\xA8me br\xC3\xBBl\xC3\xA9" "e\n");
  std::string pdf_only = "Subject: the scan\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n" +
                         base64(kPdf);
  FaxParts own = ok(kHead + std::string("Content-Type: message/rfc822\n\n") + pdf_only);
  EXPECT_EQ(labels(own), (Strings{"forwarded message 1 (its header)", "part 1 (application/pdf)"}));
  EXPECT_EQ(own.parts[0].data, "---------- Forwarded message ----------\nSubject: the scan\n");
  // A forward with nothing to fax leaves no header page alone.
  EXPECT_EQ(err(kHead + std::string("Content-Type: message/rfc822\n\nSubject: empty\n\n  \n")).code, PartsErrc::nothing);
  // Bytes windows-1252 leaves undefined still join the header, as U+FFFD.
  FaxParts odd = ok(kHead + std::string("Content-Type: message/rfc822\n\nSubject: odd\nContent-Type: text/plain; "
                                         "charset=windows-1252\n\nA\x81" "B\x80\n"));
  ASSERT_EQ(odd.parts.size(), 1u);
  EXPECT_EQ(odd.parts[0].data, "---------- Forwarded message ----------\nSubject: odd\n\nA\xEF\xBF\xBD" "B\xE2\x82\xAC\n");
}

TEST(FaxParts, DigestChildrenDefaultToMessages) {
  FaxParts p =
      ok(message(multipart("digest", "d1", {"\nSubject: one\n\nFirst.\n", "\nSubject: two\n\nSecond.\n"})));
  EXPECT_EQ(labels(p), (Strings{"part 1 (text/plain)", "part 2 (text/plain)"}));
  EXPECT_EQ(p.parts[0].data, "---------- Forwarded message ----------\nSubject: one\n\nFirst.\n");
  EXPECT_EQ(p.parts[1].data, "---------- Forwarded message ----------\nSubject: two\n\nSecond.\n");
}

TEST(FaxParts, ReportFaxesItsTextAndSkipsTheStatus) {
  std::string status = part("Content-Type: message/delivery-status\n",
                            "Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; x@example.com\n"
                            "Action: failed\nStatus: 5.1.1\n");
  FaxParts p = ok(message(
      multipart("report", "r1", {plain("Delivery failed.\n"), status}, "; report-type=delivery-status")));
  EXPECT_EQ(labels(p), (Strings{"part 1 (text/plain)"}));
  EXPECT_EQ(skipped(p), (Strings{"part 2 (message/delivery-status): delivery report"}));
}

// --- Identifying octet-streams -----------------------------------------------------------------------

TEST(FaxParts, OctetStreamIdentifiedByMagicAndName) {
  FaxParts p = ok(message(multipart(
      "mixed", "m1",
      {attachment("application/octet-stream", "scan", kPdf),
       attachment("application/octet-stream", "report.docx", kZip),
       attachment("application/octet-stream", "notes.txt", "Some notes.\n"),
       part("Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n", base64(kPng)),
       attachment("application/x-unknown", "page.TIFF", "not really a tiff")})));
  ASSERT_EQ(p.parts.size(), 5u);
  EXPECT_EQ(p.parts[0].kind, K::pdf);
  EXPECT_EQ(p.parts[0].content_type, "application/octet-stream");
  EXPECT_EQ(p.parts[0].data, kPdf);
  EXPECT_EQ(p.parts[1].kind, K::office);
  EXPECT_EQ(p.parts[1].label, "part 2 (report.docx, application/octet-stream)");
  EXPECT_EQ(p.parts[2].kind, K::text_plain);
  EXPECT_EQ(p.parts[3].kind, K::image);
  EXPECT_EQ(p.parts[3].label, "part 4 (application/octet-stream)");
  EXPECT_EQ(p.parts[4].kind, K::tiff);
}

TEST(FaxParts, MagicWinsOverFileName) {
  FaxParts p = ok(message(attachment("application/octet-stream", "photo.pdf", kPng)));
  ASSERT_EQ(p.parts.size(), 1u);
  EXPECT_EQ(p.parts[0].kind, K::image);
}

TEST(FaxParts, OfficeAllowedOrRefusedByOption) {
  std::string msg =
      message(multipart("mixed", "m1", {plain("Doc.\n"), attachment(kDocxType, "report.docx", kZip)}));
  FaxParts p = ok(msg);
  ASSERT_EQ(p.parts.size(), 2u);
  EXPECT_EQ(p.parts[1].kind, K::office);
  SelectOptions no_office;
  no_office.office = false;
  PartsError e = err(msg, no_office);
  EXPECT_EQ(e.code, PartsErrc::unrenderable);
  EXPECT_EQ(e.message, "part 2 (report.docx, " + kDocxType + ") cannot be faxed");
}

TEST(FaxParts, OctetStreamDocxRefusedWithoutOffice) {
  SelectOptions no_office;
  no_office.office = false;
  PartsError e = err(message(attachment("application/octet-stream", "report.docx", kZip)), no_office);
  EXPECT_EQ(e.code, PartsErrc::unrenderable);
  EXPECT_EQ(e.message, "part 1 (report.docx, application/octet-stream) cannot be faxed");
}

// --- Refusals and limits -----------------------------------------------------------------------------

TEST(FaxParts, ExecutableRefusedByName) {
  PartsError e = err(message(multipart("mixed", "m1",
                                       {plain("Install me.\n"), attachment("application/pdf", "a.pdf", kPdf),
                                        attachment("application/x-msdownload", "setup.exe", "MZ\x90")})));
  EXPECT_EQ(e.code, PartsErrc::unrenderable);
  EXPECT_EQ(e.message, "part 3 (setup.exe, application/x-msdownload) cannot be faxed");
}

TEST(FaxParts, ArchiveRefused) {
  PartsError e = err(
      message(multipart("mixed", "m1", {plain("Zip.\n"), attachment("application/zip", "files.zip", kZip)})));
  EXPECT_EQ(e.code, PartsErrc::unrenderable);
  EXPECT_EQ(e.message, "part 2 (files.zip, application/zip) cannot be faxed");
  e = err(message(multipart("mixed", "m1",
                            {plain("Zip.\n"), attachment("application/octet-stream", "files.zip", kZip)})));
  EXPECT_EQ(e.message, "part 2 (files.zip, application/octet-stream) cannot be faxed");
}

TEST(FaxParts, UnknownTypeWithoutNameRefused) {
  PartsError e = err(message(part("Content-Type: application/x-foo\n", "data\n")));
  EXPECT_EQ(e.code, PartsErrc::unrenderable);
  EXPECT_EQ(e.message, "part 1 (application/x-foo) cannot be faxed");
}

TEST(FaxParts, LabelHasNoControlCharacters) {
  std::string exe = part(
      "Content-Type: application/x-msdownload\n"
      "Content-Disposition: attachment; filename*=UTF-8''evil%0D%0A250%20ok.exe\n",
      "MZ\n");
  PartsError e = err(message(multipart("mixed", "m1", {plain("x\n"), exe})));
  EXPECT_EQ(e.message, "part 2 (evil??250 ok.exe, application/x-msdownload) cannot be faxed");
}

TEST(FaxParts, NothingRenderable) {
  std::string vcf = attachment("text/vcard", "alice.vcf", "BEGIN:VCARD\nEND:VCARD\n");
  PartsError e = err(message(multipart("mixed", "m1", {plain("\n  \n"), vcf})));
  EXPECT_EQ(e.code, PartsErrc::nothing);
  EXPECT_EQ(e.message, "the message has no part that can be faxed");
}

TEST(FaxParts, EmptyInputIsMalformed) {
  PartsError e = err("");
  EXPECT_EQ(e.code, PartsErrc::malformed);
  EXPECT_EQ(e.message, "the message cannot be parsed as MIME");
}

// The plain leaf sits `levels` multiparts deep.
std::string nested(int levels) {
  std::string entity = plain("Deep.\n");
  for (int i = 0; i < levels; ++i) entity = multipart("mixed", "n" + std::to_string(i), {entity});
  return message(entity);
}

TEST(FaxParts, DepthLimitAtTheEdge) {
  SelectOptions opt;
  opt.max_depth = 3;
  EXPECT_EQ(labels(ok(nested(2), opt)), (Strings{"part 1 (text/plain)"}));
  EXPECT_EQ(labels(ok(nested(3), opt)), (Strings{"part 1 (text/plain)"}));
  PartsError e = err(nested(4), opt);
  EXPECT_EQ(e.code, PartsErrc::limit);
  EXPECT_EQ(e.message, "the message nests MIME parts more than 3 levels deep");
}

TEST(FaxParts, DepthCountsEmbeddedMessages) {
  std::string inner = "Subject: inner\n" + multipart("mixed", "i1", {plain("In.\n")});
  std::string msg = message(multipart("mixed", "m1", {part("Content-Type: message/rfc822\n", inner)}));
  SelectOptions opt;
  opt.max_depth = 3;  // mixed (0) > message/rfc822 (1) > embedded mixed (2) > text (3)
  EXPECT_EQ(ok(msg, opt).parts.size(), 1u);
  opt.max_depth = 2;
  EXPECT_EQ(err(msg, opt).code, PartsErrc::limit);
}

TEST(FaxParts, PartsLimitAtTheEdge) {
  std::string msg = message(multipart("mixed", "m1", {plain("a\n"), plain("b\n"), plain("c\n")}));
  SelectOptions opt;
  opt.max_parts = 3;
  EXPECT_EQ(ok(msg, opt).parts.size(), 3u);
  opt.max_parts = 2;
  PartsError e = err(msg, opt);
  EXPECT_EQ(e.code, PartsErrc::limit);
  EXPECT_EQ(e.message, "the message has more than 2 parts");
}

TEST(FaxParts, BytesLimitAtTheEdge) {
  std::string msg = message(plain("Hello.\n"));
  SelectOptions opt;
  opt.max_bytes = msg.size();
  EXPECT_EQ(ok(msg, opt).parts.size(), 1u);
  opt.max_bytes = msg.size() - 1;
  PartsError e = err(msg, opt);
  EXPECT_EQ(e.code, PartsErrc::limit);
  EXPECT_EQ(e.message, "the message is larger than " + std::to_string(msg.size() - 1) + " bytes");
}

// RFC 2046 §4.1.4: an unrecognised text subtype is text/plain (CSV, logs), never refused.
TEST(FaxParts, UnknownTextSubtypeIsPlainText) {
  FaxParts p = ok(message(multipart(
      "mixed", "b1", {plain("Figures attached.\n"), attachment("text/csv", "figures.csv", "a,b\n1,2\n")})));
  ASSERT_EQ(p.parts.size(), 2u);
  EXPECT_EQ(p.parts[1].kind, K::text_plain);
  EXPECT_EQ(p.parts[1].content_type, "text/csv");
  EXPECT_EQ(p.parts[1].label, "part 2 (figures.csv, text/csv)");
}

}  // namespace
}  // namespace mail

// --- The header a cover page shows ---------------------------------------------------------------

namespace mail {
namespace {

TEST(FaxParts, HeaderForTheCoverDecodedAndTheCoverWish) {
  FaxParts p = ok(
      "From: =?utf-8?q?J=C3=BCrgen?= <jurgen@example.com>\nTo: Bob <FAX=+12025550100@fax.test>\n"
      "Subject: =?utf-8?q?Angebot_f=C3=BCr?=\n  Q4\nDate: Sun, 22 Nov 2026 20:41:07 +0000\nX-Fax-Cover:  YES \n\nHi.\n");
  EXPECT_EQ(p.header.from, "J\xC3\xBCrgen <jurgen@example.com>");
  EXPECT_EQ(p.header.to, "Bob <FAX=+12025550100@fax.test>");
  EXPECT_EQ(p.header.subject, "Angebot f\xC3\xBCr Q4");
  EXPECT_EQ(p.header.date, "Sun, 22 Nov 2026 20:41:07 +0000");
  EXPECT_EQ(p.header.cover, true);
  EXPECT_EQ(ok("X-Fax-Cover: no\n\nHi.\n").header.cover, false);
  EXPECT_EQ(ok("X-Fax-Cover: please\n\nHi.\n").header.cover, std::nullopt);
  EXPECT_EQ(ok("Subject: x\n\nHi.\n").header.cover, std::nullopt);
}

TEST(FaxParts, PriorityFromPriorityThenXPriorityThenImportance) {
  EXPECT_EQ(ok("Subject: x\n\nHi.\n").header.priority, 0);
  EXPECT_EQ(ok("Priority: urgent\n\nHi.\n").header.priority, 1);
  EXPECT_EQ(ok("Priority: Non-Urgent\n\nHi.\n").header.priority, -1);
  EXPECT_EQ(ok("Priority: normal\nX-Priority: 1\n\nHi.\n").header.priority, 0);  // Priority decides
  EXPECT_EQ(ok("X-Priority: 1 (Highest)\n\nHi.\n").header.priority, 1);
  EXPECT_EQ(ok("X-Priority: 5 (Lowest)\n\nHi.\n").header.priority, -1);
  EXPECT_EQ(ok("X-Priority: 3\nImportance: high\n\nHi.\n").header.priority, 0);
  EXPECT_EQ(ok("Importance: High\n\nHi.\n").header.priority, 1);
  EXPECT_EQ(ok("Importance: low\n\nHi.\n").header.priority, -1);
}

// Loop protection reads the top-level header whether or not any part can be faxed.
TEST(FaxParts, TraceFactsCountHopsAndReadAutoSubmittedAndFrom) {
  auto t = trace_facts(
      "Received: from a by b; Thu, 3 Dec 2026 10:00:00 +0000\nreceived: from c\n by d; Thu, 3 Dec 2026 10:00:01 +0000\n"
      "From: Fax Server <FAX@Fax.Test>, other@example.com\nAuto-Submitted: Auto-Replied (vacation); x=y\n"
      "Content-Type: application/x-msdownload\n\nMZ\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->received, 2);
  EXPECT_EQ(t->auto_submitted, "auto-replied");
  EXPECT_EQ(t->from_address, "fax@fax.test");
  auto none = trace_facts("Subject: x\n\nbody\n");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->received, 0);
  EXPECT_EQ(none->auto_submitted, "");
  EXPECT_EQ(none->from_address, "");
}

}  // namespace
}  // namespace mail
