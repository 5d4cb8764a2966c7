// cover.cpp — the cover page as a document (rules: cover.hpp).
#include "imaging/cover.hpp"

#include "imaging/text_render.hpp"

namespace imaging {
namespace {

// At most 400 bytes, cut before a UTF-8 continuation byte so that no character is split.
std::string clean(std::string_view v) {
  if (v.size() > 400) {
    size_t cut = 400;
    while (cut > 0 && (static_cast<unsigned char>(v[cut]) & 0xC0) == 0x80) --cut;
    v = v.substr(0, cut);
  }
  std::string out;
  for (char c : v) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
  return out;
}

text::Paragraph line(std::string label, std::string_view value) {
  text::Paragraph p;
  text::Span l;
  l.text = std::move(label);
  l.bold = true;
  l.size_steps = 1;
  text::Span v;
  v.text = clean(value);
  v.size_steps = 1;
  p.spans = {l, v};
  return p;
}

text::Paragraph blank() { return text::Paragraph{}; }

}  // namespace

text::Document cover_document(const CoverInfo& info) {
  text::Document d;
  text::Paragraph title;
  text::Span t;
  t.text = "FAX";
  t.bold = true;
  t.size_steps = 4;
  title.spans = {t};
  title.align = text::Align::center;
  d.paragraphs = {title, blank(), blank()};
  if (!info.to.empty()) d.paragraphs.push_back(line("To:  ", info.to));
  if (!info.numbers.empty()) d.paragraphs.push_back(line("Fax:  ", info.numbers));
  if (!info.from.empty()) d.paragraphs.push_back(line("From:  ", info.from));
  if (!info.subject.empty()) d.paragraphs.push_back(line("Subject:  ", info.subject));
  if (!info.date.empty()) d.paragraphs.push_back(line("Date:  ", info.date));
  d.paragraphs.push_back(line("Pages:  ", std::to_string(info.pages) + " including this cover"));
  d.paragraphs.push_back(blank());
  d.paragraphs.push_back(blank());
  if (info.comment_follows) {
    d.paragraphs.push_back(line("Comment:  ", "the message's text follows on the next pages."));
  } else if (info.comment && !info.comment->paragraphs.empty()) {
    d.paragraphs.push_back(line("Comment:", ""));
    d.paragraphs.push_back(blank());
    for (auto p : info.comment->paragraphs) {
      p.page_break_before = false;  // a form feed in the comment does not leave the cover
      d.paragraphs.push_back(std::move(p));
    }
  }
  return d;
}

Result<std::optional<Page>> render_cover(const CoverInfo& info, const RenderOptions& opt) {
  RenderOptions o = opt;
  o.limits.max_pages = 2;  // enough to tell "does not fit"; never a long render
  auto pages = render_text_document(cover_document(info), TextFace::proportional, o, "the cover page");
  if (!pages) {
    if (pages.error().code == Errc::limit) return std::optional<Page>{};
    return pages.error();
  }
  if (pages->size() != 1) return std::optional<Page>{};
  return std::optional<Page>{std::move(pages->front())};
}

}  // namespace imaging
