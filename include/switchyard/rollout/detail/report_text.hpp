// SPDX-License-Identifier: Apache-2.0
// Internal: how the rollout reports write numbers, for people (fixed decimals) and for JSON.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>
#include <switchyard/detail/json_text.hpp>
#include <switchyard/stats/result.hpp>

namespace switchyard::detail {

// Text for people keeps fixed decimals; JSON numbers always go through json_number (shortest
// round trip, null when not finite). Thread-safe: pure functions.

/// `v` with `decimals` fixed decimals; "+inf", "-inf" or "nan" when not finite.
inline std::string report_fixed(double v, int decimals) {
  if (std::isinf(v)) return v > 0 ? "+inf" : "-inf";
  if (std::isnan(v)) return "nan";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

/// A fraction as a signed percentage, e.g. 0.07 -> "+7.0%".
inline std::string report_signed_percent(double fraction, int decimals = 1) {
  if (std::isinf(fraction)) return fraction > 0 ? "+inf" : "-inf";
  if (std::isnan(fraction)) return "nan";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%+.*f%%", decimals, fraction * 100.0);
  return buf;
}

/// "p < 0.001" or "p = 0.034".
inline std::string report_p_value(double p) {
  if (p < 0.001) return "p < 0.001";
  char buf[32];
  std::snprintf(buf, sizeof buf, "p = %.3f", p);
  return buf;
}

/// An interval of fractions as signed percentages, e.g. "[+1.2%, +8.9%]".
inline std::string report_interval_percent(const stats::Interval& i, int decimals = 1) {
  return "[" + report_signed_percent(i.lower, decimals) + ", " +
         report_signed_percent(i.upper, decimals) + "]";
}

/// `s` padded with spaces to `width`, on the right (`left`) or on the left.
inline std::string report_pad(std::string s, std::size_t width, bool left = true) {
  if (s.size() >= width) return s;
  return left ? s + std::string(width - s.size(), ' ') : std::string(width - s.size(), ' ') + s;
}

/// An interval as a JSON array of two numbers (json_number: null for an unbounded side).
inline std::string report_json_interval(const stats::Interval& i) {
  return "[" + json_number(i.lower) + ", " + json_number(i.upper) + "]";
}

}  // namespace switchyard::detail
