// SPDX-License-Identifier: Apache-2.0
// Effect moments, the relative-lift t-test and CUPED against GrowthBook's gbstats 0.8.0.
#include <gtest/gtest.h>

#include <limits>
#include <switchyard/stats/lift_test.hpp>
#include <switchyard/stats/proportion_counter.hpp>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

using ::switchyard::stats::testing::arm;

// Reference: gbstats 0.8.0 TwoSidedTTest / OneSidedTreatment{Greater,Lesser}TTest with
// FrequentistConfig(difference_type, alpha); 1e-12 relative on estimate, standard error and
// p-values; 1e-9 on the interval, whose t quantile gbstats takes from scipy's t.ppf (cephes
// stdtrit, off by up to 6e-10; see TTestTest.t_and_normal_quantiles_match_mpmath).
TEST(LiftTest, matches_growthbook_frequentist_engine) {
  for (const auto& c : reference::kGrowthBookFrequentistCases) {
    SCOPED_TRACE(c.name);
    const SampleSummary t = arm(c.proportion, c.t_n, c.t_sum, c.t_sum_squares);
    const SampleSummary k = arm(c.proportion, c.c_n, c.c_sum, c.c_sum_squares);
    const LiftResult r = lift_test(
        k, t, c.relative ? EffectScale::kRelative : EffectScale::kAbsolute, 1.0 - c.alpha);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_REL(r.effect, c.estimate, 1e-12);
    EXPECT_REL(r.std_error, c.std_error, 1e-12);
    EXPECT_REL(r.interval.lower, c.ci_lo, 1e-9);
    EXPECT_REL(r.interval.upper, c.ci_hi, 1e-9);
    EXPECT_CLOSE(r.p_value, c.p, 1e-12, 1e-15);
    EXPECT_CLOSE(r.p_value_greater, c.p_greater, 1e-12, 1e-15);
    EXPECT_CLOSE(r.p_value_less, c.p_less, 1e-12, 1e-15);
  }
}

// Reference: gbstats 0.8.0 TwoSidedTTest on RegressionAdjustedStatistic (CUPED; theta from the
// pooled arms) of the kCuped* arrays; 1e-10 relative (gbstats forms variances from raw sums).
TEST(LiftTest, cuped_matches_growthbook_regression_adjustment) {
  CoMoments t, c;
  t.add(reference::kCupedPreTreatment, reference::kCupedPostTreatment);
  c.add(reference::kCupedPreControl, reference::kCupedPostControl);
  for (const auto& ref : reference::kCupedCases) {
    SCOPED_TRACE(ref.relative ? "relative" : "absolute");
    const EffectMoments m =
        cuped_effect_moments(c, t, ref.relative ? EffectScale::kRelative : EffectScale::kAbsolute);
    ASSERT_TRUE(m.ok()) << m.reason;
    EXPECT_REL(m.estimate, ref.estimate, 1e-10);
    EXPECT_REL(m.std_error, ref.std_error, 1e-10);
    const LiftResult r = lift_test(m);
    EXPECT_REL(r.p_value, ref.p, 1e-9);
    EXPECT_REL(r.interval.lower, ref.ci_lo, 1e-10);
    EXPECT_REL(r.interval.upper, ref.ci_hi, 1e-10);
    // The adjustment must reduce the standard error on this correlated data.
    const EffectMoments raw = effect_moments(c.summary_y(), t.summary_y(), m.scale);
    EXPECT_LT(m.std_error, 0.7 * raw.std_error);
  }
}

// Moments assembled by hand (e.g. restored from storage) are checked before use.
TEST(LiftTest, hand_built_moments_are_validated) {
  EffectMoments m;
  m.status = StatStatus::kOk;
  m.estimate = 0.1;
  m.std_error = 0.0;
  m.total_count = 100;
  EXPECT_EQ(lift_test(m).status, StatStatus::kZeroVariance);
  m.std_error = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(lift_test(m).status, StatStatus::kInvalidInput);
  EXPECT_EQ(lift_test(m).p_value, 1.0);
}

TEST(LiftTest, degenerate_arms) {
  const SampleSummary good{100, 5.0, 4.0, 0};
  EXPECT_EQ(lift_test(SampleSummary{1, 5.0, 0.0, 0}, good).status, StatStatus::kNotEnoughData);
  EXPECT_EQ(lift_test(SampleSummary{50, 5.0, 0.0, 0}, good).status, StatStatus::kZeroVariance);
  EXPECT_EQ(lift_test(SampleSummary{50, 0.0, 2.0, 0}, good).status,
            StatStatus::kInvalidInput);  // relative, mean 0
  EXPECT_TRUE(lift_test(SampleSummary{50, 0.0, 2.0, 0}, good, EffectScale::kAbsolute).ok());
  EXPECT_EQ(lift_test(SampleSummary{50, 5.0, 2.0, 3}, good).status,
            StatStatus::kInvalidInput);  // rejected NaNs
  // all-0 / all-1 proportions have zero variance
  EXPECT_EQ(
      lift_test(ProportionCounter(3, 100).summary(), ProportionCounter(0, 100).summary()).status,
      StatStatus::kZeroVariance);
  EXPECT_EQ(
      lift_test(ProportionCounter(3, 100).summary(), ProportionCounter(100, 100).summary()).status,
      StatStatus::kZeroVariance);
}

}  // namespace
}  // namespace switchyard::stats
