// tnef.cpp — a TNEF stream's bodies and attachments (rules: tnef.hpp).
#include "mail/tnef.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <utility>

namespace mail {
namespace {

// [MS-OXTNEF] §2.1.3.3: the attributes read (level 1 = message, 2 = attachment).
constexpr uint32_t kAttBody = 0x0002800C, kAttOemCodepage = 0x00069007, kAttMapiProps = 0x00069003,
                   kAttAttachRenddata = 0x00069002, kAttAttachTitle = 0x00018010, kAttAttachData = 0x0006800F,
                   kAttAttachment = 0x00069005;
// [MS-OXCDATA] §2.11.1 property types; [MS-OXPROPS] property ids.
constexpr unsigned kPtI2 = 0x02, kPtLong = 0x03, kPtR4 = 0x04, kPtDouble = 0x05, kPtCurrency = 0x06,
                   kPtAppTime = 0x07, kPtError = 0x0A, kPtBoolean = 0x0B, kPtObject = 0x0D, kPtI8 = 0x14,
                   kPtString8 = 0x1E, kPtUnicode = 0x1F, kPtSysTime = 0x40, kPtClsid = 0x48, kPtSvrEid = 0xFB,
                   kPtBinary = 0x102, kMvFlag = 0x1000;
constexpr unsigned kPrBody = 0x1000, kPrRtfCompressed = 0x1009, kPrBodyHtml = 0x1013, kPrInternetCpid = 0x3FDE,
                   kPrDisplayName = 0x3001, kPrAttachFilename = 0x3704, kPrAttachLongFilename = 0x3707,
                   kPrAttachMimeTag = 0x370E, kPrAttachDataBin = 0x3701;

constexpr size_t kMaxRtf = 32u << 20;  // bytes of decompressed RTF

uint32_t le32(std::string_view b, size_t at) {
  return uint32_t(static_cast<unsigned char>(b[at])) | uint32_t(static_cast<unsigned char>(b[at + 1])) << 8 |
         uint32_t(static_cast<unsigned char>(b[at + 2])) << 16 | uint32_t(static_cast<unsigned char>(b[at + 3])) << 24;
}
unsigned le16(std::string_view b, size_t at) {
  return unsigned(static_cast<unsigned char>(b[at])) | unsigned(static_cast<unsigned char>(b[at + 1])) << 8;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string until_nul(std::string_view s) { return std::string(s.substr(0, s.find('\0'))); }

// UTF-16LE (PT_UNICODE) as UTF-8, to the first NUL; an unpaired surrogate becomes U+FFFD.
std::string utf8_from_utf16le(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  auto put = [&](uint32_t c) {
    if (c < 0x80) {
      out += char(c);
    } else if (c < 0x800) {
      out += char(0xC0 | c >> 6);
      out += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += char(0xE0 | c >> 12);
      out += char(0x80 | (c >> 6 & 0x3F));
      out += char(0x80 | (c & 0x3F));
    } else {
      out += char(0xF0 | c >> 18);
      out += char(0x80 | (c >> 12 & 0x3F));
      out += char(0x80 | (c >> 6 & 0x3F));
      out += char(0x80 | (c & 0x3F));
    }
  };
  for (size_t i = 0; i + 1 < in.size(); i += 2) {
    uint32_t c = le16(in, i);
    if (c == 0) break;
    if (c >= 0xD800 && c < 0xDC00 && i + 3 < in.size() && le16(in, i + 2) >= 0xDC00 && le16(in, i + 2) < 0xE000) {
      c = 0x10000 + ((c - 0xD800) << 10) + (le16(in, i + 2) - 0xDC00);
      i += 2;
    } else if (c >= 0xD800 && c < 0xE000) {
      c = 0xFFFD;
    }
    put(c);
  }
  return out;
}

// A Windows code page as an iconv charset name; "" when unknown.
std::string charset_of(uint32_t cp) {
  switch (cp) {
    case 65001: return "utf-8";
    case 20127: return "us-ascii";
    case 28591: return "iso-8859-1";
    case 932: return "cp932";
    case 936: return "gbk";
    case 949: return "cp949";
    case 950: return "cp950";
    case 874: return "cp874";
    case 20866: return "koi8-r";
    case 21866: return "koi8-u";
    case 50220: case 50221: case 50222: return "iso-2022-jp";
    case 51932: return "euc-jp";
    case 51949: return "euc-kr";
    case 54936: return "gb18030";
    case 437: case 850: case 852: case 866: return "cp" + std::to_string(cp);
    default: break;
  }
  if (cp >= 28592 && cp <= 28605) return "iso-8859-" + std::to_string(cp - 28590);
  if (cp >= 1250 && cp <= 1258) return "windows-" + std::to_string(cp);
  return "";
}

// One property of a MAPI property list: its first value's bytes as stored (PT_OBJECT with its
// 16-byte interface id in front; fixed-size types in their little-endian bytes).
struct Prop {
  unsigned type = 0;
  std::string_view value;
};
using Props = std::map<unsigned, Prop>;  // by property id (named properties, 0x8000 up, are skipped)

// [MS-OXTNEF] §2.1.3.4: attMAPIProps / attAttachment data. Every length is checked against the
// block, so a lying count or size ends with an error, never a read outside it.
std::optional<std::string> parse_props(std::string_view b, Props& out) {
  const std::string bad = "a MAPI property list in the TNEF stream is damaged";
  size_t at = 0;
  auto need = [&](size_t n) { return n <= b.size() - at; };
  if (!need(4)) return bad;
  const uint32_t count = le32(b, at);
  at += 4;
  for (uint32_t i = 0; i < count; ++i) {
    if (!need(4)) return bad;
    const unsigned type = le16(b, at), id = le16(b, at + 2);
    at += 4;
    if (id >= 0x8000) {  // a named property: its GUID, then a number or a UTF-16 name
      if (!need(20)) return bad;
      const uint32_t kind = le32(b, at + 16);
      at += 20;
      if (!need(4)) return bad;
      if (kind == 0) {
        at += 4;
      } else if (kind == 1) {
        const uint32_t len = le32(b, at);
        at += 4;
        const size_t padded = size_t(len) + (4 - len % 4) % 4;
        if (!need(padded)) return bad;
        at += padded;
      } else {
        return bad;
      }
    }
    const bool multi = (type & kMvFlag) != 0;
    const unsigned base = type & ~kMvFlag;
    size_t values = 1;
    const bool variable = base == kPtString8 || base == kPtUnicode || base == kPtBinary || base == kPtObject ||
                          base == kPtSvrEid;
    if (multi || variable) {  // a value count; single-valued variable types write 1
      if (!need(4)) return bad;
      values = le32(b, at);
      at += 4;
      if (values > (b.size() - at) / 4) return bad;  // each value takes 4 bytes at least
    }
    size_t fixed = 0;
    switch (base) {
      case kPtI2: case kPtLong: case kPtR4: case kPtError: case kPtBoolean: fixed = 4; break;
      case kPtDouble: case kPtCurrency: case kPtAppTime: case kPtI8: case kPtSysTime: fixed = 8; break;
      case kPtClsid: fixed = 16; break;
      default:
        if (!variable) return "a MAPI property in the TNEF stream has an unknown type (" + std::to_string(base) + ")";
    }
    std::string_view first;
    for (size_t v = 0; v < values; ++v) {
      size_t len = fixed;
      if (variable) {
        if (!need(4)) return bad;
        len = le32(b, at);
        at += 4;
      }
      if (!need(len)) return bad;
      if (v == 0) first = b.substr(at, len);
      at += len;
      if (variable) {
        const size_t pad = (4 - len % 4) % 4;
        at += std::min(pad, b.size() - at);  // the last value's padding may be missing
      }
    }
    if (id < 0x8000 && values > 0) out[id] = Prop{base, first};
  }
  return std::nullopt;
}

const Prop* find(const Props& p, unsigned id, std::initializer_list<unsigned> types) {
  auto it = p.find(id);
  if (it == p.end()) return nullptr;
  for (unsigned t : types) {
    if (it->second.type == t) return &it->second;
  }
  return nullptr;
}

// A string property as UTF-8 (PT_UNICODE converted; PT_STRING8 as stored, in `cp8`).
std::optional<std::string> string_prop(const Props& p, unsigned id) {
  const Prop* v = find(p, id, {kPtUnicode, kPtString8});
  if (!v) return std::nullopt;
  return v->type == kPtUnicode ? utf8_from_utf16le(v->value) : until_nul(v->value);
}

}  // namespace

// [MS-OXRTFCP] §2.2.3: a 16-byte header (compressed size, raw size, type, CRC), then either the
// RTF itself ("MELA") or LZ77 runs against a 4096-byte dictionary that starts with a fixed
// 207-byte text ("LZFu"): control bytes whose bits, lowest first, each say literal (one byte) or
// reference (two bytes, big-endian: a 12-bit dictionary offset and a 4-bit length - 2); a
// reference to the write position ends the stream. Nothing outside the input is read, whatever
// the header's sizes say.
std::optional<std::string> decompress_rtf(std::string_view in, size_t max_out) {
  if (in.size() < 16) return std::nullopt;
  const uint32_t raw_size = le32(in, 4), type = le32(in, 8);
  const size_t want = std::min<size_t>(raw_size, max_out);
  if (type == 0x414C454D) return std::string(in.substr(16, want));  // "MELA": stored as is
  if (type != 0x75465A4C) return std::nullopt;                        // not "LZFu"
  static constexpr std::string_view kPrebuf =
      "{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript "
      "\\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par "
      "\\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";
  static_assert(kPrebuf.size() == 207);
  char dict[4096] = {};
  std::copy(kPrebuf.begin(), kPrebuf.end(), dict);
  size_t write = kPrebuf.size();
  std::string out;
  out.reserve(std::min<size_t>(want, in.size() * 4));
  size_t at = 16;
  while (at < in.size() && out.size() < want) {
    const unsigned control = static_cast<unsigned char>(in[at++]);
    for (int bit = 0; bit < 8 && out.size() < want; ++bit) {
      if (!(control & (1u << bit))) {
        if (at >= in.size()) return out;
        const char c = in[at++];
        out.push_back(c);
        dict[write] = c;
        write = (write + 1) % 4096;
        continue;
      }
      if (at + 2 > in.size()) return out;
      const unsigned ref = unsigned(static_cast<unsigned char>(in[at])) << 8 | static_cast<unsigned char>(in[at + 1]);
      at += 2;
      size_t from = ref >> 4;
      if (from == write) return out;  // the end marker
      for (unsigned n = (ref & 0xF) + 2; n > 0 && out.size() < want; --n) {
        const char c = dict[from];
        from = (from + 1) % 4096;
        out.push_back(c);
        dict[write] = c;
        write = (write + 1) % 4096;
      }
    }
  }
  return out;
}

namespace {

struct Attachment {
  std::string title;  // attAttachTitle
  std::string_view data;  // attAttachData
  Props props;  // attAttachment
};

struct Message {
  std::string_view body;  // attBody
  uint32_t oem_codepage = 0;  // attOemCodepage
  Props props;  // attMAPIProps
  std::vector<Attachment> attachments;
};

// [MS-OXTNEF] §2.1.3: the signature, a key, then attributes — level, id, length, data, and a
// checksum (the data's bytes added up, modulo 2^16) — read into `m`.
std::optional<std::string> read_stream(std::string_view b, Message& m) {
  size_t at = 6;  // after the signature and the key
  while (at < b.size()) {
    if (b.size() - at < 9) return "the TNEF stream is truncated";
    const uint32_t id = le32(b, at + 1), len = le32(b, at + 5);
    at += 9;
    if (len > b.size() - at || b.size() - at - len < 2) return "the TNEF stream is truncated";
    const std::string_view data = b.substr(at, len);
    unsigned sum = 0;
    for (char c : data) sum += static_cast<unsigned char>(c);
    if ((sum & 0xFFFF) != le16(b, at + len)) return "the TNEF stream is damaged (an attribute's checksum does not match)";
    at += len + 2;
    // An attachment's attributes follow its attAttachRenddata; any before the first start one.
    auto current = [&]() -> Attachment& {
      if (m.attachments.empty()) m.attachments.emplace_back();
      return m.attachments.back();
    };
    switch (id) {
      case kAttBody: m.body = data; break;
      case kAttOemCodepage:
        if (len >= 4) m.oem_codepage = le32(data, 0);
        break;
      case kAttMapiProps:
        if (auto why = parse_props(data, m.props)) return why;
        break;
      case kAttAttachRenddata:
        if (m.attachments.size() >= kMaxTnefFiles * 4) return "the TNEF stream has too many attachments";
        m.attachments.emplace_back();
        break;
      case kAttAttachTitle: current().title = until_nul(data); break;
      case kAttAttachData: current().data = data; break;
      case kAttAttachment:
        if (auto why = parse_props(data, current().props)) return why;
        break;
      default: break;  // sender, subject, dates, recipients: not faxed
    }
  }
  return std::nullopt;
}

class Unpacker {
 public:
  bool unpack(std::string_view in, int depth) {
    if (in.size() < 6 || !is_tnef(in)) return fail("it does not start with the TNEF signature");
    Message m;
    if (auto why = read_stream(in, m)) return fail(*why);
    body(m);
    for (const Attachment& a : m.attachments) {
      if (!attachment(a, depth)) return false;
    }
    return true;
  }

  std::vector<TnefItem> items;
  std::string error;

 private:
  bool fail(std::string why) {
    if (error.empty()) error = std::move(why);
    return false;
  }

  // The code page of the message's 8-bit strings: PR_INTERNET_CPID, else attOemCodepage, else
  // Outlook's default.
  static std::string code_page(const Message& m) {
    std::string cs;
    if (const Prop* v = find(m.props, kPrInternetCpid, {kPtLong}); v && v->value.size() >= 4) cs = charset_of(le32(v->value, 0));
    if (cs.empty()) cs = charset_of(m.oem_codepage);
    return cs.empty() ? "windows-1252" : cs;
  }

  void body(const Message& m) {
    TnefBody b;
    if (const Prop* rtf = find(m.props, kPrRtfCompressed, {kPtBinary})) {
      auto text = decompress_rtf(rtf->value, kMaxRtf);
      if (text && !text->empty()) b.rtf = std::move(*text);
    }
    if (const Prop* plain = find(m.props, kPrBody, {kPtUnicode, kPtString8})) {
      b.plain = plain->type == kPtUnicode ? utf8_from_utf16le(plain->value) : until_nul(plain->value);
      b.plain_charset = plain->type == kPtUnicode ? "utf-8" : code_page(m);
    } else if (!m.body.empty()) {
      b.plain = until_nul(m.body);
      b.plain_charset = code_page(m);
    }
    if (const Prop* html = find(m.props, kPrBodyHtml, {kPtBinary, kPtString8})) {
      b.html = until_nul(html->value);
      b.html_charset = code_page(m);
    } else if (const Prop* h = find(m.props, kPrBodyHtml, {kPtUnicode})) {
      b.html = utf8_from_utf16le(h->value);
      b.html_charset = "utf-8";
    }
    if (b.rtf || b.plain || b.html) items.push_back({std::move(b), {}});
  }

  bool attachment(const Attachment& a, int depth) {
    // The data: PR_ATTACH_DATA_BIN/_OBJ (as PT_OBJECT: a 16-byte interface id, then an attached
    // Outlook item's own TNEF stream), else the attAttachData attribute.
    std::string_view data = a.data;
    if (const Prop* obj = find(a.props, kPrAttachDataBin, {kPtObject})) {
      data = obj->value.size() > 16 ? obj->value.substr(16) : std::string_view();
    } else if (const Prop* bin = find(a.props, kPrAttachDataBin, {kPtBinary})) {
      data = bin->value;
    }
    if (is_tnef(data)) {
      if (depth >= kMaxTnefDepth) return fail("TNEF streams are nested more than " + std::to_string(kMaxTnefDepth) + " levels deep");
      return unpack(data, depth + 1);
    }
    if (data.empty()) return true;  // nothing to fax (an empty or link-only attachment)
    if (++files_ > kMaxTnefFiles) return fail("the TNEF stream has more than " + std::to_string(kMaxTnefFiles) + " attachments");
    TnefFile f;
    // The long file name, the short one, the 8.3 title; the display name (often without an
    // extension) last.
    for (unsigned id : {kPrAttachLongFilename, kPrAttachFilename}) {
      if (f.name.empty()) f.name = string_prop(a.props, id).value_or("");
    }
    if (f.name.empty()) f.name = a.title;
    if (f.name.empty()) f.name = string_prop(a.props, kPrDisplayName).value_or("");
    f.mime_type = lower(string_prop(a.props, kPrAttachMimeTag).value_or(""));
    f.data = std::string(data);
    items.push_back({std::nullopt, std::move(f)});
    return true;
  }

  size_t files_ = 0;
};

}  // namespace

bool is_tnef(std::string_view b) {
  return b.size() >= 4 && static_cast<unsigned char>(b[0]) == 0x78 && static_cast<unsigned char>(b[1]) == 0x9F &&
         static_cast<unsigned char>(b[2]) == 0x3E && static_cast<unsigned char>(b[3]) == 0x22;
}

fb::Result<std::vector<TnefItem>, std::string> unpack_tnef(std::string_view bytes) {
  Unpacker u;
  if (!u.unpack(bytes, 0)) return std::string(u.error);
  return std::move(u.items);
}

}  // namespace mail
