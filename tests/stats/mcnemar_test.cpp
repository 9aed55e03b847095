// SPDX-License-Identifier: Apache-2.0
// McNemar's test against statsmodels 0.13.5.
#include <gtest/gtest.h>

#include <switchyard/stats/mcnemar.hpp>
#include <vector>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

// Reference: statsmodels 0.13.5 mcnemar(table, exact=True / exact=False, correction=True), and
// scipy binom.cdf for the one-sided exact p-values; 1e-12 relative.
TEST(McNemarTest, matches_statsmodels) {
  for (const auto& c : reference::kMcNemarCases) {
    SCOPED_TRACE(std::to_string(c.b) + "/" + std::to_string(c.c));
    const McNemarCounts counts{c.b, c.c};
    const McNemarResult e = mcnemar_test(counts, McNemarMethod::kExact);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e.statistic, c.exact_stat);
    EXPECT_REL(e.p_value, c.exact_p, 1e-12);
    EXPECT_REL(e.p_value_greater, c.p_greater, 1e-12);
    EXPECT_REL(e.p_value_less, c.p_less, 1e-12);
    const McNemarResult x = mcnemar_test(counts, McNemarMethod::kChiSquare);
    EXPECT_REL(x.statistic, c.chi2_stat, 1e-12);
    EXPECT_REL(x.p_value, c.chi2_p, 1e-12);
  }
}

TEST(McNemarTest, from_predictions_counts_discordant_pairs) {
  const std::vector<int> y{1, 1, 0, 0, 1, 0, 1, 1};
  const std::vector<int> a{1, 1, 0, 1, 1, 0, 0, 1};  // right on 6
  const std::vector<int> b{0, 1, 0, 1, 0, 0, 1, 1};  // right on 5
  const McNemarResult r = mcnemar_test(y, a, b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.discordant, 3u);  // a right & b wrong: 2; a wrong & b right: 1
  EXPECT_DOUBLE_EQ(r.effect, (2.0 - 1.0) / 8.0);
  EXPECT_THROW(mcnemar_test(y, a, std::vector<int>{1}), InvalidArgument);
}

TEST(McNemarTest, no_discordant_pairs_is_not_enough_data) {
  const McNemarResult r = mcnemar_test(McNemarCounts{0, 0}, McNemarMethod::kChiSquare);
  EXPECT_EQ(r.status, StatStatus::kNotEnoughData);
  EXPECT_EQ(r.p_value, 1.0);
}

}  // namespace
}  // namespace switchyard::stats
