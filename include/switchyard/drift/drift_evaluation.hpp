// SPDX-License-Identifier: Apache-2.0
// Drift evaluation: a window of live values (binned in a reference profile's slots) against that
// profile, per feature and for the dataset, with Evidently's tests, thresholds and default choice.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <switchyard/core/config.hpp>
#include <switchyard/drift/drift_report.hpp>
#include <switchyard/drift/reference_profile.hpp>

namespace switchyard {

/// What a window saw of one feature, in the slots of its FeatureProfile: what a DriftMonitor fills
/// on the request path and evaluate_drift() reads.
/// Thread-safe: a value type.
struct FeatureWindow {
  std::vector<std::uint64_t> counts;  ///< per slot, FeatureProfile::slots() of them
  std::uint64_t missing = 0;          ///< NaN or infinite values
  /// Finite values of the window for the sample-based tests (KS, Wasserstein): every finite value
  /// when sample_complete(), else a uniform sample of them. May be empty (those tests then report
  /// kNotEnoughData, or run on nothing but the bins).
  std::vector<double> sample;

  /// A window with the profile's slot count, all zero.
  static FeatureWindow for_feature(const FeatureProfile& f) {
    FeatureWindow w;
    w.counts.assign(f.slots(), 0);
    return w;
  }
  /// Finite values counted.
  std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (auto c : counts) n += c;
    return n;
  }
  /// True when `sample` holds every finite value counted.
  bool sample_complete() const noexcept { return sample.size() == count(); }
  /// Counts one value (missing when not finite); keeps it in `sample` when keep_sample.
  void add(const FeatureProfile& f, double x, bool keep_sample = true) {
    if (!std::isfinite(x)) {
      ++missing;
      return;
    }
    ++counts[f.slot_of(x)];
    if (keep_sample) sample.push_back(x);
  }
};

/// A window of live traffic: one FeatureWindow per profile feature (same order), and the
/// prediction's when the profile has one. Thread-safe: a value type.
struct CurrentWindow {
  std::vector<FeatureWindow> features;
  bool has_prediction = false;
  FeatureWindow prediction;
  std::uint64_t rows = 0;
  TimePoint start{};
  TimePoint end{};

  /// An empty window shaped for `profile`.
  SWITCHYARD_API static CurrentWindow for_profile(const ReferenceProfile& profile);
  /// Adds a row (one value per feature, in profile order) and, with a profile prediction, its
  /// prediction; keeps every value in the samples. For tests and batch use; a DriftMonitor fills
  /// windows its own way. Throws InvalidArgument when the row length differs.
  SWITCHYARD_API void add_row(const ReferenceProfile& profile, std::span<const double> row,
                              double prediction = 0.0);
};

/// Multiple-comparison correction of the p-value tests across the features of one evaluation
/// (Alibi Detect corrects its feature-wise KS and chi-square tests the same ways).
enum class DriftCorrection : std::uint8_t {
  kNone = 0,        ///< Evidently: each feature at its own threshold
  kBonferroni = 1,  ///< p * m (Alibi Detect's default)
  kFdr = 2,         ///< Benjamini-Hochberg adjusted p-values
};

/// "none" / "bonferroni" / "fdr_bh".
SWITCHYARD_API const char* to_string(DriftCorrection c) noexcept;

/// Which test decides a feature's drift and at what threshold.
/// Thread-safe: a value type.
struct FeatureDriftRule {
  DriftTest test = DriftTest::kAuto;
  /// NaN: the test's default (default_threshold()). Distances drift when value >= threshold,
  /// p-values when p < threshold (KS: p <= threshold), as in Evidently.
  double threshold = std::numeric_limits<double>::quiet_NaN();
};

/// How evaluate_drift() decides. The defaults are Evidently's DataDriftPreset defaults.
/// Thread-safe: a value type.
struct DriftOptions {
  /// The rule for every feature without an entry in per_feature.
  FeatureDriftRule features{};
  /// Rules by feature name (a name not in the profile is an error).
  std::map<std::string, FeatureDriftRule, std::less<>> per_feature{};
  /// The rule for the prediction column.
  FeatureDriftRule prediction{};
  /// Dataset drift when the share of drifted features is at least this (0 < x <= 1). Default 0.5.
  double drift_share = 0.5;
  DriftCorrection correction = DriftCorrection::kNone;
  /// When both the reference sample and the window sample are complete, compute every statistic
  /// by Evidently's batch procedure (bins over reference and current together): the numbers a
  /// team sees in an Evidently report. Otherwise, and when false, the profile's fixed bins.
  bool exact_when_complete = true;
  /// Also compute every other statistic that applies (KL, Jensen-Shannon, Wasserstein, KS,
  /// chi-square, z), not only PSI and the deciding test. Default false (cheaper).
  bool all_statistics = false;

  /// Seed 003's monitoring table: feature drift when PSI > 0.2 (decided at PSI >= 0.2, Evidently's
  /// comparison), prediction drift when its KL divergence >= 0.1.
  static DriftOptions seed_003() {
    DriftOptions o;
    o.features = {DriftTest::kPsi, 0.2};
    o.prediction = {DriftTest::kKlDivergence, 0.1};
    return o;
  }
};

/// Evidently's default test for a feature (its get_default_stattest): with at most 1,000 finite
/// reference values, KS for numeric features with more than 5 distinct values in reference and
/// current together, chi-square with 3 to 5 (or a categorical feature with more than 2), z-test
/// with at most 2; above 1,000, Wasserstein (normed) for numeric features with more than 5
/// distinct values, else Jensen-Shannon. `distinct_values` counts reference and current together.
SWITCHYARD_API DriftTest select_default_test(FeatureKind kind, std::uint64_t reference_count,
                                             std::uint64_t distinct_values) noexcept;

/// Evaluates one feature's window against its profile. `rule.test` kAuto picks
/// select_default_test(). Never NaN: what cannot be computed has status != kOk and a reason.
/// Throws InvalidArgument when window.counts.size() != profile.slots(), the test does not apply to
/// the feature's kind (Wasserstein or KS on a categorical feature) or the threshold is negative
/// or not finite.
SWITCHYARD_API FeatureDrift evaluate_feature(const FeatureProfile& profile,
                                             const FeatureWindow& window,
                                             const FeatureDriftRule& rule = {},
                                             bool exact_when_complete = true,
                                             bool all_statistics = false);

/// Evaluates a whole window: every feature, the prediction, the correction and dataset drift.
/// Throws InvalidArgument when the window does not match the profile (feature count, slot
/// counts), a per_feature name is unknown, or an option is out of range.
SWITCHYARD_API DriftReport evaluate_drift(const ReferenceProfile& profile,
                                          const CurrentWindow& window,
                                          const DriftOptions& options = {});

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/drift/drift_evaluation-inl.hpp>
#endif
