// SPDX-License-Identifier: Apache-2.0
// Mann-Whitney U test (scipy, asymptotic) and the Hodges-Lehmann shift with Kayenta's interval.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/detail/ranks.hpp>
#include <switchyard/stats/detail/root_finding.hpp>
#include <switchyard/stats/result.hpp>
#include <vector>

namespace switchyard::stats {

/// How the Hodges-Lehmann shift and its interval are computed.
struct ShiftOptions {
  /// Confidence level of the interval.
  double confidence = 0.95;
  /// Absolute tolerance of the root finder. 1e-4 is what Kayenta and R's wilcox.test use, and
  /// reproduces their numbers; it is absolute, so for metrics on a scale much below 1 choose a
  /// smaller value (the bounds are then located to that tolerance).
  double tolerance = 1e-4;
  /// Kayenta applies the continuity correction when solving for the point estimate too; R's
  /// wilcox.test does not (set false to reproduce R's `estimate`). The interval is the same.
  bool continuity_correction_in_estimate = true;
};

/// The Mann-Whitney U test: statistic = U of the treatment sample (scipy's returned statistic),
/// effect = the Hodges-Lehmann shift of treatment relative to control, interval = its confidence
/// interval (ShiftOptions), z = the two-sided normal deviate.
/// Thread-safe: a value type.
struct MannWhitneyResult : TestResult {
  double z = 0.0;
  /// U / (n1 n2): the probability that a treatment value exceeds a control value, ties half.
  double probability_of_superiority = 0.5;
  /// False when the shift was not requested or could not be computed (effect then 0).
  bool shift_computed = false;
};

namespace detail {

/// Kayenta's / R's W(mu) - zq: the standardised, continuity-corrected rank-sum statistic of
/// (treatment - mu) against control, minus a normal quantile. Non-increasing in mu.
class ShiftObjective {
 public:
  ShiftObjective(std::span<const double> x_sorted, std::span<const double> y_sorted)
      : x_(x_sorted), y_(y_sorted), shifted_(x_sorted.size()) {}

  /// Returns false when every pooled value is tied (sigma = 0).
  bool evaluate(double mu, double zq, bool correct, double& out) {
    for (std::size_t i = 0; i < x_.size(); ++i) shifted_[i] = x_[i] - mu;
    const PooledRanks pr = pooled_ranks_sorted(shifted_, y_);
    const double nx = static_cast<double>(x_.size());
    const double ny = static_cast<double>(y_.size());
    const double dz = pr.rank_sum_first - nx * (nx + 1.0) / 2.0 - nx * ny / 2.0;
    const double corr = correct ? (dz > 0.0 ? 0.5 : (dz < 0.0 ? -0.5 : 0.0)) : 0.0;
    const double sigma = std::sqrt((nx * ny / 12.0) *
                                   ((nx + ny + 1.0) - pr.tie_term / ((nx + ny) * (nx + ny - 1.0))));
    if (sigma == 0.0) return false;
    out = (dz - corr) / sigma - zq;
    return true;
  }

 private:
  std::span<const double> x_, y_;
  std::vector<double> shifted_;
};

inline IntervalEstimate hodges_lehmann_sorted(std::span<const double> x, std::span<const double> y,
                                              const ShiftOptions& opt) {
  IntervalEstimate r;
  r.confidence = opt.confidence;
  ShiftObjective w(x, y);
  const double mu_min = x.front() - y.back();
  const double mu_max = x.back() - y.front();
  bool tied = false;
  auto f = [&](double zq, bool correct) {
    return [&w, &tied, zq, correct](double mu) {
      double v = 0.0;
      if (!w.evaluate(mu, zq, correct, v)) tied = true;
      return v;
    };
  };
  auto root = [&](double zq) {
    auto g = f(zq, true);
    const double f_lower = g(mu_min);
    if (f_lower <= 0.0) return mu_min;
    const double f_upper = g(mu_max);
    if (f_upper >= 0.0) return mu_max;
    return zeroin(mu_min, mu_max, f_lower, f_upper, g, opt.tolerance);
  };
  const double zq = normal_isf((1.0 - opt.confidence) / 2.0);
  const double lower = root(zq);
  const double upper = root(-zq);
  auto g0 = f(0.0, opt.continuity_correction_in_estimate);
  const double f0_lower = g0(mu_min);
  const double f0_upper = g0(mu_max);
  const double estimate = zeroin(mu_min, mu_max, f0_lower, f0_upper, g0, opt.tolerance);
  if (tied) {
    return set_status(r, StatStatus::kZeroVariance,
                      "every observation is tied; the shift interval is undefined");
  }
  r.status = StatStatus::kOk;
  r.estimate = estimate;
  r.interval = Interval{lower, upper};
  return r;
}

inline std::string check_samples(std::span<const double> treatment, std::span<const double> control,
                                 std::size_t min_size, StatStatus& st) {
  st = StatStatus::kOk;
  if (!all_finite(treatment.data(), treatment.size())) {
    st = StatStatus::kInvalidInput;
    return "treatment sample contains NaN or infinite values";
  }
  if (!all_finite(control.data(), control.size())) {
    st = StatStatus::kInvalidInput;
    return "control sample contains NaN or infinite values";
  }
  if (treatment.size() < min_size || control.size() < min_size) {
    st = StatStatus::kNotEnoughData;
    return std::string(treatment.size() < min_size ? "treatment" : "control") + " sample has " +
           std::to_string(std::min(treatment.size(), control.size())) + " values; at least " +
           std::to_string(min_size) + " needed";
  }
  return {};
}

inline void validate_shift_options(const ShiftOptions& opt) {
  require_open_unit(opt.confidence, "confidence");
  if (!(opt.tolerance > 0.0) || !std::isfinite(opt.tolerance)) {
    throw InvalidArgument("shift tolerance must be positive and finite, got " +
                          std::to_string(opt.tolerance));
  }
}

}  // namespace detail

/// Hodges-Lehmann estimate of the shift of treatment relative to control, with its confidence
/// interval, computed as Spinnaker Kayenta's Mann-Whitney canary judge computes them (which follows
/// R's wilcox.test(treatment, control, conf.int = TRUE, exact = FALSE, correct = TRUE)): the roots
/// in mu of the continuity-corrected normal approximation of the rank-sum statistic of
/// (treatment - mu) against control, found by Brent's zeroin on [min t - max c, max t - min c].
///
/// Reference: R 4.2.2 wilcox.test for the interval (identical procedure, 1e-9), and Kayenta's
/// point estimate (continuity-corrected, ShiftOptions) reproduced in R with uniroot (1e-9).
/// Degenerate input: an empty sample -> kNotEnoughData; NaN or infinite values -> kInvalidInput;
/// all values tied -> kZeroVariance. Throws InvalidArgument on invalid options.
inline IntervalEstimate hodges_lehmann_shift(std::span<const double> control,
                                             std::span<const double> treatment,
                                             const ShiftOptions& options = {}) {
  detail::validate_shift_options(options);
  StatStatus st;
  std::string why = detail::check_samples(treatment, control, 1, st);
  if (st != StatStatus::kOk) {
    return detail::make_status<IntervalEstimate>(st, std::move(why), options.confidence);
  }
  std::vector<double> x(treatment.begin(), treatment.end()), y(control.begin(), control.end());
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  return detail::hodges_lehmann_sorted(x, y, options);
}

/// Mann-Whitney U test of treatment against control with tie correction and continuity
/// correction (normal approximation), plus the Hodges-Lehmann shift and interval (optional).
///
/// Reference: scipy.stats.mannwhitneyu(treatment, control, use_continuity=True,
/// method='asymptotic', alternative=...) (scipy 1.10): statistic and the three p-values, 1e-12.
/// effect/interval: as hodges_lehmann_shift.
/// Degenerate input: an empty sample -> kNotEnoughData; NaN or infinite values -> kInvalidInput;
/// every value tied -> kZeroVariance (scipy returns p = 1 there, as this result does).
/// Throws InvalidArgument on invalid options.
inline MannWhitneyResult mann_whitney_u_test(std::span<const double> control,
                                             std::span<const double> treatment,
                                             const ShiftOptions& options = {},
                                             bool compute_shift = true) {
  detail::validate_shift_options(options);
  MannWhitneyResult r;
  r.confidence = options.confidence;
  StatStatus st;
  std::string why = detail::check_samples(treatment, control, 1, st);
  if (st != StatStatus::kOk) return detail::set_status(r, st, std::move(why));
  std::vector<double> x(treatment.begin(), treatment.end()), y(control.begin(), control.end());
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  const detail::PooledRanks pr = detail::pooled_ranks_sorted(x, y);
  const double n1 = static_cast<double>(x.size());
  const double n2 = static_cast<double>(y.size());
  const double u1 = pr.rank_sum_first - n1 * (n1 + 1.0) / 2.0;
  const double u2 = n1 * n2 - u1;
  const double mu = n1 * n2 / 2.0;
  const double n = n1 + n2;
  const double s = std::sqrt(n1 * n2 / 12.0 * ((n + 1.0) - pr.tie_term / (n * (n - 1.0))));
  if (!(s > 0.0)) {
    detail::set_status(r, StatStatus::kZeroVariance, "every observation is tied");
    r.statistic = u1;
    return r;
  }
  r.status = StatStatus::kOk;
  r.statistic = u1;
  r.probability_of_superiority = u1 / (n1 * n2);
  r.z = (std::max(u1, u2) - mu - 0.5) / s;
  r.p_value = detail::clamp_probability(2.0 * detail::normal_sf(r.z));
  r.p_value_greater = detail::clamp_probability(detail::normal_sf((u1 - mu - 0.5) / s));
  r.p_value_less = detail::clamp_probability(detail::normal_sf((u2 - mu - 0.5) / s));
  if (compute_shift) {
    const IntervalEstimate hl = detail::hodges_lehmann_sorted(x, y, options);
    if (hl.ok()) {
      r.effect = hl.estimate;
      r.interval = hl.interval;
      r.shift_computed = true;
    }
  }
  return r;
}

}  // namespace switchyard::stats
