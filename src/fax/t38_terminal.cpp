// t38_terminal.cpp — spandsp t38_terminal driven from a tick (see t38_terminal.hpp).
#include "fax/t38_terminal.hpp"

#include <spandsp.h>

#include <algorithm>

namespace fax {

struct T38Callbacks {
  static int tx_packet(t38_core_state_t*, void* user, const uint8_t* buf, int len, int count) {
    auto* self = static_cast<T38Terminal*>(user);
    self->since_rx_ = std::chrono::milliseconds(0);  // quiet is measured both ways
    if (len > 0) self->send_(std::span<const uint8_t>(buf, size_t(len)), std::max(count, 1));
    return 0;
  }
};

T38Terminal::T38Terminal(Options opt, T38Config cfg, SendIfp send)
    : Terminal(std::move(opt)), cfg_(cfg), send_(std::move(send)) {
  t38_ = t38_terminal_init(nullptr, opt_.calling, &T38Callbacks::tx_packet, this);
  if (!t38_) {
    result_.finished = true;
    result_.reason = "the T.38 terminal could not be created";
    return;
  }
  t38_terminal_set_config(t38_, cfg_.paced ? 0 : T38_TERMINAL_OPTION_NO_PACING);
  t38_terminal_set_fill_bit_removal(t38_, cfg_.fill_bit_removal);
  t38_terminal_set_tep_mode(t38_, false);
  t38_core_state_t* core = t38_terminal_get_t38_core_state(t38_);
  t38_set_t38_version(core, cfg_.version);
  t38_set_fastest_image_data_rate(core, opt_.max_bit_rate);
  attach(t38_terminal_get_t30_state(t38_));
  if (!opt_.trace_tag.empty()) {
    for (logging_state_t* l : {t38_core_get_logging_state(core), t38_terminal_get_logging_state(t38_)}) {
      trace_to_log(l, opt_.trace_tag);
    }
  }
}

T38Terminal::~T38Terminal() {
  if (!t38_) return;
  detach();
  t38_terminal_release(t38_);
  t38_terminal_free(t38_);
}

void T38Terminal::receive_ifp(std::span<const uint8_t> ifp, uint16_t seq) {
  if (result_.finished || !t38_) return;
  heard_ = true;
  since_rx_ = std::chrono::milliseconds(0);
  take_rows();
  t38_core_rx_ifp_packet(t38_terminal_get_t38_core_state(t38_), ifp.data(), int(ifp.size()), seq);
}

void T38Terminal::tick(int ms) {
  if (result_.finished || !t38_) return;
  take_rows();
  t38_terminal_send_timeout(t38_, ms * 8);
  if (result_.finished) return;
  since_rx_ += std::chrono::milliseconds(ms);
  if (!heard_) silent_ += std::chrono::milliseconds(ms);
  const std::string secs = std::to_string(cfg_.idle_timeout.count() / 1000);
  if (heard_ && since_rx_ >= cfg_.idle_timeout) {
    abort("the far end stopped sending T.38 packets (" + secs + " s without a packet either way)");
  } else if (!heard_ && silent_ >= cfg_.idle_timeout) {
    // Both ends send indicator packets within a second of the start: a far end that sends
    // nothing at all has no T.38 terminal behind its answer.
    abort("the far end sent no T.38 packet (" + secs + " s)");
  }
}

}  // namespace fax
