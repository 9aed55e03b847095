// SPDX-License-Identifier: Apache-2.0
// Streaming accumulators: exactness against exact/two-pass values, merging, and 1e9 samples.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <switchyard/stats/co_moments.hpp>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <vector>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

// Two-pass mean and variance in long double: the reference for the streaming values below.
struct TwoPass {
  long double mean = 0, var = 0;
};
TwoPass two_pass(std::span<const double> x) {
  TwoPass t;
  for (double v : x) t.mean += v;
  t.mean /= static_cast<long double>(x.size());
  for (double v : x) t.var += (v - t.mean) * (v - t.mean);
  t.var /= static_cast<long double>(x.size() - 1);
  return t;
}

TEST(RunningMomentsTest, matches_two_pass_values) {
  for (std::span<const double> x :
       {std::span<const double>(reference::kLargeA), std::span<const double>(reference::kSmallB)}) {
    RunningMoments m;
    m.add(x);
    const TwoPass t = two_pass(x);
    EXPECT_EQ(m.count(), x.size());
    // A streaming mean rounds once per sample: its error is measured against the data's scale
    // (|mean| + standard deviation), not against a mean that may be small relative to the spread.
    const double scale =
        std::fabs(static_cast<double>(t.mean)) + std::sqrt(static_cast<double>(t.var));
    EXPECT_CLOSE(m.mean(), static_cast<double>(t.mean), 0.0, 1e-14 * scale);
    EXPECT_REL(m.variance(), static_cast<double>(t.var), 1e-13);
  }
}

// Merging shards of any sizes gives the single-stream result (Chan et al.'s pairwise update).
TEST(RunningMomentsTest, merge_of_shards_equals_single_stream) {
  std::span<const double> x(reference::kLargeA);
  RunningMoments whole;
  whole.add(x);
  std::mt19937_64 rng(7);
  RunningMoments merged;
  std::size_t pos = 0;
  while (pos < x.size()) {
    const std::size_t len = std::min<std::size_t>(x.size() - pos, 1 + rng() % 300);
    RunningMoments part;
    part.add(x.subspan(pos, len));
    merged.merge(part);
    pos += len;
  }
  EXPECT_EQ(merged.count(), whole.count());
  EXPECT_CLOSE(merged.mean(), whole.mean(), 0.0,
               1e-14 * (std::fabs(whole.mean()) + whole.std_dev()));
  EXPECT_REL(merged.variance(), whole.variance(), 1e-12);
  RunningMoments empty;
  merged.merge(empty);
  empty.merge(whole);
  EXPECT_EQ(empty.variance(), whole.variance());
}

// 10^9 samples of 1e9 + k/1024, k a deterministic integer sequence in [-2048, 2047] (noise of
// about +-2). Every sample is exactly representable, so the exact mean and variance follow from
// integer sums. The streaming accumulator keeps the variance to 1e-9 relative and the mean to a
// couple of ulps; the textbook sum / sum-of-squares formula, on the same stream, does not.
TEST(RunningMomentsTest, billion_samples_with_large_mean_stay_accurate) {
  constexpr std::uint64_t kN = 1'000'000'000;
  RunningMoments m;
  double naive_sum = 0.0, naive_sq = 0.0;
  std::int64_t sum_k = 0, sum_k2 = 0;  // exact: |sum k| < 2.1e12, sum k^2 < 4.2e15
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  for (std::uint64_t i = 0; i < kN; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;       // Knuth's MMIX LCG
    const std::int64_t k = static_cast<std::int64_t>(state >> 52) - 2048;  // top 12 bits
    const double x = 1e9 + static_cast<double>(k) / 1024.0;
    m.add(x);
    sum_k += k;
    sum_k2 += k * k;
    if (i % 64 == 0) {  // a subsample keeps the naive check cheap; it already fails
      naive_sum += x;
      naive_sq += x * x;
    }
  }
  const long double n = static_cast<long double>(kN);
  const long double exact_mean = 1e9L + static_cast<long double>(sum_k) / (1024.0L * n);
  // Exact integers converted exactly to long double; the remaining steps are good to ~1e-19.
  const long double sk = static_cast<long double>(sum_k), sk2 = static_cast<long double>(sum_k2);
  const long double exact_var = (sk2 - sk * sk / n) / (n - 1.0L) / (1024.0L * 1024.0L);
  ASSERT_EQ(m.count(), kN);
  EXPECT_LE(std::fabs(static_cast<long double>(m.mean()) - exact_mean), 2.5e-7L);  // 2 ulp of 1e9
  EXPECT_REL(m.variance(), static_cast<double>(exact_var), 1e-9);
  const double nn = static_cast<double>((kN + 63) / 64);
  const double naive_var = (naive_sq - naive_sum * naive_sum / nn) / (nn - 1.0);
  EXPECT_GT(std::fabs(naive_var - static_cast<double>(exact_var)) / static_cast<double>(exact_var),
            1e-3)
      << "the naive formula should lose the variance here";
}

// The whole-range (two-pass) form agrees with the streaming form and the two-pass reference, and
// falls back to rejecting non-finite values one by one.
TEST(RunningMomentsTest, whole_range_form_matches_streaming) {
  std::span<const double> x(reference::kLargeA);
  RunningMoments streamed;
  streamed.add(x);
  const RunningMoments whole = RunningMoments::of(x);
  const TwoPass t = two_pass(x);
  EXPECT_EQ(whole.count(), x.size());
  EXPECT_CLOSE(whole.mean(), static_cast<double>(t.mean), 0.0, 1e-15 * (1.0 + whole.std_dev()));
  EXPECT_REL(whole.variance(), static_cast<double>(t.var), 1e-14);
  EXPECT_REL(whole.variance(), streamed.variance(), 1e-13);
  const std::vector<double> with_nan{1.0, std::numeric_limits<double>::quiet_NaN(), 3.0};
  const RunningMoments r = RunningMoments::of(with_nan);
  EXPECT_EQ(r.count(), 2u);
  EXPECT_EQ(r.rejected(), 1u);
  EXPECT_DOUBLE_EQ(r.mean(), 2.0);
  EXPECT_EQ(RunningMoments::of(std::span<const double>{}).count(), 0u);
}

TEST(RunningMomentsTest, rejects_non_finite_samples_and_keeps_count) {
  RunningMoments m;
  m.add(1.0);
  m.add(std::numeric_limits<double>::quiet_NaN());
  m.add(std::numeric_limits<double>::infinity());
  m.add(3.0);
  EXPECT_EQ(m.count(), 2u);
  EXPECT_EQ(m.rejected(), 2u);
  EXPECT_DOUBLE_EQ(m.mean(), 2.0);
  EXPECT_EQ(m.summary().rejected, 2u);
}

TEST(RunningMomentsTest, constant_and_tiny_streams) {
  RunningMoments c;
  for (int i = 0; i < 1000; ++i) c.add(123456789.123);
  EXPECT_EQ(c.variance(), 0.0);  // exactly: every shifted sample is 0
  EXPECT_DOUBLE_EQ(c.mean(), 123456789.123);
  RunningMoments one;
  one.add(5.0);
  EXPECT_EQ(one.variance(), 0.0);
  EXPECT_EQ(RunningMoments().mean(), 0.0);
  const RunningMoments r = RunningMoments::from_moments(10, 2.0, 4.0);
  EXPECT_DOUBLE_EQ(r.variance(), 4.0);
  EXPECT_THROW(RunningMoments::from_moments(10, 2.0, -1.0), InvalidArgument);
}

TEST(ProportionCounterTest, counts_and_merges_exactly) {
  ProportionCounter a, b;
  for (int i = 0; i < 1000; ++i) a.add(i % 4 == 0);
  b.add(30, 100);
  a.merge(b);
  EXPECT_EQ(a.trials(), 1100u);
  EXPECT_EQ(a.successes(), 280u);
  EXPECT_DOUBLE_EQ(a.rate(), 280.0 / 1100.0);
  const SampleSummary s = a.summary();
  EXPECT_DOUBLE_EQ(s.variance, a.rate() * (1.0 - a.rate()));
  EXPECT_THROW(b.add(5, 4), InvalidArgument);
}

TEST(CoMomentsTest, covariance_matches_two_pass_and_merges) {
  std::span<const double> x(reference::kCupedPreControl), y(reference::kCupedPostControl);
  long double mx = 0, my = 0, cxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= x.size();
  my /= x.size();
  for (std::size_t i = 0; i < x.size(); ++i) cxy += (x[i] - mx) * (y[i] - my);
  cxy /= (x.size() - 1);
  CoMoments whole, first, second;
  whole.add(x, y);
  first.add(x.first(123), y.first(123));
  second.add(x.subspan(123), y.subspan(123));
  first.merge(second);
  EXPECT_REL(whole.covariance(), static_cast<double>(cxy), 1e-13);
  EXPECT_REL(first.covariance(), whole.covariance(), 1e-13);
  EXPECT_REL(first.variance_y(), whole.variance_y(), 1e-13);
  EXPECT_REL(first.mean_x(), static_cast<double>(mx), 1e-14);
  EXPECT_GT(whole.correlation(), 0.8);
  EXPECT_THROW(whole.add(x, y.first(3)), InvalidArgument);
  whole.add(1.0, std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(whole.rejected(), 1u);
}

}  // namespace
}  // namespace switchyard::stats
