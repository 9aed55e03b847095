// SPDX-License-Identifier: Apache-2.0
// ModelRegistry benchmarks (the registry issue's targets): lookups by alias and latest from the
// snapshot, a durable register with 10,000 versions stored, and reopening 10,000 versions.
// BM_Registry_RawScan10kBaseline is the reopen's baseline (SQLite scanning the same rows), and
// BM_Registry_SharedRefCopyBaseline the 2-thread lookups' (one reference count all threads write).
// A register keeps a small artifact in the store (one SQLite commit holding the row and the bytes)
// and a large one as a file; each has a baseline doing the same I/O by hand with no registry
// around it: BM_Durable_RowAndBlobBaseline (one commit) and BM_Durable_FileAndRowBaseline (three
// flushes: artifact file, artifact directory, SQLite WAL).
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

#include "bench_support.hpp"

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
  std::unique_ptr<sy::ModelRegistry> file_registry;  // same store, every artifact a file
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
    file_registry.reset();
    registry.reset();
    store = std::make_unique<sy::SqliteRegistryStore>(
        sy::SqliteRegistryStore::Options{.path = (dir / "registry.db").string()});
    artifacts = std::make_unique<sy::ArtifactStore>(dir / "artifacts");
    registry = std::make_unique<sy::ModelRegistry>(
        sy::ModelRegistry::Options{.store = store.get(), .artifacts = artifacts.get()});
  }
  // A second registry on the same store that writes every artifact as a file (made on first use,
  // so reopening measures one registry's load).
  sy::ModelRegistry& files() {
    if (!file_registry) {
      file_registry = std::make_unique<sy::ModelRegistry>(sy::ModelRegistry::Options{
          .store = store.get(), .artifacts = artifacts.get(), .max_store_artifact_bytes = 0});
    }
    return *file_registry;
  }
  ~Stored() {
    file_registry.reset();
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
BENCHMARK(BM_Registry_ResolveUri)->Threads(1)->Threads(2)->UseRealTime();

// Baseline for the lookups with 2 threads: what a lookup cost when every thread copied the one
// shared VersionRef of the version (a reference count all readers write). Compare its CPU time
// per iteration at 1 and 2 threads with BM_Registry_LookupByAlias's.
void BM_Registry_SharedRefCopyBaseline(benchmark::State& state) {
  static const sy::VersionRef shared = stored().registry->by_alias("fraud-detection", "champion");
  for (auto _ : state) {
    sy::VersionRef copy = shared;
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_Registry_SharedRefCopyBaseline)->Threads(1)->Threads(2)->UseRealTime();

// Reopen (run before the registers below add versions): open the SQLite store and load every
// version with full metadata into the snapshot.
void BM_Registry_Reopen10k(benchmark::State& state) {
  auto& s = stored();
  for (auto _ : state) s.open();
  state.counters["versions"] = static_cast<double>(s.registry->versions("fraud-detection").size());
}
BENCHMARK(BM_Registry_Reopen10k)->Unit(benchmark::kMillisecond)->UseRealTime();

// Baseline for the reopen: SQLite alone scanning the same store's model_versions rows (every
// column copied out, nothing decoded). The target is a reopen within 2x of it.
void BM_Registry_RawScan10kBaseline(benchmark::State& state) {
  const std::string path = (stored().dir / "registry.db").string();
  long long rows = 0;
  for (auto _ : state) {
    rows = sy::bench::raw_scan_versions(path);
    if (rows < kStored) {
      state.SkipWithError("raw scan failed");
      break;
    }
  }
  state.counters["rows"] = static_cast<double>(rows);
}
BENCHMARK(BM_Registry_RawScan10kBaseline)->Unit(benchmark::kMillisecond)->UseRealTime();

// A durable register with 10,000 versions stored: `registry` keeps the artifact in the store (one
// commit), `file_registry` writes it as a file first (three flushes).
void register_with_10k_stored(benchmark::State& state, bool as_file) {
  auto& s = stored();
  sy::ModelRegistry& r = as_file ? s.files() : *s.registry;
  r.refresh();
  for (auto _ : state) {
    state.PauseTiming();
    auto a = artifact(100000 + s.next);  // a new artifact each time: the write is real
    auto m = metadata(s.next++);
    state.ResumeTiming();
    benchmark::DoNotOptimize(r.register_version("fraud-detection", a, m));
  }
  state.counters["artifact_bytes"] = static_cast<double>(artifact(0).bytes.size());
}
void BM_Registry_RegisterWith10kStored(benchmark::State& state) {
  register_with_10k_stored(state, false);
}
BENCHMARK(BM_Registry_RegisterWith10kStored)->Unit(benchmark::kMicrosecond)->UseRealTime();
void BM_Registry_RegisterFileArtifactWith10kStored(benchmark::State& state) {
  register_with_10k_stored(state, true);
}
BENCHMARK(BM_Registry_RegisterFileArtifactWith10kStored)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// What both durable baselines work in: a scratch directory (removed afterwards) holding a raw
// SQLite database, and one version's payload.
struct Baseline {
  static std::filesystem::path make(const char* name) {
    const auto dir = stored().dir / name;
    std::filesystem::create_directories(dir);
    return dir;
  }
  explicit Baseline(const char* name) : dir(make(name)), raw((dir / "raw.db").string()) {}
  ~Baseline() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::filesystem::path dir;
  sy::bench::RawSqliteRows raw;
  const std::string row = std::string(900, 'r');  // about one version's metadata JSON
  const std::string bytes = artifact(0).bytes;
};

// Baseline for a register that keeps its artifact in the store: one row and the artifact's bytes
// committed by SQLite alone (WAL, synchronous=FULL).
void BM_Durable_RowAndBlobBaseline(benchmark::State& state) {
  Baseline b("baseline-blob");
  for (auto _ : state) {
    if (!b.raw.commit_row(b.row, b.bytes)) {
      state.SkipWithError("baseline I/O failed");
      break;
    }
  }
}
BENCHMARK(BM_Durable_RowAndBlobBaseline)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Baseline for a register that writes its artifact as a file, done by hand on the same disk: a new
// artifact-sized file written to a temporary name, fsynced, renamed and its directory fsynced,
// then one row committed by SQLite alone (WAL, synchronous=FULL).
void BM_Durable_FileAndRowBaseline(benchmark::State& state) {
  Baseline b("baseline");
  auto& [dir, raw, row, bytes] = b;
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  int n = 0;
  for (auto _ : state) {
    const auto tmp = dir / "artifact.tmp";
    const auto final_name = dir / ("artifact-" + std::to_string(n++));
    const int fd = ::open(tmp.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    const bool file_ok = fd >= 0 &&
                         ::write(fd, bytes.data(), bytes.size()) ==
                             static_cast<ssize_t>(bytes.size()) &&
                         ::fsync(fd) == 0 && ::close(fd) == 0 &&
                         ::rename(tmp.c_str(), final_name.c_str()) == 0 && ::fsync(dir_fd) == 0;
    if (!raw.commit_row(row) || !file_ok) {
      state.SkipWithError("baseline I/O failed");
      break;
    }
  }
  ::close(dir_fd);
}
BENCHMARK(BM_Durable_FileAndRowBaseline)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
