// SPDX-License-Identifier: Apache-2.0
// ShadowDeploymentConfig: a shadow deployment described in YAML (seed 003's format), checked whole.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/shadow/shadow_criteria.hpp>
#include <switchyard/shadow/shadow_predictor.hpp>
#include <switchyard/shadow/shadow_report.hpp>

namespace switchyard {

/// A comparison a shadow deployment asks for (`comparison.metrics`).
enum class ShadowMetric : std::uint8_t {
  kAccuracy = 0,                ///< "accuracy": the shadow's labels against the primary's
  kLatencyP99 = 1,              ///< "latency_p99": shadow p99 against primary p99
  kPredictionDistribution = 2,  ///< "prediction_distribution": confusion / value differences
  kAgreement = 3,               ///< "agreement": share of rows where both answers agree
  kErrorRate = 4,               ///< "error_rate": share of shadow calls that threw
};

/// "accuracy" / "latency_p99" / "prediction_distribution" / "agreement" / "error_rate".
SWITCHYARD_API const char* to_string(ShadowMetric metric) noexcept;

/// The version that serves every response (`deployment.primary`). Thread-safe: a value type.
struct ShadowPrimaryConfig {
  std::string model;
  std::int64_t version = 0;  ///< positive
  double traffic = 1.0;      ///< fraction of responses it serves, in [0, 1]; default 100%
};

/// What to compare and for how long (`deployment.comparison`). Thread-safe: a value type.
struct ShadowComparisonConfig {
  std::vector<ShadowMetric> metrics;  ///< in the order written, each at most once
  /// How long every shadow runs unless it sets its own `duration`; none: until removed.
  std::optional<Duration> duration{};
  bool auto_promote = false;  ///< recorded for the host; the parser starts or promotes nothing
};

/// A shadow deployment as written in YAML: the primary, one or more shadow versions, what to
/// compare and, optionally, the ShadowCriteria a shadow must meet. Produced only by parse_shadow_config and
/// load_shadow_config, which check every field, so a value of this type is always valid: a
/// non-empty name, positive versions, shares in [0, 1], positive durations, 1 to 8 shadows with
/// distinct (model, version). Thread-safe: a value type.
///
/// The accepted YAML (seed 003's shadow deployment; `#` comments anywhere):
/// @code
///   deployment:
///     name: churn-predictor
///     primary:    {model: churn-predictor, version: 5, traffic: 100%}   # traffic optional
///     shadow:                         # one map, or a sequence of maps for several versions
///       model: churn-predictor
///       version: 6
///       traffic: 100%                 # share mirrored: "25%", or 0.25; optional, default 100%
///       sampling: sticky              # or random; optional, default sticky
///       duration: 3d                  # optional; overrides comparison.duration for this one
///       salt: churn-v6                # optional sticky-hash salt
///     comparison:                     # optional
///       metrics: [accuracy, latency_p99, prediction_distribution]   # also agreement, error_rate
///       duration: 7d                  # <integer><ms|s|m|h|d>, positive, at most 3650d
///       auto_promote: false
///     criteria:                       # optional; each key a ShadowCriteria field, unset: default
///       min_compared_rows: 10000
///       min_agreement: 99%            # rates as "1%" or 0.01
///       max_shadow_error_rate: 0.5%
///       max_latency_p99_ratio: 1.2
///       min_labeled_rows: 500
///       require_not_worse: true
///       alpha: 0.05
///       max_divergence: 0.1
/// @endcode
/// A key written without a value (`duration:`) counts as absent.
///
/// Then, with a ShadowPredictor (the config starts nothing by itself):
/// @code
///   const auto config = switchyard::load_shadow_config("shadow.yaml");
///   for (auto& options : config.shadow_versions()) shadow->add_shadow(std::move(options));
/// @endcode
struct ShadowDeploymentConfig {
  std::string name;
  ShadowPrimaryConfig primary;
  /// Each shadow as written: `duration` is set only where the shadow sets its own.
  std::vector<ShadowVersionOptions> shadows;
  ShadowComparisonConfig comparison;
  /// The bar for evaluate(); none when the file has no `criteria` section. Always validate()s.
  std::optional<ShadowCriteria> criteria{};

  /// The options to hand to ShadowPredictor::add_shadow, one per shadow, in the order written:
  /// `comparison.duration` filled in for each shadow that sets no duration of its own.
  SWITCHYARD_API std::vector<ShadowVersionOptions> shadow_versions() const;
};

/// Parses a shadow deployment from YAML text. Throws InvalidArgument naming the field path and,
/// where the YAML parser knows it, the line and column (e.g. "deployment.shadow.traffic: must be
/// between 0% and 100%, got 120% (line 11, column 14)") for: malformed YAML, an empty document or
/// more than one, a map expected and something else found, an unknown or repeated key at any
/// level, a missing name, primary, shadow, model or version, a version that is not a positive
/// integer, a traffic share outside 0-100 % (or 0-1) or not a number, an unknown sampling or
/// metric name, a repeated metric, a duration that is negative, zero, malformed or over 3650d,
/// more than 8 shadows or two with the same (model, version), criteria that are not numbers or
/// that ShadowCriteria::validate() refuses (its message after the path).
/// Never throws a YAML library exception; pure (no I/O, nothing starts).
SWITCHYARD_API ShadowDeploymentConfig parse_shadow_config(std::string_view yaml_text);

/// Reads `path` and parses it as parse_shadow_config does (the message then starts with the
/// path). Throws NotFound when the file does not exist, StorageError when it exists but cannot be
/// read (a directory, no permission, an I/O error), InvalidArgument when it is over 1 MiB (a
/// config, not a data set), else what parse_shadow_config throws.
SWITCHYARD_API ShadowDeploymentConfig load_shadow_config(const std::filesystem::path& path);

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/shadow/shadow_config-inl.hpp>
#endif
