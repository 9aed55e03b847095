// SPDX-License-Identifier: Apache-2.0
// Exposition: statistics rows as Prometheus text format and as JSON.
#pragma once

#include <span>
#include <string>

#include <switchyard/core/config.hpp>
#include <switchyard/monitoring/variant_stats.hpp>

namespace switchyard {

/// Prometheus text exposition format 0.0.4 of every version's statistics in `models` (collect
/// them with Deployment::model_stats()):
///   switchyard_requests_total, switchyard_request_errors_total, switchyard_fallbacks_total,
///   switchyard_outcomes_total{correct}, switchyard_predictions_total{class} (counters),
///   switchyard_prediction_latency_seconds (histogram), switchyard_prediction_confidence
///   (summary: sum and count), switchyard_traffic_share (gauge),
/// each labelled {model, version, variant}. Histogram buckets are whole internal buckets at or
/// below each `le`, so a count is exact to within one internal bucket (1/64 of the value).
/// Numbers are shortest round-trip. Passes `promtool check metrics`. Thread-safe: a pure function
/// of its argument.
SWITCHYARD_API std::string prometheus_text(std::span<const ModelStats> models);

/// The same statistics as JSON: {"deployments": [{"model", "versions": [{"version", "variant",
/// "share", "requests", "errors", "fallbacks", "latency_ns": {"mean", "p50", "p90", "p99",
/// "p999", "max"}, "mean_confidence", "classes", "labeled", "accuracy"}]}]}. Thread-safe: a pure
/// function of its argument.
SWITCHYARD_API std::string metrics_json(std::span<const ModelStats> models);

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/monitoring/exposition-inl.hpp>
#endif
