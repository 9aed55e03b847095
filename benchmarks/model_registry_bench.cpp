// SPDX-License-Identifier: Apache-2.0
// ModelRegistry benchmarks (the registry issue's targets): lookups by alias and latest from the
// snapshot, a durable register with 10,000 versions stored, and reopening 10,000 versions.
// BM_Disk_FlushBaseline is what the disk charges for one flush (a 4 KiB write and fdatasync in the
// same directory): a durable register needs three (artifact file, artifact directory, SQLite WAL),
// so compare it in flushes.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <Eigen/Core>

#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>

namespace {

namespace sy = switchyard;
constexpr int kStored = 10000;

sy::Artifact artifact(int seed) {
  Eigen::MatrixXd w = Eigen::MatrixXd::Constant(8, 1, 0.001 * seed);
  sy::LogisticModel m(w, Eigen::VectorXd::Constant(1, seed * 1e-6), {"legit", "fraud"});
  return {std::string(sy::kLinearFormat), m.to_artifact()};
}

sy::VersionMetadata metadata(int i) {
  sy::VersionMetadata m;
  m.semver = "1." + std::to_string(i) + ".0";
  m.run_id = "run-" + std::to_string(i);
  m.dataset_version = "2026-11-" + std::to_string(i % 28 + 1);
  m.metrics = {{"auc", 0.9 + i * 1e-7}, {"precision", 0.8}, {"recall", 0.7}, {"f1", 0.75}};
  m.group_metrics = {{"age<30", {{"recall", 0.71}}}, {"age>=30", {{"recall", 0.69}}}};
  m.dependencies = {{"eigen", "3.4.0"}, {"switchyard", "0.1.0"}};
  m.owner = "risk-ml";
  m.changelog = "retrained on the latest month";
  m.description = "fraud model trained nightly";
  m.tags = {{"team", "risk"}, {"region", "eu"}};
  return m;
}

// A registry directory holding kStored versions of one model (built once per process).
struct Stored {
  std::filesystem::path dir;
  std::unique_ptr<sy::SqliteRegistryStore> store;
  std::unique_ptr<sy::ArtifactStore> artifacts;
  std::unique_ptr<sy::ModelRegistry> registry;
  int next = 0;
  Stored() {
    dir = std::filesystem::temp_directory_path() /
          ("switchyard-bench-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    open();
    for (; next < kStored; ++next) {
      registry->register_version("fraud-detection", artifact(next % 50), metadata(next));
    }
    registry->set_alias("fraud-detection", "champion", kStored / 2);
  }
  void open() {
    registry.reset();
    store = std::make_unique<sy::SqliteRegistryStore>(
        sy::SqliteRegistryStore::Options{.path = (dir / "registry.db").string()});
    artifacts = std::make_unique<sy::ArtifactStore>(dir / "artifacts");
    registry = std::make_unique<sy::ModelRegistry>(
        sy::ModelRegistry::Options{.store = store.get(), .artifacts = artifacts.get()});
  }
  ~Stored() {
    registry.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Stored& stored() {
  static Stored s;
  return s;
}

void BM_Registry_LookupByAlias(benchmark::State& state) {
  auto& r = *stored().registry;
  for (auto _ : state) benchmark::DoNotOptimize(r.by_alias("fraud-detection", "champion"));
}
BENCHMARK(BM_Registry_LookupByAlias)->Threads(1)->Threads(2)->UseRealTime();

void BM_Registry_LookupLatest(benchmark::State& state) {
  auto& r = *stored().registry;
  for (auto _ : state) benchmark::DoNotOptimize(r.latest("fraud-detection"));
}
BENCHMARK(BM_Registry_LookupLatest)->Threads(1)->Threads(2)->UseRealTime();

void BM_Registry_ResolveUri(benchmark::State& state) {
  auto& r = *stored().registry;
  for (auto _ : state) benchmark::DoNotOptimize(r.resolve("models:/fraud-detection@champion"));
}
BENCHMARK(BM_Registry_ResolveUri)->UseRealTime();

// A durable register (new artifact file fsynced + SQLite commit) with 10,000 versions stored.
void BM_Registry_RegisterWith10kStored(benchmark::State& state) {
  auto& s = stored();
  for (auto _ : state) {
    state.PauseTiming();
    auto a = artifact(100000 + s.next);  // a new artifact each time: the file write is real
    auto m = metadata(s.next++);
    state.ResumeTiming();
    benchmark::DoNotOptimize(s.registry->register_version("fraud-detection", a, m));
  }
}
BENCHMARK(BM_Registry_RegisterWith10kStored)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Baseline: one 4 KiB write and fdatasync on the disk the registry uses.
void BM_Disk_FlushBaseline(benchmark::State& state) {
  const auto path = stored().dir / "flush-probe";
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) {
    state.SkipWithError("cannot create the probe file");
    return;
  }
  const std::string page(4096, 'p');
  for (auto _ : state) {
    if (::pwrite(fd, page.data(), page.size(), 0) != static_cast<ssize_t>(page.size()) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("write or fdatasync failed");
      break;
    }
  }
  ::close(fd);
  std::filesystem::remove(path);
}
BENCHMARK(BM_Disk_FlushBaseline)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Reopen: open the SQLite store and load every version with full metadata into the snapshot.
void BM_Registry_Reopen10k(benchmark::State& state) {
  auto& s = stored();
  for (auto _ : state) s.open();
  state.counters["versions"] = static_cast<double>(s.registry->versions("fraud-detection").size());
}
BENCHMARK(BM_Registry_Reopen10k)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
