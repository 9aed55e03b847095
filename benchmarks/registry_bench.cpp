// SPDX-License-Identifier: Apache-2.0
// Registry storage benchmarks: a durable commit of one version into a store of 10,000, load() of
// 10,000 versions with full metadata, and the JSON each row carries. BM_Sqlite_RawCommit is the
// baseline: SQLite alone committing one row durably (WAL, synchronous=FULL) on the same disk;
// BM_Sqlite_RawScan10k is load()'s: SQLite alone scanning the same rows.
// Compare medians of --benchmark_repetitions.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <switchyard/registry/serialization.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>

#include "bench_support.hpp"

namespace {

using namespace switchyard;
namespace fs = std::filesystem;

constexpr int kStoredVersions = 10'000;

// A version with every metadata field filled the way a real registration fills it.
ModelVersion realistic_version(const std::string& name, std::int64_t version) {
  ModelVersion v;
  v.name = name;
  v.version = version;
  v.semver = "3." + std::to_string(version) + ".0";
  v.stage = Stage::kStaging;
  v.run_id = "run-" + std::to_string(version * 7919);
  v.dataset_version = "transactions@2024-01-31";
  v.metrics = {{"auc", 0.91 + 1e-6 * static_cast<double>(version)},
               {"precision", 0.8123},
               {"recall", 0.7345},
               {"f1", 0.7712},
               {"latency_p99_ms", 12.5}};
  v.group_metrics = {{"age<30", {{"auc", 0.9}, {"recall", 0.71}}},
                     {"age>=30", {{"auc", 0.92}, {"recall", 0.74}}}};
  v.signature.inputs = {{"features", DType::kFloat64, {-1, 32}}};
  v.signature.outputs = {{"score", DType::kFloat64, {-1, 1}}};
  v.signature.class_names = {"legit", "fraud"};
  v.dependencies = {{"xgboost", "2.0.3"}, {"numpy", "1.26.4"}, {"scikit-learn", "1.4.0"}};
  v.owner = "risk-team";
  v.changelog = "Retrained on January data with new merchant features.";
  v.description = "Gradient-boosted fraud classifier";
  v.tags = {{"team", "risk"}, {"region", "eu"}, {"framework", "xgboost"}};
  v.created_at = from_unix_nanos(1'700'000'000'000'000'000 + version);
  v.stage_changed_at = v.created_at;
  v.artifact = {"switchyard.linear", std::string(64, 'e'), 48'213,
                "sha256/ee/" + std::string(64, 'e')};
  return v;
}

// One directory per run, removed at exit.
struct Scratch {
  fs::path dir;
  Scratch() {
    std::random_device rd;
    dir = fs::temp_directory_path() / ("switchyard-bench-" + std::to_string(rd()));
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Scratch& scratch() {
  static Scratch s;
  return s;
}

// The store of 10,000 versions (100 models x 100 versions), built once in one transaction.
const fs::path& populated_store() {
  static const fs::path path = [] {
    fs::path p = scratch().dir / "registry-10k.db";
    SqliteRegistryStore store(p);
    auto tx = store.begin();
    for (int m = 0; m < kStoredVersions / 100; ++m) {
      const std::string name = "model-" + std::to_string(m);
      for (int v = 1; v <= 100; ++v) {
        tx->insert_version(realistic_version(name, v));
        AuditRecord r;
        r.model = name;
        r.version = v;
        r.action = "register";
        tx->append_audit(r);
      }
    }
    tx->commit();
    return p;
  }();
  return path;
}

void BM_Sqlite_RawCommit(benchmark::State& state) {
  bench::RawSqliteRows raw((scratch().dir / "raw.db").string());
  const std::string payload(900, 'p');  // about one version's metadata JSON
  for (auto _ : state) {
    if (!raw.commit_row(payload)) state.SkipWithError("commit failed");
  }
}
BENCHMARK(BM_Sqlite_RawCommit)->Unit(benchmark::kMicrosecond)->UseRealTime();

// begin (BEGIN IMMEDIATE), max_version, insert the version and its audit row, durable commit.
void BM_SqliteStore_CommitNewVersion(benchmark::State& state) {
  SqliteRegistryStore store(populated_store());
  const std::string name = "model-7";
  for (auto _ : state) {
    auto tx = store.begin();
    ModelVersion v = realistic_version(name, tx->max_version(name) + 1);
    tx->insert_version(v);
    AuditRecord r;
    r.model = name;
    r.version = v.version;
    r.action = "register";
    benchmark::DoNotOptimize(tx->append_audit(r));
    tx->commit();
  }
}
BENCHMARK(BM_SqliteStore_CommitNewVersion)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_SqliteStore_Load10k(benchmark::State& state) {
  SqliteRegistryStore store(populated_store());
  for (auto _ : state) {
    auto s = std::make_unique<StoreState>(store.load());
    if (s->versions.size() < static_cast<std::size_t>(kStoredVersions)) {
      state.SkipWithError("store lost versions");
    }
    benchmark::DoNotOptimize(s);
    state.PauseTiming();  // freeing the result is the caller's cost, not load()'s
    s.reset();
    state.ResumeTiming();
  }
  state.counters["versions"] = static_cast<double>(store.load().versions.size());
}
BENCHMARK(BM_SqliteStore_Load10k)->Unit(benchmark::kMillisecond)->UseRealTime();

// Baseline for load(): SQLite alone scanning the same 10,000 rows, every column copied out.
void BM_Sqlite_RawScan10k(benchmark::State& state) {
  const std::string path = populated_store().string();
  for (auto _ : state) {
    if (bench::raw_scan_versions(path) < kStoredVersions) {
      state.SkipWithError("raw scan failed");
      break;
    }
  }
}
BENCHMARK(BM_Sqlite_RawScan10k)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SqliteStore_MayHaveChanged(benchmark::State& state) {
  SqliteRegistryStore store(populated_store());
  for (auto _ : state) benchmark::DoNotOptimize(store.may_have_changed());
}
BENCHMARK(BM_SqliteStore_MayHaveChanged);

void BM_Serialization_VersionMetadataToJson(benchmark::State& state) {
  const ModelVersion v = realistic_version("model-1", 1);
  for (auto _ : state) benchmark::DoNotOptimize(detail::version_metadata_to_json(v));
  state.counters["bytes"] = static_cast<double>(detail::version_metadata_to_json(v).size());
}
BENCHMARK(BM_Serialization_VersionMetadataToJson);

void BM_Serialization_VersionMetadataFromJson(benchmark::State& state) {
  const std::string json = detail::version_metadata_to_json(realistic_version("model-1", 1));
  for (auto _ : state) {
    ModelVersion v;
    detail::version_metadata_from_json(json, v);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_Serialization_VersionMetadataFromJson);

}  // namespace

BENCHMARK_MAIN();
