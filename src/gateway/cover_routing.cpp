// cover_routing.cpp — the addressee of a cover page (cover_routing.hpp).
#include "gateway/cover_routing.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

namespace gateway {
namespace {

// One UTF-8 code point at s[i] (advancing i); U+FFFD for a broken sequence.
char32_t next_code_point(const std::string& s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i++]);
  if (c < 0x80) return c;
  int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : -1;
  if (extra < 0) return 0xfffd;
  char32_t cp = c & (0x3f >> extra);
  for (int k = 0; k < extra; ++k) {
    if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) return 0xfffd;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3f);
  }
  return cp;
}

// A Latin letter without its accent, lower case ("" for anything else).
std::string base_letter(char32_t cp) {
  if (cp < 0x80) {
    const char c = char(std::tolower(int(cp)));
    return c >= 'a' && c <= 'z' ? std::string(1, c) : std::string();
  }
  static const std::map<char32_t, const char*> kFold = {
      {U'à', "a"}, {U'á', "a"}, {U'â', "a"}, {U'ã', "a"}, {U'ä', "a"}, {U'å', "a"}, {U'æ', "ae"}, {U'ç', "c"},
      {U'è', "e"}, {U'é', "e"}, {U'ê', "e"}, {U'ë', "e"}, {U'ì', "i"}, {U'í', "i"}, {U'î', "i"}, {U'ï', "i"},
      {U'ñ', "n"}, {U'ò', "o"}, {U'ó', "o"}, {U'ô', "o"}, {U'õ', "o"}, {U'ö', "o"}, {U'ø', "o"}, {U'ù', "u"},
      {U'ú', "u"}, {U'û', "u"}, {U'ü', "u"}, {U'ý', "y"}, {U'ÿ', "y"}, {U'ß', "ss"}, {U'œ', "oe"}, {U'š', "s"},
      {U'ž', "z"}, {U'č', "c"}, {U'ł', "l"}, {U'ő', "o"}, {U'ű', "u"}};
  char32_t lower = cp;
  if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7)) lower = cp + 0x20;
  if (cp == U'Œ') lower = U'œ';
  if (cp == U'Š') lower = U'š';
  if (cp == U'Ž') lower = U'ž';
  if (cp == U'Č') lower = U'č';
  if (cp == U'Ł') lower = U'ł';
  if (auto it = kFold.find(lower); it != kFold.end()) return it->second;
  return "";
}

// Lower case, accents removed, letters only (no OCR folding): for labels.
std::string plain(const std::string& utf8) {
  std::string out;
  for (size_t i = 0; i < utf8.size();) out += base_letter(next_code_point(utf8, i));
  return out;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// 1 for equal, falling with each edit; short names must be equal.
double similarity(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return 0;
  if (a == b) return 1;
  const size_t n = std::max(a.size(), b.size());
  if (n <= 4) return 0;
  return 1.0 - double(edit_distance(a, b)) / double(n);
}

// The labels that introduce the addressee, and those that end its field (plain()).
const std::set<std::string> kToLabels = {"to", "attn", "att", "attention", "for", "recipient", "an", "empfanger",
                                         "zhd", "zuhanden", "a", "destinataire", "para", "destinatario",
                                         "atencion", "atn", "faxto", "sendto", "pour", "fur", "alattentionde",
                                         "lattentionde", "alattention", "alatencionde", "ahd"};
// Labels that may stand without their colon at a line's start (not common words).
const std::set<std::string> kBareLabels = {"to", "attn", "attention", "recipient", "empfanger", "destinataire",
                                           "destinatario", "atencion", "zhd"};
const std::set<std::string> kStopLabels = {
    "from", "von", "de", "date", "datum", "fecha", "fax", "telefax", "tel", "telephone", "phone", "telefon",
    "telefono", "pages", "page", "seiten", "paginas", "subject", "betreff", "objet", "asunto", "re", "cc",
    "company", "firma", "societe", "empresa", "absender", "expediteur", "remitente", "sender", "faxnumber",
    "faxnr", "number", "nombre", "nom", "name", "datumdate", "ref", "reference", "message", "nachricht"};
const std::set<std::string> kTitles = {"herrn", "mr",   "mrs",  "ms",    "miss",  "dr",      "prof",    "herr", "frau",
                                       "hr",   "fr",   "m",     "mme",   "mlle",    "monsieur", "madame", "sr",
                                       "sra",  "srta", "senor", "senora", "don",    "dona",    "dipl",  "ing",
                                       "mag",  "doctor", "dott"};

struct LineWord {
  std::string text;
  int x0, x1;
  int y0 = 0, y1 = 0;
};

struct Line {
  std::vector<LineWord> words;
  double gap = 0;  // a gap wider than this ends a field (x pixels)
};

std::vector<Line> lines_of(const ocr::PageText& text, int xres, int yres) {
  std::map<int, std::vector<const ocr::Word*>> by_line;
  for (const auto& w : text.words) by_line[w.line].push_back(&w);
  std::vector<Line> out;
  for (auto& [n, ws] : by_line) {
    std::sort(ws.begin(), ws.end(), [](const ocr::Word* a, const ocr::Word* b) { return a->x0 < b->x0; });
    std::vector<int> heights;
    Line l;
    for (const auto* w : ws) {
      l.words.push_back({w->text, w->x0, w->x1, w->y0, w->y1});
      heights.push_back(w->y1 - w->y0);
    }
    std::nth_element(heights.begin(), heights.begin() + long(heights.size() / 2), heights.end());
    const double h = heights.empty() ? 20 : heights[heights.size() / 2];
    l.gap = 3.0 * h * (yres > 0 ? double(xres) / double(yres) : 1.0);
    out.push_back(std::move(l));
  }
  return out;
}

enum class LabelKind { none, to, stop };

// Whether words[i] (with words[i + 1] for "z. Hd.:" and "Fax to:") is a label; `used` words, and
// text after the colon inside the last one ("To:Anna").
struct Label {
  LabelKind kind = LabelKind::none;
  size_t used = 0;
  std::string rest;
};

Label label_at(const std::vector<LineWord>& words, size_t i, bool line_start) {
  for (size_t n = 1; n <= 3 && i + n <= words.size(); ++n) {
    std::string joined;
    bool digits = false;  // "0188 From:" is no label "From:"
    for (size_t k = i; k < i + n; ++k) {
      // "z. Hd.:" whose z reads as a 7 or a 2 at standard resolution.
      const bool z = n > 1 && k == i && (words[k].text == "7." || words[k].text == "2.");
      joined += z ? std::string("z.") : words[k].text;
      digits = digits || (n > 1 && !z && words[k].text.find_first_of("0123456789") != std::string::npos);
    }
    if (digits) break;
    // (";" is how a colon often reads at standard resolution.)
    const auto colon = joined.find_first_of(":;");
    std::string head = colon == std::string::npos ? joined : joined.substr(0, colon);
    std::string rest = colon == std::string::npos ? "" : joined.substr(colon + 1);
    // The colon as a word of its own after the label.
    bool has_colon = colon != std::string::npos;
    size_t used = n;
    if (!has_colon && i + n < words.size() && (words[i + n].text == ":" || words[i + n].text == ";")) {
      has_colon = true;
      ++used;
    }
    // The colon was in an earlier word: that shorter label was the one.
    if (colon != std::string::npos && n > 1 && colon < joined.size() - words[i + n - 1].text.size()) continue;
    const std::string key = plain(head);
    if (key.empty()) continue;
    // Without its colon, "to" only in capitals ("TO"): prose wraps lines before a "to".
    const bool bare = line_start && n == 1 && kBareLabels.count(key) && (key != "to" || words[i].text == "TO");
    if (kToLabels.count(key) && (has_colon || bare))
      return {LabelKind::to, used, has_colon ? rest : ""};
    if (kStopLabels.count(key) && has_colon) return {LabelKind::stop, used, rest};
  }
  return {};
}

}  // namespace

std::string fold_name(const std::string& utf8) {
  std::string letters;
  for (size_t i = 0; i < utf8.size();) {
    const char32_t cp = next_code_point(utf8, i);
    if (cp == U'0') letters += 'o';
    else if (cp == U'1' || cp == U'|') letters += 'l';
    else letters += base_letter(cp);
  }
  std::string out;
  for (size_t i = 0; i < letters.size(); ++i) {
    if (i + 1 < letters.size() && letters[i] == 'r' && letters[i + 1] == 'n') {
      out += 'm';
      ++i;
    } else if (i + 1 < letters.size() && letters[i] == 'v' && letters[i + 1] == 'v') {
      out += 'w';
      ++i;
    } else if (i + 1 < letters.size() && letters[i] == 'i' && letters[i + 1] == 'i') {
      out += 'u';  // "ü" read as "ii"
      ++i;
    } else {
      out += letters[i];
    }
  }
  return out;
}

std::vector<std::string> addressee_fields(const ocr::PageText& text, int xres, int yres) {
  const auto lines = lines_of(text, xres, yres);
  // The page's skew (a fax is rarely fed straight): the median slope of the lines that run wide,
  // from their first word's centre to their last's. A table's cells a few inches apart are level
  // only once it is taken out.
  double slope = 0;
  {
    std::vector<double> slopes;
    for (const auto& l : lines) {
      if (l.words.size() < 2) continue;
      const auto& a = l.words.front();
      const auto& b = l.words.back();
      if (b.x0 - a.x0 < 200) continue;
      slopes.push_back((double(b.y0 + b.y1) - double(a.y0 + a.y1)) / 2.0 / double(b.x0 - a.x0));
    }
    if (!slopes.empty()) {
      std::nth_element(slopes.begin(), slopes.begin() + long(slopes.size() / 2), slopes.end());
      slope = std::clamp(slopes[slopes.size() / 2], -0.1, 0.1);
    }
  }
  std::vector<std::string> fields;
  for (size_t li = 0; li < lines.size() && fields.size() < kMaxFields; ++li) {
    const auto& words = lines[li].words;
    for (size_t i = 0; i < words.size() && fields.size() < kMaxFields; ++i) {
      const bool starts = i == 0 || words[i].x0 - words[i - 1].x1 > lines[li].gap;
      if (!starts) continue;
      Label l = label_at(words, i, i == 0);
      if (l.kind != LabelKind::to) continue;
      std::string field = l.rest;
      size_t j = i + l.used;
      // Up to a wide gap, a label, or any word with a colon of its own ("Sent by:").
      auto collect = [&](const std::vector<LineWord>& ws, size_t from, double gap) {
        for (size_t k = from; k < ws.size(); ++k) {
          if (k > from && ws[k].x0 - ws[k - 1].x1 > gap) break;
          if (label_at(ws, k, false).kind != LabelKind::none) break;
          if (k > from && ws[k].text.size() > 1 && ws[k].text.back() == ':') break;
          if (!field.empty()) field += ' ';
          field += ws[k].text;
        }
      };
      // A field of specks only ("|", "o") is none.
      auto meaningful = [&] {
        size_t n = 0;
        for (size_t p = 0; p < field.size();) {
          const char32_t cp = next_code_point(field, p);
          if (!base_letter(cp).empty() || (cp >= U'0' && cp <= U'9')) ++n;
        }
        return n >= 2;
      };
      // The value: next to its label, or in the next cell of a table whose row the label starts.
      const bool nothing_after = j >= words.size();
      if (!nothing_after && (i == 0 || words[j].x0 - words[j - 1].x1 <= lines[li].gap * 2))
        collect(words, j, lines[li].gap);
      if (!meaningful()) field.clear();
      // Nothing after it on its line: tesseract may have read a table's columns as blocks of
      // their own; the words level with the label to its right (from any line) are its row.
      if (field.empty() && nothing_after) {
        const LineWord& last = words[j - 1];
        const double lx = (words[i].x0 + last.x1) / 2.0, ly = (words[i].y0 + last.y1) / 2.0;
        const int lh = std::max(1, last.y1 - words[i].y0);
        std::vector<LineWord> row;
        for (size_t lk = 0; lk < lines.size(); ++lk) {
          if (lk == li) continue;
          for (const auto& w : lines[lk].words) {
            // Level with the label once the skew is taken out: centres within half a line.
            const double wx = (w.x0 + w.x1) / 2.0, wy = (w.y0 + w.y1) / 2.0;
            const double off = wy - (ly + slope * (wx - lx));
            if (w.x0 > last.x1 && std::abs(off) * 2 <= std::max(lh, w.y1 - w.y0)) row.push_back(w);
          }
        }
        std::sort(row.begin(), row.end(), [](const LineWord& a, const LineWord& b) { return a.x0 < b.x0; });
        collect(row, 0, lines[li].gap);
        if (!meaningful()) field.clear();
      }
      // Still nothing: the line under the label, when it starts where the label does (a label
      // above its value), not a line of another column.
      if (field.empty() && li + 1 < lines.size() && !lines[li + 1].words.empty() &&
          std::abs(lines[li + 1].words.front().x0 - words[i].x0) <= lines[li].gap)
        collect(lines[li + 1].words, 0, lines[li + 1].gap);
      if (!meaningful()) field.clear();
      if (!field.empty()) fields.push_back(field);
    }
  }
  return fields;
}

namespace {

std::string lower_ascii(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string digits_of(const std::string& s) {
  std::string d;
  for (char c : s)
    if (c >= '0' && c <= '9') d += c;
  return d;
}

bool mail_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

// "rn" read for "m" (example.corn), on both sides of a comparison.
std::string ocr_slips(std::string s) {
  for (size_t p = s.find("rn"); p != std::string::npos; p = s.find("rn", p)) s.replace(p, 2, "m");
  return s;
}

// The mail addresses in a field (spaces around an "@" closed first: OCR puts them there), with
// ocr_slips folded.
std::vector<std::string> mails_in(std::string field) {
  for (size_t at = field.find('@'); at != std::string::npos; at = field.find('@', at + 1)) {
    while (at > 0 && field[at - 1] == ' ') field.erase(--at, 1);
    while (at + 1 < field.size() && field[at + 1] == ' ') field.erase(at + 1, 1);
    // "klaus. weber@": a space read after a dot inside the local part.
    for (size_t b = at; b >= 2;) {
      if (mail_char(field[b - 1])) {
        --b;
      } else if (field[b - 1] == ' ' && field[b - 2] == '.') {
        field.erase(b - 1, 1);
        --at;
        b -= 1;
      } else {
        break;
      }
    }
  }
  std::vector<std::string> out;
  for (size_t at = field.find('@'); at != std::string::npos; at = field.find('@', at + 1)) {
    size_t b = at, e = at + 1;
    while (b > 0 && mail_char(field[b - 1])) --b;
    while (e < field.size() && mail_char(field[e])) ++e;
    while (e > at + 1 && (field[e - 1] == '.' || field[e - 1] == '-')) --e;
    if (b < at && e > at + 1 && field.find('.', at) < e) out.push_back(ocr_slips(lower_ascii(field.substr(b, e - b))));
  }
  return out;
}

struct Numbers {
  std::vector<std::string> phones;      // 7 digits or more
  std::vector<std::string> extensions;  // 3 to 6 digits
};

Numbers numbers_in(const std::string& field) {
  Numbers n;
  std::vector<std::string> tokens;
  for (size_t i = 0; i < field.size();) {
    while (i < field.size() && field[i] == ' ') ++i;
    size_t e = field.find(' ', i);
    if (e == std::string::npos) e = field.size();
    if (e > i) tokens.push_back(field.substr(i, e - i));
    i = e;
  }
  bool has_letters = false;
  for (const auto& t : tokens) {
    const std::string p = plain(t);
    if (!p.empty() && !digits_of(t).size()) has_letters = true;
  }
  // (Not "Tel." or "Phone": what follows them is a number whose first group is not an extension.)
  static const std::set<std::string> kExt = {"ext", "x", "extension", "durchwahl", "dw", "poste", "nebenstelle",
                                             "app"};
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string d = digits_of(tokens[i]);
    const std::string letters = plain(tokens[i]);
    // "x4711", "Ext.4711"
    if (!d.empty() && kExt.count(letters) && d.size() >= 3 && d.size() <= 6) {
      n.extensions.push_back(d);
      continue;
    }
    if (d.empty()) {
      // "Ext. 4711"
      if (kExt.count(letters) && i + 1 < tokens.size()) {
        const std::string nd = digits_of(tokens[i + 1]);
        const bool more = i + 2 < tokens.size() && !digits_of(tokens[i + 2]).empty() && plain(tokens[i + 2]).empty();
        if (plain(tokens[i + 1]).empty() && nd.size() >= 3 && nd.size() <= 6 && !more) {
          n.extensions.push_back(nd);
          ++i;
        }
      }
      continue;
    }
    if (!letters.empty()) continue;
    // A run of number-like tokens: "+1 555 0123", "(030) 1234-56".
    std::string run = d;
    size_t k = i + 1;
    while (k < tokens.size() && plain(tokens[k]).empty() && !digits_of(tokens[k]).empty()) run += digits_of(tokens[k++]);
    i = k - 1;
    if (run.size() >= 7) n.phones.push_back(run);
    else if (run.size() >= 3 && !has_letters) n.extensions.push_back(run);
  }
  return n;
}

double number_score(const Numbers& n, const Addressee& a) {
  double best = 0;
  for (const auto& number : a.numbers) {
    const std::string d = digits_of(number);
    if (d.size() < 7) continue;
    // As many trailing digits as both have (at least 7): "555 0123" is not "+33 1 5555 0123".
    for (const auto& p : n.phones) {
      const size_t k = std::min(d.size(), p.size());
      if (k >= 7 && d.substr(d.size() - k) == p.substr(p.size() - k)) best = std::max(best, 0.95);
    }
  }
  // An extension: the trailing digits of the telephone number (the first number listed).
  if (!a.numbers.empty()) {
    const std::string d = digits_of(a.numbers.front());
    for (const auto& e : n.extensions)
      if (d.size() > e.size() && d.ends_with(e)) best = std::max(best, 0.95);
  }
  return best;
}

// Name words of a field, folded, titles dropped.
// A name word of a field: folded, and whether it may be a name at all: a word of one or two
// letters starting in lower case is a speck read as "o" or "u", not a name.
struct NameWord {
  std::string folded;
  bool counts = true;
};

bool starts_lower_case(const std::string& utf8) {
  size_t i = 0;
  while (i < utf8.size() && static_cast<unsigned char>(utf8[i]) < 0x80 && !std::isalnum(static_cast<unsigned char>(utf8[i])))
    ++i;
  if (i >= utf8.size()) return false;
  const char32_t cp = next_code_point(utf8, i);
  return (cp >= U'a' && cp <= U'z') || (cp >= 0xdf && cp <= 0xff && cp != 0xf7);
}

std::vector<NameWord> name_tokens(const std::string& field) {
  std::vector<NameWord> out;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    const std::string p = plain(word);
    if (!p.empty() && !kTitles.count(p) && word.find('@') == std::string::npos) {
      const std::string f = fold_name(word);
      if (!f.empty() && f.size() <= 64) out.push_back({f, !(f.size() <= 2 && starts_lower_case(word))});
    }
    word.clear();
  };
  for (char c : field) {
    if (c == ' ' || c == ',' || c == ';' || c == '/' || c == '(' || c == ')') flush();
    else word += c;
  }
  flush();
  return out;
}

double name_score(const std::vector<NameWord>& words, const Addressee& a) {
  const std::string surname = fold_name(a.surname), given = fold_name(a.given);
  if (surname.empty() || words.empty()) return 0;
  std::vector<std::string> tokens;
  for (const auto& w : words) tokens.push_back(w.folded);
  // The surname: one word, or two run together ("García López").
  double s = 0;
  std::set<size_t> used;
  for (size_t i = 0; i < tokens.size(); ++i) {
    double one = similarity(tokens[i], surname);
    if (one > s) {
      s = one;
      used = {i};
    }
    if (i + 1 < tokens.size()) {
      double two = similarity(tokens[i] + tokens[i + 1], surname);
      if (two > s) {
        s = two;
        used = {i, i + 1};
      }
    }
  }
  if (s < 0.8) {
    // One name word that is this person's given name: not enough to route to them, but enough to
    // keep a namesake by surname from being sure ("Attn: Martin" may be Martin Weber).
    const auto counting = std::count_if(words.begin(), words.end(), [](const NameWord& w) { return w.counts; });
    if (counting == 1 && !given.empty()) {
      const auto one = std::find_if(words.begin(), words.end(), [](const NameWord& w) { return w.counts; });
      const double g = similarity(one->folded, given);
      if (g >= 0.8) return 0.8 * g;
    }
    return 0;
  }
  double g = -1;  // -1: no other name word
  for (size_t i = 0; i < tokens.size(); ++i) {
    // The other words that may be names (not a speck's "o").
    if (used.count(i) || !words[i].counts) continue;
    const std::string& t = tokens[i];
    double gi = 0;
    if (t.size() == 1) gi = !given.empty() && t[0] == given[0] ? 0.9 : 0;
    else if (!given.empty()) {
      gi = similarity(t, given);
      // A given name of two words ("Anna Lena"): its first word.
      const auto first = fold_name(a.given.substr(0, a.given.find_first_of(" -")));
      gi = std::max(gi, similarity(t, first));
    }
    g = std::max(g, gi);
  }
  if (g < 0) return 0.9 * s;            // the surname alone
  if (g >= 0.75) return 0.5 * s + 0.5 * g;
  return kCandidate;                    // someone else of that name
}

std::string strip_prefix(const std::string& s, const std::string& prefix) {
  return lower_ascii(s.substr(0, prefix.size())) == prefix ? s.substr(prefix.size()) : s;
}

// Sender-controlled text for a mail's row, an event and the log: control characters as spaces,
// at most 80 bytes (cut before a UTF-8 continuation byte).
std::string printable(const std::string& s) {
  std::string out;
  for (char c : s) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
  if (out.size() > 80) {
    size_t cut = 80;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;
    out = out.substr(0, cut) + "...";
  }
  return out;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

}  // namespace

CoverDecision decide_cover(const CoverPage& page, const std::vector<Addressee>& people) {
  CoverDecision d;
  // Addressees with the same destination are one (a person and their own DID's route): one of
  // them stands for all, one that may receive faxes when any may (someone without an address is
  // on their own).
  std::vector<size_t> same(people.size());
  {
    std::map<std::string, std::vector<size_t>> groups;
    for (size_t i = 0; i < people.size(); ++i) {
      std::vector<std::string> mails;
      if (people[i].route >= 0) {
        for (const auto& m : people[i].mails) mails.push_back(lower_ascii(m));
      } else if (!people[i].mails.empty()) {
        mails.push_back(lower_ascii(people[i].mails.front()));
      }
      same[i] = i;
      if (mails.empty()) continue;
      std::sort(mails.begin(), mails.end());
      std::string key;
      for (const auto& m : mails) key += m + ",";
      groups[key].push_back(i);
    }
    for (const auto& [key, members] : groups) {
      size_t rep = members.front();
      for (size_t m : members)
        if (people[m].may_receive) {
          rep = m;
          break;
        }
      for (size_t m : members) same[m] = rep;
    }
  }
  auto refuse_or_choose = [&](size_t i, std::string by, std::string matched, double score) {
    if (!people[i].may_receive) {
      d.why = "the cover page names " + people[i].name + ", who may not receive faxes";
      d.candidates = {{i, score}};
      return;
    }
    d.chosen = i;
    d.by = std::move(by);
    d.matched = std::move(matched);
    d.score = score;
  };
  // Barcodes: a known address or a route's key.
  std::set<size_t> coded;
  std::string code_text;
  for (const auto& b : page.barcodes) {
    std::string v = trim(b.data);
    v = strip_prefix(v, "mailto:");
    v = v.substr(0, v.find('?'));
    const bool route_key = lower_ascii(v.substr(0, 6)) == "route:";
    if (route_key) v = trim(v.substr(6));
    for (size_t i = 0; i < people.size(); ++i) {
      const auto& a = people[i];
      bool hit = false;
      if (v.find('@') != std::string::npos) {
        for (const auto& m : a.mails) hit = hit || lower_ascii(m) == lower_ascii(v);
      } else {
        // A key as written, or a number however it is spaced ("+1 555 0177").
        const std::string vd = digits_of(v);
        const bool number_like = !vd.empty() && v.find_first_not_of("+0123456789 -()") == std::string::npos;
        for (const auto& k : a.keys) hit = hit || k == v || (number_like && digits_of(k) == vd);
      }
      if (hit) {
        coded.insert(same[i]);
        code_text = (route_key ? "route:" : "") + v;
      }
    }
  }
  if (coded.size() == 1) {
    refuse_or_choose(*coded.begin(), "barcode", printable(code_text), 1);
    return d;
  }
  if (!page.read) {
    d.why = coded.size() > 1 ? "its barcodes name different people, and the cover page was not read in time"
                             : "the cover page was not read in time";
    return d;
  }
  const std::vector<std::string> fields = addressee_fields(page.text, page.xres, page.yres);
  for (const auto& f : fields) d.fields.push_back(printable(f));  // (matched as read; shown printable)
  if (fields.empty()) {
    d.why = coded.size() > 1 ? "its barcodes name different people, and no addressee line (To:, Attn:, An:, À:, Para:) was read"
                             : "no addressee line (To:, Attn:, An:, À:, Para:) was read on the cover page";
    return d;
  }
  std::vector<double> score(people.size(), 0);
  std::vector<std::string> why_field(people.size());
  for (const auto& f : fields) {
    const auto mails = mails_in(f);
    const auto numbers = numbers_in(f);
    const auto tokens = name_tokens(f);
    for (size_t i = 0; i < people.size(); ++i) {
      // Mail addresses: equal (1), or one slip away (0.9: a neighbour that is equal wins by less
      // than the margin, so then nobody is chosen).
      double s = 0;
      for (const auto& m : mails) {
        for (const auto& pm : people[i].mails) {
          const std::string want = ocr_slips(lower_ascii(pm));
          if (m == want) s = 1;
          else if (want.size() >= 8 && edit_distance(m, want) == 1) s = std::max(s, 0.9);
        }
      }
      s = std::max({s, number_score(numbers, people[i]), name_score(tokens, people[i])});
      const size_t k = same[i];
      if (s > score[k]) {
        score[k] = s;
        why_field[k] = f;
      }
    }
  }
  std::vector<Candidate> ranked;
  for (size_t i = 0; i < people.size(); ++i)
    if (same[i] == i && score[i] >= kCandidate) ranked.push_back({i, score[i]});
  std::stable_sort(ranked.begin(), ranked.end(), [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  if (!ranked.empty() && ranked[0].score >= kAccept &&
      (ranked.size() == 1 || ranked[1].score <= ranked[0].score - kMargin)) {
    refuse_or_choose(ranked[0].index, "ocr", printable(why_field[ranked[0].index]), ranked[0].score);
    return d;
  }
  if (ranked.size() > kMaxCandidates) ranked.resize(kMaxCandidates);
  d.candidates = ranked;
  std::string read;
  for (const auto& f : d.fields) read += (read.empty() ? "\"" : ", \"") + f + "\"";
  if (ranked.empty()) d.why = "the addressee read (" + read + ") is no one in the directory";
  else if (ranked.size() > 1 && ranked[1].score > ranked[0].score - kMargin)
    d.why = "the addressee read (" + read + ") could be any of " + std::to_string(ranked.size()) + " people";
  else d.why = "the addressee read (" + read + ") matches no one surely enough";
  return d;
}

}  // namespace gateway
