// SPDX-License-Identifier: Apache-2.0
// Welch and Student t-tests against scipy 1.10's ttest_ind (values in reference_values.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <switchyard/stats/t_test.hpp>
#include <vector>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

bool ill_conditioned(const char* name) { return std::string_view(name).starts_with("bigmean"); }

// In reference_values.hpp a is the treatment and b the control; Switchyard takes the control first,
// so ttest_ind(a, b) is welch_t_test(b, a) (effect and alternatives speak of a against b).
//
// Reference: scipy 1.10.1 ttest_ind(a, b, equal_var, alternative): t, p-values and df at 1e-12
// relative. Interval bounds within 1e-9 of the half-width: scipy's t quantile (cephes stdtrit, an
// iterative inverse) is itself off by up to 6e-10 (see t_and_normal_quantiles_match_mpmath).
// The "bigmean" arms (means near 1e6 that differ by 0.25) are ill-conditioned for scipy, which
// rounds both means first: its t is off by 3.6e-10 and, since d ln p / d ln t = 14 there, its p by
// 5e-9; they are compared at 1e-8 here and checked against exact values below.
TEST(TTestTest, matches_scipy_ttest_ind_on_samples) {
  for (const auto& c : reference::kTTestCases) {
    SCOPED_TRACE(c.name);
    const double tol = ill_conditioned(c.name) ? 1e-8 : 1e-12;
    const TTestResult r = c.equal_var ? student_t_test(c.b, c.a) : welch_t_test(c.b, c.a);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_REL(r.statistic, c.t, tol);
    EXPECT_REL(r.p_value, c.p, tol);
    EXPECT_REL(r.p_value_less, c.p_less, tol);
    EXPECT_REL(r.p_value_greater, c.p_greater, tol);
    EXPECT_REL(r.df, c.df, 1e-12);
    const double half = (c.ci_hi - c.ci_lo) / 2.0;
    EXPECT_CLOSE(r.interval.lower, c.ci_lo, 0.0, 1e-9 * half);
    EXPECT_CLOSE(r.interval.upper, c.ci_hi, 0.0, 1e-9 * half);
  }
}

// Reference: the same formulas on the exact rational moments of the inputs, evaluated with mpmath
// 1.2.1 at 50 digits (scripts/stats_reference.py, exact_t_test): 1e-12 relative on t, p, df and
// interval, the ill-conditioned cases included.
TEST(TTestTest, matches_exact_high_precision_values) {
  for (const auto& c : reference::kTTestCases) {
    SCOPED_TRACE(c.name);
    const TTestResult r = c.equal_var ? student_t_test(c.b, c.a) : welch_t_test(c.b, c.a);
    EXPECT_REL(r.statistic, c.exact_t, 1e-12);
    EXPECT_REL(r.p_value, c.exact_p, 1e-12);
    EXPECT_REL(r.df, c.exact_df, 1e-12);
    EXPECT_REL(r.interval.lower, c.exact_ci_lo, 1e-12);
    EXPECT_REL(r.interval.upper, c.exact_ci_hi, 1e-12);
  }
}

// Clustered 0/1 samples, 5 million per arm (a conversion log sorted by outcome): the moments of raw
// samples must not lose accuracy with n. Reference: scipy.stats.ttest_ind(treatment, control,
// equal_var=False, alternative) evaluated exactly: the moments of 0/1 data are exact rationals
// (Python fractions), t, df and the regularised incomplete beta in mpmath 1.3.0 at 60 digits
// (scripts/stats_reference.py, section_welch_large_n). 1e-12 relative on t, df and every p-value.
TEST(TTestTest, raw_samples_keep_1e12_accuracy_at_5_million_per_arm) {
  struct Case {
    std::size_t n, control_ones, treatment_ones;
    bool ones_first;
    double t, df, p, p_less, p_greater;
  };
  const Case cases[] = {
      {5'000'000, 2'500'000, 2'516'000, false, 10.119391123705572, 9999997.995805524,
       4.5334738903906066e-24, 1.0, 2.2667369451953033e-24},
      {5'000'000, 250'000, 253'500, false, 5.061590816758695, 9999564.686220398,
       4.1577995373639877e-07, 0.9999997921100231, 2.0788997686819938e-07},
      {5'000'000, 250'000, 253'500, true, 5.061590816758695, 9999564.686220398,
       4.1577995373639877e-07, 0.9999997921100231, 2.0788997686819938e-07},
  };
  auto clustered = [](std::size_t n, std::size_t ones, bool ones_first) {
    std::vector<double> v(n, ones_first ? 1.0 : 0.0);
    const std::size_t first_other = ones_first ? ones : n - ones;
    for (std::size_t i = first_other; i < n; ++i) v[i] = ones_first ? 0.0 : 1.0;
    return v;
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.treatment_ones) + " vs " + std::to_string(c.control_ones) +
                 (c.ones_first ? ", ones first" : ", zeros first"));
    const std::vector<double> control = clustered(c.n, c.control_ones, c.ones_first);
    const std::vector<double> treatment = clustered(c.n, c.treatment_ones, c.ones_first);
    const TTestResult r = welch_t_test(control, treatment);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_REL(r.statistic, c.t, 1e-12);
    EXPECT_REL(r.df, c.df, 1e-12);
    EXPECT_REL(r.p_value, c.p, 1e-12);
    EXPECT_REL(r.p_value_less, c.p_less, 1e-12);
    EXPECT_REL(r.p_value_greater, c.p_greater, 1e-12);
  }
}

// Reference: mpmath 1.2.1 at 40 digits (root of the regularised incomplete beta form of the t
// survival function; normal via ncdf); 1e-14 relative.
TEST(TTestTest, t_and_normal_quantiles_match_mpmath) {
  for (const auto& c : reference::kTQuantileCases) {
    SCOPED_TRACE("df=" + std::to_string(c.df) + " q=" + std::to_string(c.q));
    EXPECT_REL(detail::t_isf(c.q, c.df), c.t, 1e-14);
  }
  for (const auto& c : reference::kNormalQuantileCases) {
    EXPECT_REL(detail::normal_isf(c.q), c.z, 1e-14);
  }
}

// The summary overload is what an experiment uses with arms stored as numbers; same reference.
// It inherits the rounding of the means, so the ill-conditioned cases hold only to 1e-8.
TEST(TTestTest, summary_overload_matches_samples) {
  for (const auto& c : reference::kTTestCases) {
    SCOPED_TRACE(c.name);
    RunningMoments a, b;
    a.add(c.a);
    b.add(c.b);
    const double tol = ill_conditioned(c.name) ? 1e-8 : 1e-12;
    const TTestResult r = c.equal_var ? student_t_test(b.summary(), a.summary())
                                      : welch_t_test(b.summary(), a.summary());
    EXPECT_REL(r.statistic, c.exact_t, tol);
    EXPECT_REL(r.p_value, c.exact_p, tol);
  }
}

TEST(TTestTest, effect_is_difference_of_means_and_interval_covers_it) {
  const std::vector<double> a{1, 2, 3, 4}, b{2, 4, 6, 8, 10};
  const TTestResult r = welch_t_test(b, a, 0.9);
  EXPECT_DOUBLE_EQ(r.effect, 2.5 - 6.0);
  EXPECT_TRUE(r.interval.contains(r.effect));
  EXPECT_DOUBLE_EQ(r.confidence, 0.9);
  // A narrower confidence gives a narrower interval.
  EXPECT_LT(r.interval.width(), welch_t_test(b, a, 0.99).interval.width());
  // one-sided p-values add up to 1 and the two-sided one is twice the smaller.
  EXPECT_NEAR(r.p_value_less + r.p_value_greater, 1.0, 1e-15);
  EXPECT_NEAR(r.p_value, 2.0 * std::min(r.p_value_less, r.p_value_greater), 1e-15);
}

TEST(TTestTest, degenerate_arms_report_status_not_nan) {
  const std::vector<double> one{3.0}, some{1, 2, 3}, c1{5, 5, 5}, c2{7, 7, 7, 7};
  const std::vector<double> bad{1, std::numeric_limits<double>::quiet_NaN(), 3};
  const std::vector<double> inf{1, std::numeric_limits<double>::infinity()};

  TTestResult r = welch_t_test(some, one);
  EXPECT_EQ(r.status, StatStatus::kNotEnoughData);
  EXPECT_EQ(r.p_value, 1.0);
  EXPECT_FALSE(std::isnan(r.statistic));
  EXPECT_NE(r.reason.find("treatment"), std::string::npos);

  r = welch_t_test(some, std::vector<double>{});
  EXPECT_EQ(r.status, StatStatus::kNotEnoughData);

  r = student_t_test(c2, c1);  // both constant: t undefined (scipy: inf / nan)
  EXPECT_EQ(r.status, StatStatus::kZeroVariance);
  EXPECT_EQ(r.p_value, 1.0);
  EXPECT_TRUE(std::isinf(r.interval.lower) && std::isinf(r.interval.upper));

  r = welch_t_test(some, bad);
  EXPECT_EQ(r.status, StatStatus::kInvalidInput);
  r = welch_t_test(inf, some);
  EXPECT_EQ(r.status, StatStatus::kInvalidInput);
  EXPECT_NE(r.reason.find("control"), std::string::npos);
}

TEST(TTestTest, invalid_confidence_throws) {
  const std::vector<double> a{1, 2, 3}, b{2, 3, 4};
  EXPECT_THROW(welch_t_test(b, a, 1.0), InvalidArgument);
  EXPECT_THROW(welch_t_test(b, a, 0.0), InvalidArgument);
  EXPECT_THROW(student_t_test(b, a, std::numeric_limits<double>::quiet_NaN()), InvalidArgument);
}

}  // namespace
}  // namespace switchyard::stats
