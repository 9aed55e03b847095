// SPDX-License-Identifier: Apache-2.0
// TensorView: a non-owning, batch-first view of a caller's tensor, and the dtypes Switchyard knows.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <xtensor/xadapt.hpp>

#include <switchyard/core/error.hpp>

namespace switchyard {

/// Element types of model inputs and outputs (MLflow's tensor types, minus strings).
enum class DType : std::uint8_t { kBool, kInt32, kInt64, kFloat32, kFloat64 };

constexpr std::string_view to_string(DType t) noexcept {
  switch (t) {
    case DType::kBool: return "bool";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
  }
  return "unknown";
}

/// Parses "float64", "int32", ...; throws InvalidArgument naming the text otherwise.
DType dtype_from_string(std::string_view text);

/// Size in bytes of one element.
constexpr std::size_t dtype_size(DType t) noexcept {
  switch (t) {
    case DType::kBool: return sizeof(bool);
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
  }
  return 0;
}

/// True when every value of `from` is exactly representable in `to` (MLflow's safe conversions:
/// bool to any number, int32 to int64 or float64, float32 to float64).
constexpr bool is_lossless_conversion(DType from, DType to) noexcept {
  if (from == to) return true;
  switch (from) {
    case DType::kBool: return true;
    case DType::kInt32: return to == DType::kInt64 || to == DType::kFloat64;
    case DType::kFloat32: return to == DType::kFloat64;
    default: return false;
  }
}

/// The C++ element types a tensor may hold: bool, std::int32_t, std::int64_t, float, double.
template <class T>
concept TensorElement =
    std::is_same_v<T, bool> || std::is_same_v<T, std::int32_t> ||
    std::is_same_v<T, std::int64_t> || std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
constexpr DType dtype_of() noexcept {
  if constexpr (std::is_same_v<T, bool>) return DType::kBool;
  else if constexpr (std::is_same_v<T, std::int32_t>) return DType::kInt32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::kInt64;
  else if constexpr (std::is_same_v<T, float>) return DType::kFloat32;
  else {
    static_assert(std::is_same_v<T, double>, "unsupported tensor element type");
    return DType::kFloat64;
  }
}

/// Up to kMaxRank dimensions, batch first. Stored inline: building a view never allocates.
class Shape {
 public:
  static constexpr std::size_t kMaxRank = 4;
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  std::size_t rank() const noexcept { return rank_; }
  std::int64_t operator[](std::size_t i) const noexcept { return dims_[i]; }
  std::span<const std::int64_t> dims() const noexcept { return {dims_.data(), rank_}; }
  /// Product of the dimensions (elements in a tensor of this shape).
  std::size_t elements() const noexcept;
  std::string to_string() const;
  friend bool operator==(const Shape& a, const Shape& b) noexcept {
    return a.dims().size() == b.dims().size() &&
           std::equal(a.dims().begin(), a.dims().end(), b.dims().begin());
  }

 private:
  std::array<std::int64_t, kMaxRank> dims_{};
  std::size_t rank_ = 0;
};

namespace detail {

/// A contiguous range of tensor elements: std::vector<double>, std::array<float, N>,
/// std::span<const std::int32_t>, a C array...
template <class R>
concept ContiguousTensorRange =
    std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
    TensorElement<std::remove_cv_t<std::ranges::range_value_t<R>>>;

/// An Eigen dense vector with unit inner stride (Eigen::VectorXd, Eigen::RowVectorXf, a Map or a
/// contiguous segment of one), recognised by its members so that core need not include Eigen.
/// Matrices are left out on purpose: Eigen stores them column by column, a view reads rows.
template <class V>
concept EigenDenseVector =
    requires(const V& v) {
      { v.data() } -> std::convertible_to<const typename V::Scalar*>;
      { v.size() } -> std::convertible_to<std::ptrdiff_t>;
    } && static_cast<bool>(V::IsVectorAtCompileTime) && V::InnerStrideAtCompileTime == 1 &&
    TensorElement<std::remove_cv_t<typename V::Scalar>>;

template <class R>
concept TensorRange = ContiguousTensorRange<std::remove_cvref_t<R>> ||
                      EigenDenseVector<std::remove_cvref_t<R>>;

/// A range whose elements outlive the expression it appears in: an lvalue, or a view such as
/// std::span. A temporary std::vector is not one (a view of it would dangle at the semicolon).
/// (An Eigen vector must be an lvalue: a temporary Eigen::VectorXd would dangle too.)
template <class R>
concept LastingRange = std::is_lvalue_reference_v<R> || std::ranges::borrowed_range<R>;

}  // namespace detail

/// A read-only view of a batch-first tensor in the caller's memory; it never copies or owns.
/// The caller keeps the memory alive for the duration of the call it passes the view to.
/// Thread-safe: a value type; the viewed memory must not change while a call reads it.
///
/// @code
/// std::vector<double> features = {0.3, 12.5, 1.0};
/// switchyard::TensorView one(features);            // float64, shape [1, 3]: one request
/// std::vector<float> batch(4 * 3);
/// switchyard::TensorView rows(batch, {4, 3});       // float32, shape [4, 3]: 4 rows
/// @endcode
class TensorView {
 public:
  TensorView() = default;
  TensorView(DType dtype, const void* data, Shape shape) noexcept
      : data_(data), shape_(shape), dtype_(dtype) {}
  template <TensorElement T>
  TensorView(const T* data, Shape shape) noexcept : TensorView(dtype_of<T>(), data, shape) {}

  /// A view of a contiguous range of bool, std::int32_t, std::int64_t, float or double (a
  /// std::vector, std::array, std::span, C array, or an Eigen vector), with the given shape. The
  /// dtype follows the element type. Throws InvalidArgument when the shape's element count is not
  /// the range's size. Deleted for a temporary container, whose view would dangle.
  template <class R>
    requires detail::TensorRange<R> && detail::LastingRange<R>
  TensorView(R&& data, Shape shape) : TensorView(view_of(data, shape)) {}
  /// The same range as one row: shape [1, size], the usual shape of a single request's features.
  template <class R>
    requires detail::TensorRange<R> && detail::LastingRange<R>
  explicit TensorView(R&& data) : TensorView(view_of(data, std::nullopt)) {}

  template <class R>
    requires detail::TensorRange<R> && (!detail::LastingRange<R>)
  TensorView(R&& data, Shape shape) = delete;
  template <class R>
    requires detail::TensorRange<R> && (!detail::LastingRange<R>)
  explicit TensorView(R&& data) = delete;

  DType dtype() const noexcept { return dtype_; }
  const Shape& shape() const noexcept { return shape_; }
  const void* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return shape_.elements(); }
  /// Rows in the batch (the first dimension), 0 for a scalar.
  std::size_t batch() const noexcept {
    return shape_.rank() == 0 ? 0 : static_cast<std::size_t>(shape_[0]);
  }

  /// The elements as a span; throws InvalidArgument when T is not the view's dtype.
  template <class T>
  std::span<const T> values() const {
    check<T>();
    return {static_cast<const T*>(data_), size()};
  }

  /// A rank-N xtensor adaptor over the caller's memory (no copy); throws InvalidArgument when T is
  /// not the view's dtype or N is not its rank.
  template <class T, std::size_t N>
  auto as_xtensor() const {
    check<T>();
    if (shape_.rank() != N) {
      throw InvalidArgument("tensor of rank " + std::to_string(shape_.rank()) +
                            " read as rank " + std::to_string(N));
    }
    std::array<std::size_t, N> sh{};
    for (std::size_t i = 0; i < N; ++i) sh[i] = static_cast<std::size_t>(shape_[i]);
    return xt::adapt(static_cast<const T*>(data_), size(), xt::no_ownership(), sh);
  }

 private:
  // The pointer, size and dtype of a TensorRange; `shape` must hold exactly its elements.
  template <class R>
  static TensorView view_of(const R& data, std::optional<Shape> shape) {
    const auto* p = [&] {
      if constexpr (detail::ContiguousTensorRange<R>) return std::ranges::data(data);
      else return data.data();
    }();
    const auto n = [&] {
      if constexpr (detail::ContiguousTensorRange<R>) return std::ranges::size(data);
      else return data.size();
    }();
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(p)>>;
    const std::size_t count = static_cast<std::size_t>(n);
    if (!shape) return TensorView(dtype_of<T>(), p, Shape{1, static_cast<std::int64_t>(count)});
    if (shape->elements() != count) {
      throw InvalidArgument("tensor of shape " + shape->to_string() + " needs " +
                            std::to_string(shape->elements()) + " elements, the range holds " +
                            std::to_string(count));
    }
    return TensorView(dtype_of<T>(), p, *shape);
  }

  template <class T>
  void check() const {
    if (dtype_of<T>() != dtype_) {
      throw InvalidArgument("tensor holds " + std::string(to_string(dtype_)) + ", read as " +
                            std::string(to_string(dtype_of<T>())));
    }
  }

  const void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::kFloat64;
};

/// One named input of a model call.
struct NamedTensor {
  std::string_view name;
  TensorView tensor;
};

/// The inputs of one model call: a single unnamed tensor, or named tensors matched by name.
/// Non-owning like TensorView: names and data belong to the caller. Thread-safe: a value type.
class ModelInput {
 public:
  ModelInput() = default;
  ModelInput(TensorView single) noexcept : single_{std::string_view{}, single}, count_(1) {}  // NOLINT
  ModelInput(std::span<const NamedTensor> named) noexcept  // NOLINT
      : named_(named), count_(named.size()) {}

  std::size_t size() const noexcept { return count_; }
  const NamedTensor& operator[](std::size_t i) const noexcept {
    return named_.empty() ? single_ : named_[i];
  }
  /// The input with this name, or nullptr. An unnamed single input matches any name.
  const NamedTensor* find(std::string_view name) const noexcept;
  /// The first input; the usual way a single-input model reads its features.
  const TensorView& front() const noexcept { return (*this)[0].tensor; }

 private:
  NamedTensor single_{};
  std::span<const NamedTensor> named_{};
  std::size_t count_ = 0;
};

inline Shape::Shape(std::initializer_list<std::int64_t> dims) {
  if (dims.size() > kMaxRank) {
    throw InvalidArgument("tensor rank " + std::to_string(dims.size()) + " exceeds the maximum " +
                          std::to_string(kMaxRank));
  }
  for (auto d : dims) dims_[rank_++] = d;
}

inline std::size_t Shape::elements() const noexcept {
  std::size_t n = rank_ == 0 ? 0 : 1;
  for (std::size_t i = 0; i < rank_; ++i) n *= static_cast<std::size_t>(dims_[i] < 0 ? 0 : dims_[i]);
  return n;
}

inline std::string Shape::to_string() const {
  std::string s = "[";
  for (std::size_t i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

inline const NamedTensor* ModelInput::find(std::string_view name) const noexcept {
  if (named_.empty()) return count_ == 1 ? &single_ : nullptr;
  for (const auto& t : named_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

inline DType dtype_from_string(std::string_view text) {
  for (DType t : {DType::kBool, DType::kInt32, DType::kInt64, DType::kFloat32, DType::kFloat64}) {
    if (to_string(t) == text) return t;
  }
  throw InvalidArgument("unknown dtype '" + std::string(text) + "'");
}

}  // namespace switchyard
