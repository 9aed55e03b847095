// SPDX-License-Identifier: Apache-2.0
// Model quality on labelled examples: log loss, Brier score, calibration error, accuracy and F1.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <switchyard/core/error.hpp>
#include <switchyard/stats/result.hpp>
#include <vector>

namespace switchyard::stats {

/// A single model-quality number (log loss, Brier score, expected calibration error).
/// When status is not kOk, value is 0.
/// Thread-safe: a value type.
struct MetricValue {
  StatStatus status = StatStatus::kNotEnoughData;
  std::string reason;
  double value = 0.0;
  std::uint64_t count = 0;  ///< examples used

  bool ok() const noexcept { return status == StatStatus::kOk; }
};

/// Confusion counts and the ratios derived from them, for a binary classifier.
/// A ratio whose denominator is 0 (precision with no positive predictions, recall with no positive
/// labels, F1 when both are 0) is 0, scikit-learn's zero_division default; the *_defined flags say
/// when that happened.
/// Thread-safe: a value type.
struct BinaryClassificationMetrics {
  StatStatus status = StatStatus::kNotEnoughData;
  std::string reason;
  std::uint64_t true_positives = 0, false_positives = 0, true_negatives = 0, false_negatives = 0;
  double accuracy = 0.0;
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  bool precision_defined = false;
  bool recall_defined = false;

  bool ok() const noexcept { return status == StatStatus::kOk; }
};

namespace detail {

/// Validates 0/1 labels and probabilities in [0, 1]; returns false with the status.
inline bool check_probabilities(std::span<const int> labels, std::span<const double> probs,
                                StatStatus& st, std::string& why) {
  if (labels.size() != probs.size()) {
    throw InvalidArgument(std::to_string(labels.size()) + " labels but " +
                          std::to_string(probs.size()) + " probabilities");
  }
  if (labels.empty()) {
    st = StatStatus::kNotEnoughData;
    why = "no examples";
    return false;
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != 0 && labels[i] != 1) {
      st = StatStatus::kInvalidInput;
      why = "label " + std::to_string(i) + " is " + std::to_string(labels[i]) +
            "; labels must be 0 or 1";
      return false;
    }
    if (!(probs[i] >= 0.0 && probs[i] <= 1.0)) {
      st = StatStatus::kInvalidInput;
      why = "probability " + std::to_string(i) + " is NaN or outside [0, 1]";
      return false;
    }
  }
  return true;
}

inline MetricValue metric_status(StatStatus st, std::string why) {
  MetricValue v;
  v.status = st;
  v.reason = std::move(why);
  return v;
}

}  // namespace detail

/// Mean binary cross-entropy of predicted probabilities of the positive class.
///
/// Reference: sklearn.metrics.log_loss(labels, probs, labels=[0, 1]) (scikit-learn 1.2.1) with its
/// default eps='auto': probabilities are clipped to [eps, 1 - eps], eps = 2.22e-16, and each row
/// (1 - p, p) renormalised, as sklearn does; 1e-12 relative.
/// Degenerate input: no examples -> kNotEnoughData; a label other than 0/1 or a probability that is
/// NaN or outside [0, 1] -> kInvalidInput. Throws InvalidArgument when the spans differ in length.
inline MetricValue log_loss(std::span<const int> labels, std::span<const double> probs) {
  StatStatus st;
  std::string why;
  if (!detail::check_probabilities(labels, probs, st, why))
    return detail::metric_status(st, std::move(why));
  constexpr double eps = std::numeric_limits<double>::epsilon();
  double sum = 0.0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double p = std::fmin(std::fmax(probs[i], eps), 1.0 - eps);
    const double q = 1.0 - p;
    const double s = q + p;
    sum += -std::log((labels[i] == 1 ? p : q) / s);
  }
  MetricValue v;
  v.status = StatStatus::kOk;
  v.count = labels.size();
  v.value = sum / static_cast<double>(labels.size());
  return v;
}

/// Mean squared difference between the 0/1 label and the predicted probability.
/// Reference: sklearn.metrics.brier_score_loss (scikit-learn 1.2.1), 1e-12 relative.
/// Degenerate input and exceptions as log_loss.
inline MetricValue brier_score(std::span<const int> labels, std::span<const double> probs) {
  StatStatus st;
  std::string why;
  if (!detail::check_probabilities(labels, probs, st, why))
    return detail::metric_status(st, std::move(why));
  double sum = 0.0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double d = static_cast<double>(labels[i]) - probs[i];
    sum += d * d;
  }
  MetricValue v;
  v.status = StatStatus::kOk;
  v.count = labels.size();
  v.value = sum / static_cast<double>(labels.size());
  return v;
}

/// Expected calibration error with `bins` equal-width bins on [0, 1]:
///   ECE = sum over non-empty bins b of (n_b / N) |mean label in b - mean probability in b|.
/// Bin b holds probabilities in (b/bins, (b+1)/bins], the first also 0 — the binning of
/// sklearn.calibration.calibration_curve(strategy='uniform'), whose edges are i * (1 / bins).
/// Reference: that binning with calibration_curve's prob_true / prob_pred and the bin counts
/// (scikit-learn 1.2.1), 1e-12 relative.
/// Degenerate input and exceptions as log_loss; throws InvalidArgument when bins == 0.
inline MetricValue expected_calibration_error(std::span<const int> labels,
                                              std::span<const double> probs,
                                              std::size_t bins = 10) {
  if (bins == 0) throw InvalidArgument("expected_calibration_error: bins must be positive");
  StatStatus st;
  std::string why;
  if (!detail::check_probabilities(labels, probs, st, why))
    return detail::metric_status(st, std::move(why));
  const double step = 1.0 / static_cast<double>(bins);
  std::vector<double> edges(bins > 1 ? bins - 1 : 0);
  for (std::size_t i = 1; i < bins; ++i) edges[i - 1] = static_cast<double>(i) * step;
  std::vector<double> sum_p(bins, 0.0), sum_y(bins, 0.0);
  std::vector<std::uint64_t> count(bins, 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    // Number of inner edges strictly below p (numpy searchsorted, side='left').
    const std::size_t b = static_cast<std::size_t>(
        std::lower_bound(edges.begin(), edges.end(), probs[i]) - edges.begin());
    sum_p[b] += probs[i];
    sum_y[b] += static_cast<double>(labels[i]);
    ++count[b];
  }
  const double total = static_cast<double>(labels.size());
  double ece = 0.0;
  for (std::size_t b = 0; b < bins; ++b) {
    if (count[b] == 0) continue;
    const double nb = static_cast<double>(count[b]);
    ece += nb / total * std::fabs(sum_y[b] / nb - sum_p[b] / nb);
  }
  MetricValue v;
  v.status = StatStatus::kOk;
  v.count = labels.size();
  v.value = ece;
  return v;
}

/// Accuracy, precision, recall and F1 of predicted 0/1 labels (positive class 1).
/// Reference: sklearn.metrics accuracy_score, precision_score, recall_score, f1_score (scikit-learn
/// 1.2.1, zero_division='warn' which yields 0), exact.
/// Degenerate input: no examples -> kNotEnoughData; a label or prediction other than 0/1 ->
/// kInvalidInput. Throws InvalidArgument when the spans differ in length.
inline BinaryClassificationMetrics binary_classification_metrics(std::span<const int> labels,
                                                                 std::span<const int> predictions) {
  if (labels.size() != predictions.size()) {
    throw InvalidArgument("binary_classification_metrics: " + std::to_string(labels.size()) +
                          " labels but " + std::to_string(predictions.size()) + " predictions");
  }
  BinaryClassificationMetrics m;
  if (labels.empty()) {
    m.reason = "no examples";
    return m;
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const int y = labels[i], p = predictions[i];
    if ((y != 0 && y != 1) || (p != 0 && p != 1)) {
      m.status = StatStatus::kInvalidInput;
      m.reason = "example " + std::to_string(i) + " has a label or prediction other than 0/1";
      return m;
    }
    if (y == 1) {
      (p == 1 ? m.true_positives : m.false_negatives) += 1;
    } else {
      (p == 1 ? m.false_positives : m.true_negatives) += 1;
    }
  }
  const double tp = static_cast<double>(m.true_positives),
               fp = static_cast<double>(m.false_positives);
  const double fn = static_cast<double>(m.false_negatives),
               tn = static_cast<double>(m.true_negatives);
  m.status = StatStatus::kOk;
  m.accuracy = (tp + tn) / static_cast<double>(labels.size());
  m.precision_defined = tp + fp > 0.0;
  m.recall_defined = tp + fn > 0.0;
  m.precision = m.precision_defined ? tp / (tp + fp) : 0.0;
  m.recall = m.recall_defined ? tp / (tp + fn) : 0.0;
  // scikit-learn 1.2's form: (1 + beta^2) P R / (beta^2 P + R) with beta = 1, 0 when P + R = 0.
  const double denom = m.precision + m.recall;
  m.f1 = denom > 0.0 ? 2.0 * m.precision * m.recall / denom : 0.0;
  return m;
}

/// As above, predicting 1 when the probability is at least `threshold`.
inline BinaryClassificationMetrics binary_classification_metrics(std::span<const int> labels,
                                                                 std::span<const double> probs,
                                                                 double threshold) {
  if (labels.size() != probs.size()) {
    throw InvalidArgument("binary_classification_metrics: " + std::to_string(labels.size()) +
                          " labels but " + std::to_string(probs.size()) + " probabilities");
  }
  std::vector<int> pred(probs.size());
  for (std::size_t i = 0; i < probs.size(); ++i) {
    if (std::isnan(probs[i])) {
      BinaryClassificationMetrics m;
      m.status = StatStatus::kInvalidInput;
      m.reason = "probability " + std::to_string(i) + " is NaN";
      return m;
    }
    pred[i] = probs[i] >= threshold ? 1 : 0;
  }
  return binary_classification_metrics(labels, pred);
}

}  // namespace switchyard::stats
