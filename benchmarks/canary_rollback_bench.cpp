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
#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>
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
    armed.store(true, std::memory_order_release);
  }
  // Nanoseconds from `t0` until the last thread saw 0 %, or -1 after a second.
  std::int64_t wait_all_seen(std::int64_t t0) {
    std::int64_t last = 0;
    for (auto& s : seen_ns) {
      std::int64_t v;
      while ((v = s.load(std::memory_order_acquire)) == kNotSeen) {
        if (now_ns() - t0 > 1'000'000'000) return -1;
        std::this_thread::yield();
      }
      last = std::max(last, v);
    }
    armed.store(false);
    return last - t0;
  }
};

struct Setup {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("switchyard-canary-rollback-bench-" + std::to_string(std::random_device{}()));
  ManualClock clock;
  InMemoryRegistryStore store;
  ArtifactStore artifacts{dir};
  ModelRegistry registry{{.store = &store, .artifacts = &artifacts, .clock = &clock}};
  std::int64_t stable = 0;
  std::unique_ptr<Deployment> deployment;
  int next_seed = 2;

  Setup() {
    stable = registry.register_version(kModel, canary_artifact(1), {})->version;
    registry.transition(kModel, stable, Stage::kStaging);
    registry.transition(kModel, stable, Stage::kProduction);
    deployment = std::make_unique<Deployment>(
        Deployment::Options{.model = kModel, .source = &registry, .check_signatures = false});
  }
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

void BM_CanaryRollback_EvaluateToZeroPercent(benchmark::State& state) {
  Setup s;
  RoutingPolicy p;
  p.weight_style = WeightStyle::kPercent;
  p.variants = {{"stable", s.stable, 100.0}};
  s.deployment->router().set_policy(p);
  Load load(*s.deployment);
  double max_ms = 0.0;
  for (auto _ : state) {
    const std::int64_t candidate = s.new_candidate();
    CanaryMetrics metrics({.versions = {s.stable, candidate}, .clock = &s.clock});
    CanaryController controller({.deployment = s.deployment.get(),
                                 .registry = &s.registry,
                                 .metrics = &metrics,
                                 .clock = &s.clock,
                                 .owner = "bench"});
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
    state.SetIterationTime(static_cast<double>(ns) / 1e9);
  }
  report(state, load, max_ms);
}
BENCHMARK(BM_CanaryRollback_EvaluateToZeroPercent)->UseManualTime()->Iterations(30);

}  // namespace

BENCHMARK_MAIN();
