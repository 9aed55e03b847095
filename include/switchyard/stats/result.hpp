// SPDX-License-Identifier: Apache-2.0
// The result shape every statistic shares: a status, a p-value per alternative, an effect, an
// interval.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <switchyard/core/error.hpp>

namespace switchyard::stats {

/// Whether a statistic could be computed from the data it was given.
///
/// Switchyard's statistics never return a silent NaN and never crash on degenerate data. The rule
/// used everywhere: *options* (confidence levels, alpha, bin counts, mismatched array lengths) are
/// the caller's configuration and throw InvalidArgument; *data* (empty arms, constant samples, NaN
/// samples) is what production traffic produces and is reported here, in the result.
enum class StatStatus : int {
  kOk = 0,             ///< every numeric field holds the statistic
  kNotEnoughData = 1,  ///< too few observations (an empty arm, n < 2, a single class, no pairs)
  kZeroVariance = 2,   ///< the data have no spread, so the statistic is undefined (all ties)
  kInvalidInput = 3,   ///< NaN or infinite samples, probabilities outside [0, 1], bad labels
};

/// The name of a status, e.g. "not_enough_data".
constexpr std::string_view to_string(StatStatus s) noexcept {
  switch (s) {
    case StatStatus::kOk:
      return "ok";
    case StatStatus::kNotEnoughData:
      return "not_enough_data";
    case StatStatus::kZeroVariance:
      return "zero_variance";
    case StatStatus::kInvalidInput:
      return "invalid_input";
  }
  return "unknown";
}

/// The hypothesis a one-sided p-value is for, with scipy's names and scipy's meaning.
///
/// Every two-sample function takes the control first, then the treatment (GrowthBook's order), and
/// every result speaks of the treatment against the control: effect = treatment - control, and a
/// one-sided p-value is scipy's for the treatment as its first sample. For tests of location
/// (t-tests, z-tests, Mann-Whitney, lifts) kLess means the treatment is below the control and
/// kGreater above (scipy.stats.ttest_ind(treatment, control, alternative='less'), GrowthBook's
/// OneSidedTreatmentLesserTTest). For the Kolmogorov-Smirnov test the alternatives speak of the
/// CDFs, as scipy's ks_2samp does: kLess means the treatment's CDF lies below the control's.
enum class Alternative : int { kTwoSided = 0, kLess = 1, kGreater = 2 };

/// A closed interval [lower, upper]. Infinite bounds mean "unbounded on that side" (one-sided
/// intervals) or, in a result whose status is not kOk, "no information".
/// Thread-safe: a value type.
struct Interval {
  double lower = -std::numeric_limits<double>::infinity();
  double upper = std::numeric_limits<double>::infinity();

  constexpr bool contains(double x) const noexcept { return lower <= x && x <= upper; }
  constexpr double width() const noexcept { return upper - lower; }
  /// True when zero lies outside the interval: the effect is significant at its level.
  constexpr bool excludes_zero() const noexcept { return lower > 0.0 || upper < 0.0; }
};

/// The fields every hypothesis test reports, so a caller (e.g. an experiment report) can treat
/// Welch, Mann-Whitney, chi-square or DeLong alike. Specific tests extend it with their own fields.
///
/// When status is not kOk: statistic = 0, effect = 0, every p-value = 1, interval = (-inf, +inf),
/// and reason names what was wrong. Nothing is NaN.
/// Thread-safe: a value type.
struct TestResult {
  StatStatus status = StatStatus::kNotEnoughData;
  std::string reason;            ///< empty when ok; otherwise names the arm and the problem
  double statistic = 0.0;        ///< the test statistic (t, z, U, chi-square, D, ...)
  double p_value = 1.0;          ///< two-sided (or, for non-directional tests, the only) p-value
  double p_value_less = 1.0;     ///< one-sided p-value for Alternative::kLess
  double p_value_greater = 1.0;  ///< one-sided p-value for Alternative::kGreater
  double effect = 0.0;           ///< point estimate of the effect the test is about
  Interval interval;             ///< two-sided interval for `effect` at `confidence`
  double confidence = 0.95;      ///< the interval's confidence level

  bool ok() const noexcept { return status == StatStatus::kOk; }
  /// The p-value for a given alternative.
  double p_value_for(Alternative a) const noexcept {
    switch (a) {
      case Alternative::kLess:
        return p_value_less;
      case Alternative::kGreater:
        return p_value_greater;
      case Alternative::kTwoSided:
        break;
    }
    return p_value;
  }
};

/// A point estimate with a two-sided interval (a proportion, a shift, a lift).
/// When status is not kOk: estimate = 0 and interval = (-inf, +inf); reason says why.
/// Thread-safe: a value type.
struct IntervalEstimate {
  StatStatus status = StatStatus::kNotEnoughData;
  std::string reason;
  double estimate = 0.0;
  Interval interval;
  double confidence = 0.95;

  bool ok() const noexcept { return status == StatStatus::kOk; }
};

namespace detail {

inline constexpr double kInf = std::numeric_limits<double>::infinity();

/// Marks `r` as not computable, resetting every numeric field to its documented neutral value.
template <class Result>
Result& set_status(Result& r, StatStatus s, std::string reason) {
  const double confidence = r.confidence;
  r = Result{};
  r.confidence = confidence;
  r.status = s;
  r.reason = std::move(reason);
  return r;
}

template <class Result>
Result make_status(StatStatus s, std::string reason, double confidence = 0.95) {
  Result r{};
  r.confidence = confidence;
  r.status = s;
  r.reason = std::move(reason);
  return r;
}

/// Throws InvalidArgument unless 0 < value < 1.
inline void require_open_unit(double value, std::string_view name) {
  if (!(value > 0.0 && value < 1.0)) {
    throw InvalidArgument(std::string(name) + " must lie strictly between 0 and 1, got " +
                          std::to_string(value));
  }
}

inline bool all_finite(const double* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(p[i])) return false;
  }
  return true;
}

/// Clamps a probability into [0, 1] (guards against a last-bit excursion in a complement).
constexpr double clamp_probability(double p) noexcept {
  return p < 0.0 ? 0.0 : (p > 1.0 ? 1.0 : p);
}

}  // namespace detail

}  // namespace switchyard::stats
