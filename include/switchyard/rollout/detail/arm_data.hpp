// SPDX-License-Identifier: Apache-2.0
// Internal: one arm's data on one metric, its interval, and the power of comparing two arms.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <switchyard/core/error.hpp>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/power.hpp>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/result.hpp>
#include <switchyard/stats/running_moments.hpp>

namespace switchyard::detail {

/// One arm's data on one metric, ready for the tests: a rate (successes of trials) or a mean.
/// Thread-safe: a value type.
struct ArmData {
  bool rate = false;
  stats::ProportionCounter counter;  // rate metrics
  stats::RunningMoments moments;     // the others
  std::uint64_t n() const noexcept { return rate ? counter.trials() : moments.count(); }
  double mean() const noexcept { return rate ? counter.rate() : moments.mean(); }
  stats::SampleSummary summary() const noexcept {
    return rate ? counter.summary() : moments.summary();
  }
};

/// Mean with a Student t interval (scipy.stats.t.interval(confidence, n - 1, mean, sem)).
inline stats::IntervalEstimate mean_interval(const stats::RunningMoments& m, double confidence) {
  stats::IntervalEstimate r;
  r.confidence = confidence;
  r.estimate = m.mean();
  if (m.count() < 2) {
    r.reason = "fewer than 2 observations";
    return r;
  }
  const double n = static_cast<double>(m.count());
  const double half =
      stats::detail::t_isf((1.0 - confidence) / 2.0, n - 1.0) * m.std_dev() / std::sqrt(n);
  r.status = stats::StatStatus::kOk;
  r.interval = stats::Interval{r.estimate - half, r.estimate + half};
  return r;
}

/// The power a comparison reached and the units its smaller arm still needs.
struct PowerPlan {
  stats::StatStatus status = stats::StatStatus::kNotEnoughData;
  double power = 0.0;  ///< for the MDE with the smaller arm's size
  /// 0 once the target power is reached; empty when not solved for or not computable.
  std::optional<std::uint64_t> more_per_arm;
};

/// Power reached and samples still needed for a relative MDE in the metric's good direction
/// (flipped when that would leave a rate outside (0, 1)). Data-driven failures become a status.
///
/// The power reached is one evaluation (achieved_power_*). The samples still needed come from
/// remaining_sample_size, a root search costing 20 us (rates) to 600 us (means, noncentral t), so
/// it runs only when `solve` is set and the power is below target: when the power is reached the
/// answer is 0 without a search, since power(have) >= target exactly when have >= the solution.
/// `rate_plan` caches the rate search of one metric: it depends only on the control's rate,
/// which every treatment of the metric shares.
inline PowerPlan comparison_power(const ArmData& control, const ArmData& treatment, double mde,
                                  bool higher_is_better, const stats::PowerOptions& po, bool solve,
                                  std::optional<stats::SampleSizeResult>& rate_plan) {
  PowerPlan plan;
  double rel = higher_is_better ? mde : -mde;
  const std::uint64_t per_arm = std::min(treatment.n(), control.n());
  try {
    if (treatment.rate) {
      const double base = control.counter.rate();
      if (control.counter.trials() == 0 || treatment.counter.trials() == 0) return plan;
      if (!(base > 0.0 && base < 1.0)) {
        plan.status = stats::StatStatus::kZeroVariance;
        return plan;
      }
      const double moved = base * (1.0 + rel);
      if (!(moved > 0.0 && moved < 1.0)) rel = -rel;
      const double back = base * (1.0 + rel);
      if (!(back > 0.0 && back < 1.0)) {
        plan.status = stats::StatStatus::kInvalidInput;
        return plan;
      }
      plan.power =
          stats::achieved_power_proportions(per_arm, base, rel, stats::MdeKind::kRelative, po);
      plan.status = stats::StatStatus::kOk;
      if (plan.power >= po.power) {
        plan.more_per_arm = 0;
      } else if (solve) {
        if (!rate_plan) {
          rate_plan = stats::sample_size_proportions(base, rel, stats::MdeKind::kRelative, po);
        }
        if (rate_plan->ok()) {
          plan.more_per_arm = rate_plan->per_arm > per_arm ? rate_plan->per_arm - per_arm : 0;
        }
      }
      return plan;
    }
    const stats::SampleSummary ts = treatment.summary(), ks = control.summary();
    if (ts.count < 2 || ks.count < 2) return plan;
    if (ts.rejected || ks.rejected) {
      plan.status = stats::StatStatus::kInvalidInput;
      return plan;
    }
    const double n1 = static_cast<double>(ts.count), n2 = static_cast<double>(ks.count);
    const double pooled = ((n1 - 1.0) * ts.variance + (n2 - 1.0) * ks.variance) / (n1 + n2 - 2.0);
    if (!(pooled > 0.0)) {
      plan.status = stats::StatStatus::kZeroVariance;
      return plan;
    }
    if (ks.mean == 0.0) {  // a relative MDE of a zero mean is no effect at all
      plan.status = stats::StatStatus::kInvalidInput;
      return plan;
    }
    plan.power = stats::achieved_power_means(per_arm, std::sqrt(pooled), rel,
                                             stats::MdeKind::kRelative, ks.mean, po);
    plan.status = stats::StatStatus::kOk;
    if (plan.power >= po.power) {
      plan.more_per_arm = 0;
    } else if (solve) {
      const auto r = stats::remaining_sample_size(ks, ts, rel, stats::MdeKind::kRelative, po);
      if (r.ok()) plan.more_per_arm = r.remaining_per_arm;
    }
  } catch (const InvalidArgument&) {
    // A degenerate observed baseline (the options were validated at construction).
    return PowerPlan{stats::StatStatus::kInvalidInput, 0.0, std::nullopt};
  }
  return plan;
}

}  // namespace switchyard::detail
