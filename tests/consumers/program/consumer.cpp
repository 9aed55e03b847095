// SPDX-License-Identifier: Apache-2.0
// The program every consumer test builds against an installed or embedded Switchyard: register two
// logistic models, serve a request through a Deployment, roll back, serve again. Exit code 0 only
// when each step gave the expected answer.
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
// Two consumers include the umbrella header: the installed compiled package (every installed
// header is present and compiles from the prefix) and the embedded header-only target (every -inl
// file compiles into one program). The others include what the program uses, which is cheaper.
#if defined(SWITCHYARD_CONSUMER_UMBRELLA)
#include <switchyard/switchyard.hpp>
#else
#include <switchyard/core/tensor.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/version.hpp>
#endif

namespace {

namespace sy = switchyard;

constexpr std::string_view kModel = "fraud-detection";

// A three-feature logistic model; `w0` makes versions answer differently.
sy::Artifact logistic_artifact(double w0) {
  Eigen::MatrixXd w(3, 1);
  w << w0, -0.25, 0.5;
  Eigen::VectorXd b(1);
  b << 0.1;
  sy::LogisticModel model(w, b, {"legit", "fraud"});
  return {std::string(sy::kLinearFormat), model.to_artifact()};
}

std::int64_t register_and_promote(sy::ModelRegistry& registry, double w0, double auc) {
  sy::VersionMetadata metadata;
  metadata.metrics = {{"auc", auc}};
  metadata.owner = "consumer-test";
  auto v = registry.register_version(kModel, logistic_artifact(w0), metadata, {.actor = "ci"});
  registry.transition(kModel, v->version, sy::Stage::kStaging, {.actor = "ci"});
  registry.transition(kModel, v->version, sy::Stage::kProduction, {.actor = "ci"});
  return v->version;
}

// Routes all traffic to the registry's Production version and serves one request.
sy::PredictResponse serve_production(sy::ModelRegistry& registry, sy::Deployment& deployment) {
  const std::int64_t production = registry.in_stage(kModel, sy::Stage::kProduction)->version;
  sy::RoutingPolicy policy;
  policy.variants = {{"stable", production, 100}};
  policy.weight_style = sy::WeightStyle::kPercent;
  deployment.router().set_policy(policy);
  static const double kRow[3] = {2.0, 1.0, -1.0};
  auto response =
      deployment.predict({.key = "user-42", .input = sy::TensorView(kRow, sy::Shape{1, 3})});
  return response.value();  // throws the error a failed request carries
}

bool expect(bool ok, const char* what) {
  if (!ok) std::fprintf(stderr, "consumer: FAILED: %s\n", what);
  return ok;
}

// A scratch directory, removed on exit.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("switchyard-consumer-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

int run() {
  bool ok = expect(sy::library_version() == sy::kHeaderVersion,
                   "the linked library's version differs from the headers'");
#if defined(SWITCHYARD_EXPECTED_VERSION)
  ok &= expect(sy::kHeaderVersion == SWITCHYARD_EXPECTED_VERSION,
               "switchyard/version.hpp differs from the version the build system found");
#endif

  ScratchDir dir;
  sy::SqliteRegistryStore store({.path = (dir.path / "registry.db").string()});
  sy::ArtifactStore artifacts(dir.path / "artifacts");
  sy::ModelRegistry registry({.store = &store, .artifacts = &artifacts});
  sy::Deployment deployment({.model = std::string(kModel), .source = &registry});

  const std::int64_t v1 = register_and_promote(registry, 0.8, 0.91);
  const std::int64_t v2 = register_and_promote(registry, -3.0, 0.93);  // archives v1
  const sy::PredictResponse before = serve_production(registry, deployment);
  ok &= expect(before.version == v2, "the request was not served by the new Production version");

  const std::int64_t restored = registry.rollback(kModel, {.actor = "oncall"})->version;
  ok &= expect(restored == v1, "rollback did not return to the last known-good version");
  const sy::PredictResponse after = serve_production(registry, deployment);
  ok &= expect(after.version == v1, "after the rollback the request was not served by v1");
  ok &= expect(before.prediction.values(0, 0) != after.prediction.values(0, 0),
               "the two versions gave the same answer; the models were not really loaded");

  std::printf(
      "switchyard %s (library %s): served v%lld (p=%.4f), rolled back, served v%lld (p=%.4f)\n",
      std::string(sy::kHeaderVersion).c_str(), std::string(sy::library_version()).c_str(),
      static_cast<long long>(before.version), before.prediction.values(0, 0),
      static_cast<long long>(after.version), after.prediction.values(0, 0));
  return ok ? 0 : 1;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: FAILED with an exception: %s\n", e.what());
    return 1;
  }
}
