// delivery_report_test.cpp — reading bounces (RFC 3464/6533) as Postfix, Exchange and others
// send them, and the VERP bounce address, with the edge cases of untrusted input.
#include "mail/delivery_report.hpp"

#include <gtest/gtest.h>

namespace mail {
namespace {

// A bounce as Postfix 3.7 writes it (bounce(8)): notification, delivery report, the original.
const std::string kPostfixBounce =
    "Return-Path: <>\r\n"
    "From: MAILER-DAEMON@smarthost.test (Mail Delivery System)\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "To: fax+42.0123456789abcdef@fax.example.net\r\n"
    "Auto-Submitted: auto-replied\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
    "\tboundary=\"4F1C2E.1733331234/smarthost.test\"\r\n"
    "\r\n"
    "This is a MIME-encapsulated message.\r\n"
    "\r\n"
    "--4F1C2E.1733331234/smarthost.test\r\n"
    "Content-Description: Notification\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "This is the mail system at host smarthost.test.\r\n"
    "\r\n"
    "<full@example.com>: host 127.0.0.1[127.0.0.1] said: 552 5.2.2 <full@example.com>\r\n"
    "    Quota exceeded (mailbox for user is full) (in reply to end of DATA command)\r\n"
    "\r\n"
    "--4F1C2E.1733331234/smarthost.test\r\n"
    "Content-Description: Delivery report\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; smarthost.test\r\n"
    "X-Postfix-Queue-ID: 4F1C2E\r\n"
    "X-Postfix-Sender: rfc822; fax+42.0123456789abcdef@fax.example.net\r\n"
    "Arrival-Date: Fri,  4 Dec 2026 17:00:00 +0000 (UTC)\r\n"
    "\r\n"
    "Final-Recipient: rfc822; full@example.com\r\n"
    "Original-Recipient: rfc822;full@example.com\r\n"
    "Action: failed\r\n"
    "Status: 5.2.2\r\n"
    "Remote-MTA: dns; 127.0.0.1\r\n"
    "Diagnostic-Code: lmtp; 552 5.2.2 <full@example.com> Quota exceeded (mailbox for\r\n"
    "    user is full)\r\n"
    "\r\n"
    "--4F1C2E.1733331234/smarthost.test\r\n"
    "Content-Description: Undelivered Message\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: fax@fax.example.net\r\n"
    "Subject: Fax from +15551234\r\n"
    "\r\n"
    "the fax\r\n"
    "\r\n"
    "--4F1C2E.1733331234/smarthost.test--\r\n";

std::string report_with(const std::string& type, const std::string& status_body, const std::string& cte = "") {
  return "From: <>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
         "boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhuman\r\n--b\r\nContent-Type: " +
         type + "\r\n" + (cte.empty() ? "" : "Content-Transfer-Encoding: " + cte + "\r\n") + "\r\n" + status_body +
         "\r\n--b--\r\n";
}

TEST(DeliveryReport, APostfixBounceIsReadField) {
  auto r = read_delivery_report(kPostfixBounce);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reporting_mta, "smarthost.test");
  ASSERT_EQ(r->recipients.size(), 1u);
  const auto& rr = r->recipients[0];
  EXPECT_EQ(rr.final_recipient, "full@example.com");
  EXPECT_EQ(rr.original_recipient, "full@example.com");
  EXPECT_EQ(rr.action, "failed");
  EXPECT_EQ(rr.status, "5.2.2");
  EXPECT_EQ(rr.remote_mta, "127.0.0.1");
  // Unfolded, its type taken off.
  EXPECT_EQ(rr.diagnostic, "552 5.2.2 <full@example.com> Quota exceeded (mailbox for user is full)");
  EXPECT_EQ(describe(*r, rr),
            "5.2.2 (552 5.2.2 <full@example.com> Quota exceeded (mailbox for user is full)), reported by smarthost.test");
}

TEST(DeliveryReport, SeveralRecipientsAndTheOneAboutOurMail) {
  auto r = read_delivery_report(report_with("message/delivery-status",
                                            "Reporting-MTA: dns; mx.example.com\r\n\r\n"
                                            "Final-Recipient: rfc822; other@example.com\r\nAction: delayed\r\n"
                                            "Status: 4.4.1\r\n\r\n"
                                            "Final-Recipient: rfc822; x@example.com\r\nOriginal-Recipient: "
                                            "rfc822; Dave@Example.com\r\nAction: Failed\r\nStatus: 5.1.1\r\n"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->recipients.size(), 2u);
  EXPECT_EQ(recipient_about(*r, "dave@example.COM").final_recipient, "x@example.com");  // by Original-Recipient
  EXPECT_EQ(recipient_about(*r, "OTHER@example.com").action, "delayed");
  EXPECT_EQ(recipient_about(*r, "nobody@else").status, "5.1.1");  // else the first that failed
  EXPECT_EQ(r->recipients[1].action, "failed");                   // lower case
}

TEST(DeliveryReport, GlobalReportsInUtf8AndEncoded) {
  // RFC 6533: message/global-delivery-status, here in base64, with a UTF-8 address.
  // "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: utf-8; jörg@example.com\r\nAction: failed\r\nStatus: 5.2.2\r\n"
  auto r = read_delivery_report(report_with(
      "message/global-delivery-status",
      "UmVwb3J0aW5nLU1UQTogZG5zOyBteC5leGFtcGxlLmNvbQ0KDQpGaW5hbC1SZWNpcGllbnQ6IHV0Zi04OyBqw7ZyZ0BleGFtcGxl"
      "LmNvbQ0KQWN0aW9uOiBmYWlsZWQNClN0YXR1czogNS4yLjINCg==",
      "base64"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->recipients.size(), 1u);
  EXPECT_EQ(r->recipients[0].final_recipient, "j\xc3\xb6rg@example.com");
  EXPECT_EQ(r->recipients[0].status, "5.2.2");
}

TEST(DeliveryReport, ActionFromTheStatusClassWhenLeftOut) {
  auto r = read_delivery_report(report_with("message/delivery-status",
                                            "Reporting-MTA: dns; a\r\n\r\nFinal-Recipient: rfc822; b@c\r\n"
                                            "Status: 5.7.1 (policy)\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->recipients[0].status, "5.7.1");
  EXPECT_EQ(r->recipients[0].action, "failed");
}

TEST(DeliveryReport, WhatIsNoReport) {
  // An autoresponder's reply, a person's, a report with no recipient group, a multipart/report
  // of another type (an MDN), an empty message, bytes that are not mail.
  EXPECT_FALSE(read_delivery_report("From: a@b\r\nSubject: Out of office\r\n\r\nI am away.\r\n"));
  EXPECT_FALSE(read_delivery_report(report_with("message/delivery-status", "Reporting-MTA: dns; a\r\n")));
  EXPECT_FALSE(read_delivery_report(
      report_with("message/disposition-notification", "Reporting-UA: a\r\nFinal-Recipient: rfc822; b@c\r\n")));
  EXPECT_FALSE(read_delivery_report(""));
  EXPECT_FALSE(read_delivery_report(std::string("\0\xff\xfe garbage", 12)));
  // Groups that say nothing of a recipient are skipped.
  EXPECT_FALSE(read_delivery_report(
      report_with("message/delivery-status", "Reporting-MTA: dns; a\r\n\r\nX-Other: 1\r\nStatus: nonsense\r\n")));
}

TEST(DeliveryReport, HostileValuesAreBoundedAndCleaned) {
  std::string long_diag(5000, 'x');
  long_diag[499] = '\xc3';  // a two-byte character across the cut
  long_diag[500] = '\xa9';
  auto r = read_delivery_report(report_with("message/delivery-status",
                                            "Reporting-MTA: dns; a\x01\x7f b\r\n\r\nFinal-Recipient: rfc822; x@y\r\n"
                                            "Action: failed\r\nStatus: 5.1.1.1\r\nDiagnostic-Code: smtp; " +
                                                long_diag + "\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reporting_mta, "a b");
  EXPECT_EQ(r->recipients[0].status, "");  // not a status code
  EXPECT_LE(r->recipients[0].diagnostic.size(), kMaxReportValue);
  EXPECT_EQ(r->recipients[0].diagnostic.size(), 499u);  // cut before the split character
  // Many groups: at most kMaxReportedRecipients.
  std::string many = "Reporting-MTA: dns; a\r\n";
  for (int i = 0; i < 500; ++i) many += "\r\nFinal-Recipient: rfc822; r" + std::to_string(i) + "@x\r\nAction: failed\r\n";
  auto m = read_delivery_report(report_with("message/delivery-status", many));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->recipients.size(), kMaxReportedRecipients);
  // A report cut short (a size limit upstream) is still read.
  auto cut = read_delivery_report(kPostfixBounce.substr(0, kPostfixBounce.find("--4F1C2E.1733331234/smarthost.test\r\n"
                                                                              "Content-Description: Undelivered")));
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->recipients[0].status, "5.2.2");
}

TEST(BounceAddress, RoundTripsAndRefusesLookalikes) {
  const std::string a = bounce_address("fax", "fax.example.net", 42, "0123456789abcdef");
  EXPECT_EQ(a, "fax+42.0123456789abcdef@fax.example.net");
  auto b = parse_bounce_address(a, "fax");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->delivery, 42);
  EXPECT_EQ(b->tag, "0123456789abcdef");
  // Letter case folded by an MTA on the way.
  EXPECT_EQ(parse_bounce_address("FAX+42.0123456789ABCDEF@Fax.Example.Net", "fax")->tag, "0123456789abcdef");
  for (const char* bad : {"fax@fax.example.net", "fax+42@fax.example.net", "fax+42.0123456789abcde@x",
                          "fax+42.0123456789abcdefa@x", "fax+042.0123456789abcdef@x", "fax+0.0123456789abcdef@x",
                          "fax+-1.0123456789abcdef@x", "fax+.0123456789abcdef@x", "fax+42.0123456789abcdeg@x",
                          "other+42.0123456789abcdef@x", "FAX=+12025550100@fax.example.net",
                          "fax+99999999999999999999.0123456789abcdef@x", "fax+42.0123456789abcdef"}) {
    EXPECT_FALSE(parse_bounce_address(bad, "fax")) << bad;
  }
  EXPECT_FALSE(parse_bounce_address(a, ""));
}

}  // namespace
}  // namespace mail
