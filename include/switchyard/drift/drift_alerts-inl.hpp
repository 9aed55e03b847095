// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of drift_alerts.hpp.
#pragma once

#include <algorithm>
#include <cmath>

#include <switchyard/core/error.hpp>
#include <switchyard/detail/json_text.hpp>
#include <switchyard/drift/drift_alerts.hpp>

namespace switchyard {

SWITCHYARD_INLINE const char* to_string(AlertCondition condition) noexcept {
  switch (condition) {
    case AlertCondition::kFeatureDrift: return "feature_drift";
    case AlertCondition::kDatasetDrift: return "dataset_drift";
    case AlertCondition::kPredictionDrift: return "prediction_drift";
    case AlertCondition::kLabelDrift: return "label_drift";
    case AlertCondition::kAccuracyDrop: return "accuracy_drop";
    case AlertCondition::kAucDrop: return "auc_drop";
    case AlertCondition::kLatencyP99: return "latency_p99";
    case AlertCondition::kErrorRate: return "error_rate";
    case AlertCondition::kTrafficVolume: return "traffic_volume";
  }
  return "unknown";
}

SWITCHYARD_INLINE const char* to_string(AlertSeverity severity) noexcept {
  return severity == AlertSeverity::kCritical ? "critical" : "warning";
}

SWITCHYARD_INLINE const char* to_string(RetrainingTrigger trigger) noexcept {
  switch (trigger) {
    case RetrainingTrigger::kScheduled: return "scheduled";
    case RetrainingTrigger::kDrift: return "drift";
    case RetrainingTrigger::kPerformance: return "performance";
    case RetrainingTrigger::kNewDatasetVersion: return "new_dataset_version";
  }
  return "unknown";
}

SWITCHYARD_INLINE std::string DriftAlert::to_json() const {
  using detail::json_number;
  using detail::json_quote;
  std::string s = "{\"condition\":" + json_quote(to_string(condition));
  s += ",\"subject\":" + json_quote(subject);
  s += ",\"severity\":" + json_quote(to_string(severity));
  s += ",\"model\":" + json_quote(model);
  s += ",\"version\":" + std::to_string(version);
  s += ",\"value\":" + json_number(value);
  s += ",\"threshold\":" + json_number(threshold);
  s += ",\"evidence\":" + json_quote(evidence);
  s += ",\"window_start_ns\":" + std::to_string(to_unix_nanos(window_start));
  s += ",\"window_end_ns\":" + std::to_string(to_unix_nanos(window_end));
  s += ",\"window_rows\":" + std::to_string(window_rows);
  s += ",\"active\":" + std::string(active ? "true" : "false");
  s += ",\"raised_at_ns\":" + std::to_string(to_unix_nanos(raised_at));
  return s + "}";
}

SWITCHYARD_INLINE DriftAlerts::DriftAlerts(AlertPolicy policy) : policy_(std::move(policy)) {
  auto bad = [](const char* field, const std::string& why) {
    throw InvalidArgument(std::string("AlertPolicy field '") + field + "' " + why);
  };
  auto threshold = [&](const char* field, double v) {
    if (!(v >= 0.0) || !std::isfinite(v)) bad(field, "must be finite and >= 0");
  };
  threshold("accuracy_drop", policy_.accuracy_drop);
  threshold("auc_drop", policy_.auc_drop);
  threshold("error_rate", policy_.error_rate);
  threshold("volume_sigmas", policy_.volume_sigmas);
  if (!(policy_.clear_margin >= 0.0 && policy_.clear_margin < 1.0)) {
    bad("clear_margin", "must be in [0, 1)");
  }
  if (policy_.clear_windows == 0) bad("clear_windows", "must be at least 1");
  if (!(policy_.critical_factor >= 1.0) || !std::isfinite(policy_.critical_factor)) {
    bad("critical_factor", "must be finite and >= 1");
  }
  if (policy_.latency_sla && policy_.latency_sla->count() <= 0) {
    bad("latency_sla", "must be positive");
  }
  if (policy_.volume_min_windows < 2) bad("volume_min_windows", "must be at least 2");
  if (policy_.volume_windows < policy_.volume_min_windows) {
    bad("volume_windows", "must be at least volume_min_windows");
  }
}

SWITCHYARD_INLINE bool DriftAlerts::clear_enough(const AlertMeasurement& m) const noexcept {
  if (m.breached) return false;
  const double margin = policy_.clear_margin;
  return m.lower_is_worse ? m.value > m.threshold * (1.0 + margin)
                          : m.value < m.threshold * (1.0 - margin) ||
                                (m.threshold == 0.0 && m.value <= 0.0);
}

SWITCHYARD_INLINE AlertSeverity DriftAlerts::severity(const AlertMeasurement& m) const noexcept {
  const double f = policy_.critical_factor;
  const bool critical = m.lower_is_worse ? m.value * f <= m.threshold
                                         : m.value >= m.threshold * f && m.value > m.threshold;
  return critical ? AlertSeverity::kCritical : AlertSeverity::kWarning;
}

SWITCHYARD_INLINE DriftAlerts::Transitions DriftAlerts::update(
    const WindowInfo& window, const std::vector<AlertMeasurement>& measurements) {
  Transitions out;
  for (const AlertMeasurement& m : measurements) {
    auto key = std::make_pair(m.condition, m.subject);
    auto it = active_.find(key);
    if (it == active_.end()) {
      if (!m.breached) continue;
      State st;
      DriftAlert& a = st.alert;
      a.condition = m.condition;
      a.subject = m.subject;
      a.severity = severity(m);
      a.model = window.model;
      a.version = window.version;
      a.value = m.value;
      a.threshold = m.threshold;
      a.evidence = m.evidence;
      a.window_start = window.start;
      a.window_end = window.end;
      a.window_rows = window.rows;
      a.active = true;
      a.raised_at = window.end;
      st.order = raised_++;
      out.raised.push_back(a);
      active_.emplace(std::move(key), std::move(st));
      continue;
    }
    State& st = it->second;
    if (!clear_enough(m)) {
      st.clear_streak = 0;
      continue;
    }
    if (++st.clear_streak < policy_.clear_windows) continue;
    DriftAlert cleared = st.alert;
    cleared.active = false;
    cleared.value = m.value;
    cleared.evidence = m.evidence;
    cleared.window_start = window.start;
    cleared.window_end = window.end;
    cleared.window_rows = window.rows;
    out.cleared.push_back(std::move(cleared));
    active_.erase(it);
  }
  return out;
}

SWITCHYARD_INLINE std::vector<DriftAlert> DriftAlerts::active() const {
  std::vector<const State*> states;
  states.reserve(active_.size());
  for (const auto& [key, st] : active_) states.push_back(&st);
  std::sort(states.begin(), states.end(),
            [](const State* a, const State* b) { return a->order < b->order; });
  std::vector<DriftAlert> out;
  out.reserve(states.size());
  for (const State* st : states) out.push_back(st->alert);
  return out;
}

}  // namespace switchyard
