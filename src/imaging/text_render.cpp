// text_render.cpp — Pango/Cairo layout of styled paragraphs onto fax pages (see the header).
#include "imaging/text_render.hpp"

#include "imaging/binarize.hpp"
#include "imaging/raster_buffer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include <cairo.h>
#include <glib.h>
#include <pango/pangocairo.h>

namespace imaging {
namespace {

constexpr double kTopMarginIn = 0.5, kBottomMarginIn = 0.5;
constexpr double kIndentPt = 0.4 * 72;
constexpr double kExcerptPt = 0.3 * 72;
constexpr const char* kMonoFamily = "DejaVu Sans Mono";
constexpr const char* kPropFamily = "DejaVu Sans";
constexpr double kMonoSizePt = 10, kPropSizePt = 11;

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { if (p) F(p); }
};
using SurfacePtr = std::unique_ptr<cairo_surface_t, Deleter<cairo_surface_t, cairo_surface_destroy>>;
using CairoPtr = std::unique_ptr<cairo_t, Deleter<cairo_t, cairo_destroy>>;
struct GDeleter {
  void operator()(void* p) const { if (p) g_object_unref(p); }
};
using LayoutPtr = std::unique_ptr<PangoLayout, GDeleter>;
using FontDescPtr = std::unique_ptr<PangoFontDescription, Deleter<PangoFontDescription, pango_font_description_free>>;
using AttrListPtr = std::unique_ptr<PangoAttrList, Deleter<PangoAttrList, pango_attr_list_unref>>;

// Text is laid out and drawn on the fine grid, 204 x 196 dpi: Pango's metrics go wrong under a
// strongly anisotropic transform (204 x 98 squeezes every glyph), 4% is harmless. Standard
// pages average pairs of fine rows; superfine pages repeat them (Canvas::to_bitmap).
constexpr double kLayoutXdpi = 204.0, kLayoutYdpi = 196.0;

void setup_transform(cairo_t* cr) {
  cairo_scale(cr, kLayoutXdpi / 72.0, kLayoutYdpi / 72.0);
  cairo_font_options_t* fo = cairo_font_options_create();
  cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
  cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
  cairo_set_font_options(cr, fo);
  cairo_font_options_destroy(fo);
}

// One page being drawn: an A8 (coverage) surface on the fine grid covering the fax page.
struct Canvas {
  RasterBuffer mem;  // the surface's pixels (raster_buffer.hpp), freed after it
  SurfacePtr surface;
  CairoPtr cr;
  int rows;       // rows of the fax page at its resolution
  int ydpi;
  int fine_rows;  // rows of the surface
  Canvas(int rows_, int ydpi_) : rows(rows_), ydpi(ydpi_) {
    fine_rows = int(std::ceil(rows * kLayoutYdpi / ydpi));
    const int stride = cairo_format_stride_for_width(CAIRO_FORMAT_A8, kFaxWidth);
    mem = RasterBuffer(size_t(stride) * size_t(fine_rows));  // zero: no coverage
    surface.reset(mem.data() ? cairo_image_surface_create_for_data(mem.data(), CAIRO_FORMAT_A8, kFaxWidth, fine_rows, stride)
                             : cairo_image_surface_create(CAIRO_FORMAT_A8, kFaxWidth, fine_rows));
    cr.reset(cairo_create(surface.get()));
    setup_transform(cr.get());
    cairo_set_source_rgba(cr.get(), 0, 0, 0, 1);
  }
  // Coverage above the threshold is ink. Standard: the mean of two fine rows, so a one-row
  // stroke keeps half its coverage (still ink for a solid stroke); superfine: the nearest.
  Bitmap to_bitmap() {
    cairo_surface_flush(surface.get());
    const uint8_t* a = cairo_image_surface_get_data(surface.get());
    const int stride = cairo_image_surface_get_stride(surface.get());
    Bitmap bm(kFaxWidth, rows);
    std::vector<uint8_t> mean(static_cast<size_t>(stride));
    for (int y = 0; y < rows; ++y) {
      const uint8_t* src;
      if (ydpi < kLayoutYdpi * 0.75) {  // standard: rows 2y and 2y+1
        const uint8_t* r0 = a + size_t(std::min(2 * y, fine_rows - 1)) * stride;
        const uint8_t* r1 = a + size_t(std::min(2 * y + 1, fine_rows - 1)) * stride;
        for (int x = 0; x < kFaxWidth; ++x) mean[size_t(x)] = uint8_t((r0[x] + r1[x] + 1) >> 1);
        src = mean.data();
      } else {
        src = a + size_t(std::min(int(int64_t(y) * fine_rows / rows), fine_rows - 1)) * stride;
      }
      ink_where_above(src, kFaxWidth, 255 - kTextThreshold, bm.row(y));
    }
    return bm;
  }
  static constexpr int kTextThreshold = 160;
};

PangoAttrList* span_attrs(const text::Paragraph& p, std::string& text, TextFace face, double base_pt) {
  PangoAttrList* list = pango_attr_list_new();
  for (const auto& s : p.spans) {
    guint start = guint(text.size());
    text += s.text;
    guint end = guint(text.size());
    auto add = [&](PangoAttribute* a) {
      a->start_index = start;
      a->end_index = end;
      pango_attr_list_insert(list, a);
    };
    if (s.bold) add(pango_attr_weight_new(PANGO_WEIGHT_BOLD));
    if (s.italic) add(pango_attr_style_new(PANGO_STYLE_ITALIC));
    if (s.underline) add(pango_attr_underline_new(PANGO_UNDERLINE_SINGLE));
    if (s.fixed && face == TextFace::proportional) add(pango_attr_family_new(kMonoFamily));
    if (s.size_steps != 0) {
      double pt = std::clamp(base_pt + 2.0 * s.size_steps, 6.0, 36.0);
      add(pango_attr_size_new(int(pt * PANGO_SCALE)));
    }
  }
  return list;
}

class Paginator {
 public:
  Paginator(TextFace face, const RenderOptions& opt) : face_(face), opt_(opt) {
    ydpi_ = opt.ydpi();
    rows_ = std::clamp(int(std::lround(paper_length_in(opt.text_page()) * ydpi_)), 64, kMaxRows);
    measure_.reset(cairo_image_surface_create(CAIRO_FORMAT_A8, 8, 8));
    mcr_.reset(cairo_create(measure_.get()));
    setup_transform(mcr_.get());
    base_pt_ = face == TextFace::mono ? kMonoSizePt : kPropSizePt;
    font_.reset(pango_font_description_new());
    pango_font_description_set_family(font_.get(), face == TextFace::mono ? kMonoFamily : kPropFamily);
    pango_font_description_set_size(font_.get(), int(base_pt_ * PANGO_SCALE));
    // The text box: 80 columns of the monospace face, centred on the page, for both faces.
    LayoutPtr probe(make_layout());
    FontDescPtr mono(pango_font_description_new());
    pango_font_description_set_family(mono.get(), kMonoFamily);
    pango_font_description_set_size(mono.get(), int(kMonoSizePt * PANGO_SCALE));
    pango_layout_set_font_description(probe.get(), mono.get());
    pango_layout_set_text(probe.get(), std::string(kTextColumns, 'M').c_str(), -1);
    int w = 0, h = 0;
    pango_layout_get_size(probe.get(), &w, &h);
    box_w_pt_ = double(w) / PANGO_SCALE + 0.5;
    left_pt_ = (kFaxWidthIn * 72 - box_w_pt_) / 2;
    top_pt_ = kTopMarginIn * 72;
    bottom_pt_ = rows_ * 72.0 / ydpi_ - kBottomMarginIn * 72;
  }

  Status add(const text::Paragraph& p, bool first) {
    if (p.page_break_before && !first) {
      if (auto s = new_page(); !s) return s;
    }
    std::string text;
    AttrListPtr attrs(span_attrs(p, text, face_, base_pt_));
    double indent = p.indent_left * kIndentPt + p.excerpt * kExcerptPt;
    double width = std::max(72.0, box_w_pt_ - indent - p.indent_right * kIndentPt);
    LayoutPtr layout(make_layout());
    pango_layout_set_text(layout.get(), text.c_str(), int(text.size()));
    pango_layout_set_attributes(layout.get(), attrs.get());
    pango_layout_set_width(layout.get(), int(width * PANGO_SCALE));
    pango_layout_set_wrap(layout.get(), PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(layout.get(), p.align == text::Align::center ? PANGO_ALIGN_CENTER
                                             : p.align == text::Align::end  ? PANGO_ALIGN_RIGHT
                                                                            : PANGO_ALIGN_LEFT);
    PangoLayoutIter* it = pango_layout_get_iter(layout.get());
    Status st = fb::Unit{};
    do {
      PangoRectangle logical;
      pango_layout_iter_get_line_extents(it, nullptr, &logical);
      int baseline = pango_layout_iter_get_baseline(it);
      double line_h = double(logical.height) / PANGO_SCALE;
      if (!canvas_ || y_pt_ + line_h > bottom_pt_ + 0.01) {
        st = new_page();
        if (!st) break;
      }
      cairo_t* cr = canvas_->cr.get();
      double x = left_pt_ + indent + double(logical.x) / PANGO_SCALE;
      double base = y_pt_ + double(baseline - logical.y) / PANGO_SCALE;
      cairo_move_to(cr, x, base);
      pango_cairo_show_layout_line(cr, pango_layout_iter_get_line_readonly(it));
      for (int q = 0; q < p.excerpt; ++q) {  // quote bars
        double bx = left_pt_ + p.indent_left * kIndentPt + q * kExcerptPt + 3;
        cairo_rectangle(cr, bx, y_pt_, 1.5, line_h);
        cairo_fill(cr);
      }
      y_pt_ += line_h;
    } while (pango_layout_iter_next_line(it));
    pango_layout_iter_free(it);
    return st;
  }

  Pages finish() {
    flush();
    return std::move(pages_);
  }

 private:
  PangoLayout* make_layout() {
    PangoLayout* l = pango_cairo_create_layout(mcr_.get());
    pango_cairo_context_set_resolution(pango_layout_get_context(l), 72);
    pango_layout_context_changed(l);
    pango_layout_set_font_description(l, font_.get());
    return l;
  }

  Status new_page() {
    flush();
    if (int(pages_.size()) >= opt_.limits.max_pages) {
      return make_error(Errc::limit, "over the limit of " + std::to_string(opt_.limits.max_pages) + " pages");
    }
    canvas_ = std::make_unique<Canvas>(rows_, ydpi_);
    y_pt_ = top_pt_;
    return fb::Unit{};
  }

  void flush() {
    if (!canvas_) return;
    Page p;
    p.yres = ydpi_;
    p.bitmap = canvas_->to_bitmap();
    pages_.push_back(std::move(p));
    canvas_.reset();
  }

  TextFace face_;
  const RenderOptions& opt_;
  int ydpi_ = 196, rows_ = 0;
  double base_pt_ = 10, box_w_pt_ = 0, left_pt_ = 0, top_pt_ = 0, bottom_pt_ = 0, y_pt_ = 0;
  SurfacePtr measure_;
  CairoPtr mcr_;
  FontDescPtr font_;
  std::unique_ptr<Canvas> canvas_;
  Pages pages_;
};

}  // namespace

Result<Pages> render_text_document(const text::Document& doc, TextFace face, const RenderOptions& opt,
                                   const std::string& label) {
  Paginator pg(face, opt);
  bool first = true;
  for (const auto& p : doc.paragraphs) {
    if (auto s = pg.add(p, first); !s) return make_error(s.error().code, label + ": " + s.error().message);
    first = false;
  }
  Pages pages = pg.finish();
  if (pages.empty()) {  // an empty document is one blank page
    text::Paragraph empty;
    Paginator blank(face, opt);
    blank.add(empty, true);
    pages = blank.finish();
  }
  return pages;
}

text::Document plain_text_document(std::string_view s) {
  text::Document doc;
  text::Paragraph cur;
  cur.nofill = true;
  std::string line;
  int col = 0;
  bool page_break = false;
  auto end_line = [&] {
    text::Paragraph p;
    p.nofill = true;
    p.page_break_before = page_break;
    page_break = false;
    if (!line.empty()) p.spans.push_back(text::Span{line, false, false, false, true, 0});
    doc.paragraphs.push_back(std::move(p));
    line.clear();
    col = 0;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
      end_line();
    } else if (c == '\n') {
      end_line();
    } else if (c == '\f') {
      if (!line.empty()) end_line();
      else if (page_break) end_line();  // form feeds in a row: an empty page between them
      page_break = true;
    } else if (c == '\t') {
      int n = 8 - col % 8;
      line.append(size_t(n), ' ');
      col += n;
    } else if (c < 0x20 || c == 0x7f) {
      // other C0 controls are not printable: drop them
    } else {
      line.push_back(char(c));
      if ((c & 0xC0) != 0x80) ++col;  // count characters, not UTF-8 continuation bytes
    }
  }
  if (!line.empty() || page_break) end_line();
  // Trailing empty lines add nothing but blank space at the end of the last page.
  while (!doc.paragraphs.empty() && doc.paragraphs.back().spans.empty() &&
         !doc.paragraphs.back().page_break_before) {
    doc.paragraphs.pop_back();
  }
  return doc;
}

Result<std::string> to_utf8(std::string_view bytes, const std::string& charset, const std::string& label) {
  std::string cs = charset;
  std::transform(cs.begin(), cs.end(), cs.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (cs.empty() || cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii") {
    // Keep valid UTF-8; replace invalid sequences with U+FFFD.
    gchar* valid = g_utf8_make_valid(bytes.data(), gssize(bytes.size()));
    std::string out(valid);
    g_free(valid);
    return out;
  }
  GIConv probe = g_iconv_open("UTF-8", charset.c_str());
  if (probe == reinterpret_cast<GIConv>(-1)) {
    return make_error(Errc::unsupported, label + ": unknown charset \"" + charset + "\"");
  }
  g_iconv_close(probe);
  GError* err = nullptr;
  gsize read = 0, written = 0;
  gchar* out = g_convert_with_fallback(bytes.data(), gssize(bytes.size()), "UTF-8", charset.c_str(), "\xEF\xBF\xBD",
                                       &read, &written, &err);
  if (!out) {
    std::string why = err ? err->message : "conversion failed";
    bool unknown = err && err->code == G_CONVERT_ERROR_NO_CONVERSION;
    if (err) g_error_free(err);
    if (unknown) return make_error(Errc::unsupported, label + ": unknown charset \"" + charset + "\"");
    // Invalid byte sequences: decode what is valid, byte by byte, with replacement characters.
    std::string acc;
    for (size_t i = 0; i < bytes.size(); ++i) {
      gchar* one = g_convert(bytes.data() + i, 1, "UTF-8", charset.c_str(), nullptr, nullptr, nullptr);
      if (one) {
        acc += one;
        g_free(one);
      } else {
        acc += "\xEF\xBF\xBD";
      }
    }
    return acc;
  }
  std::string s(out, written);
  g_free(out);
  return s;
}

Bitmap render_text_band(const std::string& left, const std::string& right, int ydpi, int rows) {
  Canvas c(rows, ydpi);
  cairo_t* cr = c.cr.get();
  PangoLayout* raw = pango_cairo_create_layout(cr);
  LayoutPtr layout(raw);
  pango_cairo_context_set_resolution(pango_layout_get_context(raw), 72);
  pango_layout_context_changed(raw);
  FontDescPtr font(pango_font_description_new());
  pango_font_description_set_family(font.get(), kPropFamily);
  double band_pt = rows * 72.0 / ydpi;
  pango_font_description_set_size(font.get(), int(std::max(4.0, band_pt * 0.62) * PANGO_SCALE));
  pango_layout_set_font_description(raw, font.get());
  pango_layout_set_single_paragraph_mode(raw, TRUE);
  double page_w_pt = kFaxWidthIn * 72, margin = 0.25 * 72;
  auto draw = [&](const std::string& s, bool right_align) {
    pango_layout_set_text(raw, s.c_str(), -1);
    int w = 0, h = 0;
    pango_layout_get_size(raw, &w, &h);
    double x = right_align ? page_w_pt - margin - double(w) / PANGO_SCALE : margin;
    double y = (band_pt - double(h) / PANGO_SCALE) / 2;
    cairo_move_to(cr, x, y);
    pango_cairo_show_layout(cr, raw);
  };
  draw(left, false);
  draw(right, true);
  return c.to_bitmap();
}

}  // namespace imaging
