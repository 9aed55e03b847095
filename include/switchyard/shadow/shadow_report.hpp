// SPDX-License-Identifier: Apache-2.0
// ShadowReport: what a ShadowPredictor saw, per shadow version, as a struct, JSON and a text table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/monitoring/latency_histogram.hpp>
#include <switchyard/stats/drift_statistics.hpp>
#include <switchyard/stats/mcnemar.hpp>
#include <switchyard/stats/paired_tests.hpp>
#include <switchyard/stats/result.hpp>

namespace switchyard {

/// How a shadow version chooses the requests it sees.
enum class ShadowSampling : std::uint8_t {
  kSticky = 0,  ///< by the request's key (serving's bucketing hash): a key is always in or out
  kRandom = 1,  ///< an independent coin per request
};

/// Where a ShadowPredictor stands in its lifecycle (see ShadowPredictor::start/pause/stop).
enum class ShadowState : std::uint8_t { kIdle = 0, kRunning = 1, kPaused = 2, kStopped = 3 };

/// "sticky" / "random".
SWITCHYARD_API const char* to_string(ShadowSampling sampling) noexcept;
/// "idle" / "running" / "paused" / "stopped".
SWITCHYARD_API const char* to_string(ShadowState state) noexcept;

/// One cell of a label confusion matrix: rows where the primary said `primary` and the shadow
/// said `shadow`. Thread-safe: a value type.
struct ConfusionCell {
  std::int32_t primary = 0;
  std::int32_t shadow = 0;
  std::uint64_t count = 0;
};

/// The distribution of per-row differences between shadow and primary outputs (regression).
/// Quantiles are exact sample quantiles (linear interpolation, numpy's default) while the count is
/// at most the predictor's difference_sample; beyond it they come from a uniform reservoir sample.
/// Thread-safe: a value type.
struct DifferenceSummary {
  std::uint64_t count = 0;
  double mean = 0.0;
  double max = 0.0;
  double p50 = 0.0;
  double p90 = 0.0;
  double p99 = 0.0;
};

/// One kept disagreement: the request's key and id and both answers for one row (the label for
/// classifiers, the first output value for regressors). Thread-safe: a value type.
struct ShadowDisagreement {
  std::string key;
  std::string request_id;
  std::int64_t row = 0;
  double primary = 0.0;
  double shadow = 0.0;
};

/// How often the primary and the shadow answered one label, on the same mirrored rows.
/// Thread-safe: a value type.
struct LabelCount {
  std::int32_t label = 0;
  std::uint64_t primary = 0;
  std::uint64_t shadow = 0;
};

/// How the shadow's answers are distributed against the primary's on the same requests: label
/// frequencies for classifiers, and a drift statistic with the primary as the reference
/// (Evidently's procedure, stats/drift_statistics.hpp): Jensen-Shannon distance of the label
/// frequencies, or of the first output value (binned) for regressors. divergence.status is not
/// kOk until both sides have answers. Thread-safe: a value type.
struct PredictionDistribution {
  std::vector<LabelCount> labels;  ///< classification; sorted by label
  stats::DriftResult divergence;   ///< reference = primary, current = shadow
};

/// Both models judged against the truth on the same requests, once labels arrive (late, joined by
/// request id through ShadowPredictor::record_label). Classifiers: accuracy of each and McNemar's
/// exact test (A = shadow, B = primary: effect > 0 means the shadow is right more often).
/// Regressors: mean absolute error of each and paired tests on the per-request absolute errors
/// (a = shadow, b = primary: effect < 0 means the shadow errs less; p_value_less is the
/// one-sided p for "the shadow errs less"): paired t and Wilcoxon signed-rank. Tests whose data
/// is missing report status != kOk.
/// Thread-safe: a value type.
struct LabeledComparison {
  std::uint64_t labels_joined = 0;    ///< labels matched to a request this version answered
  std::uint64_t rows = 0;             ///< rows judged (the first row of each joined request)
  std::uint64_t primary_correct = 0;  ///< classification
  std::uint64_t shadow_correct = 0;   ///< classification
  double primary_accuracy = 0.0;
  double shadow_accuracy = 0.0;
  stats::McNemarResult mcnemar;
  double primary_mae = 0.0;           ///< regression
  double shadow_mae = 0.0;            ///< regression
  stats::PairedTTestResult paired_t;  ///< regression: on absolute errors (shadow, primary)
  stats::WilcoxonResult wilcoxon;     ///< regression: on absolute errors (shadow, primary)
};

/// What one shadow version saw and how it compared with the primary on the same requests.
/// sampled = mirrored + dropped_queue_full + dropped_over_budget + dropped_stopped, exactly.
/// Thread-safe: a value type.
struct ShadowVersionReport {
  std::string model;
  std::int64_t version = 0;
  double share = 0.0;
  ShadowSampling sampling = ShadowSampling::kSticky;
  bool active = true;             ///< false once its duration has passed

  std::uint64_t sampled = 0;               ///< requests chosen for this version
  std::uint64_t mirrored = 0;              ///< of those, queued for the shadow
  std::uint64_t dropped_queue_full = 0;    ///< the queue had no free slot
  std::uint64_t dropped_over_budget = 0;   ///< queuing would exceed the byte budget
  std::uint64_t dropped_stopped = 0;       ///< the predictor was not running
  std::uint64_t skipped_paused = 0;        ///< seen while paused (not sampled, not dropped)
  std::uint64_t discarded = 0;             ///< queued, then thrown away by stop() or removal
  std::uint64_t completed = 0;             ///< shadow calls that returned
  std::uint64_t shadow_errors = 0;         ///< shadow calls that threw
  std::uint64_t primary_errors = 0;        ///< mirrored requests the primary failed

  std::uint64_t compared_rows = 0;  ///< rows with both answers
  std::uint64_t agreed_rows = 0;    ///< same label, or |difference| <= tolerance
  double agreement_rate = 0.0;      ///< agreed / compared; 0 when nothing was compared
  std::vector<ConfusionCell> confusion;  ///< classification; sorted by (primary, shadow)
  DifferenceSummary absolute_difference;  ///< |shadow - primary| per output value
  DifferenceSummary relative_difference;  ///< |shadow - primary| / |primary|, primary != 0

  LatencyHistogram shadow_latency;   ///< the shadow's predict() calls, ns
  LatencyHistogram primary_latency;  ///< the primary's calls on the same (mirrored) requests, ns
  /// shadow_errors / (completed + shadow_errors); 0 before any call.
  double shadow_error_rate = 0.0;
  /// primary_errors / the mirrored requests that reached the shadow; 0 before any.
  double primary_error_rate = 0.0;
  PredictionDistribution distribution;
  LabeledComparison labeled;
  std::vector<ShadowDisagreement> disagreements;  ///< the last K, oldest first
};

/// A ShadowPredictor's report: its state, its queue and one entry per shadow version.
/// Thread-safe: a value type.
struct ShadowReport {
  TimePoint generated_at{};
  ShadowState state = ShadowState::kIdle;
  std::uint64_t queue_capacity = 0;   ///< requests
  std::uint64_t queue_depth = 0;      ///< requests queued when the report was taken
  std::uint64_t byte_budget = 0;
  std::uint64_t bytes_queued = 0;
  std::uint64_t labels_received = 0;   ///< record_label() calls with a usable label
  std::uint64_t labels_unmatched = 0;  ///< no version had answered that request id (or it aged out)
  std::vector<ShadowVersionReport> versions;

  /// The report as one JSON object (numbers through detail::json_number, strings through
  /// detail::json_quote; latencies as count, mean, p50, p99 and max in nanoseconds).
  SWITCHYARD_API std::string to_json() const;
  /// A readable fixed-width table, one row per shadow version.
  SWITCHYARD_API std::string to_table() const;
  /// Prometheus text exposition (format 0.0.4): the series `switchyard_shadow_*` with labels
  /// model and version (and reason for drops), counters ending in _total, latencies as histograms.
  SWITCHYARD_API std::string to_prometheus() const;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/shadow/shadow_report-inl.hpp>
#endif
