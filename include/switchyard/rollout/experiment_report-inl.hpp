// SPDX-License-Identifier: Apache-2.0
// ExperimentReport's views: lookups, the JSON object and the readable table.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <switchyard/core/config.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/detail/json_text.hpp>
#include <switchyard/rollout/comparison.hpp>
#include <switchyard/rollout/detail/report_text.hpp>
#include <switchyard/rollout/experiment_report.hpp>

namespace switchyard {

SWITCHYARD_INLINE const MetricReport& ExperimentReport::primary() const {
  if (metrics.empty()) throw NotFound("experiment '" + name + "' report has no metrics");
  return metrics.front();
}

SWITCHYARD_INLINE const MetricReport& ExperimentReport::metric(std::string_view metric_name) const {
  for (const auto& m : metrics) {
    if (m.name == metric_name) return m;
  }
  throw NotFound("experiment '" + name + "' report has no metric '" + std::string(metric_name) +
                 "'");
}

SWITCHYARD_INLINE std::string ExperimentReport::to_json() const {
  using detail::json_number;
  using detail::json_quote;
  using detail::report_json_interval;
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  auto u = [](std::uint64_t v) { return std::to_string(v); };
  std::string out = "{";
  out += "\"name\": " + json_quote(name);
  out += ", \"control\": " + json_quote(control);
  out += ", \"mode\": " +
         json_quote(mode == AnalysisMode::kSequential ? "sequential" : "fixed_horizon");
  out += ", \"confidence\": " + json_number(confidence);
  out += ", \"at_unix_ns\": " + std::to_string(to_unix_nanos(at));
  out += ", \"arms\": [";
  for (std::size_t i = 0; i < arms.size(); ++i) {
    const ArmReport& a = arms[i];
    out += (i ? ", " : "") + std::string("{\"variant\": ") + json_quote(a.variant) +
           ", \"weight\": " + json_number(a.weight) +
           ", \"expected_share\": " + json_number(a.expected_share) +
           ", \"exposures\": " + u(a.exposures) +
           ", \"observed_share\": " + json_number(a.observed_share) + "}";
  }
  out += "], \"srm\": {\"status\": " + json_quote(stats::to_string(srm.status)) +
         ", \"chi_square\": " + json_number(srm.statistic) +
         ", \"df\": " + json_number(srm.df) +
         ", \"p_value\": " + json_number(srm.p_value) +
         ", \"threshold\": " + json_number(srm.threshold) +
         ", \"mismatch\": " + b(srm.mismatch) + "}";
  out += ", \"metrics\": [";
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const MetricReport& m = metrics[i];
    out += (i ? ", " : "") + std::string("{\"name\": ") + json_quote(m.name) +
           ", \"kind\": " + json_quote(switchyard::to_string(m.kind)) +
           ", \"role\": " + json_quote(m.primary ? "primary" : "guardrail") +
           ", \"higher_is_better\": " + b(m.higher_is_better) +
           ", \"minimum_detectable_effect\": " + json_number(m.minimum_detectable_effect) +
           ", \"variants\": [";
    for (std::size_t j = 0; j < m.variants.size(); ++j) {
      const VariantMetric& v = m.variants[j];
      out += (j ? ", " : "") + std::string("{\"variant\": ") + json_quote(v.variant) +
             ", \"n\": " + u(v.n) + ", \"mean\": " + json_number(v.mean) +
             ", \"interval\": " +
             (v.interval.ok() ? report_json_interval(v.interval.interval) : "null") + "}";
    }
    out += "], \"comparisons\": [";
    for (std::size_t j = 0; j < m.comparisons.size(); ++j) {
      const MetricComparison& c = m.comparisons[j];
      out += (j ? ", " : "") + std::string("{\"variant\": ") + json_quote(c.variant) +
             ", \"control_mean\": " + json_number(c.control_mean) +
             ", \"treatment_mean\": " + json_number(c.treatment_mean) + ", " +
             detail::comparison_json_fields(c) +
             ", \"always_valid_p_value\": " + json_number(c.always_valid_p_value) +
             ", \"chance_to_beat_control\": " + json_number(c.chance_to_beat_control) +
             ", \"power\": " +
             (c.power_status == stats::StatStatus::kOk ? json_number(c.power) : "null") +
             ", \"more_samples_per_arm\": " +
             (c.more_samples_per_arm ? u(*c.more_samples_per_arm) : "null") + "}";
    }
    out += "]}";
  }
  const JoinCounters& j = joins;
  out += "], \"joins\": {\"pending\": " + u(j.pending) + ", \"tracked\": " + u(j.tracked) +
         ", \"labels_joined\": " + u(j.labels_joined) +
         ", \"outcomes_joined\": " + u(j.outcomes_joined) + ", \"completed\": " + u(j.completed) +
         ", \"evicted\": " + u(j.evicted) + ", \"expired\": " + u(j.expired) +
         ", \"expired_unlabeled\": " + u(j.expired_unlabeled) +
         ", \"unmatched\": " + u(j.unmatched) + ", \"duplicate_joins\": " + u(j.duplicate_joins) +
         ", \"duplicate_ids\": " + u(j.duplicate_ids) + ", \"missing_ids\": " + u(j.missing_ids) +
         ", \"unknown_variants\": " + u(j.unknown_variants) +
         ", \"invalid_values\": " + u(j.invalid_values) +
         ", \"unusable_labels\": " + u(j.unusable_labels) + "}";
  out += ", \"decision\": {\"kind\": " + json_quote(switchyard::to_string(decision.kind)) +
         ", \"variant\": " + json_quote(decision.variant) +
         ", \"more_samples_per_arm\": " + u(decision.more_samples_per_arm) +
         ", \"reason\": " + json_quote(decision.reason) + "}}";
  return out;
}

SWITCHYARD_INLINE std::string ExperimentReport::to_string() const {
  using detail::report_fixed;
  using detail::report_pad;
  using detail::report_signed_percent;
  const std::string level = report_fixed(confidence * 100.0, 0) + "%";
  std::string out = "Experiment " + name + ": " +
                    (mode == AnalysisMode::kSequential ? "sequential" : "fixed horizon") + ", " +
                    level + " confidence, control arm '" + control + "'\n\n";
  std::size_t w = 8;
  for (const auto& a : arms) w = std::max(w, a.variant.size() + 2);
  out += "  " + report_pad("variant", w) + report_pad("weight", 9, false) +
         report_pad("exposures", 12, false) + report_pad("observed", 10, false) + "\n";
  for (const auto& a : arms) {
    out += "  " + report_pad(a.variant, w) +
           report_pad(report_fixed(a.expected_share * 100.0, 1) + "%", 9, false) +
           report_pad(std::to_string(a.exposures), 12, false) +
           report_pad(report_fixed(a.observed_share * 100.0, 1) + "%", 10, false) + "\n";
  }
  out += "  sample ratio: ";
  if (srm.ok()) {
    out += "chi-square " + report_fixed(srm.statistic, 2) + ", " +
           detail::report_p_value(srm.p_value) + (srm.mismatch ? "  MISMATCH" : "  ok") + "\n";
  } else {
    out += "not checked (" + srm.reason + ")\n";
  }
  for (const auto& m : metrics) {
    out += "\n" + std::string(m.primary ? "Primary" : "Guardrail") + " " + m.name + " (" +
           std::string(switchyard::to_string(m.kind)) + ", " +
           (m.higher_is_better ? "higher" : "lower") + " is better)\n";
    out += "  " + report_pad("variant", w) + report_pad("n", 10, false) +
           report_pad("mean", 12, false) + "  " + level + " interval\n";
    constexpr int dec = 4;
    for (const auto& v : m.variants) {
      out += "  " + report_pad(v.variant, w) + report_pad(std::to_string(v.n), 10, false) +
             report_pad(report_fixed(v.mean, dec), 12, false) + "  " +
             (v.interval.ok() ? "[" + report_fixed(v.interval.interval.lower, dec) + ", " +
                                    report_fixed(v.interval.interval.upper, dec) + "]"
                              : std::string("-")) +
             "\n";
    }
    for (const auto& c : m.comparisons) {
      out += "  " + c.variant + " vs " + control + ": ";
      if (c.status != stats::StatStatus::kOk) {
        out += "not computed (" + c.reason + ")\n";
        continue;
      }
      if (c.relative_status == stats::StatStatus::kOk) {
        out += report_signed_percent(c.relative_effect) + " " +
               detail::report_interval_percent(c.relative_interval) + ", ";
      }
      out += "abs " + report_fixed(c.absolute_effect, 4) + " [" +
             report_fixed(c.absolute_interval.lower, 4) + ", " +
             report_fixed(c.absolute_interval.upper, 4) + "], " + detail::report_p_value(c.p_value);
      if (c.adjusted_p_value != c.p_value) {
        out += " (Holm " + detail::report_p_value(c.adjusted_p_value).substr(2) + ")";
      }
      out += ", P(beat control) " + report_fixed(c.chance_to_beat_control * 100.0, 1) + "%";
      if (c.power_status == stats::StatStatus::kOk) {
        out += ", power " + report_fixed(c.power * 100.0, 0) + "%";
        if (c.more_samples_per_arm.value_or(0) > 0) {
          out += ", needs +" + std::to_string(*c.more_samples_per_arm) + "/arm";
        }
      }
      out += c.improvement ? "  BETTER" : (c.regression ? "  WORSE" : "");
      out += "\n";
    }
  }
  const JoinCounters& j = joins;
  out += "\nJoins: pending " + std::to_string(j.pending) + ", labels " +
         std::to_string(j.labels_joined) + ", outcomes " + std::to_string(j.outcomes_joined) +
         ", evicted " + std::to_string(j.evicted) + ", expired " + std::to_string(j.expired) +
         " (" + std::to_string(j.expired_unlabeled) + " never labelled), unmatched " +
         std::to_string(j.unmatched) + "\n";
  out += "\nDecision: " + std::string(switchyard::to_string(decision.kind)) + ": " +
         decision.reason + "\n";
  return out;
}
}  // namespace switchyard
