// SPDX-License-Identifier: Apache-2.0
// Sample ratio mismatch: do the observed arm sizes fit the configured traffic weights?
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <switchyard/core/error.hpp>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/result.hpp>

namespace switchyard::stats {

/// GrowthBook's default threshold: a p-value below it flags a sample ratio mismatch.
inline constexpr double kDefaultSrmThreshold = 0.001;

/// The verdict of a sample-ratio-mismatch check.
/// Thread-safe: a value type.
struct SrmResult {
  StatStatus status = StatStatus::kNotEnoughData;
  std::string reason;
  double statistic = 0.0;  ///< chi-square statistic
  double df = 0.0;         ///< number of arms - 1
  double p_value = 1.0;
  double threshold = kDefaultSrmThreshold;
  bool mismatch = false;  ///< p_value < threshold (false unless status is kOk)

  bool ok() const noexcept { return status == StatStatus::kOk; }
};

/// Chi-square goodness of fit of observed units per arm against the configured traffic weights.
///
/// Reference: GrowthBook gbstats.utils.check_srm(users, weights) (gbstats 0.8.0), reproduced to
/// 1e-12 including its conventions: weights are normalised by their sum; arms with weight 0 are
/// skipped in the statistic but still count toward df = arms - 1.
/// Degenerate input: no units at all, or fewer than 2 arms -> kNotEnoughData (GrowthBook returns
/// p = 1). Throws InvalidArgument when the spans differ in length, a weight is negative or not
/// finite, all weights are 0, or threshold is not in (0, 1).
inline SrmResult sample_ratio_mismatch(std::span<const std::uint64_t> observed,
                                       std::span<const double> weights,
                                       double threshold = kDefaultSrmThreshold) {
  detail::require_open_unit(threshold, "threshold");
  if (observed.size() != weights.size()) {
    throw InvalidArgument("sample_ratio_mismatch: " + std::to_string(observed.size()) +
                          " arms observed but " + std::to_string(weights.size()) + " weights");
  }
  double total_weight = 0.0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i]) || weights[i] < 0.0) {
      throw InvalidArgument("sample_ratio_mismatch: weight " + std::to_string(i) +
                            " must be finite and non-negative, got " + std::to_string(weights[i]));
    }
    total_weight += weights[i];
  }
  if (!(total_weight > 0.0)) throw InvalidArgument("sample_ratio_mismatch: all weights are 0");
  SrmResult r;
  r.threshold = threshold;
  if (observed.size() < 2) {
    r.reason = "fewer than 2 arms";
    return r;
  }
  double total = 0.0;
  for (std::uint64_t o : observed) total += static_cast<double>(o);
  if (total == 0.0) {
    r.reason = "no units observed";
    return r;
  }
  double x = 0.0;
  for (std::size_t i = 0; i < observed.size(); ++i) {
    if (weights[i] <= 0.0) continue;
    const double e = weights[i] / total_weight * total;
    const double d = static_cast<double>(observed[i]) - e;
    x += d * d / e;
  }
  r.status = StatStatus::kOk;
  r.statistic = x;
  r.df = static_cast<double>(observed.size() - 1);
  r.p_value = detail::chi2_sf(x, r.df);
  r.mismatch = r.p_value < threshold;
  return r;
}

}  // namespace switchyard::stats
