// SPDX-License-Identifier: Apache-2.0
// ROC AUC with DeLong's variance, and the paired DeLong test of two models on the same examples.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <switchyard/core/error.hpp>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/result.hpp>
#include <vector>

namespace switchyard::stats {

/// The area under the ROC curve with DeLong's variance and a normal interval clipped to [0, 1].
/// auc is set whenever both classes are present; variance, std_error and interval need at least 2
/// examples of each class (status kNotEnoughData otherwise). A perfectly separating model has
/// variance 0 and a zero-width interval (status kOk).
/// Thread-safe: a value type.
struct AucResult {
  StatStatus status = StatStatus::kNotEnoughData;
  std::string reason;
  double auc = 0.5;
  double variance = 0.0;
  double std_error = 0.0;
  Interval interval;
  double confidence = 0.95;
  std::uint64_t positives = 0;
  std::uint64_t negatives = 0;

  bool ok() const noexcept { return status == StatStatus::kOk; }
};

/// The paired DeLong test: statistic = z, effect = auc_a - auc_b, interval = its normal interval.
/// Thread-safe: a value type.
struct DeLongResult : TestResult {
  double auc_a = 0.5, auc_b = 0.5;
  double variance_a = 0.0, variance_b = 0.0, covariance = 0.0;
};

namespace detail {

/// DeLong's structural components (placement values) by Sun & Xu's mid-rank identity, from one
/// sort of the scores: for a positive example, V10 = (negatives scored below + half the tied
/// negatives) / n; for a negative, V01 = (positives scored above + half the tied positives) / m.
/// The AUC is the mean of V10 (and of V01), accumulated in integers so that it is exact to an ulp.
struct ScoredExample {
  double score;
  std::size_t index;
};

/// Calls group(first, last, positives_before, negatives_before, positives_in, negatives_in) for
/// each run of tied scores of the sorted examples.
template <class Group>
void for_each_tie_group(const std::vector<ScoredExample>& sorted, std::span<const int> labels,
                        Group&& group) {
  std::size_t i = 0;
  std::uint64_t pos_before = 0, neg_before = 0;
  while (i < sorted.size()) {
    std::size_t j = i;
    std::uint64_t p = 0, q = 0;
    while (j < sorted.size() && sorted[j].score == sorted[i].score) {
      (labels[sorted[j].index] == 1 ? p : q) += 1;
      ++j;
    }
    group(i, j, pos_before, neg_before, p, q);
    pos_before += p;
    neg_before += q;
    i = j;
  }
}

inline std::vector<ScoredExample> sort_scores(std::span<const double> scores) {
  std::vector<ScoredExample> v(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) v[i] = ScoredExample{scores[i], i};
  std::sort(v.begin(), v.end(),
            [](const ScoredExample& a, const ScoredExample& b) { return a.score < b.score; });
  return v;
}

/// Placement values per example (V10 for positives, V01 for negatives) and the AUC.
struct Placements {
  std::vector<double> value;  // indexed like the input
  double auc = 0.0;
};

inline Placements placements(std::span<const double> scores, std::span<const int> labels,
                             std::size_t m, std::size_t n) {
  Placements p;
  p.value.resize(scores.size());
  const std::vector<ScoredExample> sorted = sort_scores(scores);
  const double md = static_cast<double>(m), nd = static_cast<double>(n);
  double twice_u = 0.0;  // 2 U, an integer
  for_each_tie_group(sorted, labels,
                     [&](std::size_t first, std::size_t last, std::uint64_t pb, std::uint64_t nb,
                         std::uint64_t pg, std::uint64_t qg) {
                       const double v10 = (static_cast<double>(2 * nb + qg)) / (2.0 * nd);
                       const double v01 = 1.0 - static_cast<double>(2 * pb + pg) / (2.0 * md);
                       for (std::size_t k = first; k < last; ++k) {
                         p.value[sorted[k].index] = labels[sorted[k].index] == 1 ? v10 : v01;
                       }
                       twice_u += static_cast<double>(pg) * static_cast<double>(2 * nb + qg);
                     });
  p.auc = twice_u / (2.0 * md * nd);
  return p;
}

/// Sample covariance (divisor k - 1) of a and b over the examples of one class.
inline double class_covariance(const std::vector<double>& a, const std::vector<double>& b,
                               std::span<const int> labels, int label, double mean_a,
                               double mean_b) {
  double s = 0.0;
  std::size_t k = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != label) continue;
    s += (a[i] - mean_a) * (b[i] - mean_b);
    ++k;
  }
  return s / static_cast<double>(k - 1);
}

/// Validates labels (0/1) and scores (finite); counts the classes. Returns false with the status.
inline bool check_scored(std::span<const int> labels, std::span<const double> scores,
                         std::size_t& m, std::size_t& n, StatStatus& st, std::string& why) {
  m = n = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == 1) {
      ++m;
    } else if (labels[i] == 0) {
      ++n;
    } else {
      st = StatStatus::kInvalidInput;
      why = "label " + std::to_string(i) + " is " + std::to_string(labels[i]) +
            "; labels must be 0 or 1";
      return false;
    }
    if (!std::isfinite(scores[i])) {
      st = StatStatus::kInvalidInput;
      why = "score " + std::to_string(i) + " is NaN or infinite";
      return false;
    }
  }
  if (m == 0 || n == 0) {
    st = StatStatus::kNotEnoughData;
    why = m == 0 ? "no positive examples" : "no negative examples";
    return false;
  }
  return true;
}

inline void require_same_length(std::size_t a, std::size_t b, const char* what) {
  if (a != b) {
    throw InvalidArgument(std::string(what) + ": " + std::to_string(a) + " labels but " +
                          std::to_string(b) + " scores");
  }
}

}  // namespace detail

/// ROC AUC of scores against 0/1 labels (higher score = more likely positive), ties counted half,
/// with DeLong's variance computed by Sun & Xu's O(n log n) mid-rank algorithm (one sort).
///
/// Reference: sklearn.metrics.roc_auc_score (scikit-learn 1.2.1) for auc, 1e-12 relative; R pROC
/// 1.18.0 var(roc(..., direction = "<"), method = "delong") and ci.auc(method = "delong") for
/// variance and interval, 1e-10 relative.
/// Degenerate input: a missing class -> kNotEnoughData (sklearn raises); fewer than 2 of a class
/// -> kNotEnoughData with auc set; a label other than 0/1 or a non-finite score -> kInvalidInput.
/// Throws InvalidArgument when the spans differ in length or confidence is not in (0, 1).
inline AucResult roc_auc(std::span<const int> labels, std::span<const double> scores,
                         double confidence = 0.95) {
  detail::require_same_length(labels.size(), scores.size(), "roc_auc");
  detail::require_open_unit(confidence, "confidence");
  AucResult r;
  r.confidence = confidence;
  std::size_t m, n;
  StatStatus st = StatStatus::kOk;
  std::string why;
  if (!detail::check_scored(labels, scores, m, n, st, why)) {
    r.status = st;
    r.reason = std::move(why);
    return r;
  }
  r.positives = m;
  r.negatives = n;
  // One sort; the variance needs only the tie groups (every member of a group has the same
  // placement), so no per-example arrays.
  const std::vector<detail::ScoredExample> sorted = detail::sort_scores(scores);
  const double md = static_cast<double>(m), nd = static_cast<double>(n);
  double twice_u = 0.0;
  detail::for_each_tie_group(sorted, labels,
                             [&](std::size_t, std::size_t, std::uint64_t, std::uint64_t nb,
                                 std::uint64_t pg, std::uint64_t qg) {
                               twice_u +=
                                   static_cast<double>(pg) * static_cast<double>(2 * nb + qg);
                             });
  r.auc = twice_u / (2.0 * md * nd);
  if (m < 2 || n < 2) {
    r.status = StatStatus::kNotEnoughData;
    r.reason = "DeLong's variance needs at least 2 positive and 2 negative examples";
    return r;
  }
  double s10 = 0.0, s01 = 0.0;
  detail::for_each_tie_group(
      sorted, labels,
      [&](std::size_t, std::size_t, std::uint64_t pb, std::uint64_t nb, std::uint64_t pg,
          std::uint64_t qg) {
        const double v10 = static_cast<double>(2 * nb + qg) / (2.0 * nd) - r.auc;
        const double v01 = (1.0 - static_cast<double>(2 * pb + pg) / (2.0 * md)) - r.auc;
        s10 += static_cast<double>(pg) * v10 * v10;
        s01 += static_cast<double>(qg) * v01 * v01;
      });
  r.variance = s10 / (md - 1.0) / md + s01 / (nd - 1.0) / nd;
  r.std_error = std::sqrt(r.variance);
  const double z = detail::normal_isf((1.0 - confidence) / 2.0);
  r.interval = Interval{std::clamp(r.auc - z * r.std_error, 0.0, 1.0),
                        std::clamp(r.auc + z * r.std_error, 0.0, 1.0)};
  r.status = StatStatus::kOk;
  return r;
}

/// DeLong's test for two models scored on the same examples (paired): is AUC(a) != AUC(b)?
///
/// Reference: R pROC 1.18.0 roc.test(roc_a, roc_b, method = "delong", paired = TRUE) with
/// direction "<": statistic (Z) and p-value 1e-10 relative; one-sided p-values as roc.test with
/// alternative "less"/"greater"; interval as its conf.int for the difference.
/// Degenerate input: as roc_auc; fewer than 2 of a class -> kNotEnoughData; the difference having
/// zero variance (e.g. both models separate perfectly) -> kZeroVariance.
/// Throws InvalidArgument when the spans differ in length or confidence is not in (0, 1).
inline DeLongResult delong_test(std::span<const int> labels, std::span<const double> scores_a,
                                std::span<const double> scores_b, double confidence = 0.95) {
  detail::require_same_length(labels.size(), scores_a.size(), "delong_test (model a)");
  detail::require_same_length(labels.size(), scores_b.size(), "delong_test (model b)");
  detail::require_open_unit(confidence, "confidence");
  DeLongResult r;
  r.confidence = confidence;
  std::size_t m, n, m2, n2;
  StatStatus st = StatStatus::kOk;
  std::string why;
  if (!detail::check_scored(labels, scores_a, m, n, st, why) ||
      !detail::check_scored(labels, scores_b, m2, n2, st, why)) {
    return detail::set_status(r, st, std::move(why));
  }
  if (m < 2 || n < 2) {
    return detail::set_status(r, StatStatus::kNotEnoughData,
                              "DeLong's test needs at least 2 positive and 2 negative examples");
  }
  const detail::Placements a = detail::placements(scores_a, labels, m, n);
  const detail::Placements b = detail::placements(scores_b, labels, m, n);
  const double md = static_cast<double>(m), nd = static_cast<double>(n);
  r.auc_a = a.auc;
  r.auc_b = b.auc;
  // The mean of V10 over positives and of V01 over negatives are both the AUC.
  auto cov = [&](const detail::Placements& x, const detail::Placements& y) {
    return detail::class_covariance(x.value, y.value, labels, 1, x.auc, y.auc) / md +
           detail::class_covariance(x.value, y.value, labels, 0, x.auc, y.auc) / nd;
  };
  r.variance_a = cov(a, a);
  r.variance_b = cov(b, b);
  r.covariance = cov(a, b);
  const double var = r.variance_a + r.variance_b - 2.0 * r.covariance;
  const double diff = a.auc - b.auc;
  if (!(var > 0.0)) {
    detail::set_status(r, StatStatus::kZeroVariance,
                       "the difference of the AUCs has zero variance");
    r.auc_a = a.auc;
    r.auc_b = b.auc;
    return r;
  }
  const double se = std::sqrt(var);
  const double z = diff / se;
  r.status = StatStatus::kOk;
  r.statistic = z;
  r.effect = diff;
  r.p_value = detail::clamp_probability(2.0 * detail::normal_sf(std::fabs(z)));
  r.p_value_less = detail::normal_cdf(z);
  r.p_value_greater = detail::normal_sf(z);
  const double crit = detail::normal_isf((1.0 - confidence) / 2.0);
  r.interval = Interval{diff - crit * se, diff + crit * se};
  return r;
}

}  // namespace switchyard::stats
