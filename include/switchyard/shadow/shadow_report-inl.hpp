// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of ShadowReport: JSON and the text table.
#pragma once

#include <switchyard/shadow/shadow_report.hpp>

#include <cstdio>
#include <string>

#include <switchyard/detail/json_text.hpp>

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

}  // namespace detail::shadow

SWITCHYARD_INLINE std::string ShadowReport::to_json() const {
  using detail::json_number;
  using detail::json_quote;
  auto u = [](std::uint64_t v) { return std::to_string(v); };
  std::string j = "{\"generated_at_ns\":" + std::to_string(to_unix_nanos(generated_at)) +
                  ",\"state\":" + json_quote(to_string(state)) +
                  ",\"queue_capacity\":" + u(queue_capacity) + ",\"queue_depth\":" +
                  u(queue_depth) + ",\"byte_budget\":" + u(byte_budget) +
                  ",\"bytes_queued\":" + u(bytes_queued) + ",\"versions\":[";
  for (std::size_t i = 0; i < versions.size(); ++i) {
    const ShadowVersionReport& v = versions[i];
    if (i) j += ',';
    j += "{\"model\":" + json_quote(v.model) + ",\"version\":" + std::to_string(v.version) +
         ",\"share\":" + json_number(v.share) + ",\"sampling\":" +
         json_quote(to_string(v.sampling)) + ",\"active\":" + (v.active ? "true" : "false") +
         ",\"sampled\":" + u(v.sampled) + ",\"mirrored\":" + u(v.mirrored) +
         ",\"dropped\":{\"queue_full\":" + u(v.dropped_queue_full) +
         ",\"over_budget\":" + u(v.dropped_over_budget) + ",\"stopped\":" +
         u(v.dropped_stopped) + "},\"skipped_paused\":" + u(v.skipped_paused) +
         ",\"discarded\":" + u(v.discarded) + ",\"completed\":" + u(v.completed) +
         ",\"shadow_errors\":" + u(v.shadow_errors) + ",\"primary_errors\":" +
         u(v.primary_errors) + ",\"compared_rows\":" + u(v.compared_rows) +
         ",\"agreed_rows\":" + u(v.agreed_rows) + ",\"agreement_rate\":" +
         json_number(v.agreement_rate) + ",\"confusion\":[";
    for (std::size_t c = 0; c < v.confusion.size(); ++c) {
      if (c) j += ',';
      j += "{\"primary\":" + std::to_string(v.confusion[c].primary) +
           ",\"shadow\":" + std::to_string(v.confusion[c].shadow) +
           ",\"count\":" + u(v.confusion[c].count) + "}";
    }
    j += "],\"absolute_difference\":" + detail::shadow::difference_json(v.absolute_difference) +
         ",\"relative_difference\":" + detail::shadow::difference_json(v.relative_difference) +
         ",\"shadow_latency\":" + detail::shadow::latency_json(v.shadow_latency) +
         ",\"primary_latency\":" + detail::shadow::latency_json(v.primary_latency) +
         ",\"disagreements\":[";
    for (std::size_t d = 0; d < v.disagreements.size(); ++d) {
      const ShadowDisagreement& x = v.disagreements[d];
      if (d) j += ',';
      j += "{\"key\":" + json_quote(x.key) + ",\"request_id\":" + json_quote(x.request_id) +
           ",\"row\":" + std::to_string(x.row) + ",\"primary\":" + json_number(x.primary) +
           ",\"shadow\":" + json_number(x.shadow) + "}";
    }
    j += "]}";
  }
  return j + "]}";
}

SWITCHYARD_INLINE std::string ShadowReport::to_table() const {
  std::string t = "shadow report (" + std::string(to_string(state)) + "), queue " +
                  std::to_string(queue_depth) + "/" + std::to_string(queue_capacity) +
                  " requests, " + std::to_string(bytes_queued) + "/" +
                  std::to_string(byte_budget) + " bytes\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-24s %7s %6s %9s %9s %9s %9s %8s %9s %9s %10s %10s\n",
                "model/version", "share", "mode", "sampled", "mirrored", "dropped", "done",
                "errors", "agree", "|diff|p99", "shadow p99", "primary p99");
  t += line;
  for (const ShadowVersionReport& v : versions) {
    const std::string name = v.model + "/v" + std::to_string(v.version);
    const auto dropped = v.dropped_queue_full + v.dropped_over_budget + v.dropped_stopped;
    std::snprintf(line, sizeof line,
                  "%-24s %6.1f%% %6s %9llu %9llu %9llu %9llu %8llu %8.2f%% %9.4g %8.3fms %9.3fms\n",
                  name.c_str(), v.share * 100.0, to_string(v.sampling),
                  static_cast<unsigned long long>(v.sampled),
                  static_cast<unsigned long long>(v.mirrored),
                  static_cast<unsigned long long>(dropped),
                  static_cast<unsigned long long>(v.completed),
                  static_cast<unsigned long long>(v.shadow_errors), v.agreement_rate * 100.0,
                  v.absolute_difference.p99, v.shadow_latency.quantile(0.99) / 1e6,
                  v.primary_latency.quantile(0.99) / 1e6);
    t += line;
  }
  return t;
}

}  // namespace switchyard
