// SPDX-License-Identifier: Apache-2.0
// Units in configuration text: durations ("45s", "12h", "14d") and percentages ("0.5%").
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <switchyard/core/clock.hpp>

namespace switchyard {

/// Reads a duration written as a whole number and a unit: ns, us, ms, s, m, h or d ("1h", "30m",
/// "45s", "20ms", "14d"), with an optional leading '-' (so a caller can say "must not be
/// negative" rather than "malformed"). Returns nothing for anything else: no unit, an unknown
/// unit, a fraction, spaces, or a value that overflows 64-bit nanoseconds. Pure and thread-safe.
inline std::optional<Duration> parse_duration(std::string_view text) noexcept {
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string_view unit = text.substr(digits);
  std::int64_t unit_ns = 0;
  if (unit == "ns") unit_ns = 1;
  if (unit == "us") unit_ns = 1'000;
  if (unit == "ms") unit_ns = 1'000'000;
  if (unit == "s") unit_ns = 1'000'000'000;
  if (unit == "m") unit_ns = 60'000'000'000;
  if (unit == "h") unit_ns = 3'600'000'000'000;
  if (unit == "d") unit_ns = 86'400'000'000'000;
  if (digits == 0 || unit_ns == 0) return std::nullopt;
  std::int64_t count = 0;
  const auto [stop, ec] = std::from_chars(text.data(), text.data() + digits, count);
  if (ec != std::errc() || count > std::numeric_limits<std::int64_t>::max() / unit_ns) return std::nullopt;
  return Duration(negative ? -count * unit_ns : count * unit_ns);
}

/// The shortest text parse_duration() reads back as exactly `d`: the largest unit that divides it
/// ("90m", "1500ms", "36h", "0s"). Pure and thread-safe.
inline std::string format_duration(Duration d) {
  constexpr std::pair<std::int64_t, const char*> kUnits[] = {
      {86'400'000'000'000, "d"}, {3'600'000'000'000, "h"}, {60'000'000'000, "m"},
      {1'000'000'000, "s"},      {1'000'000, "ms"},        {1'000, "us"}};
  const std::int64_t ns = d.count();
  if (ns == 0) return "0s";
  for (const auto& [size, name] : kUnits) {
    if (ns % size == 0) return std::to_string(ns / size) + name;
  }
  return std::to_string(ns) + "ns";
}

/// Reads a finite decimal number, the whole text ("0.25", "-3", "1e-3"). Pure and thread-safe.
inline std::optional<double> parse_number(std::string_view text) noexcept {
  double value = 0.0;
  if (text.empty()) return std::nullopt;
  const auto [stop, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || stop != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value + 0.0;  // + 0.0: -0 is 0
}

/// Reads a percentage written with its sign, "0.5%" -> 0.005, as a proportion. Returns nothing
/// without the '%' or for a malformed number ("1 %", "%", "abc%"). Range checks are the caller's.
/// Pure and thread-safe.
inline std::optional<double> parse_percentage(std::string_view text) noexcept {
  if (text.size() < 2 || text.back() != '%') return std::nullopt;
  const auto value = parse_number(text.substr(0, text.size() - 1));
  if (!value) return std::nullopt;
  return *value / 100.0 + 0.0;
}

}  // namespace switchyard
