// The mail of a received fax: structure and headers (golden), partner mode exactly per
// exchange-um-partner.md, the missed-fax notice, and Maildir delivery.
#include "mail/fax_mail.hpp"

#include <gmime/gmime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>

#include "imaging/pdf_writer.hpp"
#include "imaging/thumbnail.hpp"
#include "imaging/tiff_f.hpp"
#include "mail/maildir.hpp"

namespace mail {
namespace {

namespace fs = std::filesystem;

struct Parsed {
  GMimeMessage* msg = nullptr;
  ~Parsed() {
    if (msg) g_object_unref(msg);
  }
  std::string header(const char* name) const {
    const char* v = g_mime_object_get_header(GMIME_OBJECT(msg), name);
    return v ? v : "";
  }
};

void parse(const std::string& text, Parsed& p) {
  g_mime_init();
  GMimeStream* s = g_mime_stream_mem_new_with_buffer(text.data(), text.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(s);
  p.msg = g_mime_parser_construct_message(parser, nullptr);
  g_object_unref(parser);
  g_object_unref(s);
  ASSERT_NE(p.msg, nullptr);
}

// "multipart/mixed[multipart/alternative[text/plain,multipart/related[text/html,image/png]],application/pdf]"
std::string shape(GMimeObject* o) {
  GMimeContentType* ct = g_mime_object_get_content_type(o);
  std::string s = std::string(g_mime_content_type_get_media_type(ct)) + "/" + g_mime_content_type_get_media_subtype(ct);
  if (GMIME_IS_MULTIPART(o)) {
    s += "[";
    GMimeMultipart* mp = GMIME_MULTIPART(o);
    for (int i = 0; i < g_mime_multipart_get_count(mp); ++i) s += (i ? "," : "") + shape(g_mime_multipart_get_part(mp, i));
    s += "]";
  }
  return s;
}

std::string decoded(GMimePart* part) {
  GMimeDataWrapper* w = g_mime_part_get_content(part);
  GMimeStream* out = g_mime_stream_mem_new();
  g_mime_data_wrapper_write_to_stream(w, out);
  GByteArray* a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
  std::string s(reinterpret_cast<const char*>(a->data), a->len);
  g_object_unref(out);
  return s;
}

GMimePart* find_part(GMimeObject* o, const char* type) {
  GMimeContentType* ct = g_mime_object_get_content_type(o);
  std::string t = std::string(g_mime_content_type_get_media_type(ct)) + "/" + g_mime_content_type_get_media_subtype(ct);
  if (t == type && GMIME_IS_PART(o)) return GMIME_PART(o);
  if (GMIME_IS_MULTIPART(o)) {
    GMimeMultipart* mp = GMIME_MULTIPART(o);
    for (int i = 0; i < g_mime_multipart_get_count(mp); ++i)
      if (auto* p = find_part(g_mime_multipart_get_part(mp, i), type)) return p;
  }
  return nullptr;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class FaxMailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("fax_mail_test." + std::to_string(::getpid()) + "." +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
    // Two pages: a black bar across the top of page 1, page 2 blank.
    imaging::Page p1;
    p1.bitmap = imaging::Bitmap(1728, 1100);
    for (int y = 0; y < 200; ++y)
      for (int x = 0; x < 1728; ++x) p1.bitmap.set(x, y);
    imaging::Page p2;
    p2.bitmap = imaging::Bitmap(1728, 1100);
    tiff = (dir / "in.tif").string();
    pdf = (dir / "in.pdf").string();
    ASSERT_TRUE(imaging::write_tiff_f(tiff, {p1, p2}));
    ASSERT_TRUE(imaging::write_pdf_from_tiff(tiff, pdf));
    info.job_id = 17;
    info.did = "+15550100";
    info.caller = "+1 (555) 123-4567";
    info.caller_name = "Zoë Müller";
    info.remote_ident = "+1 555 1234567";
    info.pages = 2;
    info.bit_rate = 14400;
    info.ecm = true;
    info.duration_s = 75;
    info.received_at = 1795380067;  // 2026-11-22 20:41:07 UTC
    opt.from = "fax@fax.localhost";
    opt.to = {"fax@localhost", "boss@example.com"};
    opt.message_id = "fax-17.1795380067@fax.localhost";
    opt.tiff_path = tiff;
    opt.pdf_path = pdf;
  }
  void TearDown() override { fs::remove_all(dir); }

  fs::path dir;
  std::string tiff, pdf;
  ReceivedFaxInfo info;
  FaxMailOptions opt;
};

TEST_F(FaxMailTest, NormalMailHasTextHtmlThumbnailPdfAndTiff) {
  auto m = compose_fax_mail(info, opt);
  ASSERT_TRUE(m) << m.error().message;
  Parsed p;
  parse(*m, p);
  EXPECT_EQ(shape(g_mime_message_get_mime_part(p.msg)),
            "multipart/mixed[multipart/alternative[text/plain,multipart/related[text/html,image/png]],"
            "application/pdf,image/tiff]");
  EXPECT_EQ(p.header("From"), "Fax <fax@fax.localhost>");
  EXPECT_EQ(p.header("To"), "fax@localhost, boss@example.com");
  EXPECT_EQ(p.header("Message-ID"), "<fax-17.1795380067@fax.localhost>");
  EXPECT_EQ(p.header("Date"), "Sun, 22 Nov 2026 20:41:07 +0000");
  EXPECT_EQ(p.header("Auto-Submitted"), "auto-generated");
  EXPECT_EQ(p.header("X-Fax-Pages"), "2");
  EXPECT_EQ(p.header("MIME-Version"), "1.0");
  // The subject names the caller; non-ASCII is RFC 2047-encoded on the wire and decodes back.
  const std::string head = m->substr(0, m->find("\n\n") + 1);
  EXPECT_TRUE(std::all_of(head.begin(), head.end(), [](unsigned char c) { return c < 0x80; })) << head;
  EXPECT_STREQ(g_mime_message_get_subject(p.msg), "Fax from Zoë Müller (+1 (555) 123-4567), 2 pages");
  // Attachments: the bytes of the files, under INTERFACES.md's names.
  GMimePart* t = find_part(g_mime_message_get_mime_part(p.msg), "image/tiff");
  ASSERT_NE(t, nullptr);
  EXPECT_STREQ(g_mime_part_get_filename(t), "fax-20261122-204107-15551234567.tif");
  EXPECT_EQ(decoded(t), slurp(tiff));
  GMimePart* pd = find_part(g_mime_message_get_mime_part(p.msg), "application/pdf");
  ASSERT_NE(pd, nullptr);
  EXPECT_STREQ(g_mime_part_get_filename(pd), "fax-20261122-204107-15551234567.pdf");
  EXPECT_EQ(decoded(pd), slurp(pdf));
  // The thumbnail is a PNG referenced from the HTML by its Content-ID.
  GMimePart* png = find_part(g_mime_message_get_mime_part(p.msg), "image/png");
  ASSERT_NE(png, nullptr);
  std::string img = decoded(png);
  ASSERT_GT(img.size(), 8u);
  EXPECT_EQ(img.substr(1, 3), "PNG");
  std::string html = decoded(find_part(g_mime_message_get_mime_part(p.msg), "text/html"));
  EXPECT_NE(html.find(std::string("cid:") + g_mime_object_get_content_id(GMIME_OBJECT(png))), std::string::npos);
  // Its Content-ID is this mail's own (RFC 2392), and the related part names its root's type.
  EXPECT_STREQ(g_mime_object_get_content_id(GMIME_OBJECT(png)), "page1.fax-17.1795380067@fax.localhost");
  EXPECT_NE(m->find("type=\"text/html\""), std::string::npos) << *m;
  std::string text = decoded(find_part(g_mime_message_get_mime_part(p.msg), "text/plain"));
  for (const char* want : {"A fax arrived from Zoë Müller (+1 (555) 123-4567).", "Sending station:  +1 555 1234567",
                           "Called number:    +15550100", "Pages received:   2 pages, complete",
                           "Received:         2026-11-22 20:41:07 UTC", "Duration:         1 min 15 s",
                           "Rate:             14400 bit/s, error correction (ECM)",
                           "Quality:          every row received intact", "Job:              17"})
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
}

TEST_F(FaxMailTest, AttachmentsFollowTheRoute) {
  opt.attach_pdf = false;
  opt.thumbnail = false;
  auto m = compose_fax_mail(info, opt);
  ASSERT_TRUE(m);
  Parsed p;
  parse(*m, p);
  EXPECT_EQ(shape(g_mime_message_get_mime_part(p.msg)), "multipart/mixed[multipart/alternative[text/plain,text/html],image/tiff]");
}

// [ocr] (issue 18): each page's first lines in both bodies; a page read with no text, and a run of
// pages not read in time, each said once; pages past kMaxTextPages not listed one by one.
TEST_F(FaxMailTest, TheLinesReadFromEachPageAreInBothBodies) {
  info.pages = 25;
  opt.page_lines.resize(25);
  opt.page_lines[0] = std::vector<std::string>{"INVOICE 4711", "To: Maria <Anders> & Co"};
  opt.page_lines[1] = std::vector<std::string>{};
  for (size_t i = 5; i < 25; ++i) opt.page_lines[i] = std::vector<std::string>{"page " + std::to_string(i + 1)};
  auto m = compose_fax_mail(info, opt);
  ASSERT_TRUE(m);
  Parsed p;
  parse(*m, p);
  const std::string text = decoded(find_part(g_mime_message_get_mime_part(p.msg), "text/plain"));
  EXPECT_NE(text.find("The first lines read from its pages (by OCR, which may misread):\n\n"
                      "Page 1: INVOICE 4711\n"
                      "        To: Maria <Anders> & Co\n\n"
                      "Page 2: (no text)\n\n"
                      "Pages 3-5: (not read)\n\n"
                      "Page 6: page 6\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Page 20: page 20\n\nPages 21-25: (not listed here)\n"), std::string::npos) << text;
  const std::string html = decoded(find_part(g_mime_message_get_mime_part(p.msg), "text/html"));
  EXPECT_NE(html.find("<p><b>Page 1</b><br>\nINVOICE 4711<br>\nTo: Maria &lt;Anders&gt; &amp; Co</p>"),
            std::string::npos)
      << html;
  // No page with a line of text: no section.
  opt.page_lines = {std::vector<std::string>{}, std::nullopt};
  auto none = compose_fax_mail(info, opt);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->find("read from its pages"), std::string::npos);
}

TEST_F(FaxMailTest, IncompleteFaxIsMarkedInSubjectBodyAndHeader) {
  info.complete = false;
  info.pages = 1;
  info.bad_rows = 12;
  info.reason = "the caller hung up after page 1";
  auto m = compose_fax_mail(info, opt);
  ASSERT_TRUE(m);
  Parsed p;
  parse(*m, p);
  EXPECT_STREQ(g_mime_message_get_subject(p.msg), "[incomplete] Fax from Zoë Müller (+1 (555) 123-4567), 1 page");
  EXPECT_EQ(p.header("X-Fax-Incomplete"), "yes");
  std::string text = decoded(find_part(g_mime_message_get_mime_part(p.msg), "text/plain"));
  EXPECT_NE(text.find("1 page, INCOMPLETE"), std::string::npos);
  EXPECT_NE(text.find("12 rows received damaged"), std::string::npos);
  EXPECT_NE(text.find("Why incomplete:   the caller hung up after page 1"), std::string::npos);
}

TEST_F(FaxMailTest, NoPageIsAShortMissedFaxNotice) {
  info.pages = 0;
  info.complete = false;
  info.reason = "No page was received.";
  opt.tiff_path.clear();
  auto m = compose_fax_mail(info, opt);
  ASSERT_TRUE(m);
  Parsed p;
  parse(*m, p);
  EXPECT_EQ(shape(g_mime_message_get_mime_part(p.msg)), "multipart/alternative[text/plain,text/html]");
  EXPECT_STREQ(g_mime_message_get_subject(p.msg), "Missed fax from Zoë Müller (+1 (555) 123-4567)");
  EXPECT_EQ(p.header("X-Fax-Pages"), "0");
}

TEST_F(FaxMailTest, PostmasterMailSaysWhy) {
  opt.to = {"postmaster@localhost"};
  opt.postmaster_reason = "no route for the called number +15550199";
  auto m = compose_fax_mail(info, opt);
  ASSERT_TRUE(m);
  Parsed p;
  parse(*m, p);
  EXPECT_STREQ(g_mime_message_get_subject(p.msg), "Undelivered: Fax from Zoë Müller (+1 (555) 123-4567), 2 pages");
  std::string text = decoded(find_part(g_mime_message_get_mime_part(p.msg), "text/plain"));
  EXPECT_NE(text.find("could not be delivered where it should go: no route for the called number +15550199."), std::string::npos);
  EXPECT_NE(find_part(g_mime_message_get_mime_part(p.msg), "image/tiff"), nullptr);
}

constexpr const char* kContext =
    "Q2FsbElkPWFiYyZDYWxsZXJJZD0rMTU1NTEyMzQmRXh0ZW5zaW9uPTEwMCZQaG9uZUNvbnRleHQ9ZHAmQ2FsbGVySWREaXNwbGF5TmFtZT1BbGljZQ==";

TEST_F(FaxMailTest, PartnerMailIsExactlyTheExchangeContract) {
  opt.to = {"dave@example.com"};
  opt.partner_context = kContext;
  auto m = compose_fax_mail(info, opt);
  ASSERT_TRUE(m);
  Parsed p;
  parse(*m, p);
  // A plain-text body and exactly one image/tiff: no PDF, no HTML, no thumbnail.
  EXPECT_EQ(shape(g_mime_message_get_mime_part(p.msg)), "multipart/mixed[text/plain,image/tiff]");
  EXPECT_EQ(p.header("To"), "dave@example.com");
  const std::string head = m->substr(0, m->find("\n\n") + 1);
  EXPECT_NE(head.find("\nContent-Class: MS-Exchange-UM-Partner\n"), std::string::npos) << head;
  EXPECT_EQ(p.header("X-MS-Exchange-UM-PartnerContent"), "fax");
  EXPECT_EQ(p.header("X-MS-Exchange-UM-PartnerStatus"), "2.0.0");
  EXPECT_EQ(p.header("X-FaxNumberOfPages"), "2");
  EXPECT_EQ(p.header("X-MS-Exchange-UM-PartnerAssignedID"), "17");
  EXPECT_EQ(p.header("X-CallingTelephoneNumber"), "+1 (555) 123-4567");
  // The context is echoed as plain base64 on one line, never RFC 2047-encoded or folded.
  EXPECT_NE(m->find(std::string("\nX-MS-Exchange-UM-PartnerContext: ") + kContext + "\n"), std::string::npos);
  gsize n = 0;
  guchar* raw = g_base64_decode(p.header("X-MS-Exchange-UM-PartnerContext").c_str(), &n);
  std::string ctx(reinterpret_cast<char*>(raw), n);
  g_free(raw);
  EXPECT_EQ(ctx.rfind("CallId=abc&", 0), 0u);
  EXPECT_EQ(decoded(find_part(g_mime_message_get_mime_part(p.msg), "image/tiff")), slurp(tiff));
}

TEST_F(FaxMailTest, PartnerStatusFollowsTheRealOutcome) {
  opt.to = {"dave@example.com"};
  opt.partner_context = kContext;
  info.complete = false;
  info.pages = 1;
  EXPECT_EQ(partner_status(info), "2.6.0");
  info.complete = true;
  info.bad_rows = 3;
  EXPECT_EQ(partner_status(info), "2.6.0");
  info.pages = 0;
  opt.tiff_path.clear();
  EXPECT_EQ(partner_status(info), "2.4.0");
  auto m = compose_fax_mail(info, opt);
  ASSERT_TRUE(m);
  Parsed p;
  parse(*m, p);
  EXPECT_EQ(shape(g_mime_message_get_mime_part(p.msg)), "text/plain");
  EXPECT_EQ(p.header("X-FaxNumberOfPages"), "0");
  EXPECT_EQ(p.header("X-MS-Exchange-UM-PartnerStatus"), "2.4.0");
  info.server_error = true;
  EXPECT_EQ(partner_status(info), "5.0.0");
  // Pages that came but whose TIFF is gone: a server error with 0 pages, never 2.0.0 with 0.
  info.server_error = false;
  info.pages = 2;
  auto lost = compose_fax_mail(info, opt);
  ASSERT_TRUE(lost);
  Parsed q;
  parse(*lost, q);
  EXPECT_EQ(q.header("X-MS-Exchange-UM-PartnerStatus"), "5.0.0");
  EXPECT_EQ(q.header("X-FaxNumberOfPages"), "0");
}

TEST_F(FaxMailTest, APartnerContextWithoutACallIdMakesAnOrdinaryFaxMail) {
  EXPECT_TRUE(usable_partner_context(kContext));
  for (const char* bad : {"", "QUJD", "Q2FsbElkPSZDYWxsZXJJZD0x" /* CallId=&CallerId=1 */}) {
    EXPECT_FALSE(usable_partner_context(bad)) << bad;
    opt.partner_context = bad;
    auto m = compose_fax_mail(info, opt);
    ASSERT_TRUE(m);
    Parsed p;
    parse(*m, p);
    EXPECT_EQ(p.header("X-MS-Exchange-UM-PartnerContent"), "") << bad;
    EXPECT_EQ(p.header("Content-Class"), "") << bad;
    EXPECT_NE(p.header("X-Fax-Pages"), "") << bad;
  }
}

TEST_F(FaxMailTest, WhatTheCallerSendsCannotAddHeaderFields) {
  // A SIP From user "%0d%0aBcc:..." is unescaped into CR/LF; a TSI is any 20 bytes.
  info.caller = "+1555\r\nBcc: evil@example.com";
  info.caller_name = "Eve\nX-Injected: 1";
  info.remote_ident = "TSI\r\nReply-To: x@y";
  opt.partner_context = std::string(kContext) + "\r\nX-Evil: 1";
  for (bool partner : {false, true}) {
    FaxMailOptions o = opt;
    if (!partner) o.partner_context.reset();
    auto m = compose_fax_mail(info, o);
    ASSERT_TRUE(m);
    const std::string head = m->substr(0, m->find("\n\n") + 1);
    for (const char* bad : {"\nBcc:", "\nX-Injected:", "\nReply-To:", "\nX-Evil:", "\r"})
      EXPECT_EQ(head.find(bad), std::string::npos) << bad << "\n" << head;
    Parsed p;
    parse(*m, p);
    EXPECT_EQ(p.header("Bcc"), "");
  }
}

TEST_F(FaxMailTest, AnUnreadableTiffIsAnErrorNamingTheFile) {
  opt.tiff_path = (dir / "gone.tif").string();
  auto m = compose_fax_mail(info, opt);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("gone.tif"), std::string::npos);
}

TEST_F(FaxMailTest, FileStemUsesTheCallerDigitsOrUnknown) {
  EXPECT_EQ(fax_file_stem(info), "fax-20261122-204107-15551234567");
  info.caller.clear();
  EXPECT_EQ(fax_file_stem(info), "fax-20261122-204107-unknown");
}

TEST(Thumbnail, ShrinksAPageKeepingItsLookAndAspect) {
  imaging::Page p;
  p.yres = 98;  // standard resolution: rows are twice as tall as columns are wide
  p.bitmap = imaging::Bitmap(1728, 1100);
  for (int y = 0; y < 550; ++y)
    for (int x = 0; x < 1728; ++x) p.bitmap.set(x, y);
  auto png = imaging::thumbnail_png(p, 240);
  ASSERT_TRUE(png);
  // IHDR: width and height, big-endian, at bytes 16..23.
  auto be = [&](size_t o) { return (uint8_t((*png)[o]) << 24) | (uint8_t((*png)[o + 1]) << 16) | (uint8_t((*png)[o + 2]) << 8) | uint8_t((*png)[o + 3]); };
  EXPECT_EQ(be(16), 240u);
  EXPECT_EQ(be(20), 318u);  // 1100 rows x 204/98 = 2290 square pixels, x 240/1728
  EXPECT_FALSE(imaging::thumbnail_png(p, 8));
}

TEST(Maildir, TheTraceFieldsOfADeliveringMtaGoOnTop) {
  fs::path root = fs::temp_directory_path() / ("maildir_trace." + std::to_string(::getpid()));
  fs::remove_all(root);
  auto lf = deliver_maildir(root.string(), "Boss@Example.com", "k1", "Subject: x\n\nbody\n", "fax@fax.test");
  ASSERT_TRUE(lf) << lf.error().message;
  EXPECT_EQ(slurp(*lf), "Return-Path: <fax@fax.test>\nDelivered-To: Boss@Example.com\nSubject: x\n\nbody\n");
  auto crlf = deliver_maildir(root.string(), "boss@example.com", "k2", "Subject: y\r\n\r\nbody\r\n", "");
  ASSERT_TRUE(crlf) << crlf.error().message;
  EXPECT_EQ(slurp(*crlf), "Return-Path: <>\r\nDelivered-To: boss@example.com\r\nSubject: y\r\n\r\nbody\r\n");
  auto odd = deliver_maildir(root.string(), "boss@example.com", "k3", "x\n", "a>\r\nX-Injected: 1<b@c");
  ASSERT_TRUE(odd) << odd.error().message;
  EXPECT_EQ(slurp(*odd), "Return-Path: <aX-Injected: 1b@c>\nDelivered-To: boss@example.com\nx\n");
  fs::remove_all(root);
}

TEST(Maildir, DeliversIntoNewOnceAndRefusesBadAddresses) {
  fs::path root = fs::temp_directory_path() / ("maildir_test." + std::to_string(::getpid()));
  fs::remove_all(root);
  auto r = deliver_maildir(root.string(), "Fax@LocalHost", "1795380067.J17D1", "Subject: x\n\nbody\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(fs::path(*r).parent_path(), root / "fax@localhost" / "new");
  EXPECT_EQ(slurp(*r), "Subject: x\n\nbody\n");
  EXPECT_TRUE(fs::is_directory(root / "fax@localhost" / "cur"));
  EXPECT_TRUE(fs::is_empty(root / "fax@localhost" / "tmp"));
  // The same key again (a retry after a crash) replaces rather than duplicates.
  ASSERT_TRUE(deliver_maildir(root.string(), "fax@localhost", "1795380067.J17D1", "Subject: x\n\nbody\n"));
  EXPECT_EQ(std::distance(fs::directory_iterator(root / "fax@localhost" / "new"), fs::directory_iterator{}), 1);
  for (const char* bad : {"../etc@x", ".hidden@x", "a/b@c"}) {
    auto e = deliver_maildir(root.string(), bad, "k", "x");
    ASSERT_FALSE(e) << bad;
    EXPECT_TRUE(e.error().permanent);
  }
  EXPECT_FALSE(deliver_maildir(root.string(), "ok@x", "bad/key", "x"));
  fs::remove_all(root);
}

TEST(Maildir, APlantedSymlinkIsNotFollowed) {
  fs::path root = fs::temp_directory_path() / ("maildir_link_test." + std::to_string(::getpid()));
  fs::path elsewhere = fs::temp_directory_path() / ("maildir_victim." + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::remove_all(elsewhere);
  fs::create_directories(root);
  fs::create_directories(elsewhere / "new");
  fs::create_directories(elsewhere / "tmp");
  // The mailbox itself a link (to a directory of someone else's), then its new/, then tmp/.
  fs::create_directory_symlink(elsewhere, root / "victim@x");
  auto r = deliver_maildir(root.string(), "victim@x", "k1", "Subject: x\n\nbody\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("victim@x"), std::string::npos) << r.error().message;
  fs::create_directories(root / "bob@x" / "tmp");
  fs::create_directories(root / "bob@x" / "cur");
  fs::create_directory_symlink(elsewhere / "new", root / "bob@x" / "new");
  EXPECT_FALSE(deliver_maildir(root.string(), "bob@x", "k2", "x"));
  fs::create_directories(root / "carol@x" / "new");
  fs::create_directories(root / "carol@x" / "cur");
  fs::create_directory_symlink(elsewhere / "tmp", root / "carol@x" / "tmp");
  EXPECT_FALSE(deliver_maildir(root.string(), "carol@x", "k3", "x"));
  EXPECT_TRUE(fs::is_empty(elsewhere / "new"));
  EXPECT_TRUE(fs::is_empty(elsewhere / "tmp"));
  // A file planted under the message's own name in tmp/ (a link to a file of someone else's) is
  // replaced, never written through.
  auto ok = deliver_maildir(root.string(), "dave@x", "k4", "first");
  ASSERT_TRUE(ok);
  { std::ofstream(elsewhere / "secret") << "keep me"; }
  const fs::path planted = root / "dave@x" / "tmp" / fs::path(*ok).filename();
  fs::create_symlink(elsewhere / "secret", planted);
  ASSERT_TRUE(deliver_maildir(root.string(), "dave@x", "k4", "first"));
  EXPECT_EQ(slurp((elsewhere / "secret").string()), "keep me");
  fs::remove_all(root);
  fs::remove_all(elsewhere);
}

}  // namespace
}  // namespace mail
