// enriched_test.cpp — imaging::enriched::parse (RFC 1896 text/enriched) against exact documents.
#include "imaging/enriched.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Readable failure messages (found by ADL; static so other test files may define their own).
namespace imaging::text {

static void PrintTo(const Span& s, std::ostream* os) {
  *os << "{" << testing::PrintToString(s.text) << (s.bold ? " bold" : "") << (s.italic ? " italic" : "")
      << (s.underline ? " underline" : "") << (s.fixed ? " fixed" : "") << " size=" << s.size_steps << "}";
}

static void PrintTo(const Paragraph& p, std::ostream* os) {
  *os << "\n  Paragraph{align=" << static_cast<int>(p.align) << " indent=" << p.indent_left << "/"
      << p.indent_right << " excerpt=" << p.excerpt << (p.nofill ? " nofill" : "")
      << (p.page_break_before ? " page_break" : "") << " spans=[";
  for (const Span& s : p.spans) PrintTo(s, os);
  *os << "]}";
}

}  // namespace imaging::text

namespace imaging::enriched {
namespace {

using namespace std::literals;
using text::Align;
using text::Paragraph;
using text::Span;
using Paras = std::vector<Paragraph>;

Paras parse_paras(std::string_view in) {
  return parse(in).paragraphs;
}

Span plain(std::string t) {
  return Span{.text = std::move(t)};
}
Paragraph para(std::vector<Span> spans) {
  return Paragraph{.spans = std::move(spans)};
}
Paragraph para(std::string t) {
  return para(std::vector<Span>{plain(std::move(t))});
}
Paragraph nofill(std::string t) {
  Paragraph p = t.empty() ? Paragraph{} : para(std::move(t));
  p.nofill = true;
  return p;
}
Paragraph with_align(Paragraph p, Align a) {
  p.align = a;
  return p;
}

// --- basics ---------------------------------------------------------------------------------------

TEST(Enriched, EmptyInputHasNoParagraphs) {
  EXPECT_EQ(parse_paras(""), Paras{});
  EXPECT_EQ(parse_paras("<bold></bold>"), Paras{});
  EXPECT_EQ(parse_paras("<param>hidden</param>"), Paras{});
}

TEST(Enriched, PlainTextIsOneParagraph) {
  EXPECT_EQ(parse_paras("Hello, world."), Paras{para("Hello, world.")});
}

TEST(Enriched, WhitespaceInsideTextIsKept) {
  EXPECT_EQ(parse_paras("  a \t  b  "), Paras{para("  a \t  b  ")});
}

TEST(Enriched, BytesPassThroughUnvalidated) {
  const std::string_view in = "\xff\xfe\0x<bold>\x80</bold>"sv;
  EXPECT_EQ(parse_paras(in), Paras{para({plain("\xff\xfe\0x"s), Span{.text = "\x80", .bold = true}})});
}

// --- character styles -----------------------------------------------------------------------------

TEST(Enriched, EachFontCommandSetsItsFlag) {
  EXPECT_EQ(parse_paras("<bold>b</bold>"), Paras{para({Span{.text = "b", .bold = true}})});
  EXPECT_EQ(parse_paras("<italic>i</italic>"), Paras{para({Span{.text = "i", .italic = true}})});
  EXPECT_EQ(parse_paras("<underline>u</underline>"), Paras{para({Span{.text = "u", .underline = true}})});
  EXPECT_EQ(parse_paras("<fixed>f</fixed>"), Paras{para({Span{.text = "f", .fixed = true}})});
}

TEST(Enriched, CommandsAreCaseInsensitive) {
  EXPECT_EQ(parse_paras("<BoLd>a</BOLD>b"), Paras{para({Span{.text = "a", .bold = true}, plain("b")})});
}

TEST(Enriched, StylesNestAsAStack) {
  EXPECT_EQ(parse_paras("x<bold>a<italic>b<underline>c</underline>d</italic>e</bold>y"),
            Paras{para({
                plain("x"),
                Span{.text = "a", .bold = true},
                Span{.text = "b", .bold = true, .italic = true},
                Span{.text = "c", .bold = true, .italic = true, .underline = true},
                Span{.text = "d", .bold = true, .italic = true},
                Span{.text = "e", .bold = true},
                plain("y"),
            })});
}

TEST(Enriched, SameCommandNestedTwiceStaysOn) {
  EXPECT_EQ(parse_paras("<bold>a<bold>b</bold>c</bold>d"),
            Paras{para({Span{.text = "abc", .bold = true}, plain("d")})});
}

TEST(Enriched, BiggerAndSmallerCountSteps) {
  EXPECT_EQ(parse_paras("<bigger><bigger>a</bigger>b</bigger><smaller>c<bigger>d</bigger></smaller>"),
            Paras{para({
                Span{.text = "a", .size_steps = 2},
                Span{.text = "b", .size_steps = 1},
                Span{.text = "c", .size_steps = -1},
                plain("d"),
            })});
}

TEST(Enriched, AdjacentTextWithTheSameStyleMerges) {
  EXPECT_EQ(parse_paras("<bold>a</bold><bold>b</bold>"), Paras{para({Span{.text = "ab", .bold = true}})});
  EXPECT_EQ(parse_paras("a<color><param>red</param>b</color><unknown>c</unknown>"), Paras{para("abc")});
}

// --- the "<<" escape and what is not a command ----------------------------------------------------

TEST(Enriched, DoubleLessThanIsALiteral) {
  EXPECT_EQ(parse_paras("a <<b> c"), Paras{para("a <b> c")});
  EXPECT_EQ(parse_paras("<<<<"), Paras{para("<<")});
  EXPECT_EQ(parse_paras("<<bold>x<</bold>"), Paras{para("<bold>x</bold>")});
  EXPECT_EQ(parse_paras("<bold><<</bold>"), Paras{para({Span{.text = "<", .bold = true}})});
}

TEST(Enriched, MalformedCommandsAreText) {
  EXPECT_EQ(parse_paras("1 < 2"), Paras{para("1 < 2")});
  EXPECT_EQ(parse_paras("<>"), Paras{para("<>")});
  EXPECT_EQ(parse_paras("</>"), Paras{para("</>")});
  EXPECT_EQ(parse_paras("<a b>"), Paras{para("<a b>")});
  EXPECT_EQ(parse_paras("<bo_ld>x"), Paras{para("<bo_ld>x")});
  EXPECT_EQ(parse_paras("x<"), Paras{para("x<")});
  EXPECT_EQ(parse_paras("x<bold"), Paras{para("x<bold")});
  EXPECT_EQ(parse_paras("<//bold>x"), Paras{para("<//bold>x")});
}

TEST(Enriched, CommandNamesAreAtMostSixtyCharacters) {
  const std::string sixty(60, 'x');
  EXPECT_EQ(parse_paras("<" + sixty + ">t</" + sixty + ">"), Paras{para("t")});
  const std::string sixty_one(61, 'x');
  EXPECT_EQ(parse_paras("<" + sixty_one + ">t"), Paras{para("<" + sixty_one + ">t")});
}

// --- filling --------------------------------------------------------------------------------------

TEST(Enriched, OneLineBreakIsASpace) {
  EXPECT_EQ(parse_paras("a\nb"), Paras{para("a b")});
  EXPECT_EQ(parse_paras("a\r\nb"), Paras{para("a b")});
}

TEST(Enriched, TwoLineBreaksEndAParagraph) {
  EXPECT_EQ(parse_paras("a\n\nb"), (Paras{para("a"), para("b")}));
  EXPECT_EQ(parse_paras("a\r\n\r\nb"), (Paras{para("a"), para("b")}));
}

TEST(Enriched, ThreeLineBreaksLeaveAnEmptyParagraph) {
  EXPECT_EQ(parse_paras("a\n\n\nb"), (Paras{para("a"), Paragraph{}, para("b")}));
  EXPECT_EQ(parse_paras("a\r\n\r\n\r\nb"), (Paras{para("a"), Paragraph{}, para("b")}));
  EXPECT_EQ(parse_paras("a\n\n\n\nb"), (Paras{para("a"), Paragraph{}, Paragraph{}, para("b")}));
}

TEST(Enriched, MixedLineEndingsAndLoneCarriageReturn) {
  EXPECT_EQ(parse_paras("a\r\n\nb"), (Paras{para("a"), para("b")}));
  EXPECT_EQ(parse_paras("a\rb"), Paras{para("a b")});
}

TEST(Enriched, CommandsBetweenLineBreaksDoNotSeparateThem) {
  EXPECT_EQ(parse_paras("a\n<bold>\nb</bold>"), (Paras{para("a"), para({Span{.text = "b", .bold = true}})}));
}

TEST(Enriched, SpacesBetweenLineBreaksDoSeparateThem) {
  EXPECT_EQ(parse_paras("a\n \nb"), Paras{para("a   b")});
}

TEST(Enriched, LineBreakSpaceHasTheStyleWhereTheBreakWas) {
  EXPECT_EQ(parse_paras("<bold>a\n</bold>b"), Paras{para({Span{.text = "a ", .bold = true}, plain("b")})});
}

TEST(Enriched, LeadingAndTrailingLineBreaksAddNoSpace) {
  EXPECT_EQ(parse_paras("\na\n"), Paras{para("a")});
  EXPECT_EQ(parse_paras("a\n\n"), Paras{para("a")});
  EXPECT_EQ(parse_paras("\n\na"), (Paras{Paragraph{}, para("a")}));
}

// --- paragraph commands ---------------------------------------------------------------------------

TEST(Enriched, AlignmentCommands) {
  EXPECT_EQ(parse_paras("<center>c</center>"), Paras{with_align(para("c"), Align::center)});
  EXPECT_EQ(parse_paras("<flushright>r</flushright>"), Paras{with_align(para("r"), Align::end)});
  EXPECT_EQ(parse_paras("<flushleft>l</flushleft>"), Paras{para("l")});
  EXPECT_EQ(parse_paras("<flushboth>j</flushboth>"), Paras{para("j")});
  EXPECT_EQ(parse_paras("<flushright><flushleft>l</flushleft></flushright>"), Paras{para("l")});
}

TEST(Enriched, AlignmentIsTakenWhereTheParagraphStarts) {
  EXPECT_EQ(parse_paras("<center>Title</center>\n\nBody"),
            (Paras{with_align(para("Title"), Align::center), para("Body")}));
  EXPECT_EQ(parse_paras("a <center>b</center>"), Paras{para("a b")});
  EXPECT_EQ(parse_paras("a\n\n<flushright>b\n\n</flushright>c"),
            (Paras{para("a"), with_align(para("b"), Align::end), para("c")}));
}

TEST(Enriched, NestedAlignmentIsRestored) {
  EXPECT_EQ(parse_paras("<flushright><center>a</center>\n\nb</flushright>"),
            (Paras{with_align(para("a"), Align::center), with_align(para("b"), Align::end)}));
}

TEST(Enriched, IndentAndIndentRight) {
  Paragraph two = para("a");
  two.indent_left = 2;
  Paragraph one = para("b");
  one.indent_left = 1;
  EXPECT_EQ(parse_paras("<indent><indent>a</indent>\n\nb</indent>"), (Paras{two, one}));
  Paragraph right = para("r");
  right.indent_right = 1;
  EXPECT_EQ(parse_paras("<indentright>r</indentright>\n\nx"), (Paras{right, para("x")}));
}

TEST(Enriched, ParaindentTakesItsSidesFromParam) {
  Paragraph left = para("a");
  left.indent_left = 1;
  EXPECT_EQ(parse_paras("<paraindent><param>left</param>a</paraindent>\n\nb"), (Paras{left, para("b")}));
  Paragraph right = para("a");
  right.indent_right = 1;
  EXPECT_EQ(parse_paras("<ParaIndent><param>RIGHT</param>a</ParaIndent>"), Paras{right});
  Paragraph both = para("a");
  both.indent_left = 2;  // one from <indent>, one from <paraindent>
  both.indent_right = 1;
  EXPECT_EQ(parse_paras("<indent><paraindent><param> left , right,left </param>a</paraindent></indent>"),
            Paras{both});
}

TEST(Enriched, ParaindentInAndOutAreIgnored) {
  EXPECT_EQ(parse_paras("<paraindent><param>in</param>a</paraindent>"), Paras{para("a")});
  EXPECT_EQ(parse_paras("<paraindent><param>out</param>a</paraindent>"), Paras{para("a")});
  EXPECT_EQ(parse_paras("<paraindent>a</paraindent>"), Paras{para("a")});
}

TEST(Enriched, ParamOnlyCountsRightAfterItsCommand) {
  EXPECT_EQ(parse_paras("<paraindent>x<param>left</param>a</paraindent>"), Paras{para("xa")});
}

TEST(Enriched, ExcerptNests) {
  Paragraph one = para("a");
  one.excerpt = 1;
  Paragraph two = para("b");
  two.excerpt = 2;
  EXPECT_EQ(parse_paras("<excerpt>a\n\n<excerpt>b</excerpt></excerpt>\n\nc"), (Paras{one, two, para("c")}));
}

// --- nofill ---------------------------------------------------------------------------------------

TEST(Enriched, NofillMakesEveryLineAParagraph) {
  EXPECT_EQ(parse_paras("<nofill>a\n  b\n\nc</nofill>"),
            (Paras{nofill("a"), nofill("  b"), nofill(""), nofill("c")}));
  EXPECT_EQ(parse_paras("<nofill>a\r\nb\r\n\r\nc</nofill>"),
            (Paras{nofill("a"), nofill("b"), nofill(""), nofill("c")}));
}

TEST(Enriched, NofillKeepsStyles) {
  Paragraph p = nofill("");
  p.spans = {plain("x "), Span{.text = "y", .bold = true}};
  EXPECT_EQ(parse_paras("<nofill>x <bold>y</bold></nofill>"), Paras{p});
}

TEST(Enriched, NofillBetweenFilledText) {
  EXPECT_EQ(parse_paras("Intro:\n<nofill>\n  code\n\n</nofill>\nafter"),
            (Paras{para("Intro:"), nofill("  code"), nofill(""), para("after")}));
}

TEST(Enriched, NofillLineBreakRightAfterTheCommandIsAnEmptyLine) {
  EXPECT_EQ(parse_paras("<nofill>\na</nofill>"), (Paras{nofill(""), nofill("a")}));
}

// --- ignored commands -----------------------------------------------------------------------------

TEST(Enriched, ParamContentIsNeverShown) {
  EXPECT_EQ(parse_paras("<color><param>red</param>text</color>"), Paras{para("text")});
  EXPECT_EQ(parse_paras("<fontfamily><param>Times New Roman</param>x</fontfamily>"), Paras{para("x")});
  EXPECT_EQ(parse_paras("a<param>\n\n<bold>b</bold><<</param>c"), Paras{para("ac")});
  EXPECT_EQ(parse_paras("<param>unclosed"), Paras{});
}

TEST(Enriched, UnknownCommandsKeepTheirText) {
  EXPECT_EQ(parse_paras("<lang><param>en-US</param>hello</lang> <x-foo>bar</x-foo>"),
            Paras{para("hello bar")});
  EXPECT_EQ(parse_paras("<np>a"), Paras{para("a")});
}

// --- broken nesting -------------------------------------------------------------------------------

TEST(Enriched, UnbalancedClosingCommandsAreIgnored) {
  EXPECT_EQ(parse_paras("</bold>a</center>"), Paras{para("a")});
  EXPECT_EQ(parse_paras("<bold>a</italic>b</bold>"), Paras{para({Span{.text = "ab", .bold = true}})});
}

TEST(Enriched, UnclosedCommandsJustEnd) {
  EXPECT_EQ(parse_paras("<bold><center>a"),
            Paras{with_align(para({Span{.text = "a", .bold = true}}), Align::center)});
}

TEST(Enriched, ClosingAnOuterCommandClosesTheInnerOnes) {
  EXPECT_EQ(parse_paras("<bold><italic>a</bold>b</italic>c"),
            Paras{para({Span{.text = "a", .bold = true, .italic = true}, plain("bc")})});
}

TEST(Enriched, NestingBeyondTheLimitIsFlattened) {
  const int deep = kMaxNesting + 10;
  std::string in;
  for (int i = 0; i < deep; ++i) in += "<bigger>";
  in += "a<bold>b</bold>";
  for (int i = 0; i < deep; ++i) in += "</bigger>";
  in += "c";
  EXPECT_EQ(parse_paras(in), Paras{para({Span{.text = "ab", .size_steps = kMaxNesting}, plain("c")})});
}

TEST(Enriched, ParamBeyondTheLimitIsShown) {
  std::string in;
  for (int i = 0; i < kMaxNesting; ++i) in += "<italic>";
  in += "<param>p</param>";
  EXPECT_EQ(parse_paras(in), Paras{para({Span{.text = "p", .italic = true}})});
}

TEST(Enriched, ManyCommandsStayCheap) {
  std::string in;
  for (int i = 0; i < 100000; ++i) in += "<bold>";
  for (int i = 0; i < 100000; ++i) in += "</italic>x";
  for (int i = 0; i < 100000; ++i) in += "</bold>";
  const Paras out = parse_paras(in);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].spans, (std::vector<Span>{Span{.text = std::string(100000, 'x'), .bold = true}}));
}

// --- a whole document -----------------------------------------------------------------------------

TEST(Enriched, SampleDocument) {
  const std::string_view in =
      "<center><bold>Fax Cover Note</bold></center>\r\n"
      "\r\n"
      "To: <fixed>+1 555 0100</fixed>\r\n"
      "From: the <italic>accounts</italic> team\r\n"
      "\r\n"
      "Please find the <underline>signed</underline> invoice\r\n"
      "attached.  Totals are <bigger>final</bigger>\r\n"
      "<smaller>(see <<notes> below)</smaller>.\r\n"
      "\r\n"
      "\r\n"
      "<excerpt>Can you resend the\r\n"
      "<color><param>red</param>corrected</color> copy?</excerpt>\r\n"
      "\r\n"
      "<paraindent><param>left</param>Notes: none.</paraindent>\r\n"
      "<nofill>\r\n"
      "Line one\r\n"
      "  Line two\r\n"
      "</nofill>\r\n"
      "<flushright>-- Accounts</flushright>\r\n";

  Paragraph title = para({Span{.text = "Fax Cover Note", .bold = true}});
  title.align = Align::center;
  const Paragraph to = para({
      plain("To: "),
      Span{.text = "+1 555 0100", .fixed = true},
      plain(" From: the "),
      Span{.text = "accounts", .italic = true},
      plain(" team"),
  });
  const Paragraph body = para({
      plain("Please find the "),
      Span{.text = "signed", .underline = true},
      plain(" invoice attached.  Totals are "),
      Span{.text = "final", .size_steps = 1},
      plain(" "),
      Span{.text = "(see <notes> below)", .size_steps = -1},
      plain("."),
  });
  Paragraph quote = para("Can you resend the corrected copy?");
  quote.excerpt = 1;
  Paragraph notes = para("Notes: none.");
  notes.indent_left = 1;
  const Paragraph sign = with_align(para("-- Accounts"), Align::end);

  EXPECT_EQ(parse_paras(in), (Paras{title, to, body, Paragraph{}, quote, notes, nofill("Line one"),
                                    nofill("  Line two"), sign}));
}

}  // namespace
}  // namespace imaging::enriched
