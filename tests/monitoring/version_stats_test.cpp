// SPDX-License-Identifier: Apache-2.0
// LatencyHistogram accuracy and VersionStats under concurrent recording.
#include <switchyard/monitoring/version_stats.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

namespace switchyard {
namespace {

// Exact sample quantile by the same rank rule (ceil(q n)-th smallest) as LatencyHistogram.
double exact_quantile(std::vector<std::uint64_t> v, double q) {
  std::sort(v.begin(), v.end());
  std::size_t rank = static_cast<std::size_t>(std::ceil(q * v.size()));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return static_cast<double>(v[rank - 1]);
}

TEST(LatencyHistogramTest, quantiles_within_two_percent_of_exact) {
  std::mt19937_64 rng(12345);
  // Log-normal latencies around 50 us with a heavy tail, like a real service.
  std::lognormal_distribution<double> dist(std::log(50000.0), 0.8);
  std::vector<std::uint64_t> samples;
  LatencyHistogram h;
  for (int i = 0; i < 200000; ++i) {
    auto v = static_cast<std::uint64_t>(dist(rng));
    samples.push_back(v);
    h.record(v);
  }
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    double exact = exact_quantile(samples, q);
    EXPECT_NEAR(h.quantile(q), exact, 0.02 * exact) << "q=" << q;
  }
  EXPECT_EQ(h.count(), samples.size());
  EXPECT_EQ(h.min(), *std::min_element(samples.begin(), samples.end()));
  EXPECT_EQ(h.max(), *std::max_element(samples.begin(), samples.end()));
}

TEST(LatencyHistogramTest, small_values_are_exact_and_buckets_tile_the_range) {
  LatencyHistogram h;
  for (std::uint64_t v = 0; v < 64; ++v) h.record(v);
  EXPECT_EQ(h.quantile(0.5), 31.0);
  for (std::size_t i = 0; i + 1 < LatencyBuckets::kCount; ++i) {
    ASSERT_EQ(LatencyBuckets::upper(i), LatencyBuckets::lower(i + 1)) << i;
    ASSERT_EQ(LatencyBuckets::index(LatencyBuckets::lower(i)), i);
    ASSERT_EQ(LatencyBuckets::index(LatencyBuckets::upper(i) - 1), i);
  }
  EXPECT_EQ(LatencyBuckets::index(~std::uint64_t{0}), LatencyBuckets::kCount - 1);
}

TEST(VersionStatsTest, concurrent_recorders_lose_nothing) {
  VersionStats stats;
  constexpr int kThreads = 4, kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        stats.record_success(1000 + static_cast<std::uint64_t>(i % 100), t, 0.5);
        if (i % 10 == 0) stats.record_error();
      }
    });
  }
  // Readers run concurrently with the recorders (TSan checks the races).
  VersionStatsSnapshot mid = stats.snapshot();
  EXPECT_LE(mid.requests, std::uint64_t{kThreads} * (kPerThread + kPerThread / 10));
  for (auto& t : threads) t.join();
  auto s = stats.snapshot();
  EXPECT_EQ(s.latency.count(), std::uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(s.errors, std::uint64_t{kThreads} * kPerThread / 10);
  EXPECT_EQ(s.requests, s.latency.count() + s.errors);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(s.class_counts[t], std::uint64_t{kPerThread});
  EXPECT_DOUBLE_EQ(s.mean_confidence(), 0.5);
  EXPECT_EQ(s.latency.min(), 1000u);
  EXPECT_EQ(s.latency.max(), 1099u);
}

TEST(VersionStatsTest, windows_subtract_a_baseline) {
  VersionStats stats;
  for (int i = 0; i < 5; ++i) stats.record_success(100, 0, 0.9);
  auto first = stats.reset_window();
  EXPECT_EQ(first.requests, 5u);
  stats.record_success(100, 20, std::nan(""));  // label beyond kMaxClasses, no confidence
  auto w = stats.window();
  EXPECT_EQ(w.requests, 1u);
  EXPECT_EQ(w.class_counts[VersionStatsSnapshot::kMaxClasses], 1u);
  EXPECT_EQ(w.confidence_count, 0u);
  EXPECT_EQ(stats.snapshot().requests, 6u);
}

}  // namespace
}  // namespace switchyard
