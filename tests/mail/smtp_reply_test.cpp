// smtp_reply_test.cpp — mail::SmtpReplyParser: single and multiline replies, and every kind of
// line that is not a reply.
#include <gtest/gtest.h>

#include "mail/smtp_reply.hpp"

namespace mail {
namespace {

using Step = SmtpReplyParser::Step;

TEST(SmtpReply, OneLine) {
  SmtpReplyParser p;
  EXPECT_EQ(p.add_line("250 2.0.0 Ok: queued as 12345\r\n"), Step::done);
  EXPECT_EQ(p.reply().code, 250);
  EXPECT_EQ(p.reply().lines, std::vector<std::string>{"2.0.0 Ok: queued as 12345"});
  EXPECT_EQ(p.reply().text, "250 2.0.0 Ok: queued as 12345");
  SmtpReplyParser bare;
  EXPECT_EQ(bare.add_line("354"), Step::done);  // a code alone is a reply
  EXPECT_EQ(bare.reply().code, 354);
}

TEST(SmtpReply, MultilineEhloAndItsExtensions) {
  SmtpReplyParser p;
  EXPECT_EQ(p.add_line("250-mail.example.com Hello\r\n"), Step::more);
  EXPECT_EQ(p.add_line("250-STARTTLS\r\n"), Step::more);
  EXPECT_EQ(p.add_line("250-auth plain login\n"), Step::more);
  EXPECT_EQ(p.add_line("250 8BITMIME"), Step::done);
  const SmtpReply& r = p.reply();
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.lines.size(), 4u);
  std::string params;
  EXPECT_TRUE(has_extension(r, "STARTTLS"));
  EXPECT_TRUE(has_extension(r, "AUTH", &params));
  EXPECT_EQ(params, "PLAIN LOGIN");
  EXPECT_TRUE(has_extension(r, "8BITMIME"));
  EXPECT_FALSE(has_extension(r, "MAIL.EXAMPLE.COM"));  // the greeting line is not an extension
  EXPECT_FALSE(has_extension(r, "SIZE"));
}

TEST(SmtpReply, WhatIsNotAReplyIsAnError) {
  for (const char* bad : {"", "25", "hello", "25x Ok", "250Ok", "2500 Ok", "-250 Ok"}) {
    SmtpReplyParser p;
    EXPECT_EQ(p.add_line(bad), Step::error) << bad;
    EXPECT_EQ(p.reply().code, 0) << bad;
    EXPECT_NE(p.reply().text.find("not an SMTP reply"), std::string::npos) << p.reply().text;
  }
  SmtpReplyParser mixed;
  EXPECT_EQ(mixed.add_line("250-first"), Step::more);
  EXPECT_EQ(mixed.add_line("550 second"), Step::error);
  EXPECT_EQ(mixed.reply().text, "the server's reply changed its code from 250 to 550");
  SmtpReplyParser control;
  EXPECT_EQ(control.add_line("220 hi\x1b[2Jthere"), Step::done);
  EXPECT_EQ(control.reply().text, "220 hi [2Jthere");  // no terminal escapes in our logs
}

TEST(SmtpReply, Limits) {
  SmtpReplyParser p;
  for (int i = 0; i < kReplyLinesMax; ++i) ASSERT_EQ(p.add_line("250-x"), Step::more) << i;
  EXPECT_EQ(p.add_line("250-x"), Step::error);
  EXPECT_EQ(p.reply().text, "the server's reply has too many lines");
  SmtpReplyParser longer;
  EXPECT_EQ(longer.add_line("250 " + std::string(kReplyLineMax, 'a')), Step::error);
}

}  // namespace
}  // namespace mail
