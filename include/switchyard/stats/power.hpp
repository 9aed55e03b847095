// SPDX-License-Identifier: Apache-2.0
// Power analysis: sample size per arm, achieved power, and samples a running test still needs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <switchyard/core/error.hpp>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/detail/root_finding.hpp>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/result.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <switchyard/stats/t_test.hpp>

namespace switchyard::stats {

/// How a minimum detectable effect is given.
enum class MdeKind : int {
  kAbsolute = 0,  ///< treatment - control, in the metric's units (or rate points)
  kRelative = 1,  ///< (treatment - control) / control
};

/// Design parameters of a two-arm test with equal arms.
struct PowerOptions {
  double alpha = 0.05;  ///< false positive rate
  double power = 0.8;   ///< probability of detecting the minimum effect
  /// kTwoSided, or the one-sided alternative the test will use (kGreater: treatment above).
  Alternative alternative = Alternative::kTwoSided;
};

/// A required sample size. When status is not kOk every number is 0.
/// Thread-safe: a value type.
struct SampleSizeResult {
  StatStatus status = StatStatus::kNotEnoughData;
  std::string reason;
  double per_arm_exact = 0.0;           ///< the continuous solution of power(n) = target
  std::uint64_t per_arm = 0;            ///< per_arm_exact rounded up
  std::uint64_t total = 0;              ///< 2 * per_arm
  double effect_size = 0.0;             ///< standardised effect: Cohen's h (rates) or d (means)
  std::uint64_t remaining_per_arm = 0;  ///< for remaining_*: per_arm minus the units already seen

  bool ok() const noexcept { return status == StatStatus::kOk; }
};

namespace detail {

inline void validate_power_options(const PowerOptions& o) {
  require_open_unit(o.alpha, "alpha");
  require_open_unit(o.power, "power");
}

/// statsmodels' normal_power: power of a z-test with standardised effect d and effective n.
inline double normal_power(double d, double nobs, double alpha, Alternative alt) {
  const double a = alt == Alternative::kTwoSided ? alpha / 2.0 : alpha;
  const double shift = d * std::sqrt(nobs);
  double p = 0.0;
  if (alt != Alternative::kLess) p += normal_sf(normal_isf(a) - shift);
  if (alt != Alternative::kGreater) p += normal_cdf(normal_quantile(a) - shift);
  return p;
}

/// statsmodels' ttest_power: power of a t-test from the noncentral t distribution.
inline double t_power(double d, double nobs, double df, double alpha, Alternative alt) {
  const double a = alt == Alternative::kTwoSided ? alpha / 2.0 : alpha;
  const double nc = d * std::sqrt(nobs);
  double p = 0.0;
  if (alt != Alternative::kLess) p += noncentral_t_sf(t_isf(a, df), df, nc);
  if (alt != Alternative::kGreater) p += noncentral_t_cdf(-t_isf(a, df), df, nc);
  return p;
}

/// Power of two equal arms of n each: proportions (normal, Cohen's h) or means (noncentral t).
inline double arm_power(bool means, double effect, double n, double alpha, Alternative alt) {
  if (means) return t_power(effect, n / 2.0, 2.0 * n - 2.0, alpha, alt);
  return normal_power(effect, n / 2.0, alpha, alt);
}

inline SampleSizeResult solve_sample_size(bool means, double effect, const PowerOptions& o) {
  SampleSizeResult r;
  r.effect_size = effect;
  // A one-sided test against the wrong direction can never reach the target power.
  const double signed_effect =
      o.alternative == Alternative::kLess
          ? -effect
          : (o.alternative == Alternative::kGreater ? effect : std::fabs(effect));
  if (!(signed_effect > 0.0)) {
    r.status = StatStatus::kInvalidInput;
    r.reason =
        "the effect points against the one-sided alternative; no sample size reaches the power";
    return r;
  }
  auto f = [&](double n) { return arm_power(means, effect, n, o.alpha, o.alternative) - o.power; };
  // Means need df = 2n - 2 > 0; n = 2 is the smallest design reported.
  const double lo = means ? 2.0 : 1e-9;
  double hi = 4.0;
  while (f(hi) < 0.0 && hi < 1e15) hi *= 2.0;
  if (f(hi) < 0.0) {
    r.status = StatStatus::kInvalidInput;
    r.reason = "the effect is too small to reach the power with fewer than 1e15 units per arm";
    return r;
  }
  const double n = f(lo) >= 0.0 ? lo : bisect(lo, hi, f);
  r.status = StatStatus::kOk;
  r.per_arm_exact = n;
  r.per_arm = static_cast<std::uint64_t>(std::ceil(n));
  r.total = 2 * r.per_arm;
  return r;
}

inline double treatment_rate(double baseline, double mde, MdeKind kind) {
  return kind == MdeKind::kRelative ? baseline * (1.0 + mde) : baseline + mde;
}

inline double cohens_h(double p_treatment, double p_control) {
  return 2.0 * std::asin(std::sqrt(p_treatment)) - 2.0 * std::asin(std::sqrt(p_control));
}

inline void validate_rates(double baseline, double mde, MdeKind kind) {
  if (!(baseline > 0.0 && baseline < 1.0)) {
    throw InvalidArgument("baseline rate must lie strictly between 0 and 1, got " +
                          std::to_string(baseline));
  }
  const double pt = treatment_rate(baseline, mde, kind);
  if (!(mde != 0.0) || !std::isfinite(mde) || !(pt > 0.0 && pt < 1.0)) {
    throw InvalidArgument("minimum detectable effect " + std::to_string(mde) +
                          " must be non-zero and keep the treatment rate inside (0, 1)");
  }
}

inline double absolute_mde(double baseline_mean, double mde, MdeKind kind) {
  return kind == MdeKind::kRelative ? baseline_mean * mde : mde;
}

}  // namespace detail

/// Units per arm for a two-proportion test to detect `mde` over `baseline_rate`.
///
/// Reference: statsmodels 0.13.5 NormalIndPower().solve_power(effect_size =
/// proportion_effectsize(treatment_rate, baseline_rate), alpha, power, ratio=1, alternative):
/// Cohen's h with the normal approximation. statsmodels iterates (brentq); per_arm_exact agrees to
/// 1e-6 relative, per_arm (rounded up) exactly.
/// Throws InvalidArgument for a baseline outside (0, 1), a zero MDE, an MDE that moves the rate
/// outside (0, 1), or alpha / power outside (0, 1). Status kInvalidInput when a one-sided
/// alternative points against the effect.
inline SampleSizeResult sample_size_proportions(double baseline_rate, double mde,
                                                MdeKind kind = MdeKind::kRelative,
                                                const PowerOptions& options = {}) {
  detail::validate_power_options(options);
  detail::validate_rates(baseline_rate, mde, kind);
  const double h =
      detail::cohens_h(detail::treatment_rate(baseline_rate, mde, kind), baseline_rate);
  return detail::solve_sample_size(false, h, options);
}

/// Units per arm for a two-sample t-test to detect `mde` on a metric with standard deviation
/// `std_dev` (for a relative MDE, the absolute one is baseline_mean * mde).
///
/// Reference: statsmodels 0.13.5 TTestIndPower().solve_power(effect_size = mde / std_dev, alpha,
/// power, ratio=1, alternative): the noncentral t with 2n - 2 df. 1e-6 relative on per_arm_exact
/// (statsmodels iterates, and its noncentral t is cdflib's).
/// Throws InvalidArgument for a non-positive std_dev, a zero absolute MDE, or alpha / power outside
/// (0, 1).
inline SampleSizeResult sample_size_means(double std_dev, double mde,
                                          MdeKind kind = MdeKind::kAbsolute,
                                          double baseline_mean = 0.0,
                                          const PowerOptions& options = {}) {
  detail::validate_power_options(options);
  if (!(std_dev > 0.0) || !std::isfinite(std_dev)) {
    throw InvalidArgument("std_dev must be positive and finite, got " + std::to_string(std_dev));
  }
  const double abs_mde = detail::absolute_mde(baseline_mean, mde, kind);
  if (!(abs_mde != 0.0) || !std::isfinite(abs_mde)) {
    throw InvalidArgument("the minimum detectable effect must be non-zero and finite (mde " +
                          std::to_string(mde) + ", baseline mean " + std::to_string(baseline_mean) +
                          ")");
  }
  return detail::solve_sample_size(true, abs_mde / std_dev, options);
}

/// Power of a two-proportion test with `per_arm` units in each arm (statsmodels
/// NormalIndPower.power). Throws as sample_size_proportions, and InvalidArgument for per_arm == 0.
inline double achieved_power_proportions(std::uint64_t per_arm, double baseline_rate, double mde,
                                         MdeKind kind = MdeKind::kRelative,
                                         const PowerOptions& options = {}) {
  detail::validate_power_options(options);
  detail::validate_rates(baseline_rate, mde, kind);
  if (per_arm == 0) throw InvalidArgument("achieved_power_proportions: per_arm must be positive");
  const double h =
      detail::cohens_h(detail::treatment_rate(baseline_rate, mde, kind), baseline_rate);
  return detail::arm_power(false, h, static_cast<double>(per_arm), options.alpha,
                           options.alternative);
}

/// Power of a two-sample t-test with `per_arm` units in each arm (statsmodels TTestIndPower.power).
/// Throws as sample_size_means, and InvalidArgument for per_arm < 2.
inline double achieved_power_means(std::uint64_t per_arm, double std_dev, double mde,
                                   MdeKind kind = MdeKind::kAbsolute, double baseline_mean = 0.0,
                                   const PowerOptions& options = {}) {
  detail::validate_power_options(options);
  if (!(std_dev > 0.0) || !std::isfinite(std_dev)) {
    throw InvalidArgument("std_dev must be positive and finite, got " + std::to_string(std_dev));
  }
  if (per_arm < 2) throw InvalidArgument("achieved_power_means: per_arm must be at least 2");
  const double abs_mde = detail::absolute_mde(baseline_mean, mde, kind);
  return detail::arm_power(true, abs_mde / std_dev, static_cast<double>(per_arm), options.alpha,
                           options.alternative);
}

/// How many more units per arm a running proportion test needs: the sample size for `mde` at the
/// control arm's observed rate, minus the smaller arm's current size (0 when already reached).
/// Degenerate input: no control trials -> kNotEnoughData; an observed control rate of 0 or 1 ->
/// kZeroVariance. Throws as sample_size_proportions for the MDE and options.
inline SampleSizeResult remaining_sample_size(const ProportionCounter& control,
                                              const ProportionCounter& treatment, double mde,
                                              MdeKind kind = MdeKind::kRelative,
                                              const PowerOptions& options = {}) {
  detail::validate_power_options(options);
  SampleSizeResult r;
  if (control.trials() == 0) {
    r.reason = "control arm has no trials";
    return r;
  }
  const double base = control.rate();
  if (base <= 0.0 || base >= 1.0) {
    r.status = StatStatus::kZeroVariance;
    r.reason = "the observed control rate is 0 or 1";
    return r;
  }
  r = sample_size_proportions(base, mde, kind, options);
  if (r.ok()) {
    const std::uint64_t have = std::min(treatment.trials(), control.trials());
    r.remaining_per_arm = r.per_arm > have ? r.per_arm - have : 0;
  }
  return r;
}

/// How many more units per arm a running test on a mean needs: the sample size for `mde` with the
/// arms' pooled standard deviation (and the control mean as baseline for a relative MDE), minus the
/// smaller arm's current size.
/// Degenerate input: an arm with fewer than 2 units -> kNotEnoughData; zero pooled variance ->
/// kZeroVariance; NaN samples -> kInvalidInput. Throws as sample_size_means for the MDE and
/// options.
inline SampleSizeResult remaining_sample_size(const SampleSummary& control,
                                              const SampleSummary& treatment, double mde,
                                              MdeKind kind = MdeKind::kAbsolute,
                                              const PowerOptions& options = {}) {
  detail::validate_power_options(options);
  SampleSizeResult r;
  TestResult probe;
  if (!detail::check_arms(treatment, control, probe)) {
    r.status = probe.status;
    r.reason = probe.reason;
    return r;
  }
  const double n1 = static_cast<double>(treatment.count), n2 = static_cast<double>(control.count);
  const double pooled =
      ((n1 - 1.0) * treatment.variance + (n2 - 1.0) * control.variance) / (n1 + n2 - 2.0);
  if (!(pooled > 0.0)) {
    r.status = StatStatus::kZeroVariance;
    r.reason = "both arms have zero variance";
    return r;
  }
  if (kind == MdeKind::kRelative && control.mean == 0.0) {
    r.status = StatStatus::kInvalidInput;
    r.reason = "control mean is 0; a relative MDE is undefined";
    return r;
  }
  r = sample_size_means(std::sqrt(pooled), mde, kind, control.mean, options);
  if (r.ok()) {
    const std::uint64_t have = std::min(treatment.count, control.count);
    r.remaining_per_arm = r.per_arm > have ? r.per_arm - have : 0;
  }
  return r;
}

}  // namespace switchyard::stats
