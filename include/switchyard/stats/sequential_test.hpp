// SPDX-License-Identifier: Apache-2.0
// Sequential testing valid under continuous peeking: GrowthBook's normal-mixture confidence
// sequence.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <switchyard/stats/effect_moments.hpp>
#include <switchyard/stats/result.hpp>

namespace switchyard::stats {

/// Options of the always-valid (sequential) test.
struct SequentialOptions {
  /// Confidence level of the interval; alpha = 1 - confidence bounds the false positive rate over
  /// any number of looks.
  double confidence = 0.95;
  /// The normal mixture's tuning parameter: the total sample size (both arms) at which the
  /// interval is tightest. GrowthBook's default.
  double tuning_parameter = 5000.0;
};

/// The always-valid test: p_value and interval stay valid however often they are looked at.
/// p_value_less / p_value_greater are the one-sided always-valid p-values (GrowthBook clamps them
/// to [1e-5, 0.4999]); interval_less / interval_greater the one-sided intervals.
/// Thread-safe: a value type.
struct SequentialResult : TestResult {
  EffectScale scale = EffectScale::kRelative;
  double std_error = 0.0;
  double rho = 0.0;           ///< mixture scale for the two-sided interval
  Interval interval_less;     ///< (-inf, upper]: effect below upper
  Interval interval_greater;  ///< [lower, +inf): effect above lower
};

namespace detail {

/// GrowthBook's rho for the mixture (eq. 161 of Waudby-Smith et al., arXiv:2103.06476v7).
inline double sequential_rho(double alpha, double tuning, bool two_sided) {
  const double a = two_sided ? alpha : 2.0 * alpha;
  return std::sqrt((-2.0 * std::log(a) + std::log(-2.0 * std::log(a) + 1.0)) / tuning);
}

}  // namespace detail

/// The always-valid test of an effect's moments, with the normal mixture GrowthBook's engine uses.
/// With n = total units, s^2 = std_error^2 n and rho from alpha and the tuning parameter:
///   half-width   = s sqrt(2 (n rho^2 + 1) ln(sqrt(n rho^2 + 1) / alpha) / (n rho)^2)
///   p-value      = min(1, sqrt(n rho^2 + 1) exp(-rho^2 n (estimate/std_error)^2 / (2 (n rho^2 +
///   1))))
/// One-sided: the half-width with ln(1 + sqrt(n rho1^2 + 1) / (2 alpha)) and rho1 for 2 alpha; the
/// one-sided p-value is the alpha at which the one-sided bound touches 0, in closed form
/// (GrowthBook finds it by bisection to 1e-6 and clamps to [1e-5, 0.4999]; the clamps are kept).
///
/// Reference: GrowthBook gbstats 0.8.0 SequentialTwoSidedTTest (1e-12 relative) and
/// SequentialOneSided{Lesser,Greater}TTest (intervals 1e-12; p-values within gbstats' bisection
/// tolerance, 1e-5 absolute).
/// Degenerate input: moments not ok -> that status. Throws InvalidArgument unless 0 < confidence <
/// 1 and tuning_parameter > 0.
inline SequentialResult sequential_test(const EffectMoments& moments,
                                        const SequentialOptions& options = {}) {
  detail::require_open_unit(options.confidence, "confidence");
  if (!(options.tuning_parameter > 0.0) || !std::isfinite(options.tuning_parameter)) {
    throw InvalidArgument("sequential tuning_parameter must be positive, got " +
                          std::to_string(options.tuning_parameter));
  }
  SequentialResult r;
  r.confidence = options.confidence;
  r.scale = moments.scale;
  std::string why;
  if (const StatStatus st = detail::usable(moments, why); st != StatStatus::kOk) {
    detail::set_status(r, st, std::move(why));
    r.scale = moments.scale;
    return r;
  }
  const double alpha = 1.0 - options.confidence;
  const double n = static_cast<double>(moments.total_count);
  const double pe = moments.estimate, se = moments.std_error;
  const double s2 = se * se * n;
  // Two-sided.
  const double rho = detail::sequential_rho(alpha, options.tuning_parameter, true);
  const double nr2p1 = n * rho * rho + 1.0;
  const double hw = std::sqrt(s2) * std::sqrt(2.0 * nr2p1 * std::log(std::sqrt(nr2p1) / alpha) /
                                              ((n * rho) * (n * rho)));
  const double st2 = pe * pe * n / (se * se);
  // log of GrowthBook's e-value; p = min(1, 1/e), formed in logs so it cannot overflow.
  const double log_e = rho * rho * st2 / (2.0 * nr2p1) - 0.5 * std::log(nr2p1);
  r.status = StatStatus::kOk;
  r.statistic = pe / se;
  r.effect = pe;
  r.std_error = se;
  r.rho = rho;
  r.p_value = log_e > 0.0 ? std::exp(-log_e) : 1.0;
  r.interval = Interval{pe - hw, pe + hw};
  // One-sided.
  const double rho1 = detail::sequential_rho(alpha, options.tuning_parameter, false);
  const double q = n * rho1 * rho1 + 1.0;
  const double scale1 = s2 * 2.0 * q / ((n * rho1) * (n * rho1));
  const double hw1 = std::sqrt(scale1 * std::log(1.0 + std::sqrt(q) / (2.0 * alpha)));
  r.interval_less = Interval{-detail::kInf, pe + hw1};
  r.interval_greater = Interval{pe - hw1, detail::kInf};
  constexpr double kMinAlpha = 1e-5, kMaxAlpha = 0.4999;
  // The alpha at which the one-sided half-width equals |pe|.
  auto touching_alpha = [&](double magnitude) {
    const double k = magnitude * magnitude / scale1;
    const double a = std::sqrt(q) / (2.0 * std::expm1(k));
    return std::clamp(a, kMinAlpha, kMaxAlpha);
  };
  r.p_value_less = pe < 0.0 ? touching_alpha(-pe) : kMaxAlpha;
  r.p_value_greater = pe > 0.0 ? touching_alpha(pe) : kMaxAlpha;
  return r;
}

/// Convenience: the always-valid test of treatment against control summaries.
inline SequentialResult sequential_test(const SampleSummary& control,
                                        const SampleSummary& treatment,
                                        EffectScale scale = EffectScale::kRelative,
                                        const SequentialOptions& options = {}) {
  return sequential_test(effect_moments(control, treatment, scale), options);
}

}  // namespace switchyard::stats
