// SPDX-License-Identifier: Apache-2.0
// The Bayesian comparison against GrowthBook's EffectBayesianABTest (gbstats 0.8.0).
#include <gtest/gtest.h>

#include <cmath>
#include <switchyard/stats/bayesian_test.hpp>
#include <switchyard/stats/proportion_counter.hpp>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

using ::switchyard::stats::testing::arm;

// Reference: gbstats 0.8.0 EffectBayesianABTest(EffectBayesianConfig(difference_type,
// prior_effect, prior_type='relative', inverse)); chance to win, expected, credible interval and
// both risks 1e-10 relative (1e-14 absolute near 0).
TEST(BayesianTest, matches_growthbook_bayesian_engine) {
  for (const auto& c : reference::kGrowthBookBayesianCases) {
    SCOPED_TRACE(c.name);
    BayesianOptions o;
    o.prior = GaussianPrior{c.prior_mean, c.prior_variance, c.prior_proper};
    o.prior_scale = EffectScale::kRelative;
    o.inverse = c.inverse;
    const BayesianResult r =
        bayesian_test(arm(c.proportion, c.c_n, c.c_sum, c.c_sum_squares),
                      arm(c.proportion, c.t_n, c.t_sum, c.t_sum_squares),
                      c.relative ? EffectScale::kRelative : EffectScale::kAbsolute, o);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_CLOSE(r.chance_to_win, c.chance_to_win, 1e-10, 1e-14);
    EXPECT_REL(r.expected, c.expected, 1e-10);
    EXPECT_REL(r.std_dev, c.std_dev, 1e-10);
    EXPECT_REL(r.credible_interval.lower, c.ci_lo, 1e-10);
    EXPECT_REL(r.credible_interval.upper, c.ci_hi, 1e-10);
    EXPECT_CLOSE(r.risk_control, c.risk_control, 1e-10, 1e-14);
    EXPECT_CLOSE(r.risk_treatment, c.risk_treatment, 1e-10, 1e-14);
  }
}

// Risk in the far tail keeps relative precision where the closed form cancels.
TEST(BayesianTest, tail_risk_is_accurate) {
  EffectMoments m;
  m.status = StatStatus::kOk;
  m.estimate = 10.0;
  m.std_error = 1.0;
  m.total_count = 100;
  const BayesianResult r = bayesian_test(m);
  // E[max(-X, 0)] for X ~ N(10, 1) = phi(10) - 10 Q(10): mpmath 1.2.1 at 40 digits,
  // npdf(10) - 10 * ncdf(-10) = 7.474560254589328036569033e-25.
  EXPECT_REL(r.risk_treatment, 7.474560254589328036569033e-25, 1e-9);
  EXPECT_NEAR(r.risk_control, 10.0, 1e-12);
  EXPECT_EQ(r.chance_to_win, 1.0);  // 1 - 7.6e-24 rounds to 1
}

TEST(BayesianTest, degenerate_and_invalid) {
  const BayesianResult r =
      bayesian_test(SampleSummary{10, 1.0, 1.0, 0}, SampleSummary{10, 1.0, 0.0, 0});
  EXPECT_EQ(r.status, StatStatus::kZeroVariance);
  EXPECT_EQ(r.chance_to_win, 0.5);
  BayesianOptions o;
  o.prior.proper = true;
  o.prior.variance = 0.0;
  EXPECT_THROW(bayesian_test(SampleSummary{10, 1.0, 1.0, 0}, SampleSummary{10, 1.0, 1.0, 0},
                             EffectScale::kRelative, o),
               InvalidArgument);
}

}  // namespace
}  // namespace switchyard::stats
