// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of linear_model.hpp: prediction and the "switchyard.linear" artifact format.
// Thread-safety: as documented on the declarations in the matching header.
#pragma once

#include <algorithm>
#include <array>
#include <cereal/archives/portable_binary.hpp>
#include <cmath>
#include <istream>
#include <memory>
#include <set>
#include <sstream>
#include <streambuf>
#include <switchyard/core/error.hpp>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/detail/view_streambuf.hpp>
#include <switchyard/models/linear_model.hpp>
#include <utility>

namespace switchyard {

namespace detail {

namespace linear {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstRowMap =
    Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

inline std::string describe_value(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+inf" : "-inf";
}

inline bool readable_dtype(DType t) noexcept {
  return t == DType::kFloat64 || t == DType::kFloat32 || t == DType::kInt32 || t == DType::kBool;
}

// Numerically stable logistic function: never evaluates exp of a large positive number.
inline double sigmoid(double z) noexcept {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

}  // namespace linear

SWITCHYARD_INLINE AffineLayer::AffineLayer(Eigen::MatrixXd weights, Eigen::VectorXd bias,
                                           const char* kind, std::string_view output_name)
    : weights_(std::move(weights)), bias_(std::move(bias)), kind_(kind) {
  const std::string who(kind_);
  if (weights_.rows() == 0 || weights_.cols() == 0) {
    throw InvalidArgument(who + ": weights are " + std::to_string(weights_.rows()) + " x " +
                          std::to_string(weights_.cols()) +
                          "; at least one feature and one output are required");
  }
  if (bias_.size() != weights_.cols()) {
    throw InvalidArgument(who + ": bias has " + std::to_string(bias_.size()) +
                          " entries, expected " + std::to_string(weights_.cols()) +
                          " (one per output column of the weights)");
  }
  if (!weights_.allFinite()) {
    for (Eigen::Index j = 0; j < weights_.cols(); ++j) {
      for (Eigen::Index i = 0; i < weights_.rows(); ++i) {
        if (!std::isfinite(weights_(i, j))) {
          throw InvalidArgument(who + ": weights(" + std::to_string(i) + ", " + std::to_string(j) +
                                ") is " + linear::describe_value(weights_(i, j)));
        }
      }
    }
  }
  for (Eigen::Index j = 0; j < bias_.size(); ++j) {
    if (!std::isfinite(bias_(j))) {
      throw InvalidArgument(who + ": bias(" + std::to_string(j) + ") is " +
                            linear::describe_value(bias_(j)));
    }
  }
  const auto n = static_cast<std::int64_t>(weights_.rows());
  const auto k = static_cast<std::int64_t>(weights_.cols());
  signature_.inputs.push_back({"features", DType::kFloat64, {-1, n}});
  signature_.outputs.push_back({std::string(output_name), DType::kFloat64, {-1, k}});
}

SWITCHYARD_INLINE void AffineLayer::set_signature(Signature signature, std::size_t n_classes) {
  const std::string who(kind_);
  const auto n = static_cast<std::int64_t>(n_features());
  const auto k = static_cast<std::int64_t>(n_outputs());
  if (signature.inputs.size() != 1) {
    throw InvalidArgument(who + ": signature must have exactly one input, has " +
                          std::to_string(signature.inputs.size()));
  }
  const TensorSpec& in = signature.inputs.front();
  if (in.name.empty()) throw InvalidArgument(who + ": signature input has an empty name");
  if (!linear::readable_dtype(in.dtype)) {
    throw InvalidArgument(who + ": signature input '" + in.name + "' has dtype " +
                          std::string(to_string(in.dtype)) +
                          ", expected float64, float32, int32 or bool");
  }
  if (in.shape != std::vector<std::int64_t>{-1, n}) {
    throw InvalidArgument(who + ": signature input '" + in.name + "' has shape " +
                          shape_string(in.shape) + ", expected [-1, " + std::to_string(n) + "]");
  }
  if (signature.outputs.size() != 1) {
    throw InvalidArgument(who + ": signature must have exactly one output, has " +
                          std::to_string(signature.outputs.size()));
  }
  const TensorSpec& out = signature.outputs.front();
  if (out.name.empty()) throw InvalidArgument(who + ": signature output has an empty name");
  if (out.dtype != DType::kFloat64) {
    throw InvalidArgument(who + ": signature output '" + out.name + "' has dtype " +
                          std::string(to_string(out.dtype)) + ", expected float64");
  }
  if (out.shape != std::vector<std::int64_t>{-1, k}) {
    throw InvalidArgument(who + ": signature output '" + out.name + "' has shape " +
                          shape_string(out.shape) + ", expected [-1, " + std::to_string(k) + "]");
  }
  if (signature.class_names.size() != n_classes) {
    throw InvalidArgument(who + ": signature has " + std::to_string(signature.class_names.size()) +
                          " class names, expected " + std::to_string(n_classes));
  }
  std::set<std::string_view> seen;
  for (const auto& c : signature.class_names) {
    if (c.empty()) throw InvalidArgument(who + ": a class name is empty");
    if (!seen.insert(c).second) {
      throw InvalidArgument(who + ": class name '" + c + "' appears twice");
    }
  }
  signature_ = std::move(signature);
}

SWITCHYARD_INLINE xt::xtensor<double, 2> AffineLayer::scores(const ModelInput& input) const {
  using linear::ConstRowMap;
  const std::string& name = signature_.inputs.front().name;
  const NamedTensor* named = input.find(name);
  if (named == nullptr) {
    throw InvalidArgument(std::string(kind_) + ": missing input '" + name + "'");
  }
  const TensorView& x = named->tensor;
  const Shape& shape = x.shape();
  if (shape.rank() != 2) {
    throw InvalidArgument(std::string(kind_) + ": input '" + name + "' has shape " +
                          shape.to_string() + ", expected [-1, " + std::to_string(n_features()) +
                          "] (a batch of rows)");
  }
  if (shape[0] < 0 || shape[1] < 0) {
    throw InvalidArgument(std::string(kind_) + ": input '" + name + "' has shape " +
                          shape.to_string() + " with a negative dimension");
  }
  const auto rows = static_cast<Eigen::Index>(shape[0]);
  const auto cols = static_cast<Eigen::Index>(shape[1]);
  if (cols != weights_.rows()) {
    throw InvalidArgument(std::string(kind_) + ": input '" + name + "' has " +
                          std::to_string(cols) + " features per row, expected " +
                          std::to_string(weights_.rows()));
  }
  if (rows > 0 && x.data() == nullptr) {
    throw InvalidArgument(std::string(kind_) + ": input '" + name + "' has no data");
  }
  auto out = xt::xtensor<double, 2>::from_shape(
      {static_cast<std::size_t>(rows), static_cast<std::size_t>(weights_.cols())});
  Eigen::Map<linear::RowMatrix> y(out.data(), rows, weights_.cols());
  switch (x.dtype()) {
    case DType::kFloat64:  // the zero-copy path: a view over the caller's rows
      y.noalias() =
          ConstRowMap<double>(static_cast<const double*>(x.data()), rows, cols) * weights_;
      break;
    case DType::kFloat32:
      y.noalias() =
          ConstRowMap<float>(static_cast<const float*>(x.data()), rows, cols).cast<double>() *
          weights_;
      break;
    case DType::kInt32:
      y.noalias() =
          ConstRowMap<std::int32_t>(static_cast<const std::int32_t*>(x.data()), rows, cols)
              .cast<double>() *
          weights_;
      break;
    case DType::kBool:
      y.noalias() =
          ConstRowMap<bool>(static_cast<const bool*>(x.data()), rows, cols).cast<double>() *
          weights_;
      break;
    default:
      throw InvalidArgument(std::string(kind_) + ": input '" + name + "' has dtype " +
                            std::string(to_string(x.dtype())) +
                            ", which does not convert losslessly to float64");
  }
  y.rowwise() += bias_.transpose();
  // NaN and infinity propagate through the product into every score of their row, so checking
  // the (smaller) output catches non-finite features as well as overflow.
  if (!y.allFinite()) {
    Eigen::Index bad = 0;
    while (bad < rows && y.row(bad).allFinite()) ++bad;
    throw InvalidArgument(std::string(kind_) + ": row " + std::to_string(bad) + " of input '" +
                          name +
                          "' gives a non-finite score (a NaN or infinite feature, or overflow)");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The "switchyard.linear" artifact, version 1:
//
//   8 bytes   magic 0x89 'S' 'W' 'Y' '\r' '\n' 0x1a '\n' (PNG-style: catches text-mode mangling)
//   cereal portable binary archive, little-endian:
//     u8      cereal's byte-order flag (1)
//     string  format name "switchyard.linear"      (u64 length, then bytes)
//     u32     format version (1)
//     u8      kind: 0 LinearModel, 1 LogisticModel
//     u64     n_features, u64 n_outputs            (each >= 1, product <= kLinearMaxWeights)
//     f64     weights, column by column (n_features x n_outputs, Eigen's order)
//     f64     bias (n_outputs)
//     spec    input, then output: string name, u8 dtype, u8 rank, i64 dims[rank]
//     u64     number of class names, then each as a string
//   32 bytes  SHA-256 of everything before it
//
// A reader never trusts a length: each is checked against a fixed cap and against the bytes
// actually left before anything is allocated.
namespace linear {

inline constexpr std::array<char, 8> kMagic = {'\x89', 'S', 'W', 'Y', '\r', '\n', '\x1a', '\n'};
inline constexpr std::size_t kChecksumSize = 32;
inline constexpr std::uint64_t kMaxNameLength = 4096;
inline constexpr std::uint8_t kKindLinear = 0;
inline constexpr std::uint8_t kKindLogistic = 1;

inline const char* kind_name(std::uint8_t kind) {
  return kind == kKindLogistic ? "LogisticModel" : "LinearModel";
}

inline void save_string(cereal::PortableBinaryOutputArchive& ar, const std::string& s) {
  ar(static_cast<std::uint64_t>(s.size()));
  ar(cereal::binary_data(s.data(), s.size()));
}

inline void save_spec(cereal::PortableBinaryOutputArchive& ar, const TensorSpec& spec) {
  save_string(ar, spec.name);
  ar(static_cast<std::uint8_t>(spec.dtype), static_cast<std::uint8_t>(spec.shape.size()));
  for (std::int64_t d : spec.shape) ar(d);
}

inline std::string write_artifact(std::uint8_t kind, const AffineLayer& layer) {
  std::ostringstream os(std::ios::binary);
  os.write(kMagic.data(), kMagic.size());
  {
    cereal::PortableBinaryOutputArchive ar(
        os, cereal::PortableBinaryOutputArchive::Options::LittleEndian());
    save_string(ar, std::string(kLinearFormat));
    ar(kLinearFormatVersion, kind);
    ar(static_cast<std::uint64_t>(layer.n_features()),
       static_cast<std::uint64_t>(layer.n_outputs()));
    ar(cereal::binary_data(layer.weights().data(),
                           static_cast<std::size_t>(layer.weights().size()) * sizeof(double)));
    ar(cereal::binary_data(layer.bias().data(),
                           static_cast<std::size_t>(layer.bias().size()) * sizeof(double)));
    const Signature& sig = layer.signature();
    save_spec(ar, sig.inputs.front());
    save_spec(ar, sig.outputs.front());
    ar(static_cast<std::uint64_t>(sig.class_names.size()));
    for (const auto& c : sig.class_names) save_string(ar, c);
  }
  std::string bytes = std::move(os).str();
  bytes += sha256_raw(bytes);
  return bytes;
}

using switchyard::detail::ViewStreamBuf;

// Bounded reads from a cereal portable binary archive; every shortfall is a LoadError.
class ArtifactReader {
 public:
  explicit ArtifactReader(std::string_view payload)
      : buf_(payload), stream_(&buf_), archive_(stream_) {}

  std::size_t remaining() const noexcept { return buf_.remaining(); }

  void need(std::uint64_t bytes, const char* what) const {
    if (bytes > remaining()) {
      throw LoadError("artifact is truncated: " + std::string(what) + " needs " +
                      std::to_string(bytes) + " bytes but only " + std::to_string(remaining()) +
                      " remain");
    }
  }

  template <class T>
  T scalar(const char* what) {
    need(sizeof(T), what);
    T value{};
    archive_(value);
    return value;
  }

  std::string string(const char* what) {
    const auto length = scalar<std::uint64_t>(what);
    if (length > kMaxNameLength) {
      throw LoadError("artifact is corrupted: " + std::string(what) + " claims " +
                      std::to_string(length) + " bytes (at most " + std::to_string(kMaxNameLength) +
                      " allowed)");
    }
    need(length, what);
    std::string s(static_cast<std::size_t>(length), '\0');
    archive_(cereal::binary_data(s.data(), s.size()));
    return s;
  }

  void doubles(double* out, std::size_t count, const char* what) {
    need(static_cast<std::uint64_t>(count) * sizeof(double), what);
    archive_(cereal::binary_data(out, count * sizeof(double)));
  }

 private:
  ViewStreamBuf buf_;
  std::istream stream_;
  cereal::PortableBinaryInputArchive archive_;
};

inline TensorSpec read_spec(ArtifactReader& r, const char* what) {
  TensorSpec spec;
  spec.name = r.string(what);
  const auto dtype = r.scalar<std::uint8_t>(what);
  if (dtype > static_cast<std::uint8_t>(DType::kFloat64)) {
    throw LoadError("artifact is corrupted: " + std::string(what) + " has unknown dtype code " +
                    std::to_string(dtype));
  }
  spec.dtype = static_cast<DType>(dtype);
  const auto rank = r.scalar<std::uint8_t>(what);
  if (rank > Shape::kMaxRank) {
    throw LoadError("artifact is corrupted: " + std::string(what) + " has rank " +
                    std::to_string(rank) + " (at most " + std::to_string(Shape::kMaxRank) + ")");
  }
  for (std::uint8_t i = 0; i < rank; ++i) spec.shape.push_back(r.scalar<std::int64_t>(what));
  return spec;
}

// Reads the byte-order flag, format name and version: the part every version keeps.
inline void read_header(ArtifactReader& r) {
  const auto name = r.string("the format name");
  if (name != kLinearFormat) {
    throw LoadError("artifact format is '" + name + "', expected '" + std::string(kLinearFormat) +
                    "'");
  }
  const auto version = r.scalar<std::uint32_t>("the format version");
  if (version == 0 || version > kLinearFormatVersion) {
    throw LoadError("artifact has " + std::string(kLinearFormat) + " format version " +
                    std::to_string(version) + "; this build reads versions 1 to " +
                    std::to_string(kLinearFormatVersion));
  }
}

struct ArtifactContents {
  std::uint8_t kind = kKindLinear;
  Eigen::MatrixXd weights;
  Eigen::VectorXd bias;
  Signature signature;
};

inline ArtifactContents read_contents(std::string_view bytes) {
  const std::string_view magic(kMagic.data(), kMagic.size());
  if (bytes.size() < magic.size() || bytes.substr(0, magic.size()) != magic) {
    if (bytes.size() < magic.size() && magic.substr(0, bytes.size()) == bytes) {
      throw LoadError("artifact is truncated: " + std::to_string(bytes.size()) +
                      " bytes, shorter than the header");
    }
    throw LoadError("not a Switchyard model artifact: the first bytes are not its magic number");
  }
  // cereal's archive reads a byte-order flag on construction; anything but 0 or 1 is damage.
  auto check_flag = [&](std::string_view payload) {
    if (payload.empty()) {
      throw LoadError("artifact is truncated: it ends after the magic number");
    }
    if (static_cast<unsigned char>(payload.front()) > 1) {
      throw LoadError("artifact is corrupted: invalid byte-order flag " +
                      std::to_string(static_cast<unsigned char>(payload.front())));
    }
  };
  try {
    std::string_view payload = bytes.substr(magic.size());
    check_flag(payload);
    {
      ArtifactReader header(payload);
      read_header(header);
    }
    if (bytes.size() < magic.size() + kChecksumSize + 1) {
      throw LoadError("artifact is truncated: no room for its checksum");
    }
    const std::string_view body = bytes.substr(0, bytes.size() - kChecksumSize);
    if (sha256_raw(body) != bytes.substr(body.size())) {
      throw LoadError("artifact checksum mismatch: the bytes are corrupted or truncated");
    }
    payload = body.substr(magic.size());
    check_flag(payload);
    ArtifactReader r(payload);
    read_header(r);

    ArtifactContents c;
    c.kind = r.scalar<std::uint8_t>("the model kind");
    if (c.kind != kKindLinear && c.kind != kKindLogistic) {
      throw LoadError("artifact is corrupted: unknown model kind " + std::to_string(c.kind));
    }
    const auto n = r.scalar<std::uint64_t>("the feature count");
    const auto k = r.scalar<std::uint64_t>("the output count");
    if (n == 0 || k == 0 || n > kLinearMaxWeights || k > kLinearMaxWeights ||
        n * k > kLinearMaxWeights) {
      throw LoadError("artifact is corrupted: weights of " + std::to_string(n) + " x " +
                      std::to_string(k) + " (each dimension at least 1, at most " +
                      std::to_string(kLinearMaxWeights) + " weights)");
    }
    r.need((n * k + k) * sizeof(double), "the weights and bias");
    c.weights.resize(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(k));
    r.doubles(c.weights.data(), static_cast<std::size_t>(n * k), "the weights");
    c.bias.resize(static_cast<Eigen::Index>(k));
    r.doubles(c.bias.data(), static_cast<std::size_t>(k), "the bias");
    c.signature.inputs.push_back(read_spec(r, "the input spec"));
    c.signature.outputs.push_back(read_spec(r, "the output spec"));
    const auto classes = r.scalar<std::uint64_t>("the class-name count");
    if (classes > k + 1) {
      throw LoadError("artifact is corrupted: " + std::to_string(classes) + " class names for " +
                      std::to_string(k) + " outputs");
    }
    for (std::uint64_t i = 0; i < classes; ++i) {
      c.signature.class_names.push_back(r.string("a class name"));
    }
    if (r.remaining() != 0) {
      throw LoadError("artifact is corrupted: " + std::to_string(r.remaining()) +
                      " unexpected bytes after the model");
    }
    return c;
  } catch (const cereal::Exception& e) {
    // Unreachable when the bounds above hold; kept so a parsing slip still reports, not crashes.
    throw LoadError(std::string("artifact could not be parsed: ") + e.what());
  }
}

template <class M>
M model_from_contents(ArtifactContents c, std::uint8_t expected_kind) {
  if (c.kind != expected_kind) {
    throw LoadError(std::string("artifact holds a ") + kind_name(c.kind) + ", not a " +
                    kind_name(expected_kind) + " (load it with ModelLoader or " +
                    kind_name(c.kind) + "::from_artifact)");
  }
  try {
    M model(std::move(c.weights), std::move(c.bias));
    model.set_signature(std::move(c.signature));
    return model;
  } catch (const InvalidArgument& e) {
    throw LoadError(std::string("artifact holds an invalid model: ") + e.what());
  }
}

}  // namespace linear

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// LinearModel

SWITCHYARD_INLINE LinearModel::LinearModel(Eigen::MatrixXd weights, Eigen::VectorXd bias)
    : layer_(std::move(weights), std::move(bias), "LinearModel", "scores") {}

SWITCHYARD_INLINE Prediction LinearModel::predict(const ModelInput& input) const {
  Prediction p;
  p.values = layer_.scores(input);
  return p;
}

SWITCHYARD_INLINE void LinearModel::set_signature(Signature signature) {
  layer_.set_signature(std::move(signature), 0);
}

SWITCHYARD_INLINE std::string LinearModel::to_artifact() const {
  return detail::linear::write_artifact(detail::linear::kKindLinear, layer_);
}

SWITCHYARD_INLINE LinearModel LinearModel::from_artifact(std::string_view bytes) {
  return detail::linear::model_from_contents<LinearModel>(
      detail::linear::read_contents(bytes), detail::linear::kKindLinear);
}

// ---------------------------------------------------------------------------------------------
// LogisticModel

SWITCHYARD_INLINE LogisticModel::LogisticModel(Eigen::MatrixXd weights, Eigen::VectorXd bias,
                                               std::vector<std::string> class_names)
    : layer_(std::move(weights), std::move(bias), "LogisticModel", "probabilities") {
  if (class_names.empty()) {
    for (std::size_t i = 0; i < n_classes(); ++i) class_names.push_back(std::to_string(i));
  }
  set_class_names(std::move(class_names));
}

SWITCHYARD_INLINE void LogisticModel::set_signature(Signature signature) {
  layer_.set_signature(std::move(signature), n_classes());
}

SWITCHYARD_INLINE void LogisticModel::set_class_names(std::vector<std::string> class_names) {
  Signature s = layer_.signature();
  s.class_names = std::move(class_names);
  set_signature(std::move(s));
}

SWITCHYARD_INLINE Prediction LogisticModel::predict(const ModelInput& input) const {
  using detail::linear::sigmoid;
  Prediction p;
  p.values = layer_.scores(input);
  const std::size_t rows = p.values.shape(0);
  const std::size_t k = p.values.shape(1);
  p.labels.resize(rows);
  p.confidence.resize(rows);
  if (k == 1) {
    for (std::size_t r = 0; r < rows; ++r) {
      const double z = p.values(r, 0);
      p.values(r, 0) = sigmoid(z);
      p.labels[r] = z > 0 ? 1 : 0;
      p.confidence[r] = sigmoid(std::abs(z));  // exact for either label, no 1 - p cancellation
    }
    return p;
  }
  for (std::size_t r = 0; r < rows; ++r) {
    double* z = &p.values(r, 0);
    const std::size_t best = static_cast<std::size_t>(std::max_element(z, z + k) - z);
    const double top = z[best];
    double sum = 0.0;
    for (std::size_t j = 0; j < k; ++j) sum += (z[j] = std::exp(z[j] - top));
    for (std::size_t j = 0; j < k; ++j) z[j] /= sum;
    p.labels[r] = static_cast<std::int32_t>(best);
    p.confidence[r] = z[best];
  }
  return p;
}

SWITCHYARD_INLINE std::string LogisticModel::to_artifact() const {
  return detail::linear::write_artifact(detail::linear::kKindLogistic, layer_);
}

SWITCHYARD_INLINE LogisticModel LogisticModel::from_artifact(std::string_view bytes) {
  return detail::linear::model_from_contents<LogisticModel>(
      detail::linear::read_contents(bytes), detail::linear::kKindLogistic);
}

SWITCHYARD_INLINE ModelPtr load_linear_artifact(std::string_view bytes) {
  using namespace detail::linear;
  ArtifactContents c = read_contents(bytes);
  if (c.kind == kKindLogistic) {
    return std::make_shared<const LogisticModel>(
        model_from_contents<LogisticModel>(std::move(c), kKindLogistic));
  }
  return std::make_shared<const LinearModel>(
      model_from_contents<LinearModel>(std::move(c), kKindLinear));
}

}  // namespace switchyard
