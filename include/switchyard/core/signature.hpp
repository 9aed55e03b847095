// SPDX-License-Identifier: Apache-2.0
// Signature: a model's named inputs and outputs with dtypes and shapes, checked the MLflow way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <switchyard/core/status.hpp>
#include <switchyard/core/tensor.hpp>

namespace switchyard {

/// One input or output of a model: name, element type and shape, where -1 means "any size"
/// (the batch dimension is usually -1).
struct TensorSpec {
  std::string name;
  DType dtype = DType::kFloat64;
  std::vector<std::int64_t> shape;

  friend bool operator==(const TensorSpec&, const TensorSpec&) = default;
};

/// What a model takes and returns. Inputs are enforced as MLflow enforces a model signature:
/// a missing input is an error, extra inputs are ignored, named inputs are matched by name (a
/// single unnamed input matches a single-input signature), and only lossless dtype conversions
/// are accepted. An empty signature accepts anything.
/// Thread-safe: a value type; const members may be called concurrently.
struct Signature {
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  /// Class names of a classifier's labels, by label index; empty for regressors.
  std::vector<std::string> class_names;

  bool empty() const noexcept { return inputs.empty() && outputs.empty(); }

  /// OK when `input` satisfies this signature; otherwise kInvalidArgument with a message naming the
  /// input, the expected and the actual dtype or shape. Never allocates when the input is valid.
  Status check(const ModelInput& input) const;

  /// Problems that would make callers of `previous` fail against this signature: inputs this one
  /// requires that `previous` did not provide, or incompatible dtypes and shapes. Empty when
  /// compatible.
  std::vector<std::string> incompatibilities_with(const Signature& previous) const;

  friend bool operator==(const Signature&, const Signature&) = default;
};

namespace detail {
inline bool shape_matches(const std::vector<std::int64_t>& spec, const Shape& actual) noexcept {
  if (spec.empty()) return true;
  if (spec.size() != actual.rank()) return false;
  for (std::size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] != -1 && spec[i] != actual[i]) return false;
  }
  return true;
}
inline std::string shape_string(const std::vector<std::int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}
inline bool shapes_compatible(const std::vector<std::int64_t>& a,
                              const std::vector<std::int64_t>& b) noexcept {
  if (a.empty() || b.empty()) return true;
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != -1 && b[i] != -1 && a[i] != b[i]) return false;
  }
  return true;
}
}  // namespace detail

inline Status Signature::check(const ModelInput& input) const {
  for (const auto& spec : inputs) {
    const NamedTensor* got = nullptr;
    if (inputs.size() == 1 && input.size() == 1 && input[0].name.empty()) {
      got = &input[0];
    } else {
      got = input.find(spec.name);
      if (got != nullptr && got->name.empty() && inputs.size() > 1) got = nullptr;
    }
    if (got == nullptr) {
      return Status(ErrorCode::kInvalidArgument, "missing input '" + spec.name + "'");
    }
    if (!is_lossless_conversion(got->tensor.dtype(), spec.dtype)) {
      return Status(ErrorCode::kInvalidArgument,
                    "input '" + spec.name + "' has dtype " +
                        std::string(to_string(got->tensor.dtype())) + ", expected " +
                        std::string(to_string(spec.dtype)) + " (no lossless conversion)");
    }
    if (!detail::shape_matches(spec.shape, got->tensor.shape())) {
      return Status(ErrorCode::kInvalidArgument,
                    "input '" + spec.name + "' has shape " + got->tensor.shape().to_string() +
                        ", expected " + detail::shape_string(spec.shape));
    }
    if (got->tensor.data() == nullptr && got->tensor.size() > 0) {
      return Status(ErrorCode::kInvalidArgument, "input '" + spec.name + "' has no data");
    }
  }
  return {};
}

inline std::vector<std::string> Signature::incompatibilities_with(const Signature& previous) const {
  std::vector<std::string> problems;
  if (previous.empty() || empty()) return problems;
  for (const auto& spec : inputs) {
    const TensorSpec* old = nullptr;
    for (const auto& o : previous.inputs) {
      if (o.name == spec.name) old = &o;
    }
    if (old == nullptr) {
      problems.push_back("input '" + spec.name + "' is required but the previous version had none");
      continue;
    }
    if (!is_lossless_conversion(old->dtype, spec.dtype)) {
      problems.push_back("input '" + spec.name + "' changed dtype from " +
                         std::string(to_string(old->dtype)) + " to " +
                         std::string(to_string(spec.dtype)));
    }
    if (!detail::shapes_compatible(old->shape, spec.shape)) {
      problems.push_back("input '" + spec.name + "' changed shape from " +
                         detail::shape_string(old->shape) + " to " +
                         detail::shape_string(spec.shape));
    }
  }
  for (const auto& out : previous.outputs) {
    bool found = false;
    for (const auto& o : outputs) found = found || o.name == out.name;
    if (!found) problems.push_back("output '" + out.name + "' was removed");
  }
  return problems;
}

}  // namespace switchyard
