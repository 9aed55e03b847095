// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of torchscript_model.hpp: the calls into LibTorch.
#pragma once

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>
#include <switchyard/core/error.hpp>
#include <switchyard/models/model_loader.hpp>
#include <switchyard/models/torchscript_model.hpp>
#include <utility>

namespace switchyard {

namespace detail::torchscript {

// LibTorch's message without the C++ backtrace c10::Error appends.
inline std::string message_of(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

// A TorchScript archive is a zip file: it starts with a local file header.
inline bool looks_like_zip(std::string_view bytes) {
  return bytes.size() >= 4 && bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4);
}

inline std::optional<c10::ScalarType> scalar_type(DType dtype) noexcept {
  switch (dtype) {
    case DType::kFloat32:
      return c10::ScalarType::Float;
    case DType::kFloat64:
      return c10::ScalarType::Double;
    case DType::kInt32:
      return c10::ScalarType::Int;
    case DType::kInt64:
      return c10::ScalarType::Long;
    case DType::kBool:
      return c10::ScalarType::Bool;
  }
  return std::nullopt;
}

// The module's attribute `name` as a list of strings; empty when it has none. Throws LoadError
// (through `fail`) when the attribute exists with another type.
template <class Fail>
std::vector<std::string> string_list(const torch::jit::Module& m, const char* name, Fail fail) {
  std::vector<std::string> out;
  if (!m.hasattr(name)) return out;
  const c10::IValue v = m.attr(name);
  if (!v.isList()) fail(std::string("its attribute '") + name + "' is not a List[str]");
  for (const c10::IValue& item : v.toListRef()) {
    if (!item.isString()) fail(std::string("its attribute '") + name + "' is not a List[str]");
    out.push_back(item.toStringRef());
  }
  return out;
}

// Sets LibTorch's intra-op thread count for the calling thread when it differs (with OpenMP the
// count is the thread's own setting; see TorchScriptModel's class comment).
inline void use_threads(int threads) {
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
}

}  // namespace detail::torchscript

struct TorchScriptModel::Module {
  torch::jit::Module jit;  // forward() is not const, but safe to run from many threads
  c10::ScalarType dtype = c10::ScalarType::Float;  // of the module's parameters
};

SWITCHYARD_INLINE TorchScriptModel::TorchScriptModel(std::unique_ptr<Module> module,
                                                     Options options)
    : module_(std::move(module)),
      output_(options.output),
      threads_(options.threads),
      source_(options.source) {
  describe(std::move(options));
}

SWITCHYARD_INLINE TorchScriptModel::~TorchScriptModel() = default;

SWITCHYARD_INLINE std::shared_ptr<const TorchScriptModel> TorchScriptModel::from_bytes(
    std::string_view bytes, Options options) {
  if (options.threads < 1) {
    throw InvalidArgument("TorchScriptModel::Options::threads is " +
                          std::to_string(options.threads) + ", expected at least 1");
  }
  if (options.source.empty()) options.source = "TorchScript model";
  const std::string what = options.source + " (" + std::string(kTorchScriptFormat) + ")";
  if (!detail::torchscript::looks_like_zip(bytes)) {
    throw LoadError(what + ": the bytes are not a TorchScript archive (a zip file; " +
                    std::to_string(bytes.size()) + " bytes)");
  }
  auto module = std::make_unique<Module>();
  try {
    std::istringstream in(std::string(bytes), std::ios::binary);
    module->jit = torch::jit::load(in, torch::kCPU);
    module->jit.eval();
  } catch (const std::exception& e) {
    throw LoadError(what +
                    ": LibTorch cannot load it as a TorchScript module (truncated, "
                    "damaged, or saved by torch.save instead of torch.jit.save?): " +
                    detail::torchscript::message_of(e));
  }
  for (const at::Tensor& p : module->jit.parameters()) {
    if (at::isFloatingType(p.scalar_type())) {
      module->dtype = p.scalar_type();
      break;
    }
  }
  // describe() derives the signature and runs forward() on a row of zeros.
  return std::shared_ptr<const TorchScriptModel>(
      new TorchScriptModel(std::move(module), std::move(options)));
}

SWITCHYARD_INLINE std::shared_ptr<const TorchScriptModel> TorchScriptModel::from_file(
    const std::string& path, Options options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NotFound("cannot read TorchScript model file '" + path + "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (options.source.empty()) options.source = path;
  return from_bytes(bytes, std::move(options));
}

SWITCHYARD_INLINE void TorchScriptModel::describe(Options options) {
  const std::string what = source_ + " (" + std::string(kTorchScriptFormat) + ")";
  const auto fail = [&](const std::string& why) { throw LoadError(what + ": " + why); };
  const torch::jit::Module& m = module_->jit;

  std::size_t declared = 0;
  if (m.hasattr("n_features")) {
    const c10::IValue v = m.attr("n_features");
    if (!v.isInt() || v.toInt() < 1) fail("its attribute 'n_features' is not a positive int");
    declared = static_cast<std::size_t>(v.toInt());
  }
  std::size_t n = options.n_features != 0 ? options.n_features : declared;
  if (n == 0) {
    fail("the module declares no n_features attribute; give Options::n_features");
  }
  if (declared != 0 && declared != n) {
    fail("the module declares " + std::to_string(declared) + " features, expected " +
         std::to_string(n));
  }
  feature_names_ = std::move(options.feature_names);
  if (feature_names_.empty())
    feature_names_ = detail::torchscript::string_list(m, "feature_names", fail);
  if (feature_names_.empty()) {
    for (std::size_t i = 0; i < n; ++i) feature_names_.push_back("f" + std::to_string(i));
  }
  if (feature_names_.size() != n) {
    fail(std::to_string(feature_names_.size()) + " feature names for " + std::to_string(n) +
         " features");
  }
  std::vector<std::string> class_names = std::move(options.class_names);
  if (class_names.empty()) class_names = detail::torchscript::string_list(m, "class_names", fail);
  if (output_ == Output::kValue && !class_names.empty()) output_ = Output::kProbabilities;

  signature_.inputs = {{"features", DType::kFloat64, {-1, static_cast<std::int64_t>(n)}}};
  signature_.outputs = {{"value", DType::kFloat64, {-1, -1}}};  // width set below

  // Warm-up: the output width comes from one row, and TorchScript's executor profiles and
  // optimises the graph over its first runs, before concurrent requests arrive.
  const std::vector<float> zeros(n, 0.0f);
  Prediction p;
  try {
    for (int i = 0; i < 3; ++i) {
      p = run(TensorView(zeros.data(), {1, static_cast<std::int64_t>(n)}));
    }
  } catch (const std::exception& e) {
    fail("forward() fails on a row of " + std::to_string(n) + " zeros: " + e.what());
  }
  n_outputs_ = p.values.shape()[1];

  if (output_ != Output::kValue) {
    const std::size_t n_classes = n_outputs_ == 1 ? 2 : n_outputs_;
    if (class_names.empty()) {
      for (std::size_t i = 0; i < n_classes; ++i) class_names.push_back(std::to_string(i));
    }
    if (class_names.size() != n_classes) {
      fail(std::to_string(class_names.size()) + " class names for " + std::to_string(n_classes) +
           " classes (forward() returns " + std::to_string(n_outputs_) + " columns)");
    }
  }
  std::string output = "value";
  if (output_ == Output::kLogits)
    output = "logits";
  else if (output_ == Output::kProbabilities)
    output = n_outputs_ == 1 ? "probability" : "probabilities";
  signature_.outputs = {{output, DType::kFloat64, {-1, static_cast<std::int64_t>(n_outputs_)}}};
  signature_.class_names = std::move(class_names);
}

// forward() on a [rows, n] batch; values only (labels are added by predict()).
SWITCHYARD_INLINE Prediction TorchScriptModel::run(const TensorView& x) const {
  const std::size_t rows = x.batch();
  const std::int64_t n = static_cast<std::int64_t>(n_features());
  const auto dtype = detail::torchscript::scalar_type(x.dtype());
  if (!dtype) throw InvalidArgument(source_ + ": unsupported input dtype");

  detail::torchscript::use_threads(threads_);
  c10::InferenceMode inference;
  at::Tensor out;
  try {
    // A view over the caller's rows; converted (copied) only when the module wants another dtype.
    at::Tensor in =
        torch::from_blob(const_cast<void*>(x.data()), {static_cast<std::int64_t>(rows), n},
                         torch::TensorOptions().dtype(*dtype));
    if (*dtype != module_->dtype) in = in.to(module_->dtype);
    std::vector<c10::IValue> args{std::move(in)};
    const c10::IValue result = module_->jit.forward(std::move(args));
    if (!result.isTensor()) {
      throw Error(ErrorCode::kModelFailed,
                  source_ + ": forward() returned a " + result.tagKind() + ", not a tensor");
    }
    out = result.toTensor();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kModelFailed,
                source_ + ": forward() threw: " + detail::torchscript::message_of(e));
  }
  if (!at::isFloatingType(out.scalar_type()) || out.dim() < 1 || out.dim() > 2 ||
      out.size(0) != static_cast<std::int64_t>(rows)) {
    throw Error(ErrorCode::kModelFailed,
                source_ + ": forward() returned a " +
                    std::string(c10::toString(out.scalar_type())) + " tensor of " +
                    std::to_string(out.dim()) + " dimensions and " +
                    std::to_string(out.dim() > 0 ? out.size(0) : 0) + " rows for " +
                    std::to_string(rows) + " rows (expected floating values, [rows] or [rows, k])");
  }
  const std::size_t width = out.dim() == 2 ? static_cast<std::size_t>(out.size(1)) : 1;
  Prediction p;
  p.values = xt::xtensor<double, 2>::from_shape({rows, width});
  if (out.scalar_type() == c10::ScalarType::Float && out.is_contiguous()) {
    // The usual case, read in place: a conversion by LibTorch would cost a tensor (a third of a
    // one-row call, measured in torchscript_model_bench).
    std::copy_n(out.data_ptr<float>(), rows * width, p.values.begin());
  } else {
    const at::Tensor values = out.to(c10::ScalarType::Double).contiguous();
    std::copy_n(values.data_ptr<double>(), rows * width, p.values.begin());
  }
  return p;
}

SWITCHYARD_INLINE Prediction TorchScriptModel::predict(const ModelInput& input) const {
  const NamedTensor* named = nullptr;
  if (input.size() == 1 && input[0].name.empty())
    named = &input[0];
  else
    named = input.find(signature_.inputs.front().name);
  if (named == nullptr) {
    throw InvalidArgument(source_ + ": missing input '" + signature_.inputs.front().name + "'");
  }
  const TensorView& x = named->tensor;
  if (x.shape().rank() != 2 || static_cast<std::size_t>(x.shape()[1]) != n_features()) {
    throw InvalidArgument(source_ + ": input has shape " + x.shape().to_string() +
                          ", expected [n, " + std::to_string(n_features()) + "]");
  }
  const std::size_t rows = x.batch();
  if (rows == 0) {
    Prediction empty;
    empty.values = xt::xtensor<double, 2>::from_shape({0, n_outputs_});
    return empty;
  }
  if (x.data() == nullptr) throw InvalidArgument(source_ + ": input has no data");
  Prediction p = run(x);
  if (p.values.shape()[1] != n_outputs_) {
    throw Error(ErrorCode::kModelFailed, source_ + ": forward() returned " +
                                             std::to_string(p.values.shape()[1]) +
                                             " columns, at load " + std::to_string(n_outputs_));
  }
  if (output_ == Output::kValue) return p;

  p.labels.resize(rows);
  p.confidence.resize(rows);
  const bool logits = output_ == Output::kLogits;
  for (std::size_t r = 0; r < rows; ++r) {
    if (n_outputs_ == 1) {
      const double v = p.values(r, 0);
      const double prob = logits ? 1.0 / (1.0 + std::exp(-v)) : v;
      const bool positive = prob > 0.5;
      p.labels[r] = positive ? 1 : 0;
      p.confidence[r] = positive ? prob : 1.0 - prob;
      continue;
    }
    std::size_t best = 0;
    for (std::size_t c = 1; c < n_outputs_; ++c) {
      if (p.values(r, c) > p.values(r, best)) best = c;
    }
    p.labels[r] = static_cast<std::int32_t>(best);
    double confidence = p.values(r, best);
    if (logits) {  // the softmax at the best class
      double total = 0.0;
      for (std::size_t c = 0; c < n_outputs_; ++c)
        total += std::exp(p.values(r, c) - p.values(r, best));
      confidence = 1.0 / total;
    }
    p.confidence[r] = confidence;
  }
  return p;
}

SWITCHYARD_INLINE void register_torchscript_format(ModelLoader& loader,
                                                   TorchScriptModel::Options options) {
  loader.register_format(std::string(kTorchScriptFormat), [options](std::string_view bytes) {
    return std::static_pointer_cast<const Model>(TorchScriptModel::from_bytes(bytes, options));
  });
}

}  // namespace switchyard
