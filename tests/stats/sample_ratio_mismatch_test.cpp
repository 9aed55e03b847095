// SPDX-License-Identifier: Apache-2.0
// Sample ratio mismatch against GrowthBook's check_srm.
#include <gtest/gtest.h>

#include <cstdint>
#include <switchyard/stats/sample_ratio_mismatch.hpp>
#include <vector>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

// Reference: GrowthBook gbstats 0.8.0 gbstats.utils.check_srm(users, weights); 1e-12 relative.
TEST(SampleRatioMismatchTest, matches_growthbook_check_srm) {
  for (const auto& c : reference::kSrmCases) {
    SCOPED_TRACE(c.name);
    const SrmResult r = sample_ratio_mismatch(c.users, c.weights);
    ASSERT_TRUE(r.ok()) << r.reason;
    EXPECT_REL(r.p_value, c.p, 1e-12);
    EXPECT_EQ(r.mismatch, c.p < 0.001);
  }
}

TEST(SampleRatioMismatchTest, flags_a_broken_split_at_growthbooks_threshold) {
  const std::vector<std::uint64_t> fine{10000, 10100}, broken{10000, 10600};
  const std::vector<double> w{0.5, 0.5};
  EXPECT_FALSE(sample_ratio_mismatch(fine, w).mismatch);
  const SrmResult r = sample_ratio_mismatch(broken, w);
  EXPECT_TRUE(r.mismatch);
  EXPECT_LT(r.p_value, kDefaultSrmThreshold);
  EXPECT_EQ(r.df, 1.0);
}

// A switched-off arm (weight 0) that still receives a few units, both conventions. References:
// gbstats 0.8.0 check_srm([5000, 5100, 40], [0.5, 0.5, 0]): chi-square (70^2 + 30^2) / 5070 =
// 1.143984220907298 on 2 df, p = scipy 1.10.1 chi2.sf(x, 2) = 0.5643999709615244; GrowthBook's UI
// checkSrm drops the arm: (50^2 + 50^2) / 5050 = 0.9900990099009901 on 1 df, p =
// chi2.sf(x, 1) = 0.3197181768128675. 1e-12 relative.
TEST(SampleRatioMismatchTest, zero_weight_arm_as_gbstats_or_as_growthbooks_ui) {
  const std::vector<std::uint64_t> users{5000, 5100, 40};
  const std::vector<double> w{0.5, 0.5, 0.0};
  const SrmResult engine = sample_ratio_mismatch(users, w);
  ASSERT_TRUE(engine.ok()) << engine.reason;
  EXPECT_REL(engine.statistic, 1.143984220907298, 1e-12);
  EXPECT_EQ(engine.df, 2.0);
  EXPECT_REL(engine.p_value, 0.5643999709615244, 1e-12);
  const SrmResult ui =
      sample_ratio_mismatch(users, w, kDefaultSrmThreshold, ZeroWeightArms::kDrop);
  ASSERT_TRUE(ui.ok()) << ui.reason;
  EXPECT_REL(ui.statistic, 0.9900990099009901, 1e-12);
  EXPECT_EQ(ui.df, 1.0);
  EXPECT_REL(ui.p_value, 0.3197181768128675, 1e-12);
  // Dropping leaves one arm of positive weight: nothing to check.
  const SrmResult one = sample_ratio_mismatch(std::vector<std::uint64_t>{10, 3},
                                              std::vector<double>{1.0, 0.0},
                                              kDefaultSrmThreshold, ZeroWeightArms::kDrop);
  EXPECT_EQ(one.status, StatStatus::kNotEnoughData);
  EXPECT_FALSE(one.mismatch);
}

TEST(SampleRatioMismatchTest, degenerate_and_invalid) {
  const std::vector<double> w{0.5, 0.5};
  const SrmResult none = sample_ratio_mismatch(std::vector<std::uint64_t>{0, 0}, w);
  EXPECT_EQ(none.status, StatStatus::kNotEnoughData);
  EXPECT_FALSE(none.mismatch);
  EXPECT_EQ(none.p_value, 1.0);
  EXPECT_THROW(
      sample_ratio_mismatch(std::vector<std::uint64_t>{1, 2}, std::vector<double>{0.5, -0.5}),
      InvalidArgument);
  EXPECT_THROW(
      sample_ratio_mismatch(std::vector<std::uint64_t>{1, 2}, std::vector<double>{0.0, 0.0}),
      InvalidArgument);
  EXPECT_THROW(sample_ratio_mismatch(std::vector<std::uint64_t>{1, 2, 3}, w), InvalidArgument);
}

}  // namespace
}  // namespace switchyard::stats
