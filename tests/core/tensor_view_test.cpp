// SPDX-License-Identifier: Apache-2.0
// TensorView over the containers a host already has: std::vector, std::array, std::span, C arrays
// and Eigen vectors, with a shape or as one row; always a view of the caller's memory, never a copy.
#include <switchyard/core/tensor.hpp>

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace switchyard {
namespace {

// What compiles: every supported element type, lvalues and views; not a temporary container
// (its view would dangle), an unsupported element type, or a column-major Eigen matrix.
static_assert(std::is_constructible_v<TensorView, std::vector<double>&, Shape>);
static_assert(std::is_constructible_v<TensorView, const std::vector<float>&, Shape>);
static_assert(std::is_constructible_v<TensorView, std::vector<std::int32_t>&>);
static_assert(std::is_constructible_v<TensorView, std::array<std::int64_t, 3>&>);
static_assert(std::is_constructible_v<TensorView, std::span<const double>, Shape>);
static_assert(std::is_constructible_v<TensorView, std::span<double>>);
static_assert(std::is_constructible_v<TensorView, Eigen::VectorXd&>);
static_assert(std::is_constructible_v<TensorView, const Eigen::RowVectorXf&, Shape>);
static_assert(!std::is_constructible_v<TensorView, std::vector<double>, Shape>);
static_assert(!std::is_constructible_v<TensorView, std::vector<double>&&>);
static_assert(!std::is_constructible_v<TensorView, Eigen::VectorXd>);
static_assert(!std::is_constructible_v<TensorView, std::vector<char>&, Shape>);
static_assert(!std::is_constructible_v<TensorView, std::vector<bool>&, Shape>);  // not contiguous
static_assert(!std::is_constructible_v<TensorView, Eigen::MatrixXd&, Shape>);
// One row is a choice the caller makes on purpose: no silent conversion from a container.
static_assert(!std::is_convertible_v<std::vector<double>&, TensorView>);

TEST(TensorViewTest, a_vector_with_a_shape_is_viewed_in_place) {
  std::vector<double> rows = {1, 2, 3, 4, 5, 6};
  const TensorView view(rows, {2, 3});
  EXPECT_EQ(view.dtype(), DType::kFloat64);
  EXPECT_EQ(view.shape(), (Shape{2, 3}));
  EXPECT_EQ(view.batch(), 2u);
  EXPECT_EQ(view.data(), rows.data());  // the caller's memory, no copy
  rows[4] = 50;
  EXPECT_EQ(view.values<double>()[4], 50);
}

TEST(TensorViewTest, a_range_without_a_shape_is_one_row) {
  const std::vector<float> features = {0.5f, 1.5f, 2.5f};
  const TensorView view(features);
  EXPECT_EQ(view.dtype(), DType::kFloat32);
  EXPECT_EQ(view.shape(), (Shape{1, 3}));
  EXPECT_EQ(view.batch(), 1u);
  EXPECT_EQ(view.data(), features.data());
}

TEST(TensorViewTest, the_dtype_follows_the_element_type) {
  std::vector<std::int32_t> i32 = {1, 2};
  std::array<std::int64_t, 2> i64 = {1, 2};
  const bool flags[2] = {true, false};
  std::vector<double> f64 = {1, 2};
  EXPECT_EQ(TensorView(i32).dtype(), DType::kInt32);
  EXPECT_EQ(TensorView(i64).dtype(), DType::kInt64);
  EXPECT_EQ(TensorView(flags).dtype(), DType::kBool);
  EXPECT_EQ(TensorView(std::span<const double>(f64), {2, 1}).dtype(), DType::kFloat64);
  EXPECT_EQ(TensorView(std::span<double>(f64)).data(), f64.data());
}

TEST(TensorViewTest, eigen_vectors_are_viewed_in_place) {
  Eigen::VectorXd x(4);
  x << 1, 2, 3, 4;
  const TensorView view(x);
  EXPECT_EQ(view.dtype(), DType::kFloat64);
  EXPECT_EQ(view.shape(), (Shape{1, 4}));
  EXPECT_EQ(view.data(), x.data());
  const Eigen::RowVectorXf r = Eigen::RowVectorXf::Constant(6, 2.0f);
  const TensorView rows(r, {3, 2});
  EXPECT_EQ(rows.dtype(), DType::kFloat32);
  EXPECT_EQ(rows.data(), r.data());
}

TEST(TensorViewTest, a_shape_that_does_not_cover_the_range_throws) {
  std::vector<double> features(5);
  try {
    (void)TensorView(features, {1, 6});
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("shape [1, 6] needs 6 elements, the range holds 5"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)TensorView(features, {2, 2}), InvalidArgument);
}

TEST(TensorViewTest, an_empty_range_is_an_empty_row) {
  std::vector<double> none;
  const TensorView view(none);
  EXPECT_EQ(view.shape(), (Shape{1, 0}));
  EXPECT_EQ(view.size(), 0u);
}

TEST(TensorViewTest, pointer_views_still_take_any_shape) {
  const double rows[4] = {1, 2, 3, 4};
  const TensorView view(rows, Shape{2, 2});
  EXPECT_EQ(view.data(), rows);
  EXPECT_EQ(view.shape(), (Shape{2, 2}));
}

}  // namespace
}  // namespace switchyard
