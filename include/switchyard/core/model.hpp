// SPDX-License-Identifier: Apache-2.0
// Model: the abstract interface a host implements (or a built-in adapter provides) to serve a version.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <xtensor/xtensor.hpp>

#include <switchyard/core/signature.hpp>
#include <switchyard/core/tensor.hpp>

namespace switchyard {

/// What a model returns for a batch: one row of `values` per input row, and for classifiers a
/// label index and a confidence in [0, 1] per row (empty for regressors).
struct Prediction {
  xt::xtensor<double, 2> values;
  std::vector<std::int32_t> labels;
  std::vector<double> confidence;
};

/// A servable model version.
///
/// predict() must be thread-safe: Switchyard calls it from every request thread at once, with no
/// lock. It receives views over the caller's memory that are valid only during the call. It may
/// throw; a Deployment catches, counts the failure and answers from the fallback variant.
///
/// @code
/// class MyModel final : public switchyard::Model {
///  public:
///   const switchyard::Signature& signature() const noexcept override { return sig_; }
///   std::string_view format() const noexcept override { return "my.format"; }
///   switchyard::Prediction predict(const switchyard::ModelInput& in) const override {
///     auto x = in.front().as_xtensor<double, 2>();   // batch x features, no copy
///     switchyard::Prediction p;
///     p.values = xt::sum(x, {1});  ...
///     return p;
///   }
///  private:
///   switchyard::Signature sig_;
/// };
/// @endcode
class Model {
 public:
  virtual ~Model() = default;
  /// The inputs and outputs this model accepts and returns.
  virtual const Signature& signature() const noexcept = 0;
  /// The artifact format that produced it, e.g. "switchyard.linear"; used for audit and loading.
  virtual std::string_view format() const noexcept = 0;
  /// Scores a batch. Thread-safe; may throw.
  virtual Prediction predict(const ModelInput& input) const = 0;
};

/// A handle that keeps a model alive: a version is unloaded only after its last handle is gone.
using ModelPtr = std::shared_ptr<const Model>;

}  // namespace switchyard
