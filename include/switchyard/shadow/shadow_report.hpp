// SPDX-License-Identifier: Apache-2.0
// ShadowReport: what a ShadowPredictor saw, per shadow version, as a struct, JSON and a text table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/monitoring/latency_histogram.hpp>

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
  std::vector<ShadowVersionReport> versions;

  /// The report as one JSON object (numbers through detail::json_number, strings through
  /// detail::json_quote; latencies as count, mean, p50, p99 and max in nanoseconds).
  SWITCHYARD_API std::string to_json() const;
  /// A readable fixed-width table, one row per shadow version.
  SWITCHYARD_API std::string to_table() const;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/shadow/shadow_report-inl.hpp>
#endif
