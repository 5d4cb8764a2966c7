// form_data_test.cpp — multipart/form-data (RFC 7578) as browsers, curl and `faxbridge send`
// write it, and the bodies a hostile client sends.
#include "mail/form_data.hpp"

#include <gtest/gtest.h>

namespace mail {
namespace {

using namespace std::string_literals;

TEST(FormData, FieldsAndFilesInOrder) {
  // As curl -F writes it: a text field, a file with its type, a binary file.
  const std::string body =
      "--------------------------d74496d66958873e\r\n"
      "Content-Disposition: form-data; name=\"to\"\r\n\r\n"
      "+15550100\r\n"
      "--------------------------d74496d66958873e\r\n"
      "Content-Disposition: form-data; name=\"document\"; filename=\"letter.pdf\"\r\n"
      "Content-Type: application/pdf\r\n\r\n"
      "%PDF-1.4 \x00\xff binary\r\n"
      "--------------------------d74496d66958873e\r\n"
      "Content-Disposition: form-data; name=\"document\"; filename=\"x.bin\"\r\n"
      "Content-Type: Text/Plain; charset=KOI8-R; format=flowed\r\n\r\n"
      "raw\r\n"
      "--------------------------d74496d66958873e--\r\n"s;
  auto f = parse_form_data("multipart/form-data; boundary=------------------------d74496d66958873e",
                           std::string_view(body.data(), body.size()));
  ASSERT_TRUE(f) << f.error();
  ASSERT_EQ(f->size(), 3u);
  EXPECT_EQ((*f)[0].name, "to");
  EXPECT_EQ((*f)[0].data, "+15550100");
  EXPECT_FALSE((*f)[0].filename);
  EXPECT_EQ((*f)[0].content_type, "text/plain");  // RFC 7578 §4.4 default
  EXPECT_EQ((*f)[1].filename, "letter.pdf");
  EXPECT_EQ((*f)[1].content_type, "application/pdf");
  EXPECT_EQ((*f)[1].data, std::string("%PDF-1.4 \x00\xff binary", 18));  // bytes as sent, NUL included
  EXPECT_EQ((*f)[2].data, "raw");
  EXPECT_EQ((*f)[2].content_type, "text/plain; charset=koi8-r");  // the charset kept, nothing else
}

TEST(FormData, WhatIsRefusedAndWhy) {
  EXPECT_EQ(parse_form_data("application/json", "{}").error(), "the body is not multipart/form-data");
  EXPECT_EQ(parse_form_data("multipart/form-data", "x").error(), "multipart/form-data without a boundary");
  EXPECT_EQ(parse_form_data("multipart/form-data; boundary=zz", "--other\r\n\r\nx\r\n--other--\r\n").error(),
            "the form has no field (is the boundary right?)");
  EXPECT_EQ(parse_form_data("multipart/form-data; boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n").error(),
            "form part 1 has no Content-Disposition: form-data with a name");
  std::string many;
  for (size_t i = 0; i <= kMaxFormFields; ++i) many += "--b\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n1\r\n";
  many += "--b--\r\n";
  EXPECT_EQ(parse_form_data("multipart/form-data; boundary=b", many).error(), "the form has 65 fields, at most 64");
  EXPECT_FALSE(parse_form_data("multipart/form-data; boundary=b",
                               "--b\r\nContent-Disposition: form-data; name=\"" + std::string(200, 'n') +
                                   "\"\r\n\r\nx\r\n--b--\r\n"));
  EXPECT_FALSE(parse_form_data("multipart/form-data; boundary=b",
                               "--b\r\nContent-Type: multipart/mixed; boundary=c\r\nContent-Disposition: form-data; "
                               "name=\"x\"\r\n\r\n--c\r\n\r\ny\r\n--c--\r\n--b--\r\n"));
}

}  // namespace
}  // namespace mail
