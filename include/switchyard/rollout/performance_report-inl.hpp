// SPDX-License-Identifier: Apache-2.0
// performance_report(): per-version figures, the comparisons with the baseline, the recommendation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <switchyard/core/config.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/detail/json_text.hpp>
#include <switchyard/rollout/comparison.hpp>
#include <switchyard/rollout/detail/arm_data.hpp>
#include <switchyard/rollout/detail/report_text.hpp>
#include <switchyard/rollout/performance_report.hpp>
#include <switchyard/stats/effect_moments.hpp>
#include <switchyard/stats/lift_test.hpp>
#include <switchyard/stats/proportion_test.hpp>
#include <switchyard/stats/t_test.hpp>
#include <vector>

namespace switchyard {
namespace detail {

/// Confidence count, mean and variance from the snapshot's sums. The sums lose the variance of a
/// (nearly) constant confidence to cancellation; a variance below 1e-9 of the squared mean is
/// indistinguishable from that rounding and is reported as 0.
SWITCHYARD_INLINE stats::SampleSummary confidence_summary(const VersionStatsSnapshot& s) {
  stats::SampleSummary r = stats::SampleSummary::from_sums(s.confidence_count, s.confidence_sum,
                                                           s.confidence_sum_squares);
  if (!(r.variance > 1e-9 * r.mean * r.mean)) r.variance = 0.0;
  return r;
}

SWITCHYARD_INLINE VersionPerformance version_performance(const VariantStats& v, double confidence) {
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

/// One version (the treatment) against the baseline (the control) on one metric.
SWITCHYARD_INLINE VersionComparison compare_versions(const VersionPerformance& cand,
                                                     const VersionPerformance& base,
                                                     const VariantStats& cand_stats,
                                                     const VariantStats& base_stats,
                                                     PerformanceMetric metric,
                                                     const PerformanceReportOptions& o) {
  VersionComparison c;
  c.version = cand.version;
  c.baseline_version = base.version;
  c.metric = metric;
  ArmData t, k;
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
    r = stats::two_proportion_z_test(k.counter, t.counter, o.confidence);
    ts = t.counter.summary();
    ks = k.counter.summary();
  } else {
    ts = confidence_summary(cand_stats.stats);
    ks = confidence_summary(base_stats.stats);
    r = stats::welch_t_test(ks, ts, o.confidence);
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
      stats::lift_test(stats::effect_moments(ks, ts, stats::EffectScale::kRelative), o.confidence);
  c.relative_status = lift.status;
  c.relative_effect = lift.effect;
  c.relative_interval = lift.interval;
  if (metric != PerformanceMetric::kErrorRate && c.status == stats::StatStatus::kOk) {
    if (!t.rate) {
      t.moments = stats::RunningMoments::from_moments(ts.count, ts.mean, ts.variance);
      k.moments = stats::RunningMoments::from_moments(ks.count, ks.mean, ks.variance);
    }
    std::optional<stats::SampleSizeResult> rate_plan;
    stats::PowerOptions po;
    po.alpha = 1.0 - o.confidence;
    po.power = o.power;
    c.more_requests_needed =
        comparison_power(k, t, o.minimum_detectable_effect, true, po, true, rate_plan).more_per_arm;
  }
  return c;
}

/// Higher is better for accuracy and confidence, lower for the error rate.
inline bool performance_higher_is_better(PerformanceMetric m) noexcept {
  return m != PerformanceMetric::kErrorRate;
}

/// A version comparison's effect in words (comparison.hpp's effect_words): relative where defined,
/// except for the error rate, whose effect reads best in percentage points (as accuracy's does
/// when no relative effect exists).
inline EffectWords version_effect_words(const VersionComparison& c, double confidence) {
  return effect_words(c, confidence,
                      EffectWording{performance_higher_is_better(c.metric),
                                    c.metric != PerformanceMetric::kMeanConfidence});
}

/// "+7.0% mean confidence".
inline std::string version_effect_lead(const VersionComparison& c, double confidence) {
  return version_effect_words(c, confidence).value + " " + std::string(to_string(c.metric));
}

/// "+7.0% mean confidence (95% CI [+5.1%, +8.9%], p < 0.001)".
inline std::string version_effect_sentence(const VersionComparison& c, double confidence) {
  return version_effect_lead(c, confidence) + " (" + version_effect_words(c, confidence).detail +
         ")";
}

/// Throws InvalidArgument naming `field` unless 0 < v < 1.
inline void validate_report_unit(double v, std::string_view model, const char* field) {
  if (!(v > 0.0 && v < 1.0)) {
    throw InvalidArgument("performance report of '" + std::string(model) + "': " + field +
                          " must lie strictly between 0 and 1, got " + std::to_string(v));
  }
}

/// Step 1: the options, field by field.
SWITCHYARD_INLINE void validate_report_options(std::string_view model,
                                               const PerformanceReportOptions& o) {
  validate_report_unit(o.confidence, model, "confidence");
  validate_report_unit(o.power, model, "power");
  if (!(o.minimum_detectable_effect > 0.0) || !std::isfinite(o.minimum_detectable_effect)) {
    throw InvalidArgument("performance report of '" + std::string(model) +
                          "': minimum_detectable_effect must be positive, got " +
                          std::to_string(o.minimum_detectable_effect));
  }
}

/// Step 2: the baseline's index among the ascending versions: the one asked for, else the largest
/// traffic share (the lower version on a tie; the most requests when none is in the table).
SWITCHYARD_INLINE std::size_t choose_baseline(const PerformanceReport& rep,
                                              const PerformanceReportOptions& o) {
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
  return base;
}

/// Step 4, per compared version: one sentence from its quality comparison `qc` and error-rate
/// comparison `ec`; `best` becomes `qc` when it is the best improvement so far.
SWITCHYARD_INLINE std::string recommend_version(const VersionComparison& qc,
                                                const VersionComparison& ec,
                                                const std::string& base_name,
                                                const PerformanceReportOptions& o,
                                                const VersionComparison*& best) {
  const std::string name = "version " + std::to_string(qc.version);
  std::string s;
  if (qc.status != stats::StatStatus::kOk) {
    s = name + " cannot be compared with " + base_name + " on " +
        std::string(to_string(qc.metric)) + " yet (" + qc.reason + ")";
  } else if (qc.improvement && !ec.regression) {
    s = name + " shows " + detail::version_effect_lead(qc, o.confidence) + " over " + base_name +
        " (" + detail::version_effect_words(qc, o.confidence).detail + ")";
    if (best == nullptr || qc.relative_effect > best->relative_effect) best = &qc;
  } else if (qc.improvement && ec.regression) {
    s = name + " shows " + detail::version_effect_sentence(qc, o.confidence) + " but " +
        detail::version_effect_sentence(ec, o.confidence) + " against " + base_name + ": keep " +
        base_name;
  } else if (qc.regression) {
    s = name + " shows " + detail::version_effect_sentence(qc, o.confidence) + " against " +
        base_name + ": keep " + base_name;
  } else if (ec.regression) {
    s = name + " has " + detail::version_effect_sentence(ec, o.confidence) + " against " +
        base_name + ": keep " + base_name;
  } else {
    const std::uint64_t more = qc.more_requests_needed.value_or(0);
    const std::string unit =
        qc.metric == PerformanceMetric::kAccuracy ? " more labeled requests" : " more requests";
    const detail::EffectWords words = detail::version_effect_words(qc, o.confidence);
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
  return s;
}

}  // namespace detail

SWITCHYARD_INLINE PerformanceReport performance_report(std::string_view model,
                                                       std::span<const VariantStats> versions,
                                                       const PerformanceReportOptions& o) {
  detail::validate_report_options(model, o);
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
  const std::size_t base = detail::choose_baseline(rep, o);
  const VersionPerformance& bp = rep.versions[base];
  rep.baseline_version = bp.version;
  rep.best_version = bp.version;
  const std::string base_name = "version " + std::to_string(bp.version);

  // Step 3: quality (accuracy when both are labelled, else mean confidence), then error rate.
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
  // Holm over the versions on quality; error rates stay unadjusted (they err on the side of
  // blocking), as an experiment's guardrails do.
  std::vector<VersionComparison*> quality_family;
  for (std::size_t q : quality_index) quality_family.push_back(&rep.comparisons[q]);
  detail::holm_adjust(quality_family, alpha);
  for (auto& c : rep.comparisons) {
    detail::judge(c, detail::performance_higher_is_better(c.metric), alpha);
  }

  // Step 4, the recommendation.
  if (quality_index.empty()) {
    rep.recommendation = "only " + base_name + " has statistics; nothing to compare";
    return rep;
  }
  const VersionComparison* best = nullptr;
  std::vector<std::string> sentences;
  for (std::size_t q : quality_index) {
    const VersionComparison& qc = rep.comparisons[q];
    std::string s = detail::recommend_version(qc, rep.comparisons[q + 1], base_name, o, best);
    sentences.push_back(std::move(s));
  }
  if (best != nullptr) rep.best_version = best->version;
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    rep.recommendation += (i ? "; " : "") + sentences[i];
  }
  return rep;
}

SWITCHYARD_INLINE std::string PerformanceReport::to_json() const {
  using detail::json_number;
  using detail::json_quote;
  using detail::report_json_interval;
  auto opt = [](const std::optional<double>& v) {
    return v ? json_number(*v) : std::string("null");
  };
  auto interval = [](const stats::IntervalEstimate& e) {
    return e.ok() ? report_json_interval(e.interval) : std::string("null");
  };
  std::string out =
      "{\"model\": " + json_quote(model) +
      ", \"confidence\": " + json_number(confidence) +
      ", \"baseline_version\": " + (baseline_version ? std::to_string(*baseline_version) : "null") +
      ", \"models\": [";
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const VersionPerformance& v = versions[i];
    out += (i ? ", " : "") + std::string("{\"version\": ") + std::to_string(v.version) +
           ", \"variant\": " + json_quote(v.variant) +
           ", \"share\": " + json_number(v.share) +
           ", \"request_count\": " + std::to_string(v.request_count) +
           ", \"errors\": " + std::to_string(v.errors) +
           ", \"error_rate\": " + json_number(v.error_rate) +
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
    out += (i ? ", " : "") + std::string("{\"version\": ") + std::to_string(c.version) +
           ", \"baseline_version\": " + std::to_string(c.baseline_version) +
           ", \"metric\": " + json_quote(switchyard::to_string(c.metric)) +
           ", \"baseline_value\": " + json_number(c.baseline_value) +
           ", \"value\": " + json_number(c.value) + ", " + detail::comparison_json_fields(c) +
           ", \"more_requests_needed\": " +
           (c.more_requests_needed ? std::to_string(*c.more_requests_needed) : "null") + "}";
  }
  out += "], \"best_version\": " + (best_version ? std::to_string(*best_version) : "null") +
         ", \"recommendation\": " + json_quote(recommendation) + "}";
  return out;
}

SWITCHYARD_INLINE std::string PerformanceReport::to_string() const {
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
    out += detail::version_effect_sentence(c, confidence);
    if (c.improvement) out += "  BETTER";
    if (c.regression) out += "  WORSE";
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
