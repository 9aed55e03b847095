// SPDX-License-Identifier: Apache-2.0
// Welch's and Student's two-sample t-tests, from summaries or from samples (scipy's ttest_ind).
#pragma once

#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/result.hpp>
#include <switchyard/stats/running_moments.hpp>

namespace switchyard::stats {

/// A two-sample t-test: statistic = t, effect = mean(treatment) - mean(control), interval = the
/// confidence interval for that difference, plus the degrees of freedom and standard error.
/// Thread-safe: a value type.
struct TTestResult : TestResult {
  double df = 0.0;         ///< degrees of freedom (Welch-Satterthwaite or n1 + n2 - 2)
  double std_error = 0.0;  ///< standard error of the difference of means
};

namespace detail {

inline std::string check_arm(const SampleSummary& s, std::string_view arm, StatStatus& status) {
  if (s.rejected > 0) {
    status = StatStatus::kInvalidInput;
    return std::string(arm) + " arm contains " + std::to_string(s.rejected) +
           " NaN or infinite samples";
  }
  if (!std::isfinite(s.mean) || !std::isfinite(s.variance) || s.variance < 0.0) {
    status = StatStatus::kInvalidInput;
    return std::string(arm) + " arm has a non-finite mean or a negative or non-finite variance";
  }
  if (s.count < 2) {
    status = StatStatus::kNotEnoughData;
    return std::string(arm) + " arm has " + std::to_string(s.count) +
           " observations; at least 2 are needed";
  }
  status = StatStatus::kOk;
  return {};
}

/// Validates both arms; on failure fills `r` and returns false.
template <class Result>
bool check_arms(const SampleSummary& treatment, const SampleSummary& control, Result& r) {
  StatStatus st = StatStatus::kOk;
  std::string why = check_arm(treatment, "treatment", st);
  if (st == StatStatus::kOk) why = check_arm(control, "control", st);
  if (st != StatStatus::kOk) {
    set_status(r, st, std::move(why));
    return false;
  }
  return true;
}

/// Fills p-values and interval of a t (or, with infinite df, z) statistic.
template <class Result>
void finish_t(Result& r, double t, double df, double effect, double se) {
  r.status = StatStatus::kOk;
  r.statistic = t;
  r.effect = effect;
  // One tail evaluation: the smaller tail accurately, the other as its complement.
  const double tail = t_sf(std::fabs(t), df);
  r.p_value_less = t < 0 ? tail : 1.0 - tail;
  r.p_value_greater = t < 0 ? 1.0 - tail : tail;
  r.p_value = clamp_probability(2.0 * tail);
  const double crit = t_isf((1.0 - r.confidence) / 2.0, df);
  r.interval = Interval{effect - crit * se, effect + crit * se};
}

/// `mean_difference`, when given, replaces treatment.mean - control.mean (see
/// RunningMoments::mean_difference).
inline TTestResult t_test(const SampleSummary& treatment, const SampleSummary& control,
                          double confidence, bool equal_var,
                          std::optional<double> mean_difference = std::nullopt) {
  require_open_unit(confidence, "confidence");
  TTestResult r;
  r.confidence = confidence;
  if (!check_arms(treatment, control, r)) return r;
  const double n1 = static_cast<double>(treatment.count);
  const double n2 = static_cast<double>(control.count);
  double se, df;
  if (equal_var) {
    df = n1 + n2 - 2.0;
    const double pooled = ((n1 - 1.0) * treatment.variance + (n2 - 1.0) * control.variance) / df;
    se = std::sqrt(pooled * (1.0 / n1 + 1.0 / n2));
  } else {
    const double v1 = treatment.variance / n1;
    const double v2 = control.variance / n2;
    se = std::sqrt(v1 + v2);
    df = (v1 + v2) * (v1 + v2) / (v1 * v1 / (n1 - 1.0) + v2 * v2 / (n2 - 1.0));
  }
  if (!(se > 0.0)) {
    return set_status(r, StatStatus::kZeroVariance,
                      "both arms have zero variance; the t statistic is undefined");
  }
  const double diff = mean_difference.value_or(treatment.mean - control.mean);
  finish_t(r, diff / se, df, diff, se);
  r.df = df;
  r.std_error = se;
  return r;
}

}  // namespace detail

/// Welch's unequal-variance t-test of treatment against control.
///
/// Reference: scipy.stats.ttest_ind(treatment, control, equal_var=False) (scipy 1.10), whose
/// statistic and p-values (two-sided, 'less', 'greater') this reproduces to 1e-12 relative; the
/// interval is effect -+ t.isf(alpha/2, df) * std_error, as scipy 1.11's confidence_interval(),
/// with a t quantile exact to 1e-15 (scipy's own is off by up to 6e-10). Given summaries, the
/// result inherits the rounding of the two means: when they are large and close (1e6 + 0.25
/// against 1e6) that limits it to ~1e-9 relative; the sample and RunningMoments overloads avoid it.
/// Degenerate input: an arm with fewer than 2 observations -> kNotEnoughData; both variances 0 ->
/// kZeroVariance (scipy returns NaN or +-inf there); NaN or infinite samples -> kInvalidInput.
/// Throws InvalidArgument unless 0 < confidence < 1.
inline TTestResult welch_t_test(const SampleSummary& control, const SampleSummary& treatment,
                                double confidence = 0.95) {
  return detail::t_test(treatment, control, confidence, false);
}

/// Student's equal-variance (pooled) t-test; scipy.stats.ttest_ind(..., equal_var=True).
/// Degenerate input and exceptions as welch_t_test.
inline TTestResult student_t_test(const SampleSummary& control, const SampleSummary& treatment,
                                  double confidence = 0.95) {
  return detail::t_test(treatment, control, confidence, true);
}

/// Welch's t-test of two accumulated arms. Unlike the summary overload, the difference of means
/// keeps full precision when both means are large and close (see RunningMoments::mean_difference).
inline TTestResult welch_t_test(const RunningMoments& control, const RunningMoments& treatment,
                                double confidence = 0.95) {
  return detail::t_test(treatment.summary(), control.summary(), confidence, false,
                        treatment.mean_difference(control));
}

/// Student's t-test of two accumulated arms; see the RunningMoments overload of welch_t_test.
inline TTestResult student_t_test(const RunningMoments& control, const RunningMoments& treatment,
                                  double confidence = 0.95) {
  return detail::t_test(treatment.summary(), control.summary(), confidence, true,
                        treatment.mean_difference(control));
}

/// Welch's t-test on raw samples (moments by RunningMoments). See the summary overload.
inline TTestResult welch_t_test(std::span<const double> control, std::span<const double> treatment,
                                double confidence = 0.95) {
  return welch_t_test(RunningMoments::of(control), RunningMoments::of(treatment), confidence);
}

/// Student's t-test on raw samples. See the summary overload.
inline TTestResult student_t_test(std::span<const double> control,
                                  std::span<const double> treatment, double confidence = 0.95) {
  return student_t_test(RunningMoments::of(control), RunningMoments::of(treatment), confidence);
}

}  // namespace switchyard::stats
