// SPDX-License-Identifier: Apache-2.0
// The always-valid sequential test: GrowthBook reference values and an A/A peeking simulation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <switchyard/stats/bayesian_test.hpp>
#include <switchyard/stats/lift_test.hpp>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/sequential_test.hpp>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

using ::switchyard::stats::testing::arm;

// Reference: gbstats 0.8.0 SequentialTwoSidedTTest (tuning 5000): p-value and interval 1e-12
// relative; SequentialOneSided{Lesser,Greater}TTest: one-sided bounds 1e-12. One-sided p-values:
// 1e-9 relative to the exact root of gbstats' own one-sided bound (brentq, xtol 1e-15), and within
// 1e-3 of gbstats' bisection result, which stops when the bound is within 1e-6 of 0 (that leaves
// up to 4e-4 of slack in alpha on these cases).
TEST(SequentialTest, matches_growthbook_sequential_engine) {
  for (const auto& c : reference::kGrowthBookFrequentistCases) {
    SCOPED_TRACE(c.name);
    SequentialOptions o;
    o.confidence = 1.0 - c.alpha;
    const SequentialResult r =
        sequential_test(arm(c.proportion, c.c_n, c.c_sum, c.c_sum_squares),
                        arm(c.proportion, c.t_n, c.t_sum, c.t_sum_squares),
                        c.relative ? EffectScale::kRelative : EffectScale::kAbsolute, o);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_CLOSE(r.p_value, c.seq_p, 1e-12, 1e-300);
    EXPECT_REL(r.interval.lower, c.seq_lo, 1e-12);
    EXPECT_REL(r.interval.upper, c.seq_hi, 1e-12);
    EXPECT_REL(r.interval_less.upper, c.seq_less_hi, 1e-12);
    EXPECT_REL(r.interval_greater.lower, c.seq_greater_lo, 1e-12);
    EXPECT_REL(r.p_value_less, c.seq_p_less_exact, 1e-9);
    EXPECT_REL(r.p_value_greater, c.seq_p_greater_exact, 1e-9);
    EXPECT_NEAR(r.p_value_less, c.seq_p_less, 1e-3);
    EXPECT_NEAR(r.p_value_greater, c.seq_p_greater, 1e-3);
    // The always-valid interval is wider than the fixed-horizon one.
    EXPECT_GT(r.interval.width(), c.ci_hi - c.ci_lo);
  }
}

// 2,000 A/A experiments, each looked at after every batch of 20 units per arm for 100 batches
// (4,000 units, near the tuning parameter). Naive repeated t-testing declares a difference far
// more often than alpha; the always-valid test stays within alpha plus a binomial margin
// (3 standard errors of a 2,000-trial proportion at 0.05: 0.0146).
TEST(SequentialTest, aa_simulation_controls_false_positives_under_continuous_peeking) {
  constexpr int kExperiments = 2000, kLooks = 100, kBatch = 20;
  constexpr double kAlpha = 0.05;
  std::mt19937_64 rng(0x5eed5eedULL);
  std::normal_distribution<double> metric(10.0, 2.0);
  int naive_hits = 0, sequential_hits = 0;
  for (int e = 0; e < kExperiments; ++e) {
    RunningMoments t, c;
    bool naive = false, sequential = false;
    for (int look = 0; look < kLooks; ++look) {
      for (int i = 0; i < kBatch; ++i) {
        t.add(metric(rng));
        c.add(metric(rng));
      }
      const EffectMoments m = effect_moments(c.summary(), t.summary(), EffectScale::kAbsolute);
      ASSERT_TRUE(m.ok());
      if (!naive && lift_test(m).p_value < kAlpha) naive = true;
      if (!sequential && sequential_test(m).p_value < kAlpha) sequential = true;
    }
    naive_hits += naive;
    sequential_hits += sequential;
  }
  const double naive_rate = static_cast<double>(naive_hits) / kExperiments;
  const double sequential_rate = static_cast<double>(sequential_hits) / kExperiments;
  const double margin = 3.0 * std::sqrt(kAlpha * (1.0 - kAlpha) / kExperiments);
  EXPECT_LE(sequential_rate, kAlpha + margin)
      << "sequential false positive rate " << sequential_rate;
  EXPECT_GE(naive_rate, 3.0 * kAlpha) << "naive peeking false positive rate " << naive_rate;
  RecordProperty("naive_fpr", std::to_string(naive_rate));
  RecordProperty("sequential_fpr", std::to_string(sequential_rate));
}

TEST(SequentialTest, hand_built_moments_are_validated) {
  EffectMoments m;
  m.status = StatStatus::kOk;
  m.estimate = 0.0;
  m.std_error = 0.0;
  m.total_count = 100;
  EXPECT_EQ(sequential_test(m).status, StatStatus::kZeroVariance);
  EXPECT_EQ(bayesian_test(m).status, StatStatus::kZeroVariance);
}

TEST(SequentialTest, degenerate_and_options) {
  const SampleSummary good{100, 5.0, 4.0, 0};
  const SequentialResult r = sequential_test(SampleSummary{0, 0.0, 0.0, 0}, good);
  EXPECT_EQ(r.status, StatStatus::kNotEnoughData);
  EXPECT_EQ(r.p_value, 1.0);
  SequentialOptions bad;
  bad.tuning_parameter = 0.0;
  EXPECT_THROW(sequential_test(good, good, EffectScale::kAbsolute, bad), InvalidArgument);
}

}  // namespace
}  // namespace switchyard::stats
