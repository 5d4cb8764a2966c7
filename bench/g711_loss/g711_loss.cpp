// g711_loss — how much packet loss a G.711 fax survives, plain and with RFC 2198 redundancy,
// side by side (the baseline is plain G.711, what most carriers carry).
//
// Two spandsp audio fax terminals send ITU charts 1 and 4 (two pages, ECM, up to V.17 14400)
// to each other through faxbridge's whole G.711 media path (tests/common/g711_line.hpp: G.711,
// RTP, the modem playout buffer, red when on) over a simulated line with random loss and
// 20 ms of jitter; each cell is the share of faxes that arrived complete with no bad row.
// Usage: g711_loss [faxes per cell, default 20]
#include <cstdio>
#include <filesystem>

#include "common/g711_line.hpp"
#include "common/test_data.hpp"
#include "imaging/tiff_f.hpp"

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20;
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("g711-loss-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  imaging::Pages pages;
  for (int chart : {1, 4}) {
    imaging::Page p;
    if (!testdata::read_pbm(testdata::itu_chart(chart), p.bitmap)) {
      std::fprintf(stderr, "g711_loss: cannot read %s\n", testdata::itu_chart(chart).c_str());
      return 2;
    }
    p.xres = 204;
    p.yres = 196;
    pages.push_back(std::move(p));
  }
  const std::string tx = (dir / "tx.tif").string();
  if (!imaging::write_tiff_f(tx, pages)) return 2;
  std::printf("g711_loss: 2-page ECM faxes over G.711 with 20 ms jitter, %d per cell\n", n);
  std::printf("%8s %14s %22s %8s\n", "loss", "plain G.711", "RFC 2198 red (depth 2)", "ratio");
  for (double loss : {0.0, 0.005, 0.01, 0.02, 0.05}) {
    int ok[2] = {0, 0};
    for (int red = 0; red < 2; ++red) {
      for (int seed = 1; seed <= n; ++seed) {
        g711_line::LineModel m;
        m.loss = loss;
        m.jitter_ms = 20;
        m.seed = uint32_t(seed);
        m.red = red != 0;
        auto t = g711_line::run(tx, dir.string(), m);
        if (t.rx.success && t.rx.pages == 2 && t.rx.bad_rows() == 0) ++ok[red];
      }
    }
    std::printf("%7.1f%% %11d/%-2d %19d/%-2d %8s\n", loss * 100, ok[0], n, ok[1], n,
                ok[0] ? (std::to_string(double(ok[1]) / ok[0]).substr(0, 4) + "x").c_str() : "-");
  }
  fs::remove_all(dir);
  return 0;
}
