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

/// What the sample-ratio check does with an arm whose weight is 0 (a variation switched off).
enum class ZeroWeightArms : std::uint8_t {
  /// GrowthBook's Python engine (gbstats 0.8.0 check_srm): the arm is left out of the statistic,
  /// but its units still count in the total the others' expected counts are taken from, and it
  /// still counts in df = arms - 1.
  kKeepInDf,
  /// GrowthBook's web UI (its TypeScript checkSrm): the arm is dropped entirely, units and all;
  /// df = arms with a positive weight - 1. Units that still reach a switched-off arm then do not
  /// dilute the check of the others.
  kDrop,
};

/// Chi-square goodness of fit of observed units per arm against the configured traffic weights.
///
/// Reference: GrowthBook gbstats.utils.check_srm(users, weights) (gbstats 0.8.0), reproduced to
/// 1e-12 including its conventions: weights are normalised by their sum; arms with weight 0 are
/// handled as `zero_weight_arms` says (by default as gbstats: skipped in the statistic, counted
/// in df = arms - 1; ZeroWeightArms::kDrop drops them as GrowthBook's UI does).
/// Degenerate input: no units at all, or fewer than 2 arms (with kDrop: fewer than 2 arms of
/// positive weight) -> kNotEnoughData (GrowthBook returns p = 1). Throws InvalidArgument when the
/// spans differ in length, a weight is negative or not finite, all weights are 0, or threshold is
/// not in (0, 1).
inline SrmResult sample_ratio_mismatch(std::span<const std::uint64_t> observed,
                                       std::span<const double> weights,
                                       double threshold = kDefaultSrmThreshold,
                                       ZeroWeightArms zero_weight_arms =
                                           ZeroWeightArms::kKeepInDf) {
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
  const bool drop = zero_weight_arms == ZeroWeightArms::kDrop;
  std::size_t arms = 0;
  double total = 0.0;
  for (std::size_t i = 0; i < observed.size(); ++i) {
    if (drop && !(weights[i] > 0.0)) continue;
    ++arms;
    total += static_cast<double>(observed[i]);
  }
  if (arms < 2) {
    r.reason = drop ? "fewer than 2 arms with a positive weight" : "fewer than 2 arms";
    return r;
  }
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
  r.df = static_cast<double>(arms - 1);
  r.p_value = detail::chi2_sf(x, r.df);
  r.mismatch = r.p_value < threshold;
  return r;
}

}  // namespace switchyard::stats
