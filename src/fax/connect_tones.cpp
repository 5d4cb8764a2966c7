// connect_tones.cpp — CNG, CED/ANSam and V.21 preamble detection (see connect_tones.hpp).
#include "fax/connect_tones.hpp"

#include <spandsp.h>

namespace fax {

std::string_view name(Tone t) {
  switch (t) {
    case Tone::cng: return "CNG";
    case Tone::ced: return "CED";
    case Tone::ansam: return "ANSam";
    case Tone::v21_preamble: return "V.21 preamble";
  }
  return "?";
}

struct ToneCallbacks {
  static void report(void* user, int code, int /*level*/, int /*delay*/) {
    auto* self = static_cast<ToneDetector*>(user);
    if (self->found_) return;  // the first of this batch of samples is reported
    switch (code) {
      case MODEM_CONNECT_TONES_FAX_CNG: self->found_ = Tone::cng; break;
      case MODEM_CONNECT_TONES_ANS:
      case MODEM_CONNECT_TONES_ANS_PR: self->found_ = Tone::ced; break;
      case MODEM_CONNECT_TONES_ANSAM:
      case MODEM_CONNECT_TONES_ANSAM_PR: self->found_ = Tone::ansam; break;
      case MODEM_CONNECT_TONES_FAX_PREAMBLE: self->found_ = Tone::v21_preamble; break;
      default: break;  // MODEM_CONNECT_TONES_NONE: a tone stopped
    }
  }
};

ToneDetector::ToneDetector() {
  cng_ = modem_connect_tones_rx_init(nullptr, MODEM_CONNECT_TONES_FAX_CNG, &ToneCallbacks::report, this);
  ced_ = modem_connect_tones_rx_init(nullptr, MODEM_CONNECT_TONES_FAX_CED_OR_PREAMBLE, &ToneCallbacks::report, this);
}

ToneDetector::~ToneDetector() {
  if (cng_) modem_connect_tones_rx_free(cng_);
  if (ced_) modem_connect_tones_rx_free(ced_);
}

std::optional<Tone> ToneDetector::process(std::span<const int16_t> samples) {
  found_.reset();
  if (cng_) modem_connect_tones_rx(cng_, samples.data(), int(samples.size()));
  if (ced_) modem_connect_tones_rx(ced_, samples.data(), int(samples.size()));
  return found_;
}

}  // namespace fax
