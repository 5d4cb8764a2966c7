// What a fax mail's sender is told: the status table of dsn-and-status.md, NOTIFY, and the
// RFC 3464 report itself (parsed back with GMime).
#include <gmime/gmime.h>
#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <fstream>

#include "gateway/report.hpp"
#include "mail/dsn.hpp"
#include "mail/mdn.hpp"

namespace {

queue::Job job(std::string state, std::optional<std::string> outcome, int dials = 1, int tries = 0) {
  queue::Job j;
  j.state = std::move(state);
  j.outcome = std::move(outcome);
  j.dials = dials;
  j.tries = tries;
  return j;
}

TEST(ReportLine, EveryOutcomeOfTheTable) {
  using gateway::report_line;
  struct Row {
    const char* state;
    std::optional<std::string> outcome;
    const char* action;
    const char* status;
  } rows[] = {
      {"done", "done", "delivered", "2.0.0"},       {"retry", "busy", "delayed", "4.4.1"},
      {"failed", "busy", "failed", "5.4.1"},        {"retry", "no_answer", "delayed", "4.4.1"},
      {"failed", "no_answer", "failed", "5.4.1"},   {"retry", "congestion", "delayed", "4.4.5"},
      {"failed", "congestion", "failed", "5.4.5"},  {"retry", "t30_failure", "delayed", "4.4.2"},
      {"failed", "t30_failure", "failed", "5.4.2"}, {"failed", "partial", "failed", "5.4.2"},
      {"failed", "expired", "failed", "5.4.7"},     {"failed", "invalid_number", "failed", "5.1.1"},
      {"failed", "t38_refused", "failed", "5.6.3"}, {"cancelled", std::nullopt, "failed", "5.0.0"},
      {"failed", "not_allowed", "failed", "5.7.1"},
      {"failed", "over_cap", "failed", "5.7.1"},
  };
  for (const auto& r : rows) {
    auto l = report_line(job(r.state, r.outcome));
    EXPECT_EQ(l.action, r.action) << r.state << " " << r.outcome.value_or("-");
    EXPECT_EQ(l.status, r.status) << r.state << " " << r.outcome.value_or("-");
  }
  // A job that failed before any call: the converter could not render it.
  EXPECT_EQ(report_line(job("failed", std::nullopt, 0, 0)).status, "5.6.1");
}

TEST(WantsReport, NotifyAndTheDefaults) {
  using gateway::wants_report;
  gateway::NotifyDefaults d;  // success false, delay true
  EXPECT_TRUE(wants_report(std::nullopt, "failed", d));
  EXPECT_TRUE(wants_report(std::nullopt, "delayed", d));
  EXPECT_FALSE(wants_report(std::nullopt, "delivered", d));
  EXPECT_FALSE(wants_report(std::string("NEVER"), "failed", d));
  EXPECT_TRUE(wants_report(std::string("SUCCESS"), "delivered", d));
  EXPECT_FALSE(wants_report(std::string("SUCCESS"), "failed", d));
  EXPECT_TRUE(wants_report(std::string("FAILURE,DELAY"), "delayed", d));
  d.success = true;
  d.delay = false;
  EXPECT_TRUE(wants_report(std::nullopt, "delivered", d));
  EXPECT_FALSE(wants_report(std::nullopt, "delayed", d));
}

std::string header_block(const std::string& part, const std::string& name) {
  auto p = part.find("\n" + name + ": ");
  if (p == std::string::npos) return "";
  auto e = part.find('\n', p + 1);
  return part.substr(p + name.size() + 3, e - p - name.size() - 3);
}

TEST(Dsn, ReportHasTheThreePartsAndTheFields) {
  namespace fs = std::filesystem;
  fs::path orig = fs::temp_directory_path() / ("dsn_test." + std::to_string(::getpid()) + ".eml");
  {
    std::ofstream f(orig);
    f << "From: alice@example.com\r\nSubject: quarterly\r\nMessage-ID: <q1@example.com>\r\n\r\nSECRET BODY\r\n";
  }
  mail::DsnInput in;
  in.reporting_mta = "fax.test";
  in.from = "fax@fax.test";
  in.to = "alice@example.com";
  in.message_id = "dsn-1@fax.test";
  in.envid = "QQ314159";
  in.arrival = 1795380067;
  in.now = 1795380367;
  in.original_path = orig.string();
  mail::DsnRecipient a;
  a.final_recipient = "FAX=+12025550100@fax.test";
  a.orcpt = "rfc822;FAX=+12025550100@fax.test";
  a.action = "failed";
  a.status = "5.4.1";
  a.diagnostic = "busy";
  a.number = "+12025550100";
  a.pages = 3;
  a.pages_sent = 1;
  a.last_attempt = 1795380300;
  a.why = "Busy Here. Gave up after 12 dials.";
  mail::DsnRecipient b = a;
  b.final_recipient = "FAX=+12025550101@fax.test";
  b.orcpt.reset();
  b.number = "+12025550101";
  in.recipients = {a, b};
  auto m = mail::compose_dsn(in);
  ASSERT_TRUE(m) << m.error().message;
  const std::string head = m->substr(0, m->find("\n\n"));
  EXPECT_NE(head.find("Content-Type: multipart/report;"), std::string::npos) << head;
  EXPECT_NE(head.find("report-type=delivery-status"), std::string::npos) << head;
  EXPECT_EQ(header_block(*m, "Subject"), "Fax NOT sent to +12025550100, +12025550101");
  EXPECT_EQ(header_block(*m, "Auto-Submitted"), "auto-replied");
  EXPECT_NE(m->find("Reporting-MTA: dns; fax.test\nOriginal-Envelope-Id: QQ314159\n"
                    "Arrival-Date: Sun, 22 Nov 2026 20:41:07 +0000\n\n"
                    "Original-Recipient: rfc822;FAX=+12025550100@fax.test\n"
                    "Final-Recipient: rfc822; FAX=+12025550100@fax.test\nAction: failed\nStatus: 5.4.1\n"
                    "Diagnostic-Code: x-fax; busy\nLast-Attempt-Date: Sun, 22 Nov 2026 20:45:00 +0000\n\n"
                    "Final-Recipient: rfc822; FAX=+12025550101@fax.test\n"),
            std::string::npos)
      << *m;
  EXPECT_NE(m->find("1 of 3 pages went through (pages 1 to 1)"), std::string::npos);
  EXPECT_EQ(m->find("X-Fax-Node"), std::string::npos);  // no node named: none said
  // RET unset: the headers only, never the body.
  EXPECT_NE(m->find("Content-Type: text/rfc822-headers"), std::string::npos);
  EXPECT_NE(m->find("Subject: quarterly"), std::string::npos);
  EXPECT_EQ(m->find("SECRET BODY"), std::string::npos);
  in.full = true;
  auto full = mail::compose_dsn(in);
  ASSERT_TRUE(full);
  EXPECT_NE(full->find("Content-Type: message/rfc822"), std::string::npos);
  EXPECT_NE(full->find("SECRET BODY"), std::string::npos);
  fs::remove(orig);
}

// A report from the gateway fax.test to alice@example.com about a message that arrived at
// `arrival` (and the report made then), with no recipient yet.
mail::DsnInput report_to_alice(const std::string& message_id, int64_t arrival) {
  mail::DsnInput in;
  in.reporting_mta = "fax.test";
  in.from = "fax@fax.test";
  in.to = "alice@example.com";
  in.message_id = message_id;
  in.arrival = in.now = arrival;
  return in;
}

// In a cluster the report names the node that made each recipient's last call, for the reader
// and as an extension field of its recipient's section (RFC 3464 2.4).
TEST(Dsn, NamesTheNodeOfEachRecipientsLastCall) {
  mail::DsnInput in = report_to_alice("dsn-2@fax.test", 1795380067);
  in.now = 1795380367;
  mail::DsnRecipient a;
  a.final_recipient = "FAX=+12025550100@fax.test";
  a.action = "delivered";
  a.status = "2.0.0";
  a.number = "+12025550100";
  a.pages = a.pages_sent = 2;
  a.last_attempt = 1795380300;
  a.node = "n2";
  mail::DsnRecipient b = a;
  b.final_recipient = "FAX=+12025550101@fax.test";
  b.number = "+12025550101";
  b.node = "n3\r\nBcc: x";  // a name is a name: no line of its own
  in.recipients = {a, b};
  auto m = mail::compose_dsn(in);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_NE(m->find("Sent to +12025550100: 2 of 2 pages confirmed by the receiving fax machine "
                    "(2026-11-22 20:45:00 UTC, by node n2)."),
            std::string::npos)
      << *m;
  EXPECT_NE(m->find("Final-Recipient: rfc822; FAX=+12025550100@fax.test\nAction: delivered\nStatus: 2.0.0\n"
                    "Last-Attempt-Date: Sun, 22 Nov 2026 20:45:00 +0000\nX-Fax-Node: n2\n"),
            std::string::npos)
      << *m;
  EXPECT_EQ(m->find("\nBcc:"), std::string::npos) << *m;
}

// An 8-bit (BODY=8BITMIME) or UTF-8 (SMTPUTF8) original in a report that stays 7-bit: the human
// part in utf-8 with the names as written, the original as encoded message/global (RET=FULL) or
// message/global-headers (RFC 6533); not one byte over 0x7f in the report itself.
TEST(Dsn, EightBitOriginalsAndUtf8NamesKeepTheReportSevenBit) {
  namespace fs = std::filesystem;
  fs::path orig = fs::temp_directory_path() / ("dsn_8bit." + std::to_string(::getpid()) + ".eml");
  {
    std::ofstream f(orig);
    f << "From: J\xc3\xbcrgen <j\xc3\xbcrgen@example.de>\r\nSubject: Gr\xc3\xbc\xc3\x9f\x65\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
         "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nS\xc3\xbc\xc3\x9f.\r\n"
         "--b\r\nContent-Type: text/vcard; name=\"J\xc3\xbcrgen.vcf\"\r\n\r\nBEGIN:VCARD\r\nEND:VCARD\r\n--b--\r\n";
  }
  mail::DsnInput in;
  in.reporting_mta = "fax.test";
  in.from = "fax@fax.test";
  in.to = "juergen@example.de";  // (a UTF-8 address would be UTF-8 in To:, sent with SMTPUTF8)
  in.message_id = "dsn-8@fax.test";
  in.arrival = in.now = 1795380067;
  in.original_path = orig.string();
  mail::DsnRecipient a;
  a.final_recipient = "FAX=+12025550100@fax.test";
  a.action = "failed";
  a.status = "5.3.0";
  a.number = "+12025550100";
  a.why = "part 3 (\xc3\xa9t\xc3\xa9.pdf, application/pdf) cannot be faxed";
  in.recipients = {a};
  auto seven_bit = [](const std::string& m) {
    return std::none_of(m.begin(), m.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  };
  for (bool full : {false, true}) {
    in.full = full;
    auto m = mail::compose_dsn(in);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_TRUE(seven_bit(*m)) << *m;
    GMimeStream* st = g_mime_stream_mem_new_with_buffer(m->data(), m->size());
    GMimeParser* parser = g_mime_parser_new_with_stream(st);
    GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
    ASSERT_NE(msg, nullptr);
    GMimeMultipart* body = GMIME_MULTIPART(g_mime_message_get_mime_part(msg));
    ASSERT_EQ(g_mime_multipart_get_count(body), 3);
    auto decoded = [](GMimeObject* o) {
      GMimeStream* out = g_mime_stream_mem_new();
      g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(GMIME_PART(o)), out);
      GByteArray* a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
      std::string s(reinterpret_cast<const char*>(a->data), a->len);
      g_object_unref(out);
      return s;
    };
    GMimeObject* human = g_mime_multipart_get_part(body, 0);
    EXPECT_STREQ(g_mime_object_get_content_type_parameter(human, "charset"), "utf-8");
    const std::string text = decoded(human);
    EXPECT_NE(text.find("Could NOT be sent to +12025550100: part 3 (\xc3\xa9t\xc3\xa9.pdf, application/pdf) cannot"),
              std::string::npos) << text;
    EXPECT_NE(text.find("  - part 2 (J\xc3\xbcrgen.vcf, text/vcard): vCard"), std::string::npos) << text;
    GMimeObject* third = g_mime_multipart_get_part(body, 2);
    GMimeContentType* ct = g_mime_object_get_content_type(third);
    EXPECT_STREQ(g_mime_content_type_get_media_type(ct), "message");
    EXPECT_STREQ(g_mime_content_type_get_media_subtype(ct), full ? "global" : "global-headers");
    const std::string copy = decoded(third);
    EXPECT_NE(copy.find("Subject: Gr\xc3\xbc\xc3\x9f\x65"), std::string::npos);
    EXPECT_EQ(copy.find("S\xc3\xbc\xc3\x9f.") != std::string::npos, full);  // the body only with RET=FULL
    g_object_unref(msg);
    g_object_unref(parser);
    g_object_unref(st);
  }
  fs::remove(orig);
}

// What MAIL FROM declared is honoured even when the original's bytes are all ASCII: SMTPUTF8
// (UTF-8 was in the envelope) makes the status part message/global-delivery-status with the
// report-type to match (RFC 6533 §6.1, RFC 6522 §3); BODY=8BITMIME or SMTPUTF8 returns the
// original as message/global, SMTPUTF8 its headers as message/global-headers.
TEST(Dsn, TheDeclaredBodyAndSmtputf8AreHonoured) {
  namespace fs = std::filesystem;
  fs::path orig = fs::temp_directory_path() / ("dsn_flags." + std::to_string(::getpid()) + ".eml");
  {
    std::ofstream f(orig);
    f << "From: a@example.com\r\nSubject: plain\r\n\r\nASCII BODY\r\n";
  }
  mail::DsnInput in;
  in.reporting_mta = "fax.test";
  in.from = "fax@fax.test";
  in.to = "a@example.com";
  in.message_id = "dsn-f@fax.test";
  in.arrival = in.now = 1795380067;
  in.original_path = orig.string();
  mail::DsnRecipient a;
  a.final_recipient = "FAX=+12025550100@fax.test";
  a.action = "failed";
  a.status = "5.4.1";
  a.number = "+12025550100";
  in.recipients = {a};
  struct Case {
    bool eight, utf8, full;
    const char* report_type;
    const char* returned;
  };
  for (const Case& c : {Case{false, false, true, "delivery-status", "Content-Type: message/rfc822"},
                        Case{true, false, true, "delivery-status", "Content-Type: message/global"},
                        Case{true, false, false, "delivery-status", "Content-Type: text/rfc822-headers"},
                        Case{false, true, true, "global-delivery-status", "Content-Type: message/global\n"},
                        Case{false, true, false, "global-delivery-status", "Content-Type: message/global-headers"}}) {
    in.original_8bit = c.eight;
    in.original_smtputf8 = c.utf8;
    in.full = c.full;
    auto m = mail::compose_dsn(in);
    ASSERT_TRUE(m) << m.error().message;
    const std::string head = m->substr(0, m->find("\n\n"));
    EXPECT_NE(head.find(std::string("report-type=") + c.report_type), std::string::npos) << head;
    EXPECT_NE(m->find(std::string("Content-Type: message/") + c.report_type + "\n"), std::string::npos) << *m;
    EXPECT_NE(m->find(c.returned), std::string::npos) << c.eight << c.utf8 << c.full << "\n" << *m;
  }
  fs::remove(orig);
}

TEST(Dsn, DelayedSaysUntilWhen) {
  mail::DsnInput in = report_to_alice("dsn-2@fax.test", 1795380067);
  mail::DsnRecipient a;
  a.final_recipient = "FAX=+12025550100@fax.test";
  a.action = "delayed";
  a.status = "4.4.1";
  a.diagnostic = "no answer";
  a.number = "+12025550100";
  a.will_retry_until = 1795390867;
  in.recipients = {a};
  auto m = mail::compose_dsn(in);
  ASSERT_TRUE(m);
  EXPECT_NE(m->find("Will-Retry-Until: Sun, 22 Nov 2026 23:41:07 +0000"), std::string::npos) << *m;
  EXPECT_NE(m->find("keeps trying until 2026-11-22 23:41 UTC"), std::string::npos);
  EXPECT_EQ(header_block(*m, "Subject"), "Fax delayed: not yet sent to +12025550100");
}

TEST(Dsn, NamesThePartsThatWereNotFaxed) {
  namespace fs = std::filesystem;
  fs::path orig = fs::temp_directory_path() / ("dsn_skip." + std::to_string(::getpid()) + ".eml");
  {
    std::ofstream f(orig);
    f << "From: alice@example.com\r\nSubject: signed\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
         "--b\r\nContent-Type: text/plain\r\n\r\nPlease sign.\r\n"
         "--b\r\nContent-Type: text/vcard; name=alice.vcf\r\n\r\nBEGIN:VCARD\r\nEND:VCARD\r\n"
         "--b\r\nContent-Type: application/pgp-signature; name=sig.asc\r\n\r\n-----BEGIN PGP-----\r\n"
         "--b--\r\n";
  }
  mail::DsnInput in;
  in.reporting_mta = "fax.test";
  in.from = "fax@fax.test";
  in.to = "alice@example.com";
  in.message_id = "dsn-3@fax.test";
  in.arrival = in.now = 1795380067;
  in.original_path = orig.string();
  mail::DsnRecipient a;
  a.final_recipient = "FAX=+12025550100@fax.test";
  a.action = "delivered";
  a.status = "2.0.0";
  a.number = "+12025550100";
  a.pages = a.pages_sent = 1;
  in.recipients = {a};
  auto m = mail::compose_dsn(in);
  ASSERT_TRUE(m);
  EXPECT_NE(m->find("These parts of your message were not faxed:\n"
                    "  - part 2 (alice.vcf, text/vcard): vCard\n"
                    "  - part 3 (sig.asc, application/pgp-signature): signature\n"),
            std::string::npos)
      << *m;
  fs::remove(orig);
}

const char* kAsking =
    "From: Alice <alice@example.com>\r\nTo: FAX=+12025550100@fax.test\r\nSubject: contract\r\n"
    "Message-ID: <c42@example.com>\r\nDisposition-Notification-To: Alice <Alice@Example.com>\r\n\r\nbody\r\n";

TEST(Mdn, OnlyWhenAskedByTheEnvelopeSenderAlone) {
  auto r = mail::mdn_request(kAsking, "alice@example.com");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->to, "Alice@Example.com");
  EXPECT_EQ(r->original_message_id, "c42@example.com");
  EXPECT_FALSE(mail::mdn_request(kAsking, "mallory@example.com"));  // a third party: not automatically
  EXPECT_FALSE(mail::mdn_request(kAsking, ""));                     // the null sender
  EXPECT_FALSE(mail::mdn_request("From: alice@example.com\r\n\r\nbody\r\n", "alice@example.com"));
  EXPECT_FALSE(mail::mdn_request(
      "Disposition-Notification-To: alice@example.com, bob@example.com\r\n\r\nx\r\n", "alice@example.com"));
  EXPECT_FALSE(mail::mdn_request("Disposition-Notification-To: <<<\r\n\r\nx\r\n", "alice@example.com"));
}

TEST(Mdn, ProcessedOrProcessedWithTheError) {
  mail::MdnInput in;
  in.reporting_ua = "fax.test";
  in.from = "fax@fax.test";
  in.message_id = "mdn-1@fax.test";
  in.request = *mail::mdn_request(kAsking, "alice@example.com");
  in.final_recipient = "FAX=+12025550100@fax.test";
  in.orcpt = "rfc822;FAX=+12025550100@fax.test";
  in.number = "+12025550100";
  in.complete = true;
  in.pages = in.pages_sent = 2;
  in.original = kAsking;
  in.now = 1795380067;
  auto m = mail::compose_mdn(in);
  ASSERT_TRUE(m);
  const std::string head = m->substr(0, m->find("\n\n"));
  EXPECT_NE(head.find("report-type=disposition-notification"), std::string::npos) << head;
  EXPECT_EQ(header_block(*m, "To"), "Alice@Example.com");
  EXPECT_EQ(header_block(*m, "Subject"), "Fax processed: sent to +12025550100");
  EXPECT_NE(m->find("Content-Type: message/disposition-notification\n"), std::string::npos) << *m;
  EXPECT_NE(m->find("Reporting-UA: fax.test; faxbridge\nOriginal-Recipient: rfc822;FAX=+12025550100@fax.test\n"
                    "Final-Recipient: rfc822; FAX=+12025550100@fax.test\nOriginal-Message-ID: <c42@example.com>\n"
                    "Disposition: automatic-action/MDN-sent-automatically; processed\n"),
            std::string::npos)
      << *m;
  EXPECT_EQ(m->find("Error:"), std::string::npos);
  EXPECT_NE(m->find("Content-Type: text/rfc822-headers"), std::string::npos);
  EXPECT_EQ(m->find("\nbody"), std::string::npos);  // the headers only
  in.complete = false;
  in.pages_sent = 1;
  in.error = "Busy Here. Gave up after 12 dials.";
  m = mail::compose_mdn(in);
  ASSERT_TRUE(m);
  EXPECT_NE(m->find("Disposition: automatic-action/MDN-sent-automatically; processed/error\n"
                    "Error: Busy Here. Gave up after 12 dials.\n"),
            std::string::npos)
      << *m;
  EXPECT_NE(m->find("1 of 2 pages went through"), std::string::npos);
  EXPECT_EQ(m->find("X-Fax-Node"), std::string::npos);
  in.node = "n2";
  m = mail::compose_mdn(in);
  ASSERT_TRUE(m);
  EXPECT_NE(m->find("It could NOT be faxed completely to +12025550100 by node n2: 1 of 2 pages went through."),
            std::string::npos)
      << *m;
  EXPECT_NE(m->find("Error: Busy Here. Gave up after 12 dials.\nX-Fax-Node: n2\n"), std::string::npos) << *m;
}

}  // namespace
