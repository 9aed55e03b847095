// SPDX-License-Identifier: Apache-2.0
// Drift and model-quality alerts: the conditions, seed 003's thresholds, the hysteresis that raises
// each alert once until it clears, and the retraining recommendations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>

namespace switchyard {

/// What an alert is about. Drift conditions come from the window's DriftReport, quality
/// conditions from its requests and labels (seed 003's monitoring table).
enum class AlertCondition : std::uint8_t {
  kFeatureDrift = 0,     ///< one feature drifted (its deciding test; subject = feature name)
  kDatasetDrift = 1,     ///< the share of drifted features reached DriftOptions::drift_share
  kPredictionDrift = 2,  ///< the prediction's distribution drifted (seed 003: KL > 0.1)
  kLabelDrift = 3,       ///< the labels' distribution drifted (once labels arrive)
  kAccuracyDrop = 4,     ///< accuracy fell from the registry baseline (seed 003: > 2 %)
  kAucDrop = 5,          ///< ROC AUC fell from the registry baseline
  kLatencyP99 = 6,       ///< p99 latency over the SLA
  kErrorRate = 7,        ///< failed requests over the limit (seed 003: > 0.1 %)
  kTrafficVolume = 8,    ///< requests beyond k standard deviations of trailing windows (k = 3)
};

/// "feature_drift", "dataset_drift", "prediction_drift", "label_drift", "accuracy_drop",
/// "auc_drop", "latency_p99", "error_rate", "traffic_volume".
SWITCHYARD_API const char* to_string(AlertCondition condition) noexcept;

/// True for the four drift conditions (signal drift_detected), false for quality ones
/// (signal quality_degraded).
constexpr bool is_drift_condition(AlertCondition c) noexcept {
  return c == AlertCondition::kFeatureDrift || c == AlertCondition::kDatasetDrift ||
         c == AlertCondition::kPredictionDrift || c == AlertCondition::kLabelDrift;
}

enum class AlertSeverity : std::uint8_t {
  kWarning = 0,   ///< past the threshold
  kCritical = 1,  ///< past it by AlertPolicy::critical_factor or more
};

/// "warning" / "critical".
SWITCHYARD_API const char* to_string(AlertSeverity severity) noexcept;

/// One alert: raised once when its condition is met, then cleared once when it has stayed clear
/// long enough (see AlertPolicy). Thread-safe: a value type.
struct DriftAlert {
  AlertCondition condition = AlertCondition::kDatasetDrift;
  std::string subject;  ///< the feature for kFeatureDrift; empty otherwise
  AlertSeverity severity = AlertSeverity::kWarning;
  std::string model;
  std::int64_t version = 0;  ///< the version it concerns
  double value = 0.0;        ///< the measurement (score, share, rate, drop, ns, sigmas)
  double threshold = 0.0;    ///< what it was compared with
  /// Readable: what was measured, on how much data, against what, e.g.
  /// "feature 'age': wasserstein 0.214 >= 0.1 (10000 rows)".
  std::string evidence;
  TimePoint window_start{};  ///< the window that raised it (or, when cleared, cleared it)
  TimePoint window_end{};
  std::uint64_t window_rows = 0;
  bool active = true;        ///< false in the event that clears it
  TimePoint raised_at{};     ///< end of the window that raised it

  /// One JSON object with every field.
  SWITCHYARD_API std::string to_json() const;
};

/// Seed 003's four reasons to retrain.
enum class RetrainingTrigger : std::uint8_t {
  kScheduled = 0,          ///< a fixed cadence (DriftMonitor::Options::retraining_period)
  kDrift = 1,              ///< feature, dataset, prediction or label drift raised an alert
  kPerformance = 2,        ///< labelled outcomes show accuracy or AUC degradation
  kNewDatasetVersion = 3,  ///< a version trained on a new dataset_version appeared in the registry
};

/// "scheduled", "drift", "performance", "new_dataset_version".
SWITCHYARD_API const char* to_string(RetrainingTrigger trigger) noexcept;

/// What `retraining_recommended` delivers. Thread-safe: a value type.
struct RetrainingRecommendation {
  RetrainingTrigger trigger = RetrainingTrigger::kScheduled;
  std::string model;
  std::int64_t version = 0;  ///< the monitored version
  std::string reason;        ///< readable
  TimePoint at{};
  std::optional<DriftAlert> alert{};  ///< kDrift, kPerformance: the alert that triggered it
  std::string dataset_version{};      ///< kNewDatasetVersion: the new one
  std::int64_t dataset_model_version = 0;  ///< kNewDatasetVersion: the version registered with it
};

/// When alerts fire and clear. The thresholds are seed 003's monitoring table; the drift
/// thresholds themselves are in DriftOptions (DriftOptions::seed_003() for PSI > 0.2 and
/// prediction KL > 0.1). Thread-safe: a value type.
struct AlertPolicy {
  /// Accuracy more than this below the baseline (absolute: 0.02 = two percentage points).
  double accuracy_drop = 0.02;
  /// ROC AUC more than this below the baseline (absolute).
  double auc_drop = 0.02;
  /// Labels a window needs before accuracy or AUC is judged. Default 100.
  std::uint64_t min_labels = 100;
  /// Failed requests over this share. Default 0.001 (0.1 %).
  double error_rate = 0.001;
  /// Requests a window needs before its error rate is judged (1,000: one failure is 0.1 %).
  std::uint64_t min_requests = 1000;
  /// p99 latency over this raises kLatencyP99; none: not checked.
  std::optional<Duration> latency_sla{};
  /// Requests beyond this many standard deviations of the trailing windows' mean. The standard
  /// deviation is at least sqrt(mean), the Poisson noise of a steady rate. Default 3.
  double volume_sigmas = 3.0;
  /// Trailing windows the volume is compared with (up to), and the fewest it needs.
  std::size_t volume_windows = 12;
  std::size_t volume_min_windows = 5;
  /// One alert per drifted feature (kFeatureDrift) besides kDatasetDrift. Default true.
  bool feature_alerts = true;

  /// Hysteresis: an active alert clears after `clear_windows` consecutive windows in which its
  /// measurement is back past the threshold by `clear_margin` (distances, rates, drops: below
  /// threshold x (1 - margin); p-values: above threshold x (1 + margin)). A window in the band
  /// between restarts the count; a window that cannot measure (too few labels) leaves it alone.
  double clear_margin = 0.1;
  std::size_t clear_windows = 2;
  /// An alert is kCritical when its measurement is past the threshold by this factor (p-values:
  /// below threshold / factor). Default 2.
  double critical_factor = 2.0;

  /// Seed 003's table as given: accuracy drop 2 %, error rate 0.1 %, volume 3 sigma; pass the
  /// SLA, which the seed leaves to the service.
  static AlertPolicy seed_003(std::optional<Duration> latency_sla = std::nullopt) {
    AlertPolicy p;
    p.latency_sla = latency_sla;
    return p;
  }
};

/// One measurement of a window, as the hysteresis sees it.
struct AlertMeasurement {
  AlertCondition condition = AlertCondition::kDatasetDrift;
  std::string subject;
  double value = 0.0;
  double threshold = 0.0;
  bool lower_is_worse = false;  ///< p-values
  bool breached = false;        ///< the condition is met in this window
  std::string evidence;
};

/// The hysteresis of every alert of one monitor: update() takes one window's measurements and
/// returns what was raised and what cleared. An alert is raised once when its measurement is
/// breached and stays active (never raised again) until it clears as AlertPolicy says, so a
/// measurement hovering at its threshold neither floods nor flaps.
/// Thread-safety: not synchronised; the DriftMonitor calls it under its lock.
class DriftAlerts {
 public:
  struct Transitions {
    std::vector<DriftAlert> raised;
    std::vector<DriftAlert> cleared;
  };
  /// What every alert shares in one window.
  struct WindowInfo {
    std::string model;
    std::int64_t version = 0;
    TimePoint start{};
    TimePoint end{};
    std::uint64_t rows = 0;
  };

  /// Throws InvalidArgument naming the field when clear_margin is outside [0, 1),
  /// clear_windows is 0, critical_factor < 1, or a threshold is negative or not finite.
  SWITCHYARD_API explicit DriftAlerts(AlertPolicy policy = {});

  SWITCHYARD_API Transitions update(const WindowInfo& window,
                                    const std::vector<AlertMeasurement>& measurements);
  /// The alerts active now, in raising order.
  SWITCHYARD_API std::vector<DriftAlert> active() const;
  const AlertPolicy& policy() const noexcept { return policy_; }

 private:
  struct State {
    DriftAlert alert;
    std::size_t clear_streak = 0;
    std::uint64_t order = 0;
  };
  bool clear_enough(const AlertMeasurement& m) const noexcept;
  AlertSeverity severity(const AlertMeasurement& m) const noexcept;

  AlertPolicy policy_;
  std::map<std::pair<AlertCondition, std::string>, State> active_;
  std::uint64_t raised_ = 0;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/drift/drift_alerts-inl.hpp>
#endif
