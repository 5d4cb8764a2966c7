// terminal.hpp — a fax terminal as seen by T.30: sends a TIFF-F or receives into one, whatever
// carries it (T.38 packets: t38_terminal.hpp; G.711 audio: audio_terminal.hpp), with
// page-accurate results. No I/O of its own and no clock: the owner calls tick() every 20 ms.
//
// STANDARDS: ITU-T T.30 (phases B-E, ECM, SUB/TSI/CSI frames, completion codes), ITU-T T.4/T.6
// (page coding). ../shared/specs/spandsp-notes.md: spandsp has no clock and no locking — one
// thread owns a terminal; ECM is turned on, T.6 allowed, TSI/CSI and the page header from the
// options; bad rows are read in the phase-D handler after every page (spandsp's end-of-call
// figure covers the last page only), so a page with lost rows is reported as such, never clean.
// Sending: the file must already be a valid TIFF-F of 1728-pixel pages (the converter made it).
// Receiving: pages go into exactly `file`; spandsp deletes it when no page arrived, and closes it
// when the terminal is destroyed (read the file only after that). Or, with `page_out`, each page
// is handed over as rows once T.30 has it (phase D), and the owner writes it — off the thread
// that carries the call: spandsp 0.0.6 codes and writes a page inside its T.30 processing, and
// hundreds of pages ending together held up the MCF answers past the sender's timers. (This uses
// t4_rx's row-write hook inside spandsp's T.30 state, through spandsp/expose.h: spandsp then
// writes no image into its own file, scratch_file(file), which the terminal deletes when it is
// destroyed; one left by a crash is the owner's to delete.)
// A transfer ends by itself (phase E), or by abort() (the call ended under it, or the media was
// switched): pages already confirmed stay in the result, and a sender whose every page the far end
// confirmed has delivered the document even if the far end hung up before phase E.
// LIMITS: one transfer per object; not thread-safe (spandsp is not).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

struct t30_state_s;
struct logging_state_s;

namespace fax {

// A received page, as T.30 completed it.
struct ReceivedPage {
  int number = 0;  // 1-based
  int width = 0;   // pixels
  int rows = 0;
  int x_dpi = 0, y_dpi = 0;
  int bad_rows = 0;
  int longest_bad_run = 0;
  std::vector<uint8_t> bits;  // rows of (width + 7) / 8 octets, MSB first, 1 = black
};

struct Options {
  bool calling = true;          // the party that dialled (sends CNG; T.30 roles follow)
  bool transmit = true;         // send `file`, else receive into it
  std::string file;
  int first_page = 0;           // transmit: resume here (0-based); pages_total then counts from it
  // Called (on the owner's thread, inside the terminal's input or tick) each time one more page
  // is confirmed (tx: MCF) or received (rx), with the count so far in this transfer.
  std::function<void(int pages)> on_page;
  std::string station_id;       // our TSI/CSI, at most 20 characters
  std::string header;           // page header on transmitted pages ("" none)
  std::string subaddress;       // SUB to send (transmit), "" none
  bool ecm = true;
  int max_bit_rate = 14400;     // V.17 only at 12000 and above
  // T.30 protocol trace on stderr, each line tagged (spandsp's own log; off by default).
  std::string trace_tag;
  // Receive: each page to the owner instead of into `file` (see above). On the terminal's thread.
  std::function<void(ReceivedPage)> page_out;
};

// spandsp's protocol trace of `l` (T.30, T.38) into the daemon's log ([log] t30_trace): each
// line at info level, component t30, tagged `tag` ("job <id>", so the line carries the job).
void trace_to_log(logging_state_s* l, const std::string& tag);

struct PageResult {
  int number = 0;  // 1-based
  int rows = 0;
  int bad_rows = 0;
  int longest_bad_run = 0;
  int width = 0;
  int x_dpi = 0, y_dpi = 0;
  int bit_rate = 0;
  bool ecm = false;
};

struct Result {
  bool finished = false;       // the transfer is over
  bool success = false;        // T.30 completed with every page confirmed
  int completion_code = -1;    // T30_ERR_*, -1 while running or when we ended it
  std::string reason;          // spandsp's sentence, or ours
  int pages_total = 0;         // pages in the file (transmit)
  int pages = 0;               // pages sent and confirmed (tx) or received (rx)
  std::vector<PageResult> page;
  std::string remote_ident;    // the far end's TSI/CSI
  std::string remote_subaddress;  // SUB received
  int bit_rate = 0;
  bool ecm = false;
  bool phase_b = false;        // T.30 reached phase B (the far end's DIS/DCS was heard)
  int restarts = 0;            // T.30 started again after phase B (a media switch mid-fax)
  int bad_rows() const;
};

// The file spandsp itself writes while a page_out receiver runs (no image goes into it).
inline std::string scratch_file(const std::string& file) { return file + ".spandsp"; }

class Terminal {
 public:
  virtual ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Ends the transfer now; pages already confirmed stay in the result.
  void abort(const std::string& reason);
  const Result& result() const { return result_; }
  bool finished() const { return result_.finished; }
  const Options& options() const { return opt_; }

 protected:
  explicit Terminal(Options opt) : opt_(std::move(opt)) {}
  // Configures spandsp's T.30 from the options and takes its phase B/D/E reports.
  void attach(t30_state_s* t30);
  // Before the derived class frees spandsp's state: T.30 ends if it has not (files closed).
  void detach();
  // Before each step of the line: with page_out, takes the rows of the page being received from
  // spandsp (installs the hook as soon as spandsp has begun a document).
  void take_rows();
  bool attached() const { return t30_ != nullptr; }

  Options opt_;
  Result result_;

 private:
  t30_state_s* t30_ = nullptr;
  std::vector<uint8_t> rows_;  // the page being received (page_out)
  int row_bytes_ = 0;
  friend struct T30Callbacks;
};

}  // namespace fax
