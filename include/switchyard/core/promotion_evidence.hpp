// SPDX-License-Identifier: Apache-2.0
// PromotionEvidence: what a stage transition shows for itself (a shadow run, an A/B test, a sign-off).
#pragma once

#include <cstddef>
#include <string>

namespace switchyard {

/// Largest `PromotionEvidence::detail_json` the registry accepts (1 MiB): a report, not a dump.
inline constexpr std::size_t kMaxEvidenceDetailBytes = std::size_t{1} << 20;
/// Largest `PromotionEvidence::summary` (4 KiB): one line a person reads in the audit trail.
inline constexpr std::size_t kMaxEvidenceSummaryBytes = std::size_t{4} << 10;
/// Most pieces of evidence one transition may carry.
inline constexpr std::size_t kMaxEvidencePerTransition = 16;

/// One piece of evidence a stage transition carries into the audit trail (seed 003: "Staging ->
/// Production requires a successful shadow deployment or A/B test ... and sign-off from the model
/// owner"). It lives in core so that the parts that produce it (shadow, rollout) and the registry
/// that records it need not know each other.
///
/// The registry checks it before anything is written (ModelRegistry::transition throws
/// InvalidArgument naming `evidence[i].<field>`): `kind` follows the name rules (letters, digits,
/// '-', '_', '.', starting with a letter or digit, at most 64 characters); `summary` is at most
/// kMaxEvidenceSummaryBytes without NUL or line breaks; `detail_json` is empty or the text of one
/// JSON object of at most kMaxEvidenceDetailBytes. Evidence that did not pass is recorded like any
/// other but never satisfies a PromotionPolicy.
///
/// Thread-safe: a value type.
///
/// @code
/// switchyard::PromotionEvidence shadow{
///     .kind = "shadow", .passed = true,
///     .summary = "7 days, 1.2M requests, agreement 99.3%, p99 +1.8 ms",
///     .detail_json = report.to_json()};
/// registry.transition("fraud-detection", 4, switchyard::Stage::kProduction,
///                     {.actor = "alice", .evidence = {shadow, sign_off}});
/// @endcode
struct PromotionEvidence {
  /// What kind of evidence: "shadow", "ab_test", "canary", "load_test", "sign_off", or any
  /// name a host uses. A PromotionPolicy names the kinds it requires.
  std::string kind;
  /// Whether the check this evidence reports succeeded (by the producer's own criteria).
  bool passed = false;
  /// One human line for the audit trail, e.g. "A/B: +2.1% conversion, p = 0.003, 14 days".
  std::string summary;
  /// The full report as JSON object text (e.g. a shadow or experiment report), kept verbatim;
  /// empty when there is none.
  std::string detail_json;
  /// Who vouches for it: for a "sign_off", the person signing (a PromotionPolicy with
  /// require_owner_sign_off accepts only one of the model's owners); for a report, the producer.
  /// Empty: nobody in particular. Follows the summary's rules (one line, at most
  /// kMaxEvidenceSummaryBytes).
  std::string actor{};

  friend bool operator==(const PromotionEvidence&, const PromotionEvidence&) = default;
};

}  // namespace switchyard
