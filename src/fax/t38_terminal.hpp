// t38_terminal.hpp — a fax terminal over T.38: spandsp's t38_terminal, its IFP packets in and
// out (the UDPTL transport that carries them is media/udptl.hpp). See terminal.hpp for T.30.
//
// STANDARDS: ITU-T T.38 (IFP packets, versions 0-3: version 0 and >= 1 encode some fields
// differently, so the terminal runs with the version that was negotiated), terminal.hpp.
// Pacing: spandsp paces its own sends against the tick (off only over TCP, spandsp-notes.md).
// A far end that stops sending IFPs is ended after `idle_timeout` with no packet in either
// direction, once it was heard ("the far end stopped sending"; T.30's own timers take up to
// minutes); one that sends none at all, `idle_timeout` after the start (a T.38 answer with no
// terminal behind it). Both directions count because a receiver is rightly silent while a partial page
// streams in (up to ~40 s at 14400 bit/s with 256-octet ECM frames) and a sender while it waits
// for a response it will time out of by itself.
// LIMITS: terminal.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>

#include "fax/terminal.hpp"

struct t38_terminal_state_s;

namespace fax {

struct T38Config {
  int version = 0;              // T38FaxVersion negotiated
  bool fill_bit_removal = false;
  bool paced = true;            // false only over TCP
  std::chrono::milliseconds idle_timeout{15000};
};

class T38Terminal final : public Terminal {
 public:
  // `send_ifp(bytes, copies)`: one IFP to put on the wire `copies` times.
  using SendIfp = std::function<void(std::span<const uint8_t> ifp, int copies)>;
  T38Terminal(Options opt, T38Config cfg, SendIfp send);
  ~T38Terminal() override;

  void receive_ifp(std::span<const uint8_t> ifp, uint16_t seq);
  // Advances the T.30/T.38 clock by `ms` (20 per tick); may send IFPs.
  void tick(int ms = 20);

 private:
  t38_terminal_state_s* t38_ = nullptr;
  T38Config cfg_;
  SendIfp send_;
  std::chrono::milliseconds since_rx_{0};  // since the last packet either way
  std::chrono::milliseconds silent_{0};    // since the start, while nothing was heard
  bool heard_ = false;
  friend struct T38Callbacks;
};

}  // namespace fax
