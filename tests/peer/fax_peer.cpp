// fax_peer.cpp — the fax test peer (testing-peers.md): a SIP/T.38 endpoint made from our own
// sip/, media/ and fax/ parts that places or answers one real fax call and injects faults that
// SIPp and Net::SIP cannot: extra headers (an Exchange Referred-By), hang up after page N, a
// session refresh by re-INVITE or UPDATE at time T, stop sending mid-fax, answer with a given
// SIP code. It writes what happened as JSON (--report) and exits.
//
//   fax_peer answer --listen 127.0.0.1:0 --port-file F [--answer-code N] [--rx FILE] [faults] --report R
//   fax_peer call --to sip:+1555@127.0.0.1:5060 --tiff FILE [--subaddress S] [--header "N: v"]... [faults] --report R
//   faults: --hangup-after-page N  --refresh-at S [--refresh-method invite|update]  --stop-media-at S
//
// Exit 0 when the call ran (whatever its fax result: the report says), 2 on usage errors.
#include <CLI/CLI.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>

#include <asio.hpp>
#include <nlohmann/json.hpp>

#include "fax/t38_terminal.hpp"
#include "media/udptl.hpp"
#include "sip/endpoint.hpp"
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
};

class Peer final : public sip::CallHandler {
 public:
  Peer(asio::io_context& io, Options o) : io_(io), o_(std::move(o)), ep_(io, *this, "faxbridge-test-peer"), ticker_(io) {}

  void start() {
    auto colon = o_.listen.rfind(':');
    ep_.start({{sip::Transport::udp, o_.listen.substr(0, colon), uint16_t(std::stoi(o_.listen.substr(colon + 1)))}});
    if (!o_.port_file.empty()) std::ofstream(o_.port_file) << ep_.bound().front().port << "\n";
    media_ = std::make_unique<udp::socket>(io_, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    deadline_ = Clock::now() + std::chrono::seconds(o_.timeout_s);
    if (o_.call) place();
    tick();
  }

 private:
  std::string sdp(const sdp::T38Params& p) const {
    sdp::Session s;
    s.origin = "peer 1 1 IN IP4 127.0.0.1";
    s.connection = "127.0.0.1";
    sdp::Media m;
    m.type = "image";
    m.port = media_->local_endpoint().port();
    m.proto = "udptl";
    m.formats = {"t38"};
    m.attributes = sdp::t38_attributes(p);
    s.media.push_back(m);
    return sdp::serialize(s);
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
    oc.sdp = sdp(p);
    for (const auto& h : o_.headers) {
      auto c = h.find(':');
      oc.extra_headers.push_back({h.substr(0, c), h.substr(c + 1 + (h[c + 1] == ' '))});
    }
    auto id = ep_.ua().invite(oc, sip::Clock::now());
    if (!id) return finish("the INVITE could not be sent");
    call_ = *id;
    ep_.kick();
  }

  void start_fax(const sdp::Session& remote_sdp, const sdp::Media& m, bool transmit) {
    auto p = sdp::t38_params(m);
    udptl::EncoderConfig ec;
    ec.mode = p && p->ec == sdp::Ec::fec ? udptl::Mode::fec : p && p->ec == sdp::Ec::none ? udptl::Mode::none : udptl::Mode::redundancy;
    ec.max_datagram = size_t(p && p->max_datagram ? *p->max_datagram : 400);
    enc_.emplace(ec);
    remote_ = udp::endpoint(asio::ip::make_address(sdp::address_of(remote_sdp, m).value_or("127.0.0.1")), uint16_t(m.port));
    fax::Options o;
    o.calling = o_.call;
    o.transmit = transmit;
    o.file = transmit ? o_.tiff : o_.rx;
    o.station_id = "PEER";
    o.subaddress = o_.subaddress;
    fax_ = std::make_unique<fax::T38Terminal>(o, fax::T38Config{}, [this](std::span<const uint8_t> ifp, int copies) {
      if (media_stopped_) return;
      for (int i = 0; i < copies; ++i) {
        auto d = enc_->next(ifp);
        std::error_code e;
        media_->send_to(asio::buffer(d), remote_, 0, e);
      }
    });
    fax_started_ = Clock::now();
    read_media();
  }

  void read_media() {
    media_->async_receive_from(asio::buffer(buf_), from_, [this](std::error_code ec, size_t n) {
      if (ec) return;
      if (fax_ && !media_stopped_) {
        for (const auto& ifp : dec_.receive(std::span<const uint8_t>(buf_.data(), n))) fax_->receive_ifp(ifp.data, ifp.seq);
      }
      read_media();
    });
  }

  void on_incoming(sip::CallId id, const sip::Message& invite, const sip::Address&) override {
    call_ = id;
    report_["invite_headers"] = nlohmann::json::object();
    for (const auto& h : invite.headers) {
      auto& slot = report_["invite_headers"][h.name];
      slot = slot.is_string() ? slot.get<std::string>() + ", " + h.value : h.value;  // list fields joined
    }
    if (o_.answer_code != 200) {
      ep_.ua().reject(id, o_.answer_code, "", sip::Clock::now());
      return;
    }
    auto offer = sdp::parse(invite.body);
    if (!offer || offer->media.empty()) {
      ep_.ua().reject(id, 488, "", sip::Clock::now());
      return;
    }
    const auto& m = offer->media.front();
    auto p = sdp::t38_params(m);
    auto ans = sdp::answer_t38(p ? *p : sdp::T38Params{}, sdp::T38Capabilities{});
    ep_.ua().answer(id, sdp(ans), sip::Clock::now());
    start_fax(*offer, m, false);
  }

  void on_answered(sip::CallId, const sip::Message& answer) override {
    auto s = sdp::parse(answer.body);
    if (!s || s->media.empty()) return finish("bad answer");
    report_["sip_status"] = answer.status;
    start_fax(*s, s->media.front(), true);
  }

  void on_failed(sip::CallId, int status, const std::string& reason) override {
    report_["sip_status"] = status;
    finish(reason);
  }

  std::optional<std::string> on_offer(sip::CallId, const std::string& offer) override {
    report_["offers_received"] = report_.value("offers_received", 0) + 1;
    auto s = sdp::parse(offer);
    if (!s || s->media.empty()) return std::nullopt;
    auto p = sdp::t38_params(s->media.front());
    return sdp(sdp::answer_t38(p ? *p : sdp::T38Params{}, sdp::T38Capabilities{}));
  }

  void on_reinvite_result(sip::CallId, const sip::Message& r) override { report_["refresh_status"].push_back(r.status); }

  void on_ended(sip::CallId, sip::EndCause cause) override {
    report_["end"] = std::string(sip::to_string(cause));
    if (fax_ && !fax_->finished()) fax_->abort("the call ended");
    finish("");
  }

  void tick() {
    auto now = Clock::now();
    if (fax_ && !fax_->finished()) {
      fax_->tick(20);
      double t = std::chrono::duration<double>(now - fax_started_).count();
      if (o_.refresh_at >= 0 && !refreshed_ && t >= o_.refresh_at) {
        refreshed_ = true;
        bool ok = ep_.ua().refresh(call_, o_.refresh_method == "update", 1800, sip::Clock::now());
        report_["refresh_sent_at_page"] = fax_->result().pages;
        if (!ok) report_["refresh_status"].push_back(0);
      }
      if (o_.stop_media_at >= 0 && t >= o_.stop_media_at) media_stopped_ = true;
      if (o_.hangup_after_page > 0 && fax_->result().pages >= o_.hangup_after_page && !hung_up_) {
        hung_up_ = true;
        ep_.ua().hangup(call_, sip::Clock::now());
      }
      if (fax_->finished() && !hung_up_) {
        hung_up_ = true;
        if (o_.call) ep_.ua().hangup(call_, sip::Clock::now());
      }
    }
    if (now > deadline_ && !done_) {
      ep_.ua().hangup(call_, sip::Clock::now());
      finish("timeout");
    }
    ep_.kick();
    if (done_) return;
    ticker_.expires_after(std::chrono::milliseconds(20));
    ticker_.async_wait([this](std::error_code ec) {
      if (!ec) tick();
    });
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
  std::unique_ptr<udp::socket> media_;
  udp::endpoint remote_, from_;
  std::array<uint8_t, 4096> buf_{};
  std::optional<udptl::Encoder> enc_;
  udptl::Decoder dec_;
  std::unique_ptr<fax::T38Terminal> fax_;
  Clock::time_point fax_started_, deadline_;
  sip::CallId call_ = 0;
  bool refreshed_ = false, media_stopped_ = false, hung_up_ = false, done_ = false;
  nlohmann::json report_ = {{"refresh_status", nlohmann::json::array()}};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"faxbridge fax test peer"};
  Options o;
  app.require_subcommand(1);
  auto* answer = app.add_subcommand("answer", "answer one call");
  auto* call = app.add_subcommand("call", "place one call");
  for (auto* sc : {answer, call}) {
    sc->add_option("--listen", o.listen);
    sc->add_option("--port-file", o.port_file);
    sc->add_option("--hangup-after-page", o.hangup_after_page);
    sc->add_option("--refresh-at", o.refresh_at);
    sc->add_option("--refresh-method", o.refresh_method)->check(CLI::IsMember({"invite", "update"}));
    sc->add_option("--stop-media-at", o.stop_media_at);
    sc->add_option("--report", o.report)->required();
    sc->add_option("--timeout", o.timeout_s);
  }
  answer->add_option("--answer-code", o.answer_code);
  answer->add_option("--rx", o.rx);
  call->add_option("--to", o.to)->required();
  call->add_option("--tiff", o.tiff)->required();
  call->add_option("--subaddress", o.subaddress);
  call->add_option("--header", o.headers);
  CLI11_PARSE(app, argc, argv);
  o.call = call->parsed();
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
