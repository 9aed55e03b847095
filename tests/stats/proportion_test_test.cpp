// SPDX-License-Identifier: Apache-2.0
// Two-proportion z-test and proportion intervals against statsmodels 0.13.5.
#include <gtest/gtest.h>

#include <switchyard/stats/proportion_test.hpp>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

// Reference: statsmodels 0.13.5 proportions_ztest and confint_proportions_2indep(method='wald');
// tolerance 1e-12 relative (1e-15 absolute for p-values that are 1).
TEST(ProportionTest, z_test_matches_statsmodels) {
  for (const auto& c : reference::kProportionZCases) {
    SCOPED_TRACE(c.name);
    const ProportionTestResult r =
        two_proportion_z_test(ProportionCounter(c.s2, c.n2), ProportionCounter(c.s1, c.n1));
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_REL(r.statistic, c.z, 1e-12);
    EXPECT_REL(r.p_value, c.p, 1e-12);
    EXPECT_REL(r.p_value_less, c.p_less, 1e-12);
    EXPECT_REL(r.p_value_greater, c.p_greater, 1e-12);
    EXPECT_REL(r.interval.lower, c.ci_lo, 1e-12);
    EXPECT_REL(r.interval.upper, c.ci_hi, 1e-12);
  }
}

// Reference: statsmodels 0.13.5 proportion_confint(method='wilson'|'agresti_coull'), 1e-12,
// including 0 and all successes.
TEST(ProportionTest, wilson_and_agresti_coull_match_statsmodels) {
  for (const auto& c : reference::kProportionIntervalCases) {
    SCOPED_TRACE(std::to_string(c.s) + "/" + std::to_string(c.n));
    const ProportionCounter p(c.s, c.n);
    const IntervalEstimate w = wilson_interval(p, c.confidence);
    const IntervalEstimate a = agresti_coull_interval(p, c.confidence);
    ASSERT_TRUE(w.ok() && a.ok());
    EXPECT_CLOSE(w.interval.lower, c.wilson_lo, 1e-12, 1e-16);
    EXPECT_CLOSE(w.interval.upper, c.wilson_hi, 1e-12, 1e-16);
    EXPECT_CLOSE(a.interval.lower, c.ac_lo, 1e-12, 1e-16);
    EXPECT_CLOSE(a.interval.upper, c.ac_hi, 1e-12, 1e-16);
    EXPECT_DOUBLE_EQ(w.estimate, p.rate());
  }
}

TEST(ProportionTest, degenerate_inputs) {
  // All-0 and all-1 in both arms: pooled variance 0, the z statistic is undefined.
  ProportionTestResult r =
      two_proportion_z_test(ProportionCounter(0, 100), ProportionCounter(0, 80));
  EXPECT_EQ(r.status, StatStatus::kZeroVariance);
  EXPECT_EQ(r.p_value, 1.0);
  r = two_proportion_z_test(ProportionCounter(100, 100), ProportionCounter(80, 80));
  EXPECT_EQ(r.status, StatStatus::kZeroVariance);
  r = two_proportion_z_test(ProportionCounter(3, 10), ProportionCounter());
  EXPECT_EQ(r.status, StatStatus::kNotEnoughData);
  EXPECT_EQ(wilson_interval(ProportionCounter()).status, StatStatus::kNotEnoughData);
  EXPECT_THROW(ProportionCounter(5, 4), InvalidArgument);
  EXPECT_THROW(wilson_interval(ProportionCounter(1, 2), 1.5), InvalidArgument);
}

}  // namespace
}  // namespace switchyard::stats
