// SPDX-License-Identifier: Apache-2.0
// p-value adjustment against statsmodels 0.13.5 multipletests.
#include <gtest/gtest.h>

#include <limits>
#include <span>
#include <switchyard/stats/multiple_comparisons.hpp>
#include <vector>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

void expect_matches(PValueAdjustment m, std::span<const double> adjusted,
                    std::span<const int> rejected) {
  const AdjustedPValues r = adjust_p_values(reference::kMultiP, m, 0.05);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.p_values.size(), adjusted.size());
  for (std::size_t i = 0; i < adjusted.size(); ++i) {
    EXPECT_REL(r.p_values[i], adjusted[i], 1e-15) << i;
    EXPECT_EQ(r.rejected[i], rejected[i] != 0) << i;
  }
}

// Reference: statsmodels 0.13.5 multipletests(p, alpha=0.05, method) pvals_corrected and reject;
// 1e-15 relative (same arithmetic), including tied p-values and a p of 1.
TEST(MultipleComparisonsTest, bonferroni_matches_statsmodels) {
  expect_matches(PValueAdjustment::kBonferroni, reference::kMultiBonferroniAdjusted,
                 reference::kMultiBonferroniRejected);
}
TEST(MultipleComparisonsTest, holm_matches_statsmodels) {
  expect_matches(PValueAdjustment::kHolm, reference::kMultiHolmAdjusted,
                 reference::kMultiHolmRejected);
}
TEST(MultipleComparisonsTest, benjamini_hochberg_matches_statsmodels) {
  expect_matches(PValueAdjustment::kBenjaminiHochberg, reference::kMultiFdrBhAdjusted,
                 reference::kMultiFdrBhRejected);
}

TEST(MultipleComparisonsTest, degenerate_and_invalid) {
  EXPECT_EQ(adjust_p_values(std::vector<double>{}, PValueAdjustment::kHolm).status,
            StatStatus::kNotEnoughData);
  EXPECT_EQ(adjust_p_values(std::vector<double>{0.1, 1.2}, PValueAdjustment::kHolm).status,
            StatStatus::kInvalidInput);
  EXPECT_EQ(adjust_p_values(std::vector<double>{std::numeric_limits<double>::quiet_NaN()},
                            PValueAdjustment::kHolm)
                .status,
            StatStatus::kInvalidInput);
  EXPECT_THROW(adjust_p_values(std::vector<double>{0.1}, PValueAdjustment::kHolm, 0.0),
               InvalidArgument);
}

}  // namespace
}  // namespace switchyard::stats
