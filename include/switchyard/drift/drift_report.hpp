// SPDX-License-Identifier: Apache-2.0
// DriftReport: per-feature drift of a window against a reference profile, and dataset drift, as a
// struct, JSON, a readable table and Prometheus gauges.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/drift/reference_profile.hpp>
#include <switchyard/stats/result.hpp>

namespace switchyard {

/// A drift statistic or test, with Evidently's stattest name in to_string().
enum class DriftTest : std::uint8_t {
  kAuto = 0,                ///< Evidently's default choice per feature (see select_default_test)
  kPsi = 1,                 ///< population stability index ("psi"), distance
  kKlDivergence = 2,        ///< Kullback-Leibler divergence ("kl_div"), distance
  kJensenShannon = 3,       ///< Jensen-Shannon distance ("jensenshannon"), distance
  kWassersteinNormed = 4,   ///< Wasserstein-1 / reference std ("wasserstein"), numeric, distance
  kKolmogorovSmirnov = 5,   ///< two-sample KS ("ks"), numeric, p-value
  kChiSquare = 6,           ///< chi-square goodness of fit ("chisquare"), p-value
  kZTest = 7,               ///< two-proportion z-test ("z"), two-valued features, p-value
};

/// Evidently's name of a test ("psi", "kl_div", "jensenshannon", "wasserstein", "ks",
/// "chisquare", "z"); "auto" for kAuto.
SWITCHYARD_API const char* to_string(DriftTest test) noexcept;

/// True for the tests whose score is a p-value (drift when small), false for distances (drift
/// when large).
constexpr bool is_p_value_test(DriftTest t) noexcept {
  return t == DriftTest::kKolmogorovSmirnov || t == DriftTest::kChiSquare || t == DriftTest::kZTest;
}

/// Evidently's default threshold of a test: 0.05 for the p-value tests, 0.1 for the distances.
constexpr double default_threshold(DriftTest t) noexcept { return is_p_value_test(t) ? 0.05 : 0.1; }

/// How a feature's numbers were obtained.
enum class DriftProcedure : std::uint8_t {
  /// The profile's fixed bins (counts a DriftMonitor keeps on the request path). Differs from
  /// Evidently's batch numbers for numeric histogram features: Evidently bins reference and
  /// current together (docs/monitoring.md).
  kBinned = 0,
  /// Evidently's batch procedure on the full reference and current samples: the same numbers.
  kExact = 1,
  /// Sample-based tests (KS, Wasserstein) on a bounded sample of the reference or the window.
  kSampled = 2,
};

/// "binned" / "exact" / "sampled".
SWITCHYARD_API const char* to_string(DriftProcedure p) noexcept;

/// One statistic of one feature. Thread-safe: a value type.
struct DriftStatistic {
  DriftTest test = DriftTest::kPsi;
  stats::StatStatus status = stats::StatStatus::kNotEnoughData;
  std::string reason;      ///< empty when ok
  double value = 0.0;      ///< distance or p-value; 0 when not ok (never NaN)
  double statistic = 0.0;  ///< p-value tests: KS D, chi-square, z; distances: = value
  DriftProcedure procedure = DriftProcedure::kBinned;

  bool ok() const noexcept { return status == stats::StatStatus::kOk; }
};

/// The drift of one feature (or of the prediction). Thread-safe: a value type.
struct FeatureDrift {
  std::string name;
  FeatureKind kind = FeatureKind::kNumeric;
  /// The test that decides `drift`, its score (distance or p-value, after the multiple-comparison
  /// correction for p-value tests: raw_score holds the uncorrected one) and threshold.
  DriftTest test = DriftTest::kPsi;
  double score = 0.0;
  double raw_score = 0.0;
  double threshold = 0.1;
  /// ok: the deciding test could be computed. Otherwise `drift` is false and the feature counts
  /// as unknown, never as "no drift" (see DriftReport::features_unknown).
  stats::StatStatus status = stats::StatStatus::kNotEnoughData;
  std::string reason;
  bool drift = false;
  /// Values the reference never had (categorical and binary features: a new category, which is
  /// drift whatever the score; numeric features with at most 20 reference values: reported, and
  /// decided by the score as Evidently decides it).
  std::uint64_t unseen = 0;
  std::uint64_t reference_count = 0;   ///< finite reference values
  std::uint64_t current_count = 0;     ///< finite values in the window
  std::uint64_t reference_missing = 0; ///< NaN or infinite reference values
  std::uint64_t current_missing = 0;   ///< NaN or infinite values in the window
  /// Every statistic computed for the feature: PSI always, the deciding test, and with
  /// DriftOptions::all_statistics the others that apply.
  std::vector<DriftStatistic> statistics;

  /// The statistic computed for `t`, or null.
  const DriftStatistic* find(DriftTest t) const noexcept {
    for (const auto& s : statistics) {
      if (s.test == t) return &s;
    }
    return nullptr;
  }
  /// Missing share of the window (0 when it is empty).
  double current_missing_share() const noexcept {
    const auto n = current_count + current_missing;
    return n ? static_cast<double>(current_missing) / static_cast<double>(n) : 0.0;
  }
};

/// Drift of one window against a reference profile: per feature, the prediction, and the dataset.
/// Thread-safe: a value type.
struct DriftReport {
  std::string model;           ///< may be empty
  std::int64_t version = 0;    ///< the version whose profile was used; 0 when unknown
  TimePoint window_start{};
  TimePoint window_end{};
  std::uint64_t rows = 0;      ///< rows in the window
  std::vector<FeatureDrift> features;  ///< in the profile's order
  bool has_prediction = false;
  FeatureDrift prediction;             ///< meaningful when has_prediction
  std::size_t features_drifted = 0;
  std::size_t features_unknown = 0;    ///< the deciding test could not be computed
  /// features_drifted / (features - features_unknown); 0 when no feature could be judged.
  double drift_share = 0.0;
  double drift_share_threshold = 0.5;
  /// drift_share >= drift_share_threshold and at least one feature judged (Evidently's
  /// DatasetDriftMetric rule).
  bool dataset_drift = false;
  std::string correction;  ///< "none", "bonferroni" or "fdr_bh"

  /// The feature named `name`, or null.
  SWITCHYARD_API const FeatureDrift* find(std::string_view name) const noexcept;
  /// One JSON object: the dataset fields and an array of features, each with every statistic.
  SWITCHYARD_API std::string to_json() const;
  /// A readable fixed-width table, one row per feature (test, score, threshold, drift, PSI,
  /// missing share), then the dataset verdict.
  SWITCHYARD_API std::string to_table() const;
  /// Prometheus text exposition (0.0.4), gauges: switchyard_drift_feature_score, _threshold,
  /// _psi, _drifted (1, 0, or -1 when unknown), _missing_share and _unseen_values (labels model,
  /// version, feature, test; the prediction is a feature named as in the profile), and
  /// switchyard_drift_dataset_share, switchyard_drift_dataset_drifted and
  /// switchyard_drift_window_rows (labels model, version).
  SWITCHYARD_API std::string to_prometheus() const;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/drift/drift_report-inl.hpp>
#endif
