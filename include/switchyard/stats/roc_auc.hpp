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

/// Mid-ranks (1-based, ties averaged) of values, in their original order. O(n log n).
inline std::vector<double> midranks(std::span<const double> v) {
  const std::size_t n = v.size();
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(n);
  std::size_t i = 0;
  while (i < n) {
    std::size_t j = i;
    while (j + 1 < n && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double avg = (static_cast<double>(i + 1) + static_cast<double>(j + 1)) / 2.0;
    for (std::size_t k = i; k <= j; ++k) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

/// DeLong's structural components for one model (Sun & Xu 2014): placement values of positives
/// (V10, the fraction of negatives scored below, ties half) and of negatives (V01).
struct Placements {
  std::vector<double> v10, v01;
  double auc = 0.0;
};

inline Placements placements(std::span<const double> scores, std::span<const int> labels,
                             std::size_t m, std::size_t n) {
  std::vector<double> pos, neg;
  pos.reserve(m);
  neg.reserve(n);
  for (std::size_t i = 0; i < scores.size(); ++i) (labels[i] == 1 ? pos : neg).push_back(scores[i]);
  const std::vector<double> tz = midranks(scores);
  const std::vector<double> tx = midranks(pos);
  const std::vector<double> ty = midranks(neg);
  Placements p;
  p.v10.resize(m);
  p.v01.resize(n);
  std::size_t ip = 0, in = 0;
  double rank_sum = 0.0;
  const double md = static_cast<double>(m), nd = static_cast<double>(n);
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] == 1) {
      rank_sum += tz[i];
      p.v10[ip] = (tz[i] - tx[ip]) / nd;
      ++ip;
    } else {
      p.v01[in] = 1.0 - (tz[i] - ty[in]) / md;
      ++in;
    }
  }
  p.auc = (rank_sum - md * (md + 1.0) / 2.0) / (md * nd);
  return p;
}

inline double covariance(const std::vector<double>& a, const std::vector<double>& b) {
  const std::size_t k = a.size();
  double ma = 0.0, mb = 0.0;
  for (std::size_t i = 0; i < k; ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= static_cast<double>(k);
  mb /= static_cast<double>(k);
  double s = 0.0;
  for (std::size_t i = 0; i < k; ++i) s += (a[i] - ma) * (b[i] - mb);
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
/// with DeLong's variance computed by Sun & Xu's O(n log n) mid-rank algorithm.
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
  const detail::Placements p = detail::placements(scores, labels, m, n);
  r.auc = p.auc;
  if (m < 2 || n < 2) {
    r.status = StatStatus::kNotEnoughData;
    r.reason = "DeLong's variance needs at least 2 positive and 2 negative examples";
    return r;
  }
  r.variance = detail::covariance(p.v10, p.v10) / static_cast<double>(m) +
               detail::covariance(p.v01, p.v01) / static_cast<double>(n);
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
  r.variance_a = detail::covariance(a.v10, a.v10) / md + detail::covariance(a.v01, a.v01) / nd;
  r.variance_b = detail::covariance(b.v10, b.v10) / md + detail::covariance(b.v01, b.v01) / nd;
  r.covariance = detail::covariance(a.v10, b.v10) / md + detail::covariance(a.v01, b.v01) / nd;
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
