// metrics_test.cpp — the Prometheus text the registry renders (exposition format 0.0.4):
// HELP/TYPE lines, labels escaped, histogram buckets cumulative with +Inf, _sum and _count.
#include "core/metrics.hpp"

#include <gtest/gtest.h>

namespace {

TEST(Metrics, CountersHistogramsAndSnapshotsRenderAsPrometheusText) {
  fb::metrics::count("test_replies_total", "Replies by code", {{"code", "250"}});
  fb::metrics::count("test_replies_total", "Replies by code", {{"code", "250"}}, 2);
  fb::metrics::count("test_replies_total", "Replies by code", {{"code", "5\"5\\0\n"}});
  fb::metrics::declare("test_seconds", "Durations", fb::metrics::Type::histogram, {0.1, 1});
  fb::metrics::observe("test_seconds", "Durations", 0.05);
  fb::metrics::observe("test_seconds", "Durations", 0.5);
  fb::metrics::observe("test_seconds", "Durations", 7);
  fb::metrics::Snapshot jobs{"test_jobs", "Jobs now", fb::metrics::Type::gauge, {{{{"state", "ready"}}, 3}}};
  const std::string text = fb::metrics::render({jobs});
  EXPECT_NE(text.find("# HELP test_replies_total Replies by code\n# TYPE test_replies_total counter\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("test_replies_total{code=\"250\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("test_replies_total{code=\"5\\\"5\\\\0\\n\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE test_seconds histogram\n"
                      "test_seconds_bucket{le=\"0.1\"} 1\n"
                      "test_seconds_bucket{le=\"1\"} 2\n"
                      "test_seconds_bucket{le=\"+Inf\"} 3\n"
                      "test_seconds_sum 7.55\n"
                      "test_seconds_count 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE test_jobs gauge\ntest_jobs{state=\"ready\"} 3\n"), std::string::npos) << text;
}

TEST(Metrics, SeriesAreBounded) {
  for (size_t i = 0; i < fb::metrics::kMaxSeries + 50; ++i) {
    fb::metrics::count("test_bounded_total", "Bounded", {{"n", std::to_string(i)}});
  }
  const std::string text = fb::metrics::render();
  size_t lines = 0;
  for (size_t at = 0; (at = text.find("\ntest_bounded_total{", at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, fb::metrics::kMaxSeries);
}

}  // namespace
