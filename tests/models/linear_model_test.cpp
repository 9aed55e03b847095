// SPDX-License-Identifier: Apache-2.0
// Tests for LinearModel and LogisticModel: predictions, input handling and validation.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <switchyard/models/linear_model.hpp>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace switchyard {
namespace {

using testing::expect_error;

Eigen::MatrixXd matrix(Eigen::Index rows, Eigen::Index cols, std::initializer_list<double> v) {
  Eigen::MatrixXd m(rows, cols);
  auto it = v.begin();
  for (Eigen::Index i = 0; i < rows; ++i) {
    for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = *it++;
  }
  return m;
}

Eigen::VectorXd vector(std::initializer_list<double> v) {
  Eigen::VectorXd out(static_cast<Eigen::Index>(v.size()));
  Eigen::Index i = 0;
  for (double x : v) out(i++) = x;
  return out;
}

// W = [[2, 0.5], [-1, 3]] (2 features x 2 outputs), b = [0.5, -1].
LinearModel two_by_two() {
  return LinearModel(matrix(2, 2, {2.0, 0.5, -1.0, 3.0}), vector({0.5, -1.0}));
}

// ------------------------------------------------------------------------------------------
// LinearModel

TEST(LinearModelTest, predicts_xw_plus_b_for_each_row) {
  const LinearModel model = two_by_two();
  const std::array<double, 4> rows = {1.0, 1.0, 3.0, 2.0};
  const Prediction p = model.predict(TensorView(rows.data(), {2, 2}));
  // Row [1, 1]: [2 - 1 + 0.5, 0.5 + 3 - 1] = [1.5, 2.5]; row [3, 2]: [6 - 2 + 0.5, 1.5 + 6 - 1].
  ASSERT_EQ(p.values.shape(0), 2u);
  ASSERT_EQ(p.values.shape(1), 2u);
  EXPECT_DOUBLE_EQ(p.values(0, 0), 1.5);
  EXPECT_DOUBLE_EQ(p.values(0, 1), 2.5);
  EXPECT_DOUBLE_EQ(p.values(1, 0), 4.5);
  EXPECT_DOUBLE_EQ(p.values(1, 1), 6.5);
  EXPECT_TRUE(p.labels.empty());
  EXPECT_TRUE(p.confidence.empty());
}

TEST(LinearModelTest, widens_float32_int32_and_bool_inputs_losslessly) {
  const LinearModel model = two_by_two();
  const std::array<float, 4> f32 = {1.0f, 0.0f, 3.0f, 2.0f};
  const std::array<std::int32_t, 4> i32 = {1, 0, 3, 2};
  const bool b[4] = {true, false, true, true};
  const Prediction pf = model.predict(TensorView(f32.data(), {2, 2}));
  const Prediction pi = model.predict(TensorView(i32.data(), {2, 2}));
  const Prediction pb = model.predict(TensorView(b, {2, 2}));
  // Row [1, 0]: [2 + 0.5, 0.5 - 1] = [2.5, -0.5]; row [3, 2]: [4.5, 6.5]; bool row [1, 1]:
  // [1.5, 2.5].
  EXPECT_DOUBLE_EQ(pf.values(0, 0), 2.5);
  EXPECT_DOUBLE_EQ(pf.values(0, 1), -0.5);
  EXPECT_DOUBLE_EQ(pf.values(1, 0), 4.5);
  EXPECT_DOUBLE_EQ(pf.values(1, 1), 6.5);
  EXPECT_EQ(pi.values, pf.values);
  EXPECT_DOUBLE_EQ(pb.values(0, 0), 2.5);
  EXPECT_DOUBLE_EQ(pb.values(1, 0), 1.5);
  EXPECT_DOUBLE_EQ(pb.values(1, 1), 2.5);
}

TEST(LinearModelTest, rejects_int64_input_as_lossy) {
  const LinearModel model = two_by_two();
  const std::array<std::int64_t, 2> rows = {1, 2};
  expect_error<InvalidArgument>(
      [&] {
        model.predict(TensorView(rows.data(), {1, 2}));
      },
      {"LinearModel", "int64", "float64"});
}

TEST(LinearModelTest, wrong_feature_count_names_expected_and_actual) {
  const LinearModel model = two_by_two();
  const std::array<double, 6> rows = {1, 2, 3, 4, 5, 6};
  expect_error<InvalidArgument>(
      [&] {
        model.predict(TensorView(rows.data(), {2, 3}));
      },
      {"'features'", "3 features per row", "expected 2"});
}

TEST(LinearModelTest, rejects_inputs_that_are_not_a_batch_of_rows) {
  const LinearModel model = two_by_two();
  const std::array<double, 2> row = {1, 2};
  expect_error<InvalidArgument>([&] { model.predict(TensorView(row.data(), {2})); },
                                {"shape [2]", "expected [-1, 2]"});
  expect_error<InvalidArgument>(
      [&] {
        model.predict(TensorView(row.data(), {-1, 2}));
      },
      {"shape [-1, 2]", "negative dimension"});
  expect_error<InvalidArgument>(
      [&] {
        model.predict(TensorView(DType::kFloat64, nullptr, {1, 2}));
      },
      {"no data"});
}

TEST(LinearModelTest, reads_its_input_by_name_and_ignores_extra_inputs) {
  const LinearModel model = two_by_two();
  const std::array<double, 2> row = {1.0, 1.0};
  const std::array<double, 3> other = {9, 9, 9};
  const std::array<NamedTensor, 2> named = {
      NamedTensor{"extra", TensorView(other.data(), {1, 3})},
      NamedTensor{"features", TensorView(row.data(), {1, 2})}};
  const Prediction p = model.predict(ModelInput(named));
  EXPECT_DOUBLE_EQ(p.values(0, 0), 1.5);

  const std::array<NamedTensor, 1> wrong = {NamedTensor{"x", TensorView(row.data(), {1, 2})}};
  expect_error<InvalidArgument>([&] { model.predict(ModelInput(wrong)); },
                                {"missing input 'features'"});
  expect_error<InvalidArgument>([&] { model.predict(ModelInput()); }, {"missing input"});
}

TEST(LinearModelTest, empty_batch_gives_empty_values) {
  const LinearModel model = two_by_two();
  const Prediction p = model.predict(TensorView(DType::kFloat64, nullptr, {0, 2}));
  EXPECT_EQ(p.values.shape(0), 0u);
  EXPECT_EQ(p.values.shape(1), 2u);
}

TEST(LinearModelTest, non_finite_features_throw_instead_of_returning_nan) {
  const LinearModel model = two_by_two();
  const std::array<double, 4> nan_row = {1.0, 1.0, std::nan(""), 0.0};
  expect_error<InvalidArgument>(
      [&] {
        model.predict(TensorView(nan_row.data(), {2, 2}));
      },
      {"row 1", "non-finite"});
  const double inf = std::numeric_limits<double>::infinity();
  const std::array<double, 2> inf_row = {inf, 0.0};
  expect_error<InvalidArgument>(
      [&] {
        model.predict(TensorView(inf_row.data(), {1, 2}));
      },
      {"row 0", "non-finite"});
  // Finite features whose score overflows to infinity.
  const std::array<double, 2> huge = {1e308, -1e308};
  expect_error<InvalidArgument>(
      [&] {
        model.predict(TensorView(huge.data(), {1, 2}));
      },
      {"overflow"});
}

TEST(LinearModelTest, construction_rejects_non_finite_or_mismatched_weights) {
  expect_error<InvalidArgument>(
      [] {
        LinearModel(matrix(2, 1, {1.0, std::nan("")}), vector({0.0}));
      },
      {"LinearModel", "weights(1, 0) is NaN"});
  expect_error<InvalidArgument>(
      [] { LinearModel(matrix(1, 1, {1.0}), vector({-std::numeric_limits<double>::infinity()})); },
      {"bias(0) is -inf"});
  expect_error<InvalidArgument>(
      [] {
        LinearModel(matrix(2, 2, {1, 2, 3, 4}), vector({0.0}));
      },
      {"bias has 1 entries, expected 2"});
  expect_error<InvalidArgument>([] { LinearModel(Eigen::MatrixXd(0, 1), vector({0.0})); },
                                {"0 x 1"});
}

TEST(LinearModelTest, default_signature_describes_features_and_scores) {
  const LinearModel model = two_by_two();
  const Signature& s = model.signature();
  ASSERT_EQ(s.inputs.size(), 1u);
  EXPECT_EQ(s.inputs[0], (TensorSpec{"features", DType::kFloat64, {-1, 2}}));
  ASSERT_EQ(s.outputs.size(), 1u);
  EXPECT_EQ(s.outputs[0], (TensorSpec{"scores", DType::kFloat64, {-1, 2}}));
  EXPECT_TRUE(s.class_names.empty());
  EXPECT_EQ(model.format(), "switchyard.linear");
  EXPECT_EQ(model.n_features(), 2u);
  EXPECT_EQ(model.n_outputs(), 2u);
}

TEST(LinearModelTest, renamed_signature_changes_the_input_it_reads) {
  LinearModel model = two_by_two();
  Signature s = model.signature();
  s.inputs[0].name = "x";
  s.outputs[0].name = "price";
  model.set_signature(s);
  EXPECT_EQ(model.signature(), s);
  const std::array<double, 2> row = {1.0, 1.0};
  const std::array<NamedTensor, 1> named = {NamedTensor{"x", TensorView(row.data(), {1, 2})}};
  EXPECT_DOUBLE_EQ(model.predict(ModelInput(named)).values(0, 1), 2.5);
}

TEST(LinearModelTest, set_signature_rejects_what_does_not_fit_the_weights) {
  LinearModel model = two_by_two();
  const Signature good = model.signature();
  Signature s = good;
  s.inputs[0].shape = {-1, 3};
  expect_error<InvalidArgument>([&] { model.set_signature(s); },
                                {"'features'", "[-1, 3]", "expected [-1, 2]"});
  s = good;
  s.outputs[0].dtype = DType::kFloat32;
  expect_error<InvalidArgument>([&] { model.set_signature(s); }, {"'scores'", "float32"});
  s = good;
  s.inputs[0].dtype = DType::kInt64;
  expect_error<InvalidArgument>([&] { model.set_signature(s); }, {"int64"});
  s = good;
  s.class_names = {"a", "b"};
  expect_error<InvalidArgument>([&] { model.set_signature(s); }, {"2 class names, expected 0"});
  s = good;
  s.inputs.push_back(s.inputs[0]);
  expect_error<InvalidArgument>([&] { model.set_signature(s); }, {"exactly one input"});
  EXPECT_EQ(model.signature(), good) << "a rejected signature must leave the model unchanged";
}

TEST(LinearModelTest, concurrent_predictions_agree) {
  const LinearModel model = two_by_two();
  std::vector<std::thread> threads;
  std::array<int, 4> mismatches{};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::array<double, 2> row = {static_cast<double>(i), static_cast<double>(t)};
        const Prediction p = model.predict(TensorView(row.data(), {1, 2}));
        if (p.values(0, 0) != 2.0 * i - t + 0.5) ++mismatches[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, (std::array<int, 4>{}));
}

// ------------------------------------------------------------------------------------------
// LogisticModel

TEST(LogisticModelTest, binary_model_returns_sigmoid_label_and_confidence) {
  // One feature, weight 1, bias 0: the logit is the feature itself.
  const LogisticModel model(matrix(1, 1, {1.0}), vector({0.0}));
  const std::array<double, 3> logits = {std::log(3.0), 0.0, -std::log(3.0)};
  const Prediction p = model.predict(TensorView(logits.data(), {3, 1}));
  // sigmoid(ln 3) = 3 / (3 + 1) = 0.75; sigmoid(0) = 0.5; sigmoid(-ln 3) = 1 / (1 + 3) = 0.25.
  ASSERT_EQ(p.values.shape(1), 1u);
  EXPECT_NEAR(p.values(0, 0), 0.75, 1e-15);
  EXPECT_NEAR(p.values(1, 0), 0.5, 1e-15);
  EXPECT_NEAR(p.values(2, 0), 0.25, 1e-15);
  EXPECT_EQ(p.labels, (std::vector<std::int32_t>{1, 0, 0}));  // label 1 only when z > 0
  EXPECT_NEAR(p.confidence[0], 0.75, 1e-15);
  EXPECT_NEAR(p.confidence[1], 0.5, 1e-15);
  EXPECT_NEAR(p.confidence[2], 0.75, 1e-15);  // probability of label 0
}

TEST(LogisticModelTest, multinomial_model_returns_softmax_argmax_and_max_probability) {
  const LogisticModel model(Eigen::MatrixXd::Identity(3, 3), Eigen::VectorXd::Zero(3));
  // exp of the logits is (1, 2, 5): probabilities 1/8, 2/8, 5/8. Then (4, 4, 1): 4/9, 4/9, 1/9.
  const std::array<double, 6> logits = {0.0,           std::log(2.0), std::log(5.0),
                                        std::log(4.0), std::log(4.0), 0.0};
  const Prediction p = model.predict(TensorView(logits.data(), {2, 3}));
  EXPECT_NEAR(p.values(0, 0), 1.0 / 8, 1e-15);
  EXPECT_NEAR(p.values(0, 1), 2.0 / 8, 1e-15);
  EXPECT_NEAR(p.values(0, 2), 5.0 / 8, 1e-15);
  EXPECT_NEAR(p.values(1, 0), 4.0 / 9, 1e-15);
  EXPECT_NEAR(p.values(1, 1), 4.0 / 9, 1e-15);
  EXPECT_NEAR(p.values(1, 2), 1.0 / 9, 1e-15);
  EXPECT_EQ(p.labels, (std::vector<std::int32_t>{2, 0}));  // a tie goes to the first class
  EXPECT_NEAR(p.confidence[0], 5.0 / 8, 1e-15);
  EXPECT_NEAR(p.confidence[1], 4.0 / 9, 1e-15);
}

// Reference: scikit-learn 1.2.1 (Debian python3-sklearn, numpy 1.24.2), LogisticRegression with
// coef_ = W^T, intercept_ = b, classes_ = [0, 1, 2] (multi_class="multinomial") or [0, 1]
// (binary); predict_proba on the same two rows, printed with "%.17g". Tolerance 1e-14.
TEST(LogisticModelTest, matches_scikit_learn_predict_proba) {
  const std::array<double, 6> rows = {0.5, -1.25, 2.0, -3.0, 0.75, 0.1};
  const LogisticModel multi(matrix(3, 3, {0.2, -0.4, 1.1, 0.7, 0.3, -0.6, -0.5, 0.9, 0.25}),
                            vector({0.1, -0.2, 0.05}));
  const Prediction pm = multi.predict(TensorView(rows.data(), {2, 3}));
  const double expected[2][3] = {{0.020066820368240177, 0.29858890365062768, 0.68134427598113212},
                                 {0.2063968733995335, 0.78823863888440671, 0.0053644877160597404}};
  for (std::size_t r = 0; r < 2; ++r) {
    for (std::size_t c = 0; c < 3; ++c) EXPECT_NEAR(pm.values(r, c), expected[r][c], 1e-14);
  }
  EXPECT_EQ(pm.labels, (std::vector<std::int32_t>{2, 1}));  // sklearn predict: [2 1]

  const LogisticModel binary(matrix(3, 1, {0.8, -1.2, 0.05}), vector({-0.3}));
  const Prediction pb = binary.predict(TensorView(rows.data(), {2, 3}));
  EXPECT_NEAR(pb.values(0, 0), 0.84553473491646525, 1e-14);
  EXPECT_NEAR(pb.values(1, 0), 0.026726748405721486, 1e-14);
  EXPECT_EQ(pb.labels, (std::vector<std::int32_t>{1, 0}));  // sklearn predict: [1 0]
  EXPECT_NEAR(pb.confidence[1], 1.0 - 0.026726748405721486, 1e-14);
}

TEST(LogisticModelTest, extreme_logits_saturate_without_nan) {
  const LogisticModel binary(matrix(1, 1, {1.0}), vector({0.0}));
  const std::array<double, 2> z = {800.0, -800.0};
  const Prediction pb = binary.predict(TensorView(z.data(), {2, 1}));
  EXPECT_EQ(pb.values(0, 0), 1.0);
  EXPECT_EQ(pb.values(1, 0), 0.0);
  EXPECT_EQ(pb.confidence, (std::vector<double>{1.0, 1.0}));

  const LogisticModel multi(Eigen::MatrixXd::Identity(2, 2), Eigen::VectorXd::Zero(2));
  const std::array<double, 2> big = {1000.0, -1000.0};
  const Prediction pm = multi.predict(TensorView(big.data(), {1, 2}));
  EXPECT_EQ(pm.values(0, 0), 1.0);
  EXPECT_EQ(pm.values(0, 1), 0.0);
  EXPECT_EQ(pm.labels[0], 0);
}

TEST(LogisticModelTest, widens_float32_input) {
  const LogisticModel model(matrix(2, 1, {1.0, -1.0}), vector({0.0}));
  const std::array<float, 2> row = {2.5f, 2.5f};  // logit 0
  const Prediction p = model.predict(TensorView(row.data(), {1, 2}));
  EXPECT_EQ(p.values(0, 0), 0.5);
  EXPECT_EQ(p.labels[0], 0);
}

TEST(LogisticModelTest, class_names_default_to_indices_and_are_validated) {
  const LogisticModel binary(matrix(1, 1, {1.0}), vector({0.0}));
  EXPECT_EQ(binary.signature().class_names, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(binary.n_classes(), 2u);
  EXPECT_EQ(binary.signature().outputs[0], (TensorSpec{"probabilities", DType::kFloat64, {-1, 1}}));

  LogisticModel named(Eigen::MatrixXd::Identity(2, 3), Eigen::VectorXd::Zero(3),
                      {"cat", "dog", "bird"});
  EXPECT_EQ(named.signature().class_names, (std::vector<std::string>{"cat", "dog", "bird"}));
  expect_error<InvalidArgument>(
      [&] {
        named.set_class_names({"cat", "dog"});
      },
      {"LogisticModel", "2 class names, expected 3"});
  expect_error<InvalidArgument>(
      [&] {
        named.set_class_names({"cat", "dog", "cat"});
      },
      {"'cat' appears twice"});
  expect_error<InvalidArgument>([&] { named.set_class_names({"cat", "", "bird"}); }, {"empty"});
  EXPECT_EQ(named.signature().class_names, (std::vector<std::string>{"cat", "dog", "bird"}));
  named.set_class_names({"a", "b", "c"});
  EXPECT_EQ(named.signature().class_names, (std::vector<std::string>{"a", "b", "c"}));
  expect_error<InvalidArgument>(
      [] { LogisticModel(matrix(1, 1, {1.0}), vector({0.0}), {"only-one"}); },
      {"1 class names, expected 2"});
}

TEST(LogisticModelTest, binary_model_from_a_weight_vector_and_a_scalar_bias) {
  // What a newcomer writes: one weight per feature and one bias, the features in a std::vector.
  Eigen::VectorXd w(3);
  w << 0.8, -1.2, 0.05;
  const LogisticModel model(w, -2.0, {"legit", "fraud"});
  EXPECT_EQ(model, LogisticModel(matrix(3, 1, {0.8, -1.2, 0.05}), vector({-2.0}),
                                 {"legit", "fraud"}));
  EXPECT_EQ(model.n_features(), 3u);
  EXPECT_EQ(model.n_classes(), 2u);
  const std::vector<double> features = {5.0, 1.0, 2.0};
  const Prediction p = model.predict(TensorView(features));
  // z = 4 - 1.2 + 0.1 - 2 = 0.9: label 1 ("fraud") with probability sigmoid(0.9).
  ASSERT_EQ(p.labels.size(), 1u);
  EXPECT_EQ(p.labels[0], 1);
  EXPECT_NEAR(p.confidence[0], 1.0 / (1.0 + std::exp(-0.9)), 1e-15);
  // A row vector and an expression are weight vectors too; an int bias is a number.
  const Eigen::RowVectorXd row = w.transpose();
  EXPECT_EQ(LogisticModel(row, -2.0), LogisticModel(w, -2.0));
  EXPECT_EQ(LogisticModel(Eigen::VectorXd::Constant(2, 0.5), 0).bias()(0), 0.0);
}

TEST(LogisticModelTest, scalar_bias_with_several_output_columns_is_rejected) {
  expect_error<InvalidArgument>(
      [] { LogisticModel(matrix(2, 2, {1.0, 2.0, 3.0, 4.0}), 0.5); },
      {"LogisticModel", "weights are 2 x 2", "bias is a single number"});
  expect_error<InvalidArgument>([] { LogisticModel(Eigen::VectorXd(), 0.5); },
                                {"LogisticModel", "at least one feature"});
}

TEST(LinearModelTest, single_output_regressor_from_a_weight_vector_and_a_scalar_bias) {
  Eigen::VectorXd w(2);
  w << 2.0, -1.0;
  const LinearModel model(w, 0.5);
  EXPECT_EQ(model, LinearModel(matrix(2, 1, {2.0, -1.0}), vector({0.5})));
  std::array<double, 4> rows = {1.0, 1.0, 3.0, 2.0};
  const Prediction p = model.predict(TensorView(rows, {2, 2}));
  EXPECT_DOUBLE_EQ(p.values(0, 0), 1.5);
  EXPECT_DOUBLE_EQ(p.values(1, 0), 4.5);
  expect_error<InvalidArgument>([] { LinearModel(matrix(2, 2, {1, 2, 3, 4}), 1.0); },
                                {"LinearModel", "weights are 2 x 2"});
}

TEST(LogisticModelTest, construction_rejects_nan_weights) {
  expect_error<InvalidArgument>(
      [] {
        LogisticModel(matrix(1, 2, {0.0, std::nan("")}), vector({0.0, 0.0}));
      },
      {"LogisticModel", "weights(0, 1) is NaN"});
}

}  // namespace
}  // namespace switchyard
