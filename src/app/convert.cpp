// convert.cpp — the `faxbridge convert` pipeline (see convert.hpp).
#include "app/convert.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imaging/cover.hpp"
#include "imaging/document.hpp"
#include "imaging/enriched.hpp"
#include "imaging/header_line.hpp"
#include "imaging/office.hpp"
#include "imaging/pdf_writer.hpp"
#include "imaging/text_render.hpp"
#include "mail/fax_parts.hpp"

namespace app {
namespace fs = std::filesystem;
using imaging::DocType;
using imaging::Errc;

namespace {

std::string ext_of(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  for (auto& c : e) c = char(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

SandboxOutcome fail(const imaging::Error& e) { return {int(e.code), e.message}; }

imaging::Result<std::string> read_file(const std::string& path, int64_t max_bytes) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return imaging::make_error(Errc::usage, path + ": " + ec.message());
  if (int64_t(size) > max_bytes) {
    return imaging::make_error(Errc::limit, path + ": " + std::to_string(size) + " bytes, over the limit of " +
                                                std::to_string(max_bytes));
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return imaging::make_error(Errc::usage, path + ": cannot be read");
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

DocType doc_type_of(mail::FaxPartKind k) {
  switch (k) {
    case mail::FaxPartKind::text_plain: return DocType::text;
    case mail::FaxPartKind::text_enriched: return DocType::enriched;
    case mail::FaxPartKind::html: return DocType::html;
    case mail::FaxPartKind::pdf: return DocType::pdf;
    case mail::FaxPartKind::image: return DocType::image;
    case mail::FaxPartKind::tiff: return DocType::tiff;
    case mail::FaxPartKind::office: return DocType::office;
  }
  return DocType::text;
}

// A mail's pages. With a cover page wanted, the first part, when it is the mail's text, is kept
// apart as the cover's comment (and its pages, should it not fit on the cover).
struct RenderedMail {
  imaging::Pages pages;
  mail::MailHeader header;
  bool cover = false;
  std::optional<imaging::text::Document> comment;
  imaging::Pages comment_pages;
};

imaging::Result<RenderedMail> render_mail(const std::string& bytes, const imaging::RenderOptions& opt,
                                          const std::string& label, ConvertRequest::Cover mode) {
  mail::SelectOptions so;
  so.office = imaging::office_available();
  so.max_bytes = size_t(opt.limits.max_input_bytes);
  auto parts = mail::select_fax_parts(bytes, so);
  if (!parts) {
    const auto& e = parts.error();
    Errc code = e.code == mail::PartsErrc::malformed ? Errc::corrupt
                : e.code == mail::PartsErrc::limit   ? Errc::limit
                                                     : Errc::unsupported;
    return imaging::make_error(code, label + ": " + e.message);
  }
  RenderedMail out;
  out.header = parts->header;
  out.cover = mode != ConvertRequest::Cover::never &&
              parts->header.cover.value_or(mode == ConvertRequest::Cover::always);
  for (size_t i = 0; i < parts->parts.size(); ++i) {
    const auto& part = parts->parts[i];
    imaging::RenderOptions po = opt;
    if (!part.charset.empty()) po.charset = part.charset;
    const bool text = part.kind == mail::FaxPartKind::text_plain || part.kind == mail::FaxPartKind::text_enriched;
    if (out.cover && i == 0 && text && part.filename.empty()) {  // the mail's body, not an attached text
      auto utf8 = imaging::to_utf8(part.data, po.charset, label + " " + part.label);
      if (!utf8) return utf8.error();
      out.comment = part.kind == mail::FaxPartKind::text_plain ? imaging::plain_text_document(*utf8)
                                                              : imaging::enriched::parse(*utf8);
    }
    auto pages = imaging::render_document(part.data, doc_type_of(part.kind), po, label + " " + part.label,
                                          part.filename);
    if (!pages) return pages.error();
    if (!pages->empty() && !pages->front().note.empty()) pages->front().note = part.label + ": " + pages->front().note;
    auto& into = out.comment && i == 0 ? out.comment_pages : out.pages;
    for (auto& p : *pages) into.push_back(std::move(p));
  }
  return out;
}

imaging::Result<imaging::Pages> render_input(const std::string& path, const ConvertRequest& req,
                                             std::optional<RenderedMail>& first_mail) {
  auto bytes = read_file(path, req.render.limits.max_input_bytes);
  if (!bytes) return bytes.error();
  auto type = req.type.empty() ? imaging::detect_type(path, *bytes, path) : imaging::type_from_mime(req.type, path);
  if (!type) return type.error();
  if (*type != DocType::eml) {
    auto pages = imaging::render_document(*bytes, *type, req.render, path, path);
    if (pages && !pages->empty() && !pages->front().note.empty()) {
      pages->front().note = fs::path(path).filename().string() + ": " + pages->front().note;
    }
    return pages;
  }
  auto m = render_mail(*bytes, req.render, path, first_mail ? ConvertRequest::Cover::never : req.cover);
  if (!m) return m.error();
  imaging::Pages pages = std::move(m->pages);
  if (!first_mail) first_mail = std::move(*m);
  return pages;
}

// Puts the cover page first (cover.hpp); the comment's pages go where the comment was when it
// does not fit on the cover.
imaging::Result<bool> add_cover(imaging::Pages& pages, RenderedMail* mail, size_t comment_at,
                                const ConvertRequest& req) {
  imaging::CoverInfo ci;
  if (mail) {
    ci.to = mail->header.to;
    ci.from = mail->header.from;
    ci.subject = mail->header.subject;
    ci.date = mail->header.date;
    ci.comment = mail->comment;
  }
  ci.numbers = req.cover_to;
  ci.pages = int(pages.size()) + 1;
  auto page = imaging::render_cover(ci, req.render);
  if (!page) return page.error();
  if (!*page) {
    if (!mail || !ci.comment) return imaging::make_error(Errc::limit, "the cover page's fields do not fit on one page");
    ci.comment.reset();
    ci.comment_follows = true;
    pages.insert(pages.begin() + std::ptrdiff_t(comment_at), std::make_move_iterator(mail->comment_pages.begin()),
                 std::make_move_iterator(mail->comment_pages.end()));
    ci.pages = int(pages.size()) + 1;
    page = imaging::render_cover(ci, req.render);
    if (!page) return page.error();
    if (!*page) return imaging::make_error(Errc::limit, "the cover page's fields do not fit on one page");
  }
  pages.insert(pages.begin(), std::move(**page));
  return true;
}

}  // namespace

SandboxOutcome convert_in_jail(const ConvertRequest& req) {
  // Not dumpable: run by a non-root daemon, this process shares the jail's user, and its
  // working directory (the daemon's data) must not be reachable through /proc/<pid>/cwd.
  ::prctl(PR_SET_DUMPABLE, 0);
  // Run by the daemon (it names directories to hide): gone with it, so a serve killed and
  // started again never finds an old conversion still writing into its spool.
  if (!req.jail_hide.empty()) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  SandboxJail jail;
  try {
    jail = make_jail();
  } catch (const std::exception& e) {
    return {5, e.what()};
  }
  struct Cleanup {
    const SandboxJail& j;
    ~Cleanup() { remove_jail(j); }
  } cleanup{jail};
  for (const auto& h : req.jail_hide) {
    if (!h.empty() && h[0] == '/') jail.hide.push_back(h);
  }
  ConvertRequest inside = req;
  std::vector<std::pair<std::string, std::string>> names;  // jail path -> the caller's
  for (size_t i = 0; i < req.inputs.size(); ++i) {
    const fs::path dir = fs::path(jail.dir) / "in" / std::to_string(i);
    std::error_code ec;
    fs::create_directories(dir, ec);
    const fs::path copy = dir / fs::path(req.inputs[i]).filename();
    if (!ec) fs::copy_file(req.inputs[i], copy, ec);
    if (ec) return {2, req.inputs[i] + ": cannot be read (" + ec.message() + ")"};
    if (::geteuid() == 0) {
      (void)::chown(dir.parent_path().c_str(), jail.uid, jail.gid);
      (void)::chown(dir.c_str(), jail.uid, jail.gid);
      (void)::chown(copy.c_str(), jail.uid, jail.gid);
    }
    inside.inputs[i] = copy.string();
    names.emplace_back(copy.string(), req.inputs[i]);
  }
  inside.output = (fs::path(jail.dir) / ("out" + ext_of(req.output))).string();
  names.emplace_back(inside.output, req.output);
  SandboxOutcome out = run_sandboxed([&] { return run_convert(inside); }, req.limits, jail);
  for (const auto& [from, to] : names) {
    for (size_t at = out.message.find(from); at != std::string::npos; at = out.message.find(from, at + to.size())) {
      out.message.replace(at, from.size(), to);
    }
  }
  if (out.code != 0) return out;
  // What the jail left is not trusted: a link in its place would have us (root) copy any file
  // we can read. Only a regular file of the jail user's, with no other name, is taken.
  int in = ::open(inside.output.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  struct stat st {};
  if (in < 0 || ::fstat(in, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
      (::geteuid() == 0 && st.st_uid != jail.uid)) {
    if (in >= 0) ::close(in);
    return {4, req.output + ": the renderer left no regular output file"};
  }
  // Into place atomically: a temporary beside the output, then a rename.
  const std::string tmp = req.output + ".jail-" + std::to_string(::getpid());
  int outfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
  bool ok = outfd >= 0;
  char buf[65536];
  while (ok) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    ok = ::write(outfd, buf, size_t(n)) == n;
  }
  ::close(in);
  if (outfd >= 0 && ::close(outfd) != 0) ok = false;
  std::error_code ec;
  if (ok) fs::rename(tmp, req.output, ec);
  if (!ok || ec) {
    fs::remove(tmp, ec);
    return {2, req.output + ": cannot be written"};
  }
  return out;
}

SandboxOutcome check_convert(const ConvertRequest& req) {
  std::string oe = ext_of(req.output);
  if (oe != ".tif" && oe != ".tiff" && oe != ".pdf") {
    return {2, req.output + ": the output must be a .tif or a .pdf file"};
  }
  if (req.inputs.empty()) return {2, "no input documents"};
  for (const auto& in : req.inputs) {
    std::error_code ec;
    if (!fs::exists(in, ec)) return {2, in + ": no such file"};
    if (fs::is_directory(in, ec)) return {2, in + ": is a directory, not a document"};
    if (::access(in.c_str(), R_OK) != 0) return {2, in + ": cannot be read (permission denied)"};
  }
  fs::path dir = fs::path(req.output).has_parent_path() ? fs::path(req.output).parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {2, req.output + ": the directory " + dir.string() + " does not exist"};
  if (::access(dir.c_str(), W_OK) != 0) return {2, req.output + ": cannot write to " + dir.string()};
  if (!req.type.empty()) {
    auto t = imaging::type_from_mime(req.type, "--type");
    if (!t) return fail(t.error());
  }
  return {0, ""};
}

SandboxOutcome run_convert(const ConvertRequest& req) {
  imaging::Pages pages;
  std::optional<RenderedMail> mail;
  size_t comment_at = 0;
  for (const auto& in : req.inputs) {
    const bool had_mail = mail.has_value();
    const size_t before = pages.size();
    auto r = render_input(in, req, mail);
    if (!r) return fail(r.error());
    if (!had_mail && mail) comment_at = before;
    for (auto& p : *r) pages.push_back(std::move(p));
    if (int(pages.size()) > req.render.limits.max_pages) {
      return {5, "the documents make more than " + std::to_string(req.render.limits.max_pages) + " pages"};
    }
  }
  const bool cover = mail ? mail->cover : req.cover == ConvertRequest::Cover::always;
  if (cover) {
    if (auto c = add_cover(pages, mail ? &*mail : nullptr, comment_at, req); !c) return fail(c.error());
  } else if (mail) {
    pages.insert(pages.begin() + std::ptrdiff_t(comment_at), std::make_move_iterator(mail->comment_pages.begin()),
                 std::make_move_iterator(mail->comment_pages.end()));
  }
  if (int(pages.size()) > req.render.limits.max_pages) {
    return {5, "the documents make more than " + std::to_string(req.render.limits.max_pages) + " pages"};
  }
  if (req.header) imaging::add_header_lines(pages, *req.header, std::time(nullptr));
  if (ext_of(req.output) == ".pdf") {
    std::string tmp = req.output + ".pages-" + std::to_string(::getpid()) + ".tif";
    imaging::TiffWriteOptions o;
    o.coding = imaging::Coding::mmr;
    auto s = imaging::write_tiff_f(tmp, pages, o);
    if (s) s = imaging::write_pdf_from_tiff(tmp, req.output);
    std::error_code ec;
    fs::remove(tmp, ec);
    if (!s) return fail(s.error());
    return {0, ""};
  }
  imaging::TiffWriteOptions o;
  o.coding = req.coding;
  o.durable = req.sync_output;
  if (auto s = imaging::write_tiff_f(req.output, pages, o); !s) return fail(s.error());
  return {0, ""};
}

}  // namespace app
