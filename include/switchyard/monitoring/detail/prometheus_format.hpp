// SPDX-License-Identifier: Apache-2.0
// Prometheus text format 0.0.4 pieces every exposition shares: label escaping, numbers, families,
// latency histograms.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/detail/json_text.hpp>
#include <switchyard/monitoring/latency_histogram.hpp>

namespace switchyard::detail::exposition {

/// A label value with backslash, double quote and newline escaped, as the text format requires.
inline std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

/// A sample value: Prometheus spells the non-finite values; finite ones share JSON's shortest
/// round-trip form.
inline std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return json_number(v);
}

/// The # HELP and # TYPE lines of one metric family; write them once, before its samples.
inline void append_family(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name);
  out.append(" ").append(type).append("\n");
}

/// One sample line: name{labels} value (labels without braces; none when empty).
inline void append_sample(std::string& out, std::string_view name, std::string_view labels,
                          double value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(number(value)).append("\n");
}

/// Latency bucket bounds in seconds: 1, 2.5, 5 per decade from 1 us to 10 s. Written out, not
/// multiplied, so each `le` prints as written ("2.5e-06", not "2.4999999999999998e-06").
inline std::vector<double> latency_bounds() {
  return {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
          5e-3, 1e-2, 2.5e-2, 5e-2, 0.1,  0.25,   0.5,  1.0,  2.5,  5.0,    10.0};
}

/// The _bucket, _sum and _count samples of a nanosecond LatencyHistogram as a histogram in
/// seconds (family `name`, its # HELP/# TYPE written by the caller). A bucket counts the whole
/// internal buckets at or below its `le`, so a count is exact to within one internal bucket (1/64
/// of the value). `labels` without braces, not empty.
inline void append_latency_histogram(std::string& out, std::string_view name,
                                     std::string_view labels, const LatencyHistogram& h,
                                     const std::vector<double>& bounds) {
  const std::string prefix = std::string(name) + "_bucket{" + std::string(labels) + ",le=\"";
  for (double le : bounds) {
    const auto ns = static_cast<std::uint64_t>(std::llround(le * 1e9));
    out += prefix + number(le) + "\"} " + number(double(h.count_at_most(ns))) + "\n";
  }
  out += prefix + "+Inf\"} " + number(double(h.count())) + "\n";
  out += std::string(name) + "_sum{" + std::string(labels) + "} " + number(double(h.sum()) / 1e9) +
         "\n";
  out += std::string(name) + "_count{" + std::string(labels) + "} " + number(double(h.count())) +
         "\n";
}

}  // namespace switchyard::detail::exposition
