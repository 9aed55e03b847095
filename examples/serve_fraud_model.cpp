// SPDX-License-Identifier: Apache-2.0
// The host-service side of docs/model-deployment-guide.md: opens the registry directory the
// `switchyard` CLI writes (registry.db and artifacts/), serves whatever is in Production through a
// Deployment bound to the registry, and scores a batch of synthetic transactions. Prints the
// version that answered and how many transactions it flagged.
//
//   serve_fraud_model DATA_DIR [--model NAME] [--requests N]
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/registry_binding.hpp>
#include <vector>

namespace sy = switchyard;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: serve_fraud_model DATA_DIR [--model NAME] [--requests N]\n";
    return 2;
  }
  const std::string data = argv[1];
  std::string model = "fraud-detection";
  int requests = 1000;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string_view arg = argv[i];
    if (arg == "--model") model = argv[i + 1];
    else if (arg == "--requests") requests = std::stoi(argv[i + 1]);
  }
  try {
    // The registry the CLI writes: the same store, artifacts and registry a service opens.
    sy::SqliteRegistryStore store(data + "/registry.db");
    sy::ArtifactStore artifacts(data + "/artifacts");
    sy::ModelRegistry registry({.store = &store, .artifacts = &artifacts});

    // Serve Production; a promotion or rollback in this registry switches what it serves.
    sy::Deployment deployment({.model = model, .source = &registry});
    sy::RegistryBinding binding({.registry = &registry, .deployment = &deployment});

    std::mt19937_64 rng(7);
    std::normal_distribution<double> normal;
    std::vector<double> features(6);
    int flagged = 0;
    std::int64_t version = 0;
    for (int i = 0; i < requests; ++i) {
      for (auto& x : features) x = normal(rng);
      const std::string key = "card-" + std::to_string(i);
      auto r = deployment.predict({.key = key, .input = sy::TensorView(features.data(), sy::Shape{1, 6})});
      if (!r.ok()) {
        std::cerr << "serve_fraud_model: " << r.status().message() << "\n";
        return 1;
      }
      flagged += r->prediction.labels[0] == 1 ? 1 : 0;
      version = r->version;
    }
    const auto v = registry.get(model, version);
    std::printf("%s version %lld (%s) served %d requests, flagged %d as fraud\n", model.c_str(),
                static_cast<long long>(version), v->semver.c_str(), requests, flagged);
  } catch (const sy::Error& e) {
    std::cerr << "serve_fraud_model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
