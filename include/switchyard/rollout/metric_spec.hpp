// SPDX-License-Identifier: Apache-2.0
// MetricSpec and ExperimentArm: what an experiment measures, on which arms, and how it analyses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

/// What a metric measures, and so where its values come from.
enum class MetricKind : std::uint8_t {
  kBinary,      ///< 0/1 per exposure; record_outcome() marks a success (conversion, click, fraud)
  kContinuous,  ///< one value per exposure from record_outcome() (revenue, dwell time)
  kLatency,     ///< milliseconds per exposure, from the prediction event or Exposure::latency_ms
  kAccuracy,    ///< 0/1 per labelled exposure: predicted label == true label
  kBrierScore,  ///< (label - score)^2 per labelled exposure of a binary classifier
  kLogLoss,     ///< -ln p(true label) per labelled exposure of a binary classifier (sklearn's clip)
};

/// The name of a metric kind, e.g. "brier_score".
constexpr std::string_view to_string(MetricKind k) noexcept {
  switch (k) {
    case MetricKind::kBinary:
      return "binary";
    case MetricKind::kContinuous:
      return "continuous";
    case MetricKind::kLatency:
      return "latency";
    case MetricKind::kAccuracy:
      return "accuracy";
    case MetricKind::kBrierScore:
      return "brier_score";
    case MetricKind::kLogLoss:
      return "log_loss";
  }
  return "unknown";
}

/// Which way a metric should move.
enum class MetricDirection : std::uint8_t {
  kAuto,  ///< the kind's natural direction: lower for latency, Brier score and log loss
  kHigherIsBetter,
  kLowerIsBetter,
};

/// One metric of an experiment. Thread-safe: a value type.
struct MetricSpec {
  std::string name;  ///< unique within the experiment; used by record_outcome()
  MetricKind kind = MetricKind::kBinary;
  MetricDirection direction = MetricDirection::kAuto;
  /// kContinuous only: the value of an exposure that received none (0 for "revenue per
  /// exposure"). Empty: only exposures that received a value count.
  std::optional<double> missing_value{};
  /// Relative minimum detectable effect (0.05 = 5%) for the power reached and the samples still
  /// needed. Must be positive.
  double minimum_detectable_effect = 0.05;
};

/// How p-values and intervals are computed.
enum class AnalysisMode : std::uint8_t {
  /// Two-proportion z-test (binary kinds) or Welch's t-test (the others), valid once, at the
  /// planned sample size: the decision waits until the primary metric reached its power.
  kFixedHorizon,
  /// GrowthBook's always-valid normal-mixture test: valid however often analyze() is called, so
  /// the decision may stop as soon as it is significant.
  kSequential,
};

/// One arm of the experiment: a deployment variant and its configured share of traffic.
/// Thread-safe: a value type.
struct ExperimentArm {
  std::string variant;  ///< the variant name PredictionEvent and PredictResponse carry
  double weight = 1.0;  ///< relative; the sample-ratio check compares exposures against it
};


namespace detail {

/// Whether record_outcome() feeds the metric (binary and continuous kinds).
inline bool metric_joins_outcome(MetricKind k) noexcept {
  return k == MetricKind::kBinary || k == MetricKind::kContinuous;
}
/// Whether record_label() feeds the metric (the quality kinds).
inline bool metric_uses_label(MetricKind k) noexcept {
  return k == MetricKind::kAccuracy || k == MetricKind::kBrierScore || k == MetricKind::kLogLoss;
}
/// Whether the metric is a rate (tested as proportions) rather than a mean.
inline bool metric_is_rate(MetricKind k) noexcept {
  return k == MetricKind::kBinary || k == MetricKind::kAccuracy;
}
/// The metric's direction, its kind's natural one under MetricDirection::kAuto.
inline bool metric_higher_is_better(const MetricSpec& m) noexcept {
  if (m.direction != MetricDirection::kAuto) return m.direction == MetricDirection::kHigherIsBetter;
  return !(m.kind == MetricKind::kLatency || m.kind == MetricKind::kBrierScore ||
           m.kind == MetricKind::kLogLoss);
}

}  // namespace detail
}  // namespace switchyard
