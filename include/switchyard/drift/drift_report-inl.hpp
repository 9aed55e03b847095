// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of drift_report.hpp: JSON, the table and the Prometheus exposition.
#pragma once

#include <switchyard/drift/drift_report.hpp>

#include <cstdio>
#include <string>

#include <switchyard/detail/json_text.hpp>
#include <switchyard/monitoring/detail/prometheus_format.hpp>

namespace switchyard {

SWITCHYARD_INLINE const char* to_string(DriftTest test) noexcept {
  switch (test) {
    case DriftTest::kAuto: return "auto";
    case DriftTest::kPsi: return "psi";
    case DriftTest::kKlDivergence: return "kl_div";
    case DriftTest::kJensenShannon: return "jensenshannon";
    case DriftTest::kWassersteinNormed: return "wasserstein";
    case DriftTest::kKolmogorovSmirnov: return "ks";
    case DriftTest::kChiSquare: return "chisquare";
    case DriftTest::kZTest: return "z";
  }
  return "unknown";
}

SWITCHYARD_INLINE const char* to_string(DriftProcedure p) noexcept {
  switch (p) {
    case DriftProcedure::kBinned: return "binned";
    case DriftProcedure::kExact: return "exact";
    case DriftProcedure::kSampled: return "sampled";
  }
  return "unknown";
}

SWITCHYARD_INLINE const FeatureDrift* DriftReport::find(std::string_view name) const noexcept {
  for (const auto& f : features) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

namespace detail::drift_report {

inline std::string feature_json(const FeatureDrift& f) {
  using detail::json_number;
  using detail::json_quote;
  std::string j = "{\"name\":" + json_quote(f.name) + ",\"kind\":" + json_quote(to_string(f.kind)) +
                  ",\"test\":" + json_quote(to_string(f.test)) +
                  ",\"status\":" + json_quote(stats::to_string(f.status)) +
                  ",\"reason\":" + json_quote(f.reason) + ",\"score\":" + json_number(f.score) +
                  ",\"raw_score\":" + json_number(f.raw_score) +
                  ",\"threshold\":" + json_number(f.threshold) +
                  ",\"drift\":" + (f.drift ? "true" : "false") +
                  ",\"unseen\":" + std::to_string(f.unseen) +
                  ",\"reference_count\":" + std::to_string(f.reference_count) +
                  ",\"current_count\":" + std::to_string(f.current_count) +
                  ",\"reference_missing\":" + std::to_string(f.reference_missing) +
                  ",\"current_missing\":" + std::to_string(f.current_missing) + ",\"statistics\":[";
  for (std::size_t i = 0; i < f.statistics.size(); ++i) {
    const DriftStatistic& s = f.statistics[i];
    if (i) j += ',';
    j += "{\"test\":" + json_quote(to_string(s.test)) +
         ",\"status\":" + json_quote(stats::to_string(s.status)) +
         ",\"procedure\":" + json_quote(to_string(s.procedure)) +
         ",\"value\":" + json_number(s.value) + ",\"statistic\":" + json_number(s.statistic);
    if (!s.reason.empty()) j += ",\"reason\":" + json_quote(s.reason);
    j += '}';
  }
  return j + "]}";
}

inline double psi_of(const FeatureDrift& f) {
  const DriftStatistic* s = f.find(DriftTest::kPsi);
  return s && s->ok() ? s->value : 0.0;
}

}  // namespace detail::drift_report

SWITCHYARD_INLINE std::string DriftReport::to_json() const {
  using detail::json_number;
  using detail::json_quote;
  std::string j = "{\"model\":" + json_quote(model) + ",\"version\":" + std::to_string(version) +
                  ",\"window_start_ns\":" + std::to_string(to_unix_nanos(window_start)) +
                  ",\"window_end_ns\":" + std::to_string(to_unix_nanos(window_end)) +
                  ",\"rows\":" + std::to_string(rows) +
                  ",\"features_drifted\":" + std::to_string(features_drifted) +
                  ",\"features_unknown\":" + std::to_string(features_unknown) +
                  ",\"drift_share\":" + json_number(drift_share) +
                  ",\"drift_share_threshold\":" + json_number(drift_share_threshold) +
                  ",\"dataset_drift\":" + (dataset_drift ? "true" : "false") +
                  ",\"correction\":" + json_quote(correction) + ",\"features\":[";
  for (std::size_t i = 0; i < features.size(); ++i) {
    if (i) j += ',';
    j += detail::drift_report::feature_json(features[i]);
  }
  j += "],\"prediction\":";
  j += has_prediction ? detail::drift_report::feature_json(prediction) : std::string("null");
  return j + "}";
}

SWITCHYARD_INLINE std::string DriftReport::to_table() const {
  using ull = unsigned long long;
  std::string t = "drift report";
  if (!model.empty()) t += " " + model + "/v" + std::to_string(version);
  t += ", " + std::to_string(rows) + " rows\n";
  char line[512];
  auto add = [&t, &line] {
    std::string_view row(line);
    while (!row.empty() && (row.back() == ' ' || row.back() == '\n')) row.remove_suffix(1);
    t.append(row).append("\n");
  };
  std::snprintf(line, sizeof line, "%-24s %-11s %-13s %11s %9s %-7s %10s %8s %7s %s\n", "feature",
                "kind", "test", "score", "threshold", "drift", "psi", "missing", "unseen",
                "status");
  add();
  auto row = [&](const FeatureDrift& f) {
    std::snprintf(line, sizeof line, "%-24s %-11s %-13s %11.4g %9.4g %-7s %10.4g %7.2f%% %7llu %s\n",
                  f.name.c_str(), to_string(f.kind), to_string(f.test), f.score, f.threshold,
                  f.status != stats::StatStatus::kOk && !f.drift ? "unknown"
                  : f.drift                                      ? "DRIFT"
                                                                 : "no",
                  detail::drift_report::psi_of(f), f.current_missing_share() * 100.0,
                  ull(f.unseen),
                  f.status == stats::StatStatus::kOk
                      ? "ok"
                      : (std::string(stats::to_string(f.status)) + ": " + f.reason).c_str());
    add();
  };
  for (const auto& f : features) row(f);
  if (has_prediction) {
    t += "prediction\n";
    row(prediction);
  }
  std::snprintf(line, sizeof line,
                "dataset: %zu of %zu features drifted (%zu unknown), share %.3f, threshold %.3f, "
                "correction %s: %s\n",
                features_drifted, features.size(), features_unknown, drift_share,
                drift_share_threshold, correction.c_str(),
                dataset_drift ? "DATASET DRIFT" : "no dataset drift");
  add();
  return t;
}

SWITCHYARD_INLINE std::string DriftReport::to_prometheus() const {
  using namespace detail::exposition;
  std::string out;
  const std::string base =
      "model=\"" + label_value(model) + "\",version=\"" + std::to_string(version) + "\"";
  auto feature_labels = [&](const FeatureDrift& f) {
    return base + ",feature=\"" + label_value(f.name) + "\",test=\"" + to_string(f.test) + "\"";
  };
  std::vector<const FeatureDrift*> all;
  for (const auto& f : features) all.push_back(&f);
  if (has_prediction) all.push_back(&prediction);
  auto family = [&](const char* name, const char* help, auto value) {
    append_family(out, name, "gauge", help);
    for (const FeatureDrift* f : all) append_sample(out, name, feature_labels(*f), value(*f));
  };
  family("switchyard_drift_feature_score",
         "Score of the deciding drift test per feature (distance, or p-value after correction).",
         [](const FeatureDrift& f) { return f.score; });
  family("switchyard_drift_feature_threshold", "Threshold of the deciding drift test per feature.",
         [](const FeatureDrift& f) { return f.threshold; });
  family("switchyard_drift_feature_psi", "Population stability index per feature.",
         [](const FeatureDrift& f) { return detail::drift_report::psi_of(f); });
  family("switchyard_drift_feature_drifted",
         "1 when the feature drifted, 0 when not, -1 when it could not be judged.",
         [](const FeatureDrift& f) {
           return f.drift ? 1.0 : (f.status == stats::StatStatus::kOk ? 0.0 : -1.0);
         });
  family("switchyard_drift_feature_missing_share", "Share of missing values in the window.",
         [](const FeatureDrift& f) { return f.current_missing_share(); });
  family("switchyard_drift_feature_unseen_values",
         "Values in the window the reference never had.",
         [](const FeatureDrift& f) { return static_cast<double>(f.unseen); });
  append_family(out, "switchyard_drift_dataset_share", "gauge",
                "Share of judged features that drifted.");
  append_sample(out, "switchyard_drift_dataset_share", base, drift_share);
  append_family(out, "switchyard_drift_dataset_drifted", "gauge",
                "1 when the share of drifted features reached its threshold.");
  append_sample(out, "switchyard_drift_dataset_drifted", base, dataset_drift ? 1.0 : 0.0);
  append_family(out, "switchyard_drift_window_rows", "gauge", "Rows in the evaluated window.");
  append_sample(out, "switchyard_drift_window_rows", base, static_cast<double>(rows));
  return out;
}

}  // namespace switchyard
