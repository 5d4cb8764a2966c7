// converter.hpp — renders each accepted message into its jobs' fax pages, outside the daemon.
//
// ARCHITECTURE.md: untrusted documents are converted in separate processes with limits. Each
// worker keeps a warm render server (`faxbridge render-server`, app/render_server.hpp: this same
// binary, a fresh process, jailed once, its renderers loaded) and hands it each message over a
// socket (render_protocol.hpp): the message's descriptor in, an output file's descriptor out.
// The server renders every message in a fresh process of its own (forked from the warm one, in
// the jail, with the limits), so no document shares a process with another. A server that
// cannot start, or stops answering, is replaced; when none can start, the worker falls back to
// running `faxbridge convert -o <tif> <message.eml>` (which jails itself) per message. The pages go to every job of the message (hard links to
// one rendering), the jobs move queued -> rendering -> ready with their page count, or to
// failed with the converter's one-line reason (reported to the sender by the DSN).
// A cover page: `--cover always` for the senders of [fax] cover_senders, `ask` (the mail's
// X-Fax-Cover decides) for the rest; `--cover-to` names the message's fax number (none when it
// has several: the jobs share one rendering, and one recipient must not see another's number).
// On start it picks up jobs left in queued or rendering by a crash: rendering is repeatable.
// The converter process runs at nice kConverterNice (its renderers with it): rendering waits behind
// the calls' media threads (media_thread.hpp), never the other way round.
// THREADS: `workers` converter threads, each with its own JobStore connection and one convert
// process at a time, so a document that spins or crashes holds one worker while the others go
// on; a message is rendered by one worker at a time. notify() is thread-safe.
// PARAMETERS: [converter] workers (2).
// LIMITS: the convert command's own (time, memory).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "queue/job_store.hpp"
#include "queue/spool.hpp"

namespace gateway {

inline constexpr int kConverterNice = 10;
using RunResultCode = int;  // the convert command's exit code; -1 when it could not be run
// The most pages a rendering may have (the converter's own limit, imaging::RenderLimits): more
// is output not to be trusted.
inline constexpr int kMaxRenderedPages = 1000;

struct ConverterOptions {
  std::string executable = "/proc/self/exe";  // the faxbridge binary
  std::string store;                          // the job store: its SQLite file or postgresql:// URL
  // At start, render again the messages whose jobs are still queued or rendering (a stop or a
  // crash cut them off). On a store several nodes share that includes other nodes' messages
  // they may be rendering: the store's moves are compare-and-sets (JobStore::start_rendering),
  // so the second rendering changes no job the first has moved on.
  bool resume = true;
  std::string resolution = "fine";
  std::string paper = "auto";
  std::vector<std::string> cover_senders;  // [fax] cover_senders: address, "@domain" or "*"
  std::function<void()> on_ready;  // jobs became ready (called on a converter thread)
  int workers = 2;
  int time_limit_s = 300;  // convert --time-limit
  std::vector<std::string> hide;  // convert --jail-hide: the data directory and the like
};

class Converter {
 public:
  Converter(ConverterOptions opt, queue::Spool& spool);
  ~Converter();
  void start();
  void stop();  // finishes the message in hand, then returns
  void notify(const std::string& message_id);

 private:
  // One worker's warm render server.
  struct Server {
    pid_t pid = -1;
    int sock = -1;
    std::string jail_dir;  // removed when the server is stopped
  };

  void run(bool resume);
  // false: the store could not be read, the message is to be taken again.
  bool render(queue::JobStore& store, const std::string& message_id, Server& server);
  RunResultCode convert(const std::vector<std::string>& argv, std::string& stderr_text);
  bool start_server(Server& s, std::string& why);
  // Ends the server (waiting first up to 5 s for one that is exiting by itself); its wait status.
  int stop_server(Server& s, bool wait_first);
  // Whether the server is there and idle; stops one that has gone.
  bool server_alive(Server& s);
  // Renders `input` into `output` with the worker's server: the convert exit code with
  // `message` (4 when the server hung, or died with the document in hand and !may_retry), or -1
  // when the server lost its jail or died with it and may_retry (it is stopped: try again with
  // a new one). `while_rendering` runs once the request is on its way (the store's
  // bookkeeping, off the sender's wait).
  RunResultCode render_with_server(Server& s, const std::string& input, const std::string& output, bool always_cover,
                                   const std::string& cover_to, std::string& message,
                                   const std::function<void()>& while_rendering, bool may_retry);

  ConverterOptions opt_;
  queue::Spool& spool_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> pending_;
  bool stopping_ = false;
  std::set<pid_t> children_;            // convert processes running (mu_)
  std::set<std::string> in_progress_;   // messages a worker is rendering (mu_)
  std::vector<std::thread> threads_;
};

}  // namespace gateway
