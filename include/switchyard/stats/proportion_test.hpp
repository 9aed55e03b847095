// SPDX-License-Identifier: Apache-2.0
// Proportions: the two-proportion z-test and the Wilson and Agresti-Coull intervals.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/result.hpp>

namespace switchyard::stats {

/// The two-proportion z-test: statistic = z, effect = rate(treatment) - rate(control), interval =
/// the Wald (unpooled) interval for that difference.
/// Thread-safe: a value type.
struct ProportionTestResult : TestResult {
  double std_error = 0.0;  ///< pooled standard error used by the test statistic
};

/// Two-proportion z-test of treatment against control, with the pooled variance under H0.
///
/// Reference: statsmodels.stats.proportion.proportions_ztest([s_t, s_c], [n_t, n_c]) (statsmodels
/// 0.13.5) for z and the p-values ('two-sided', 'smaller' = kLess, 'larger' = kGreater), and
/// confint_proportions_2indep(..., method='wald', compare='diff') for the interval; 1e-12 relative.
/// Its square equals scipy's chi2_contingency without Yates' correction on the 2x2 table.
/// Degenerate input: an arm with no trials -> kNotEnoughData; all-0 or all-1 in both arms (pooled
/// rate 0 or 1) -> kZeroVariance (statsmodels returns NaN). Throws InvalidArgument unless
/// 0 < confidence < 1.
inline ProportionTestResult two_proportion_z_test(const ProportionCounter& control,
                                                  const ProportionCounter& treatment,
                                                  double confidence = 0.95) {
  detail::require_open_unit(confidence, "confidence");
  ProportionTestResult r;
  r.confidence = confidence;
  if (treatment.trials() == 0 || control.trials() == 0) {
    return detail::set_status(
        r, StatStatus::kNotEnoughData,
        std::string(treatment.trials() == 0 ? "treatment" : "control") + " arm has no trials");
  }
  const double n1 = static_cast<double>(treatment.trials());
  const double n2 = static_cast<double>(control.trials());
  const double p1 = treatment.rate();
  const double p2 = control.rate();
  const double pooled =
      static_cast<double>(treatment.successes() + control.successes()) / (n1 + n2);
  const double se = std::sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2));
  if (!(se > 0.0)) {
    return detail::set_status(
        r, StatStatus::kZeroVariance,
        pooled == 0.0 ? "no successes in either arm" : "every trial is a success in both arms");
  }
  const double diff = p1 - p2;
  const double z = diff / se;
  r.status = StatStatus::kOk;
  r.statistic = z;
  r.effect = diff;
  r.std_error = se;
  r.p_value = detail::clamp_probability(2.0 * detail::normal_sf(std::fabs(z)));
  r.p_value_less = detail::normal_cdf(z);
  r.p_value_greater = detail::normal_sf(z);
  const double crit = detail::normal_isf((1.0 - confidence) / 2.0);
  const double wald = std::sqrt(p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2);
  r.interval = Interval{diff - crit * wald, diff + crit * wald};
  return r;
}

/// Wilson score interval for a proportion.
///
/// Reference: statsmodels.stats.proportion.proportion_confint(method='wilson') (0.13.5), 1e-12.
/// Well defined for 0 and `trials` successes. Degenerate input: no trials -> kNotEnoughData.
/// Throws InvalidArgument unless 0 < confidence < 1.
inline IntervalEstimate wilson_interval(const ProportionCounter& p, double confidence = 0.95) {
  detail::require_open_unit(confidence, "confidence");
  IntervalEstimate r;
  r.confidence = confidence;
  if (p.trials() == 0) return detail::set_status(r, StatStatus::kNotEnoughData, "no trials");
  const double n = static_cast<double>(p.trials());
  const double q = p.rate();
  const double crit = detail::normal_isf((1.0 - confidence) / 2.0);
  const double crit2 = crit * crit;
  const double denom = 1.0 + crit2 / n;
  const double center = (q + crit2 / (2.0 * n)) / denom;
  const double dist = crit * std::sqrt(q * (1.0 - q) / n + crit2 / (4.0 * n * n)) / denom;
  r.status = StatStatus::kOk;
  r.estimate = q;
  r.interval = Interval{center - dist, center + dist};
  return r;
}

/// Agresti-Coull interval for a proportion, clipped to [0, 1].
///
/// Reference: statsmodels.stats.proportion.proportion_confint(method='agresti_coull') (0.13.5),
/// which also clips; 1e-12. Degenerate input and exceptions as wilson_interval.
inline IntervalEstimate agresti_coull_interval(const ProportionCounter& p,
                                               double confidence = 0.95) {
  detail::require_open_unit(confidence, "confidence");
  IntervalEstimate r;
  r.confidence = confidence;
  if (p.trials() == 0) return detail::set_status(r, StatStatus::kNotEnoughData, "no trials");
  const double crit = detail::normal_isf((1.0 - confidence) / 2.0);
  const double crit2 = crit * crit;
  const double nc = static_cast<double>(p.trials()) + crit2;
  const double qc = (static_cast<double>(p.successes()) + crit2 / 2.0) / nc;
  const double dist = crit * std::sqrt(qc * (1.0 - qc) / nc);
  r.status = StatStatus::kOk;
  r.estimate = p.rate();
  r.interval = Interval{std::clamp(qc - dist, 0.0, 1.0), std::clamp(qc + dist, 0.0, 1.0)};
  return r;
}

}  // namespace switchyard::stats
