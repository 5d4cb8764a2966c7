// audio_fax_test.cpp — two spandsp audio fax terminals joined through our whole G.711 media path
// (common/g711_line.hpp) on a simulated line: ITU charts arrive bit-exact over PCMU and PCMA; with
// 1% loss and 20 ms of jitter and RFC 2198 redundancy ECM still delivers every row; a peer whose
// sample clock runs 150 ppm fast or 200 ppm slow sends 10 ECM pages; the connect tones are
// recognised, and a minute of music-like sound is not taken for fax.
#include "fax/audio_fax.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "common/g711_line.hpp"
#include "common/test_data.hpp"
#include "fax/connect_tones.hpp"
#include "imaging/tiff_f.hpp"
#include "imaging/tiff_read.hpp"
#include "media/audio_stream.hpp"

namespace {

namespace fs = std::filesystem;

using g711_line::LineModel;
using g711_line::Transfer;
using g711_line::run;

class AudioFax : public testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_ITU_CORPUS();
    dir_ = fs::temp_directory_path() / ("audiofax-" + std::to_string(::getpid()) + "-" +
                                        testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    tx_ = write({1, 4});
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::vector<int>& charts, const std::string& name = "tx.tif") {
    imaging::Pages pages;
    for (int chart : charts) {
      imaging::Page p;
      EXPECT_TRUE(testdata::read_pbm(testdata::itu_chart(chart), p.bitmap));
      p.xres = 204;
      p.yres = 196;
      pages.push_back(std::move(p));
    }
    if (pages_.empty()) pages_ = pages;
    std::string path = (dir_ / name).string();
    EXPECT_TRUE(imaging::write_tiff_f(path, pages));
    return path;
  }
  void expect_bit_exact(const Transfer& t, size_t pages) {
    auto got = imaging::read_fax_tiff(t.rx_file);
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_EQ(got->size(), pages);
    for (size_t i = 0; i < std::min(pages, pages_.size()); ++i) {
      EXPECT_TRUE((*got)[i].bitmap == pages_[i].bitmap) << "page " << i + 1 << " differs";
    }
  }
  fs::path dir_;
  imaging::Pages pages_;
  std::string tx_;
};

TEST_F(AudioFax, ChartsArriveBitExactOverPcmu) {
  auto t = run(tx_, dir_.string(), LineModel{});
  ASSERT_TRUE(t.tx.success) << t.tx.reason;
  ASSERT_TRUE(t.rx.success) << t.rx.reason;
  EXPECT_EQ(t.rx.pages, 2);
  EXPECT_EQ(t.rx.bad_rows(), 0);
  EXPECT_TRUE(t.rx.ecm);
  EXPECT_GE(t.rx.bit_rate, 9600);
  EXPECT_EQ(t.rx.remote_ident, "+15550199");
  EXPECT_TRUE(t.rx.phase_b);
  expect_bit_exact(t, 2);
}

TEST_F(AudioFax, ChartsArriveBitExactOverPcma) {
  LineModel m;
  m.law = g711::Law::alaw;
  auto t = run(tx_, dir_.string(), m);
  ASSERT_TRUE(t.rx.success) << t.rx.reason;
  EXPECT_EQ(t.rx.bad_rows(), 0);
  expect_bit_exact(t, 2);
}

// Plain G.711 at 1% loss fails most two-page faxes (spandsp's T.30 runs out of retries:
// bench/g711_loss measures it); with RFC 2198 redundancy, as two faxbridge nodes negotiate it,
// every row arrives.
TEST_F(AudioFax, OnePercentLossAndJitterWithRedundancyLosesNoRow) {
  LineModel m;
  m.loss = 0.01;
  m.jitter_ms = 20;
  m.seed = 3;
  m.red = true;
  auto t = run(tx_, dir_.string(), m);
  EXPECT_GT(t.lost, 10);
  ASSERT_TRUE(t.rx.success) << t.rx.reason << " after " << t.seconds << " s";
  EXPECT_EQ(t.rx.bad_rows(), 0);
  expect_bit_exact(t, 2);
}

TEST_F(AudioFax, WithoutEcmLossShowsAsBadRowsNotAsACleanPage) {
  LineModel m;
  m.loss = 0.01;
  m.seed = 5;
  auto t = run(tx_, dir_.string(), m, false);
  EXPECT_GT(t.lost, 5);
  EXPECT_FALSE(t.rx.success && t.rx.pages == 2 && t.rx.bad_rows() == 0);
}

// A receiver with page_out hands each page over as rows the moment T.30 has it (the node writes
// them on its page-writer thread): the rows are the chart's pixels exactly, in page order, with the
// page's resolution; spandsp's own file gets no image and is gone once the terminal is.
TEST_F(AudioFax, PagesHandedOverAsRowsAreTheChartsPixels) {
  std::vector<fax::ReceivedPage> got;
  auto t = run(tx_, dir_.string(), LineModel{}, true, [&](fax::ReceivedPage p) { got.push_back(std::move(p)); });
  ASSERT_TRUE(t.rx.success) << t.rx.reason;
  ASSERT_EQ(got.size(), 2u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].number, int(i) + 1);
    EXPECT_EQ(got[i].width, pages_[i].bitmap.width);
    EXPECT_EQ(got[i].rows, pages_[i].bitmap.rows);
    EXPECT_EQ(got[i].x_dpi, 204);
    EXPECT_EQ(got[i].y_dpi, 196);
    EXPECT_EQ(got[i].bad_rows, 0);
    EXPECT_TRUE(got[i].bits == pages_[i].bitmap.bits) << "page " << i + 1 << " differs";
  }
  EXPECT_FALSE(fs::exists(t.rx_file));
  EXPECT_FALSE(fs::exists(fax::scratch_file(t.rx_file)));
}

class ClockSkew : public AudioFax, public testing::WithParamInterface<double> {};

TEST_P(ClockSkew, TenEcmPagesCompleteAndSlipsFallOnlyBetweenPages) {
  std::vector<int> ten = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2};
  pages_.clear();
  auto tx = write(ten, "ten.tif");
  LineModel m;
  m.ppm = GetParam();
  m.jitter_ms = 10;
  auto t = run(tx, dir_.string(), m);
  ASSERT_TRUE(t.tx.success) << t.tx.reason << " after " << t.seconds << " s, " << t.tx.pages << " pages";
  EXPECT_EQ(t.rx.pages, 10);
  EXPECT_EQ(t.rx.bad_rows(), 0);
  // The drift (ppm x duration) stayed inside the playout buffer: it never ran dry.
  EXPECT_EQ(t.playout.silence, 0u) << "the buffer ran dry";
  EXPECT_EQ(t.playout.late, 0u);
  expect_bit_exact(t, 10);
}

INSTANTIATE_TEST_SUITE_P(Ppm, ClockSkew, testing::Values(150.0, -200.0));

// The terminal's own tones, heard through G.711 by the detector.
std::optional<std::pair<fax::Tone, int>> first_tone(bool calling, g711::Law law) {
  fax::Options o;
  o.calling = calling;
  o.transmit = calling;
  o.file = "/nonexistent.tif";
  o.station_id = "x";
  fax::AudioTerminal t(o);
  fax::ToneDetector d;
  std::vector<int16_t> in(160, 0), out(160);
  std::vector<uint8_t> coded(160);
  for (int ms = 0; ms < 10000; ms += 20) {
    t.process(in, out);
    g711::encode(law, out, coded);
    g711::decode(law, coded, out);
    if (auto tone = d.process(out)) return std::make_pair(*tone, ms);
  }
  return std::nullopt;
}

TEST(ConnectTones, CngOfACallingFaxIsHeardWithinASecond) {
  auto r = first_tone(true, g711::Law::ulaw);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, fax::Tone::cng);
  EXPECT_LT(r->second, 1000);
}

TEST(ConnectTones, CedOfAnAnsweringFaxIsHeardWithinASecond) {
  auto r = first_tone(false, g711::Law::alaw);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, fax::Tone::ced);
  EXPECT_LT(r->second, 1200);  // 200 ms of silence first, then ~550 ms of tone
}

TEST(ConnectTones, AMinuteOfMusicLikeSoundIsNotFax) {
  // Chords of harmonic notes, changing every 250-700 ms, with vibrato and a little noise: sound
  // full of tones, none held pure and alone.
  fax::ToneDetector d;
  std::mt19937 rng(9);
  const double notes[] = {220, 247, 262, 294, 330, 349, 392, 440, 494, 523, 587, 659, 698, 784, 880, 1047, 1100, 2100};
  std::vector<int16_t> buf(160);
  double phase[3][4] = {};
  double f[3] = {440, 550, 660};
  int until = 0;
  for (int n = 0; n < 60 * 8000; n += 160) {
    if (n >= until) {
      // Three different notes at a time: a chord, never one note alone.
      size_t k0 = rng() % std::size(notes), k1 = (k0 + 1 + rng() % 5) % std::size(notes),
             k2 = (k1 + 1 + rng() % 5) % std::size(notes);
      if (k2 == k0) k2 = (k2 + 1) % std::size(notes);
      f[0] = notes[k0], f[1] = notes[k1], f[2] = notes[k2];
      until = n + 2000 + int(rng() % 3600);
    }
    for (int i = 0; i < 160; ++i) {
      double t = double(n + i) / 8000, s = 0;
      for (int v = 0; v < 3; ++v) {
        double vib = 1 + 0.004 * std::sin(2 * M_PI * 5.5 * t);
        for (int h = 0; h < 4; ++h) {
          phase[v][h] += 2 * M_PI * f[v] * (h + 1) * vib / 8000;
          s += std::sin(phase[v][h]) / (h + 1);
        }
      }
      s += std::normal_distribution<double>(0, 0.05)(rng);
      buf[i] = int16_t(std::clamp(s * 2500, -32000.0, 32000.0));
    }
    auto tone = d.process(buf);
    ASSERT_FALSE(tone) << "music taken for " << fax::name(*tone) << " at " << n / 8000.0 << " s";
  }
}

TEST(ConnectTones, APureTwentyOneHundredHertzToneIsCed) {
  fax::ToneDetector d;
  std::vector<int16_t> buf(160);
  std::optional<fax::Tone> got;
  int at = -1;
  for (int n = 0; n < 3 * 8000 && !got; n += 160) {
    for (int i = 0; i < 160; ++i) buf[i] = int16_t(8000 * std::sin(2 * M_PI * 2100 * (n + i) / 8000.0));
    got = d.process(buf);
    at = n;
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, fax::Tone::ced);
  EXPECT_LT(at, 8000);
}

}  // namespace
