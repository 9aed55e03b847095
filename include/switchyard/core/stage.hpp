// SPDX-License-Identifier: Apache-2.0
// Stage: where a model version is in its lifecycle.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

/// Lifecycle stages (seed 003): Development -> Staging -> Production -> Archived, and Rejected for
/// versions that failed a validation gate. Numeric values are persisted and never change.
enum class Stage : std::uint8_t {
  kDevelopment = 0,
  kStaging = 1,
  kProduction = 2,
  kArchived = 3,
  kRejected = 4,
};

constexpr std::string_view to_string(Stage s) noexcept {
  switch (s) {
    case Stage::kDevelopment: return "Development";
    case Stage::kStaging: return "Staging";
    case Stage::kProduction: return "Production";
    case Stage::kArchived: return "Archived";
    case Stage::kRejected: return "Rejected";
  }
  return "Unknown";
}

/// Parses a stage name, case-insensitively ("production", "Production"); nullopt otherwise.
inline std::optional<Stage> stage_from_string(std::string_view text) noexcept {
  auto eq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      char x = a[i], y = b[i];
      if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
      if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
      if (x != y) return false;
    }
    return true;
  };
  for (auto s : {Stage::kDevelopment, Stage::kStaging, Stage::kProduction, Stage::kArchived,
                 Stage::kRejected}) {
    if (eq(text, to_string(s))) return s;
  }
  return std::nullopt;
}

/// A persisted stage number that is out of range yields nullopt (the store reports corruption).
constexpr std::optional<Stage> stage_from_int(std::int64_t v) noexcept {
  if (v < 0 || v > 4) return std::nullopt;
  return static_cast<Stage>(v);
}

}  // namespace switchyard
