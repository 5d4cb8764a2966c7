// render_protocol_test.cpp — gateway/render_protocol.hpp: messages round-trip, malformed ones
// are refused field by field, descriptors travel and surplus ones are closed.
#include "gateway/render_protocol.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <gtest/gtest.h>

using namespace gateway;
using namespace std::string_literals;

TEST(RenderProtocol, RequestsRepliesAndHelloRoundTrip) {
  RenderRequest r;
  r.resolution = "superfine";
  r.paper = "letter";
  r.cover = "always";
  r.cover_to = "+15550100";
  r.time_limit_s = 42;
  r.input_name = "spool/msg/0123456789abcdef.eml";
  auto back = decode_request(encode(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->resolution, "superfine");
  EXPECT_EQ(back->paper, "letter");
  EXPECT_EQ(back->cover, "always");
  EXPECT_EQ(back->cover_to, "+15550100");
  EXPECT_EQ(back->time_limit_s, 42);
  EXPECT_EQ(back->input_name, r.input_name);
  auto reply = decode_reply(encode(RenderReply{4, "x.pdf: the document is corrupt", 7}));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->code, 4);
  EXPECT_EQ(reply->message, "x.pdf: the document is corrupt");
  EXPECT_EQ(reply->worker_pid, 7);
  EXPECT_EQ(decode_hello(encode_hello("/tmp/faxbridge-jails-994/Ab12")), "/tmp/faxbridge-jails-994/Ab12");
}

TEST(RenderProtocol, MalformedMessagesAreRefused) {
  const std::string ok = "render\0fine\0auto\0ask\0\0" "300\0m.eml\0"s;
  ASSERT_TRUE(decode_request(ok));
  for (const std::string& bad : {
           ""s, "render\0"s, "render\0fine\0auto\0ask\0\0" "300\0m.eml"s,               // unterminated
           "render\0fine\0auto\0ask\0\0" "300\0m.eml\0extra\0"s,                         // a field too many
           "rendr\0fine\0auto\0ask\0\0" "300\0m.eml\0"s,                                 // another verb
           "render\0fine\0auto\0maybe\0\0" "300\0m.eml\0"s,                              // cover
           "render\0fine\0auto\0ask\0\0" "zero\0m.eml\0"s, "render\0fine\0auto\0ask\0\0" "0\0m.eml\0"s,
           "render\0fine\0auto\0ask\0\0" "-5\0m.eml\0"s, "render\0fine\0auto\0ask\0\0" "99999999999999\0m.eml\0"s,
           "render\0fine\0auto\0ask\0\0" "300\0\0"s,                                     // no input name
           "render\0fine\0auto\0ask\0+1\n555\0" "300\0m.eml\0"s}) {                        // a line break
    EXPECT_FALSE(decode_request(bad)) << bad;
  }
  EXPECT_FALSE(decode_reply("done\0" "0\0ok\0"s));
  EXPECT_FALSE(decode_reply("done\0x\0ok\0" "1\0"s));
  EXPECT_FALSE(decode_reply("done\0" "300\0ok\0" "1\0"s));
  EXPECT_FALSE(decode_reply("done\0" "0\0ok\0-1\0"s));
  EXPECT_FALSE(decode_hello("hello\0relative/dir\0"s));
  EXPECT_FALSE(decode_hello("hello\0\0"s));
}

TEST(RenderProtocol, DescriptorsTravelAndTooManyAreAnError) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  int pipe1[2];
  ASSERT_EQ(pipe(pipe1), 0);
  ASSERT_TRUE(send_message(sv[0], "hello", {pipe1[0], pipe1[1]}));
  ProtocolMessage m;
  ASSERT_EQ(receive_message(sv[1], 1000, m), ReceiveStatus::ok);
  EXPECT_EQ(m.bytes, "hello");
  ASSERT_EQ(m.fds.size(), 2u);
  ASSERT_EQ(write(m.fds[1], "x", 1), 1);  // the received write end feeds the original read end
  char c = 0;
  ASSERT_EQ(read(pipe1[0], &c, 1), 1);
  EXPECT_EQ(c, 'x');
  for (int fd : m.fds) close(fd);
  // Nothing waiting: a timeout, not a block.
  EXPECT_EQ(receive_message(sv[1], 10, m), ReceiveStatus::timeout);
  // Three descriptors where two are the most: the sender refuses, and a peer that sends them
  // anyway gets an error with none of them kept.
  EXPECT_FALSE(send_message(sv[0], "x", {pipe1[0], pipe1[1], pipe1[0]}));
  {
    int fds[3] = {pipe1[0], pipe1[0], pipe1[0]};
    char byte = 'x';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)] = {};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    ASSERT_EQ(sendmsg(sv[0], &mh, 0), 1);
    EXPECT_EQ(receive_message(sv[1], 1000, m), ReceiveStatus::error);
    EXPECT_TRUE(m.fds.empty());
  }
  // A reply with a NUL in its message, or a code out of range, does not decode.
  EXPECT_FALSE(decode_reply("done\0" "4\0a\0b\0" "1\0"s));
  EXPECT_FALSE(decode_reply(encode(RenderReply{256, "x", 1})));
  // An oversized message is refused by the sender.
  EXPECT_FALSE(send_message(sv[0], std::string(kMaxProtocolMessage + 1, 'a')));
  close(sv[0]);
  EXPECT_EQ(receive_message(sv[1], 1000, m), ReceiveStatus::closed);
  close(sv[1]);
  close(pipe1[0]);
  close(pipe1[1]);
}
