// SPDX-License-Identifier: Apache-2.0
// Serving that follows the registry: the time from ModelRegistry::rollback() returning to every
// request thread serving the restored version, with two threads predicting through a
// registry-bound Deployment the whole time (failed requests are counted and must stay 0).
// stale_after_return counts requests that started after rollback() returned and still got the
// old version (must be 0: the table is published inside the call). On a loaded machine the time
// is bounded by the scheduler handing a request thread its core back, not by the library.
// BM_Binding_RollbackCall is the rollback() call itself (its durable SQLite commit included), for
// scale. Compare medians of --benchmark_repetitions.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <Eigen/Core>

#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <switchyard/serving/registry_binding.hpp>

namespace {

using namespace switchyard;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kModel = "fraud-detection";

Artifact logistic(double seed) {
  Eigen::MatrixXd w(3, 1);
  w << 0.5 * seed, -0.25, 1.0 / (1.0 + seed);
  Eigen::VectorXd b(1);
  b << 0.1 * seed;
  return {std::string(kLinearFormat), LogisticModel(w, b, {"legit", "fraud"}).to_artifact()};
}

// A registry on a scratch SQLite file with v1 and v2 having served in Production (v2 now), and a
// deployment bound to it.
struct Bound {
  fs::path dir;
  std::unique_ptr<SqliteRegistryStore> store;
  std::unique_ptr<ArtifactStore> artifacts;
  std::unique_ptr<ModelRegistry> registry;
  std::unique_ptr<Deployment> deployment;
  std::unique_ptr<RegistryBinding> binding;

  Bound() {
    std::random_device rd;
    dir = fs::temp_directory_path() / ("switchyard-bench-" + std::to_string(rd()));
    fs::create_directories(dir);
    store = std::make_unique<SqliteRegistryStore>(
        SqliteRegistryStore::Options{.path = (dir / "registry.db").string()});
    artifacts = std::make_unique<ArtifactStore>(dir / "artifacts");
    registry = std::make_unique<ModelRegistry>(
        ModelRegistry::Options{.store = store.get(), .artifacts = artifacts.get()});
    for (double seed : {1.0, 2.0}) {
      auto v = registry->register_version(kModel, logistic(seed), {}, {.actor = "bench"});
      registry->transition(kModel, v->version, Stage::kStaging, {.actor = "bench"});
      registry->transition(kModel, v->version, Stage::kProduction, {.actor = "bench"});
    }
    deployment = std::make_unique<Deployment>(
        Deployment::Options{.model = kModel, .source = registry.get()});
    binding = std::make_unique<RegistryBinding>(
        RegistryBinding::Options{.registry = registry.get(), .deployment = deployment.get()});
  }
  ~Bound() {
    binding.reset();
    deployment.reset();
    registry.reset();
    store.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // Rolls back from the current Production version to the other one; returns the restored one.
  std::int64_t roll() {
    const std::int64_t now = registry->in_stage(kModel, Stage::kProduction)->version;
    const std::int64_t to = now == 1 ? 2 : 1;
    registry->rollback(kModel, {.actor = "bench", .reason = "bench"}, to);
    return to;
  }
};

// Two request threads predict continuously. Each iteration: the benchmark thread names the version
// to be restored, calls rollback(), and waits until both request threads have served it; the
// iteration's time is from rollback() returning to the later thread's first answer from that
// version (0 when a thread saw it before rollback() returned: the table is published inside it).
void BM_Binding_RollbackVisibleToEveryThread(benchmark::State& state) {
  Bound b;
  constexpr int kThreads = 2;
  std::atomic<bool> running{true};
  std::atomic<std::int64_t> target{0};
  std::atomic<std::uint64_t> failed{0}, served{0}, stale{0};
  std::atomic<std::int64_t> returned_at{0};  // when rollback() returned; 0 while it runs
  struct alignas(64) Seen {
    std::atomic<std::int64_t> at_ns{0};    // when this thread first served `version`
    std::atomic<std::int64_t> version{0};  // the last target this thread has served
  };
  Seen seen[kThreads];
  // The benchmark thread sleeps on this (a futex), so the two request threads have both cores.
  std::atomic<int> pending{0};
  const auto epoch = Clock::now();
  auto since = [&] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - epoch).count();
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      const double x[3] = {0.1, 0.2, 0.3};
      const std::string key = "user-" + std::to_string(t);
      while (running.load(std::memory_order_relaxed)) {
        const std::int64_t start = since();
        auto r = b.deployment->predict({.key = key, .input = TensorView(x, Shape{1, 3})});
        if (!r.ok()) {
          failed.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        served.fetch_add(1, std::memory_order_relaxed);
        // A request that started after rollback() returned must get the restored version.
        // (target first: seeing a new target guarantees seeing returned_at reset before it).
        const std::int64_t want = target.load(std::memory_order_acquire);
        const std::int64_t back = returned_at.load(std::memory_order_acquire);
        if (back != 0 && start > back && r->version != want) {
          stale.fetch_add(1, std::memory_order_relaxed);
        }
        // First answer from this iteration's target: recorded once per target, so a stale
        // answer from the version being replaced can never count for the next iteration.
        if (r->version == want && seen[t].version.load(std::memory_order_relaxed) != want) {
          seen[t].at_ns.store(since(), std::memory_order_relaxed);
          seen[t].version.store(want, std::memory_order_release);
          if (pending.fetch_sub(1) == 1) pending.notify_one();
        }
      }
    });
  }
  double worst_us = 0.0;
  for (auto _ : state) {
    const std::int64_t now = b.registry->in_stage(kModel, Stage::kProduction)->version;
    pending.store(kThreads);
    returned_at.store(0, std::memory_order_release);
    target.store(now == 1 ? 2 : 1, std::memory_order_release);
    b.registry->rollback(kModel, {.actor = "bench", .reason = "bench"}, target.load());
    const std::int64_t returned = since();
    returned_at.store(returned, std::memory_order_release);
    for (int left = pending.load(); left != 0; left = pending.load()) pending.wait(left);
    std::int64_t last = 0;
    for (auto& s : seen) last = std::max(last, s.at_ns.load());
    const double seconds = static_cast<double>(std::max<std::int64_t>(0, last - returned)) * 1e-9;
    worst_us = std::max(worst_us, seconds * 1e6);
    state.SetIterationTime(seconds);
  }
  running.store(false);
  for (auto& w : workers) w.join();
  state.counters["failed_requests"] = static_cast<double>(failed.load());
  state.counters["served_requests"] = static_cast<double>(served.load());
  state.counters["stale_after_return"] = static_cast<double>(stale.load());
  state.counters["worst_us"] = worst_us;
}
// A fixed count: each iteration is a durable rollback (milliseconds of fsync) timed in microseconds,
// so letting the library pick the count from the manual time would run for minutes.
BENCHMARK(BM_Binding_RollbackVisibleToEveryThread)
    ->UseManualTime()
    ->Iterations(200)
    ->Unit(benchmark::kMicrosecond);

// The rollback() call itself: one SQLite transaction (archive, restore, audit rows) made durable,
// the snapshot republished and the bound deployment's table published.
void BM_Binding_RollbackCall(benchmark::State& state) {
  Bound b;
  for (auto _ : state) benchmark::DoNotOptimize(b.roll());
}
BENCHMARK(BM_Binding_RollbackCall)->Iterations(200)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
