// SPDX-License-Identifier: Apache-2.0
// PromotionPolicy: the evidence a model requires before a version moves Staging -> Production.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/error.hpp>
#include <switchyard/core/names.hpp>
#include <switchyard/core/promotion_evidence.hpp>
#include <switchyard/registry/serialization.hpp>

namespace switchyard {

/// What one model requires of a Staging -> Production transition (seed 003): passed evidence of
/// at least one of some kinds ("a successful shadow deployment or A/B test"), passed evidence of
/// each of others (a load check), and, optionally, a passed sign-off, which may be required to
/// come from one of the model's owners. Set with ModelRegistry::set_promotion_policy; the default policy requires
/// nothing. Evidence with `passed == false` is recorded but satisfies nothing. Rollbacks are not
/// promotions: they restore a version that served before and are not checked.
///
/// Thread-safe: a value type.
///
/// @code
/// registry.set_promotion_policy("fraud-detection",
///                               {.require_any_of = {"shadow", "ab_test"}, .require_sign_off = true});
/// @endcode
struct PromotionPolicy {
  /// Kinds of which at least one passed piece of evidence is required, e.g. {"shadow",
  /// "ab_test"}. Empty: no such requirement. Each must be a valid evidence kind.
  std::vector<std::string> require_any_of;
  /// Also require passed evidence of kind kSignOffEvidence ("sign_off"), e.g. the model owner's.
  bool require_sign_off = false;
  /// Kinds of which each needs a passed piece of evidence, e.g. {"load_test"} (seed 003's load
  /// check). Each must be a valid evidence kind.
  std::vector<std::string> require_all_of{};
  /// Require a passed "sign_off" whose `actor` is one of the version's owners (the
  /// ModelVersion::owner field read as a comma-separated list, see owners_of()). Implies
  /// require_sign_off.
  bool require_owner_sign_off = false;

  friend bool operator==(const PromotionPolicy&, const PromotionPolicy&) = default;
};

/// The evidence kind PromotionPolicy::require_sign_off asks for.
inline constexpr std::string_view kSignOffEvidence = "sign_off";
/// The evidence kind a load check reports (PromotionPolicy::require_all_of = {"load_test"}).
inline constexpr std::string_view kLoadTestEvidence = "load_test";
/// The evidence kind a completed canary rollout reports (CanaryController::evidence()).
inline constexpr std::string_view kCanaryEvidence = "canary";

/// The owners a ModelVersion::owner field names: "alice, bob" -> {"alice", "bob"} (split on
/// commas, blanks around each name dropped, empty names skipped).
inline std::vector<std::string> owners_of(std::string_view owner_field) {
  std::vector<std::string> out;
  while (!owner_field.empty()) {
    const std::size_t comma = owner_field.find(',');
    std::string_view name = owner_field.substr(0, comma);
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (!name.empty()) out.emplace_back(name);
    if (comma == std::string_view::npos) break;
    owner_field.remove_prefix(comma + 1);
  }
  return out;
}

namespace detail::registry {

/// Longest evidence kind.
inline constexpr std::size_t kMaxEvidenceKindLength = 64;

/// The checks of one evidence field, each throwing InvalidArgument that starts with `what` (e.g.
/// "evidence[0].kind"). One set of rules for the registry's input and the stores' rows.
inline void check_evidence_kind(std::string_view kind, const std::string& what) {
  detail::check_identifier(what, kind, kMaxEvidenceKindLength);
}
inline void check_evidence_summary(std::string_view summary, const std::string& what) {
  if (summary.size() > kMaxEvidenceSummaryBytes) {
    throw InvalidArgument(what + " is " + std::to_string(summary.size()) +
                          " bytes, over the limit of " + std::to_string(kMaxEvidenceSummaryBytes));
  }
  if (summary.find_first_of(std::string_view("\0\n\r", 3)) != std::string_view::npos) {
    throw InvalidArgument(what + " '" + detail::printable(summary) +
                          "' holds a NUL or line break (it is one line)");
  }
}
inline void check_evidence_detail(std::string_view detail_json, const std::string& what) {
  if (detail_json.empty()) return;
  if (detail_json.size() > kMaxEvidenceDetailBytes) {
    throw InvalidArgument(what + " is " + std::to_string(detail_json.size()) +
                          " bytes, over the limit of " + std::to_string(kMaxEvidenceDetailBytes));
  }
  // The JSON reader stops at a NUL byte; what follows one would be stored unread.
  if (detail_json.find('\0') != std::string_view::npos) {
    throw InvalidArgument(what + " holds a NUL byte");
  }
  detail::require_json_object(detail_json, what);
}

}  // namespace detail::registry

/// Throws InvalidArgument naming `evidence[i].<field>` (after `context`, e.g. "model 'm' version
/// 3: ") unless every piece of evidence is well-formed (see PromotionEvidence) and there are at
/// most kMaxEvidencePerTransition of them.
inline void validate_promotion_evidence(const std::vector<PromotionEvidence>& evidence,
                                        const std::string& context = {}) {
  if (evidence.size() > kMaxEvidencePerTransition) {
    throw InvalidArgument(context + "evidence has " + std::to_string(evidence.size()) +
                          " entries, over the limit of " +
                          std::to_string(kMaxEvidencePerTransition));
  }
  for (std::size_t i = 0; i < evidence.size(); ++i) {
    const std::string at = context + "evidence[" + std::to_string(i) + "].";
    detail::registry::check_evidence_kind(evidence[i].kind, at + "kind");
    detail::registry::check_evidence_summary(evidence[i].summary, at + "summary");
    detail::registry::check_evidence_detail(evidence[i].detail_json, at + "detail_json");
    detail::registry::check_evidence_summary(evidence[i].actor, at + "actor");
  }
}

/// Throws InvalidArgument naming `require_any_of[i]` or `require_all_of[i]` unless every kind
/// of `policy` is valid.
inline void validate_promotion_policy(const PromotionPolicy& policy) {
  for (std::size_t i = 0; i < policy.require_any_of.size(); ++i) {
    detail::registry::check_evidence_kind(
        policy.require_any_of[i], "promotion policy require_any_of[" + std::to_string(i) + "]");
  }
  for (std::size_t i = 0; i < policy.require_all_of.size(); ++i) {
    detail::registry::check_evidence_kind(
        policy.require_all_of[i], "promotion policy require_all_of[" + std::to_string(i) + "]");
  }
}

/// The requirements of `policy` that `evidence` does not meet, in words (empty: all are met),
/// e.g. {"passed evidence of kind 'shadow' or 'ab_test'", "a passed 'sign_off'"}. `owners` are
/// the version's owners (owners_of()), checked when the policy requires an owner's sign-off.
inline std::vector<std::string> unmet_promotion_requirements(
    const PromotionPolicy& policy, const std::vector<PromotionEvidence>& evidence,
    const std::vector<std::string>& owners = {}) {
  auto passed = [&](std::string_view kind) {
    for (const auto& e : evidence) {
      if (e.passed && e.kind == kind) return true;
    }
    return false;
  };
  std::vector<std::string> unmet;
  if (!policy.require_any_of.empty()) {
    bool any = false;
    std::string kinds;
    for (std::size_t i = 0; i < policy.require_any_of.size(); ++i) {
      any = any || passed(policy.require_any_of[i]);
      if (i > 0) kinds += i + 1 == policy.require_any_of.size() ? " or " : ", ";
      kinds += "'" + policy.require_any_of[i] + "'";
    }
    if (!any) unmet.push_back("passed evidence of kind " + kinds);
  }
  for (const auto& kind : policy.require_all_of) {
    if (!passed(kind)) unmet.push_back("passed evidence of kind '" + kind + "'");
  }
  if (policy.require_owner_sign_off) {
    bool by_owner = false;
    for (const auto& e : evidence) {
      if (!e.passed || e.kind != kSignOffEvidence) continue;
      for (const auto& o : owners) by_owner = by_owner || o == e.actor;
    }
    if (!by_owner) {
      std::string names;
      for (std::size_t i = 0; i < owners.size(); ++i) names += (i ? ", " : "") + owners[i];
      unmet.push_back("a passed '" + std::string(kSignOffEvidence) +
                      "' whose actor is one of the owners (" +
                      (owners.empty() ? std::string("the version names no owner") : names) + ")");
    }
  } else if (policy.require_sign_off && !passed(kSignOffEvidence)) {
    unmet.push_back("a passed '" + std::string(kSignOffEvidence) + "'");
  }
  return unmet;
}

}  // namespace switchyard
