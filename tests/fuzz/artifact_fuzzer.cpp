// SPDX-License-Identifier: Apache-2.0
// Fuzz target: model artifact bytes through LinearModel/LogisticModel::from_artifact,
// load_linear_artifact and ModelLoader. Only LoadError (NotFound for an unknown format) may come
// out; whatever loads must round-trip and predict.
//
// Input: one mode byte, then the artifact.
//   bit 0 set: the rest is an artifact body and the target appends its SHA-256 checksum, so the
//              fuzzer explores the structure behind the checksum;
//   bit 0 clear: the rest is the artifact as stored (checksum included);
//   bit 1 set: load through a ModelLoader under a format name read from the input first.
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/models/model_loader.hpp>
#include <vector>

#include "fuzz_support.hpp"

namespace switchyard::fuzz {
namespace {

// A batch of two rows of ones, read as the model's own input dtype (float64 here).
void check_predicts(const Model& m, std::size_t features) {
  std::vector<double> x(2 * features, 1.0);
  try {
    const auto n = static_cast<std::int64_t>(features);
    Prediction p = m.predict(TensorView(x.data(), Shape{2, n}));
    SWITCHYARD_FUZZ_CHECK(p.values.shape()[0] == 2, "prediction lost rows");
    for (double v : p.values) SWITCHYARD_FUZZ_CHECK(std::isfinite(v), "a prediction is not finite");
    for (double c : p.confidence) {
      SWITCHYARD_FUZZ_CHECK(c >= 0.0 && c <= 1.0, "a confidence outside [0, 1]");
    }
  } catch (const Error& e) {
    // Finite weights can still overflow to an infinite score; that must be refused, not returned.
    expect_error<InvalidArgument>(e, "Model::predict");
  }
}

template <class M>
bool try_load(std::string_view bytes, const char* what) {
  try {
    M m = M::from_artifact(bytes);
    const std::string again = m.to_artifact();
    SWITCHYARD_FUZZ_CHECK(M::from_artifact(again) == m, std::string(what) + " does not round-trip");
    SWITCHYARD_FUZZ_CHECK(m.to_artifact() == again, std::string(what) + " is not deterministic");
    check_predicts(m, m.n_features());
    return true;
  } catch (const Error& e) {
    expect_error<LoadError>(e, what);
    return false;
  }
}

}  // namespace
}  // namespace switchyard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard;
  using namespace switchyard::fuzz;
  FuzzInput in(data, size);
  const std::uint8_t mode = in.byte();
  std::string format(kLinearFormat);
  if (mode & 2) format = in.string(32);
  std::string bytes(in.rest());
  if (mode & 1) bytes += detail::sha256_raw(bytes);

  const bool linear = try_load<LinearModel>(bytes, "LinearModel::from_artifact");
  const bool logistic = try_load<LogisticModel>(bytes, "LogisticModel::from_artifact");
  SWITCHYARD_FUZZ_CHECK(!(linear && logistic), "one artifact loaded as both kinds");

  bool any = false;
  try {
    ModelPtr m = load_linear_artifact(bytes);
    SWITCHYARD_FUZZ_CHECK(m != nullptr, "load_linear_artifact returned null");
    any = true;
  } catch (const Error& e) {
    expect_error<LoadError>(e, "load_linear_artifact");
  }
  SWITCHYARD_FUZZ_CHECK(any == (linear || logistic),
                        "load_linear_artifact disagrees with the typed from_artifact calls");

  static const ModelLoader loader;
  try {
    ModelPtr m = loader.load(format, bytes);
    SWITCHYARD_FUZZ_CHECK(m != nullptr, "ModelLoader::load returned null");
    SWITCHYARD_FUZZ_CHECK(format == kLinearFormat && any,
                          "ModelLoader loaded what nothing else did");
  } catch (const Error& e) {
    if (format == kLinearFormat) {
      expect_error<LoadError>(e, "ModelLoader::load");
    } else {
      expect_error<NotFound, InvalidArgument>(e, "ModelLoader::load");
    }
  }
  return 0;
}
