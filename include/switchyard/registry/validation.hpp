// SPDX-License-Identifier: Apache-2.0
// Validation gates (seed 003): the checks a version must pass before it may reach Staging.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <switchyard/core/clock.hpp>

namespace switchyard {

/// `metric` must lie in [min, max] (seed 003: "accuracy >= 0.85").
struct MetricThreshold {
  std::string metric;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
};

/// `metric` may not be worse than the baseline's by more than `tolerance` (absolute). The baseline
/// is `baseline_version`, or the current Production version; with neither the check passes and
/// says so.
struct RegressionCheck {
  std::string metric;
  bool higher_is_better = true;
  double tolerance = 0.0;
  std::optional<std::int64_t> baseline_version{};
};

/// Bias gate: for every group in ModelVersion::group_metrics, `metric` must lie in [min, max], and
/// the spread between the best and worst group may not exceed `max_gap`.
struct GroupThreshold {
  std::string metric;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  double max_gap = std::numeric_limits<double>::infinity();
};

/// Benchmarks the loaded model on inputs shaped by its signature (zeros; -1 dimensions become
/// `batch`) and requires the p99 of `iterations` calls to be at most `max_p99`.
struct LatencyGate {
  Duration max_p99{};
  std::size_t iterations = 200;
  std::int64_t batch = 1;
  /// Times the calls; null: the steady clock. Tests pass a ManualClock their model advances.
  const Clock* timer = nullptr;
};

/// The gates of one model. An empty policy passes every version.
struct ValidationPolicy {
  std::vector<MetricThreshold> thresholds;
  std::vector<RegressionCheck> regressions;
  std::vector<GroupThreshold> groups;
  /// The candidate's signature must accept what the Production version's callers send.
  bool require_compatible_signature = true;
  std::optional<LatencyGate> latency;
};

/// The result of one check: every check is reported, passed or not.
struct GateCheck {
  std::string gate;    ///< "threshold", "regression", "group", "signature", "latency", "metadata"
  std::string subject; ///< metric or group name
  bool passed = false;
  std::string detail;  ///< numbers and the bound, e.g. "auc 0.81 < min 0.85"
};

/// Every check of a validation run. Thread-safe: a value type.
struct ValidationReport {
  std::string model;
  std::int64_t version = 0;
  std::vector<GateCheck> checks;

  bool passed() const noexcept {
    for (const auto& c : checks) {
      if (!c.passed) return false;
    }
    return true;
  }
  /// The failed checks as one line, e.g. "threshold auc: 0.81 < min 0.85; latency: ...".
  std::string failures() const {
    std::string out;
    for (const auto& c : checks) {
      if (c.passed) continue;
      if (!out.empty()) out += "; ";
      out += c.gate + (c.subject.empty() ? "" : " " + c.subject) + ": " + c.detail;
    }
    return out;
  }
};

}  // namespace switchyard
