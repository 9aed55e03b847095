// SPDX-License-Identifier: Apache-2.0
// The fixed-horizon lift test: GrowthBook's frequentist t-test on an absolute or relative effect.
#pragma once

#include <cmath>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/effect_moments.hpp>
#include <switchyard/stats/result.hpp>

namespace switchyard::stats {

/// A lift test: statistic = estimate / std_error, effect = the lift on moments.scale, interval its
/// confidence interval, with Welch's degrees of freedom.
/// Thread-safe: a value type.
struct LiftResult : TestResult {
  EffectScale scale = EffectScale::kRelative;
  double std_error = 0.0;
  double df = 0.0;
};

/// The t-test of an effect's moments: p-values from Student's t with Welch's df, interval
/// estimate -+ t.ppf(1 - alpha/2, df) * std_error.
///
/// Reference: GrowthBook gbstats 0.8.0 TwoSidedTTest, OneSidedTreatmentGreaterTTest and
/// OneSidedTreatmentLesserTTest (p_value_greater / p_value_less) with FrequentistConfig(alpha =
/// 1 - confidence), 1e-12 relative in the ordinary range (gbstats forms 1 - cdf, so its p-values
/// below ~1e-15 are 0 where these keep their digits).
/// Degenerate input: moments not ok -> that status. Throws InvalidArgument unless 0 < confidence
/// < 1.
inline LiftResult lift_test(const EffectMoments& moments, double confidence = 0.95) {
  detail::require_open_unit(confidence, "confidence");
  LiftResult r;
  r.confidence = confidence;
  r.scale = moments.scale;
  std::string why;
  if (const StatStatus st = detail::usable(moments, why); st != StatStatus::kOk) {
    detail::set_status(r, st, std::move(why));
    r.scale = moments.scale;
    return r;
  }
  detail::finish_t(r, moments.estimate / moments.std_error, moments.df, moments.estimate,
                   moments.std_error);
  r.std_error = moments.std_error;
  r.df = moments.df;
  return r;
}

/// The relative (or absolute) lift of treatment over control with its delta-method interval.
/// See effect_moments and lift_test.
inline LiftResult lift_test(const SampleSummary& control, const SampleSummary& treatment,
                            EffectScale scale = EffectScale::kRelative, double confidence = 0.95) {
  return lift_test(effect_moments(control, treatment, scale), confidence);
}

}  // namespace switchyard::stats
