// enriched.cpp — text/enriched (RFC 1896) parsed into the paragraph model of text_document.hpp.
//
// STANDARDS: RFC 1896 (The text/enriched MIME Content-type).
// One pass over the bytes, linear in the input: "<<" and commands are recognised as they come,
// open commands sit on a stack whose effects are counted incrementally (so a closing command
// never rescans the stack, and popping is amortised O(1)), and line breaks are resolved into
// spaces or paragraph breaks (filling) when the next text arrives.
// Paragraphs are created lazily, by their first text, so they take the alignment, indentation
// and nofill state in effect where their text starts ("\n\n<center>Title" is centred).
// Choices the RFC leaves open: a lone CR is a line break like CRLF and LF; a closing command
// closes every command opened after its match; a line break that would become a space at the
// start of a paragraph or at the end of the input is dropped; in a run of line breaks mixing
// filled and nofill ones, each nofill one ends a paragraph and the filled ones add n-1 more.
#include "imaging/enriched.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace imaging::enriched {
namespace {

using text::Align;
using text::Paragraph;
using text::Span;

constexpr std::size_t kMaxName = 60;    // RFC 1896 §2: a command name is 1 to 60 characters
constexpr std::size_t kMaxParam = 256;  // plenty for a <paraindent> parameter list

// Commands with an effect; everything else (color, fontfamily, lang, unknown) is Cmd::other.
enum class Cmd : std::uint8_t {
  bold,
  italic,
  underline,
  fixed,
  bigger,
  smaller,
  center,
  flushleft,
  flushright,
  flushboth,
  indent,
  indentright,
  paraindent,
  excerpt,
  nofill,
  param,
  other
};
constexpr std::size_t kCmdCount = static_cast<std::size_t>(Cmd::other);

constexpr std::size_t idx(Cmd c) {
  return static_cast<std::size_t>(c);
}

struct CmdName {
  std::string_view name;
  Cmd cmd;
};

constexpr std::array<CmdName, kCmdCount> kCmdNames{{
    {"bold", Cmd::bold},
    {"italic", Cmd::italic},
    {"underline", Cmd::underline},
    {"fixed", Cmd::fixed},
    {"bigger", Cmd::bigger},
    {"smaller", Cmd::smaller},
    {"center", Cmd::center},
    {"flushleft", Cmd::flushleft},
    {"flushright", Cmd::flushright},
    {"flushboth", Cmd::flushboth},
    {"indent", Cmd::indent},
    {"indentright", Cmd::indentright},
    {"paraindent", Cmd::paraindent},
    {"excerpt", Cmd::excerpt},
    {"nofill", Cmd::nofill},
    {"param", Cmd::param},
}};

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// ASCII only, so it does not depend on the locale and never sees negative chars.
bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool equal_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

Cmd lookup(std::string_view name) {
  for (const CmdName& n : kCmdNames) {
    if (equal_ci(n.name, name)) return n.cmd;
  }
  return Cmd::other;
}

bool is_align(Cmd c) {
  return c == Cmd::center || c == Cmd::flushleft || c == Cmd::flushright || c == Cmd::flushboth;
}

Align align_of(Cmd c) {
  if (c == Cmd::center) return Align::center;
  if (c == Cmd::flushright) return Align::end;
  return Align::start;  // flushleft, flushboth
}

struct Tag {
  bool closing = false;
  Cmd cmd = Cmd::other;
  std::size_t length = 0;  // bytes from '<' to '>' inclusive
};

// The command at the start of `in` (in[0] == '<'), or nothing if it is not a well-formed one.
// Looks at most kMaxName + 3 bytes ahead, which keeps the whole parse linear.
std::optional<Tag> scan_tag(std::string_view in) {
  std::size_t pos = 1;
  const bool closing = pos < in.size() && in[pos] == '/';
  if (closing) ++pos;
  const std::size_t start = pos;
  while (pos < in.size() && pos - start <= kMaxName && is_name_char(in[pos])) ++pos;
  const std::size_t len = pos - start;
  if (len == 0 || len > kMaxName || pos >= in.size() || in[pos] != '>') return std::nullopt;
  return Tag{closing, lookup(in.substr(start, len)), pos + 1};
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

bool same_style(const Span& a, const Span& b) {
  return a.bold == b.bold && a.italic == b.italic && a.underline == b.underline && a.fixed == b.fixed &&
         a.size_steps == b.size_steps;
}

// One open command.
struct Entry {
  Cmd cmd = Cmd::other;
  bool inert = false;               // opened deeper than kMaxNesting: no effect at all
  Align prev_align = Align::start;  // restored when an alignment command closes
  int owner = -1;                   // <param>: stack index of the command it belongs to
  bool left = false;                // <paraindent>: its parameter said "left"
  bool right = false;               // <paraindent>: its parameter said "right"
};

class Parser {
 public:
  text::Document run(std::string_view in);

 private:
  std::size_t angle(std::string_view rest);
  void text(std::string_view s);
  void line_break();
  void open(Cmd cmd);
  void close(Cmd cmd);
  void pop();
  void enter(Entry& e);
  void leave(const Entry& e);
  void configure(Entry& paraindent);
  void append_param(std::string_view s);
  void add(const Span& style, std::string_view s);
  void boundary();
  Paragraph& paragraph();
  Span style() const;
  int active(Cmd c) const { return active_[idx(c)]; }

  std::vector<Entry> stack_;
  std::array<int, kCmdCount> open_{};    // entries on the stack per command, inert ones included
  std::array<int, kCmdCount> active_{};  // entries in effect per command
  Align align_ = Align::start;
  int para_left_ = 0;  // indentation from <paraindent> parameters
  int para_right_ = 0;
  bool just_opened_ = false;  // the last command opened one that a <param> may belong to
  std::string param_text_;    // text of the current <param>, truncated to kMaxParam

  // Line breaks since the last text: filled ones counted, and whether one ended a paragraph.
  int run_filled_ = 0;
  bool run_boundary_ = false;
  Span space_style_;  // style where a run's first filled line break was (it may become a space)

  bool para_open_ = false;  // doc_.paragraphs.back() still takes text
  text::Document doc_;
};

text::Document Parser::run(std::string_view in) {
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    if (c == '<') {
      i += angle(in.substr(i));
    } else if (c == '\n' || c == '\r') {
      line_break();
      i += (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ? 2 : 1;
    } else {
      const std::size_t end = std::min(in.find_first_of("<\r\n", i), in.size());
      text(in.substr(i, end - i));
      i = end;
    }
  }
  return std::move(doc_);
}

// "<<", a command, or a '<' that starts neither (then it is text). Returns the bytes consumed.
std::size_t Parser::angle(std::string_view rest) {
  if (rest.size() > 1 && rest[1] == '<') {
    text("<");
    return 2;
  }
  const std::optional<Tag> tag = scan_tag(rest);
  if (!tag) {
    text("<");
    return 1;
  }
  if (tag->closing) {
    close(tag->cmd);
  } else {
    open(tag->cmd);
  }
  return tag->length;
}

void Parser::text(std::string_view s) {
  just_opened_ = false;
  if (active(Cmd::param) > 0) {
    append_param(s);
    return;
  }
  if (s.empty()) return;
  const bool space = run_filled_ == 1 && !run_boundary_ && para_open_;
  run_filled_ = 0;
  run_boundary_ = false;
  if (space) add(space_style_, " ");
  add(style(), s);
}

// Filled: a single line break is a space, each further one a paragraph break.
// Nofill: every line break ends the line, that is the paragraph.
void Parser::line_break() {
  if (active(Cmd::param) > 0) {
    append_param("\n");
  } else if (active(Cmd::nofill) > 0) {
    boundary();
  } else if (run_filled_++ == 0) {
    space_style_ = style();
  } else {
    boundary();
  }
}

void Parser::open(Cmd cmd) {
  if (cmd == Cmd::other) {
    just_opened_ = false;
    return;
  }
  Entry e{.cmd = cmd, .inert = stack_.size() >= static_cast<std::size_t>(kMaxNesting)};
  if (cmd == Cmd::param) {
    e.owner = just_opened_ ? static_cast<int>(stack_.size()) - 1 : -1;
    param_text_.clear();
  }
  if (!e.inert) enter(e);
  ++open_[idx(cmd)];
  stack_.push_back(e);
  just_opened_ = !e.inert;
}

// Closes the innermost open `cmd` and everything opened after it; ignored if none is open.
void Parser::close(Cmd cmd) {
  just_opened_ = false;
  if (cmd == Cmd::other || open_[idx(cmd)] == 0) return;
  Cmd popped = Cmd::other;
  while (popped != cmd) {
    popped = stack_.back().cmd;
    pop();
  }
}

void Parser::pop() {
  const Entry e = stack_.back();
  --open_[idx(e.cmd)];
  if (!e.inert) leave(e);
  stack_.pop_back();
}

void Parser::enter(Entry& e) {
  ++active_[idx(e.cmd)];
  if (is_align(e.cmd)) {
    e.prev_align = align_;
    align_ = align_of(e.cmd);
  }
}

void Parser::leave(const Entry& e) {
  --active_[idx(e.cmd)];
  if (is_align(e.cmd)) align_ = e.prev_align;
  if (e.cmd == Cmd::paraindent) {
    para_left_ -= e.left ? 1 : 0;
    para_right_ -= e.right ? 1 : 0;
  }
  if (e.cmd == Cmd::param && e.owner >= 0) configure(stack_[static_cast<std::size_t>(e.owner)]);
}

// Applies a closed <param> to the <paraindent> it follows: a comma-separated list of
// left, right, in, out (RFC 1896 §3). "in" and "out" (first-line indents) are not modelled.
void Parser::configure(Entry& paraindent) {
  if (paraindent.cmd != Cmd::paraindent || paraindent.inert) return;
  std::string_view list = param_text_;
  while (!list.empty()) {
    const std::size_t comma = std::min(list.find(','), list.size());
    const std::string_view item = trim(list.substr(0, comma));
    list.remove_prefix(std::min(comma + 1, list.size()));
    if (equal_ci(item, "left") && !paraindent.left) {
      paraindent.left = true;
      ++para_left_;
    } else if (equal_ci(item, "right") && !paraindent.right) {
      paraindent.right = true;
      ++para_right_;
    }
  }
}

void Parser::append_param(std::string_view s) {
  param_text_.append(s.substr(0, kMaxParam - std::min(kMaxParam, param_text_.size())));
}

void Parser::add(const Span& style, std::string_view s) {
  Paragraph& p = paragraph();
  if (!p.spans.empty() && same_style(p.spans.back(), style)) {
    p.spans.back().text.append(s);
    return;
  }
  Span span = style;
  span.text.assign(s);
  p.spans.push_back(std::move(span));
}

// Ends the current paragraph, which is empty if no text started it.
void Parser::boundary() {
  paragraph();
  para_open_ = false;
  run_boundary_ = true;
}

Paragraph& Parser::paragraph() {
  if (!para_open_) {
    Paragraph p;
    p.align = align_;
    p.indent_left = active(Cmd::indent) + para_left_;
    p.indent_right = active(Cmd::indentright) + para_right_;
    p.excerpt = active(Cmd::excerpt);
    p.nofill = active(Cmd::nofill) > 0;
    doc_.paragraphs.push_back(std::move(p));
    para_open_ = true;
  }
  return doc_.paragraphs.back();
}

Span Parser::style() const {
  Span s;
  s.bold = active(Cmd::bold) > 0;
  s.italic = active(Cmd::italic) > 0;
  s.underline = active(Cmd::underline) > 0;
  s.fixed = active(Cmd::fixed) > 0;
  s.size_steps = active(Cmd::bigger) - active(Cmd::smaller);
  return s;
}

}  // namespace

text::Document parse(std::string_view utf8) {
  return Parser().run(utf8);
}

}  // namespace imaging::enriched
