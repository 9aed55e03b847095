// SPDX-License-Identifier: Apache-2.0
// XgboostModel: an XGBoost booster (JSON or UBJSON model file) served through the Model interface.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <switchyard/core/config.hpp>
#include <switchyard/core/model.hpp>
#include <vector>

// Optional adapter: built only with the CMake option SWITCHYARD_WITH_XGBOOST (target
// switchyard::xgboost, which links libxgboost). This header does not include XGBoost's.

namespace switchyard {

class ModelLoader;

/// Artifact format of a model saved by XGBoost as JSON (`booster.save_model("m.json")`).
inline constexpr std::string_view kXgboostJsonFormat = "xgboost.json";
/// Artifact format of a model saved by XGBoost as UBJSON (`booster.save_model("m.ubj")`).
inline constexpr std::string_view kXgboostUbjsonFormat = "xgboost.ubj";

/// A gradient-boosted tree model run by XGBoost's C API (XGBoost 1.7 or later).
///
/// Signature, derived from the model file: input "features" float64 [-1, n_features] (float32,
/// int32 and bool inputs are accepted as lossless conversions; XGBoost computes in float32), and
/// one float64 output: "probability" [-1, 1] for a binary classifier (`binary:logistic`),
/// "probabilities" [-1, k] for `multi:softprob`, "margin" when Options::output is kMargin, and
/// "value" [-1, 1] otherwise. Column names are feature_names() (XGBoost's "f0".."fN" when the
/// file has none).
///
/// predict() hands XGBoost the caller's rows in place (XGBoosterPredictFromDense over an array
/// interface: float32, float64, int32 and int64 are read without a copy); NaN marks a missing
/// value. A binary classifier's label is 1 when the probability is above 0.5 (the margin above
/// 0), its confidence the probability of the chosen label; a multi-class model's label is the
/// most probable class.
///
/// Thread-safe: predict() and every const member may be called concurrently. XGBoost documents
/// in-place prediction as thread-safe; each calling thread gets its own output buffer inside the
/// booster, and the booster is configured (and warmed up with one prediction) before
/// from_bytes() returns, so concurrent calls never reconfigure it. Neither copyable nor movable.
///
/// @code
/// switchyard::ModelLoader loader;
/// switchyard::register_xgboost_formats(loader);       // "xgboost.json", "xgboost.ubj"
/// auto v = registry.register_version("payments-fraud",
///     {"xgboost.json", read_file("fraud.json")}, {.owner = "risk"});
/// // or directly:
/// auto model = switchyard::XgboostModel::from_bytes(bytes, switchyard::kXgboostJsonFormat);
/// auto p = model->predict(switchyard::TensorView(rows, {n, model->n_features()}));
/// @endcode
class SWITCHYARD_API XgboostModel final : public Model {
 public:
  /// What predict() returns for a classifier.
  enum class Output {
    kValue,   ///< probabilities for classifiers, the prediction for regressors (XGBoost's default)
    kMargin,  ///< raw margins (the untransformed sum of the trees, XGBoost's output_margin)
  };

  struct Options {
    Output output = Output::kValue;
    /// Threads XGBoost may use inside one predict() call. Default 1: a server already runs one
    /// request per thread, and more would oversubscribe the cores. At least 1.
    int threads = 1;
    /// Names the model in error messages (a file name, "fraud v3"); empty: "XGBoost model".
    std::string source{};
    /// Class names of a classifier, by label; empty: "0", "1", ... The count must match.
    std::vector<std::string> class_names{};
    /// The feature count the caller expects, checked against the file; 0: any.
    std::size_t expected_features = 0;
  };

  /// Loads a model from bytes in `format` (kXgboostJsonFormat or kXgboostUbjsonFormat).
  /// Throws LoadError naming Options::source and the cause when the bytes are not a model of
  /// that format (including XGBoost's legacy binary format), are truncated or damaged, when the
  /// feature count is not Options::expected_features or the class names do not fit, and when
  /// the model fails its warm-up prediction. Throws InvalidArgument for an unknown format or
  /// threads < 1.
  static std::shared_ptr<const XgboostModel> from_bytes(std::string_view bytes,
                                                         std::string_view format,
                                                         Options options);
  static std::shared_ptr<const XgboostModel> from_bytes(std::string_view bytes,
                                                         std::string_view format) {
    return from_bytes(bytes, format, Options{});
  }
  /// Reads `path` (format from its extension: .json or .ubj) and loads it; the path names the
  /// model in errors unless Options::source is set. Throws NotFound when the file cannot be read.
  static std::shared_ptr<const XgboostModel> from_file(const std::string& path, Options options);
  static std::shared_ptr<const XgboostModel> from_file(const std::string& path) {
    return from_file(path, Options{});
  }

  ~XgboostModel() override;
  XgboostModel(const XgboostModel&) = delete;
  XgboostModel& operator=(const XgboostModel&) = delete;

  const Signature& signature() const noexcept override { return signature_; }
  std::string_view format() const noexcept override { return format_; }
  /// Scores a batch (see the class comment). Throws InvalidArgument when the input is missing,
  /// not rank 2, has another feature count or an unsupported dtype; Error(kModelFailed) with
  /// XGBoost's message when XGBoost fails.
  Prediction predict(const ModelInput& input) const override;

  std::size_t n_features() const noexcept { return feature_names_.size(); }
  const std::vector<std::string>& feature_names() const noexcept { return feature_names_; }
  /// XGBoost's objective, e.g. "binary:logistic", "reg:squarederror".
  const std::string& objective() const noexcept { return objective_; }
  /// Output columns per row (1, or the class count of a multi-class model).
  std::size_t n_outputs() const noexcept { return n_outputs_; }
  bool is_classifier() const noexcept { return !signature_.class_names.empty(); }

 private:
  struct Booster;  // owns the XGBoost handle
  XgboostModel(std::unique_ptr<Booster> booster, std::string_view format, Options options);
  void describe(const Options& options);

  std::unique_ptr<Booster> booster_;
  std::string format_;
  Output output_;
  std::string source_;
  std::string objective_;
  std::vector<std::string> feature_names_;
  std::size_t n_outputs_ = 1;
  Signature signature_;
};

/// Registers kXgboostJsonFormat and kXgboostUbjsonFormat with `loader`, each building an
/// XgboostModel with `options`, so that ModelRegistry::register_version loads and verifies
/// XGBoost artifacts like any other. Throws AlreadyExists when either name is taken (neither is
/// then registered).
SWITCHYARD_API void register_xgboost_formats(ModelLoader& loader,
                                             XgboostModel::Options options = {});

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/models/xgboost_model-inl.hpp>
#endif
