// SPDX-License-Identifier: Apache-2.0
// ComparisonResult: one treatment against its control, and what every rollout report does with it.
#pragma once

#include <string>
#include <switchyard/rollout/detail/report_text.hpp>
#include <switchyard/stats/multiple_comparisons.hpp>
#include <switchyard/stats/result.hpp>
#include <vector>

namespace switchyard {

/// One treatment against its control on one metric: the test's outcome and its verdict. The part
/// every rollout report shares: an experiment's MetricComparison and a performance report's
/// VersionComparison derive from it, so both are corrected, judged, worded and written to JSON by
/// the same code (the functions below).
///
/// The p-value and absolute interval come from the metric's test (two_proportion_z_test,
/// welch_t_test or sequential_test), the relative effect from lift_test's delta method (or the
/// sequential test on the relative scale). Thread-safe: a value type.
struct ComparisonResult {
  stats::StatStatus status = stats::StatStatus::kNotEnoughData;  ///< of the p-value's test
  std::string reason;                                            ///< empty when ok
  double absolute_effect = 0.0;                                  ///< treatment - control
  stats::Interval absolute_interval;
  stats::StatStatus relative_status = stats::StatStatus::kNotEnoughData;
  double relative_effect = 0.0;  ///< (treatment - control) / |control|
  stats::Interval relative_interval;
  double p_value = 1.0;           ///< two-sided
  double adjusted_p_value = 1.0;  ///< Holm over the report's family (see holm_adjust); else p_value
  bool significant = false;       ///< status ok and adjusted_p_value < 1 - confidence
  bool improvement = false;       ///< significant, in the metric's good direction
  bool regression = false;        ///< significant, in the metric's bad direction
};

namespace detail {

/// Holm's correction over `family` (one metric's comparisons of several treatments with one
/// control): the p-values `from` of the members whose test ran (status ok) are adjusted together
/// (stats::adjust_p_values, statsmodels' 'holm') into `to`; the other members keep theirs. A
/// family of one is left alone (Holm leaves a single p-value unchanged).
template <class Comparison>
void holm_adjust(const std::vector<Comparison*>& family, double alpha,
                 double Comparison::*from = &Comparison::p_value,
                 double Comparison::*to = &Comparison::adjusted_p_value) {
  if (family.size() < 2) return;
  std::vector<double> ps;
  std::vector<Comparison*> tested;
  for (Comparison* c : family) {
    if (c->status == stats::StatStatus::kOk) {
      ps.push_back(c->*from);
      tested.push_back(c);
    }
  }
  if (ps.empty()) return;
  const stats::AdjustedPValues adjusted =
      stats::adjust_p_values(ps, stats::PValueAdjustment::kHolm, alpha);
  if (!adjusted.ok()) return;
  for (std::size_t i = 0; i < tested.size(); ++i) tested[i]->*to = adjusted.p_values[i];
}

/// The verdict at level `alpha`: significant when the test ran and the adjusted p-value is below
/// alpha; an improvement or a regression by the sign of the absolute effect and the metric's
/// direction.
inline void judge(ComparisonResult& c, bool higher_is_better, double alpha) {
  c.significant = c.status == stats::StatStatus::kOk && c.adjusted_p_value < alpha;
  const bool up = c.absolute_effect > 0.0, down = c.absolute_effect < 0.0;
  c.improvement = c.significant && (higher_is_better ? up : down);
  c.regression = c.significant && (higher_is_better ? down : up);
}

/// A comparison's effect in words: `value` ("+7.0%", "+0.50 points", "+0.0123") and `detail`
/// ("95% CI [+5.1%, +8.9%], p < 0.001", with the adjusted p-value).
struct EffectWords {
  std::string value;
  std::string detail;
};

/// How effect_words writes an effect.
struct EffectWording {
  /// The relative effect (a signed percentage) when it is defined; otherwise the absolute one.
  bool prefer_relative = true;
  /// The absolute effect of a rate as percentage points ("+0.50 points"); else 4 decimals.
  bool points = false;
};

inline EffectWords effect_words(const ComparisonResult& c, double confidence, EffectWording how) {
  EffectWords w;
  const std::string level = report_fixed(confidence * 100.0, 0) + "% CI ";
  if (how.prefer_relative && c.relative_status == stats::StatStatus::kOk) {
    w.value = report_signed_percent(c.relative_effect);
    w.detail = level + report_interval_percent(c.relative_interval) + ", " +
               report_p_value(c.adjusted_p_value);
    return w;
  }
  auto number = [&](double v) {
    return (v >= 0 ? "+" : "") + (how.points ? report_fixed(v * 100.0, 2) : report_fixed(v, 4));
  };
  const std::string unit = how.points ? " points" : "";
  w.value = number(c.absolute_effect) + unit;
  w.detail = level + "[" + number(c.absolute_interval.lower) + ", " +
             number(c.absolute_interval.upper) + "]" + unit + ", " +
             report_p_value(c.adjusted_p_value);
  return w;
}

/// The JSON members every comparison writes, comma-separated and without braces: "status",
/// "reason", "absolute_effect", "absolute_interval", "relative_effect", "relative_interval",
/// "p_value", "adjusted_p_value", "significant", "improvement", "regression". Effects and
/// intervals of a test that did not run are null; numbers go through json_number.
inline std::string comparison_json_fields(const ComparisonResult& c) {
  const bool ok = c.status == stats::StatStatus::kOk;
  const bool rel = c.relative_status == stats::StatStatus::kOk;
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  return "\"status\": " + json_quote(stats::to_string(c.status)) +
         ", \"reason\": " + json_quote(c.reason) +
         ", \"absolute_effect\": " + (ok ? json_number(c.absolute_effect) : "null") +
         ", \"absolute_interval\": " + (ok ? report_json_interval(c.absolute_interval) : "null") +
         ", \"relative_effect\": " + (rel ? json_number(c.relative_effect) : "null") +
         ", \"relative_interval\": " + (rel ? report_json_interval(c.relative_interval) : "null") +
         ", \"p_value\": " + json_number(c.p_value) +
         ", \"adjusted_p_value\": " + json_number(c.adjusted_p_value) +
         ", \"significant\": " + b(c.significant) + ", \"improvement\": " + b(c.improvement) +
         ", \"regression\": " + b(c.regression);
}

}  // namespace detail
}  // namespace switchyard
