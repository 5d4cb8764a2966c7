// printable_test.cpp — bytes from strangers in a log line: escaped, never a second line.
#include "core/printable.hpp"

#include <gtest/gtest.h>

namespace {

TEST(Printable, ControlCharactersAndBackslashesAreEscaped) {
  EXPECT_EQ(fb::printable("alice"), "alice");
  EXPECT_EQ(fb::printable("a\r\nfaxbridge: forged line"), "a\\r\\nfaxbridge: forged line");
  EXPECT_EQ(fb::printable(std::string("x\0y\x1b[31m\x7f\t\\", 11)), "x\\x00y\\x1b[31m\\x7f\\t\\\\");
  EXPECT_EQ(fb::printable("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 stays readable
}

TEST(Printable, LongInputIsCut) {
  EXPECT_EQ(fb::printable(std::string(300, 'a'), 10), std::string(10, 'a') + "...");
  EXPECT_EQ(fb::printable(std::string(10, 'a'), 10), std::string(10, 'a'));
}

}  // namespace
