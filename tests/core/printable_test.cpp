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

TEST(TextLine, Utf8KeptControlsSpacedInvalidBytesReplacedAndCutOnABoundary) {
  EXPECT_EQ(fb::text_line("r\xc3\xa9sum\xc3\xa9.pdf \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80"),
            "r\xc3\xa9sum\xc3\xa9.pdf \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(fb::text_line("a\r\nb\tc\x7f\xc2\x85" "d"), "a  b c  d");  // C0, DEL, C1 (NEL)
  EXPECT_EQ(fb::text_line("caf\xe9 \xc0\xaf \xed\xa0\x80"),  // Latin-1, overlong '/', a surrogate
            "caf\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(fb::text_line("ab\xc3\xa9", 3), "ab");  // not half a character
  EXPECT_EQ(fb::text_line("\xe6\x9d"), "\xef\xbf\xbd\xef\xbf\xbd");  // cut short
}

}  // namespace
