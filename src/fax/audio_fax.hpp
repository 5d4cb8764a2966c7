// audio_fax.hpp — a fax terminal on G.711 audio: spandsp's fax_state, its modems in the audio
// (V.21 for T.30 signalling; V.27ter, V.29 and V.17 for pages). See terminal.hpp for T.30.
//
// STANDARDS: ITU-T T.30 (terminal.hpp; the calling side sends CNG, the answering side CED then
// DIS, both by themselves), ITU-T V.21 ch.2, V.27ter, V.29, V.17 (spandsp's modems), G.711
// through media/g711.hpp.
// Clock: spandsp's T.30 timers advance only with received samples, so the owner passes exactly as
// many heard samples as it takes samples to send, every tick, silence included (the playout buffer
// plays silence where nothing arrived). transmit_on_idle is on: a full buffer of samples is
// always produced (silence between signals), so our RTP stream never stops.
// Loss: samples that never arrived are given to spandsp's fill-in (fax_rx_fillin), which keeps the
// modems' carrier and symbol timing running through the gap; fed as silence instead, a 20 ms gap
// drops a V.17/V.29 carrier and the rest of the page or ECM block with it (measured: 0.5% loss
// then failed every two-page fax, with fill-in ECM delivers them at 1%).
// ../shared/specs/spandsp-notes.md: fax_rx modifies its input, so the heard samples are copied.
// LIMITS: terminal.hpp.
#pragma once

#include <cstdint>
#include <cstddef>
#include <span>
#include <vector>

#include "fax/terminal.hpp"

struct fax_state_s;

namespace fax {

class AudioTerminal final : public Terminal {
 public:
  explicit AudioTerminal(Options opt);
  ~AudioTerminal() override;
  // A run of heard samples that is missing (lost or late): [offset, offset + length).
  struct Missing {
    size_t offset = 0;
    size_t length = 0;
  };
  // One step of the line: the far end's samples in (with the runs that never arrived), ours out
  // (the same number).
  void process(std::span<const int16_t> heard, std::span<int16_t> send, std::span<const Missing> missing = {});

 private:
  fax_state_s* fax_ = nullptr;
  std::vector<int16_t> scratch_;
};

}  // namespace fax
