// SPDX-License-Identifier: Apache-2.0
// ROC AUC against scikit-learn 1.2.1; DeLong's variance, interval and paired test against pROC.
#include <gtest/gtest.h>

#include <limits>
#include <switchyard/stats/roc_auc.hpp>
#include <vector>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

// Reference: sklearn.metrics.roc_auc_score (scikit-learn 1.2.1) 1e-12 relative; R pROC 1.18.0
// var(method='delong') and ci.auc(method='delong') 1e-10 relative. Scores are rounded, so ties
// are exercised.
TEST(RocAucTest, auc_and_delong_variance_match_sklearn_and_proc) {
  for (const auto& c : reference::kAucCases) {
    SCOPED_TRACE(c.name);
    const AucResult a = roc_auc(c.labels, c.a);
    ASSERT_TRUE(a.ok()) << a.reason;
    EXPECT_REL(a.auc, c.sk_auc_a, 1e-12);
    EXPECT_REL(a.auc, c.auc_a, 1e-12);
    EXPECT_REL(a.variance, c.var_a, 1e-10);
    EXPECT_REL(a.interval.lower, c.ci_lo, 1e-10);
    EXPECT_REL(a.interval.upper, c.ci_hi, 1e-10);
    const AucResult b = roc_auc(c.labels, c.b);
    EXPECT_REL(b.auc, c.sk_auc_b, 1e-12);
    EXPECT_REL(b.variance, c.var_b, 1e-10);
  }
}

// Reference: R pROC 1.18.0 roc.test(roc_a, roc_b, method='delong', paired=TRUE, alternative);
// Z and p-values 1e-10 relative, and its conf.int for the difference.
TEST(RocAucTest, paired_delong_test_matches_proc) {
  for (const auto& c : reference::kAucCases) {
    SCOPED_TRACE(c.name);
    const DeLongResult r = delong_test(c.labels, c.a, c.b);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_REL(r.statistic, c.z, 1e-10);
    EXPECT_REL(r.p_value, c.p, 1e-10);
    EXPECT_REL(r.p_value_less, c.p_less, 1e-10);
    EXPECT_REL(r.p_value_greater, c.p_greater, 1e-10);
    EXPECT_REL(r.interval.lower, c.diff_lo, 1e-10);
    EXPECT_REL(r.interval.upper, c.diff_hi, 1e-10);
    EXPECT_DOUBLE_EQ(r.effect, r.auc_a - r.auc_b);
  }
}

TEST(RocAucTest, degenerate_inputs) {
  const std::vector<int> one_class{1, 1, 1};
  const std::vector<double> s{0.1, 0.2, 0.3};
  EXPECT_EQ(roc_auc(one_class, s).status, StatStatus::kNotEnoughData);
  const std::vector<int> single_pos{1, 0, 0};
  const AucResult a = roc_auc(single_pos, s);
  EXPECT_EQ(a.status, StatStatus::kNotEnoughData);
  EXPECT_DOUBLE_EQ(a.auc, 0.0);  // the positive scored lowest; auc set although the variance is not
  EXPECT_EQ(roc_auc(std::vector<int>{1, 2, 0}, s).status, StatStatus::kInvalidInput);
  EXPECT_EQ(roc_auc(std::vector<int>{1, 0, 0},
                    std::vector<double>{0.1, std::numeric_limits<double>::quiet_NaN(), 0.3})
                .status,
            StatStatus::kInvalidInput);
  EXPECT_THROW(roc_auc(single_pos, std::vector<double>{0.1}), InvalidArgument);
  // Two perfectly separating models: the AUC difference has zero variance.
  const std::vector<int> y{0, 0, 1, 1};
  const std::vector<double> p{0.1, 0.2, 0.8, 0.9}, q{0.3, 0.4, 0.6, 0.7};
  const AucResult perfect = roc_auc(y, p);
  EXPECT_TRUE(perfect.ok());
  EXPECT_EQ(perfect.auc, 1.0);
  EXPECT_EQ(perfect.variance, 0.0);
  EXPECT_EQ(delong_test(y, p, q).status, StatStatus::kZeroVariance);
}

}  // namespace
}  // namespace switchyard::stats
