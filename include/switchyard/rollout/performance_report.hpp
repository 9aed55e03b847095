// SPDX-License-Identifier: Apache-2.0
// PerformanceReport: per-version serving statistics with a recommendation backed by tests.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <switchyard/core/config.hpp>
#include <switchyard/monitoring/variant_stats.hpp>
#include <switchyard/rollout/comparison.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/stats/result.hpp>
#include <vector>

namespace switchyard {


/// How performance_report() compares versions.
struct PerformanceReportOptions {
  /// The version the others are compared with. Empty: the version with the largest traffic share
  /// in the current table, the lower version number on a tie (when no version is in the table:
  /// the one with the most requests).
  std::optional<std::int64_t> baseline_version{};
  double confidence = 0.95;  ///< of intervals and tests; alpha = 1 - confidence
  double power = 0.8;        ///< target power of the "need about N more requests" estimate
  /// Relative difference (0.05 = 5%) the estimate of requests still needed is sized for.
  double minimum_detectable_effect = 0.05;
};

/// One version's serving statistics (seed 002's per-model entry). Thread-safe: a value type.
struct VersionPerformance {
  std::int64_t version = 0;
  std::string variant;              ///< its arm in the current table; empty when it left the table
  double share = 0.0;               ///< its current share of the weighted split
  std::uint64_t request_count = 0;  ///< requests routed to it, served or failed
  std::uint64_t errors = 0;
  double error_rate = 0.0;
  std::optional<double> avg_latency_ms;  ///< over successful calls; empty when there were none
  std::optional<double> p99_latency_ms;  ///< histogram quantile, within 0.8% of the exact one
  std::uint64_t confidence_count = 0;
  std::optional<double> avg_confidence;         ///< empty when the model reports no confidence
  stats::IntervalEstimate confidence_interval;  ///< Student t interval of the mean confidence
  std::uint64_t labeled = 0;                    ///< predictions with a known outcome
  std::uint64_t correct = 0;
  std::optional<double> accuracy;             ///< correct / labeled; empty when nothing is labelled
  stats::IntervalEstimate accuracy_interval;  ///< Wilson interval
};

/// What a version comparison measured.
enum class PerformanceMetric : std::uint8_t {
  kAccuracy,        ///< correct / labeled: two-proportion z-test
  kMeanConfidence,  ///< mean confidence (a proxy when no labels exist): Welch's t-test from sums
  kErrorRate,       ///< errors / requests: two-proportion z-test; higher is worse
};

/// The name of a performance metric, e.g. "mean confidence".
constexpr std::string_view to_string(PerformanceMetric m) noexcept {
  switch (m) {
    case PerformanceMetric::kAccuracy:
      return "accuracy";
    case PerformanceMetric::kMeanConfidence:
      return "mean confidence";
    case PerformanceMetric::kErrorRate:
      return "error rate";
  }
  return "unknown";
}

/// One version against the baseline on one metric: the shared ComparisonResult (effects, p-values,
/// Holm-adjusted p-value over the versions on the quality metric, and the verdict: improvement or
/// regression in the metric's good direction, higher for accuracy and confidence, lower for the
/// error rate) plus which versions and values were compared. Thread-safe: a value type.
struct VersionComparison : ComparisonResult {
  std::int64_t version = 0;
  std::int64_t baseline_version = 0;
  PerformanceMetric metric = PerformanceMetric::kAccuracy;
  double baseline_value = 0.0;
  double value = 0.0;
  /// Quality metric only: about this many more labelled requests (accuracy) or requests
  /// (confidence) per version to detect the minimum effect at the target power; 0 once reached.
  std::optional<std::uint64_t> more_requests_needed;
};

/// Seed 002's `GET /models/performance`: per-version request count, latency, confidence, error
/// rate and accuracy, and a recommendation built on tests rather than raw means. Each version is
/// compared with a baseline on quality (accuracy when both are labelled, else mean confidence)
/// and on error rate; Holm adjusts the quality p-values across versions. A version is the best
/// when its quality is significantly better and its error rate not significantly worse.
/// Thread-safe: a value type.
///
/// @code
/// auto report = switchyard::performance_report(deployment);
/// std::cout << report.to_string();   // or report.to_json() for the HTTP endpoint
/// // report.recommendation: "version 2 shows +7.0% mean confidence over version 1
/// //                         (95% CI [+5.1%, +8.9%], p < 0.001)"
/// @endcode
struct SWITCHYARD_API PerformanceReport {
  std::string model;
  double confidence = 0.95;
  std::optional<std::int64_t> baseline_version;  ///< empty when no version has statistics
  std::vector<VersionPerformance> versions;      ///< ascending version
  std::vector<VersionComparison> comparisons;    ///< per other version: quality, then error rate
  std::optional<std::int64_t> best_version;      ///< the baseline unless another is better
  std::string recommendation;

  /// {"model", "confidence", "baseline_version", "models": [...], "comparisons": [...],
  /// "best_version", "recommendation"}; absent values are null.
  std::string to_json() const;
  /// A readable table of the versions, the comparisons and the recommendation.
  std::string to_string() const;
};

/// The report from statistics collected elsewhere (a window, a stored snapshot).
/// Throws InvalidArgument for options outside their ranges and NotFound when baseline_version is
/// set but not among `versions`.
SWITCHYARD_API SWITCHYARD_INLINE PerformanceReport performance_report(
    std::string_view model, std::span<const VariantStats> versions,
    const PerformanceReportOptions& options = {});

/// The report of everything `deployment` served (Deployment::stats()). Thread-safe: reads
/// snapshots and never blocks request threads. Throws as the overload above.
inline PerformanceReport performance_report(const Deployment& deployment,
                                            const PerformanceReportOptions& options = {}) {
  const std::vector<VariantStats> stats = deployment.stats();
  return performance_report(deployment.model(), stats, options);
}

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/rollout/performance_report-inl.hpp>
#endif
