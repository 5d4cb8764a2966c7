// g711_line.hpp — two spandsp audio fax terminals joined through our whole G.711 media path
// (G.711 coding, RTP, optional RFC 2198 redundancy, the modem playout buffer) over a simulated
// line: per-packet loss, jitter, and a sender whose sample clock runs fast or slow. Shared by
// tests/fax/audio_fax_test.cpp and bench/g711_loss.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fax/audio_fax.hpp"
#include "media/audio_stream.hpp"

namespace g711_line {

struct LineModel {
  g711::Law law = g711::Law::ulaw;
  double loss = 0;       // per packet
  int jitter_ms = 0;     // uniform 0..jitter added to a 20 ms base delay
  double ppm = 0;        // the sender's (A's) sample clock against B's
  bool red = false;      // RFC 2198 redundancy (two previous packets in each)
  uint32_t seed = 1;
};

// One direction: packets in flight with their arrival times (in B's milliseconds).
struct Wire {
  std::multimap<double, rtp::Bytes> flight;
  std::mt19937 rng;
  const LineModel& m;
  int sent = 0, lost = 0;
  Wire(const LineModel& model, uint32_t seed) : rng(seed), m(model) {}
  void send(std::vector<rtp::Bytes> packets, double now_ms) {
    for (auto& p : packets) {
      ++sent;
      if (std::uniform_real_distribution<double>(0, 1)(rng) < m.loss) {
        ++lost;
        continue;
      }
      double delay = 20 + (m.jitter_ms ? std::uniform_real_distribution<double>(0, m.jitter_ms)(rng) : 0);
      flight.emplace(now_ms + delay, std::move(p));
    }
  }
  void deliver(audio::Stream& to, double now_ms) {
    while (!flight.empty() && flight.begin()->first <= now_ms) {
      to.receive(flight.begin()->second, uint32_t(now_ms * 8));
      flight.erase(flight.begin());
    }
  }
};

struct Side {
  std::unique_ptr<fax::AudioTerminal> fax;
  audio::Stream stream;
  std::vector<int16_t> heard = std::vector<int16_t>(audio::kSamplesPerPacket);
  std::vector<int16_t> sent = std::vector<int16_t>(audio::kSamplesPerPacket);
  std::vector<playout::Gap> gaps;
  std::vector<fax::AudioTerminal::Missing> missing;
  Side(fax::Options o, g711::Law law, uint32_t seed, bool red)
      : fax(std::make_unique<fax::AudioTerminal>(std::move(o))),
        stream(audio::StreamConfig{law, law == g711::Law::ulaw ? rtp::pt::pcmu : rtp::pt::pcma, 101,
                                   red ? std::optional<uint8_t>(96) : std::nullopt, 2, seed}) {}
  // One 20 ms tick of this side's own clock.
  std::vector<rtp::Bytes> tick() {
    stream.play(heard, &gaps);
    missing.clear();
    for (const auto& g : gaps) missing.push_back({g.offset, g.length});
    fax->process(heard, sent, missing);
    return stream.send(sent);
  }
};

struct Transfer {
  fax::Result tx, rx;
  std::string rx_file;
  int lost = 0;
  playout::Stats playout;  // at the receiver
  double seconds = 0;
};

// `page_out`: the receiver hands over its pages as rows (fax/terminal.hpp) instead of writing them.
inline Transfer run(const std::string& tx_file, const std::string& dir, const LineModel& m, bool ecm = true,
                    std::function<void(fax::ReceivedPage)> page_out = {}) {
  Transfer t;
  t.rx_file = dir + "/rx.tif";
  fax::Options o;
  o.calling = true;
  o.transmit = true;
  o.file = tx_file;
  o.station_id = "+15550199";
  o.ecm = ecm;
  Side a(o, m.law, 11, m.red);
  o.calling = false;
  o.transmit = false;
  o.file = t.rx_file;
  o.station_id = "+15550100";
  o.page_out = std::move(page_out);
  Side b(o, m.law, 22, m.red);
  Wire ab(m, m.seed), ba(m, m.seed + 100);
  // B ticks every 20 ms of simulated time; A's clock runs at (1 + ppm) of B's.
  double a_clock = 0, now = 0;
  for (; now < 20 * 60 * 1000 && !(a.fax->finished() && b.fax->finished()); now += 20) {
    a_clock += 20 * (1 + m.ppm * 1e-6);
    while (a_clock >= 20) {
      a_clock -= 20;
      ba.deliver(a.stream, now);
      ab.send(a.tick(), now);
    }
    ab.deliver(b.stream, now);
    ba.send(b.tick(), now);
  }
  t.tx = a.fax->result();
  t.rx = b.fax->result();
  t.lost = ab.lost + ba.lost;
  t.playout = b.stream.stats().playout;
  t.seconds = now / 1000;
  a.fax.reset();
  b.fax.reset();  // closes the received file
  return t;
}

}  // namespace g711_line
