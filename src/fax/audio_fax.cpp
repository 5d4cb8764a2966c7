// audio_fax.cpp — spandsp fax_state driven by the media tick (see audio_fax.hpp).
#include "fax/audio_fax.hpp"

#include <spandsp.h>

#include <algorithm>

namespace fax {

AudioTerminal::AudioTerminal(Options opt) : Terminal(std::move(opt)) {
  fax_ = fax_init(nullptr, opt_.calling);
  if (!fax_) {
    result_.finished = true;
    result_.reason = "the audio fax terminal could not be created";
    return;
  }
  fax_set_transmit_on_idle(fax_, true);
  fax_set_tep_mode(fax_, false);
  attach(fax_get_t30_state(fax_));
  if (!opt_.trace_tag.empty()) trace_to_log(fax_get_logging_state(fax_), opt_.trace_tag);
}

AudioTerminal::~AudioTerminal() {
  if (!fax_) return;
  detach();
  fax_free(fax_);
}

void AudioTerminal::process(std::span<const int16_t> heard, std::span<int16_t> send, std::span<const Missing> missing) {
  if (!fax_ || result_.finished) {
    std::fill(send.begin(), send.end(), int16_t(0));
    return;
  }
  take_rows();
  scratch_.assign(heard.begin(), heard.end());
  size_t at = 0;
  for (const auto& m : missing) {
    if (m.offset < at || m.offset + m.length > scratch_.size()) continue;
    if (m.offset > at) fax_rx(fax_, scratch_.data() + at, int(m.offset - at));
    if (m.length) fax_rx_fillin(fax_, int(m.length));
    at = m.offset + m.length;
  }
  if (at < scratch_.size()) fax_rx(fax_, scratch_.data() + at, int(scratch_.size() - at));
  if (result_.finished) {  // phase E ran inside fax_rx
    std::fill(send.begin(), send.end(), int16_t(0));
    return;
  }
  int n = fax_tx(fax_, send.data(), int(send.size()));
  if (n < int(send.size())) std::fill(send.begin() + n, send.end(), int16_t(0));
}

}  // namespace fax
