// SPDX-License-Identifier: Apache-2.0
// Test helpers for the statistics tests: closeness to a reference within a stated tolerance.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/running_moments.hpp>

namespace switchyard::stats::testing {

/// |actual - expected| <= rel * |expected| + abs. Infinite values must match exactly.
inline ::testing::AssertionResult close(double actual, double expected, double rel,
                                        double abs = 0.0) {
  if (std::isinf(expected) || std::isinf(actual)) {
    if (actual == expected) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "actual " << actual << " vs expected " << expected;
  }
  const double err = std::fabs(actual - expected);
  if (err <= rel * std::fabs(expected) + abs) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "actual " << std::to_string(actual) << " (" << actual << ") vs expected " << expected
         << ": error " << err << ", relative " << err / std::fabs(expected) << " > " << rel;
}

/// One arm's summary from gbstats-style sufficient statistics: a proportion (sum = successes) or
/// a continuous metric (sum and sum of squares).
inline SampleSummary arm(bool proportion, std::uint64_t n, double sum, double sum_squares) {
  if (proportion) return ProportionCounter(static_cast<std::uint64_t>(sum), n).summary();
  return SampleSummary::from_sums(n, sum, sum_squares);
}

}  // namespace switchyard::stats::testing

#define EXPECT_REL(actual, expected, rel) \
  EXPECT_TRUE(::switchyard::stats::testing::close((actual), (expected), (rel))) << #actual
#define EXPECT_CLOSE(actual, expected, rel, abs) \
  EXPECT_TRUE(::switchyard::stats::testing::close((actual), (expected), (rel), (abs))) << #actual
