// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of xgboost_model.hpp: the calls into XGBoost's C API.
#pragma once

#include <xgboost/c_api.h>

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <switchyard/core/error.hpp>
#include <switchyard/models/model_loader.hpp>
#include <switchyard/models/xgboost_model.hpp>
#include <utility>

namespace switchyard {

namespace detail::xgboost {

// XGBoost's message for the last failed call on this thread, without the stack trace it appends.
inline std::string last_error() {
  const char* e = XGBGetLastError();
  if (e == nullptr || *e == '\0') return "unknown XGBoost error";
  std::string message(e);
  const auto trace = message.find("\nStack trace");
  if (trace != std::string::npos) message.erase(trace);
  return message;
}

// The in-place prediction configs (XGBoost's "missing" is NaN, as in its Python package).
inline constexpr const char* kPredictValue =
    R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
    R"("strict_shape": false, "missing": NaN, "cache_id": 0})";
inline constexpr const char* kPredictMargin =
    R"({"type": 1, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
    R"("strict_shape": false, "missing": NaN, "cache_id": 0})";

// NumPy's array-interface type string of a dtype XGBoost reads in place, or nullptr.
inline const char* typestr(DType dtype) noexcept {
  switch (dtype) {
    case DType::kFloat32: return "<f4";
    case DType::kFloat64: return "<f8";
    case DType::kInt32: return "<i4";
    case DType::kInt64: return "<i8";
    case DType::kBool: return "|b1";
  }
  return nullptr;
}

// True when the bytes open the way XGBoost writes `format`: JSON as `{"`, UBJSON as `{` and a
// length marker (a letter). XGBoost itself would also accept its legacy binary format, which
// neither format name covers.
inline bool looks_like(std::string_view bytes, std::string_view format) {
  if (bytes.size() < 2 || bytes[0] != '{') return false;
  if (format == kXgboostJsonFormat) return bytes[1] == '"';
  return std::isalpha(static_cast<unsigned char>(bytes[1])) != 0;
}

// The binary objective whose value is a probability (binary:logitraw and binary:hinge return a
// margin and a 0/1 decision: they are served as plain values).
// Checks that UBJSON bytes are well formed in the subset XGBoost writes, before XGBoost parses
// them: XGBoost 1.7's reader trusts every length it reads (a truncated or hostile file makes it
// read past the end of the buffer), so every length is checked here against the bytes left.
// Returns an empty string when they are, else what is wrong and where.
class UbjsonCheck {
 public:
  explicit UbjsonCheck(std::string_view bytes) : b_(bytes) {}

  std::string run() {
    if (!value(0)) return error_;
    return {};
  }

 private:
  static constexpr int kMaxDepth = 64;

  bool fail(const std::string& what) {
    error_ = what + " at byte " + std::to_string(pos_) + " of " + std::to_string(b_.size());
    return false;
  }
  bool need(std::size_t n) {
    return n <= b_.size() - pos_ || fail("the file ends inside a value (truncated?)");
  }
  bool skip(std::size_t n) {
    if (!need(n)) return false;
    pos_ += n;
    return true;
  }
  bool expect(char c) {
    if (!need(1)) return false;
    if (b_[pos_] != c) return fail(std::string("expected '") + c + "'");
    ++pos_;
    return true;
  }
  // An 'L'-marked big-endian int64 count, at most `limit`.
  bool count(std::size_t limit, std::size_t& n) {
    if (!expect('L') || !need(8)) return false;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(b_[pos_++]);
    if (v > limit) return fail("a length of " + std::to_string(static_cast<std::int64_t>(v)) +
                               " exceeds the bytes left");
    n = static_cast<std::size_t>(v);
    return true;
  }
  bool string() {
    std::size_t n = 0;
    return count(b_.size() - pos_, n) && skip(n);
  }
  static std::size_t scalar_size(char marker) {
    switch (marker) {
      case 'Z': case 'T': case 'F': return 0;
      case 'i': case 'U': case 'C': return 1;
      case 'I': return 2;
      case 'l': case 'd': return 4;
      case 'L': return 8;
      default: return static_cast<std::size_t>(-1);
    }
  }
  bool value(int depth) {
    if (depth > kMaxDepth) return fail("values nest too deep");
    if (!need(1)) return false;
    const char marker = b_[pos_++];
    if (marker == '{') {
      while (need(1) && b_[pos_] != '}') {
        if (!string() || !value(depth + 1)) return false;
      }
      return expect('}');
    }
    if (marker == 'S') return string();
    if (marker == '[') return array(depth);
    const std::size_t size = scalar_size(marker);
    if (size == static_cast<std::size_t>(-1)) {
      --pos_;
      return fail("unknown UBJSON marker " + std::to_string(static_cast<unsigned char>(marker)));
    }
    return skip(size);
  }
  bool array(int depth) {
    if (!need(1)) return false;
    std::size_t n = 0;
    if (b_[pos_] == '$') {  // typed array: '$' type '#' count, then count fixed-size elements
      ++pos_;
      if (!need(1)) return false;
      const char type = b_[pos_++];
      if (type != 'd' && type != 'U' && type != 'l' && type != 'L') {
        --pos_;
        return fail("unsupported typed array");
      }
      const std::size_t size = scalar_size(type);
      return expect('#') && count((b_.size() - pos_) / size, n) && skip(n * size);
    }
    if (b_[pos_] == '#') {  // counted array: each element takes at least one byte
      ++pos_;
      if (!count(b_.size() - pos_, n)) return false;
      for (std::size_t i = 0; i < n; ++i) {
        if (!value(depth + 1)) return false;
      }
      return true;
    }
    while (need(1) && b_[pos_] != ']') {
      if (!value(depth + 1)) return false;
    }
    return expect(']');
  }

  std::string_view b_;
  std::size_t pos_ = 0;
  std::string error_;
};

inline bool is_binary_classifier(std::string_view objective) {
  return objective == "binary:logistic";
}

// This thread's proxy DMatrix, made on its first prediction and freed when the thread ends.
// Given one, XGBoosterPredictFromDense points it at the call's rows instead of making a new one
// each call (a third of a one-row call's time, measured in xgboost_model_bench). A proxy holds
// no model state, so one per thread serves every booster; no two calls share one at a time.
inline DMatrixHandle thread_proxy() {
  struct Proxy {
    DMatrixHandle handle = nullptr;
    Proxy() {
      if (XGProxyDMatrixCreate(&handle) != 0) handle = nullptr;  // then XGBoost makes its own
    }
    Proxy(const Proxy&) = delete;
    Proxy& operator=(const Proxy&) = delete;
    ~Proxy() {
      if (handle != nullptr) XGDMatrixFree(handle);
    }
  };
  thread_local Proxy proxy;
  return proxy.handle;
}

}  // namespace detail::xgboost

struct XgboostModel::Booster {
  BoosterHandle handle = nullptr;
  Booster() = default;
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;
  ~Booster() {
    if (handle != nullptr) XGBoosterFree(handle);
  }
};

SWITCHYARD_INLINE XgboostModel::XgboostModel(std::unique_ptr<Booster> booster,
                                             std::string_view format, Options options)
    : booster_(std::move(booster)),
      format_(format),
      output_(options.output),
      source_(options.source) {
  describe(options);
}

SWITCHYARD_INLINE XgboostModel::~XgboostModel() = default;

SWITCHYARD_INLINE std::shared_ptr<const XgboostModel> XgboostModel::from_bytes(
    std::string_view bytes, std::string_view format, Options options) {
  if (format != kXgboostJsonFormat && format != kXgboostUbjsonFormat) {
    throw InvalidArgument("unknown XGBoost model format '" + std::string(format) + "' (expected '" +
                          std::string(kXgboostJsonFormat) + "' or '" +
                          std::string(kXgboostUbjsonFormat) + "')");
  }
  if (options.threads < 1) {
    throw InvalidArgument("XgboostModel::Options::threads is " + std::to_string(options.threads) +
                          ", expected at least 1");
  }
  if (options.source.empty()) options.source = "XGBoost model";
  const std::string what = options.source + " (" + std::string(format) + ")";
  if (!detail::xgboost::looks_like(bytes, format)) {
    throw LoadError(what + ": the bytes are not an XGBoost " +
                    (format == kXgboostJsonFormat ? "JSON" : "UBJSON") + " model (" +
                    std::to_string(bytes.size()) + " bytes)");
  }
  if (format == kXgboostUbjsonFormat) {
    const std::string problem = detail::xgboost::UbjsonCheck(bytes).run();
    if (!problem.empty()) throw LoadError(what + ": not a well-formed UBJSON model: " + problem);
  }
  auto booster = std::make_unique<Booster>();
  if (XGBoosterCreate(nullptr, 0, &booster->handle) != 0) {
    throw LoadError(what + ": XGBoost could not create a booster: " + detail::xgboost::last_error());
  }
  if (XGBoosterLoadModelFromBuffer(booster->handle, bytes.data(),
                                   static_cast<bst_ulong>(bytes.size())) != 0) {
    throw LoadError(what + ": XGBoost cannot read it (truncated or damaged?): " +
                    detail::xgboost::last_error());
  }
  const std::string threads = std::to_string(options.threads);
  if (XGBoosterSetParam(booster->handle, "nthread", threads.c_str()) != 0) {
    throw LoadError(what + ": cannot set nthread: " + detail::xgboost::last_error());
  }
  // describe() reads the file's facts and runs one prediction on a row of missing values: the
  // booster configures itself on its first prediction, which must not happen concurrently.
  return std::shared_ptr<const XgboostModel>(
      new XgboostModel(std::move(booster), format, std::move(options)));
}

SWITCHYARD_INLINE std::shared_ptr<const XgboostModel> XgboostModel::from_file(
    const std::string& path, Options options) {
  std::string_view format;
  if (path.ends_with(".json")) format = kXgboostJsonFormat;
  else if (path.ends_with(".ubj")) format = kXgboostUbjsonFormat;
  else throw InvalidArgument("XGBoost model file '" + path + "' is neither .json nor .ubj");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NotFound("cannot read XGBoost model file '" + path + "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (options.source.empty()) options.source = path;
  return from_bytes(bytes, format, std::move(options));
}

SWITCHYARD_INLINE void XgboostModel::describe(const Options& options) {
  const std::string what = source_ + " (" + format_ + ")";
  BoosterHandle h = booster_->handle;

  bst_ulong n_features = 0;
  if (XGBoosterGetNumFeature(h, &n_features) != 0) {
    throw LoadError(what + ": cannot read its feature count: " + detail::xgboost::last_error());
  }
  if (n_features == 0) throw LoadError(what + ": the model has no features");
  if (options.expected_features != 0 && options.expected_features != n_features) {
    throw LoadError(what + ": the model has " + std::to_string(n_features) +
                    " features, expected " + std::to_string(options.expected_features));
  }
  bst_ulong n_names = 0;
  const char** names = nullptr;
  if (XGBoosterGetStrFeatureInfo(h, "feature_name", &n_names, &names) != 0) {
    throw LoadError(what + ": cannot read its feature names: " + detail::xgboost::last_error());
  }
  if (n_names != 0 && n_names != n_features) {
    throw LoadError(what + ": the model names " + std::to_string(n_names) + " features but has " +
                    std::to_string(n_features));
  }
  for (bst_ulong i = 0; i < n_features; ++i) {
    feature_names_.push_back(n_names != 0 ? std::string(names[i]) : "f" + std::to_string(i));
  }

  bst_ulong config_len = 0;
  const char* config = nullptr;
  if (XGBoosterSaveJsonConfig(h, &config_len, &config) != 0) {
    throw LoadError(what + ": cannot read its configuration: " + detail::xgboost::last_error());
  }
  std::size_t n_classes = 0;
  try {
    const auto json = nlohmann::json::parse(std::string_view(config, config_len));
    objective_ = json.at("learner").at("objective").at("name").get<std::string>();
    const auto& params = json.at("learner").at("learner_model_param");
    n_classes = static_cast<std::size_t>(std::stoul(params.at("num_class").get<std::string>()));
  } catch (const std::exception& e) {
    throw LoadError(what + ": its configuration lacks the objective or class count: " + e.what());
  }
  if (detail::xgboost::is_binary_classifier(objective_)) {
    n_classes = 2;
  } else if (objective_ != "multi:softprob") {
    n_classes = 0;  // regressors, rankers, multi:softmax (which returns the label itself)
  }
  n_outputs_ = n_classes > 2 ? n_classes : 1;

  std::vector<std::string> class_names = options.class_names;
  if (n_classes == 0 && !class_names.empty()) {
    throw LoadError(what + ": class names were given but objective '" + objective_ +
                    "' is not a classifier");
  }
  if (n_classes != 0 && class_names.empty()) {
    for (std::size_t i = 0; i < n_classes; ++i) class_names.push_back(std::to_string(i));
  }
  if (class_names.size() != n_classes) {
    throw LoadError(what + ": " + std::to_string(class_names.size()) +
                    " class names were given for " + std::to_string(n_classes) + " classes");
  }

  std::string output = "value";
  if (output_ == Output::kMargin) output = "margin";
  else if (n_classes == 2) output = "probability";
  else if (n_classes > 2) output = "probabilities";
  signature_.inputs = {
      {"features", DType::kFloat64, {-1, static_cast<std::int64_t>(n_features)}}};
  signature_.outputs = {{output, DType::kFloat64, {-1, static_cast<std::int64_t>(n_outputs_)}}};
  signature_.class_names = std::move(class_names);

  // Warm-up: the first prediction configures the booster (see from_bytes()).
  const std::vector<float> missing(n_features, std::numeric_limits<float>::quiet_NaN());
  try {
    (void)predict(TensorView(missing.data(), {1, static_cast<std::int64_t>(n_features)}));
  } catch (const std::exception& e) {
    throw LoadError(what + ": the model fails its first prediction: " + e.what());
  }
}

SWITCHYARD_INLINE Prediction XgboostModel::predict(const ModelInput& input) const {
  const NamedTensor* named = nullptr;
  if (input.size() == 1 && input[0].name.empty()) named = &input[0];
  else named = input.find(signature_.inputs.front().name);
  if (named == nullptr) {
    throw InvalidArgument(source_ + ": missing input '" + signature_.inputs.front().name + "'");
  }
  const TensorView& x = named->tensor;
  if (x.shape().rank() != 2 || static_cast<std::size_t>(x.shape()[1]) != n_features()) {
    throw InvalidArgument(source_ + ": input has shape " + x.shape().to_string() + ", expected [n, " +
                          std::to_string(n_features()) + "]");
  }
  const std::size_t rows = x.batch();
  Prediction p;
  p.values = xt::xtensor<double, 2>::from_shape({rows, n_outputs_});
  if (rows == 0) return p;
  if (x.data() == nullptr) throw InvalidArgument(source_ + ": input has no data");

  // The array interface over the caller's memory: XGBoost reads the rows where they are.
  char interface[160];
  std::snprintf(interface, sizeof interface,
                R"({"data": [%)" PRIuPTR R"(, true], "shape": [%zu, %zu], "typestr": "%s", )"
                R"("version": 3})",
                reinterpret_cast<std::uintptr_t>(x.data()), rows, n_features(),
                detail::xgboost::typestr(x.dtype()));
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* out = nullptr;
  const char* config = output_ == Output::kMargin ? detail::xgboost::kPredictMargin
                                                  : detail::xgboost::kPredictValue;
  if (XGBoosterPredictFromDense(booster_->handle, interface, config,
                                detail::xgboost::thread_proxy(), &shape, &dims, &out) != 0) {
    throw Error(ErrorCode::kModelFailed,
                source_ + ": XGBoost failed to predict: " + detail::xgboost::last_error());
  }
  std::size_t produced = 1;
  for (bst_ulong d = 0; d < dims; ++d) produced *= static_cast<std::size_t>(shape[d]);
  if (produced != rows * n_outputs_) {
    throw Error(ErrorCode::kModelFailed, source_ + ": XGBoost returned " +
                                             std::to_string(produced) + " values for " +
                                             std::to_string(rows) + " rows");
  }
  std::copy(out, out + produced, p.values.begin());  // out is XGBoost's per-thread buffer

  if (signature_.class_names.empty()) return p;
  p.labels.resize(rows);
  p.confidence.resize(rows);
  const bool margin = output_ == Output::kMargin;
  for (std::size_t r = 0; r < rows; ++r) {
    if (n_outputs_ == 1) {
      const double v = p.values(r, 0);
      // A margin is a log-odds for binary:logistic; its probability is the logistic of it.
      const double prob = margin ? 1.0 / (1.0 + std::exp(-v)) : v;
      const bool positive = margin ? v > 0.0 : v > 0.5;
      p.labels[r] = positive ? 1 : 0;
      p.confidence[r] = positive ? prob : 1.0 - prob;
    } else {
      std::size_t best = 0;
      for (std::size_t c = 1; c < n_outputs_; ++c) {
        if (p.values(r, c) > p.values(r, best)) best = c;
      }
      p.labels[r] = static_cast<std::int32_t>(best);
      double confidence = p.values(r, best);
      if (margin) {  // the softmax of the margins at the best class
        double total = 0.0;
        for (std::size_t c = 0; c < n_outputs_; ++c) total += std::exp(p.values(r, c) - p.values(r, best));
        confidence = 1.0 / total;
      }
      p.confidence[r] = confidence;
    }
  }
  return p;
}

SWITCHYARD_INLINE void register_xgboost_formats(ModelLoader& loader,
                                                XgboostModel::Options options) {
  for (const std::string_view format : {kXgboostJsonFormat, kXgboostUbjsonFormat}) {
    if (loader.has_format(format)) {
      throw AlreadyExists("model format '" + std::string(format) + "' is already registered");
    }
  }
  for (const std::string_view format : {kXgboostJsonFormat, kXgboostUbjsonFormat}) {
    loader.register_format(std::string(format), [format, options](std::string_view bytes) {
      return std::static_pointer_cast<const Model>(XgboostModel::from_bytes(bytes, format, options));
    });
  }
}

}  // namespace switchyard
