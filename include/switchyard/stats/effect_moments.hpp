// SPDX-License-Identifier: Apache-2.0
// EffectMoments: an effect (absolute or relative lift) with its delta-method standard error.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <switchyard/stats/co_moments.hpp>
#include <switchyard/stats/result.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <switchyard/stats/t_test.hpp>

namespace switchyard::stats {

/// Whether an effect is a difference of means or a relative lift.
enum class EffectScale : int {
  kAbsolute = 0,  ///< mean(treatment) - mean(control)
  kRelative = 1,  ///< (mean(treatment) - mean(control)) / |mean(control)|
};

/// An effect estimate and its sampling distribution's spread: the common input of the
/// frequentist, sequential and Bayesian comparisons (GrowthBook's "effect moments").
/// Thread-safe: a value type.
struct EffectMoments {
  StatStatus status = StatStatus::kNotEnoughData;
  std::string reason;
  EffectScale scale = EffectScale::kRelative;
  double estimate = 0.0;          ///< point estimate on `scale`
  double std_error = 0.0;         ///< delta-method standard error of `estimate`
  double df = 0.0;                ///< Welch-Satterthwaite degrees of freedom of the arms' variances
  std::uint64_t total_count = 0;  ///< units in both arms (the n of the sequential test)
  double control_mean = 0.0;      ///< unadjusted control mean (scales priors between scales)
  double theta = 0.0;             ///< CUPED coefficient (0 when not adjusted)

  bool ok() const noexcept { return status == StatStatus::kOk; }
};

namespace detail {

inline double welch_df(double var_t, double n_t, double var_c, double n_c) {
  const double a = var_t / n_t, b = var_c / n_c;
  return (a + b) * (a + b) /
         (var_t * var_t / (n_t * n_t * (n_t - 1.0)) + var_c * var_c / (n_c * n_c * (n_c - 1.0)));
}

/// For moments built by hand: an ok status needs a finite estimate and a positive, finite standard
/// error. Returns the status to report (kOk when usable) and sets `why`.
inline StatStatus usable(const EffectMoments& m, std::string& why) {
  if (!m.ok()) {
    why = m.reason;
    return m.status;
  }
  if (!std::isfinite(m.estimate) || !std::isfinite(m.std_error) || m.std_error < 0.0) {
    why = "effect moments hold a non-finite estimate or standard error";
    return StatStatus::kInvalidInput;
  }
  if (m.std_error == 0.0) {
    why = "effect moments have a zero standard error";
    return StatStatus::kZeroVariance;
  }
  return StatStatus::kOk;
}

inline EffectMoments moments_status(StatStatus s, std::string why, EffectScale scale) {
  EffectMoments m;
  m.status = s;
  m.reason = std::move(why);
  m.scale = scale;
  return m;
}

}  // namespace detail

/// The effect of treatment over control on `scale`, with the delta-method variance
///   absolute: v_t / n_t + v_c / n_c
///   relative: v_t / (n_t m_c^2) + v_c m_t^2 / (n_c m_c^4)     (estimate (m_t - m_c) / |m_c|)
/// and Welch's degrees of freedom.
///
/// Reference: GrowthBook gbstats 0.8.0 EffectMoments (frequentist_diff, frequentist_variance,
/// TTest.dof), 1e-12 relative. Feed proportions as ProportionCounter::summary() (variance p(1-p),
/// as gbstats' ProportionStatistic).
/// Degenerate input: an arm with fewer than 2 units -> kNotEnoughData; an arm with zero variance
/// -> kZeroVariance (as gbstats, which refuses when either arm is constant); a relative effect with
/// a control mean of 0 -> kInvalidInput; NaN or infinite samples -> kInvalidInput.
inline EffectMoments effect_moments(const SampleSummary& control, const SampleSummary& treatment,
                                    EffectScale scale = EffectScale::kRelative) {
  TestResult probe;
  if (!detail::check_arms(treatment, control, probe)) {
    return detail::moments_status(probe.status, probe.reason, scale);
  }
  if (!(treatment.variance > 0.0) || !(control.variance > 0.0)) {
    return detail::moments_status(
        StatStatus::kZeroVariance,
        std::string(treatment.variance > 0.0 ? "control" : "treatment") + " arm has zero variance",
        scale);
  }
  if (scale == EffectScale::kRelative && control.mean == 0.0) {
    return detail::moments_status(StatStatus::kInvalidInput,
                                  "control mean is 0; a relative lift is undefined", scale);
  }
  const double nt = static_cast<double>(treatment.count), nc = static_cast<double>(control.count);
  EffectMoments m;
  m.status = StatStatus::kOk;
  m.scale = scale;
  m.control_mean = control.mean;
  m.total_count = treatment.count + control.count;
  m.df = detail::welch_df(treatment.variance, nt, control.variance, nc);
  const double vt = treatment.variance / nt, vc = control.variance / nc;
  double var;
  if (scale == EffectScale::kRelative) {
    const double mc = control.mean, mt = treatment.mean;
    m.estimate = (mt - mc) / std::fabs(mc);
    var = vt / (mc * mc) + vc * mt * mt / (mc * mc * mc * mc);
  } else {
    m.estimate = treatment.mean - control.mean;
    var = vt + vc;
  }
  m.std_error = std::sqrt(var);
  return m;
}

/// The covariance-adjusted (CUPED) effect: each unit contributes its metric during the experiment
/// (y) and a pre-experiment covariate (x). theta = cov(x, y) / var(x) over both arms pooled; each
/// arm's adjusted mean is m_y - theta m_x and its variance v_y + theta^2 v_x - 2 theta c_xy. The
/// relative effect divides by the unadjusted control mean and uses GrowthBook's delta-method
/// variance for regression-adjusted relative effects.
///
/// Reference: GrowthBook gbstats 0.8.0 RegressionAdjustedStatistic with SampleMeanStatistic parts
/// (compute_theta, frequentist_variance_relative_cuped), 1e-10 relative. When the pooled pre- or
/// post-period variance is 0, theta is 0 and the unadjusted effect is returned, as gbstats does.
/// Degenerate input as effect_moments.
inline EffectMoments cuped_effect_moments(const CoMoments& control, const CoMoments& treatment,
                                          EffectScale scale = EffectScale::kRelative) {
  CoMoments pooled = treatment;
  pooled.merge(control);
  double theta = 0.0;
  if (pooled.variance_x() > 0.0 && pooled.variance_y() > 0.0) {
    theta = pooled.covariance() / pooled.variance_x();
  }
  if (theta == 0.0) return effect_moments(control.summary_y(), treatment.summary_y(), scale);
  auto adjusted = [theta](const CoMoments& c) {
    SampleSummary s = c.summary_y();
    s.mean = c.mean_y() - theta * c.mean_x();
    s.variance = c.variance_y() + theta * theta * c.variance_x() - 2.0 * theta * c.covariance();
    return s;
  };
  const SampleSummary t = adjusted(treatment), c = adjusted(control);
  TestResult probe;
  if (!detail::check_arms(t, c, probe))
    return detail::moments_status(probe.status, probe.reason, scale);
  if (!(t.variance > 0.0) || !(c.variance > 0.0)) {
    return detail::moments_status(StatStatus::kZeroVariance, "an adjusted arm has zero variance",
                                  scale);
  }
  const double mc_unadj = control.mean_y();
  if (scale == EffectScale::kRelative && (mc_unadj == 0.0 || c.mean == 0.0)) {
    return detail::moments_status(StatStatus::kInvalidInput,
                                  "control mean is 0; a relative lift is undefined", scale);
  }
  const double nt = static_cast<double>(t.count), nc = static_cast<double>(c.count);
  EffectMoments m;
  m.status = StatStatus::kOk;
  m.scale = scale;
  m.theta = theta;
  m.control_mean = mc_unadj;
  m.total_count = t.count + c.count;
  m.df = detail::welch_df(t.variance, nt, c.variance, nc);
  if (scale == EffectScale::kRelative) {
    m.estimate = (t.mean - c.mean) / std::fabs(mc_unadj);
    const double den_t = nt * mc_unadj * mc_unadj;
    const double den_c = nc * mc_unadj * mc_unadj;
    const double v_t = t.variance / den_t;
    const double k = -treatment.mean_y();
    const double post_mean_c = control.mean_y();
    const double num_a = control.variance_y() * k * k / (post_mean_c * post_mean_c);
    const double num_b = 2.0 * theta * control.covariance() * k / post_mean_c;
    const double num_c = theta * theta * control.variance_x();
    m.std_error = std::sqrt(v_t + (num_a + num_b + num_c) / den_c);
  } else {
    m.estimate = t.mean - c.mean;
    m.std_error = std::sqrt(t.variance / nt + c.variance / nc);
  }
  return m;
}

}  // namespace switchyard::stats
