// Two spandsp T.38 terminals joined through our UDPTL codec on a simulated clock: ITU charts sent
// and received bit-exact, the subaddress and station ids carried, loss with and without
// redundancy reported honestly, and a silent far end ended by the idle timeout.
#include "fax/t38_terminal.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <random>

#include "common/test_data.hpp"
#include "imaging/tiff_f.hpp"
#include "imaging/tiff_read.hpp"
#include "media/udptl.hpp"

namespace {

namespace fs = std::filesystem;

struct Link {
  udptl::Encoder enc;
  udptl::Decoder dec;
  std::deque<udptl::Bytes> flight;
  std::mt19937 rng;
  double loss;
  int sent = 0, lost = 0;
  Link(udptl::EncoderConfig cfg, double loss_rate, uint32_t seed) : enc(cfg), rng(seed), loss(loss_rate) {}
  void send(std::span<const uint8_t> ifp, int copies) {
    for (int i = 0; i < copies; ++i) {
      auto d = enc.next(ifp);
      ++sent;
      if (std::uniform_real_distribution<double>(0, 1)(rng) < loss) {
        ++lost;
        continue;
      }
      flight.push_back(std::move(d));
    }
  }
  void deliver(fax::T38Terminal& to) {
    while (!flight.empty()) {
      auto d = std::move(flight.front());
      flight.pop_front();
      for (const auto& ifp : dec.receive(d)) to.receive_ifp(ifp.data, ifp.seq);
    }
  }
};

struct Transfer {
  fax::Result tx, rx;
  std::string rx_file;
  int lost = 0;
};

Transfer run(const std::string& tx_file, const std::string& dir, udptl::EncoderConfig ec, double loss, bool ecm,
             const std::string& sub = "") {
  Transfer t;
  t.rx_file = dir + "/rx.tif";
  Link ab(ec, loss, 7), ba(ec, loss, 11);
  fax::Options o;
  o.calling = true;
  o.transmit = true;
  o.file = tx_file;
  o.station_id = "+15550199";
  o.subaddress = sub;
  o.ecm = ecm;
  fax::T38Terminal a(o, {}, [&](std::span<const uint8_t> b, int n) { ab.send(b, n); });
  o.calling = false;
  o.transmit = false;
  o.file = t.rx_file;
  o.station_id = "+15550100";
  o.subaddress.clear();
  fax::T38Terminal b(o, {}, [&](std::span<const uint8_t> p, int n) { ba.send(p, n); });
  for (int ms = 0; ms < 15 * 60 * 1000 && !(a.finished() && b.finished()); ms += 20) {
    a.tick();
    b.tick();
    ab.deliver(b);
    ba.deliver(a);
  }
  t.tx = a.result();
  t.rx = b.result();
  t.lost = ab.lost + ba.lost;
  return t;
}

class T38Terminal : public testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_ITU_CORPUS();
    dir_ = fs::temp_directory_path() / ("t38fax-" + std::to_string(::getpid()) + "-" +
                                        testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    for (int chart : {1, 4}) {
      imaging::Page p;
      ASSERT_TRUE(testdata::read_pbm(testdata::itu_chart(chart), p.bitmap));
      p.xres = 204;
      p.yres = 196;
      pages_.push_back(std::move(p));
    }
    tx_ = (dir_ / "tx.tif").string();
    ASSERT_TRUE(imaging::write_tiff_f(tx_, pages_));
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  imaging::Pages pages_;
  std::string tx_;
};

TEST_F(T38Terminal, ChartsArriveBitExactWithIdentsAndSubaddress) {
  auto t = run(tx_, dir_.string(), {udptl::Mode::redundancy, 3}, 0.0, true, "42");
  ASSERT_TRUE(t.tx.success) << t.tx.reason;
  ASSERT_TRUE(t.rx.success) << t.rx.reason;
  EXPECT_EQ(t.tx.pages, 2);
  EXPECT_EQ(t.tx.pages_total, 2);
  EXPECT_EQ(t.rx.pages, 2);
  EXPECT_EQ(t.rx.remote_ident, "+15550199");
  EXPECT_EQ(t.tx.remote_ident, "+15550100");
  EXPECT_EQ(t.rx.remote_subaddress, "42");
  EXPECT_TRUE(t.rx.ecm);
  EXPECT_EQ(t.rx.bit_rate, 14400);
  ASSERT_EQ(t.rx.page.size(), 2u);
  EXPECT_EQ(t.rx.page[0].rows, pages_[0].bitmap.rows);
  EXPECT_EQ(t.rx.page[0].y_dpi, 196);
  auto got = imaging::read_fax_tiff(t.rx_file);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*got)[i].bitmap.width, 1728);
    EXPECT_TRUE((*got)[i].bitmap == pages_[i].bitmap) << "page " << i + 1 << " differs";
  }
}

TEST_F(T38Terminal, TenPercentLossWithEcmAndRedundancyLosesNoRow) {
  auto t = run(tx_, dir_.string(), {udptl::Mode::redundancy, 3}, 0.10, true);
  EXPECT_GT(t.lost, 50);
  ASSERT_TRUE(t.rx.success) << t.rx.reason;
  EXPECT_EQ(t.rx.pages, 2);
  EXPECT_EQ(t.rx.bad_rows(), 0);
  auto got = imaging::read_fax_tiff(t.rx_file);
  ASSERT_TRUE(got);
  EXPECT_TRUE((*got)[1].bitmap == pages_[1].bitmap);
}

TEST_F(T38Terminal, LossWithoutRedundancyIsReportedNotHidden) {
  auto t = run(tx_, dir_.string(), {udptl::Mode::none, 0}, 0.02, true);
  EXPECT_GT(t.lost, 5);
  // Either T.30 failed, or some page came through with bad rows: never a clean success.
  bool clean = t.rx.success && t.rx.pages == 2 && t.rx.bad_rows() == 0 && t.tx.success;
  if (clean) {
    auto got = imaging::read_fax_tiff(t.rx_file);
    ASSERT_TRUE(got);
    for (size_t i = 0; i < got->size(); ++i) EXPECT_TRUE((*got)[i].bitmap == pages_[i].bitmap);
  } else {
    EXPECT_TRUE(!t.tx.success || t.rx.bad_rows() > 0 || t.rx.pages < 2) << t.rx.reason;
    EXPECT_FALSE(t.tx.reason.empty());
  }
}

TEST_F(T38Terminal, NonEcmLossShowsAsBadRows) {
  auto t = run(tx_, dir_.string(), {udptl::Mode::none, 0}, 0.05, false);
  EXPECT_GT(t.lost, 5);
  EXPECT_FALSE(t.rx.success && t.rx.bad_rows() == 0 && t.rx.pages == 2) << "5% loss without ECM cannot be clean";
}

TEST_F(T38Terminal, ASilentFarEndIsEndedByTheIdleTimeout) {
  fax::Options o;
  o.file = tx_;
  o.station_id = "x";
  fax::T38Config cfg;
  cfg.idle_timeout = std::chrono::seconds(5);
  int sent = 0;
  std::vector<int> at;
  int ms = 0;
  fax::T38Terminal a(o, cfg, [&](std::span<const uint8_t>, int) { ++sent; at.push_back(ms); });
  // One packet from the far end, then silence.
  const uint8_t cng[] = {0x00};  // t30-indicator no-signal
  a.receive_ifp(cng, 0);
  while (!a.finished() && ms < 60000) {
    a.tick();
    ms += 20;
  }
  ASSERT_TRUE(a.finished());
  EXPECT_FALSE(a.result().success);
  ASSERT_FALSE(at.empty());
  EXPECT_LE(ms, at.back() + 5020);  // 5 s after the last packet either way
  EXPECT_GE(ms, at.back() + 5000);
  EXPECT_NE(a.result().reason.find("stopped sending"), std::string::npos) << a.result().reason;
  EXPECT_GT(sent, 0);
}

TEST_F(T38Terminal, AFarEndThatNeverSendsIsEndedToo) {
  fax::Options o;
  o.file = tx_;
  o.station_id = "x";
  fax::T38Config cfg;
  cfg.idle_timeout = std::chrono::seconds(5);
  int ms = 0;
  fax::T38Terminal a(o, cfg, [](std::span<const uint8_t>, int) {});
  while (!a.finished() && ms < 60000) {
    a.tick();
    ms += 20;
  }
  ASSERT_TRUE(a.finished());
  EXPECT_EQ(ms, 5000);
  EXPECT_EQ(a.result().reason, "the far end sent no T.38 packet (5 s)");
  EXPECT_FALSE(a.result().phase_b);
}

}  // namespace
