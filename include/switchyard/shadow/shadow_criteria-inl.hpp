// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of ShadowCriteria: validation, evaluation, JSON and promotion evidence.
#pragma once

#include <switchyard/shadow/shadow_criteria.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>

#include <switchyard/core/error.hpp>
#include <switchyard/detail/json_text.hpp>
#include <switchyard/shadow/shadow_report-inl.hpp>

namespace switchyard {

namespace detail::shadow {

/// A measured value or bound for a human: six significant digits.
inline std::string criterion_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

inline void require_bound(double value, std::string_view field, double upper) {
  if (!std::isfinite(value) || value < 0.0 || value > upper) {
    throw InvalidArgument("ShadowCriteria." + std::string(field) + " must be finite and in [0, " +
                          (std::isinf(upper) ? std::string("inf)") : criterion_number(upper) + "]") +
                          ", got " + criterion_number(value));
  }
}

/// Appends a failure if a one-sided test says the shadow is worse at alpha.
inline void check_not_worse(const stats::TestResult& t, std::string_view test,
                            std::string_view side, double p, double alpha,
                            const std::string& context, std::vector<std::string>& failures) {
  if (!t.ok() || !(p < alpha)) return;
  failures.push_back("require_not_worse: " + std::string(test) + " " + std::string(side) + " " +
                     criterion_number(p) + " < alpha " + criterion_number(alpha) + " (" +
                     context + ")");
}

}  // namespace detail::shadow

SWITCHYARD_INLINE void ShadowCriteria::validate() const {
  using detail::shadow::require_bound;
  constexpr double kUnbounded = std::numeric_limits<double>::infinity();
  require_bound(min_agreement, "min_agreement", 1.0);
  require_bound(max_shadow_error_rate, "max_shadow_error_rate", 1.0);
  require_bound(max_latency_p99_ratio, "max_latency_p99_ratio", kUnbounded);
  require_bound(max_divergence, "max_divergence", kUnbounded);
  if (!(alpha > 0.0 && alpha < 1.0)) {
    throw InvalidArgument("ShadowCriteria.alpha must lie strictly between 0 and 1, got " +
                          detail::shadow::criterion_number(alpha));
  }
}

SWITCHYARD_INLINE ShadowVerdict evaluate(const ShadowVersionReport& r, const ShadowCriteria& c) {
  using detail::shadow::criterion_number;
  c.validate();
  ShadowVerdict verdict;
  auto& failures = verdict.failures;
  std::vector<std::string> failed_names;  // criterion names, for the summary
  auto fail = [&](std::string_view criterion, std::string what) {
    failures.push_back(std::string(criterion) + ": " + what);
    failed_names.emplace_back(criterion);
  };
  std::string measured = std::to_string(r.compared_rows) + " compared rows";

  if (r.compared_rows < c.min_compared_rows) {
    fail("min_compared_rows", "compared_rows " + std::to_string(r.compared_rows) + " < " +
                                  std::to_string(c.min_compared_rows));
  }
  measured += ", agreement " + criterion_number(r.agreement_rate);
  if (c.min_agreement > 0.0 && r.agreement_rate < c.min_agreement) {
    fail("min_agreement", "agreement_rate " + criterion_number(r.agreement_rate) + " < " +
                              criterion_number(c.min_agreement));
  }
  measured += ", shadow error rate " + criterion_number(r.shadow_error_rate);
  if (r.shadow_error_rate > c.max_shadow_error_rate) {
    fail("max_shadow_error_rate", "shadow_error_rate " + criterion_number(r.shadow_error_rate) +
                                      " > " + criterion_number(c.max_shadow_error_rate));
  }
  if (c.max_latency_p99_ratio > 0.0) {
    const auto shadow_n = r.shadow_latency.count(), primary_n = r.primary_latency.count();
    if (shadow_n == 0 || primary_n == 0) {
      fail("max_latency_p99_ratio",
           "latency p99 ratio not measured (shadow latencies " + std::to_string(shadow_n) +
               ", primary latencies " + std::to_string(primary_n) + "), bound " +
               criterion_number(c.max_latency_p99_ratio));
    } else {
      const double shadow_p99 = r.shadow_latency.quantile(0.99);
      const double primary_p99 = r.primary_latency.quantile(0.99);
      const double ratio = primary_p99 > 0.0 ? shadow_p99 / primary_p99
                                             : (shadow_p99 > 0.0 ? HUGE_VAL : 1.0);
      measured += ", p99 ratio " + criterion_number(ratio);
      if (ratio > c.max_latency_p99_ratio) {
        fail("max_latency_p99_ratio",
             "shadow p99 / primary p99 " + criterion_number(ratio) + " (" +
                 criterion_number(shadow_p99 / 1e6) + " ms / " +
                 criterion_number(primary_p99 / 1e6) + " ms) > " +
                 criterion_number(c.max_latency_p99_ratio));
      }
    }
  }
  const LabeledComparison& l = r.labeled;
  if (l.rows > 0 || c.min_labeled_rows > 0) {
    measured += ", " + std::to_string(l.rows) + " labeled rows";
  }
  if (l.rows < c.min_labeled_rows) {
    fail("min_labeled_rows",
         "labeled rows " + std::to_string(l.rows) + " < " + std::to_string(c.min_labeled_rows));
  }
  if (c.require_not_worse && l.rows > 0) {
    const std::size_t before = failures.size();
    detail::shadow::check_not_worse(
        l.mcnemar, "mcnemar", "p_value_less", l.mcnemar.p_value_less, c.alpha,
        "shadow accuracy " + criterion_number(l.shadow_accuracy) + ", primary " +
            criterion_number(l.primary_accuracy),
        failures);
    const std::string maes = "shadow mae " + criterion_number(l.shadow_mae) + ", primary " +
                             criterion_number(l.primary_mae);
    detail::shadow::check_not_worse(l.paired_t, "paired_t", "p_value_greater",
                                    l.paired_t.p_value_greater, c.alpha, maes, failures);
    detail::shadow::check_not_worse(l.wilcoxon, "wilcoxon", "p_value_greater",
                                    l.wilcoxon.p_value_greater, c.alpha, maes, failures);
    if (failures.size() > before) failed_names.emplace_back("require_not_worse");
  }
  if (c.max_divergence > 0.0) {
    const stats::DriftResult& d = r.distribution.divergence;
    if (!d.ok()) {
      fail("max_divergence", std::string("divergence not measured (") +
                                 std::string(stats::to_string(d.status)) +
                                 (d.reason.empty() ? "" : ": " + d.reason) + "), bound " +
                                 criterion_number(c.max_divergence));
    } else {
      measured += ", " + std::string(stats::to_string(d.method)) + " " + criterion_number(d.value);
      if (d.value > c.max_divergence) {
        fail("max_divergence", std::string(stats::to_string(d.method)) + " " +
                                   criterion_number(d.value) + " > " +
                                   criterion_number(c.max_divergence));
      }
    }
  }

  verdict.passed = failures.empty();
  std::string names;
  for (const auto& n : failed_names) names += (names.empty() ? "" : ", ") + n;
  verdict.summary = r.model + " v" + std::to_string(r.version) +
                    (verdict.passed ? " passed: " : " failed (" + names + "): ") + measured;
  for (char& ch : verdict.summary) {
    if (ch == '\n' || ch == '\r') ch = ' ';  // model names cannot hold them; reasons might
  }
  return verdict;
}

SWITCHYARD_INLINE std::string to_json(const ShadowVerdict& v) {
  std::string j = std::string("{\"passed\":") + (v.passed ? "true" : "false") + ",\"failures\":[";
  for (std::size_t i = 0; i < v.failures.size(); ++i) {
    if (i) j += ',';
    j += detail::json_quote(v.failures[i]);
  }
  return j + "],\"summary\":" + detail::json_quote(v.summary) + "}";
}

SWITCHYARD_INLINE std::string to_json(const ShadowCriteria& c) {
  using detail::json_number;
  return "{\"min_compared_rows\":" + std::to_string(c.min_compared_rows) +
         ",\"min_agreement\":" + json_number(c.min_agreement) +
         ",\"max_shadow_error_rate\":" + json_number(c.max_shadow_error_rate) +
         ",\"max_latency_p99_ratio\":" + json_number(c.max_latency_p99_ratio) +
         ",\"min_labeled_rows\":" + std::to_string(c.min_labeled_rows) +
         ",\"require_not_worse\":" + (c.require_not_worse ? "true" : "false") +
         ",\"alpha\":" + json_number(c.alpha) +
         ",\"max_divergence\":" + json_number(c.max_divergence) + "}";
}

SWITCHYARD_INLINE PromotionEvidence to_evidence(const ShadowReport& report,
                                                const ShadowVersionReport& version,
                                                const ShadowCriteria& criteria) {
  const ShadowVerdict verdict = evaluate(version, criteria);
  auto detail_json = [&](bool with_disagreements) {
    return "{" + detail::shadow::report_header_json(report) +
           ",\"version\":" + detail::shadow::version_json(version, with_disagreements) +
           ",\"criteria\":" + to_json(criteria) + ",\"verdict\":" + to_json(verdict) + "}";
  };
  PromotionEvidence evidence;
  evidence.kind = "shadow";
  evidence.passed = verdict.passed;
  evidence.summary = verdict.summary;
  if (evidence.summary.size() > kMaxEvidenceSummaryBytes) {
    evidence.summary.resize(kMaxEvidenceSummaryBytes);
  }
  evidence.detail_json = detail_json(true);
  if (evidence.detail_json.size() > kMaxEvidenceDetailBytes) {
    evidence.detail_json = detail_json(false);
  }
  return evidence;
}

}  // namespace switchyard
