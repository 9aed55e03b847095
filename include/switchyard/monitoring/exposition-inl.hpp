// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of exposition.hpp.
#pragma once

#include <cmath>
#include <cstdio>
#include <string_view>
#include <vector>

#include <switchyard/core/config.hpp>
#include <switchyard/detail/json_text.hpp>
#include <switchyard/monitoring/detail/prometheus_format.hpp>
#include <switchyard/monitoring/exposition.hpp>

namespace switchyard {

namespace detail::exposition {

struct Row {
  std::string labels;  // {model="..",version="..",variant=".."} without braces
  const VariantStats* stats;
};

inline std::vector<Row> rows(std::span<const ModelStats> models) {
  std::vector<Row> out;
  for (const ModelStats& m : models) {
    for (const VariantStats& vs : m.versions) {
      out.push_back(Row{"model=\"" + label_value(m.model) + "\",version=\"" +
                            std::to_string(vs.version) + "\",variant=\"" +
                            label_value(vs.variant) + "\"",
                        &vs});
    }
  }
  return out;
}

inline std::string class_name(const VariantStats& v, std::size_t i) {
  if (i == VersionStatsSnapshot::kMaxClasses) return "other";
  return i < v.class_names.size() ? v.class_names[i] : std::to_string(i);
}

}  // namespace detail::exposition

SWITCHYARD_INLINE std::string prometheus_text(std::span<const ModelStats> models) {
  using namespace detail::exposition;
  using detail::json_number;
  const auto all = rows(models);
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help) {
    append_family(out, name, type, help);
  };
  auto counter = [&](const char* name, const char* help, auto get) {
    family(name, "counter", help);
    for (const auto& r : all) {
      out += std::string(name) + "{" + r.labels + "} " + number(double(get(r.stats->stats))) + "\n";
    }
  };
  counter("switchyard_requests_total", "Requests routed to a model version.",
          [](const VersionStatsSnapshot& s) { return s.requests; });
  counter("switchyard_request_errors_total",
          "Requests on which the version's model threw or the input failed its signature.",
          [](const VersionStatsSnapshot& s) { return s.errors; });
  counter("switchyard_fallbacks_total",
          "Requests a version answered because the routed version failed.",
          [](const VersionStatsSnapshot& s) { return s.fallbacks; });

  family("switchyard_outcomes_total", "counter",
         "Ground-truth outcomes reported for a version's predictions.");
  for (const auto& r : all) {
    const auto& s = r.stats->stats;
    out += "switchyard_outcomes_total{" + r.labels + ",correct=\"true\"} " +
           number(double(s.correct)) + "\n";
    out += "switchyard_outcomes_total{" + r.labels + ",correct=\"false\"} " +
           number(double(s.labeled - s.correct)) + "\n";
  }
  family("switchyard_predictions_total", "counter", "Predictions by predicted class.");
  for (const auto& r : all) {
    const auto& s = r.stats->stats;
    for (std::size_t i = 0; i < s.class_counts.size(); ++i) {
      if (s.class_counts[i] == 0) continue;
      out += "switchyard_predictions_total{" + r.labels + ",class=\"" +
             label_value(class_name(*r.stats, i)) + "\"} " + number(double(s.class_counts[i])) + "\n";
    }
  }
  family("switchyard_prediction_latency_seconds", "histogram",
         "Latency of successful model calls.");
  const auto bounds = latency_bounds();
  for (const auto& r : all) {
    append_latency_histogram(out, "switchyard_prediction_latency_seconds", r.labels,
                             r.stats->stats.latency, bounds);
  }
  family("switchyard_prediction_confidence", "summary",
         "Confidence of predictions (sum and count; mean = sum / count).");
  for (const auto& r : all) {
    const auto& s = r.stats->stats;
    out += "switchyard_prediction_confidence_sum{" + r.labels + "} " +
           number(s.confidence_sum) + "\n";
    out += "switchyard_prediction_confidence_count{" + r.labels + "} " +
           number(double(s.confidence_count)) + "\n";
  }
  family("switchyard_traffic_share", "gauge",
         "Fraction of the weighted split the version currently receives.");
  for (const auto& r : all) {
    out += "switchyard_traffic_share{" + r.labels + "} " + number(r.stats->share) + "\n";
  }
  return out;
}

SWITCHYARD_INLINE std::string metrics_json(std::span<const ModelStats> models) {
  using namespace detail::exposition;
  using detail::json_number;
  std::string out = "{\"deployments\": [";
  bool first_d = true;
  for (const ModelStats& m : models) {
    out += first_d ? "" : ", ";
    first_d = false;
    out += "{\"model\": " + detail::json_quote(m.model) + ", \"versions\": [";
    bool first_v = true;
    for (const VariantStats& v : m.versions) {
      const auto& s = v.stats;
      const auto& h = s.latency;
      out += first_v ? "" : ", ";
      first_v = false;
      out += "{\"version\": " + std::to_string(v.version) +
             ", \"variant\": " + detail::json_quote(v.variant) +
             ", \"share\": " + json_number(v.share) +
             ", \"requests\": " + std::to_string(s.requests) +
             ", \"errors\": " + std::to_string(s.errors) +
             ", \"fallbacks\": " + std::to_string(s.fallbacks) +
             ", \"latency_ns\": {\"count\": " + std::to_string(h.count()) +
             ", \"mean\": " + json_number(h.mean()) + ", \"p50\": " + json_number(h.quantile(0.5)) +
             ", \"p90\": " + json_number(h.quantile(0.9)) +
             ", \"p99\": " + json_number(h.quantile(0.99)) +
             ", \"p999\": " + json_number(h.quantile(0.999)) +
             ", \"max\": " + std::to_string(h.max()) + "}" +
             ", \"mean_confidence\": " +
             (s.confidence_count ? json_number(s.mean_confidence()) : "null") +
             ", \"classes\": {";
      bool first_c = true;
      for (std::size_t i = 0; i < s.class_counts.size(); ++i) {
        if (s.class_counts[i] == 0) continue;
        out += (first_c ? "" : ", ") + detail::json_quote(class_name(v, i)) + ": " +
               std::to_string(s.class_counts[i]);
        first_c = false;
      }
      out += "}, \"labeled\": " + std::to_string(s.labeled) +
             ", \"accuracy\": " + (s.labeled ? json_number(s.accuracy()) : "null") + "}";
    }
    out += "]}";
  }
  return out + "]}";
}

}  // namespace switchyard
