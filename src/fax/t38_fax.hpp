// t38_fax.hpp — one fax transfer over T.38 as seen by T.30: spandsp's t38_terminal, sending a
// TIFF-F or receiving into one, with page-accurate results. No I/O of its own.
//
// STANDARDS: ITU-T T.30 (phases B-E, ECM, SUB/TSI/CSI frames, completion codes), ITU-T T.38
// (IFP packets; the UDPTL transport is media/udptl.hpp), ITU-T T.4/T.6 (page coding).
// ../shared/specs/spandsp-notes.md: spandsp has no clock and no locking — the owner calls tick()
// every 20 ms (160 samples at 8 kHz) from the one thread that owns this object; ECM is turned
// on, T.6 allowed, TSI/CSI and the page header from the options; bad rows are read in the
// phase-D handler after every page (spandsp's end-of-call figure covers the last page only), so
// a page with lost rows is reported as such, never as clean.
// Sending: the file must already be a valid TIFF-F of 1728-pixel pages (the converter made it).
// Receiving: pages go into exactly `file`; spandsp deletes it when no page arrived.
// The transfer ends by itself (phase E), or by abort() (the call ended under it), or when the
// far end stops sending IFPs: `idle_timeout` with no packet in either direction, once the far end
// was heard, ends it with "the far end stopped sending" (T.30's own timers take up to minutes).
// Both directions count because a receiver is rightly silent while a partial page streams in
// (up to ~40 s at 14400 bit/s with 256-octet ECM frames) and a sender while it waits for a
// response it will time out of by itself.
// LIMITS: one transfer per object; not thread-safe (spandsp is not).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace fax {

struct T38Options {
  bool calling = true;          // the party that dialled (sends CNG; T.30 roles follow)
  bool transmit = true;         // send `file`, else receive into it
  std::string file;
  int first_page = 0;           // transmit: resume here (0-based); pages_total then counts from it
  // Called (on the caller's thread, inside receive_ifp/tick) each time one more page is
  // confirmed (tx: MCF) or received (rx), with the count so far in this call.
  std::function<void(int pages)> on_page;
  std::string station_id;       // our TSI/CSI, at most 20 characters
  std::string header;           // page header on transmitted pages ("" none)
  std::string subaddress;       // SUB to send (transmit), "" none
  bool ecm = true;
  int max_bit_rate = 14400;     // from the negotiated T38MaxBitRate
  int t38_version = 0;
  bool fill_bit_removal = false;
  bool paced = true;            // false only over TCP (spandsp-notes.md)
  std::chrono::milliseconds idle_timeout{15000};
  // T.30/T.38 protocol trace on stderr, each line tagged (spandsp's own log; off by default).
  std::string trace_tag;
};

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

struct T38Result {
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
  int bad_rows() const;
};

class T38Fax {
 public:
  // `send_ifp(bytes, copies)`: one IFP to put on the wire `copies` times.
  using SendIfp = std::function<void(std::span<const uint8_t> ifp, int copies)>;
  T38Fax(T38Options opt, SendIfp send);
  ~T38Fax();
  T38Fax(const T38Fax&) = delete;
  T38Fax& operator=(const T38Fax&) = delete;

  void receive_ifp(std::span<const uint8_t> ifp, uint16_t seq);
  // Advances the T.30/T.38 clock by `ms` (20 per tick); may send IFPs.
  void tick(int ms = 20);
  // Ends the transfer now (the call is over); pages already confirmed stay in the result.
  void abort(const std::string& reason);
  const T38Result& result() const { return result_; }
  bool finished() const { return result_.finished; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  T38Result result_;
  T38Options opt_;
  SendIfp send_;
  std::chrono::milliseconds since_rx_{0};  // since the last packet either way
  bool heard_ = false;
  friend struct Callbacks;
};

}  // namespace fax
