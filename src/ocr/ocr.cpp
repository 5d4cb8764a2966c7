// ocr.cpp — fax pages read by libtesseract (see the header).
#include "ocr/ocr.hpp"

#include <algorithm>
#include <cctype>

#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>
#include <tesseract/ocrclass.h>
#include <tesseract/resultiterator.h>

namespace ocr {
namespace {

std::string trimmed(const char* s) {
  std::string t = s ? s : "";
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  size_t i = 0;
  while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
  return t.substr(i);
}

struct Text {  // tesseract's new[]'d strings
  char* p;
  ~Text() { delete[] p; }
};

struct Stop {
  std::chrono::steady_clock::time_point deadline;
  const std::atomic<bool>* cancel;
};

bool stop_now(void* stop, int) {
  auto* s = static_cast<Stop*>(stop);
  return std::chrono::steady_clock::now() >= s->deadline || (s->cancel && s->cancel->load());
}

}  // namespace

struct Reader::Impl {
  tesseract::TessBaseAPI api;
};

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reader::~Reader() {
  if (impl_) impl_->api.End();
}

fb::Result<std::unique_ptr<Reader>, std::string> Reader::open(const std::vector<std::string>& languages) {
  if (languages.empty()) return std::string("no OCR language");
  std::string joined;
  for (const auto& l : languages) {
    if (l.empty() || l.size() > 32 || !std::all_of(l.begin(), l.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        })) {
      return "the OCR language \"" + l + "\" is not a tesseract language name (such as eng, deu, fra, spa)";
    }
    joined += (joined.empty() ? "" : "+") + l;
  }
  auto impl = std::make_unique<Impl>();
  // (Quiet: tesseract's notes go to debug_file, not stderr.)
  impl->api.SetVariable("debug_file", "/dev/null");
  if (impl->api.Init(nullptr, joined.c_str(), tesseract::OEM_LSTM_ONLY) != 0) {
    impl->api.End();
    // Which one is missing: each tried alone.
    for (const auto& l : languages) {
      tesseract::TessBaseAPI probe;
      probe.SetVariable("debug_file", "/dev/null");
      if (probe.Init(nullptr, l.c_str(), tesseract::OEM_LSTM_ONLY) != 0) {
        probe.End();
        return "the OCR language \"" + l + "\" is not installed (Debian: apt install tesseract-ocr-" + l + ")";
      }
      probe.End();
    }
    return "tesseract cannot start with the languages " + joined;
  }
  // tesseract starts with the languages it found and only warns of the others: each is checked.
  std::vector<std::string> loaded;
  impl->api.GetLoadedLanguagesAsVector(&loaded);
  for (const auto& l : languages) {
    if (std::find(loaded.begin(), loaded.end(), l) == loaded.end()) {
      impl->api.End();
      return "the OCR language \"" + l + "\" is not installed (Debian: apt install tesseract-ocr-" + l + ")";
    }
  }
  impl->api.SetPageSegMode(tesseract::PSM_AUTO);
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

fb::Result<PageText, std::string> Reader::read(const imaging::Page& page,
                                               std::chrono::steady_clock::time_point deadline,
                                               const std::atomic<bool>* cancel) {
  Stop stop{deadline, cancel};
  if (stop_now(&stop, 0)) return std::string("the page was not read in time");
  const imaging::Bitmap& b = page.bitmap;
  if (b.width <= 0 || b.rows <= 0 || b.width > kMaxWidth || b.rows > kMaxRows || b.stride != (b.width + 7) / 8 ||
      b.bits.size() != size_t(b.stride) * size_t(b.rows)) {
    return std::string("the page is not a fax page tesseract can read (" + std::to_string(b.width) + " x " +
                       std::to_string(b.rows) + ")");
  }
  // Square pixels near 400 dpi, where tesseract reads small print best: the page as grey, scaled
  // with linear interpolation (a standard page's 98 rows an inch become 408, not blocks of four
  // copies), for tesseract to threshold again.
  const int xres = page.xres > 0 ? page.xres : 204, yres = page.yres > 0 ? page.yres : 196;
  const float target = 408.0f;
  const float sx = std::max(1.0f, target / float(xres)), sy = std::max(1.0f, target / float(yres));
  struct PixPtr {
    Pix* p = nullptr;
    ~PixPtr() { pixDestroy(&p); }
  };
  PixPtr grey{pixCreate(b.width, b.rows, 8)};
  if (!grey.p) return std::string("out of memory for the page");
  pixSetAll(grey.p);  // white
  l_uint32* data = pixGetData(grey.p);
  const int wpl = pixGetWpl(grey.p);
  // A line's speckle (a black pixel with no black neighbour) is left out: tesseract reads it as
  // punctuation, and it breaks up the words around it. (A full stop or an i's dot is larger.)
  auto black = [&](int x, int y) { return x >= 0 && y >= 0 && x < b.width && y < b.rows && b.get(x, y); };
  for (int y = 0; y < b.rows; ++y) {
    const uint8_t* src = b.row(y);
    l_uint32* line = data + size_t(y) * size_t(wpl);
    for (int x = 0; x < b.width; ++x) {
      if (!(src[x >> 3] & (0x80 >> (x & 7)))) continue;
      const bool alone = !black(x - 1, y - 1) && !black(x, y - 1) && !black(x + 1, y - 1) && !black(x - 1, y) &&
                         !black(x + 1, y) && !black(x - 1, y + 1) && !black(x, y + 1) && !black(x + 1, y + 1);
      if (!alone) SET_DATA_BYTE(line, x, 0);
    }
  }
  PixPtr scaled{pixScaleGrayLI(grey.p, sx, sy)};
  if (!scaled.p) return std::string("out of memory for the page");
  tesseract::TessBaseAPI& api = impl_->api;
  api.SetImage(scaled.p);
  api.SetSourceResolution(int(target));
  tesseract::ETEXT_DESC monitor;
  monitor.cancel = stop_now;
  monitor.cancel_this = &stop;
  const int rc = api.Recognize(&monitor);
  if (stop_now(&stop, 0)) {
    api.Clear();
    return std::string("the page was not read in time");
  }
  if (rc != 0) {
    api.Clear();
    return std::string("tesseract could not read the page");
  }
  PageText out;
  int line = -1;
  std::string current;
  auto end_line = [&] {
    if (!current.empty()) out.lines.push_back(current);
    current.clear();
  };
  {  // (the iterator goes before Clear(), as tesseract asks)
    std::unique_ptr<tesseract::ResultIterator> it(api.GetIterator());
    if (it) {
      do {
        if (it->Empty(tesseract::RIL_WORD)) continue;
        if (it->IsAtBeginningOf(tesseract::RIL_TEXTLINE) || line < 0) {
          end_line();
          ++line;
        }
        Text t{it->GetUTF8Text(tesseract::RIL_WORD)};
        std::string w = trimmed(t.p);
        if (w.empty()) continue;
        int l = 0, top = 0, r = 0, bottom = 0;
        if (!it->BoundingBox(tesseract::RIL_WORD, &l, &top, &r, &bottom)) continue;
        if (out.words.size() >= kMaxWords) break;
        Word word;
        word.text = w;
        word.x0 = std::clamp(int(float(l) / sx), 0, b.width - 1);
        word.x1 = std::clamp(int(float(r) / sx + 0.999f), word.x0 + 1, b.width);
        word.y0 = std::clamp(int(float(top) / sy), 0, b.rows - 1);
        word.y1 = std::clamp(int(float(bottom) / sy + 0.999f), word.y0 + 1, b.rows);
        word.confidence = it->Confidence(tesseract::RIL_WORD);
        word.line = line;
        current += (current.empty() ? "" : " ") + w;
        out.words.push_back(std::move(word));
      } while (it->Next(tesseract::RIL_WORD));
    }
  }
  end_line();
  api.Clear();
  return out;
}

std::vector<std::string> first_lines(const PageText& text, size_t n, size_t width) {
  std::vector<std::string> out;
  for (const auto& l : text.lines) {
    if (out.size() >= n) break;
    if (!std::any_of(l.begin(), l.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); })) continue;
    if (l.size() <= width) {
      out.push_back(l);
      continue;
    }
    size_t cut = l.rfind(' ', width);
    if (cut == std::string::npos || cut < width / 2) {
      cut = width;
      while (cut > 0 && (static_cast<unsigned char>(l[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 letter
    }
    out.push_back(l.substr(0, cut) + " ...");
  }
  return out;
}

}  // namespace ocr
