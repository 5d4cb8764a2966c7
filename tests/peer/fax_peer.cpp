// fax_peer.cpp — the fax test peer (testing-peers.md): a SIP endpoint made from our own sip/,
// media/ and fax/ parts that places or answers one real fax call, over T.38 or G.711 audio, and
// injects faults that SIPp and Net::SIP cannot: extra headers (an Exchange Referred-By), hang up
// after page N, a session refresh by re-INVITE or UPDATE at time T, stop sending mid-fax, answer
// with a given SIP code, a T.38 re-INVITE at time T or refusing the other side's (488), a sample
// clock that runs fast or slow, RFC 4733 fax events, audio played from a file instead of a fax,
// and taking a REFER (transferee). It writes what happened as JSON (--report) and exits.
//
//   fax_peer answer --listen 127.0.0.1:0 --port-file F [--answer-code N] [--rx FILE] [options] --report R
//   fax_peer call --to sip:+1555@127.0.0.1:5060 [--tiff FILE | --play FILE] [--subaddress S]
//                 [--header "N: v"]... [options] --report R
//   media:  --media t38|audio (what a call offers; an answer takes T.38 if offered and not refused)
//           --codec pcmu|pcma  --refuse-t38  --reinvite-t38-at S  --clock-ppm N
//           --send-event cng|ced  (RFC 4733, at the start of the audio)  --play FILE (8 kHz 16-bit
//           mono WAV, looped, instead of a fax terminal)  --no-red (offer no RFC 2198 redundancy)
//   faults: --hangup-after-page N  --refresh-at S [--refresh-method invite|update]  --stop-media-at S
//   REFER:  --refer-result N (answer a REFER with 202, then NOTIFY "SIP/2.0 N ...")
//   T.38:   --t38-version N (offered, and what a re-offer says)  --move-t38-at S (re-INVITE to a new
//           UDPTL port mid-fax, and number the datagrams from 0 again there: an SBC moving the stream)
//   SIP:    --session-expires N [--refresher uac|uas] (on the INVITE, with Supported: timer)
//
//   fax_peer media --port-file F [--tiff FILE | --rx FILE] --report R
//           media without SIP, for a SIPp scenario's SDP to point at: G.711 PCMU (payload type 0)
//           on 127.0.0.1, sent to where the first RTP packet came from; sends --tiff as the calling
//           terminal, else answers and receives into --rx.
//
// Exit 0 when the call ran (whatever its fax result: the report says), 2 on usage errors.
#include <CLI/CLI.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>

#include <asio.hpp>
#include <nlohmann/json.hpp>

#include "fax/audio_fax.hpp"
#include "fax/connect_tones.hpp"
#include "fax/t38_terminal.hpp"
#include "media/audio_stream.hpp"
#include "media/udptl.hpp"
#include "sip/endpoint.hpp"
#include "sip/fax_sdp.hpp"
#include "sip/sdp.hpp"

namespace {

using asio::ip::udp;
using Clock = std::chrono::steady_clock;

struct Options {
  bool call = false;
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  std::string to;
  std::string tiff;
  std::string rx = "fax_peer_rx.tif";
  std::string subaddress;
  std::vector<std::string> headers;
  int answer_code = 200;
  int hangup_after_page = 0;
  double refresh_at = -1;
  std::string refresh_method = "invite";
  double stop_media_at = -1;
  std::string report;
  int timeout_s = 300;
  std::string media = "t38";
  std::string codec = "pcmu";
  bool refuse_t38 = false;
  double reinvite_t38_at = -1;
  double clock_ppm = 0;
  std::string send_event;
  std::string play;
  bool no_red = false;
  int refer_result = 0;
  bool media_only = false;
  int t38_version = 0;
  double move_t38_at = -1;
  int session_expires = 0;
  std::string refresher;
};

std::vector<int16_t> read_wav(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // RIFF/WAVE: find the "data" chunk (16-bit mono 8 kHz, as sox writes with -r 8000 -c 1 -b 16).
  size_t pos = 12;
  while (pos + 8 <= b.size()) {
    uint32_t len = uint8_t(b[pos + 4]) | uint8_t(b[pos + 5]) << 8 | uint8_t(b[pos + 6]) << 16 | uint32_t(uint8_t(b[pos + 7])) << 24;
    if (std::string(&b[pos], 4) == "data") {
      std::vector<int16_t> s;
      for (size_t i = pos + 8; i + 1 < b.size() && i + 1 < pos + 8 + len; i += 2) {
        s.push_back(int16_t(uint8_t(b[i]) | uint8_t(b[i + 1]) << 8));
      }
      return s;
    }
    pos += 8 + len + (len & 1);
  }
  return {};
}

class Peer final : public sip::CallHandler {
 public:
  Peer(asio::io_context& io, Options o)
      : io_(io), o_(std::move(o)), ep_(io, *this, "faxbridge-test-peer"), ticker_(io) {}

  void start() {
    auto colon = o_.listen.rfind(':');
    ep_.start({{sip::Transport::udp, o_.listen.substr(0, colon), uint16_t(std::stoi(o_.listen.substr(colon + 1)))}});
    if (!o_.port_file.empty() && !o_.media_only) std::ofstream(o_.port_file) << ep_.bound().front().port << "\n";
    media_ = std::make_unique<udp::socket>(io_, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    t38_sock_ = std::make_unique<udp::socket>(io_, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    if (!o_.play.empty()) {
      play_ = read_wav(o_.play);
      if (play_.empty()) throw std::runtime_error("cannot read 8 kHz 16-bit WAV " + o_.play);
    }
    deadline_ = Clock::now() + std::chrono::seconds(o_.timeout_s);
    if (o_.media_only) {
      if (!o_.port_file.empty()) std::ofstream(o_.port_file) << media_->local_endpoint().port() << "\n";
      wait_for_media();
    }
    if (o_.call && !o_.media_only) place();
    next_tick_ = Clock::now();
    tick();
  }

 private:
  fax_sdp::Codec codec() const { return o_.codec == "pcma" ? fax_sdp::Codec::pcma : fax_sdp::Codec::pcmu; }

  std::string t38_sdp(sdp::T38Params p, udp::socket* sock = nullptr) {
    p.version = o_.t38_version;
    return fax_sdp::offer_t38({"127.0.0.1", 1, ++sdp_version_}, (sock ? sock : t38_sock_.get())->local_endpoint().port(), p);
  }

  // Media mode: the first RTP packet names the far end; then an audio fax terminal runs.
  void wait_for_media() {
    media_->async_receive_from(asio::buffer(abuf_), afrom_, [this](std::error_code ec, size_t) {
      if (ec) return;
      fax_sdp::RemoteAudio a;
      a.ip = afrom_.address().to_string();
      a.port = afrom_.port();
      a.codec = fax_sdp::Codec::pcmu;
      a.payload_type = 0;
      o_.no_red = true;
      report_["media_from"] = a.ip + ":" + std::to_string(a.port);
      start_audio(a);
    });
  }

  // An SBC moving the T.38 stream mid-fax: a re-INVITE naming a new port; once it is accepted the
  // datagrams leave from there, numbered from 0 again.
  void move_t38() {
    moving_sock_ = std::make_unique<udp::socket>(io_, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    sdp::T38Params p;
    p.max_buffer = 2000;
    p.max_datagram = 400;
    moving_ = ep_.ua().reinvite(call_, t38_sdp(p, moving_sock_.get()), sip::Clock::now());
    report_["move_sent"] = moving_;
    report_["move_sent_at_page"] = fax_ ? fax_->result().pages : 0;
  }
  std::string audio_sdp() {
    fax_sdp::AudioOffer a;
    a.codecs = {codec()};
    a.red = !o_.no_red;
    return fax_sdp::offer_audio({"127.0.0.1", 1, ++sdp_version_}, media_->local_endpoint().port(), a);
  }

  void place() {
    sip::OutgoingCall oc;
    oc.request_uri = o_.to;
    auto u = sip::parse_uri(o_.to);
    oc.next_hop = sip::Address{u->host, uint16_t(u->port ? u->port : 5060), sip::Transport::udp};
    oc.from_user = "+15550199";
    sdp::T38Params p;
    p.max_buffer = 2000;
    p.max_datagram = 400;
    oc.sdp = o_.media == "audio" ? audio_sdp() : t38_sdp(p);
    for (const auto& h : o_.headers) {
      auto c = h.find(':');
      oc.extra_headers.push_back({h.substr(0, c), h.substr(c + 1 + (h[c + 1] == ' '))});
    }
    if (o_.session_expires > 0) {
      oc.extra_headers.push_back({"Session-Expires", std::to_string(o_.session_expires) +
                                                         (o_.refresher.empty() ? "" : ";refresher=" + o_.refresher)});
    }
    auto id = ep_.ua().invite(oc, sip::Clock::now());
    if (!id) return finish("the INVITE could not be sent");
    call_ = *id;
    ep_.kick();
  }

  fax::Options fax_options(bool transmit) const {
    fax::Options o;
    o.calling = o_.call;
    o.transmit = transmit;
    o.file = transmit ? o_.tiff : o_.rx;
    o.station_id = "PEER";
    o.subaddress = o_.subaddress;
    return o;
  }

  bool transmit() const { return o_.call && !o_.tiff.empty(); }

  void start_t38(const sdp::Session& remote_sdp, const fax_sdp::RemoteT38& m) {
    udptl::EncoderConfig ec;
    ec.mode = m.params.ec == sdp::Ec::fec ? udptl::Mode::fec : m.params.ec == sdp::Ec::none ? udptl::Mode::none : udptl::Mode::redundancy;
    ec.max_datagram = size_t(m.params.max_datagram.value_or(400));
    enc_.emplace(ec);
    enc_cfg_ = ec;
    dec_ = udptl::Decoder{};
    remote_t38_ = udp::endpoint(asio::ip::make_address(m.ip), m.port);
    if (fax_) report_["restarted_after_page"] = fax_->result().pages;
    audio_fax_ = nullptr;
    stream_.reset();
    fax_ = std::make_unique<fax::T38Terminal>(fax_options(transmit()), fax::T38Config{}, [this](std::span<const uint8_t> ifp, int copies) {
      if (media_stopped_) return;
      for (int i = 0; i < copies; ++i) {
        auto d = enc_->next(ifp);
        std::error_code e;
        t38_sock_->send_to(asio::buffer(d), remote_t38_, 0, e);
      }
    });
    t38_ = static_cast<fax::T38Terminal*>(fax_.get());
    media_kind_ = "t38";
    report_["media"] = report_.value("media", std::string()).empty() ? "t38" : report_["media"].get<std::string>() + "+t38";
    if (fax_started_ == Clock::time_point{}) fax_started_ = Clock::now();
    read_t38();
  }

  void start_audio(const fax_sdp::RemoteAudio& a) {
    audio::StreamConfig cfg;
    cfg.law = a.codec == fax_sdp::Codec::pcmu ? g711::Law::ulaw : g711::Law::alaw;
    cfg.payload_type = a.payload_type;
    cfg.event_pt = a.event_pt;
    cfg.red_pt = o_.no_red ? std::nullopt : a.red_pt;
    cfg.seed = 4242;
    stream_.emplace(cfg);
    remote_audio_ = udp::endpoint(asio::ip::make_address(a.ip), a.port);
    media_kind_ = "audio";
    report_["media"] = std::string(fax_sdp::name(a.codec));
    report_["red"] = cfg.red_pt.has_value();
    if (play_.empty()) {
      fax_ = std::make_unique<fax::AudioTerminal>(fax_options(transmit()));
      audio_fax_ = static_cast<fax::AudioTerminal*>(fax_.get());
    }
    if (!o_.send_event.empty()) {
      uint8_t e = o_.send_event == "ced" ? rfc4733::event::ans : rfc4733::event::cng;
      report_["event_sent"] = stream_->send_event(e, 500);
    }
    fax_started_ = Clock::now();
    read_audio();
  }

  void read_t38() {
    t38_sock_->async_receive_from(asio::buffer(buf_), from_, [this](std::error_code ec, size_t n) {
      if (ec) return;
      if (t38_ && !media_stopped_ && media_kind_ == "t38") {
        for (const auto& ifp : dec_.receive(std::span<const uint8_t>(buf_.data(), n))) t38_->receive_ifp(ifp.data, ifp.seq);
      }
      read_t38();
    });
  }

  void read_audio() {
    if (reading_audio_) return;
    reading_audio_ = true;
    media_->async_receive_from(asio::buffer(abuf_), afrom_, [this](std::error_code ec, size_t n) {
      reading_audio_ = false;
      if (ec) return;
      if (stream_ && !media_stopped_) stream_->receive(std::span<const uint8_t>(abuf_.data(), n), audio_clock_);
      read_audio();
    });
  }

  // Answer an offer (the INVITE's or a re-INVITE's): T.38 when offered and not refused, else audio.
  std::optional<std::string> answer(const sdp::Session& offer) {
    auto t38 = o_.refuse_t38 ? std::nullopt : fax_sdp::find_t38(offer);
    if (t38) {
      auto ans = fax_sdp::answer_t38(offer, *t38, {"127.0.0.1", 1, ++sdp_version_}, t38_sock_->local_endpoint().port(),
                                     sdp::T38Capabilities{});
      if (media_kind_ == "t38") {
        remote_t38_ = udp::endpoint(asio::ip::make_address(t38->ip), t38->port);  // a refresh: the fax goes on
      } else {
        start_t38(offer, *t38);
      }
      return ans.sdp;
    }
    if (auto a = fax_sdp::find_audio(offer, {codec()})) {
      if (media_kind_ == "audio") {  // a refresh or a moved stream: the fax goes on
        remote_audio_ = udp::endpoint(asio::ip::make_address(a->ip), a->port);
      } else {
        start_audio(*a);
      }
      return fax_sdp::answer_audio(offer, *a, {"127.0.0.1", 1, ++sdp_version_}, media_->local_endpoint().port(), true,
                                   !o_.no_red);
    }
    return std::nullopt;
  }

  void on_incoming(sip::CallId id, const sip::Message& invite, const sip::Address&) override {
    call_ = id;
    report_["invite_headers"] = nlohmann::json::object();
    for (const auto& h : invite.headers) {
      auto& slot = report_["invite_headers"][h.name];
      slot = slot.is_string() ? slot.get<std::string>() + ", " + h.value : h.value;  // list fields joined
    }
    report_["invite_sdp"] = invite.body;
    if (o_.answer_code != 200) {
      ep_.ua().reject(id, o_.answer_code, "", sip::Clock::now());
      return;
    }
    auto offer = sdp::parse(invite.body);
    auto ans = offer ? answer(*offer) : std::nullopt;
    if (!ans) {
      ep_.ua().reject(id, 488, "", sip::Clock::now());
      return;
    }
    answered_at_ = Clock::now();
    ep_.ua().answer(id, *ans, sip::Clock::now());
  }

  void on_answered(sip::CallId, const sip::Message& answer) override {
    answered_at_ = Clock::now();
    auto s = sdp::parse(answer.body);
    report_["sip_status"] = answer.status;
    report_["answer_sdp"] = answer.body;
    if (!s) return finish("bad answer");
    if (auto t = fax_sdp::find_t38(*s)) return start_t38(*s, *t);
    if (auto a = fax_sdp::find_audio(*s, {codec()})) return start_audio(*a);
    finish("no usable stream in the answer");
  }

  void on_failed(sip::CallId, int status, const std::string& reason) override {
    report_["sip_status"] = status;
    finish(reason);
  }

  std::optional<std::string> on_offer(sip::CallId, const std::string& offer) override {
    report_["offers_received"] = report_.value("offers_received", 0) + 1;
    auto s = sdp::parse(offer);
    if (!s) return std::nullopt;
    if (fax_sdp::find_t38(*s)) {
      report_["t38_offers"] = report_.value("t38_offers", 0) + 1;
      report_["t38_offer_after_s"] = seconds_since(answered_at_);
      if (o_.refuse_t38) return std::nullopt;  // 488
    }
    return answer(*s);
  }

  void on_reinvite_result(sip::CallId, const sip::Message& r) override {
    if (moving_) {
      moving_ = false;
      report_["move_status"] = r.status;
      if (r.status >= 200 && r.status < 300 && enc_) {
        t38_sock_->close();
        t38_sock_ = std::move(moving_sock_);
        udptl::EncoderConfig ec = enc_cfg_;
        enc_.emplace(ec);  // sequence numbers from 0 again
        if (auto s = sdp::parse(r.body); s) {
          if (auto t = fax_sdp::find_t38(*s)) remote_t38_ = udp::endpoint(asio::ip::make_address(t->ip), t->port);
        }
        read_t38();
      }
      return;
    }
    report_["refresh_status"].push_back(r.status);
    if (reinvited_ && !switched_ && r.status >= 200 && r.status < 300) {
      switched_ = true;
      if (auto s = sdp::parse(r.body); s) {
        if (auto t = fax_sdp::find_t38(*s)) start_t38(*s, *t);
      }
    }
  }

  int on_refer(sip::CallId, const sip::Message& refer) override {
    report_["refer_to"] = refer.get("Refer-To").value_or("");
    report_["refer_after_s"] = seconds_since(answered_at_);
    if (o_.refer_result == 0) return 603;
    // 202, then how the transfer went (RFC 3515 §2.4.5), once the REFER's answer is out.
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(200));
    t->async_wait([this, t](std::error_code) {
      ep_.ua().notify_refer(call_, "SIP/2.0 100 Trying", false, sip::Clock::now());
      std::string line = "SIP/2.0 " + std::to_string(o_.refer_result) + (o_.refer_result < 300 ? " OK" : " Busy Here");
      ep_.ua().notify_refer(call_, line, true, sip::Clock::now());
      ep_.kick();
    });
    return 202;
  }

  void on_ended(sip::CallId, sip::EndCause cause) override {
    report_["end"] = std::string(sip::to_string(cause));
    report_["ended_after_s"] = seconds_since(answered_at_);
    if (fax_ && !fax_->finished()) fax_->abort("the call ended");
    finish("");
  }

  static double seconds_since(Clock::time_point t) {
    return t == Clock::time_point{} ? -1 : std::chrono::duration<double>(Clock::now() - t).count();
  }

  // Our own 20 ms (of our sample clock, which --clock-ppm makes run fast or slow).
  void tick() {
    auto now = Clock::now();
    if (media_kind_ == "audio" && stream_) tick_audio();
    if (t38_ && !t38_->finished()) t38_->tick(20);
    if (fax_started_ != Clock::time_point{}) {
      double t = std::chrono::duration<double>(now - fax_started_).count();
      if (o_.reinvite_t38_at >= 0 && !reinvited_ && t >= o_.reinvite_t38_at && media_kind_ == "audio") {
        reinvited_ = true;
        sdp::T38Params p;
        p.max_buffer = 2000;
        p.max_datagram = 400;
        report_["reinvite_sent"] = ep_.ua().reinvite(call_, t38_sdp(p), sip::Clock::now());
      }
      if (o_.refresh_at >= 0 && !refreshed_ && t >= o_.refresh_at) {
        refreshed_ = true;
        bool ok = ep_.ua().refresh(call_, o_.refresh_method == "update", 1800, sip::Clock::now());
        report_["refresh_sent_at_page"] = fax_ ? fax_->result().pages : 0;
        if (!ok) report_["refresh_status"].push_back(0);
      }
      if (o_.stop_media_at >= 0 && t >= o_.stop_media_at) media_stopped_ = true;
      if (o_.move_t38_at >= 0 && !moved_ && t >= o_.move_t38_at && media_kind_ == "t38") {
        moved_ = true;
        move_t38();
      }
    }
    if (fax_) {
      if (o_.hangup_after_page > 0 && fax_->result().pages >= o_.hangup_after_page && !hung_up_) {
        hung_up_ = true;
        ep_.ua().hangup(call_, sip::Clock::now());
      }
      if (fax_->finished() && !hung_up_) {
        hung_up_ = true;
        if (o_.call) ep_.ua().hangup(call_, sip::Clock::now());
        if (o_.media_only) finish("");
      }
    }
    if (now > deadline_ && !done_) {
      ep_.ua().hangup(call_, sip::Clock::now());
      finish("timeout");
    }
    ep_.kick();
    if (done_) return;
    next_tick_ += std::chrono::nanoseconds(int64_t(20e6 / (1 + o_.clock_ppm * 1e-6)));
    ticker_.expires_at(next_tick_);
    ticker_.async_wait([this](std::error_code ec) {
      if (!ec) tick();
    });
  }

  void tick_audio() {
    std::vector<int16_t> heard(160), sent(160, 0);
    stream_->play(heard, &gaps_);
    if (!detected_ && tones_.process(heard)) {
      detected_ = true;
      report_["tone_heard_after_s"] = seconds_since(fax_started_);
    }
    if (audio_fax_) {
      std::vector<fax::AudioTerminal::Missing> missing;
      for (const auto& g : gaps_) missing.push_back({g.offset, g.length});
      audio_fax_->process(heard, sent, missing);
    } else if (!play_.empty()) {
      for (auto& s : sent) {
        s = play_[play_at_];
        play_at_ = (play_at_ + 1) % play_.size();
      }
    }
    audio_clock_ += 160;
    for (auto& p : stream_->send(sent)) {
      std::error_code e;
      if (!media_stopped_) media_->send_to(asio::buffer(p), remote_audio_, 0, e);
    }
  }

  void finish(const std::string& why) {
    if (done_) return;
    done_ = true;
    if (fax_) {
      const auto& r = fax_->result();
      report_["success"] = r.success;
      report_["pages"] = r.pages;
      report_["pages_total"] = r.pages_total;
      report_["bad_rows"] = r.bad_rows();
      report_["reason"] = r.reason;
      report_["remote_ident"] = r.remote_ident;
      report_["subaddress"] = r.remote_subaddress;
      fax_.reset();
    }
    if (stream_) {
      auto s = stream_->stats();
      report_["audio"] = {{"received", s.rtp.received}, {"sent", s.sent}, {"late", s.playout.late},
                          {"inserted", s.playout.inserted}, {"skipped", s.playout.skipped},
                          {"missing", s.playout.silence}, {"events_heard", s.events_heard}};
    }
    if (!why.empty()) report_["why"] = why;
    if (!o_.report.empty()) std::ofstream(o_.report) << report_.dump() << "\n";
    // Let a last BYE/200 go out before leaving.
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(300));
    t->async_wait([this, t](std::error_code) { io_.stop(); });
  }

  asio::io_context& io_;
  Options o_;
  sip::Endpoint ep_;
  asio::steady_timer ticker_;
  Clock::time_point next_tick_;
  std::unique_ptr<udp::socket> media_, t38_sock_;
  udp::endpoint remote_t38_, remote_audio_, from_, afrom_;
  std::array<uint8_t, 4096> buf_{}, abuf_{};
  std::optional<udptl::Encoder> enc_;
  udptl::EncoderConfig enc_cfg_;
  std::unique_ptr<udp::socket> moving_sock_;
  bool moving_ = false, moved_ = false;
  udptl::Decoder dec_;
  std::optional<audio::Stream> stream_;
  std::vector<playout::Gap> gaps_;
  fax::ToneDetector tones_;
  std::unique_ptr<fax::Terminal> fax_;
  fax::T38Terminal* t38_ = nullptr;
  fax::AudioTerminal* audio_fax_ = nullptr;
  std::string media_kind_;
  std::vector<int16_t> play_;
  size_t play_at_ = 0;
  uint32_t audio_clock_ = 0;
  uint64_t sdp_version_ = 0;
  Clock::time_point fax_started_, deadline_, answered_at_;
  sip::CallId call_ = 0;
  bool refreshed_ = false, media_stopped_ = false, hung_up_ = false, done_ = false, reinvited_ = false,
       switched_ = false, detected_ = false, reading_audio_ = false;
  nlohmann::json report_ = {{"refresh_status", nlohmann::json::array()}};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"faxbridge fax test peer"};
  Options o;
  app.require_subcommand(1);
  auto* answer = app.add_subcommand("answer", "answer one call");
  auto* call = app.add_subcommand("call", "place one call");
  auto* media = app.add_subcommand("media", "run a fax over G.711 RTP without SIP (for a SIPp scenario's SDP)");
  media->add_option("--port-file", o.port_file)->required();
  media->add_option("--listen", o.listen);  // its SIP side is idle; accepted as the other modes take it
  media->add_option("--tiff", o.tiff);
  media->add_option("--rx", o.rx);
  media->add_option("--report", o.report)->required();
  media->add_option("--timeout", o.timeout_s);
  for (auto* sc : {answer, call}) {
    sc->add_option("--listen", o.listen)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    sc->add_option("--port-file", o.port_file);
    sc->add_option("--hangup-after-page", o.hangup_after_page);
    sc->add_option("--refresh-at", o.refresh_at);
    sc->add_option("--refresh-method", o.refresh_method)->check(CLI::IsMember({"invite", "update"}));
    sc->add_option("--stop-media-at", o.stop_media_at);
    sc->add_option("--report", o.report)->required();
    sc->add_option("--timeout", o.timeout_s)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    sc->add_option("--media", o.media)->check(CLI::IsMember({"t38", "audio"}));
    sc->add_option("--codec", o.codec)->check(CLI::IsMember({"pcmu", "pcma"}));
    sc->add_flag("--refuse-t38", o.refuse_t38);
    sc->add_option("--reinvite-t38-at", o.reinvite_t38_at);
    sc->add_option("--clock-ppm", o.clock_ppm);
    sc->add_option("--send-event", o.send_event)->check(CLI::IsMember({"cng", "ced"}));
    sc->add_option("--play", o.play);
    sc->add_flag("--no-red", o.no_red);
    sc->add_option("--refer-result", o.refer_result);
    sc->add_option("--t38-version", o.t38_version)->check(CLI::Range(0, 3));
    sc->add_option("--move-t38-at", o.move_t38_at);
    sc->add_option("--session-expires", o.session_expires);
    sc->add_option("--refresher", o.refresher)->check(CLI::IsMember({"uac", "uas"}));
  }
  answer->add_option("--answer-code", o.answer_code);
  answer->add_option("--rx", o.rx);
  call->add_option("--to", o.to)->required();
  call->add_option("--tiff", o.tiff);
  call->add_option("--subaddress", o.subaddress);
  call->add_option("--header", o.headers);
  CLI11_PARSE(app, argc, argv);
  o.call = call->parsed();
  o.media_only = media->parsed();
  if (o.media_only) o.call = !o.tiff.empty();  // the sender calls (CNG); the receiver answers
  if (o.call && o.tiff.empty() && o.play.empty()) {
    std::cerr << "fax_peer: call needs --tiff or --play" << std::endl;
    return 2;
  }
  asio::io_context io;
  Peer peer(io, o);
  try {
    peer.start();
  } catch (const std::exception& e) {
    std::cerr << "fax_peer: " << e.what() << std::endl;
    return 2;
  }
  io.run();
  return 0;
}
