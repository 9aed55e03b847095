// SPDX-License-Identifier: Apache-2.0
// Mann-Whitney U against scipy 1.10; Hodges-Lehmann shift against R's wilcox.test and Kayenta.
#include <gtest/gtest.h>

#include <limits>
#include <switchyard/stats/mann_whitney.hpp>
#include <vector>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

// Reference: scipy 1.10.1 mannwhitneyu(a, b, method='asymptotic', use_continuity=True,
// alternative); 1e-12 relative on U and p-values.
TEST(MannWhitneyTest, u_and_p_values_match_scipy) {
  for (const auto& c : reference::kMannWhitneyCases) {
    SCOPED_TRACE(c.name);
    const MannWhitneyResult r = mann_whitney_u_test(c.b, c.a, ShiftOptions{c.confidence});
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_EQ(r.statistic, c.u);
    EXPECT_REL(r.p_value, c.p, 1e-12);
    EXPECT_REL(r.p_value_less, c.p_less, 1e-12);
    EXPECT_REL(r.p_value_greater, c.p_greater, 1e-12);
  }
}

// Reference: R 4.2.2 wilcox.test(a, b, conf.int=TRUE, exact=FALSE, correct=TRUE, conf.level)
// interval, which Kayenta's judge reproduces, and Kayenta's continuity-corrected point estimate
// (uniroot, tol 1e-4, in R). The root finder follows the same steps, so 1e-9 relative holds even
// though both stop at a tolerance of 1e-4.
TEST(MannWhitneyTest, hodges_lehmann_interval_matches_r_and_kayenta) {
  for (const auto& c : reference::kMannWhitneyCases) {
    SCOPED_TRACE(c.name);
    const MannWhitneyResult r = mann_whitney_u_test(c.b, c.a, ShiftOptions{c.confidence});
    ASSERT_TRUE(r.shift_computed);
    EXPECT_REL(r.interval.lower, c.ci_lo, 1e-9);
    EXPECT_REL(r.interval.upper, c.ci_hi, 1e-9);
    EXPECT_CLOSE(r.effect, c.estimate_kayenta, 1e-9, 1e-15);
    ShiftOptions as_r{c.confidence};
    as_r.continuity_correction_in_estimate = false;
    const IntervalEstimate e = hodges_lehmann_shift(c.b, c.a, as_r);
    ASSERT_TRUE(e.ok());
    EXPECT_CLOSE(e.estimate, c.estimate_r, 1e-9, 1e-15);
    EXPECT_REL(e.interval.lower, c.ci_lo, 1e-9);
  }
}

// On a metric at the 1e-2 scale with 1e-5 spread, the reference tolerance of 1e-4 is coarse; a
// smaller tolerance locates the bounds to that precision and keeps them ordered around the
// estimate.
TEST(MannWhitneyTest, tolerance_option_refines_small_scale_bounds) {
  const auto& c = reference::kMannWhitneyCases[4];
  ASSERT_STREQ(c.name, "tiny_scale");
  ShiftOptions fine;
  fine.tolerance = 1e-12;
  const IntervalEstimate e = hodges_lehmann_shift(c.b, c.a, fine);
  ASSERT_TRUE(e.ok());
  EXPECT_LT(e.interval.lower, e.estimate);
  EXPECT_LT(e.estimate, e.interval.upper);
  EXPECT_LT(e.interval.width(), 1e-4);
}

TEST(MannWhitneyTest, all_tied_is_zero_variance_with_scipys_p_of_one) {
  const MannWhitneyResult r = mann_whitney_u_test(reference::kTiedAll, reference::kTiedAll);
  EXPECT_EQ(r.status, StatStatus::kZeroVariance);
  EXPECT_EQ(r.p_value, 1.0);
  EXPECT_EQ(hodges_lehmann_shift(reference::kTiedAll, reference::kTiedAll).status,
            StatStatus::kZeroVariance);
}

TEST(MannWhitneyTest, degenerate_inputs_and_options) {
  const std::vector<double> a{1, 2, 3};
  EXPECT_EQ(mann_whitney_u_test(std::vector<double>{}, a).status, StatStatus::kNotEnoughData);
  EXPECT_EQ(mann_whitney_u_test(a, std::vector<double>{1, -std::numeric_limits<double>::infinity()})
                .status,
            StatStatus::kInvalidInput);
  EXPECT_THROW(mann_whitney_u_test(a, a, ShiftOptions{2.0}), InvalidArgument);
  ShiftOptions bad;
  bad.tolerance = 0.0;
  EXPECT_THROW(hodges_lehmann_shift(a, a, bad), InvalidArgument);
}

}  // namespace
}  // namespace switchyard::stats
