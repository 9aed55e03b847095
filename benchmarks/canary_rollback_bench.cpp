// SPDX-License-Identifier: Apache-2.0
// Rollback latency: from the start of the CanaryController::evaluate() that finds a failure to
// the moment every request thread's routing table gives the candidate 0 %, while two threads
// predict back to back on a registry-backed Deployment. The baseline, in the same run, is the
// same wait after a bare TrafficRouter::set_weights() of the same weights: the floor any
// controller has (how soon a request thread takes the new table). The difference is what the
// controller adds: the judgement, the rollback recorded before the publish, the publish.
// Each iteration is one rollout of a fresh candidate (set up outside the timed part); the time
// is manual (the last thread's first request on the new table), and failed requests are counted.
//
// Run: canary_rollback_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <Eigen/Core>

#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <switchyard/rollout/canary_controller.hpp>

#include "canary_bench_support.hpp"

namespace {

using namespace switchyard;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kModel = "fraud-detection";
constexpr int kThreads = 2;
constexpr std::int64_t kNotSeen = -1;

using bench::canary_artifact;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

// Two request threads predicting back to back; each notes when its own routing table (the one
// its requests use) first gives the "canary" arm 0 % once armed.
struct Load {
  Deployment& deployment;
  std::atomic<bool> stop{false};
  std::atomic<bool> armed{false};
  std::atomic<std::int64_t> seen_ns[kThreads];
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> served[kThreads];
  std::mutex seen_mu;  // guards pending; taken once per thread per rollback, not per request
  std::condition_variable seen_cv;
  int pending = 0;
  std::vector<std::thread> threads;

  explicit Load(Deployment& d) : deployment(d) {
    for (int t = 0; t < kThreads; ++t) {
      seen_ns[t].store(kNotSeen);
      served[t].store(0);
    }
    for (int t = 0; t < kThreads; ++t) threads.emplace_back([this, t] { run(t); });
  }
  ~Load() {
    stop.store(true);
    for (auto& th : threads) th.join();
  }
  static double canary_weight(const RoutingTable& table) {
    for (const auto& v : table.policy().variants) {
      if (v.name == "canary") return v.weight;
    }
    return 0.0;
  }
  void run(int t) {
    const double row[3] = {1.0, 2.0, 3.0};
    const std::string prefix = "t" + std::to_string(t) + "-";
    for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      auto r = deployment.predict(
          {.key = prefix + std::to_string(i & 1023), .input = TensorView(row, Shape{1, 3})});
      if (!r.ok()) failed.fetch_add(1, std::memory_order_relaxed);
      served[t].fetch_add(1, std::memory_order_relaxed);
      if (armed.load(std::memory_order_acquire) &&
          seen_ns[t].load(std::memory_order_relaxed) == kNotSeen) {
        auto table = deployment.router().read();
        if (table && canary_weight(*table) == 0.0) {
          seen_ns[t].store(now_ns(), std::memory_order_release);
          std::lock_guard lk(seen_mu);
          if (--pending == 0) seen_cv.notify_one();
        }
      }
    }
  }
  // Waits until every thread served `n` more requests (so each holds the current table).
  void settle(std::uint64_t n) {
    std::uint64_t from[kThreads];
    for (int t = 0; t < kThreads; ++t) from[t] = served[t].load();
    for (int t = 0; t < kThreads; ++t) {
      while (served[t].load() < from[t] + n) std::this_thread::yield();
    }
  }
  void arm() {
    for (auto& s : seen_ns) s.store(kNotSeen);
    {
      std::lock_guard lk(seen_mu);
      pending = kThreads;
    }
    armed.store(true, std::memory_order_release);
  }
  // Nanoseconds from `t0` until the last thread saw 0 %, or -1 after a second. The waiting
  // thread sleeps on a condition variable rather than spinning: on a 2-core machine a third
  // runnable thread would keep one request thread off its core for a scheduler time slice
  // (milliseconds), which is what a spinning wait measured before.
  std::int64_t wait_all_seen(std::int64_t t0) {
    {
      std::unique_lock lk(seen_mu);
      if (!seen_cv.wait_for(lk, std::chrono::seconds(1), [&] { return pending == 0; })) {
        return -1;
      }
    }
    armed.store(false);
    std::int64_t last = 0;
    for (auto& s : seen_ns) last = std::max(last, s.load(std::memory_order_acquire));
    return last - t0;
  }
};

// The registry's store: in memory, or the SQLite file a single-process service uses (every
// commit waits for fsync: synchronous=FULL).
enum class StoreKind { kInMemory, kSqlite };

std::unique_ptr<RegistryStore> make_store(StoreKind kind, const std::filesystem::path& dir) {
  if (kind == StoreKind::kInMemory) return std::make_unique<InMemoryRegistryStore>();
  std::filesystem::create_directories(dir);
  return std::make_unique<SqliteRegistryStore>(dir / "registry.db");
}

struct Setup {
  explicit Setup(StoreKind kind = StoreKind::kInMemory) : store(make_store(kind, dir)) {
    stable = registry.register_version(kModel, canary_artifact(1), {})->version;
    registry.transition(kModel, stable, Stage::kStaging);
    registry.transition(kModel, stable, Stage::kProduction);
    deployment = std::make_unique<Deployment>(
        Deployment::Options{.model = kModel, .source = &registry, .check_signatures = false});
  }
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("switchyard-canary-rollback-bench-" + std::to_string(std::random_device{}()));
  ManualClock clock;
  std::unique_ptr<RegistryStore> store;
  ArtifactStore artifacts{dir / "artifacts"};
  ModelRegistry registry{{.store = store.get(), .artifacts = &artifacts, .clock = &clock}};
  std::int64_t stable = 0;
  std::unique_ptr<Deployment> deployment;
  int next_seed = 2;

  ~Setup() {
    deployment.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::int64_t new_candidate() {
    const std::int64_t v =
        registry.register_version(kModel, canary_artifact(next_seed++), {})->version;
    registry.transition(kModel, v, Stage::kStaging);
    return v;
  }
  CanaryPlan plan(std::int64_t candidate) const {
    CanaryPlan p;
    p.name = p.model = kModel;
    p.candidate_version = candidate;
    p.min_samples = 100;
    p.judgement = RuleJudgement::kPerWindow;
    p.steps = {CanaryStep::set_weight(50), CanaryStep::pause(1h)};
    p.guardrails = {{.metric = GuardrailMetric::kErrorRate,
                     .bound = GuardrailBound::kIncreaseOverStable,
                     .threshold = 0.01}};
    return p;
  }
};

void report(benchmark::State& state, const Load& load, double max_ms) {
  state.counters["failed_requests"] = static_cast<double>(load.failed.load());
  state.counters["max_ms"] = max_ms;
}

void BM_CanaryRollback_RouterPublishBaseline(benchmark::State& state) {
  Setup s;
  const std::int64_t candidate = s.new_candidate();
  RoutingPolicy p;
  p.weight_style = WeightStyle::kPercent;
  p.variants = {{"stable", s.stable, 50.0}, {"canary", candidate, 50.0}};
  p.fallback_variant = "stable";
  p.fallback_on_error = true;
  s.deployment->router().set_policy(p);
  Load load(*s.deployment);
  double max_ms = 0.0;
  for (auto _ : state) {
    s.deployment->router().set_weights({{"stable", 50.0}, {"canary", 50.0}});
    load.settle(100);
    load.arm();
    const std::int64_t t0 = now_ns();
    s.deployment->router().set_weights({{"stable", 100.0}, {"canary", 0.0}});
    const std::int64_t ns = load.wait_all_seen(t0);
    if (ns < 0) {
      state.SkipWithError("a request thread never saw the new weights");
      break;
    }
    max_ms = std::max(max_ms, static_cast<double>(ns) / 1e6);
    state.SetIterationTime(static_cast<double>(ns) / 1e9);
  }
  report(state, load, max_ms);
}
BENCHMARK(BM_CanaryRollback_RouterPublishBaseline)->UseManualTime()->Iterations(30);

// state.range(0): the StoreKind.
void BM_CanaryRollback_EvaluateToZeroPercent(benchmark::State& state) {
  Setup s(static_cast<StoreKind>(state.range(0)));
  RoutingPolicy p;
  p.weight_style = WeightStyle::kPercent;
  p.variants = {{"stable", s.stable, 100.0}};
  s.deployment->router().set_policy(p);
  Load load(*s.deployment);
  double max_ms = 0.0;
  std::vector<double> to_publish_us;
  for (auto _ : state) {
    const std::int64_t candidate = s.new_candidate();
    CanaryMetrics metrics({.versions = {s.stable, candidate}, .clock = &s.clock});
    std::int64_t publish_ns = 0;
    CanaryController controller(
        {.deployment = s.deployment.get(),
         .registry = &s.registry,
         .metrics = &metrics,
         .clock = &s.clock,
         .owner = "bench",
         .before_publish = [&](const std::map<std::string, double>&) { publish_ns = now_ns(); }});
    controller.start(s.plan(candidate));
    load.settle(100);  // both threads route with the candidate at 50 %
    metrics.record_batch(s.stable, {.requests = 1000, .errors = 5});
    metrics.record_batch(candidate, {.requests = 1000, .errors = 200});
    load.arm();
    const std::int64_t t0 = now_ns();
    const RolloutAction action = controller.evaluate();
    const std::int64_t ns = load.wait_all_seen(t0);
    if (action != RolloutAction::kRolledBack || ns < 0) {
      state.SkipWithError("the controller did not roll back, or a thread never saw it");
      break;
    }
    max_ms = std::max(max_ms, static_cast<double>(ns) / 1e6);
    to_publish_us.push_back(static_cast<double>(publish_ns - t0) / 1e3);
    state.SetIterationTime(static_cast<double>(ns) / 1e9);
  }
  report(state, load, max_ms);
  // What the controller itself takes before the publish (judgement and the durable rollback
  // record), free of how soon the scheduler runs the request threads.
  std::sort(to_publish_us.begin(), to_publish_us.end());
  if (!to_publish_us.empty()) {
    state.counters["to_publish_us_median"] = to_publish_us[to_publish_us.size() / 2];
    state.counters["to_publish_us_max"] = to_publish_us.back();
  }
}
BENCHMARK(BM_CanaryRollback_EvaluateToZeroPercent)
    ->ArgName("sqlite")
    ->Arg(static_cast<int>(StoreKind::kInMemory))
    ->Arg(static_cast<int>(StoreKind::kSqlite))
    ->UseManualTime()
    ->Iterations(30);

}  // namespace

BENCHMARK_MAIN();
