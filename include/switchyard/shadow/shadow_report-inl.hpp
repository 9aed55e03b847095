// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of ShadowReport: JSON, the text table and the Prometheus exposition.
#pragma once

#include <switchyard/shadow/shadow_report.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/detail/json_text.hpp>
#include <switchyard/monitoring/detail/prometheus_format.hpp>

namespace switchyard {

namespace detail::shadow {

inline std::string latency_json(const LatencyHistogram& h) {
  return "{\"count\":" + std::to_string(h.count()) + ",\"mean_ns\":" + json_number(h.mean()) +
         ",\"p50_ns\":" + json_number(h.quantile(0.5)) + ",\"p99_ns\":" +
         json_number(h.quantile(0.99)) + ",\"max_ns\":" + std::to_string(h.max()) + "}";
}

inline std::string difference_json(const DifferenceSummary& d) {
  return "{\"count\":" + std::to_string(d.count) + ",\"mean\":" + json_number(d.mean) +
         ",\"max\":" + json_number(d.max) + ",\"p50\":" + json_number(d.p50) +
         ",\"p90\":" + json_number(d.p90) + ",\"p99\":" + json_number(d.p99) + "}";
}

/// The fields of a test result without the closing brace, so McNemar can add its own.
inline std::string test_json_fields(const stats::TestResult& t) {
  return "{\"status\":" + json_quote(stats::to_string(t.status)) +
         ",\"reason\":" + json_quote(t.reason) + ",\"statistic\":" + json_number(t.statistic) +
         ",\"p_value\":" + json_number(t.p_value) + ",\"p_value_less\":" +
         json_number(t.p_value_less) + ",\"p_value_greater\":" + json_number(t.p_value_greater) +
         ",\"effect\":" + json_number(t.effect);
}

inline std::string distribution_json(const PredictionDistribution& d) {
  std::string j = "{\"labels\":[";
  for (std::size_t i = 0; i < d.labels.size(); ++i) {
    if (i) j += ',';
    j += "{\"label\":" + std::to_string(d.labels[i].label) +
         ",\"primary\":" + std::to_string(d.labels[i].primary) +
         ",\"shadow\":" + std::to_string(d.labels[i].shadow) + "}";
  }
  const stats::DriftResult& r = d.divergence;
  return j + "],\"divergence\":{\"method\":" + json_quote(stats::to_string(r.method)) +
         ",\"status\":" + json_quote(stats::to_string(r.status)) +
         ",\"reason\":" + json_quote(r.reason) + ",\"value\":" + json_number(r.value) +
         ",\"threshold\":" + json_number(r.threshold) + ",\"drift\":" +
         (r.drift ? "true" : "false") +
         ",\"unexpected_categories\":" + std::to_string(r.unexpected_categories) + "}}";
}

inline std::string labeled_json(const LabeledComparison& l) {
  return "{\"labels_joined\":" + std::to_string(l.labels_joined) +
         ",\"rows\":" + std::to_string(l.rows) +
         ",\"primary_correct\":" + std::to_string(l.primary_correct) +
         ",\"shadow_correct\":" + std::to_string(l.shadow_correct) +
         ",\"primary_accuracy\":" + json_number(l.primary_accuracy) +
         ",\"shadow_accuracy\":" + json_number(l.shadow_accuracy) +
         ",\"mcnemar\":" + test_json_fields(l.mcnemar) +
         ",\"discordant\":" + std::to_string(l.mcnemar.discordant) + "}" +
         ",\"primary_mae\":" + json_number(l.primary_mae) +
         ",\"shadow_mae\":" + json_number(l.shadow_mae) +
         ",\"paired_t\":" + test_json_fields(l.paired_t) + "}" +
         ",\"wilcoxon\":" + test_json_fields(l.wilcoxon) + "}}";
}

/// One version as a JSON object. Without `disagreements` the list is left empty (and
/// "disagreements_omitted" says so): evidence for the audit trail must stay small.
inline std::string version_json(const ShadowVersionReport& v, bool with_disagreements = true) {
  auto u = [](std::uint64_t n) { return std::to_string(n); };
  std::string j =
      "{\"model\":" + json_quote(v.model) + ",\"version\":" + std::to_string(v.version) +
      ",\"share\":" + json_number(v.share) + ",\"sampling\":" + json_quote(to_string(v.sampling)) +
      ",\"active\":" + (v.active ? "true" : "false") + ",\"sampled\":" + u(v.sampled) +
      ",\"mirrored\":" + u(v.mirrored) + ",\"dropped\":{\"queue_full\":" +
      u(v.dropped_queue_full) + ",\"over_budget\":" + u(v.dropped_over_budget) +
      ",\"stopped\":" + u(v.dropped_stopped) + "},\"skipped_paused\":" + u(v.skipped_paused) +
      ",\"discarded\":" + u(v.discarded) + ",\"completed\":" + u(v.completed) +
      ",\"shadow_errors\":" + u(v.shadow_errors) + ",\"primary_errors\":" + u(v.primary_errors) +
      ",\"shadow_error_rate\":" + json_number(v.shadow_error_rate) +
      ",\"primary_error_rate\":" + json_number(v.primary_error_rate) +
      ",\"compared_rows\":" + u(v.compared_rows) + ",\"agreed_rows\":" + u(v.agreed_rows) +
      ",\"agreement_rate\":" + json_number(v.agreement_rate) + ",\"confusion\":[";
  for (std::size_t c = 0; c < v.confusion.size(); ++c) {
    if (c) j += ',';
    j += "{\"primary\":" + std::to_string(v.confusion[c].primary) +
         ",\"shadow\":" + std::to_string(v.confusion[c].shadow) +
         ",\"count\":" + u(v.confusion[c].count) + "}";
  }
  j += "],\"absolute_difference\":" + difference_json(v.absolute_difference) +
       ",\"relative_difference\":" + difference_json(v.relative_difference) +
       ",\"shadow_latency\":" + latency_json(v.shadow_latency) +
       ",\"primary_latency\":" + latency_json(v.primary_latency) +
       ",\"distribution\":" + distribution_json(v.distribution) +
       ",\"labeled\":" + labeled_json(v.labeled) + ",\"disagreements\":[";
  if (with_disagreements) {
    for (std::size_t d = 0; d < v.disagreements.size(); ++d) {
      const ShadowDisagreement& x = v.disagreements[d];
      if (d) j += ',';
      j += "{\"key\":" + json_quote(x.key) + ",\"request_id\":" + json_quote(x.request_id) +
           ",\"row\":" + std::to_string(x.row) + ",\"primary\":" + json_number(x.primary) +
           ",\"shadow\":" + json_number(x.shadow) + "}";
    }
    return j + "]}";
  }
  return j + "],\"disagreements_omitted\":" + u(v.disagreements.size()) + "}";
}

/// The predictor-wide fields of a report as JSON members (no braces), shared by to_json and the
/// promotion evidence.
inline std::string report_header_json(const ShadowReport& r) {
  auto u = [](std::uint64_t n) { return std::to_string(n); };
  return "\"generated_at_ns\":" + std::to_string(to_unix_nanos(r.generated_at)) +
         ",\"state\":" + json_quote(to_string(r.state)) +
         ",\"queue_capacity\":" + u(r.queue_capacity) + ",\"queue_depth\":" + u(r.queue_depth) +
         ",\"byte_budget\":" + u(r.byte_budget) + ",\"bytes_queued\":" + u(r.bytes_queued) +
         ",\"labels_received\":" + u(r.labels_received) +
         ",\"labels_unmatched\":" + u(r.labels_unmatched);
}

/// A test in one table cell: "stat p=.. e=.." when it could be computed, else its status.
inline std::string test_cell(const stats::TestResult& t) {
  if (!t.ok()) return std::string(stats::to_string(t.status));
  char cell[64];
  std::snprintf(cell, sizeof cell, "%.4g p=%.3g e=%+.3g", t.statistic, t.p_value, t.effect);
  return cell;
}

/// "label:primary/shadow ..." for at most 6 labels, then "+n".
inline std::string label_counts_cell(const std::vector<LabelCount>& labels) {
  std::string cell;
  constexpr std::size_t kShown = 6;
  for (std::size_t i = 0; i < labels.size() && i < kShown; ++i) {
    if (i) cell += ' ';
    cell += std::to_string(labels[i].label) + ":" + std::to_string(labels[i].primary) + "/" +
            std::to_string(labels[i].shadow);
  }
  if (labels.size() > kShown) cell += " +" + std::to_string(labels.size() - kShown);
  return cell.empty() ? "-" : cell;
}

/// Whether the version's answers are labels (classifier) rather than values (regressor).
inline bool answers_are_labels(const ShadowVersionReport& v) {
  return !v.distribution.labels.empty() || !v.confusion.empty();
}

}  // namespace detail::shadow

SWITCHYARD_INLINE const char* to_string(ShadowSampling sampling) noexcept {
  return sampling == ShadowSampling::kRandom ? "random" : "sticky";
}

SWITCHYARD_INLINE const char* to_string(ShadowState state) noexcept {
  switch (state) {
    case ShadowState::kIdle: return "idle";
    case ShadowState::kRunning: return "running";
    case ShadowState::kPaused: return "paused";
    case ShadowState::kStopped: return "stopped";
  }
  return "unknown";
}

SWITCHYARD_INLINE std::string ShadowReport::to_json() const {
  std::string j = "{" + detail::shadow::report_header_json(*this) + ",\"versions\":[";
  for (std::size_t i = 0; i < versions.size(); ++i) {
    if (i) j += ',';
    j += detail::shadow::version_json(versions[i]);
  }
  return j + "]}";
}

SWITCHYARD_INLINE std::string ShadowReport::to_table() const {
  using detail::shadow::test_cell;
  using ull = unsigned long long;
  std::string t = "shadow report (" + std::string(to_string(state)) + "), queue " +
                  std::to_string(queue_depth) + "/" + std::to_string(queue_capacity) +
                  " requests, " + std::to_string(bytes_queued) + "/" +
                  std::to_string(byte_budget) + " bytes, labels " +
                  std::to_string(labels_received) + " received, " +
                  std::to_string(labels_unmatched) + " unmatched\n";
  char line[640];
  // Appends `line` without the padding its last column leaves before the newline.
  auto add = [&t, &line] {
    std::string_view row(line);
    if (!row.empty() && row.back() == '\n') row.remove_suffix(1);
    while (!row.empty() && row.back() == ' ') row.remove_suffix(1);
    t.append(row).append("\n");
  };
  std::snprintf(line, sizeof line, "%-24s %7s %6s %9s %9s %9s %9s %8s %9s %9s %10s %10s\n",
                "model/version", "share", "mode", "sampled", "mirrored", "dropped", "done",
                "errors", "agree", "|diff|p99", "shadow p99", "primary p99");
  add();
  for (const ShadowVersionReport& v : versions) {
    const std::string name = v.model + "/v" + std::to_string(v.version);
    const auto dropped = v.dropped_queue_full + v.dropped_over_budget + v.dropped_stopped;
    std::snprintf(line, sizeof line,
                  "%-24s %6.1f%% %6s %9llu %9llu %9llu %9llu %8llu %8.2f%% %9.4g %8.3fms %9.3fms\n",
                  name.c_str(), v.share * 100.0, to_string(v.sampling), ull(v.sampled),
                  ull(v.mirrored), ull(dropped), ull(v.completed), ull(v.shadow_errors),
                  v.agreement_rate * 100.0, v.absolute_difference.p99,
                  v.shadow_latency.quantile(0.99) / 1e6, v.primary_latency.quantile(0.99) / 1e6);
    add();
  }

  t += "\npredictions\n";
  std::snprintf(line, sizeof line, "%-24s %10s %11s %-14s %9s %-16s %s\n", "model/version",
                "shadow err", "primary err", "divergence", "value", "status",
                "label counts (label:primary/shadow)");
  add();
  for (const ShadowVersionReport& v : versions) {
    const std::string name = v.model + "/v" + std::to_string(v.version);
    const stats::DriftResult& d = v.distribution.divergence;
    std::snprintf(line, sizeof line, "%-24s %9.3f%% %10.3f%% %-14s %9.4g %-16s %s\n",
                  name.c_str(), v.shadow_error_rate * 100.0, v.primary_error_rate * 100.0,
                  std::string(stats::to_string(d.method)).c_str(), d.value,
                  std::string(stats::to_string(d.status)).c_str(),
                  detail::shadow::label_counts_cell(v.distribution.labels).c_str());
    add();
  }

  t += "\nlabels (tests: statistic p=two-sided e=effect; mcnemar e>0 and paired e<0 favour the "
       "shadow)\n";
  std::snprintf(line, sizeof line,
                "%-24s %8s %8s %8s %8s %10s %10s %-24s %-24s %-24s\n", "model/version", "joined",
                "rows", "acc pri", "acc sha", "mae pri", "mae sha", "mcnemar", "paired_t",
                "wilcoxon");
  add();
  for (const ShadowVersionReport& v : versions) {
    const std::string name = v.model + "/v" + std::to_string(v.version);
    const LabeledComparison& l = v.labeled;
    std::snprintf(line, sizeof line,
                  "%-24s %8llu %8llu %7.2f%% %7.2f%% %10.4g %10.4g %-24s %-24s %-24s\n",
                  name.c_str(), ull(l.labels_joined), ull(l.rows), l.primary_accuracy * 100.0,
                  l.shadow_accuracy * 100.0, l.primary_mae, l.shadow_mae,
                  test_cell(l.mcnemar).c_str(), test_cell(l.paired_t).c_str(),
                  test_cell(l.wilcoxon).c_str());
    add();
  }
  return t;
}

SWITCHYARD_INLINE std::string ShadowReport::to_prometheus() const {
  using namespace detail::exposition;
  std::string out;
  std::vector<std::string> labels;  // model="..",version=".." per version
  labels.reserve(versions.size());
  for (const ShadowVersionReport& v : versions) {
    labels.push_back("model=\"" + label_value(v.model) + "\",version=\"" +
                     std::to_string(v.version) + "\"");
  }
  auto with = [](const std::string& base, std::string_view name, std::string_view value) {
    return base + "," + std::string(name) + "=\"" + label_value(value) + "\"";
  };
  auto gauge = [&](const char* name, const char* help, double value) {
    append_family(out, name, "gauge", help);
    append_sample(out, name, "", value);
  };
  // One family with one sample per version; `get` returns the sample.
  auto per_version = [&](const char* name, const char* type, const char* help, auto get) {
    append_family(out, name, type, help);
    for (std::size_t i = 0; i < versions.size(); ++i) {
      append_sample(out, name, labels[i], static_cast<double>(get(versions[i])));
    }
  };

  append_family(out, "switchyard_shadow_state", "gauge",
                "1 for the state the shadow predictor is in, 0 for the others.");
  for (ShadowState s : {ShadowState::kIdle, ShadowState::kRunning, ShadowState::kPaused,
                        ShadowState::kStopped}) {
    append_sample(out, "switchyard_shadow_state",
                  std::string("state=\"") + to_string(s) + "\"", s == state ? 1.0 : 0.0);
  }
  gauge("switchyard_shadow_queue_depth", "Requests queued for the shadow workers.",
        double(queue_depth));
  gauge("switchyard_shadow_queue_capacity", "Requests the shadow queue holds at most.",
        double(queue_capacity));
  gauge("switchyard_shadow_bytes_queued", "Bytes of copied requests queued for the shadows.",
        double(bytes_queued));
  gauge("switchyard_shadow_byte_budget", "Bytes of copied requests the shadow queue holds at most.",
        double(byte_budget));
  append_family(out, "switchyard_shadow_labels_received_total", "counter",
                "Labels recorded for mirrored requests.");
  append_sample(out, "switchyard_shadow_labels_received_total", "", double(labels_received));
  append_family(out, "switchyard_shadow_labels_unmatched_total", "counter",
                "Labels for a request id no shadow version had answered (or that aged out).");
  append_sample(out, "switchyard_shadow_labels_unmatched_total", "", double(labels_unmatched));

  per_version("switchyard_shadow_share", "gauge", "Fraction of requests mirrored to the version.",
              [](const ShadowVersionReport& v) { return v.share; });
  per_version("switchyard_shadow_active", "gauge",
              "1 while the version is sampled, 0 once its duration has passed.",
              [](const ShadowVersionReport& v) { return v.active ? 1 : 0; });
  per_version("switchyard_shadow_sampled_total", "counter", "Requests chosen for the version.",
              [](const ShadowVersionReport& v) { return v.sampled; });
  per_version("switchyard_shadow_mirrored_total", "counter",
              "Sampled requests queued for the version.",
              [](const ShadowVersionReport& v) { return v.mirrored; });
  append_family(out, "switchyard_shadow_dropped_total", "counter",
                "Sampled requests not queued, by reason.");
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const ShadowVersionReport& v = versions[i];
    append_sample(out, "switchyard_shadow_dropped_total", with(labels[i], "reason", "queue_full"),
                  double(v.dropped_queue_full));
    append_sample(out, "switchyard_shadow_dropped_total", with(labels[i], "reason", "over_budget"),
                  double(v.dropped_over_budget));
    append_sample(out, "switchyard_shadow_dropped_total", with(labels[i], "reason", "stopped"),
                  double(v.dropped_stopped));
  }
  per_version("switchyard_shadow_skipped_paused_total", "counter",
              "Requests seen while the predictor was paused (not sampled).",
              [](const ShadowVersionReport& v) { return v.skipped_paused; });
  per_version("switchyard_shadow_discarded_total", "counter",
              "Queued requests thrown away by stop() or the version's removal.",
              [](const ShadowVersionReport& v) { return v.discarded; });
  per_version("switchyard_shadow_completed_total", "counter", "Shadow calls that returned.",
              [](const ShadowVersionReport& v) { return v.completed; });
  append_family(out, "switchyard_shadow_errors_total", "counter",
                "Mirrored requests that failed, by side: the shadow threw, or the primary failed.");
  for (std::size_t i = 0; i < versions.size(); ++i) {
    append_sample(out, "switchyard_shadow_errors_total", with(labels[i], "side", "shadow"),
                  double(versions[i].shadow_errors));
    append_sample(out, "switchyard_shadow_errors_total", with(labels[i], "side", "primary"),
                  double(versions[i].primary_errors));
  }
  per_version("switchyard_shadow_compared_rows_total", "counter",
              "Rows with both the primary's and the shadow's answer.",
              [](const ShadowVersionReport& v) { return v.compared_rows; });
  per_version("switchyard_shadow_agreed_rows_total", "counter",
              "Compared rows where the answers agree (same label, or within the tolerance).",
              [](const ShadowVersionReport& v) { return v.agreed_rows; });
  per_version("switchyard_shadow_agreement_ratio", "gauge",
              "agreed_rows / compared_rows; 0 before any comparison.",
              [](const ShadowVersionReport& v) { return v.agreement_rate; });

  append_family(out, "switchyard_shadow_latency_seconds", "histogram",
                "Latency of the shadow's calls and of the primary's on the same requests.");
  const auto bounds = latency_bounds();
  for (std::size_t i = 0; i < versions.size(); ++i) {
    append_latency_histogram(out, "switchyard_shadow_latency_seconds",
                             with(labels[i], "side", "shadow"), versions[i].shadow_latency, bounds);
    append_latency_histogram(out, "switchyard_shadow_latency_seconds",
                             with(labels[i], "side", "primary"), versions[i].primary_latency,
                             bounds);
  }

  append_family(out, "switchyard_shadow_prediction_divergence", "gauge",
                "Drift statistic of the shadow's answers against the primary's (reference); "
                "absent until both sides answered.");
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const stats::DriftResult& d = versions[i].distribution.divergence;
    if (!d.ok()) continue;
    append_sample(out, "switchyard_shadow_prediction_divergence",
                  with(labels[i], "method", stats::to_string(d.method)), d.value);
  }
  per_version("switchyard_shadow_labels_joined_total", "counter",
              "Labels joined to a request the version answered.",
              [](const ShadowVersionReport& v) { return v.labeled.labels_joined; });
  append_family(out, "switchyard_shadow_labeled_accuracy", "gauge",
                "Accuracy on labeled requests, by side (classifiers; absent before labels).");
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const ShadowVersionReport& v = versions[i];
    if (v.labeled.rows == 0 || !detail::shadow::answers_are_labels(v)) continue;
    append_sample(out, "switchyard_shadow_labeled_accuracy", with(labels[i], "side", "shadow"),
                  v.labeled.shadow_accuracy);
    append_sample(out, "switchyard_shadow_labeled_accuracy", with(labels[i], "side", "primary"),
                  v.labeled.primary_accuracy);
  }
  append_family(out, "switchyard_shadow_labeled_mean_absolute_error", "gauge",
                "Mean absolute error on labeled requests, by side (regressors; absent before "
                "labels).");
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const ShadowVersionReport& v = versions[i];
    if (v.labeled.rows == 0 || detail::shadow::answers_are_labels(v)) continue;
    append_sample(out, "switchyard_shadow_labeled_mean_absolute_error",
                  with(labels[i], "side", "shadow"), v.labeled.shadow_mae);
    append_sample(out, "switchyard_shadow_labeled_mean_absolute_error",
                  with(labels[i], "side", "primary"), v.labeled.primary_mae);
  }
  return out;
}

}  // namespace switchyard
