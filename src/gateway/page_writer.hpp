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
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <asio.hpp>

#include "fax/terminal.hpp"
#include "imaging/tiff_f.hpp"

namespace gateway {

class PageWriter {
 public:
  PageWriter() = default;
  ~PageWriter();
  void start();
  void stop();  // writes what is queued, then the thread ends
  void add(const std::string& path, fax::ReceivedPage page);
  // The fax of `path` is complete: its file is finished, then `done(pages, error)`.
  void finish(const std::string& path, std::function<void(int pages, std::string error)> done);
  // The fax of `path` was cut (our own stop): its pages stay as appended.
  void forget(const std::string& path);

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
