// SPDX-License-Identifier: Apache-2.0
// Benchmarks of the rollout simulator and CanaryMetrics' request path, each beside a baseline in
// the same binary:
// - a 24-hour simulation at 1,000 requests per second (86.4 M requests) in aggregate mode, with a
//   callback that rolls CanaryMetrics' window every minute, against the per-request mode over
//   one simulated minute (60,000 predict() calls); compare items_per_second (simulated requests
//   per second of wall time).
// - CanaryMetrics::record_request against VersionStats::record_success (the deployment's own
//   per-version statistics), both on one thread.
//
// Run with repetitions and compare medians, e.g.
//   rollout_simulator_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>

#include <switchyard/monitoring/version_stats.hpp>
#include <switchyard/rollout/canary_metrics.hpp>
#include <switchyard/rollout/rollout_simulator.hpp>

namespace {

using namespace std::chrono_literals;

switchyard::RolloutSimulator::Options seed_003_traffic(switchyard::SimulationMode mode,
                                                       switchyard::Duration duration) {
  switchyard::RolloutSimulator::Options o;
  o.versions = {{.version = 11}, {.version = 12}};
  switchyard::RoutingPolicy p;
  p.variants = {{"stable", 11, 95}, {"canary", 12, 5}};
  p.weight_style = switchyard::WeightStyle::kPercent;
  p.fallback_variant = "stable";
  o.policy = p;
  o.mode = mode;
  o.duration = duration;
  o.requests_per_second = 1000;
  return o;
}

void run(benchmark::State& state, switchyard::SimulationMode mode, switchyard::Duration d) {
  std::uint64_t requests = 0, seed = 1;
  for (auto _ : state) {
    auto o = seed_003_traffic(mode, d);
    o.seed = seed++;
    switchyard::RolloutSimulator sim(o);
    auto r = sim.run([](switchyard::RolloutSimulator& s) {
      benchmark::DoNotOptimize(s.metrics().roll_window());
      return switchyard::SimulationAction::kContinue;
    });
    requests += r.requests;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(requests));
}

// Baseline: every request through Deployment::predict() with CanaryMetrics attached.
void BM_RolloutSimulator_PerRequestOneMinute(benchmark::State& state) {
  run(state, switchyard::SimulationMode::kPerRequest, 1min);
}
BENCHMARK(BM_RolloutSimulator_PerRequestOneMinute)->Unit(benchmark::kMillisecond);

void BM_RolloutSimulator_Aggregate24Hours(benchmark::State& state) {
  run(state, switchyard::SimulationMode::kAggregate, 24h);
}
BENCHMARK(BM_RolloutSimulator_Aggregate24Hours)->Unit(benchmark::kMillisecond);

// Baseline: the deployment's own per-version statistics for one answered request.
void BM_CanaryMetrics_VersionStatsBaseline(benchmark::State& state) {
  switchyard::VersionStats stats;
  std::uint64_t ns = 1000;
  for (auto _ : state) {
    stats.record_success(ns, 1, 0.9);
    ns = ns * 1103515245 % 100000000 + 1000;
  }
}
BENCHMARK(BM_CanaryMetrics_VersionStatsBaseline);

void BM_CanaryMetrics_RecordRequest(benchmark::State& state) {
  switchyard::CanaryMetrics m({.versions = {11, 12}});
  std::uint64_t ns = 1000;
  for (auto _ : state) {
    m.record_request(12, true, ns);
    ns = ns * 1103515245 % 100000000 + 1000;
  }
}
BENCHMARK(BM_CanaryMetrics_RecordRequest);

}  // namespace

BENCHMARK_MAIN();
