// SPDX-License-Identifier: Apache-2.0
// LinearModel and LogisticModel: the built-in linear regressor and logistic classifier, on Eigen.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <switchyard/core/config.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/core/model.hpp>
#include <vector>

namespace switchyard {

/// The artifact format both built-in linear models serialise to (see LinearModel::to_artifact).
inline constexpr std::string_view kLinearFormat = "switchyard.linear";
/// The version of that format this build writes; it reads versions 1 to kLinearFormatVersion.
inline constexpr std::uint32_t kLinearFormatVersion = 1;
/// Upper bound on the weights (n_features x n_outputs) an artifact may declare, so hostile bytes
/// can never request a huge allocation.
inline constexpr std::uint64_t kLinearMaxWeights = 100'000'000;

namespace detail {

/// The affine map x -> xW + b shared by the built-in linear models, with its validated signature.
/// Construction and set_signature() throw InvalidArgument naming the model kind and the field.
/// Thread-safe: scores() is const and touches no mutable state; set_signature() must not race
/// with anything.
class SWITCHYARD_API AffineLayer {
 public:
  /// `kind` ("LinearModel") prefixes messages; `output_name` names the default output tensor.
  AffineLayer(Eigen::MatrixXd weights, Eigen::VectorXd bias, const char* kind,
              std::string_view output_name);

  /// The scores xW + b of the rows of the signature's input, batch x n_outputs. Reads a float64
  /// input in place (Eigen::Map, no copy); widens float32, int32 and bool. Throws InvalidArgument
  /// when the input is missing, has another rank or feature count, an unreadable dtype, or gives
  /// a non-finite score (a NaN or infinite feature, or overflow).
  xt::xtensor<double, 2> scores(const ModelInput& input) const;

  /// Replaces the signature after checking it fits: one input of shape [-1, n_features] in a
  /// readable dtype, one float64 output of shape [-1, n_outputs], and `n_classes` distinct,
  /// non-empty class names (0 for a regressor).
  void set_signature(Signature signature, std::size_t n_classes);

  const Signature& signature() const noexcept { return signature_; }
  const Eigen::MatrixXd& weights() const noexcept { return weights_; }
  const Eigen::VectorXd& bias() const noexcept { return bias_; }
  std::size_t n_features() const noexcept { return static_cast<std::size_t>(weights_.rows()); }
  std::size_t n_outputs() const noexcept { return static_cast<std::size_t>(weights_.cols()); }

  /// Same weights, bias (bit for bit, up to -0.0 == 0.0) and signature.
  friend bool operator==(const AffineLayer& a, const AffineLayer& b) {
    return a.weights_.rows() == b.weights_.rows() && a.weights_.cols() == b.weights_.cols() &&
           a.weights_ == b.weights_ && a.bias_ == b.bias_ && a.signature_ == b.signature_;
  }

 private:
  Eigen::MatrixXd weights_;
  Eigen::VectorXd bias_;
  Signature signature_;
  const char* kind_;
};

/// The weights of a single-output model as the n x 1 matrix AffineLayer takes: an Eigen column
/// or row vector of n weights, or an n x 1 matrix. Throws InvalidArgument naming `kind` for any
/// other shape (several outputs need a bias vector, one entry per output).
template <class Derived>
Eigen::MatrixXd single_output_weights(const Eigen::MatrixBase<Derived>& weights, const char* kind) {
  if (weights.cols() == 1) return weights;
  if (weights.rows() == 1) return weights.transpose();
  throw InvalidArgument(std::string(kind) + ": weights are " + std::to_string(weights.rows()) +
                        " x " + std::to_string(weights.cols()) +
                        " but the bias is a single number; a single-output model takes one weight "
                        "per feature (for several outputs pass one bias per output column)");
}

}  // namespace detail

/// A linear regressor: values = xW + b for each input row x, with W of n_features x n_outputs
/// and b of n_outputs. No labels, no confidence.
///
/// Signature: input "features" float64 [-1, n_features], output "scores" float64
/// [-1, n_outputs]; set_signature() may rename them. predict() reads float64 input in place
/// (no copy) and widens float32, int32 and bool input losslessly.
///
/// Thread-safe: predict() and every const member may be called concurrently; set_signature()
/// must happen before the model is shared.
///
/// @code
/// Eigen::VectorXd w(2);
/// w << 2.0, -1.0;
/// auto model = std::make_shared<switchyard::LinearModel>(w, 0.5);  // one output
/// double rows[] = {1.0, 1.0, 3.0, 2.0};  // a batch of 2 rows of 2 features
/// auto p = model->predict(switchyard::TensorView(rows, {2, 2}));  // p.values == {{1.5}, {4.5}}
/// std::string bytes = model->to_artifact();  // format "switchyard.linear"
/// @endcode
class SWITCHYARD_API LinearModel final : public Model {
 public:
  /// Throws InvalidArgument when W is empty, b's length is not W's column count, or any weight
  /// or bias is NaN or infinite (the message names the entry).
  LinearModel(Eigen::MatrixXd weights, Eigen::VectorXd bias);
  /// A single-output regressor, value = x.w + bias: `weights` holds one weight per feature (an
  /// Eigen::VectorXd, a row vector or an n x 1 matrix). Throws InvalidArgument for another shape,
  /// and as the constructor above.
  template <class Derived>
  LinearModel(const Eigen::MatrixBase<Derived>& weights, double bias)
      : LinearModel(detail::single_output_weights(weights, "LinearModel"),
                    Eigen::VectorXd::Constant(1, bias)) {}

  const Signature& signature() const noexcept override { return layer_.signature(); }
  std::string_view format() const noexcept override { return kLinearFormat; }
  /// values = xW + b, batch x n_outputs. Throws InvalidArgument as AffineLayer::scores does.
  Prediction predict(const ModelInput& input) const override;

  /// Renames inputs/outputs; throws InvalidArgument when `signature` does not fit the weights
  /// or carries class names.
  void set_signature(Signature signature);

  const Eigen::MatrixXd& weights() const noexcept { return layer_.weights(); }
  const Eigen::VectorXd& bias() const noexcept { return layer_.bias(); }
  std::size_t n_features() const noexcept { return layer_.n_features(); }
  std::size_t n_outputs() const noexcept { return layer_.n_outputs(); }

  /// The model as a "switchyard.linear" artifact. Deterministic: equal models give equal bytes
  /// on every platform (little-endian), so equal models share one content-addressed file.
  std::string to_artifact() const;
  /// Reads an artifact written by to_artifact(). Throws LoadError naming what is wrong when the
  /// bytes are foreign, truncated, corrupted, of a newer format version, hold a LogisticModel, or
  /// hold an invalid model. Never allocates more than the bytes justify.
  static LinearModel from_artifact(std::string_view bytes);

  friend bool operator==(const LinearModel& a, const LinearModel& b) {
    return a.layer_ == b.layer_;
  }

 private:
  detail::AffineLayer layer_;
};

/// A logistic classifier on the scores z = xW + b.
///
/// One output column (binary): values = sigmoid(z), the probability of label 1; label = 1 when
/// z > 0, else 0; confidence = the probability of the chosen label. k > 1 output columns
/// (multinomial): values = softmax(z) per row; label = the first column of highest probability;
/// confidence = that probability.
///
/// Signature: input "features" float64 [-1, n_features], output "probabilities" float64
/// [-1, n_outputs], class_names "0", "1", ... unless given (2 names for one output column, k
/// for k columns). Input handling as LinearModel.
///
/// Thread-safe: predict() and every const member may be called concurrently; set_signature()
/// and set_class_names() must happen before the model is shared.
///
/// @code
/// Eigen::VectorXd w(3);
/// w << 0.8, -1.2, 0.05;
/// switchyard::LogisticModel fraud(w, -2.0, {"legit", "fraud"});  // one weight per feature
/// std::vector<double> features(batch * 3);
/// auto p = fraud.predict(switchyard::TensorView(features, {batch, 3}));
/// // p.labels[i] is 0 or 1, p.confidence[i] the probability of that label
/// @endcode
class SWITCHYARD_API LogisticModel final : public Model {
 public:
  /// Throws InvalidArgument as LinearModel's constructor does, and when `class_names` is neither
  /// empty nor n_classes() distinct non-empty names.
  LogisticModel(Eigen::MatrixXd weights, Eigen::VectorXd bias,
                std::vector<std::string> class_names = {});
  /// A binary classifier, P(label 1) = sigmoid(x.w + bias): `weights` holds one weight per
  /// feature (an Eigen::VectorXd, a row vector or an n x 1 matrix); `class_names` are the names
  /// of labels 0 and 1. Throws InvalidArgument for another shape, and as the constructor above.
  template <class Derived>
  LogisticModel(const Eigen::MatrixBase<Derived>& weights, double bias,
                std::vector<std::string> class_names = {})
      : LogisticModel(detail::single_output_weights(weights, "LogisticModel"),
                      Eigen::VectorXd::Constant(1, bias), std::move(class_names)) {}

  const Signature& signature() const noexcept override { return layer_.signature(); }
  std::string_view format() const noexcept override { return kLinearFormat; }
  /// Probabilities, labels and confidences as described above. Throws InvalidArgument as
  /// AffineLayer::scores does.
  Prediction predict(const ModelInput& input) const override;

  /// Replaces the signature; throws InvalidArgument when it does not fit the weights or its
  /// class_names are not n_classes() distinct non-empty names.
  void set_signature(Signature signature);
  /// Replaces the class names, with the same checks.
  void set_class_names(std::vector<std::string> class_names);

  const Eigen::MatrixXd& weights() const noexcept { return layer_.weights(); }
  const Eigen::VectorXd& bias() const noexcept { return layer_.bias(); }
  std::size_t n_features() const noexcept { return layer_.n_features(); }
  std::size_t n_outputs() const noexcept { return layer_.n_outputs(); }
  /// 2 for one output column, otherwise the number of columns.
  std::size_t n_classes() const noexcept { return n_outputs() == 1 ? 2 : n_outputs(); }

  /// As LinearModel::to_artifact; the artifact records that it holds a logistic model.
  std::string to_artifact() const;
  /// As LinearModel::from_artifact; throws LoadError when the bytes hold a LinearModel.
  static LogisticModel from_artifact(std::string_view bytes);

  friend bool operator==(const LogisticModel& a, const LogisticModel& b) {
    return a.layer_ == b.layer_;
  }

 private:
  detail::AffineLayer layer_;
};

/// Reads a "switchyard.linear" artifact into whichever model it holds (LinearModel or
/// LogisticModel): the factory ModelLoader registers for that format. Throws LoadError as
/// LinearModel::from_artifact does.
SWITCHYARD_API ModelPtr load_linear_artifact(std::string_view bytes);

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/models/linear_model-inl.hpp>
#endif
