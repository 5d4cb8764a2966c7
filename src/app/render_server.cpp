// render_server.cpp — the warm render server (see render_server.hpp).
#include "app/render_server.hpp"

#include "core/log.hpp"
#include "core/printable.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <malloc.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/convert.hpp"
#include "app/sandbox.hpp"
#include "gateway/render_protocol.hpp"
#include "imaging/mupdf_render.hpp"
#include "imaging/page.hpp"
#include "imaging/paper.hpp"
#include "imaging/raster_buffer.hpp"

namespace app {
namespace fs = std::filesystem;

namespace {

// The warm parent's big buffers (a page is megabytes) come from mmap and go back when freed: its
// heap stays small, and every document's process, forked from it, copies less (a document's
// process then takes them from a heap of its own, faulted in ahead: fault_in_ahead).
constexpr int kMmapThreshold = 512 * 1024;

// A document's process, while it waits for its request, faults in the memory a page's rendering
// writes (fault_in_ahead): this much heap room, and one page raster.
constexpr size_t kHeapRoom = size_t(4) << 20;
constexpr size_t kSpareRaster = size_t(4) << 20;  // a fine A4 or Letter page in grey

// A line for the daemon's log, in its [log] format (inherited: FAXBRIDGE_LOG_FORMAT). Written
// directly (one write), not through the logger: this process is jailed and forked per document.
void say(const std::string& line) {
  static const fb::LogFormat format = fb::log_format_from_env();
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  std::string out = format == fb::LogFormat::text
                        ? "faxbridge render-server: " + fb::printable(line, fb::kMaxLogLine)
                        : fb::format_log_line(format, ms, fb::LogLevel::info, "render-server", line, std::nullopt);
  out += "\n";
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

// Copies between descriptors in the kernel (sendfile): no byte of a sender's document passes
// through a buffer of the warm parent, which every later document's process is forked from.
bool copy_all(int from, int to) {
  struct stat st {};
  if (::fstat(from, &st) != 0) return false;
  off_t at = 0;
  while (at < st.st_size) {
    ssize_t n = ::sendfile(to, from, &at, size_t(st.st_size - at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
  }
  return true;
}

bool copy_fd_to_file(int from, const std::string& path) {
  int to = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (to < 0) return false;
  bool ok = copy_all(from, to);
  if (::close(to) != 0) ok = false;
  return ok;
}

// The pages a document's process left, taken only as a regular file of the jail user's with one
// name (a link there would have us copy any file we can read), into the daemon's descriptor.
bool take_output(const std::string& path, const SandboxJail& jail, int to) {
  int from = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  struct stat st {};
  bool ok = from >= 0 && ::fstat(from, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
            (::geteuid() != 0 || st.st_uid == jail.uid);
  ok = ok && ::ftruncate(to, 0) == 0 && ::lseek(to, 0, SEEK_SET) == 0 && copy_all(from, to);
  if (from >= 0) ::close(from);
  return ok;
}

void wipe(std::string& s) {
  ::explicit_bzero(s.data(), s.size());
  s.clear();
}

// A worker's outcome as the daemon may carry it: a convert exit code, one line of at most
// kMaxMessage bytes (a hostile worker writes its own report).
constexpr size_t kMaxMessage = 1000;

void tidy(SandboxOutcome& out) {
  if (out.code != 0 && (out.code < 2 || out.code > 5)) out.code = 4;
  for (char& c : out.message) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (out.message.size() > kMaxMessage) out.message.resize(kMaxMessage);
}

// A short mail of the server's own (text, and a PDF page) through the whole pipeline.
void warm_up(const SandboxJail& jail) {
  const std::string dir = jail.dir + "/warm";
  std::error_code ec;
  fs::create_directories(dir, ec);
  // A one-page PDF with line art and text in the standard fonts PDF writers most often leave
  // unembedded (Helvetica, Helvetica-Bold, Times, Courier: loaded once, in the kept MuPDF
  // context), its cross-reference table exact.
  const std::string content =
      "BT /F1 20 Tf 60 780 Td (Warm up 0123456789) Tj ET BT /F2 10 Tf 60 750 Td (The quick brown fox) Tj ET "
      "BT /F3 12 Tf 60 730 Td (Jumps over the lazy dog) Tj ET BT /F4 10 Tf 60 710 Td (0123456789) Tj ET "
      "0.6 g 400 40 120 60 re f 0 G 60 100 m 535 100 l S";
  const std::string objects[] = {
      "<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>",
      "<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Resources<</Font<</F1 4 0 R/F2 5 0 R/F3 7 0 R/F4 8 0 R>>>>"
      "/Contents 6 0 R>>",
      "<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>", "<</Type/Font/Subtype/Type1/BaseFont/Times-Roman>>",
      "<</Length " + std::to_string(content.size()) + ">>\nstream\n" + content + "\nendstream",
      "<</Type/Font/Subtype/Type1/BaseFont/Helvetica-Bold>>", "<</Type/Font/Subtype/Type1/BaseFont/Courier>>"};
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < std::size(objects); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(offsets.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t o : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", o);
    pdf += line;
  }
  pdf += "trailer\n<</Size " + std::to_string(offsets.size() + 1) + "/Root 1 0 R>>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  std::string mail =
      "From: warm@localhost\r\nTo: FAX=+15550100@localhost\r\nSubject: warm up\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
      "The quick brown fox jumps over the lazy dog 0123456789.\r\n--b\r\nContent-Type: application/pdf\r\n"
      "Content-Disposition: attachment; filename=w.pdf\r\n\r\n" +
      pdf + "\r\n--b--\r\n";
  { std::ofstream(dir + "/warm.eml", std::ios::binary) << mail; }
  ConvertRequest req;
  req.inputs = {dir + "/warm.eml"};
  req.output = dir + "/warm.tif";
  req.cover = ConvertRequest::Cover::always;
  req.cover_to = "+15550100";
  SandboxOutcome out = run_convert(req);
  if (out.code != 0) say("warming up: " + out.message + " (documents are rendered all the same)");
  fs::remove_all(dir, ec);
}

// Run in a document's process before it waits for its request (SandboxStart's `ahead`). A first
// write to a page of memory is a fault, ~5 µs on a virtual machine, and each page the process
// shares with the warm parent is copied on it: a one-page PDF took ~1,000 of them, 4-5 ms of the
// sender's wait. Here, off that wait: room for a page's buffers is added to the heap (big buffers
// now come from it, not from fresh mappings), the whole heap is written once (its pages copied
// and faulted in), and a white raster is made for the first page (raster_buffer.hpp).
void fault_in_ahead() {
  ::mallopt(M_MMAP_THRESHOLD, int(8 * kHeapRoom));
  ::mallopt(M_TRIM_THRESHOLD, int(16 * kHeapRoom));  // freed memory stays faulted in
  void* volatile grown = ::malloc(kHeapRoom);         // (volatile: a malloc freed unused is elided)
  ::free(grown);                                      // the heap's top grown, and kept
  const auto brk = reinterpret_cast<uintptr_t>(::sbrk(0));
  // The heap is [heap] up to the break (the kernel may show its top as a mapping of its own).
  if (std::ifstream maps("/proc/self/maps"); maps && brk != uintptr_t(-1)) {
    for (std::string line; std::getline(maps, line);) {
      if (line.size() < 6 || line.compare(line.size() - 6, 6, "[heap]") != 0) continue;
      unsigned long lo = 0, hi = 0;
      if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2 && brk > lo) {
        (void)::madvise(reinterpret_cast<void*>(lo), brk - lo, MADV_POPULATE_WRITE);  // a hint (Linux 5.14)
      }
      break;
    }
  }
  imaging::RasterBuffer::keep_spare(kSpareRaster, 255);
}

// The name of the document's input in its directory's in/: the caller's file name, or "input".
std::string input_file_name(const gateway::RenderRequest& rq) {
  fs::path name = fs::path(rq.input_name).filename();
  if (name.empty() || name == "." || name == "..") name = "input";
  return name.string();
}

// What the document's process is asked to do, in its directory `dir`.
bool convert_request_for(const gateway::RenderRequest& rq, const std::string& dir, ConvertRequest& req) {
  req.inputs = {dir + "/in/" + input_file_name(rq)};
  req.output = dir + "/out.tif";
  req.cover = rq.cover == "always" ? ConvertRequest::Cover::always
              : rq.cover == "never" ? ConvertRequest::Cover::never
                                    : ConvertRequest::Cover::ask;
  req.cover_to = rq.cover_to;
  req.limits.wall_seconds = rq.time_limit_s;
  req.sync_output = false;  // a scratch file: the daemon syncs the copy it is given
  return imaging::parse_resolution(rq.resolution, req.render.resolution) &&
         imaging::parse_paper(rq.paper, req.render.paper);
}

// The next document's directory and process, made before its request comes (SandboxStart: the
// fork, namespaces, limits and seccomp filter are off the sender's wait). The process is forked
// from this server with nothing of any request in it, and holds none of the descriptors of the
// request it will get; it reads its request (render_protocol's encoding) and renders.
struct NextDoc {
  std::string dir;
  SandboxStart proc;
};

// Makes the next document's directory and starts its process; nullopt with errno set when the
// directory cannot be made (ENOENT: the server's jail is gone), or with `why` when the process
// cannot start. `keep_out`: every descriptor of the server's that is not for a document (the
// socket; the daemon's input and output when it is made while a request is in hand).
std::optional<NextDoc> prepare_doc(const SandboxJail& jail, const std::vector<int>& keep_out, std::string& why) {
  std::string dir = jail.dir + "/doc-XXXXXX";
  if (!::mkdtemp(dir.data())) return std::nullopt;
  std::error_code ec;
  if (::mkdir((dir + "/in").c_str(), 0700) != 0 || ::mkdir((dir + "/tmp").c_str(), 0700) != 0) {
    const int err = errno;
    fs::remove_all(dir, ec);
    errno = err;
    return std::nullopt;
  }
  if (::geteuid() == 0) {
    for (const std::string& p : {dir, dir + "/in", dir + "/tmp"}) (void)::chown(p.c_str(), jail.uid, jail.gid);
  }
  SandboxJail doc = jail;
  doc.dir = dir;
  doc.inside = true;
  doc.close_fds = keep_out;  // (closed in the child before anything else: it never execs)
  NextDoc next{dir, SandboxStart(
                        [dir](const std::string& bytes) -> SandboxOutcome {
                          // Nothing of the document's reaches the daemon's log: its output and
                          // error go nowhere.
                          if (int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC); null >= 0) {
                            ::dup2(null, 1);
                            ::dup2(null, 2);
                            ::close(null);
                          }
                          auto rq = gateway::decode_request(bytes);
                          ConvertRequest req;
                          if (!rq || !convert_request_for(*rq, dir, req)) return {4, "the converter's request does not parse"};
                          return run_convert(req);
                        },
                        SandboxLimits{}, doc, fault_in_ahead)};
  if (!next.proc.error().empty()) {
    why = next.proc.error();
    fs::remove_all(dir, ec);
    return std::nullopt;
  }
  return next;
}

// Forgets the document made ahead when its process is no longer waiting (it died), with its
// directory.
void drop_if_gone(std::optional<NextDoc>& next) {
  if (!next || next->proc.waiting()) return;
  std::error_code ec;
  fs::remove_all(next->dir, ec);
  next.reset();
}

// Makes sure a document's process waits ahead (one is started when none does), saying why not.
void keep_one_ahead(std::optional<NextDoc>& next, const SandboxJail& jail, int sock) {
  drop_if_gone(next);
  if (next) return;
  std::string why;
  next = prepare_doc(jail, {sock}, why);
  if (!next && !why.empty()) say("cannot start a document's process ahead: " + why);
}

// One request: a directory of its own, a fresh process, the pages into `output`. `next`: the
// document made ready ahead, used when it is still waiting (else one is made now). Exits 3 when
// the server's own jail is gone (the daemon starts a new server and sends the message again).
// `done`: the document, whose process may still be ending, for the caller to end and reap and
// whose directory to remove once it has replied.
gateway::RenderReply render_one(const gateway::RenderRequest& rq, int input, int output, const SandboxJail& jail,
                                int sock, std::optional<NextDoc>& next, std::optional<NextDoc>& done) {
  ConvertRequest req;
  if (!convert_request_for(rq, "", req)) {
    return {2, "the converter was asked for resolution " + rq.resolution + " and paper " + rq.paper, 0};
  }
  drop_if_gone(next);
  if (!next) {
    std::string why;
    next = prepare_doc(jail, {sock, input, output}, why);
    if (!next) {
      if (why.empty() && errno == ENOENT) {
        say("the jail " + jail.dir + " is gone: stopping");
        ::_exit(3);
      }
      return {5, rq.input_name + ": " + (why.empty() ? std::string("cannot be read (") + std::strerror(errno) + ")" : why), 0};
    }
  }
  done = std::move(next);
  next.reset();
  const std::string& dir = done->dir;
  std::string in_path = dir + "/in/" + input_file_name(rq);
  if (!copy_fd_to_file(input, in_path)) {
    const std::string why = std::strerror(errno);
    return {2, rq.input_name + ": cannot be read (" + why + ")", 0};
  }
  if (::geteuid() == 0) (void)::chown(in_path.c_str(), jail.uid, jail.gid);
  req.output = dir + "/out.tif";
  // The outcome as soon as the document's process has reported (its end and its namespace's
  // teardown follow, and are waited for after the reply). Its pages are taken from the regular
  // file it left, checked on the descriptor opened; the daemon checks they are fax pages.
  std::string request = gateway::encode(rq);
  SandboxOutcome out = done->proc.go(request, rq.time_limit_s);
  wipe(request);  // the next document's process is forked from this one
  if (out.code == 0 && !take_output(req.output, jail, output)) {
    out = {4, "the renderer left no regular output file", out.pid};
  }
  tidy(out);
  // The caller's names in messages, and an input named when the message names none (as the
  // convert command does).
  for (size_t at = out.message.find(in_path); at != std::string::npos; at = out.message.find(in_path, at + rq.input_name.size())) {
    out.message.replace(at, in_path.size(), rq.input_name);
  }
  if (out.code != 0 && out.message.find(rq.input_name) == std::string::npos) out.message = rq.input_name + ": " + out.message;
  gateway::RenderReply reply{out.code, out.message, out.pid};
  for (std::string* sp : {&out.message, &req.cover_to, &in_path, &req.inputs[0]}) wipe(*sp);
  return reply;
}

// The jail's PID 1: warm up, then serve until the daemon goes.
[[noreturn]] void serve_in_jail(int sock, const SandboxJail& jail) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // A /proc of this PID namespace (a container that forbids it keeps the host's).
  (void)::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  ::setenv("HOME", (jail.dir + "/tmp").c_str(), 1);
  ::setenv("TMPDIR", (jail.dir + "/tmp").c_str(), 1);
  imaging::keep_warm_context();  // the warm-up's fonts and glyphs stay loaded for every document
  warm_up(jail);
  imaging::RasterBuffer::drop_spare();  // each document's process faults in a spare of its own
  ::mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  ::malloc_trim(0);  // a small heap forks fast: each document's process copies its page tables
  std::optional<NextDoc> next;
  keep_one_ahead(next, jail, sock);  // the first document's process
  if (!gateway::send_message(sock, gateway::encode_hello(jail.dir))) ::_exit(0);
  for (;;) {
    gateway::ProtocolMessage m;
    auto st = gateway::receive_message(sock, -1, m);
    if (st == gateway::ReceiveStatus::closed) ::_exit(0);
    if (st != gateway::ReceiveStatus::ok) ::_exit(1);
    auto rq = gateway::decode_request(m.bytes);
    if (!rq || m.fds.size() != 2) {
      for (int fd : m.fds) ::close(fd);
      say("a request that does not parse: stopping");
      ::_exit(1);
    }
    std::optional<NextDoc> done;  // the document rendered: to end, reap and remove
    gateway::RenderReply reply = render_one(*rq, m.fds[0], m.fds[1], jail, sock, next, done);
    for (int fd : m.fds) ::close(fd);
    std::string bytes = gateway::encode(reply);
    const bool sent = gateway::send_message(sock, bytes);
    // The next document's process is forked from this one: nothing of this request stays. Off
    // the sender's wait, after the reply: the document's process is ended and reaped with
    // whatever it started (its namespace ends with it; any other child is reaped here), then
    // its directory removed.
    std::string scratch;
    if (done) {
      done->proc.finish();
      scratch = std::move(done->dir);
      done.reset();
    }
    // (Nothing else is this server's child but the next document's process, which may still be
    // waiting for its request when this one was refused: never wait for it.)
    for (;;) {
      const pid_t p = ::waitpid(-1, nullptr, WNOHANG);
      if (p > 0 || (p < 0 && errno == EINTR)) continue;
      break;
    }
    std::error_code ec;
    if (!scratch.empty()) fs::remove_all(scratch, ec);
    for (std::string* sp : {&bytes, &reply.message, &m.bytes, &rq->cover_to, &rq->input_name, &scratch}) wipe(*sp);
    if (!sent) ::_exit(0);
    // The next document's process, forked now that nothing of this one is left here (unless the
    // one made ahead is still waiting: a request refused before it was used).
    keep_one_ahead(next, jail, sock);
  }
}

}  // namespace

int render_server(int sock, const std::vector<std::string>& hide) {
  struct stat st {};
  if (::fstat(sock, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    say("descriptor " + std::to_string(sock) + " is not the converter's socket");
    return 2;
  }
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the daemon's converter thread gone: so are we
  ::unsetenv("LD_BIND_NOW");  // for this binary's start only; LibreOffice starts faster without
  // Started in the daemon's data directory, as the daemon's user: neither the directory nor
  // this process may be reachable from a jail (/proc/<pid>/cwd).
  ::prctl(PR_SET_DUMPABLE, 0);
  if (::chdir("/") != 0) return 1;
  SandboxJail jail;
  try {
    jail = make_jail();
  } catch (const std::exception& e) {
    say(e.what());
    return 1;
  }
  for (const auto& h : hide) {
    if (!h.empty() && h[0] == '/') jail.hide.push_back(h);
  }
  // This process stays outside, to remove the jail when the server ends; a child enters the
  // jail, and its child is the jail's PID 1.
  pid_t holder = ::fork();
  if (holder < 0) {
    say(std::string("cannot fork: ") + std::strerror(errno));
    remove_jail(jail);
    return 1;
  }
  if (holder == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (std::string why = enter_jail(jail); !why.empty()) {
      say(why);
      ::_exit(1);
    }
    // As every jail's: not dumpable, and working in the jail, not in the daemon's data.
    ::prctl(PR_SET_DUMPABLE, 0);
    if (::chdir(jail.dir.c_str()) != 0) ::_exit(1);
    pid_t init = ::fork();
    if (init < 0) ::_exit(1);
    if (init == 0) serve_in_jail(sock, jail);
    ::close(sock);  // the daemon sees the end of the server when PID 1 ends
    int s = 0;
    while (::waitpid(init, &s, 0) < 0 && errno == EINTR) {
    }
    ::_exit(WIFEXITED(s) ? WEXITSTATUS(s) : 1);
  }
  ::close(sock);
  int s = 0;
  while (::waitpid(holder, &s, 0) < 0 && errno == EINTR) {
  }
  remove_jail(jail);
  return WIFEXITED(s) ? WEXITSTATUS(s) : 1;
}

}  // namespace app
