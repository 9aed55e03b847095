// SPDX-License-Identifier: Apache-2.0
// TorchScriptModel: a scripted or traced PyTorch module (TorchScript archive) served through Model.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <switchyard/core/config.hpp>
#include <switchyard/core/model.hpp>
#include <vector>

// Optional adapter: built only with the CMake option SWITCHYARD_WITH_TORCH (target
// switchyard::torch, which links LibTorch). This header does not include LibTorch's: a host that
// includes Switchyard does not compile torch/script.h.

namespace switchyard {

class ModelLoader;

/// Artifact format of a module saved by TorchScript (`torch.jit.script(m).save("m.pt")`, or
/// `torch.jit.trace(...)`): the zip archive `torch::jit::load` reads.
inline constexpr std::string_view kTorchScriptFormat = "torchscript";

/// A TorchScript module run by LibTorch (1.13 or later) on the CPU.
///
/// The module's forward() takes one tensor [batch, n_features] and returns one tensor [batch, k]
/// (or [batch]) of floating values. Its signature: input "features" float64 [-1, n_features]
/// (float32, int32 and bool inputs are accepted as lossless conversions; the module computes in
/// the dtype of its parameters, usually float32), and one float64 output [-1, k] named "value"
/// (Output::kValue), "probability"/"probabilities" (kProbabilities, one or k columns) or
/// "logits" (kLogits). The feature count, feature names and class names come from Options or,
/// where Options leaves them empty, from the module's attributes `n_features: int`,
/// `feature_names: List[str]` and `class_names: List[str]` (a scripted module keeps typed
/// attributes; a traced one keeps none, so its feature count must be given). The output width k
/// is what forward() returns for one row at load.
///
/// predict() runs forward() under c10::InferenceMode (no autograd records). Rows whose dtype is
/// the module's are handed to it as a view over the caller's memory (torch::from_blob, no copy);
/// other dtypes are converted into a new tensor. The module must therefore not modify its input
/// in place (modules built from torch.nn layers do not). A classifier's label is the largest
/// column (one column: label 1 when the probability is above 0.5, the logit above 0), its
/// confidence that label's probability (softmax, or the logistic for one logit column).
///
/// Threads: Options::threads is LibTorch's intra-op thread count inside one predict() call. In
/// LibTorch it is a per-thread OpenMP setting that predict() applies to the calling thread (only
/// when it differs from the thread's current one); it also becomes the default of threads that
/// LibTorch has not initialised yet.
///
/// Thread-safe: predict() and every const member may be called concurrently (TorchScript's
/// interpreter runs one module from many threads; the module is loaded, switched to eval() and
/// run a few times by from_bytes() so its executor has specialised before serving starts).
/// Neither copyable nor movable.
///
/// @code
/// switchyard::ModelLoader loader;
/// switchyard::register_torchscript_format(loader);   // "torchscript"
/// auto v = registry.register_version("payments-fraud",
///     {"torchscript", read_file("fraud.pt")}, {.owner = "risk"});
/// // or directly:
/// auto model = switchyard::TorchScriptModel::from_file("regressor.pt", {.n_features = 5});
/// auto p = model->predict(switchyard::TensorView(rows, {n, 5}));
/// @endcode
class SWITCHYARD_API TorchScriptModel final : public Model {
 public:
  /// How predict() reads the module's output.
  enum class Output {
    kValue,          ///< a regressor's values, as they are
    kProbabilities,  ///< a classifier's probabilities (one column: of label 1)
    kLogits,         ///< a classifier's logits (one column: of label 1)
  };

  struct Options {
    /// What forward() returns. Default kValue; a module that declares `class_names` is read as
    /// kProbabilities unless this says kLogits.
    Output output = Output::kValue;
    /// LibTorch intra-op threads inside one predict() call. Default 1: a server already runs
    /// one request per thread, and more would oversubscribe the cores. At least 1.
    int threads = 1;
    /// Names the model in error messages (a file name, "fraud v3"); empty: "TorchScript model".
    std::string source{};
    /// Features per row; 0: the module's `n_features` attribute. When both are set they must
    /// agree.
    std::size_t n_features = 0;
    /// Column names (n_features of them); empty: the module's `feature_names`, else f0, f1, ...
    std::vector<std::string> feature_names{};
    /// Class names of a classifier, by label; empty: the module's `class_names`, else "0", "1",
    /// ... for kProbabilities and kLogits. The count must fit the output width.
    std::vector<std::string> class_names{};
  };

  /// Loads a TorchScript archive from bytes. Throws LoadError naming Options::source and the
  /// cause when the bytes are not a TorchScript archive, are truncated or damaged, when the
  /// feature count is unknown or disagrees with the module's, when the names do not fit, and
  /// when forward() fails or returns something other than one floating tensor with a row per
  /// input row on a row of zeros. Throws InvalidArgument when threads < 1.
  static std::shared_ptr<const TorchScriptModel> from_bytes(std::string_view bytes,
                                                            Options options);
  static std::shared_ptr<const TorchScriptModel> from_bytes(std::string_view bytes) {
    return from_bytes(bytes, Options{});
  }
  /// Reads `path` and loads it; the path names the model in errors unless Options::source is
  /// set. Throws NotFound when the file cannot be read.
  static std::shared_ptr<const TorchScriptModel> from_file(const std::string& path,
                                                           Options options);
  static std::shared_ptr<const TorchScriptModel> from_file(const std::string& path) {
    return from_file(path, Options{});
  }

  ~TorchScriptModel() override;
  TorchScriptModel(const TorchScriptModel&) = delete;
  TorchScriptModel& operator=(const TorchScriptModel&) = delete;

  const Signature& signature() const noexcept override { return signature_; }
  std::string_view format() const noexcept override { return kTorchScriptFormat; }
  /// Scores a batch (see the class comment). Throws InvalidArgument when the input is missing,
  /// not rank 2 or has another feature count; Error(kModelFailed) naming Options::source with
  /// LibTorch's message when forward() throws or returns an unexpected value.
  Prediction predict(const ModelInput& input) const override;

  std::size_t n_features() const noexcept { return feature_names_.size(); }
  const std::vector<std::string>& feature_names() const noexcept { return feature_names_; }
  /// Output columns per row (k).
  std::size_t n_outputs() const noexcept { return n_outputs_; }
  bool is_classifier() const noexcept { return !signature_.class_names.empty(); }

 private:
  struct Module;  // owns the torch::jit::Module
  TorchScriptModel(std::unique_ptr<Module> module, Options options);
  void describe(Options options);
  Prediction run(const TensorView& x) const;

  std::unique_ptr<Module> module_;
  Output output_;
  int threads_;
  std::string source_;
  std::vector<std::string> feature_names_;
  std::size_t n_outputs_ = 1;
  Signature signature_;
};

/// Registers kTorchScriptFormat with `loader`, building a TorchScriptModel with `options`, so
/// that ModelRegistry::register_version loads and verifies TorchScript artifacts like any other.
/// Throws AlreadyExists when the name is taken.
SWITCHYARD_API void register_torchscript_format(ModelLoader& loader,
                                                TorchScriptModel::Options options = {});

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/models/torchscript_model-inl.hpp>
#endif
