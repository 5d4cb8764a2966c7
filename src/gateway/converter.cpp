// converter.cpp — queued messages to fax pages via `faxbridge convert` (see converter.hpp).
#include "gateway/converter.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <functional>
#include <utility>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>
#include <chrono>

#include <cerrno>
#include <cstring>
#include <csignal>

#include <fcntl.h>
#include <spawn.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "gateway/render_protocol.hpp"
#include "imaging/tiff_f.hpp"

extern char** environ;

namespace gateway {
namespace fs = std::filesystem;

namespace {

constexpr int kServerStartMs = 60000;  // jail and warm-up; seconds even on a loaded machine

struct RunResult {
  int code = -1;
  std::string stderr_text;
};

// Runs argv, collecting stderr (bounded), and waits for it. The child gets stdin, stdout,
// stderr and nothing else: no daemon socket (SMTP listener, clients, API) may reach code that
// parses hostile documents. `child` holds its pid while it runs, so stop() can end it.
RunResult run_process(const std::vector<std::string>& argv, const std::function<bool(pid_t)>& started,
                      const std::function<void(pid_t)>& ended) {
  RunResult r;
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(err[1]);
  if (rc != 0) {
    ::close(err[0]);
    r.stderr_text = "cannot start the converter";
    return r;
  }
  if (!started(pid)) ::kill(pid, SIGKILL);  // stopping: end it at once
  // Rendering waits behind call timing: the converter (and the renderers it forks) run niced.
  ::setpriority(PRIO_PROCESS, id_t(pid), kConverterNice);
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(err[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (r.stderr_text.size() < 8192) r.stderr_text.append(buf, size_t(n));
  }
  ::close(err[0]);
  int status = 0;
  pid_t w;
  do {
    w = ::waitpid(pid, &status, 0);
  } while (w < 0 && errno == EINTR);
  ended(pid);
  if (w != pid) return r;  // code -1: a failure, never mistaken for success
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

bool sync_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  errno = err;
  return ok;
}

void sync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

bool cover_wanted(const std::vector<std::string>& senders, const std::string& sender) {
  auto lower = [](std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string who = lower(sender);
  for (const auto& s : senders) {
    const std::string want = lower(s);
    if (want == "*" || want == who) return true;
    if (want.front() == '@' && who.size() > want.size() && who.ends_with(want)) return true;
  }
  return false;
}

std::string first_line(std::string s) {
  auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  const std::string prefix = "faxbridge convert: ";
  if (s.rfind(prefix, 0) == 0) s.erase(0, prefix.size());
  return s.empty() ? "the converter failed" : s;
}

// The converter names its input by its path ("spool/msg/<id>.eml part 2 (a.pdf, ...): ..."): the
// sender who reads this in a report knows no path, and the node's layout is not theirs to see.
std::string without_input_path(std::string s, const std::string& message_id) {
  const std::string name = message_id + ".eml";
  const size_t at = s.find(name);
  if (at == std::string::npos || s.find(' ') < at) return s;  // (only a leading path)
  size_t from = at + name.size();
  if (s.compare(from, 2, ": ") == 0) {
    from += 2;
  } else if (from < s.size() && s[from] == ' ') {
    from += 1;
  }
  s.erase(0, from);
  return s;
}

}  // namespace

Converter::Converter(ConverterOptions opt, queue::Spool& spool) : opt_(std::move(opt)), spool_(spool) {}

Converter::~Converter() { stop(); }

void Converter::start() {
  const int n = std::max(1, opt_.workers);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { run(i == 0); });
}

void Converter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    // A conversion may take minutes; rendering is repeatable, so end it rather than wait.
    for (pid_t c : children_) ::kill(c, SIGKILL);
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Converter::notify(const std::string& message_id) {
  {
    std::lock_guard lock(mu_);
    pending_.push_back(message_id);
  }
  cv_.notify_one();
}

bool Converter::start_server(Server& s, std::string& why) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    why = std::string("socketpair: ") + std::strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 3);  // the server's socket (dup2 clears CLOEXEC)
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&fa, 4);  // stderr stays: the server's own lines go to the log
  std::vector<std::string> argv = {opt_.executable, "render-server"};
  for (const auto& h : opt_.hide) argv.insert(argv.end(), {"--jail-hide", h});
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  // Every symbol bound before the first fork (no lazy binding in each document's process), and
  // page buffers on huge pages (a few faults, not a thousand).
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view v(*e);
    if (!v.starts_with("LD_BIND_NOW=") && !v.starts_with("GLIBC_TUNABLES=")) env.emplace_back(v);
  }
  env.emplace_back("LD_BIND_NOW=1");
  env.emplace_back("GLIBC_TUNABLES=glibc.malloc.hugetlb=1");
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    why = std::string("cannot start the render server: ") + std::strerror(rc);
    return false;
  }
  ::setpriority(PRIO_PROCESS, id_t(pid), kConverterNice);
  s.pid = pid;
  s.sock = sv[0];
  {
    std::lock_guard lock(mu_);
    children_.insert(pid);
    if (stopping_) ::kill(pid, SIGKILL);
  }
  ProtocolMessage hello;
  auto st = receive_message(s.sock, kServerStartMs, hello);
  for (int fd : hello.fds) ::close(fd);
  auto dir = st == ReceiveStatus::ok ? decode_hello(hello.bytes) : std::nullopt;
  if (!dir) {
    why = st == ReceiveStatus::timeout ? "the render server did not start within " + std::to_string(kServerStartMs / 1000) + " s"
                                       : "the render server stopped before it was ready";
    stop_server(s, false);
    return false;
  }
  s.jail_dir = *dir;
  return true;
}

int Converter::stop_server(Server& s, bool wait_first) {
  int status = -1;
  if (s.pid > 0) {
    // A server whose socket closed is on its way out by itself (its own exit code says why):
    // give it a moment. Otherwise, or then, SIGKILL: its jail's processes die with it
    // (PR_SET_PDEATHSIG, then the PID namespace).
    pid_t done = 0;
    for (int i = 0; wait_first && i < 500 && done == 0; ++i) {
      done = ::waitpid(s.pid, &status, WNOHANG);
      if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (done != s.pid) {
      ::kill(s.pid, SIGKILL);
      while (::waitpid(s.pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    std::lock_guard lock(mu_);
    children_.erase(s.pid);
  }
  if (s.sock >= 0) ::close(s.sock);
  if (!s.jail_dir.empty()) {
    std::error_code ec;
    fs::remove_all(s.jail_dir, ec);
  }
  s = Server{};
  return status;
}

bool Converter::server_alive(Server& s) {
  if (s.pid < 0) return false;
  int status = 0;
  pollfd p{s.sock, POLLIN, 0};
  // Exited, or its socket closed or readable when no request is out (only EOF can be there).
  if (::waitpid(s.pid, &status, WNOHANG) == s.pid) {
    std::lock_guard lock(mu_);
    children_.erase(s.pid);
    s.pid = -1;
  } else if (::poll(&p, 1, 0) == 0) {
    return true;
  }
  stop_server(s, false);
  return false;
}

RunResultCode Converter::render_with_server(Server& s, const std::string& input, const std::string& output,
                                            bool always_cover, const std::string& cover_to, std::string& message,
                                            const std::function<void()>& while_rendering, bool may_retry) {
  RenderRequest rq;
  rq.resolution = opt_.resolution;
  rq.paper = opt_.paper;
  rq.cover = always_cover ? "always" : "ask";
  rq.cover_to = cover_to;
  rq.time_limit_s = opt_.time_limit_s;
  rq.input_name = input;
  const int in = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    message = input + ": cannot be read (" + std::strerror(errno) + ")";
    return 2;
  }
  const int out = ::open(output.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (out < 0) {
    ::close(in);
    message = output + ": cannot be written (" + std::strerror(errno) + ")";
    return 2;
  }
  const bool sent = send_message(s.sock, encode(rq), {in, out});
  ::close(in);
  if (sent) while_rendering();
  ProtocolMessage m;
  // The server enforces the time limit itself; this is for a server that hangs.
  auto st = sent ? receive_message(s.sock, (opt_.time_limit_s + 60) * 1000, m) : ReceiveStatus::closed;
  for (int fd : m.fds) ::close(fd);
  auto reply = st == ReceiveStatus::ok ? decode_reply(m.bytes) : std::nullopt;
  if (!reply) {
    ::close(out);
    const int status = stop_server(s, st == ReceiveStatus::closed);
    // Exit 3: its own jail went (render_server.hpp). A server that ended otherwise with this
    // document in hand may have been killed from outside just before (the OOM killer, an
    // operator) and gets one more try with a new server; ended twice, or hung, the document is
    // not rendered again (a hostile one would take a server down each time).
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
      message = "the render server's jail was gone";
      return -1;
    }
    if (st == ReceiveStatus::closed && may_retry) {
      fb::log(fb::LogLevel::warn, "converter", "converter: the render server ended with message " + fs::path(input).stem().string() +
              " in hand; trying a new one");
      message = "the render server ended";
      return -1;
    }
    message = st == ReceiveStatus::timeout ? "the renderer stopped answering: the document is corrupt or hostile"
                                           : "the renderer stopped: the document is corrupt or hostile";
    return 4;
  }
  // Durable before any job says ready (the server wrote through its copy of the descriptor).
  const bool synced = reply->code != 0 || ::fsync(out) == 0;
  ::close(out);
  fb::log("message " + fs::path(input).stem().string() + ": rendered by process " + std::to_string(reply->worker_pid) +
          " of render server " + std::to_string(s.pid));
  if (!synced) {
    message = output + ": cannot be written (" + std::strerror(errno) + ")";
    return 2;
  }
  message = reply->message;
  return reply->code;
}

void Converter::run(bool resume_left_work) {
  // A store that cannot be opened now (PostgreSQL restarting, its lock busy) is tried again
  // every 2 s: a worker that gave up would leave its messages unrendered while the node renews
  // their claims, so no other node takes them.
  auto opened = queue::open_job_store(opt_.store);
  for (bool said = false; !opened;) {
    if (!said) fb::log(fb::LogLevel::warn, "converter", "render worker: " + opened.error().message + "; trying again");
    said = true;
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, std::chrono::seconds(2), [&] { return stopping_; })) return;
    lock.unlock();
    opened = queue::open_job_store(opt_.store);
  }
  std::unique_ptr<queue::JobStore> store = std::move(*opened);
  Server server;
  struct StopServer {
    Converter& c;
    Server& s;
    ~StopServer() { c.stop_server(s, false); }
  } stop_server_at_end{*this, server};
  // Jobs a crash left waiting or half rendered: render their messages again (one worker looks;
  // ConverterOptions::resume).
  resume_left_work = resume_left_work && opt_.resume;
  std::set<std::string> resume;
  for (const char* st : {"queued", "rendering"}) {
    if (!resume_left_work) break;
    queue::JobFilter f;
    f.state = st;
    f.direction = queue::Direction::out;
    if (auto jobs = store->jobs(f)) {
      for (const auto& j : *jobs) {
        if (j.message_id) resume.insert(*j.message_id);
      }
    }
  }
  for (const auto& id : resume) notify(id);
  for (;;) {
    std::string id;
    {
      std::unique_lock lock(mu_);
      // The first message no other worker is rendering (one being rendered is done by that
      // worker: it takes every job of the message still queued when it looks).
      cv_.wait(lock, [&] {
        return stopping_ || std::any_of(pending_.begin(), pending_.end(), [&](const std::string& m) {
                 return !in_progress_.count(m);
               });
      });
      if (stopping_) return;
      auto it = std::find_if(pending_.begin(), pending_.end(), [&](const std::string& m) { return !in_progress_.count(m); });
      id = *it;
      pending_.erase(it);
      in_progress_.insert(id);
    }
    const bool read = render(*store, id, server);
    {
      std::unique_lock lock(mu_);
      in_progress_.erase(id);
      if (!read && !stopping_) {
        // The store could not be read (PostgreSQL restarting, a locked file): the message is
        // taken again in a moment rather than left for the next start.
        cv_.wait_for(lock, std::chrono::seconds(2), [&] { return stopping_; });
        if (!stopping_ && std::find(pending_.begin(), pending_.end(), id) == pending_.end()) pending_.push_back(id);
      }
    }
    cv_.notify_all();
  }
}

RunResultCode Converter::convert(const std::vector<std::string>& argv, std::string& stderr_text) {
  RunResult r = run_process(
      argv,
      [this](pid_t pid) {
        std::lock_guard lock(mu_);
        children_.insert(pid);
        return !stopping_;
      },
      [this](pid_t pid) {
        std::lock_guard lock(mu_);
        children_.erase(pid);
      });
  stderr_text = std::move(r.stderr_text);
  return r.code;
}

bool Converter::render(queue::JobStore& store, const std::string& message_id, Server& server) {
  queue::JobFilter f;
  f.message_id = message_id;
  auto jobs = store.jobs(f);
  if (!jobs) {
    fb::log("converter: message " + message_id + ": " + jobs.error().message + "; trying again");
    return false;
  }
  std::vector<queue::Job> todo;
  for (const auto& j : *jobs) {
    if (j.direction == queue::Direction::out && (j.state == "queued" || j.state == "rendering")) todo.push_back(j);
  }
  if (todo.empty()) return true;
  bool marked = false;
  bool again = false;      // a store write failed: the message is taken again (render() false)
  std::set<int64_t> mine;  // the jobs this rendering moved to rendering (or found there)
  auto mark_rendering = [&] {  // once: while the server renders, or before the cold way
    if (std::exchange(marked, true)) return;
    for (const auto& j : todo) {
      auto r = store.start_rendering(j.id);
      if (!r) {
        queue::logged(queue::StoreStatus(r.error()));
        again = true;
      } else if (*r) {
        mine.insert(j.id);
      }
    }
  };
  std::string rendered = spool_.dir() + "/fax/" + message_id + ".render.tif";
  // The cover names the fax number when the message has one; one rendering serves every job, so
  // with several numbers it names none (a Bcc'd number must not appear on the others' covers).
  std::set<std::string> seen;
  for (const auto& j : todo) seen.insert(j.number);
  const std::string numbers = seen.size() == 1 ? *seen.begin() : "";
  auto msg = store.message(message_id);
  const bool always = msg && cover_wanted(opt_.cover_senders, msg->sender);
  // On a store several nodes share, the message's bytes as the store has them (another node's
  // message, or a file of that name left from a store used before): the store unreachable, tried
  // again; the document missing, rendered from what this node has (or failed for want of it).
  if (auto f = queue::fetch_document(store, spool_.dir(), spool_.message_path(message_id)); !f) {
    const bool transient = queue::fetch_transient(f.error());
    fb::log("converter: message " + message_id + ": " + f.error().message + (transient ? "; trying again" : ""));
    if (transient) return false;
  }
  RunResult r;
  r.code = -1;
  const auto started = std::chrono::steady_clock::now();
  // The warm server (a new one when it has gone since the last message, or lost its jail); the
  // cold way if none will start.
  for (int attempt = 0; attempt < 2 && r.code < 0; ++attempt) {
    std::string why;
    if (!server_alive(server) && !start_server(server, why)) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return true;  // stopped while it started: the jobs resume at start
      }
      fb::log("converter: " + why + "; rendering message " + message_id + " the cold way");
      break;
    }
    r.code = render_with_server(server, spool_.message_path(message_id), rendered, always, numbers, r.stderr_text,
                                mark_rendering, attempt == 0);
    std::lock_guard lock(mu_);
    if (stopping_) return true;  // killed by stop(): the jobs stay queued or rendering and resume at start
  }
  if (r.code < 0) {
    std::vector<std::string> argv = {opt_.executable, "convert", "--resolution", opt_.resolution, "--paper", opt_.paper,
                                     "--cover", always ? "always" : "ask", "--cover-to", numbers, "--time-limit",
                                     std::to_string(opt_.time_limit_s)};
    for (const auto& h : opt_.hide) argv.insert(argv.end(), {"--jail-hide", h});
    argv.insert(argv.end(), {"-o", rendered, spool_.message_path(message_id)});
    mark_rendering();
    r.code = convert(argv, r.stderr_text);
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) return true;  // killed by stop(): the jobs stay queued or rendering and resume at start
  }
  mark_rendering();  // (when no request went out: every job passes through rendering)
  fb::metrics::observe("faxbridge_convert_seconds", "Time to render one message's documents to fax pages",
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                       {{"result", r.code == 0 ? "rendered" : "refused"}});
  int pages = 0;
  std::string invalid;  // what is wrong with the converter's output, which is not trusted
  if (r.code == 0) {
    auto info = imaging::inspect_tiff(rendered);
    auto why = info ? imaging::check_fax_pages(*info, kMaxRenderedPages) : std::optional<std::string>(info.error().message);
    if (why) {
      invalid = "the converter's output is not fax pages (" + *why + ")";
      fb::log("message " + message_id + ": " + invalid);
    } else {
      pages = int(info->pages.size());
    }
  }
  // Only the jobs still rendering move on (compare-and-set): one another node rendered and made
  // ready meanwhile, or that was claimed since, is not this rendering's to change.
  // The pages go into a store that shares documents in the same transaction, so only the
  // rendering that made the job ready leaves its pages there.
  std::optional<std::pair<std::string, std::string>> document;
  auto finish = [&](int64_t id, int n, const std::optional<std::string>& error) {
    auto f = store.finish_rendering(id, n, error, error ? std::nullopt : document);
    if (!f) {
      queue::logged(queue::StoreStatus(f.error()));
      again = true;
    } else if (!*f) {
      fb::log("converter: job " + std::to_string(id) + " is no longer rendering; left as it is");
    }
  };
  for (const auto& j : todo) {
    if (!mine.count(j.id)) continue;
    if (r.code != 0 || pages == 0) {
      finish(j.id, 0,
             "the message cannot be faxed: " +
                 (invalid.empty() ? without_input_path(first_line(r.stderr_text), message_id) : invalid));
      continue;
    }
    std::error_code ec;
    fs::path target = spool_.fax_path(j.id);
    fs::remove(target, ec);
    fs::create_hard_link(rendered, target, ec);
    if (ec) {  // (a file system without hard links) a copy, as durable as the rendering
      ec.clear();
      fs::copy_file(rendered, target, fs::copy_options::overwrite_existing, ec);
      if (!ec && !sync_file(target.string())) ec = std::error_code(errno, std::generic_category());
    }
    if (ec) {
      finish(j.id, 0, "cannot store the fax pages: " + ec.message());
      continue;
    }
    sync_dir(target.parent_path().string());  // the link must survive a crash before "ready" says so
    document.reset();
    if (store.shares_documents()) {  // the node that dials it may be another
      std::ifstream in(target, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in || in.bad()) {
        fb::log("converter: job " + std::to_string(j.id) + ": cannot read its pages back; trying again");
        again = true;
        continue;
      }
      document.emplace(queue::document_name(spool_.dir(), target.string()), std::move(bytes));
    }
    finish(j.id, pages, std::nullopt);
  }
  std::error_code ec;
  fs::remove(rendered, ec);
  if (opt_.on_ready) opt_.on_ready();
  return !again;
}

}  // namespace gateway
