// terminal.cpp — spandsp's T.30 configured and reported, for every kind of terminal (see terminal.hpp).
#include "fax/terminal.hpp"

#include "core/log.hpp"

#include <spandsp.h>
#include <spandsp/expose.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fax {

namespace {
void trace_line(int level, const char* text) {
  std::string_view t = text ? text : "";
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.remove_suffix(1);
  if (t.empty()) return;
  // spandsp's own errors are ours; a protocol error or warning is the far end's, worth a look.
  const int severity = level & SPAN_LOG_SEVERITY_MASK;
  const fb::LogLevel l = severity == SPAN_LOG_ERROR ? fb::LogLevel::error
                         : severity <= SPAN_LOG_PROTOCOL_WARNING ? fb::LogLevel::warn
                                                                 : fb::LogLevel::info;
  fb::log(l, "t30", t, fb::job_of(t), fb::call_of(t));
}
}  // namespace

void trace_to_log(logging_state_s* l, const std::string& tag) {
  span_log_set_level(l, SPAN_LOG_SHOW_TAG | SPAN_LOG_SHOW_SAMPLE_TIME | SPAN_LOG_SHOW_PROTOCOL | SPAN_LOG_FLOW);
  span_log_set_tag(l, tag.c_str());
  span_log_set_message_handler(l, &trace_line);
}


int Result::bad_rows() const {
  int n = 0;
  for (const auto& p : page) n += p.bad_rows;
  return n;
}

namespace {
int dpi(int pixels_per_metre) { return int(std::lround(pixels_per_metre * 0.0254)); }
// spandsp 0.0.6 t30.c: OPERATION_IN_PROGRESS_T4_RX, the state in which t4.rx is a live receiver.
constexpr int kT4Receiving = 1;
}  // namespace

struct T30Callbacks {
  // t4_rx's row-write hook: each row of a completed page, then (nullptr, 0).
  static int row(void* user, const uint8_t* buf, size_t len) {
    auto* self = static_cast<Terminal*>(user);
    if (buf && len) {
      self->rows_.insert(self->rows_.end(), buf, buf + len);
      self->row_bytes_ = int(len);
    }
    return 0;
  }
  static int phase_b(t30_state_t*, void* user, int) {
    static_cast<Terminal*>(user)->result_.phase_b = true;
    return T30_ERR_OK;
  }
  static int phase_d(t30_state_t* s, void* user, int) {
    auto* self = static_cast<Terminal*>(user);
    t30_stats_t st;
    t30_get_transfer_statistics(s, &st);
    int done = self->opt_.transmit ? st.pages_tx : st.pages_rx;
    if (done > int(self->result_.page.size())) {
      PageResult p;
      p.number = done;
      p.rows = st.length;
      p.bad_rows = st.bad_rows;
      p.longest_bad_run = st.longest_bad_row_run;
      p.width = st.width;
      p.x_dpi = dpi(st.x_resolution);
      p.y_dpi = dpi(st.y_resolution);
      p.bit_rate = st.bit_rate;
      p.ecm = st.error_correcting_mode != 0;
      self->result_.page.push_back(p);
      self->result_.pages = done;
      if (self->opt_.page_out && !self->opt_.transmit) {
        // Every page T.30 counted is handed over; one whose rows the hook missed comes with none
        // (and fails the reception by name) rather than vanishing from a fax reported whole.
        ReceivedPage rp;
        rp.number = done;
        rp.width = self->row_bytes_ > 0 ? (self->row_bytes_ * 8 == st.width ? st.width : self->row_bytes_ * 8) : 0;
        rp.rows = self->row_bytes_ > 0 ? int(self->rows_.size() / size_t(self->row_bytes_)) : 0;
        rp.x_dpi = p.x_dpi;
        rp.y_dpi = p.y_dpi;
        rp.bad_rows = p.bad_rows;
        rp.longest_bad_run = p.longest_bad_run;
        rp.bits = std::move(self->rows_);
        self->rows_.clear();
        self->opt_.page_out(std::move(rp));
      }
      if (self->opt_.on_page) self->opt_.on_page(done);
    }
    return T30_ERR_OK;
  }
  static void phase_e(t30_state_t* s, void* user, int code) {
    auto* self = static_cast<Terminal*>(user);
    t30_stats_t st;
    t30_get_transfer_statistics(s, &st);
    auto& r = self->result_;
    r.finished = true;
    r.completion_code = code;
    r.reason = t30_completion_code_to_str(code);
    r.pages = self->opt_.transmit ? st.pages_tx : st.pages_rx;
    r.pages_total = self->opt_.transmit ? std::max(0, st.pages_in_file - self->opt_.first_page) : r.pages;
    r.bit_rate = st.bit_rate;
    r.ecm = st.error_correcting_mode != 0;
    if (const char* id = t30_get_rx_ident(s)) r.remote_ident = id;
    if (const char* sub = t30_get_rx_sub_address(s)) r.remote_subaddress = sub;
    r.success = code == T30_ERR_OK && (!self->opt_.transmit || r.pages == r.pages_total);
  }
};

// The derived terminal has freed spandsp's state by now: its file is closed.
Terminal::~Terminal() {
  if (!opt_.transmit && opt_.page_out) std::remove(scratch_file(opt_.file).c_str());
}

void Terminal::attach(t30_state_t* t30) {
  t30_ = t30;
  t30_set_tx_ident(t30, opt_.station_id.substr(0, 20).c_str());
  if (!opt_.header.empty()) {
    t30_set_tx_page_header_info(t30, opt_.header.c_str());
    t30_set_tx_page_header_overlays_image(t30, false);  // rows above the page, never over it
  }
  if (!opt_.subaddress.empty()) t30_set_tx_sub_address(t30, opt_.subaddress.c_str());
  t30_set_ecm_capability(t30, opt_.ecm);
  // Announce SUB support (DIS bit) so callers send the T.33 subaddress to us.
  t30_set_supported_t30_features(t30, T30_SUPPORT_IDENTIFICATION | T30_SUPPORT_SUB_ADDRESSING);
  t30_set_supported_compressions(t30, T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION | T30_SUPPORT_T6_COMPRESSION);
  int modems = T30_SUPPORT_V27TER | T30_SUPPORT_V29 | (opt_.max_bit_rate >= 12000 ? T30_SUPPORT_V17 : 0);
  t30_set_supported_modems(t30, modems);
  // A resumed send starts at the first page the far end did not confirm (spandsp counts from 0).
  if (opt_.transmit) t30_set_tx_file(t30, opt_.file.c_str(), opt_.first_page > 0 ? opt_.first_page : -1, -1);
  else t30_set_rx_file(t30, (opt_.page_out ? scratch_file(opt_.file) : opt_.file).c_str(), -1);
  if (!opt_.trace_tag.empty()) trace_to_log(t30_get_logging_state(t30), opt_.trace_tag);
  t30_set_phase_b_handler(t30, &T30Callbacks::phase_b, this);
  t30_set_phase_d_handler(t30, &T30Callbacks::phase_d, this);
  t30_set_phase_e_handler(t30, &T30Callbacks::phase_e, this);
}

void Terminal::take_rows() {
  if (!t30_ || opt_.transmit || !opt_.page_out || result_.finished) return;
  if (t30_->operation_in_progress != kT4Receiving) return;
  t4_t6_decode_state_t& d = t30_->t4.rx.t4_t6_rx;
  if (d.row_write_handler != &T30Callbacks::row || d.row_write_user_data != this) {
    t4_rx_set_row_write_handler(&t30_->t4.rx, &T30Callbacks::row, this);
  }
}

void Terminal::detach() {
  if (t30_ && !result_.finished) t30_terminate(t30_);
  t30_ = nullptr;
}

void Terminal::abort(const std::string& reason) {
  if (result_.finished || !t30_) return;
  t30_terminate(t30_);  // may run phase E with a code of its own
  bool clean = result_.finished && result_.success;
  t30_stats_t st;
  t30_get_transfer_statistics(t30_, &st);
  if (opt_.transmit && result_.pages_total == 0) result_.pages_total = std::max(0, st.pages_in_file - opt_.first_page);
  if (opt_.transmit) result_.pages = std::max(result_.pages, st.pages_tx);
  result_.finished = true;
  // A sender whose every page the far end confirmed (MCF) has delivered the document, even if
  // the far end hung up before our phase E ran.
  if (!clean && opt_.transmit && result_.pages_total > 0 && result_.pages == result_.pages_total) {
    result_.success = true;
    result_.completion_code = T30_ERR_OK;
    result_.reason = "OK (the far end hung up after confirming every page)";
    if (const char* id = t30_get_rx_ident(t30_)) result_.remote_ident = id;
    result_.bit_rate = st.bit_rate;
    result_.ecm = st.error_correcting_mode != 0;
    return;
  }
  if (!clean) {
    result_.success = false;
    result_.reason = reason;
  }
}

}  // namespace fax
