// SPDX-License-Identifier: Apache-2.0
// PerformanceReport: per-version serving statistics with a recommendation backed by tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <switchyard/detail/json_text.hpp>
#include <switchyard/monitoring/version_stats.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/rollout/experiment.hpp>
#include <switchyard/stats/lift_test.hpp>
#include <switchyard/stats/multiple_comparisons.hpp>
#include <switchyard/stats/proportion_test.hpp>
#include <switchyard/stats/t_test.hpp>
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

/// One version against the baseline on one metric. Thread-safe: a value type.
struct VersionComparison {
  std::int64_t version = 0;
  std::int64_t baseline_version = 0;
  PerformanceMetric metric = PerformanceMetric::kAccuracy;
  stats::StatStatus status = stats::StatStatus::kNotEnoughData;
  std::string reason;  ///< empty when ok
  double baseline_value = 0.0;
  double value = 0.0;
  double absolute_effect = 0.0;  ///< value - baseline_value
  stats::Interval absolute_interval;
  stats::StatStatus relative_status = stats::StatStatus::kNotEnoughData;
  double relative_effect = 0.0;  ///< delta-method lift (lift_test)
  stats::Interval relative_interval;
  double p_value = 1.0;
  double adjusted_p_value = 1.0;  ///< Holm over the versions (quality metric); else p_value
  bool significant = false;
  bool better = false;  ///< significant, in the metric's good direction
  bool worse = false;   ///< significant, in the metric's bad direction
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
struct PerformanceReport {
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
inline PerformanceReport performance_report(std::string_view model,
                                            std::span<const VariantStats> versions,
                                            const PerformanceReportOptions& options = {});

/// The report of everything `deployment` served (Deployment::stats()). Thread-safe: reads
/// snapshots and never blocks request threads. Throws as the overload above.
inline PerformanceReport performance_report(const Deployment& deployment,
                                            const PerformanceReportOptions& options = {}) {
  const std::vector<VariantStats> stats = deployment.stats();
  return performance_report(deployment.model(), stats, options);
}

// ================================================================================================
// Implementation.

namespace detail {

/// Confidence count, mean and variance from the snapshot's sums. The sums lose the variance of a
/// (nearly) constant confidence to cancellation; a variance below 1e-9 of the squared mean is
/// indistinguishable from that rounding and is reported as 0.
inline stats::SampleSummary confidence_summary(const VersionStatsSnapshot& s) {
  stats::SampleSummary r = stats::SampleSummary::from_sums(s.confidence_count, s.confidence_sum,
                                                           s.confidence_sum_squares);
  if (!(r.variance > 1e-9 * r.mean * r.mean)) r.variance = 0.0;
  return r;
}

inline VersionPerformance version_performance(const VariantStats& v, double confidence) {
  const VersionStatsSnapshot& s = v.stats;
  VersionPerformance p;
  p.version = v.version;
  p.variant = v.variant;
  p.share = v.share;
  p.request_count = s.requests;
  p.errors = s.errors;
  p.error_rate = s.error_rate();
  if (s.latency.count() > 0) {
    p.avg_latency_ms = s.latency.mean() / 1e6;
    p.p99_latency_ms = s.latency.quantile(0.99) / 1e6;
  }
  p.confidence_count = s.confidence_count;
  p.confidence_interval.confidence = confidence;
  if (s.confidence_count > 0) {
    const stats::SampleSummary c = confidence_summary(s);
    p.avg_confidence = c.mean;
    if (std::isfinite(c.mean)) {
      p.confidence_interval = mean_interval(
          stats::RunningMoments::from_moments(c.count, c.mean, c.variance), confidence);
    }
  }
  p.labeled = s.labeled;
  p.correct = std::min(s.correct, s.labeled);
  p.accuracy_interval.confidence = confidence;
  if (s.labeled > 0) {
    p.accuracy = s.accuracy();
    p.accuracy_interval =
        stats::wilson_interval(stats::ProportionCounter(p.correct, p.labeled), confidence);
  }
  return p;
}

inline VersionComparison compare_versions(const VersionPerformance& cand,
                                          const VersionPerformance& base,
                                          const VariantStats& cand_stats,
                                          const VariantStats& base_stats, PerformanceMetric metric,
                                          const PerformanceReportOptions& o) {
  VersionComparison c;
  c.version = cand.version;
  c.baseline_version = base.version;
  c.metric = metric;
  ArmMetricData t, k;
  switch (metric) {
    case PerformanceMetric::kAccuracy:
      t.rate = k.rate = true;
      t.counter = stats::ProportionCounter(cand.correct, cand.labeled);
      k.counter = stats::ProportionCounter(base.correct, base.labeled);
      break;
    case PerformanceMetric::kErrorRate:
      t.rate = k.rate = true;
      t.counter =
          stats::ProportionCounter(std::min(cand.errors, cand.request_count), cand.request_count);
      k.counter =
          stats::ProportionCounter(std::min(base.errors, base.request_count), base.request_count);
      break;
    case PerformanceMetric::kMeanConfidence:
      break;
  }
  stats::TestResult r;
  stats::SampleSummary ts, ks;
  if (t.rate) {
    r = stats::two_proportion_z_test(t.counter, k.counter, o.confidence);
    ts = t.counter.summary();
    ks = k.counter.summary();
  } else {
    ts = confidence_summary(cand_stats.stats);
    ks = confidence_summary(base_stats.stats);
    r = stats::welch_t_test(ts, ks, o.confidence);
  }
  c.baseline_value = ks.mean;
  c.value = ts.mean;
  c.status = r.status;
  c.reason = r.reason;
  // The statistics speak of "treatment" and "control" arms; say which version and what is missing.
  const std::string cand_name = "version " + std::to_string(cand.version);
  const std::string base_name = "version " + std::to_string(base.version);
  if (r.status == stats::StatStatus::kNotEnoughData) {
    const char* what = metric == PerformanceMetric::kAccuracy    ? " labelled requests"
                       : metric == PerformanceMetric::kErrorRate ? " requests"
                                                                 : " confidences";
    const bool cand_short = ts.count < (t.rate ? 1u : 2u);
    c.reason = (cand_short ? cand_name : base_name) + " has " +
               std::to_string(cand_short ? ts.count : ks.count) + what +
               (t.rate ? "" : "; at least 2 are needed");
  } else if (r.status == stats::StatStatus::kZeroVariance) {
    c.reason = metric == PerformanceMetric::kErrorRate
                   ? (ks.mean == 0.0 ? "no errors in either version" : "every request failed")
               : metric == PerformanceMetric::kAccuracy
                   ? (ks.mean == 0.0 ? "no correct prediction in either version"
                                     : "every labelled prediction was correct in both versions")
                   : "both versions report a constant confidence";
  }
  c.absolute_effect = r.effect;
  c.absolute_interval = r.interval;
  c.p_value = r.p_value;
  c.adjusted_p_value = r.p_value;
  const stats::LiftResult lift =
      stats::lift_test(stats::effect_moments(ts, ks, stats::EffectScale::kRelative), o.confidence);
  c.relative_status = lift.status;
  c.relative_effect = lift.effect;
  c.relative_interval = lift.interval;
  if (metric != PerformanceMetric::kErrorRate && c.status == stats::StatStatus::kOk) {
    if (!t.rate) {
      t.moments = stats::RunningMoments::from_moments(ts.count, ts.mean, ts.variance);
      k.moments = stats::RunningMoments::from_moments(ks.count, ks.mean, ks.variance);
    }
    MetricComparison power;
    std::optional<stats::SampleSizeResult> plan;
    stats::PowerOptions po;
    po.alpha = 1.0 - o.confidence;
    po.power = o.power;
    experiment_power(power, t, k, o.minimum_detectable_effect, true, po, true, plan);
    c.more_requests_needed = power.more_samples_per_arm;
  }
  return c;
}

inline void finish_significance(VersionComparison& c, double alpha) {
  c.significant = c.status == stats::StatStatus::kOk && c.adjusted_p_value < alpha;
  const bool higher_is_better = c.metric != PerformanceMetric::kErrorRate;
  const bool up = c.absolute_effect > 0.0, down = c.absolute_effect < 0.0;
  c.better = c.significant && (higher_is_better ? up : down);
  c.worse = c.significant && (higher_is_better ? down : up);
}

/// The effect of a comparison in words: `lead` ("+7.0% mean confidence", "+0.50 points error
/// rate") and `detail` ("95% CI [+5.1%, +8.9%], p < 0.001"). Relative effects where defined,
/// rates' absolute differences in percentage points otherwise.
struct EffectWords {
  std::string lead;
  std::string value;
  std::string detail;
  std::string sentence() const { return lead + " (" + detail + ")"; }
};

inline EffectWords effect_words(const VersionComparison& c, double confidence) {
  EffectWords w;
  const std::string level = report_fixed(confidence * 100.0, 0) + "% CI ";
  const std::string metric(to_string(c.metric));
  if (c.metric != PerformanceMetric::kErrorRate && c.relative_status == stats::StatStatus::kOk) {
    w.value = report_signed_percent(c.relative_effect);
    w.lead = w.value + " " + metric;
    w.detail = level + report_interval_percent(c.relative_interval) + ", " +
               report_p_value(c.adjusted_p_value);
    return w;
  }
  const bool points = c.metric != PerformanceMetric::kMeanConfidence;
  auto number = [&](double v) {
    return points ? (v >= 0 ? "+" : "") + report_fixed(v * 100.0, 2)
                  : (v >= 0 ? "+" : "") + report_fixed(v, 4);
  };
  const std::string unit = points ? " points" : "";
  w.value = number(c.absolute_effect) + unit;
  w.lead = w.value + " " + metric;
  w.detail = level + "[" + number(c.absolute_interval.lower) + ", " +
             number(c.absolute_interval.upper) + "]" + unit + ", " +
             report_p_value(c.adjusted_p_value);
  return w;
}

}  // namespace detail

inline PerformanceReport performance_report(std::string_view model,
                                            std::span<const VariantStats> versions,
                                            const PerformanceReportOptions& o) {
  detail::validate_unit(o.confidence, std::string(model), "confidence");
  detail::validate_unit(o.power, std::string(model), "power");
  if (!(o.minimum_detectable_effect > 0.0) || !std::isfinite(o.minimum_detectable_effect)) {
    throw InvalidArgument("performance report of '" + std::string(model) +
                          "': minimum_detectable_effect must be positive, got " +
                          std::to_string(o.minimum_detectable_effect));
  }
  PerformanceReport rep;
  rep.model = std::string(model);
  rep.confidence = o.confidence;
  std::vector<const VariantStats*> sorted;
  for (const auto& v : versions) sorted.push_back(&v);
  std::sort(sorted.begin(), sorted.end(),
            [](const VariantStats* a, const VariantStats* b) { return a->version < b->version; });
  for (const VariantStats* v : sorted) {
    rep.versions.push_back(detail::version_performance(*v, o.confidence));
  }
  if (rep.versions.empty()) {
    if (o.baseline_version) {
      throw NotFound("performance report of '" + rep.model + "': baseline version " +
                     std::to_string(*o.baseline_version) + " has no statistics");
    }
    rep.recommendation = "no version has served a request yet";
    return rep;
  }
  // The baseline.
  std::size_t base = 0;
  if (o.baseline_version) {
    base = rep.versions.size();
    for (std::size_t i = 0; i < rep.versions.size(); ++i) {
      if (rep.versions[i].version == *o.baseline_version) base = i;
    }
    if (base == rep.versions.size()) {
      throw NotFound("performance report of '" + rep.model + "': baseline version " +
                     std::to_string(*o.baseline_version) + " has no statistics");
    }
  } else {
    // Versions are ascending, so a strict comparison keeps the lower version on ties.
    for (std::size_t i = 1; i < rep.versions.size(); ++i) {
      const VersionPerformance &a = rep.versions[i], &b = rep.versions[base];
      if (a.share > b.share ||
          (a.share == 0.0 && b.share == 0.0 && a.request_count > b.request_count)) {
        base = i;
      }
    }
  }
  const VersionPerformance& bp = rep.versions[base];
  rep.baseline_version = bp.version;
  rep.best_version = bp.version;
  const std::string base_name = "version " + std::to_string(bp.version);

  // Comparisons: quality (accuracy when both are labelled, else mean confidence), error rate.
  std::vector<std::size_t> quality_index;
  for (std::size_t i = 0; i < rep.versions.size(); ++i) {
    if (i == base) continue;
    const VersionPerformance& vp = rep.versions[i];
    const PerformanceMetric quality = vp.labeled > 0 && bp.labeled > 0
                                          ? PerformanceMetric::kAccuracy
                                          : PerformanceMetric::kMeanConfidence;
    quality_index.push_back(rep.comparisons.size());
    rep.comparisons.push_back(
        detail::compare_versions(vp, bp, *sorted[i], *sorted[base], quality, o));
    rep.comparisons.push_back(detail::compare_versions(vp, bp, *sorted[i], *sorted[base],
                                                       PerformanceMetric::kErrorRate, o));
  }
  const double alpha = 1.0 - o.confidence;
  if (quality_index.size() > 1) {
    std::vector<double> ps;
    std::vector<std::size_t> which;
    for (std::size_t q : quality_index) {
      if (rep.comparisons[q].status == stats::StatStatus::kOk) {
        ps.push_back(rep.comparisons[q].p_value);
        which.push_back(q);
      }
    }
    if (!ps.empty()) {
      const auto adj = stats::adjust_p_values(ps, stats::PValueAdjustment::kHolm, alpha);
      if (adj.ok()) {
        for (std::size_t j = 0; j < which.size(); ++j) {
          rep.comparisons[which[j]].adjusted_p_value = adj.p_values[j];
        }
      }
    }
  }
  for (auto& c : rep.comparisons) detail::finish_significance(c, alpha);

  // The recommendation.
  if (quality_index.empty()) {
    rep.recommendation = "only " + base_name + " has statistics; nothing to compare";
    return rep;
  }
  const VersionComparison* best = nullptr;
  std::vector<std::string> sentences;
  for (std::size_t q : quality_index) {
    const VersionComparison& qc = rep.comparisons[q];
    const VersionComparison& ec = rep.comparisons[q + 1];
    const std::string name = "version " + std::to_string(qc.version);
    std::string s;
    if (qc.status != stats::StatStatus::kOk) {
      s = name + " cannot be compared with " + base_name + " on " +
          std::string(to_string(qc.metric)) + " yet (" + qc.reason + ")";
    } else if (qc.better && !ec.worse) {
      s = name + " shows " + detail::effect_words(qc, o.confidence).lead + " over " + base_name +
          " (" + detail::effect_words(qc, o.confidence).detail + ")";
      if (best == nullptr || qc.relative_effect > best->relative_effect) best = &qc;
    } else if (qc.better && ec.worse) {
      s = name + " shows " + detail::effect_words(qc, o.confidence).sentence() + " but " +
          detail::effect_words(ec, o.confidence).sentence() + " against " + base_name + ": keep " +
          base_name;
    } else if (qc.worse) {
      s = name + " shows " + detail::effect_words(qc, o.confidence).sentence() + " against " +
          base_name + ": keep " + base_name;
    } else if (ec.worse) {
      s = name + " has " + detail::effect_words(ec, o.confidence).sentence() + " against " +
          base_name + ": keep " + base_name;
    } else {
      const std::uint64_t more = qc.more_requests_needed.value_or(0);
      const std::string unit =
          qc.metric == PerformanceMetric::kAccuracy ? " more labeled requests" : " more requests";
      const detail::EffectWords words = detail::effect_words(qc, o.confidence);
      s = "no significant difference " + std::string(more > 0 ? "yet " : "") + "between " + name +
          " and " + base_name + " in " + std::string(to_string(qc.metric)) + " (" + words.value +
          ", " + words.detail;
      if (more > 0) {
        s += "; need about " + std::to_string(more) + unit + " per version)";
      } else if (qc.more_requests_needed) {
        s += "; enough data to detect a " +
             detail::report_fixed(o.minimum_detectable_effect * 100.0, 1) + "% difference)";
      } else {
        s += ")";
      }
    }
    sentences.push_back(std::move(s));
  }
  if (best != nullptr) rep.best_version = best->version;
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    rep.recommendation += (i ? "; " : "") + sentences[i];
  }
  return rep;
}

inline std::string PerformanceReport::to_json() const {
  using detail::report_json_interval;
  using detail::report_json_number;
  using detail::json_quote;
  auto opt = [](const std::optional<double>& v) {
    return v ? report_json_number(*v) : std::string("null");
  };
  auto interval = [](const stats::IntervalEstimate& e) {
    return e.ok() ? report_json_interval(e.interval) : std::string("null");
  };
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  std::string out =
      "{\"model\": " + json_quote(model) +
      ", \"confidence\": " + report_json_number(confidence) +
      ", \"baseline_version\": " + (baseline_version ? std::to_string(*baseline_version) : "null") +
      ", \"models\": [";
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const VersionPerformance& v = versions[i];
    out += (i ? ", " : "") + std::string("{\"version\": ") + std::to_string(v.version) +
           ", \"variant\": " + json_quote(v.variant) +
           ", \"share\": " + report_json_number(v.share) +
           ", \"request_count\": " + std::to_string(v.request_count) +
           ", \"errors\": " + std::to_string(v.errors) +
           ", \"error_rate\": " + report_json_number(v.error_rate) +
           ", \"avg_latency_ms\": " + opt(v.avg_latency_ms) +
           ", \"p99_latency_ms\": " + opt(v.p99_latency_ms) +
           ", \"avg_confidence\": " + opt(v.avg_confidence) +
           ", \"avg_confidence_interval\": " + interval(v.confidence_interval) +
           ", \"labeled\": " + std::to_string(v.labeled) + ", \"accuracy\": " + opt(v.accuracy) +
           ", \"accuracy_interval\": " + interval(v.accuracy_interval) + "}";
  }
  out += "], \"comparisons\": [";
  for (std::size_t i = 0; i < comparisons.size(); ++i) {
    const VersionComparison& c = comparisons[i];
    const bool ok = c.status == stats::StatStatus::kOk;
    const bool rel = c.relative_status == stats::StatStatus::kOk;
    out +=
        (i ? ", " : "") + std::string("{\"version\": ") + std::to_string(c.version) +
        ", \"baseline_version\": " + std::to_string(c.baseline_version) +
        ", \"metric\": " + json_quote(switchyard::to_string(c.metric)) +
        ", \"status\": " + json_quote(stats::to_string(c.status)) +
        ", \"reason\": " + json_quote(c.reason) +
        ", \"baseline_value\": " + report_json_number(c.baseline_value) +
        ", \"value\": " + report_json_number(c.value) +
        ", \"absolute_effect\": " + (ok ? report_json_number(c.absolute_effect) : "null") +
        ", \"absolute_interval\": " + (ok ? report_json_interval(c.absolute_interval) : "null") +
        ", \"relative_effect\": " + (rel ? report_json_number(c.relative_effect) : "null") +
        ", \"relative_interval\": " + (rel ? report_json_interval(c.relative_interval) : "null") +
        ", \"p_value\": " + report_json_number(c.p_value) +
        ", \"adjusted_p_value\": " + report_json_number(c.adjusted_p_value) +
        ", \"significant\": " + b(c.significant) + ", \"better\": " + b(c.better) +
        ", \"worse\": " + b(c.worse) + ", \"more_requests_needed\": " +
        (c.more_requests_needed ? std::to_string(*c.more_requests_needed) : "null") + "}";
  }
  out += "], \"best_version\": " + (best_version ? std::to_string(*best_version) : "null") +
         ", \"recommendation\": " + json_quote(recommendation) + "}";
  return out;
}

inline std::string PerformanceReport::to_string() const {
  using detail::report_fixed;
  using detail::report_pad;
  auto opt = [](const std::optional<double>& v, int decimals) {
    return v ? report_fixed(*v, decimals) : std::string("-");
  };
  std::string out =
      "Model " + model + " performance (" + report_fixed(confidence * 100.0, 0) + "% confidence)";
  if (baseline_version) out += ", baseline version " + std::to_string(*baseline_version);
  out += "\n\n";
  std::size_t w = 9;
  for (const auto& v : versions) w = std::max(w, v.variant.size() + 2);
  out += "  " + report_pad("version", 9) + report_pad("variant", w) +
         report_pad("share", 8, false) + report_pad("requests", 10, false) +
         report_pad("errors", 9, false) + report_pad("avg ms", 10, false) +
         report_pad("p99 ms", 10, false) + report_pad("avg conf", 10, false) +
         report_pad("accuracy", 10, false) + report_pad("labeled", 9, false) + "\n";
  for (const auto& v : versions) {
    out += "  " + report_pad(std::to_string(v.version), 9) + report_pad(v.variant, w) +
           report_pad(report_fixed(v.share * 100.0, 1) + "%", 8, false) +
           report_pad(std::to_string(v.request_count), 10, false) +
           report_pad(report_fixed(v.error_rate * 100.0, 2) + "%", 9, false) +
           report_pad(opt(v.avg_latency_ms, 4), 10, false) +
           report_pad(opt(v.p99_latency_ms, 4), 10, false) +
           report_pad(opt(v.avg_confidence, 3), 10, false) +
           report_pad(opt(v.accuracy, 3), 10, false) +
           report_pad(std::to_string(v.labeled), 9, false) + "\n";
  }
  if (!comparisons.empty()) out += "\n";
  for (const auto& c : comparisons) {
    out += "  version " + std::to_string(c.version) + " vs " + std::to_string(c.baseline_version) +
           ", " + std::string(switchyard::to_string(c.metric)) + ": ";
    if (c.status != stats::StatStatus::kOk) {
      out += "not computed (" + c.reason + ")\n";
      continue;
    }
    out += detail::effect_words(c, confidence).sentence();
    if (c.better) out += "  BETTER";
    if (c.worse) out += "  WORSE";
    if (c.more_requests_needed.value_or(0) > 0) {
      out += "  (needs ~" + std::to_string(*c.more_requests_needed) + " more per version)";
    }
    out += "\n";
  }
  out += "\nBest: " + (best_version ? "version " + std::to_string(*best_version) : "-") + "\n";
  out += "Recommendation: " + recommendation + "\n";
  return out;
}

}  // namespace switchyard
