// SPDX-License-Identifier: Apache-2.0
// Log loss, Brier score, calibration error and F1 against scikit-learn 1.2.1.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <switchyard/stats/classification_metrics.hpp>
#include <vector>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

std::vector<double> sigmoid(std::span<const double> a) {
  std::vector<double> p(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) p[i] = 1.0 / (1.0 + std::exp(-a[i]));
  return p;
}

// Reference: sklearn log_loss(labels=[0,1]), brier_score_loss and an ECE from
// calibration_curve(n_bins=10, strategy='uniform') with the same binning's counts (scikit-learn
// 1.2.1); 1e-12 relative.
TEST(ClassificationMetricsTest, probability_metrics_match_sklearn) {
  for (const auto& c : reference::kAucCases) {
    SCOPED_TRACE(c.name);
    const std::vector<double> p = sigmoid(c.a);
    EXPECT_REL(log_loss(c.labels, p).value, c.log_loss, 1e-12);
    EXPECT_REL(brier_score(c.labels, p).value, c.brier, 1e-12);
    EXPECT_REL(expected_calibration_error(c.labels, p, 10).value, c.ece, 1e-12);
  }
}

// Probabilities on bin edges, 0, 1 and values that log_loss must clip; same references.
TEST(ClassificationMetricsTest, edge_probabilities_match_sklearn) {
  EXPECT_REL(log_loss(reference::kEdgeLabels, reference::kEdgeProbs).value, reference::kEdgeLogLoss,
             1e-12);
  EXPECT_REL(brier_score(reference::kEdgeLabels, reference::kEdgeProbs).value,
             reference::kEdgeBrier, 1e-12);
  EXPECT_REL(expected_calibration_error(reference::kEdgeLabels, reference::kEdgeProbs, 10).value,
             reference::kEdgeEce10, 1e-12);
  EXPECT_REL(expected_calibration_error(reference::kEdgeLabels, reference::kEdgeProbs, 4).value,
             reference::kEdgeEce4, 1e-12);
}

// Reference: sklearn accuracy_score, precision_score, recall_score, f1_score; exact.
TEST(ClassificationMetricsTest, confusion_metrics_match_sklearn) {
  const BinaryClassificationMetrics m =
      binary_classification_metrics(reference::kClsLabels, reference::kClsPredictions);
  ASSERT_TRUE(m.ok());
  EXPECT_DOUBLE_EQ(m.accuracy, reference::kClsAccuracy);
  EXPECT_DOUBLE_EQ(m.precision, reference::kClsPrecision);
  EXPECT_DOUBLE_EQ(m.recall, reference::kClsRecall);
  EXPECT_DOUBLE_EQ(m.f1, reference::kClsF1);
  EXPECT_EQ(m.true_positives + m.false_positives + m.true_negatives + m.false_negatives, 12u);
}

TEST(ClassificationMetricsTest, undefined_ratios_are_zero_and_flagged) {
  const std::vector<int> y{0, 0, 1}, none{0, 0, 0};
  const BinaryClassificationMetrics m = binary_classification_metrics(y, none);
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m.precision_defined);
  EXPECT_EQ(m.precision, 0.0);
  EXPECT_EQ(m.f1, 0.0);
  EXPECT_TRUE(m.recall_defined);
  const std::vector<double> probs{0.2, 0.4, 0.6};
  EXPECT_EQ(binary_classification_metrics(y, probs, 0.5).true_positives, 1u);
}

TEST(ClassificationMetricsTest, degenerate_inputs) {
  const std::vector<int> y{0, 1};
  EXPECT_EQ(log_loss(std::vector<int>{}, std::vector<double>{}).status, StatStatus::kNotEnoughData);
  EXPECT_EQ(log_loss(y, std::vector<double>{0.5, 1.5}).status, StatStatus::kInvalidInput);
  EXPECT_EQ(
      brier_score(y, std::vector<double>{0.5, std::numeric_limits<double>::quiet_NaN()}).status,
      StatStatus::kInvalidInput);
  EXPECT_EQ(
      expected_calibration_error(std::vector<int>{0, 3}, std::vector<double>{0.5, 0.5}).status,
      StatStatus::kInvalidInput);
  EXPECT_THROW(log_loss(y, std::vector<double>{0.5}), InvalidArgument);
  EXPECT_THROW(expected_calibration_error(y, std::vector<double>{0.5, 0.5}, 0), InvalidArgument);
  EXPECT_EQ(binary_classification_metrics(std::vector<int>{}, std::vector<int>{}).status,
            StatStatus::kNotEnoughData);
}

}  // namespace
}  // namespace switchyard::stats
