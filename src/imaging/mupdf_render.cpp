// mupdf_render.cpp — PDF, HTML and raster images to fax pages through MuPDF (see the header).
//
// MuPDF reports errors with setjmp/longjmp (fz_try/fz_catch): inside an fz_try block there
// are no C++ objects with destructors and no early returns; every MuPDF call sits in a small
// function that turns an exception into an error string.
#include "imaging/mupdf_render.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

extern "C" {
#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
}

#include "imaging/binarize.hpp"
#include "imaging/raster_buffer.hpp"
#include "imaging/parallel.hpp"

namespace imaging {
namespace {

void quiet(void*, const char*) {}

// One MuPDF context per document: MuPDF contexts are not shared across threads.
// keep_warm_context(): the first shared context is kept, and every later shared one is it.
bool g_keep_warm = false;
fz_context* g_warm = nullptr;

class Ctx {
 public:
  // shared: may be the process's warm context (keep_warm_context); only for the thread that
  // renders documents one at a time, never for a page worker's thread.
  explicit Ctx(bool shared = false) {
    if (shared && g_warm) {
      ctx_ = g_warm;
      kept_ = true;
      return;
    }
    ctx_ = fz_new_context(nullptr, nullptr, FZ_STORE_DEFAULT);
    if (!ctx_) return;
    fz_set_warning_callback(ctx_, quiet, nullptr);
    fz_set_error_callback(ctx_, quiet, nullptr);
    fz_try(ctx_) { fz_register_document_handlers(ctx_); }
    fz_catch(ctx_) {}
    fz_set_aa_level(ctx_, 0);  // sharp text and line art; images keep their greys
    if (shared && g_keep_warm) {
      g_warm = ctx_;
      kept_ = true;
    }
  }
  ~Ctx() {
    if (!kept_) fz_drop_context(ctx_);
  }
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;
  fz_context* get() const { return ctx_; }

 private:
  fz_context* ctx_ = nullptr;
  bool kept_ = false;
};

std::string caught(fz_context* ctx) {
  const char* m = fz_caught_message(ctx);
  return m && *m ? m : "unknown error";
}

struct DocHolder {
  fz_context* ctx;
  fz_document* doc = nullptr;
  ~DocHolder() { fz_drop_document(ctx, doc); }
};

fz_document* open_doc(fz_context* ctx, std::string_view bytes, const char* magic, std::string& err) {
  fz_buffer* buf = nullptr;
  fz_stream* stm = nullptr;
  fz_document* doc = nullptr;
  fz_var(buf);
  fz_var(stm);
  fz_var(doc);
  fz_try(ctx) {
    buf = fz_new_buffer_from_shared_data(ctx, reinterpret_cast<const unsigned char*>(bytes.data()),
                                         bytes.size());
    stm = fz_open_buffer(ctx, buf);
    doc = fz_open_document_with_stream(ctx, magic, stm);
  }
  fz_always(ctx) {
    fz_drop_stream(ctx, stm);
    fz_drop_buffer(ctx, buf);
  }
  fz_catch(ctx) {
    err = caught(ctx);
    doc = nullptr;
  }
  return doc;
}

// Geometry of one document page on the fax page: the transform and the page size in pixels.
struct Frame {
  fz_matrix ctm;
  int width = kFaxWidth;
  int rows = 0;
};

Frame frame_for(fz_rect b, const RenderOptions& opt, Paper paper, bool fill) {
  double w_pt = b.x1 - b.x0, h_pt = b.y1 - b.y0;
  // Landscape pages too wide for the fax width are turned to portrait (top of the page to the
  // left) so they are not shrunk; a short page that fits the width (a received fax page, a
  // receipt) is left as it is.
  bool rotate = w_pt > h_pt * 1.05 && w_pt / 72.0 > kFaxWidthIn + 0.05;
  double w_in = (rotate ? h_pt : w_pt) / 72.0, h_in = (rotate ? w_pt : h_pt) / 72.0;
  const int ydpi = opt.ydpi();
  Placement pl = place(w_in, h_in, paper, ydpi, fill);
  double dw = w_in * pl.scale * 204.0, dh = h_in * pl.scale * ydpi;
  Frame f;
  f.rows = pl.rows;
  fz_matrix m = fz_translate(-b.x0, -b.y0);
  if (rotate) m = fz_concat(m, fz_make_matrix(0, -1, 1, 0, 0, float(w_pt)));
  m = fz_concat(m, fz_scale(float(pl.scale * 204.0 / 72.0), float(pl.scale * ydpi / 72.0)));
  double ox = (kFaxWidth - dw) / 2.0;
  double oy = paper == Paper::automatic ? 0.0 : std::max(0.0, (f.rows - dh) / 2.0);
  f.ctm = fz_concat(m, fz_translate(float(ox), float(oy)));
  return f;
}

// A white grey pixmap of `width` x `rows` whose samples are `mem` (raster_buffer.hpp: a page
// raster on huge pages, not a thousand page faults, often the spare already white); from
// MuPDF's allocator, cleared, if it cannot be mapped.
fz_pixmap* new_page_pixmap(fz_context* ctx, int width, int rows, RasterBuffer& mem) {
  mem = RasterBuffer(size_t(width) * size_t(rows), 255);
  if (mem.data()) return fz_new_pixmap_with_data(ctx, fz_device_gray(ctx), width, rows, nullptr, 0, width, mem.data());
  fz_pixmap* pix = fz_new_pixmap(ctx, fz_device_gray(ctx), width, rows, nullptr, 0);
  fz_clear_pixmap_with_value(ctx, pix, 255);
  return pix;
}

// Runs `page` through a draw device onto a white grey pixmap and binarizes it. `pix` (on `mem`)
// is reused from page to page when the size matches (no fresh pages to fault in and zero).
bool draw_page(fz_context* ctx, fz_page* page, const Frame& fr, fz_pixmap*& pix, RasterBuffer& mem, Bitmap& out,
               std::string& err) {
  fz_device* dev = nullptr;
  bool ok = true;
  fz_var(dev);
  fz_var(ok);
  fz_try(ctx) {
    if (pix && (fz_pixmap_width(ctx, pix) != fr.width || fz_pixmap_height(ctx, pix) != fr.rows)) {
      fz_drop_pixmap(ctx, pix);
      pix = nullptr;
    }
    if (pix) {
      fz_clear_pixmap_with_value(ctx, pix, 255);  // the previous page's
    } else {
      pix = new_page_pixmap(ctx, fr.width, fr.rows, mem);
    }
    dev = fz_new_draw_device(ctx, fz_identity, pix);
    fz_run_page(ctx, page, dev, fr.ctm, nullptr);
    fz_close_device(ctx, dev);
  }
  fz_always(ctx) { fz_drop_device(ctx, dev); }
  fz_catch(ctx) {
    err = caught(ctx);
    ok = false;
  }
  if (ok) out = binarize(fz_pixmap_samples(ctx, pix), fr.width, fr.rows, fz_pixmap_stride(ctx, pix));
  return ok;
}

bool page_bounds(fz_context* ctx, fz_document* doc, int i, fz_page*& page, fz_rect& b, std::string& err) {
  bool ok = true;
  page = nullptr;
  fz_var(page);
  fz_var(ok);
  fz_try(ctx) {
    page = fz_load_page(ctx, doc, i);
    b = fz_bound_page(ctx, page);
  }
  fz_catch(ctx) {
    err = caught(ctx);
    ok = false;
  }
  return ok;
}

bool was_repaired(fz_context* ctx, fz_document* doc) {
  pdf_document* pdf = pdf_specifics(ctx, doc);
  return pdf && pdf_was_repaired(ctx, pdf);
}


int count_pages(fz_context* ctx, fz_document* doc, std::string& err) {
  int n = 0;
  fz_var(n);
  fz_try(ctx) { n = fz_count_pages(ctx, doc); }
  fz_catch(ctx) {
    err = caught(ctx);
    n = -1;
  }
  return n;
}

// Renders pages first, first + step, ... of an opened document into pages[] (errors[] on
// failure). `paper`: the page size to fit into.
void render_some(fz_context* ctx, fz_document* doc, const RenderOptions& opt, Paper paper, int first, int step,
                 Pages& pages, std::vector<std::string>& errors) {
  RasterBuffer mem;  // outlives pix, whose samples it holds
  fz_pixmap* pix = nullptr;
  for (int i = first; i < int(pages.size()); i += step) {
    fz_page* page = nullptr;
    fz_rect b;
    std::string err;
    if (!page_bounds(ctx, doc, i, page, b, err)) {
      fz_drop_page(ctx, page);
      errors[size_t(i)] = "page " + std::to_string(i + 1) + " cannot be read: " + err;
      break;
    }
    Frame fr = frame_for(b, opt, paper, paper != Paper::automatic);
    Page& p = pages[size_t(i)];
    p.yres = opt.ydpi();
    bool ok = draw_page(ctx, page, fr, pix, mem, p.bitmap, err);
    fz_drop_page(ctx, page);
    if (!ok) {
      errors[size_t(i)] = "page " + std::to_string(i + 1) + ": " + err;
      break;
    }
  }
  fz_drop_pixmap(ctx, pix);
}

Status check_count(int n, const std::string& err, const RenderOptions& opt, const std::string& label) {
  if (n < 0) return make_error(Errc::corrupt, label + ": cannot count pages: " + err);
  if (n == 0) return make_error(Errc::corrupt, label + ": the document has no pages");
  if (n > opt.limits.max_pages) {
    return make_error(Errc::limit, label + ": " + std::to_string(n) + " pages, over the limit of " +
                                       std::to_string(opt.limits.max_pages));
  }
  return fb::Unit{};
}

Result<Pages> collect(Pages pages, const std::vector<std::string>& errors, const std::string& label) {
  for (const auto& e : errors) {
    if (!e.empty()) return make_error(Errc::corrupt, label + ": " + e);
  }
  return pages;
}

// What MuPDF says (warnings, and errors it recovers from) while it draws a repaired document.
struct Complaints {
  std::vector<std::string> lines;
  static void add(void* self, const char* m) {  // (called from MuPDF's C: nothing may be thrown)
    auto* c = static_cast<Complaints*>(self);
    const std::string_view said = m && *m ? m : "unknown problem";
    // A stream whose /Length is wrong is read up to its `endstream` keyword, which MuPDF found:
    // its content is whole (the file's last stream has its endstream: streams_end).
    // "... repeated N times..." repeats the message before it.
    const bool repeat = said.starts_with("... repeated");
    if (repeat ? c->last_benign : said == "PDF stream Length incorrect" && c->streams_end) {
      c->last_benign = true;
      return;
    }
    c->last_benign = false;
    try {
      if (c->lines.size() < 64) c->lines.emplace_back(said);
    } catch (...) {
      c->lost = true;
    }
  }
  bool last_benign = false;
  // The file does not end inside a stream (ends_outside_a_stream): MuPDF also says "Length
  // incorrect" of a stream it read to the end of a file cut short, which is not whole.
  bool streams_end = false;
  bool lost = false;  // a message that could not be kept (out of memory): a problem all the same
  // The first, if any. (Heard only while the pages of an already repaired document are drawn,
  // in a round where MuPDF did not repair: render_repaired.)
  std::optional<std::string> first_problem() const {
    if (!lines.empty()) return lines.front();
    if (lost) return "MuPDF reported problems that could not be kept";
    return std::nullopt;
  }
};

// A repaired document's page tree, walked: the leaves found (in order), kids that are not in the
// file, and the first page whose /Contents is not in the file. A root that is itself a page (a
// tree some writers make for one page) is that one leaf. Each Pages node is visited once: it
// stays marked until the walk ends (`marked`, reserved before it), so a node met again — a loop,
// or a node shared by two parents, which a page tree never has — ends the walk as malformed, and
// a small file cannot make the walk take exponential time.
// Every object pointer kept is held (pdf_keep_obj) until the walk's Tree goes: a repair MuPDF
// starts meanwhile drops the objects it had cached, which must not leave these dangling.
constexpr size_t kMaxTreeNodes = 100000;
struct Tree {
  explicit Tree(fz_context* c) : ctx(c) {
    leaves.reserve(kMaxTreeNodes);  // (never reallocated inside fz_try)
    marked.reserve(kMaxTreeNodes);
  }
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;
  ~Tree() {
    for (pdf_obj* o : leaves) pdf_drop_obj(ctx, o);
    for (pdf_obj* o : marked) pdf_drop_obj(ctx, o);
  }
  fz_context* ctx;
  int missing = 0, no_content = 0, malformed = 0;
  bool root_is_page = false;
  std::vector<pdf_obj*> leaves;  // the references to the pages, as the tree holds them
  std::vector<pdf_obj*> marked;
  int pages() const { return int(leaves.size()); }
};

void add_leaf(fz_context* ctx, pdf_obj* kid, Tree& t) {
  if (t.leaves.size() >= kMaxTreeNodes) {
    t.malformed = 1;
    return;
  }
  t.leaves.push_back(pdf_keep_obj(ctx, kid));
  pdf_obj* contents = pdf_dict_get(ctx, kid, PDF_NAME(Contents));
  int streams = 0, parts = 1;
  if (pdf_is_array(ctx, contents)) {
    parts = pdf_array_len(ctx, contents);
    for (int k = 0; k < parts; ++k) streams += pdf_is_stream(ctx, pdf_array_get(ctx, contents, k)) ? 1 : 0;
  } else {
    streams = pdf_is_stream(ctx, contents) ? 1 : 0;
  }
  if (contents && streams != parts && t.no_content == 0) t.no_content = t.pages();
}

void walk_tree(fz_context* ctx, pdf_obj* node, int depth, Tree& t) {
  if (depth > 64 || t.marked.size() >= kMaxTreeNodes || pdf_mark_obj(ctx, node)) {
    t.malformed = 1;
    return;
  }
  t.marked.push_back(pdf_keep_obj(ctx, node));
  pdf_obj* kids = pdf_dict_get(ctx, node, PDF_NAME(Kids));
  const int count = pdf_array_len(ctx, kids);
  for (int i = 0; i < count && !t.malformed; ++i) {
    pdf_obj* kid = pdf_array_get(ctx, kids, i);
    if (!pdf_is_dict(ctx, kid)) {
      ++t.missing;
    } else if (pdf_is_array(ctx, pdf_dict_get(ctx, kid, PDF_NAME(Kids)))) {
      walk_tree(ctx, kid, depth + 1, t);
    } else {
      add_leaf(ctx, kid, t);
    }
  }
}

// The repaired document's page tree (Tree). "" when it was walked; else why not.
std::string walk(fz_context* ctx, fz_document* doc, Tree& t) {
  pdf_document* pdf = pdf_specifics(ctx, doc);
  if (!pdf) return "it is not read as a PDF";
  std::string err;
  fz_try(ctx) {
    pdf_obj* root = pdf_dict_getp(ctx, pdf_trailer(ctx, pdf), "Root/Pages");
    if (!pdf_is_dict(ctx, root)) {
      ++t.missing;
    } else if (!pdf_is_array(ctx, pdf_dict_get(ctx, root, PDF_NAME(Kids))) &&
               pdf_name_eq(ctx, pdf_dict_get(ctx, root, PDF_NAME(Type)), PDF_NAME(Page))) {
      t.root_is_page = true;
      add_leaf(ctx, pdf_dict_get(ctx, pdf_dict_get(ctx, pdf_trailer(ctx, pdf), PDF_NAME(Root)), PDF_NAME(Pages)), t);
    } else {
      walk_tree(ctx, root, 0, t);
    }
  }
  fz_catch(ctx) { err = caught(ctx); }
  for (pdf_obj* o : t.marked) pdf_unmark_obj(ctx, o);
  if (!err.empty()) return "its page tree cannot be read (" + err + ")";
  return "";
}

// Whether the walked tree is whole: every page it names in the file, with its content. "" when
// it is; else why not. (Its /Count is weighed by render_repaired.)
std::string incomplete(const Tree& t) {
  if (t.malformed) return "its page tree loops, is shared or is nested too deep";
  if (t.missing > 0) return "its page tree names " + std::to_string(t.missing) + " page(s) that are not in the file";
  if (t.leaves.empty()) return "its page tree names no page";
  if (t.no_content > 0) return "the content of page " + std::to_string(t.no_content) + " is not in the file";
  return "";
}

// Replaces the document's page tree (in memory) by one node holding the walked leaves, when its
// /Count is short of the pages it names (0, say) or its root is a page: MuPDF finds pages through
// /Count. What a page inherited from the nodes above it is copied into it first. "" or why not.
std::string rebuild(fz_context* ctx, fz_document* doc, const Tree& t) {
  pdf_document* pdf = pdf_specifics(ctx, doc);
  std::string err;
  fz_try(ctx) {
    pdf_obj* node = pdf_add_new_dict(ctx, pdf, 4);
    fz_try(ctx) {
      pdf_obj* kids = pdf_dict_put_array(ctx, node, PDF_NAME(Kids), int(t.leaves.size()));
      for (pdf_obj* leaf : t.leaves) {
        for (pdf_obj* key : {PDF_NAME(Resources), PDF_NAME(MediaBox), PDF_NAME(CropBox), PDF_NAME(Rotate)}) {
          if (pdf_dict_get(ctx, leaf, key)) continue;
          if (pdf_obj* v = pdf_dict_get_inheritable(ctx, leaf, key)) pdf_dict_put(ctx, leaf, key, v);
        }
        pdf_dict_put(ctx, leaf, PDF_NAME(Parent), node);
        pdf_array_push(ctx, kids, leaf);
      }
      pdf_dict_put(ctx, node, PDF_NAME(Type), PDF_NAME(Pages));
      pdf_dict_put_int(ctx, node, PDF_NAME(Count), int64_t(t.leaves.size()));
      pdf_dict_put(ctx, pdf_dict_get(ctx, pdf_trailer(ctx, pdf), PDF_NAME(Root)), PDF_NAME(Pages), node);
    }
    fz_always(ctx) { pdf_drop_obj(ctx, node); }
    fz_catch(ctx) { fz_rethrow(ctx); }
  }
  fz_catch(ctx) { err = caught(ctx); }
  return err;
}

// Whether the file's last stream has its `endstream` after it: a file cut off inside a stream
// has not (a cut is at the end; streams before the last one ended). A stream starts where PDF
// syntax puts one: `stream` after a dictionary's `>>` (white space between) and before an end
// of line — not the word in a title or in text.
bool ends_outside_a_stream(std::string_view bytes) {
  auto starts_stream = [&](size_t at) {
    const size_t end = at + 6;
    if (end >= bytes.size() || (bytes[end] != '\r' && bytes[end] != '\n')) return false;
    size_t k = at;
    while (k > 0 && (bytes[k - 1] == ' ' || bytes[k - 1] == '\r' || bytes[k - 1] == '\n' || bytes[k - 1] == '\t')) --k;
    return k >= 2 && bytes.substr(k - 2, 2) == ">>";
  };
  for (size_t at = bytes.rfind("stream"); at != std::string_view::npos;
       at = at ? bytes.rfind("stream", at - 1) : std::string_view::npos) {
    if (!starts_stream(at)) continue;
    return bytes.find("endstream", at + 6) != std::string_view::npos;
  }
  return true;  // no stream at all
}

// A copy of a PDF whose cross-reference table MuPDF cannot find, so that it rebuilds one from the
// objects in the file when it opens it: the `startxref` keywords of its last KiB are spoiled.
// "" when there is none to spoil (MuPDF repaired it already).
std::string without_xref(std::string_view bytes) {
  std::string copy(bytes);
  const size_t from = copy.size() > 1100 ? copy.size() - 1100 : 0;
  bool spoiled = false;
  for (size_t at = copy.find("startxref", from); at != std::string::npos; at = copy.find("startxref", at + 9)) {
    copy[at + 8] = 'X';
    spoiled = true;
  }
  return spoiled ? copy : std::string();
}

// Opens the PDF, authenticating with the empty password when it is only owner-protected.
fz_document* open_pdf(fz_context* ctx, std::string_view bytes, std::string& err, bool& needs_password) {
  fz_document* doc = open_doc(ctx, bytes, "application/pdf", err);
  bool locked = false;
  fz_var(locked);
  if (doc) {
    fz_try(ctx) { locked = fz_needs_password(ctx, doc) && !fz_authenticate_password(ctx, doc, ""); }
    fz_catch(ctx) { locked = true; }  // a broken /Encrypt dictionary: treat as locked
  }
  needs_password = locked;
  return doc;
}

// A PDF MuPDF could only read by rebuilding its cross-reference table (offsets shifted by a mail
// gateway, a table missing or cut off): faxed when the repaired document is whole (incomplete())
// and every page draws without MuPDF complaining; refused naming why otherwise. Drawn again here,
// on one thread with a fresh context, so that whatever MuPDF says about the pages is heard.
// `force`: MuPDF read the file without a repair but found no page in it (an object its table
// does not reach, a page tree whose /Count is 0, a root that is a page): it is made to repair.
Result<Pages> render_repaired(std::string_view bytes, const RenderOptions& opt, const std::string& label,
                              bool force) {
  const std::string damaged = label + ": the PDF is damaged (its cross-reference table is broken) and ";
  std::string spoiled;
  if (force) {
    spoiled = without_xref(bytes);
    if (spoiled.empty()) return make_error(Errc::corrupt, damaged + "cannot be repaired");
    bytes = spoiled;
  }
  Complaints heard;  // (outlives the context, which hands over its last warnings as it goes)
  heard.streams_end = ends_outside_a_stream(bytes);
  Ctx c;
  fz_context* ctx = c.get();
  if (!ctx) return make_error(Errc::limit, label + ": out of memory");
  fz_set_warning_callback(ctx, Complaints::add, &heard);
  fz_set_error_callback(ctx, Complaints::add, &heard);
  std::string err;
  bool locked = false;
  DocHolder d{ctx, open_pdf(ctx, bytes, err, locked)};
  if (!d.doc) return make_error(Errc::corrupt, damaged + "cannot be repaired: " + err);
  if (locked) return make_error(Errc::corrupt, label + ": the PDF is encrypted and needs a password");
  // MuPDF may repair when it opens the file, or later, when it first needs an object that is not
  // at its offset: while the tree is walked or a page drawn. Whatever was counted, walked or drawn
  // before that described the old table: it is all done again on the repaired one (MuPDF repairs
  // a document once, so a second round is the last).
  for (int round = 0; round < 3; ++round) {
    const bool before = was_repaired(ctx, d.doc);
    int n = count_pages(ctx, d.doc, err);
    Tree t(ctx);
    const std::string unread = walk(ctx, d.doc, t);
    if (was_repaired(ctx, d.doc) != before) continue;
    if (!unread.empty()) return make_error(Errc::corrupt, damaged + "its repair is incomplete: " + unread);
    if (const std::string why = incomplete(t); !why.empty()) {
      return make_error(Errc::corrupt, damaged + "its repair is incomplete: " + why);
    }
    if (n > t.pages()) {  // (pages the tree lost: what is left is not the whole document)
      return make_error(Errc::corrupt, damaged + "its repair is incomplete: its page tree says " + std::to_string(n) +
                                           " page(s) but " + std::to_string(t.pages()) + " were found");
    }
    std::string cause = force ? "MuPDF found no page through its cross-reference table" : "its cross-reference table was broken";
    if (n < t.pages() || t.root_is_page) {
      const std::string e = rebuild(ctx, d.doc, t);
      if (was_repaired(ctx, d.doc) != before) continue;  // (the tree it rebuilt is gone with the old table)
      if (!e.empty()) return make_error(Errc::corrupt, damaged + "its page tree cannot be rebuilt: " + e);
      cause += t.root_is_page ? ", and its page tree was a page"
               : n < 0        ? ", and its page tree could not be counted (" + err + ") but held " + std::to_string(t.pages())
                              : ", and its page tree said " + std::to_string(n) + " page(s) but held " +
                                    std::to_string(t.pages());
      err.clear();
      n = count_pages(ctx, d.doc, err);
      if (n != t.pages()) return make_error(Errc::corrupt, damaged + "its page tree cannot be rebuilt: " + err);
    }
    if (auto s = check_count(n, err, opt, label); !s) return s.error();
    fz_flush_warnings(ctx);  // (MuPDF holds a warning back to count its repeats)
    heard.lines.clear();
    Pages pages(static_cast<size_t>(n));
    std::vector<std::string> errors(static_cast<size_t>(n));
    render_some(ctx, d.doc, opt, opt.paper, 0, 1, pages, errors);
    fz_flush_warnings(ctx);
    if (was_repaired(ctx, d.doc) != before) continue;
    for (const auto& e : errors) {
      if (!e.empty()) return make_error(Errc::corrupt, damaged + "after its repair, " + e);
    }
    if (auto problem = heard.first_problem()) {
      return make_error(Errc::corrupt, damaged + "after its repair, its pages do not draw cleanly (" + *problem + ")");
    }
    if (was_repaired(ctx, d.doc)) {  // (else this context read it whole: nothing to tell)
      pages.front().note = "the PDF was damaged (" + cause + "); it was repaired and all " + std::to_string(n) +
                           " page(s) drew without error";
    }
    return pages;
  }
  return make_error(Errc::corrupt, damaged + "its repair does not settle");
}

}  // namespace

void keep_warm_context() { g_keep_warm = true; }

Result<Pages> render_pdf(std::string_view bytes, const RenderOptions& opt, const std::string& label) {
  Ctx c(true);
  fz_context* ctx = c.get();
  if (!ctx) return make_error(Errc::limit, label + ": out of memory");
  std::string err;
  bool locked = false;
  DocHolder d{ctx, open_pdf(ctx, bytes, err, locked)};
  if (!d.doc) return make_error(Errc::corrupt, label + ": not a readable PDF: " + err);
  if (locked) return make_error(Errc::corrupt, label + ": the PDF is encrypted and needs a password");
  int n = count_pages(ctx, d.doc, err);
  if (n >= 0 && was_repaired(ctx, d.doc)) return render_repaired(bytes, opt, label, false);
  if (n <= 0) {  // (when it cannot be repaired either, the first reason stands)
    if (auto repaired = render_repaired(bytes, opt, label, true)) return repaired;
  }
  if (auto s = check_count(n, err, opt, label); !s) return s.error();
  Pages pages(static_cast<size_t>(n));
  std::vector<std::string> errors(static_cast<size_t>(n));
  std::atomic<bool> repaired = false;  // MuPDF may repair lazily, when a page is loaded
  // Every worker has its own MuPDF context and its own parse of the document: nothing MuPDF
  // holds is shared between threads, so no locking is needed.
  run_workers(worker_count(size_t(n)), [&](unsigned w, unsigned workers) {
    if (w == 0) {
      render_some(ctx, d.doc, opt, opt.paper, 0, int(workers), pages, errors);
      return;
    }
    Ctx wc;
    std::string werr;
    bool wlocked = false;
    DocHolder wd{wc.get(), wc.get() ? open_pdf(wc.get(), bytes, werr, wlocked) : nullptr};
    if (!wd.doc || wlocked) {
      errors[w] = "cannot be opened again: " + werr;
      return;
    }
    render_some(wc.get(), wd.doc, opt, opt.paper, int(w), int(workers), pages, errors);
    if (was_repaired(wc.get(), wd.doc)) repaired = true;
  });
  if (repaired || was_repaired(ctx, d.doc)) return render_repaired(bytes, opt, label, false);
  return collect(std::move(pages), errors, label);
}
std::string neutralize_html_resources(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 64);
  auto lower = [&](size_t i) { return char(std::tolower(static_cast<unsigned char>(in[i]))); };
  auto ieq = [&](size_t i, std::string_view w) {
    if (i + w.size() > in.size()) return false;
    for (size_t k = 0; k < w.size(); ++k) {
      if (lower(i + k) != w[k]) return false;
    }
    return true;
  };
  auto skip_space = [&](size_t i) {
    while (i < in.size() && std::isspace(static_cast<unsigned char>(in[i]))) ++i;
    return i;
  };
  // After "=" or "(": optional quotes and spaces, then "data:" keeps the reference.
  auto data_uri_at = [&](size_t i) {
    while (i < in.size() && (in[i] == '"' || in[i] == '\'' || std::isspace(static_cast<unsigned char>(in[i])))) ++i;
    return ieq(i, "data:");
  };
  // An attribute name (src, href, srcset, ...) starting at i inside a tag, followed by '='.
  auto ref_attr = [&](size_t i) -> bool {
    if (i > 0 && (std::isalnum(static_cast<unsigned char>(in[i - 1])) || in[i - 1] == '-')) return false;
    for (std::string_view a : {"srcset", "src", "href", "background", "poster", "data"}) {
      if (!ieq(i, a)) continue;
      size_t j = skip_space(i + a.size());
      if (j < in.size() && in[j] == '=') return !data_uri_at(j + 1);
    }
    return false;
  };
  bool in_tag = false;
  char quote = 0;  // inside a quoted attribute value: '>' does not end the tag
  for (size_t i = 0; i < in.size(); ++i) {
    char ch = in[i];
    if (in_tag && quote) {
      if (ch == quote) quote = 0;
    } else if (in_tag && (ch == '"' || ch == '\'')) {
      quote = ch;
    } else if (ch == '<') {
      in_tag = true;
    } else if (ch == '>') {
      in_tag = false;
    }
    if (in_tag && !quote && ref_attr(i)) {
      out += "x-blocked-";
    } else if (ieq(i, "url") && in.size() > skip_space(i + 3) && in[skip_space(i + 3)] == '(' &&
               !data_uri_at(skip_space(i + 3) + 1)) {
      out += "blocked-";
    } else if (ieq(i, "@import")) {
      out += "@blocked-import";
      i += 6;
      continue;
    }
    out += ch;
  }
  return out;
}

namespace {

bool layout(fz_context* ctx, fz_document* doc, Paper paper, std::string& err) {
  bool ok = true;
  fz_var(ok);
  fz_try(ctx) {
    fz_layout_document(ctx, doc, float(kFaxWidthIn * 72.0), float(paper_length_in(paper) * 72.0), 11);
  }
  fz_catch(ctx) {
    err = caught(ctx);
    ok = false;
  }
  return ok;
}

}  // namespace

Result<Pages> render_html(std::string_view bytes, const RenderOptions& opt, const std::string& label) {
  Ctx c(true);
  fz_context* ctx = c.get();
  if (!ctx) return make_error(Errc::limit, label + ": out of memory");
  std::string html = neutralize_html_resources(bytes);
  fz_try(ctx) { fz_set_user_css(ctx, "@page { margin: 0.6in 0.7in } body { font-size: 11pt }"); }
  fz_catch(ctx) {}
  std::string err;
  DocHolder d{ctx, open_doc(ctx, html, "text/html", err)};
  if (!d.doc) return make_error(Errc::corrupt, label + ": not readable as HTML: " + err);
  std::string why;
  if (!layout(ctx, d.doc, opt.text_page(), why)) return make_error(Errc::corrupt, label + ": HTML layout failed: " + why);
  std::string cerr;
  int n = count_pages(ctx, d.doc, cerr);
  if (auto s = check_count(n, cerr, opt, label); !s) return s.error();
  Pages pages(static_cast<size_t>(n));
  std::vector<std::string> errors(static_cast<size_t>(n));
  render_some(ctx, d.doc, opt, opt.text_page(), 0, 1, pages, errors);  // reflowed: one thread
  return collect(std::move(pages), errors, label);
}

Bitmap resample_rows(const Bitmap& in, int from_ydpi, int to_ydpi) {
  if (from_ydpi == to_ydpi || from_ydpi <= 0) return in;
  int rows = std::clamp(int(std::lround(double(in.rows) * to_ydpi / from_ydpi)), 1, kMaxRows);
  Bitmap out(in.width, rows);
  for (int y = 0; y < rows; ++y) {
    // Source rows [s0, s1) map onto output row y; OR them so no black row is lost.
    int s0 = int(double(y) * from_ydpi / to_ydpi);
    int s1 = std::max(s0 + 1, int(double(y + 1) * from_ydpi / to_ydpi));
    s0 = std::min(s0, in.rows - 1);
    s1 = std::min(s1, in.rows);
    uint8_t* dst = out.row(y);
    for (int s = s0; s < s1; ++s) {
      const uint8_t* src = in.row(s);
      for (int k = 0; k < in.stride; ++k) dst[k] |= src[k];
    }
  }
  return out;
}

namespace {

bool fax_like_res(int xres, int yres) {
  return xres >= 196 && xres <= 208 && (std::abs(yres - 98) <= 3 || std::abs(yres - 196) <= 4 ||
                                        std::abs(yres - 391) <= 8);
}

int nearest_fax_ydpi(int yres) {
  if (std::abs(yres - 98) <= 3) return 98;
  if (std::abs(yres - 196) <= 4) return 196;
  return 391;
}

// Draws an image scaled onto a new fax page. xres/yres 0 = unknown (fit to the page width).
Result<Page> draw_image(fz_context* ctx, fz_image* img, int w, int h, double xres, double yres,
                        const RenderOptions& opt, const std::string& label) {
  bool known = xres >= 50 && yres >= 50 && xres <= 4800 && yres <= 4800;
  double w_in = known ? w / xres : w / 204.0;
  double h_in = known ? h / yres : h / 204.0;
  bool fits = w_in <= kFaxWidthIn + 1e-6;
  bool fill = !(known && xres >= 100 && fits);
  const int ydpi = opt.ydpi();
  Placement pl = place(w_in, h_in, opt.paper, ydpi, fill);
  double dw = w_in * pl.scale * 204.0, dh = h_in * pl.scale * ydpi;
  double ox = (kFaxWidth - dw) / 2.0;
  fz_matrix ctm = fz_make_matrix(float(dw), 0, 0, float(dh), float(ox), 0);
  RasterBuffer mem;  // outlives pix, whose samples it holds
  fz_pixmap* pix = nullptr;
  fz_device* dev = nullptr;
  std::string err;
  bool ok = true;
  fz_var(pix);
  fz_var(dev);
  fz_var(ok);
  fz_try(ctx) {
    pix = new_page_pixmap(ctx, kFaxWidth, pl.rows, mem);
    dev = fz_new_draw_device(ctx, fz_identity, pix);
    fz_fill_image(ctx, dev, img, ctm, 1.0f, fz_default_color_params);
    fz_close_device(ctx, dev);
  }
  fz_always(ctx) { fz_drop_device(ctx, dev); }
  fz_catch(ctx) {
    err = caught(ctx);
    ok = false;
  }
  if (!ok) {
    fz_drop_pixmap(ctx, pix);
    return make_error(Errc::corrupt, label + ": the image cannot be decoded: " + err);
  }
  Page p;
  p.yres = ydpi;
  p.bitmap = binarize(fz_pixmap_samples(ctx, pix), kFaxWidth, pl.rows, fz_pixmap_stride(ctx, pix));
  fz_drop_pixmap(ctx, pix);
  return p;
}

// An image exactly 1728 wide whose pixels are all black or white: every pixel kept. Any other
// image of that width is scaled like the rest.
Result<Page> keep_pixels(fz_context* ctx, fz_image* img, const RenderOptions& opt, const std::string& label) {
  fz_pixmap* pix = nullptr;
  std::string err;
  fz_var(pix);
  fz_try(ctx) { pix = fz_get_pixmap_from_image(ctx, img, nullptr, nullptr, nullptr, nullptr); }
  fz_catch(ctx) {
    err = caught(ctx);
    pix = nullptr;
  }
  if (!pix) return make_error(Errc::corrupt, label + ": the image cannot be decoded: " + err);
  int w = fz_pixmap_width(ctx, pix), h = fz_pixmap_height(ctx, pix), n = fz_pixmap_components(ctx, pix);
  if (w != kFaxWidth || h > kMaxRows || n < 1) {
    fz_drop_pixmap(ctx, pix);
    return make_error(Errc::corrupt, label + ": unexpected decoded image size");
  }
  const unsigned char* s = fz_pixmap_samples(ctx, pix);
  int stride = int(fz_pixmap_stride(ctx, pix));
  Bitmap bm(w, h);
  bool bilevel = n == 1;  // grey without alpha, every sample 0 or 255 (PBM, 1-bit PNG/TIFF)
  for (int y = 0; y < h && bilevel; ++y) {
    const unsigned char* row = s + size_t(y) * stride;
    for (int x = 0; x < w; ++x) {
      if (row[x] == 0) bm.set(x, y);
      else if (row[x] != 255) bilevel = false;
    }
  }
  if (!bilevel) {
    fz_drop_pixmap(ctx, pix);
    return draw_image(ctx, img, img->w, img->h, img->xres, img->yres, opt, label);
  }
  fz_drop_pixmap(ctx, pix);
  Page p;
  p.yres = opt.ydpi();
  int own = fax_like_res(img->xres, img->yres) ? nearest_fax_ydpi(img->yres) : p.yres;
  p.bitmap = resample_rows(bm, own, p.yres);
  return p;
}

}  // namespace

Result<Pages> render_image(std::string_view bytes, const RenderOptions& opt, const std::string& label) {
  Ctx c(true);
  fz_context* ctx = c.get();
  if (!ctx) return make_error(Errc::limit, label + ": out of memory");
  fz_buffer* buf = nullptr;
  fz_image* img = nullptr;
  std::string err;
  fz_var(buf);
  fz_var(img);
  fz_try(ctx) {
    buf = fz_new_buffer_from_shared_data(ctx, reinterpret_cast<const unsigned char*>(bytes.data()),
                                         bytes.size());
    img = fz_new_image_from_buffer(ctx, buf);
  }
  fz_always(ctx) { fz_drop_buffer(ctx, buf); }
  fz_catch(ctx) {
    err = caught(ctx);
    img = nullptr;
  }
  if (!img) return make_error(Errc::corrupt, label + ": not a readable image: " + err);
  struct Drop {
    fz_context* c;
    fz_image* i;
    ~Drop() { fz_drop_image(c, i); }
  } drop{ctx, img};
  if (img->w <= 0 || img->h <= 0) return make_error(Errc::corrupt, label + ": the image has no pixels");
  if (int64_t(img->w) * img->h > opt.limits.max_image_pixels) {
    return make_error(Errc::limit, label + ": " + std::to_string(img->w) + "x" + std::to_string(img->h) +
                                       " pixels, over the limit of " + std::to_string(opt.limits.max_image_pixels));
  }
  Result<Page> page = img->w == kFaxWidth && img->h <= kMaxRows ? keep_pixels(ctx, img, opt, label)
                                                                 : draw_image(ctx, img, img->w, img->h, img->xres,
                                                                              img->yres, opt, label);
  if (!page) return page.error();
  Pages pages;
  pages.push_back(std::move(page.value()));
  return pages;
}

Result<Page> place_grey(const GreyImage& g, const RenderOptions& opt, const std::string& label) {
  Ctx c(true);
  fz_context* ctx = c.get();
  if (!ctx) return make_error(Errc::limit, label + ": out of memory");
  fz_pixmap* pix = nullptr;
  fz_image* img = nullptr;
  std::string err;
  fz_var(pix);
  fz_var(img);
  fz_try(ctx) {
    pix = fz_new_pixmap_with_data(ctx, fz_device_gray(ctx), g.width, g.height, nullptr, 0, g.width,
                                  const_cast<unsigned char*>(g.px.data()));
    img = fz_new_image_from_pixmap(ctx, pix, nullptr);
  }
  fz_always(ctx) { fz_drop_pixmap(ctx, pix); }
  fz_catch(ctx) {
    err = caught(ctx);
    img = nullptr;
  }
  if (!img) return make_error(Errc::limit, label + ": " + err);
  Result<Page> r = draw_image(ctx, img, g.width, g.height, g.xres, g.yres, opt, label);
  fz_drop_image(ctx, img);
  return r;
}

}  // namespace imaging
