// SPDX-License-Identifier: Apache-2.0
// McNemar's test for two classifiers scored on the same examples (statsmodels' definitions).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <switchyard/core/error.hpp>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/result.hpp>

namespace switchyard::stats {

/// The discordant cells of a paired 2x2 table: examples model A got right and B wrong, and the
/// reverse. (The concordant cells do not enter McNemar's test.)
struct McNemarCounts {
  std::uint64_t a_right_b_wrong = 0;
  std::uint64_t a_wrong_b_right = 0;
};

enum class McNemarMethod : int {
  kExact = 0,      ///< binomial test of the discordant split against 1/2
  kChiSquare = 1,  ///< chi-square with Edwards' continuity correction
};

/// McNemar's test. statistic: min(b, c) (exact) or the corrected chi-square; effect: the difference
/// in accuracy, (b - c) / n_pairs when n_pairs is known, else (b - c) / (b + c); no interval.
/// One-sided p-values (exact method only; the chi-square one reports the two-sided p in all three)
/// are binomial tails: p_value_greater for "A is more accurate than B".
/// Thread-safe: a value type.
struct McNemarResult : TestResult {
  std::uint64_t discordant = 0;  ///< b + c
};

/// McNemar's test on discordant counts.
///
/// Reference: statsmodels.stats.contingency_tables.mcnemar(table, exact, correction=True)
/// (statsmodels 0.13.5): exact p = min(1, 2 * Binom(b + c, 1/2).cdf(min(b, c))); chi-square
/// statistic (|b - c| - 1)^2 / (b + c) with 1 df; 1e-12 relative.
/// Degenerate input: no discordant pairs -> kNotEnoughData (the models agree everywhere; p = 1).
inline McNemarResult mcnemar_test(const McNemarCounts& counts,
                                  McNemarMethod method = McNemarMethod::kExact,
                                  std::uint64_t n_pairs = 0) {
  McNemarResult r;
  const std::uint64_t b = counts.a_right_b_wrong, c = counts.a_wrong_b_right;
  r.discordant = b + c;
  if (b + c == 0) {
    detail::set_status(r, StatStatus::kNotEnoughData,
                       "no discordant pairs: the models agree on every example");
    r.discordant = 0;
    return r;
  }
  r.status = StatStatus::kOk;
  const double bd = static_cast<double>(b), cd = static_cast<double>(c);
  r.effect = (bd - cd) / static_cast<double>(n_pairs > 0 ? n_pairs : b + c);
  r.interval = Interval{};
  if (method == McNemarMethod::kExact) {
    r.statistic = static_cast<double>(std::min(b, c));
    r.p_value = std::min(1.0, 2.0 * detail::binomial_cdf(std::min(b, c), b + c, 0.5));
    // A better than B means many b: P(X >= b) = P(X <= c) by symmetry.
    r.p_value_greater = detail::binomial_cdf(c, b + c, 0.5);
    r.p_value_less = detail::binomial_cdf(b, b + c, 0.5);
  } else {
    const double diff = std::fabs(bd - cd) - 1.0;
    r.statistic = diff * diff / (bd + cd);
    r.p_value = detail::chi2_sf(r.statistic, 1.0);
    r.p_value_less = r.p_value;
    r.p_value_greater = r.p_value;
  }
  return r;
}

/// McNemar's test from labels and two models' predicted labels on the same examples.
/// Throws InvalidArgument when the spans differ in length. Degenerate input as the counts form;
/// no examples -> kNotEnoughData.
inline McNemarResult mcnemar_test(std::span<const int> labels, std::span<const int> predictions_a,
                                  std::span<const int> predictions_b,
                                  McNemarMethod method = McNemarMethod::kExact) {
  if (labels.size() != predictions_a.size() || labels.size() != predictions_b.size()) {
    throw InvalidArgument("mcnemar_test: labels (" + std::to_string(labels.size()) +
                          "), predictions_a (" + std::to_string(predictions_a.size()) +
                          ") and predictions_b (" + std::to_string(predictions_b.size()) +
                          ") must have the same length");
  }
  McNemarCounts counts;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const bool a = predictions_a[i] == labels[i];
    const bool b = predictions_b[i] == labels[i];
    if (a && !b) ++counts.a_right_b_wrong;
    if (!a && b) ++counts.a_wrong_b_right;
  }
  return mcnemar_test(counts, method, labels.size());
}

}  // namespace switchyard::stats
