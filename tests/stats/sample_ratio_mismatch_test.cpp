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
