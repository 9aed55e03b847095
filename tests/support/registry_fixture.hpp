// SPDX-License-Identifier: Apache-2.0
// A registry on a fresh temporary directory (SQLite store + artifact directory), a manual clock,
// and real logistic models to register.
#pragma once

#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <Eigen/Core>

#include <switchyard/core/clock.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>

namespace switchyard::testing {

/// A unique directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("switchyard-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// A three-feature logistic model whose weights depend on `seed`, as a registrable artifact.
inline Artifact logistic_artifact(double seed) {
  Eigen::MatrixXd w(3, 1);
  w << 0.5 * seed, -0.25, 1.0 / (1.0 + seed);
  Eigen::VectorXd b(1);
  b << 0.1 * seed;
  LogisticModel m(w, b, {"legit", "fraud"});
  return {std::string(kLinearFormat), m.to_artifact()};
}

/// Opens (or creates) the SQLite store at `path`.
inline std::unique_ptr<SqliteRegistryStore> open_store(const std::filesystem::path& path) {
  return std::make_unique<SqliteRegistryStore>(SqliteRegistryStore::Options{.path = path.string()});
}

/// Store + artifacts + registry in one temporary directory; reopen() simulates a restart.
struct RegistryFixture {
  TempDir dir;
  ManualClock clock;
  std::unique_ptr<SqliteRegistryStore> store;
  std::unique_ptr<ArtifactStore> artifacts;
  std::unique_ptr<ModelRegistry> registry;

  /// `max_store_artifact_bytes` as in ModelRegistry::Options (0: every artifact is a file).
  explicit RegistryFixture(
      std::size_t max_store_artifact_bytes = ModelRegistry::Options{}.max_store_artifact_bytes)
      : store_limit(max_store_artifact_bytes) {
    reopen();
  }
  std::size_t store_limit;

  std::filesystem::path db_path() const { return dir.path() / "registry.db"; }
  std::filesystem::path artifact_root() const { return dir.path() / "artifacts"; }

  void reopen() {
    registry.reset();
    store.reset();
    store = open_store(db_path());
    artifacts = std::make_unique<ArtifactStore>(artifact_root());
    registry = std::make_unique<ModelRegistry>(
        ModelRegistry::Options{.store = store.get(),
                               .artifacts = artifacts.get(),
                               .clock = &clock,
                               .max_store_artifact_bytes = store_limit});
  }

  /// Registers a version with metric auc = `auc` and returns its number.
  std::int64_t add(const std::string& name, double auc, double seed = 1.0) {
    VersionMetadata m;
    m.metrics = {{"auc", auc}};
    m.owner = "test";
    return registry->register_version(name, logistic_artifact(seed), m, {.actor = "ci"})->version;
  }
  /// Registers and promotes a version all the way to Production.
  std::int64_t add_production(const std::string& name, double auc, double seed = 1.0) {
    auto v = add(name, auc, seed);
    registry->transition(name, v, Stage::kStaging, {.actor = "ci"});
    registry->transition(name, v, Stage::kProduction, {.actor = "alice", .reason = "ship"});
    return v;
  }
};

}  // namespace switchyard::testing
