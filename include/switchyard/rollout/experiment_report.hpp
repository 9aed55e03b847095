// SPDX-License-Identifier: Apache-2.0
// ExperimentReport: what Experiment::analyze() found, and its decision, as plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <switchyard/core/clock.hpp>
#include <switchyard/rollout/comparison.hpp>
#include <switchyard/rollout/metric_spec.hpp>
#include <switchyard/rollout/pending_join_table.hpp>
#include <switchyard/stats/result.hpp>
#include <switchyard/stats/sample_ratio_mismatch.hpp>
#include <vector>

namespace switchyard {

/// The verdict of an analysis.
enum class DecisionKind : std::uint8_t {
  kShipTreatment,  ///< a treatment is significantly better on the primary and no guardrail is worse
  kKeepControl,    ///< the treatments are worse, blocked by a guardrail, or show no effect at power
  kNeedMoreData,   ///< not decided yet; see ExperimentDecision::more_samples_per_arm
  kInvalid,        ///< sample ratio mismatch: the assignment is broken, no result can be trusted
};

/// The name of a decision, e.g. "need_more_data".
constexpr std::string_view to_string(DecisionKind d) noexcept {
  switch (d) {
    case DecisionKind::kShipTreatment:
      return "ship_treatment";
    case DecisionKind::kKeepControl:
      return "keep_control";
    case DecisionKind::kNeedMoreData:
      return "need_more_data";
    case DecisionKind::kInvalid:
      return "invalid";
  }
  return "unknown";
}

/// What to do, and why. Thread-safe: a value type.
struct ExperimentDecision {
  DecisionKind kind = DecisionKind::kNeedMoreData;
  std::string variant;  ///< the treatment to ship, or the control otherwise
  /// kNeedMoreData: about this many more units in the smaller arm of the least advanced
  /// comparison (0 when it cannot be estimated yet, e.g. no data at all).
  std::uint64_t more_samples_per_arm = 0;
  std::string reason;  ///< one sentence naming the metric, effect, interval and p-value
};

/// One variant's value of one metric. Thread-safe: a value type.
struct VariantMetric {
  std::string variant;
  std::uint64_t n = 0;  ///< units in the metric's denominator
  double mean = 0.0;    ///< a rate for kBinary and kAccuracy
  /// Wilson interval (rates) or Student t interval (means) at the report's confidence; status not
  /// ok (and the interval unbounded) with fewer than 2 units.
  stats::IntervalEstimate interval;
};

/// One treatment against the control on one metric. Thread-safe: a value type.
///
/// Fixed horizon: the p-value and absolute interval are two_proportion_z_test's (kBinary,
/// kAccuracy) or welch_t_test's (the others); the relative effect is lift_test's delta-method
/// lift. Sequential: both come from sequential_test (normal mixture, tuning from the options) on
/// effect_moments on the absolute and the relative scale. adjusted_p_value is Holm's over the
/// treatments on the primary metric; guardrails keep their p-value (see ComparisonResult).
struct MetricComparison : ComparisonResult {
  std::string metric;
  std::string variant;  ///< the treatment
  double control_mean = 0.0;
  double treatment_mean = 0.0;
  /// The sequential test's always-valid p-value (equal to p_value in sequential mode),
  /// Holm-adjusted like adjusted_p_value. Fixed-horizon mode uses it to stop before the planned
  /// sample size: stopping when it is significant keeps the false positive rate at alpha however
  /// often one looks.
  double always_valid_p_value = 1.0;
  /// Probability that the treatment beats the control (flat-prior bayesian_test on the relative
  /// effect, or the absolute one when the control mean is 0); 0.5 when not computable.
  double chance_to_beat_control = 0.5;
  /// Status of the power computation: the primary metric always, guardrails only with
  /// Options::guardrail_power (kNotEnoughData with power 0 otherwise).
  stats::StatStatus power_status = stats::StatStatus::kNotEnoughData;
  double power = 0.0;  ///< power reached for the metric's MDE with the smaller arm's size
  /// Units the smaller arm still needs to reach the target power (remaining_sample_size): 0 once
  /// reached; computed for the primary metric only (guardrails do not set the horizon, and the
  /// search is the costly part of an analysis), so empty for guardrails below their power and
  /// whenever power_status is not ok.
  std::optional<std::uint64_t> more_samples_per_arm;
};

/// One metric: its variants and its comparisons with the control. Thread-safe: a value type.
struct MetricReport {
  std::string name;
  MetricKind kind = MetricKind::kBinary;
  bool primary = false;
  bool higher_is_better = true;
  double minimum_detectable_effect = 0.05;
  std::vector<VariantMetric> variants;        ///< in arm order
  std::vector<MetricComparison> comparisons;  ///< one per treatment, in arm order
};

/// One arm's traffic. Thread-safe: a value type.
struct ArmReport {
  std::string variant;
  double weight = 0.0;
  double expected_share = 0.0;  ///< weight / sum of weights
  std::uint64_t exposures = 0;
  double observed_share = 0.0;  ///< exposures / all exposures; 0 when there are none
};

/// Everything analyze() found. Thread-safe: a value type.
struct ExperimentReport {
  std::string name;
  std::string control;
  AnalysisMode mode = AnalysisMode::kFixedHorizon;
  double confidence = 0.95;
  TimePoint at{};
  std::vector<ArmReport> arms;
  stats::SrmResult srm;
  std::vector<MetricReport> metrics;  ///< the primary first, then the guardrails in order
  JoinCounters joins;
  ExperimentDecision decision;

  /// The primary metric's report; throws NotFound on a report analyze() did not produce.
  const MetricReport& primary() const;
  /// The report of metric `name`; throws NotFound naming it.
  const MetricReport& metric(std::string_view name) const;
  /// The report as one JSON object (numbers that are not finite are null).
  std::string to_json() const;
  /// A readable table: arms and SRM, each metric with its variants and comparisons, the join
  /// counters and the decision.
  std::string to_string() const;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/rollout/experiment_report-inl.hpp>
#endif
