// SPDX-License-Identifier: Apache-2.0
// Benchmarks of rollout: an Experiment's analysis and its exposure path, each beside its baseline
// in the same binary (one Welch test from summaries; an exposure no metric joins later).
//
// Run with repetitions and compare medians, e.g.
//   rollout_bench --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <switchyard/core/clock.hpp>
#include <switchyard/rollout/experiment.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <switchyard/stats/t_test.hpp>
#include <vector>

#include "bench_random.hpp"

namespace {

using switchyard::bench::splitmix64;
using switchyard::bench::uniform;

// Baseline for BM_Experiment_Analyze: one of the tests it runs (Welch's t-test from summaries).
void BM_Experiment_WelchTTestSummaryBaseline(benchmark::State& state) {
  const switchyard::stats::SampleSummary t{500000, 0.501, 0.0833, 0}, c{500000, 0.5, 0.0834, 0};
  for (auto _ : state) {
    const switchyard::stats::TTestResult r = switchyard::stats::welch_t_test(c, t);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Experiment_WelchTTestSummaryBaseline);

/// Four variants and five metrics: a binary primary, revenue per exposure, latency, accuracy and
/// Brier score.
switchyard::Experiment::Options four_variants_five_metrics(const switchyard::Clock& clock,
                                                           std::size_t max_pending) {
  namespace sy = switchyard;
  sy::Experiment::Options o;
  o.name = "bench";
  o.arms = {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}};
  o.primary = {.name = "converted", .kind = sy::MetricKind::kBinary};
  o.guardrails = {{.name = "revenue", .kind = sy::MetricKind::kContinuous, .missing_value = 0.0},
                  {.name = "latency_ms", .kind = sy::MetricKind::kLatency},
                  {.name = "accuracy", .kind = sy::MetricKind::kAccuracy},
                  {.name = "brier", .kind = sy::MetricKind::kBrierScore}};
  o.max_pending = max_pending;
  o.clock = &clock;
  return o;
}

// analyze() on 40,000 exposures (10% convert, 5% buy, 80% labelled): every shard read, 15
// comparisons, SRM, Holm, and the primary's sample-size search (not yet powered). Target: 50 us.
// Its baseline is BM_Experiment_WelchTTestSummaryBaseline, one of the tests it runs.
void BM_Experiment_Analyze(benchmark::State& state) {
  switchyard::ManualClock clock;
  switchyard::Experiment e(four_variants_five_metrics(clock, 1'000'000));
  const char* variants[] = {"a", "b", "c", "d"};
  for (std::uint64_t i = 0; i < 40'000; ++i) {
    const std::string id = "r" + std::to_string(i);
    e.expose(switchyard::Exposure{id, variants[i % 4], uniform(6 * i) < 0.5 ? 1 : 0,
                                  uniform(6 * i + 1), 5.0 + uniform(6 * i + 2)});
    if (uniform(6 * i + 3) < 0.1) e.record_outcome(id, "converted");
    if (uniform(6 * i + 4) < 0.05) e.record_outcome(id, "revenue", 10.0 * uniform(6 * i + 4));
    if (uniform(6 * i + 5) < 0.8) e.record_label(id, uniform(6 * i + 5) < 0.4 ? 1 : 0);
  }
  for (auto _ : state) {
    switchyard::ExperimentReport r = e.analyze();
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Experiment_Analyze);

// One exposure into a pending-join table held at 50,000 predictions (each insert evicts the
// oldest of its stripe): a stripe lock, a node allocation, cache misses.
void BM_Experiment_Expose(benchmark::State& state) {
  switchyard::ManualClock clock;
  switchyard::Experiment e(four_variants_five_metrics(clock, 50'000));
  std::vector<std::string> ids(1 << 20);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = "req-" + std::to_string(i);
  for (std::size_t i = 0; i < 60'000; ++i) e.expose(ids[i], "a", 1, 0.7);
  const char* variants[] = {"a", "b", "c", "d"};
  std::size_t i = 60'000;
  for (auto _ : state) {
    e.expose(switchyard::Exposure{ids[i & (ids.size() - 1)], variants[i & 3], 1, 0.7, 5.0});
    ++i;
  }
}
BENCHMARK(BM_Experiment_Expose);

// Baseline for BM_Experiment_Expose: an exposure no metric joins later (latency only), which only
// adds to per-thread shards.
void BM_Experiment_ExposeNoJoin(benchmark::State& state) {
  switchyard::ManualClock clock;
  switchyard::Experiment::Options o;
  o.name = "latency";
  o.arms = {{"a", 1}, {"b", 1}};
  o.primary = {.name = "latency_ms", .kind = switchyard::MetricKind::kLatency};
  o.clock = &clock;
  switchyard::Experiment e(o);
  const char* variants[] = {"a", "b"};
  std::size_t i = 0;
  for (auto _ : state) {
    e.expose(switchyard::Exposure{"req", variants[i & 1], 1, 0.7, 5.0});
    ++i;
  }
}
BENCHMARK(BM_Experiment_ExposeNoJoin);

}  // namespace

BENCHMARK_MAIN();
