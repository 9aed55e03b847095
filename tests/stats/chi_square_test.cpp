// SPDX-License-Identifier: Apache-2.0
// Chi-square goodness of fit and independence against scipy 1.10.
#include <gtest/gtest.h>

#include <limits>
#include <switchyard/stats/chi_square.hpp>
#include <vector>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

// Reference: scipy 1.10.1 chisquare(observed, expected, ddof); 1e-12 relative.
TEST(ChiSquareTest, goodness_of_fit_matches_scipy) {
  for (const auto& c : reference::kChiSquareGofCases) {
    SCOPED_TRACE(c.name);
    const ChiSquareResult r = chi_square_goodness_of_fit(c.observed, c.expected, c.ddof);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_REL(r.statistic, c.stat, 1e-12);
    EXPECT_REL(r.p_value, c.p, 1e-12);
    EXPECT_EQ(r.p_value_less, r.p_value);  // non-directional
  }
}

// Reference: scipy 1.10.1 chi2_contingency(table, correction) incl. Yates on 2x2, and
// scipy.stats.contingency.association(method='cramer'); 1e-12 relative.
TEST(ChiSquareTest, independence_matches_chi2_contingency) {
  for (const auto& c : reference::kChiSquareIndependenceCases) {
    SCOPED_TRACE(c.name);
    const ChiSquareResult r = chi_square_independence(c.cells, c.rows, c.cols, c.yates);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_REL(r.statistic, c.stat, 1e-12);
    EXPECT_REL(r.p_value, c.p, 1e-12);
    EXPECT_EQ(r.df, c.df);
    EXPECT_REL(r.effect, c.cramer_v, 1e-12);
  }
}

// A category present only in the current data is drift, not bad input. Reference: Evidently's
// "chisquare" stattest (chisquare_stattest.py: scipy.stats.chisquare(current counts, reference
// counts scaled to the current total)); scipy 1.10.1 chisquare([30, 50, 20], [40, 60, 0]) gives
// statistic inf and p 0 exactly, so Evidently reports drift at any threshold.
TEST(ChiSquareTest, category_only_in_current_data_is_drift_with_p_zero) {
  const std::vector<double> current{30, 50, 20}, reference{40, 60, 0};
  const ChiSquareResult r = chi_square_goodness_of_fit(current, reference);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.statistic, std::numeric_limits<double>::infinity());
  EXPECT_EQ(r.p_value, 0.0);
  EXPECT_EQ(r.p_value_for(Alternative::kGreater), 0.0);
  EXPECT_EQ(r.unexpected_categories, 1u);
  EXPECT_EQ(r.df, 2.0);
  // A category empty on both sides carries no information: the rest is tested as without it.
  const ChiSquareResult with_empty =
      chi_square_goodness_of_fit(std::vector<double>{30, 50, 0}, std::vector<double>{40, 40, 0});
  const ChiSquareResult without =
      chi_square_goodness_of_fit(std::vector<double>{30, 50}, std::vector<double>{40, 40});
  ASSERT_TRUE(with_empty.ok()) << with_empty.reason;
  EXPECT_EQ(with_empty.statistic, without.statistic);
  EXPECT_EQ(with_empty.unexpected_categories, 0u);
}

TEST(ChiSquareTest, degenerate_and_invalid) {
  const std::vector<double> obs{10, 20}, exp{1, 1};
  EXPECT_THROW(chi_square_goodness_of_fit(obs, std::vector<double>{1, 1, 1}), InvalidArgument);
  EXPECT_THROW(chi_square_goodness_of_fit(obs, exp, 1), InvalidArgument);  // no df left
  EXPECT_EQ(chi_square_goodness_of_fit(std::vector<double>{0, 0}, exp).status,
            StatStatus::kNotEnoughData);
  EXPECT_EQ(chi_square_goodness_of_fit(std::vector<double>{5, -1}, exp).status,
            StatStatus::kInvalidInput);
  EXPECT_EQ(chi_square_goodness_of_fit(obs, std::vector<double>{1, -1}).status,
            StatStatus::kInvalidInput);
  EXPECT_EQ(chi_square_goodness_of_fit(obs, std::vector<double>{0, 0}).status,
            StatStatus::kInvalidInput);
  const std::vector<double> empty_row{0, 0, 3, 4};
  const ChiSquareResult r = chi_square_independence(empty_row, 2, 2);
  EXPECT_EQ(r.status, StatStatus::kNotEnoughData);
  EXPECT_EQ(r.p_value, 1.0);
  EXPECT_EQ(chi_square_independence(std::vector<double>{1, 2, 3}, 1, 3).status,
            StatStatus::kNotEnoughData);
  EXPECT_EQ(chi_square_independence(
                std::vector<double>{1, std::numeric_limits<double>::quiet_NaN(), 3, 4}, 2, 2)
                .status,
            StatStatus::kInvalidInput);
  EXPECT_THROW(chi_square_independence(std::vector<double>{1, 2, 3}, 2, 2), InvalidArgument);
}

}  // namespace
}  // namespace switchyard::stats
