// SPDX-License-Identifier: Apache-2.0
// ShadowCriteria: when a shadow version has shown enough, and well enough, to be promoted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <switchyard/core/config.hpp>
#include <switchyard/core/promotion_evidence.hpp>
#include <switchyard/shadow/shadow_report.hpp>

namespace switchyard {

/// The bar a shadow version must clear before it may replace the primary, judged on one
/// ShadowVersionReport by evaluate(). Every bound is checked unless its comment says how to turn
/// it off. Thread-safe: a value type.
///
/// @code
///   switchyard::ShadowCriteria criteria;
///   criteria.min_compared_rows = 10000;
///   criteria.min_labeled_rows = 500;        // labels are required, and the shadow must not be
///   const auto report = shadow->report();   // significantly worse on them (require_not_worse)
///   const auto verdict = switchyard::evaluate(report.versions.at(0), criteria);
///   if (!verdict.passed) std::cerr << verdict.summary << "\n";
/// @endcode
struct ShadowCriteria {
  /// Rows compared between the primary and the shadow (compared_rows). Default 1000.
  std::uint64_t min_compared_rows = 1000;
  /// Lowest agreement_rate, in [0, 1]; 0: not checked. Default 0.
  double min_agreement = 0.0;
  /// Highest shadow_error_rate (shadow calls that threw), in [0, 1]. Default 0.01.
  double max_shadow_error_rate = 0.01;
  /// Highest shadow p99 / primary p99 latency on the same requests, >= 0; 0: not checked.
  /// Default 1.5. Fails when either side has no latency recorded.
  double max_latency_p99_ratio = 1.5;
  /// Labeled rows needed (labeled.rows); 0: labels not required. Default 0.
  std::uint64_t min_labeled_rows = 0;
  /// When labeled rows exist: fail if the shadow is significantly worse than the primary at
  /// `alpha`, one-sided: McNemar's p_value_less (shadow less accurate) for classifiers, and for
  /// regressors the paired t-test's or the Wilcoxon test's p_value_greater (the shadow's absolute
  /// errors larger). Either paired test failing fails the criterion: a promotion gate errs towards
  /// "not shown to be safe". A test that could not be computed (no discordant pairs, identical
  /// errors) shows no difference and passes. Default true.
  bool require_not_worse = true;
  /// Significance level of require_not_worse, in (0, 1). Default 0.05.
  double alpha = 0.05;
  /// Highest prediction divergence (distribution.divergence.value, >= 0); 0: not checked.
  /// Fails when the divergence could not be computed. Default 0.
  double max_divergence = 0.0;

  /// Throws InvalidArgument naming the field (e.g. "ShadowCriteria.alpha must lie strictly
  /// between 0 and 1, got 1.5") for a NaN or infinite bound, a negative one, a rate or agreement
  /// above 1, or alpha outside (0, 1).
  SWITCHYARD_API void validate() const;
};

/// The outcome of evaluate(). Thread-safe: a value type.
struct ShadowVerdict {
  bool passed = false;
  /// One entry per missed criterion, each naming the criterion, the measured value and the bound,
  /// e.g. "min_compared_rows: compared_rows 812 < 1000". Empty when passed.
  std::vector<std::string> failures;
  /// One line (no line breaks) for people and the audit trail: the version, passed or which
  /// criteria failed, and the measured values.
  std::string summary;
};

/// Judges one shadow version against `criteria`. Pure; throws InvalidArgument (from
/// ShadowCriteria::validate) for invalid criteria, before looking at the report.
SWITCHYARD_API ShadowVerdict evaluate(const ShadowVersionReport& report,
                                      const ShadowCriteria& criteria);

/// The verdict as a JSON object: {"passed", "failures": [..], "summary"}.
SWITCHYARD_API std::string to_json(const ShadowVerdict& verdict);

/// The criteria as a JSON object, one member per field.
SWITCHYARD_API std::string to_json(const ShadowCriteria& criteria);

/// The evidence a stage transition carries for a shadow run (see PromotionEvidence): kind
/// "shadow", `passed` and `summary` from evaluate(`version`, `criteria`), and `detail_json` = one
/// JSON object {"generated_at_ns", "state", queue and label fields of `report`, "version": the
/// version's report as in ShadowReport::to_json(), "criteria", "verdict"}. When that object would
/// exceed kMaxEvidenceDetailBytes the disagreements are left out ("disagreements_omitted" gives
/// their number); a summary over kMaxEvidenceSummaryBytes is cut. Throws InvalidArgument for
/// invalid criteria, as evaluate() does.
///
/// @code
///   const auto report = shadow->report();
///   registry.transition("fraud-detection", 3, switchyard::Stage::kProduction,
///                       {.actor = "alice",
///                        .evidence = {switchyard::to_evidence(report, report.versions.at(0),
///                                                             criteria)}});
/// @endcode
SWITCHYARD_API PromotionEvidence to_evidence(const ShadowReport& report,
                                             const ShadowVersionReport& version,
                                             const ShadowCriteria& criteria);

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/shadow/shadow_criteria-inl.hpp>
#endif
