// page_writer.hpp — received fax pages written to disk off the media threads.
//
// The media threads carry the calls' timing; coding and writing a page takes milliseconds, and at
// the end of a page hundreds of calls may want it at once (bench/calls: the MCF answers then came
// too late for the senders' T.30 timers). So a receiving terminal hands each completed page over
// (fax/terminal.hpp page_out) and this thread writes it: appended to the fax's file at once (after
// a crash the file holds every page that had arrived), then, when the fax ends, the file is
// rewritten with its page count, atomically (imaging/tiff_f.hpp TiffFaxWriter), and only then is
// the end of the fax reported. Pages are coded T.4 2D (MR), as spandsp wrote them before.
// THREADS: add(), finish() and forget() may be called from any thread; the work is done in order
// on the writer's own thread, `done` called there.
// DIAGNOSTICS: a page that cannot be written fails its fax with the reason (finish's `error`).
// Before T.30 confirms a page (MCF), the media thread stages it: its rows go as they are into
// `<file>.page-<n>` (one write into the page cache, a fraction of a millisecond), which this
// thread removes once the page is appended. A crash in between leaves the staged page, and
// recover() (run for every reception the crash cut) appends it: no confirmed page is lost to a
// crash of the process. (Not fsynced: a power loss can take the last pages, as it can any write
// since the last fsync; the fax is synced when it ends, fax_calls.hpp sync_received.)
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <asio.hpp>

#include "fax/terminal.hpp"
#include "core/result.hpp"
#include "imaging/tiff_f.hpp"

namespace gateway {

class PageWriter {
 public:
  PageWriter() = default;
  ~PageWriter();
  void start();
  void stop();  // writes what is queued, then the thread ends
  // On the caller's thread, at once: the page staged beside `path` (see above); "" or the error.
  static std::string stage(const std::string& path, const fax::ReceivedPage& page);
  void add(const std::string& path, fax::ReceivedPage page);
  // The fax of `path` is complete: its file is finished, then `done(pages, error)`.
  void finish(const std::string& path, std::function<void(int pages, std::string error)> done);
  // The fax of `path` was cut (our own stop, or its terminal replaced): its pages stay as
  // appended, its staged pages go.
  void forget(const std::string& path);
  // Called on the writer thread after each page is appended, with the file's bytes as they now
  // are (a readable TIFF of the pages so far): a store several nodes share keeps them, so the
  // node that takes over a reception cut by this node's death has its pages. Set before start().
  std::function<void(const std::string& path, std::string bytes)> on_appended;
  // After a crash: pages staged for `path` but not appended are appended (the file rewritten
  // atomically) and their staged files removed. The pages now in the file, or the error.
  static fb::Result<int, std::string> recover(const std::string& path);

 private:
  asio::io_context io_{1};
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
  // On the writer thread only.
  struct File {
    std::unique_ptr<imaging::TiffFaxWriter> writer;
    std::string error;  // the first failure
  };
  std::map<std::string, File> files_;
};

}  // namespace gateway
