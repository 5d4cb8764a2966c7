// connect_tones.hpp — is this audio a fax? The tones a fax machine makes at the start of a call,
// heard in the audio: CNG from a calling fax, CED/ANS or ANSam from an answering one, and the
// V.21 HDLC preamble of T.30 signalling (a fax that skipped its tone, or a late start).
//
// STANDARDS: ITU-T T.30 §4 (CNG: 1100 Hz, 0.5 s on, 3 s off; CED: 2100 Hz for 2.6-4 s), ITU-T
// V.25 (ANS, /ANS), V.8 (ANSam), V.21 channel 2 (the 0x7E flags of the preamble), through
// spandsp's modem_connect_tones_rx: one detector for CNG, one for CED/ANS/ANSam or the preamble.
// Measured in spandsp 0.0.6: CNG is reported ~415 ms into a burst, ANS/ANSam ~550 ms into the
// tone, the preamble after 5 flags (~135 ms); the floor is about -43 dBm0. Speech and music do not
// hold a pure 1100 or 2100 Hz tone for that long (the tests play both for a minute).
// THREADS: one thread per detector (spandsp); no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

struct modem_connect_tones_rx_state_s;

namespace fax {

enum class Tone { cng, ced, ansam, v21_preamble };
std::string_view name(Tone t);

class ToneDetector {
 public:
  ToneDetector();
  ~ToneDetector();
  ToneDetector(const ToneDetector&) = delete;
  ToneDetector& operator=(const ToneDetector&) = delete;
  // Samples heard; the first tone recognised in them, if any (each start of a tone once).
  std::optional<Tone> process(std::span<const int16_t> samples);

 private:
  modem_connect_tones_rx_state_s* cng_ = nullptr;
  modem_connect_tones_rx_state_s* ced_ = nullptr;
  std::optional<Tone> found_;
  friend struct ToneCallbacks;
};

}  // namespace fax
