// SPDX-License-Identifier: Apache-2.0
// DriftMonitor::observe() on the request path, against baselines in the same run, on one and two
// threads; and the full A/A false-alarm simulation (1,000 windows of 10,000 rows x 100 features).
//
//   drift_observe_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//       --benchmark_filter='Observe|Baseline'
//   drift_observe_bench --benchmark_filter=AAFalseAlarms      (about a minute)
//
// Ratios to read: BM_DriftMonitor_Observe / BM_Baseline_ReadRow (cost over touching each value
// once), / BM_Baseline_ProfileSlotOf (the profile's own slot_of per value into plain counters),
// and items_per_second of Observe with 2 threads over 1 thread (scaling).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/drift/drift_monitor.hpp>
#include <switchyard/drift/reference_profile.hpp>

namespace {

using namespace switchyard;

constexpr std::size_t kFeatures = 100;
constexpr std::size_t kRowPool = 1024;

std::shared_ptr<const ReferenceProfile> make_profile(BinningRule rule) {
  std::vector<FeatureSpec> specs;
  for (std::size_t f = 0; f < kFeatures; ++f) {
    specs.push_back({.name = "x" + std::to_string(f), .binning = rule, .bins = 32});
  }
  ReferenceProfileBuilder b(specs);
  std::mt19937_64 rng(7);
  std::normal_distribution<double> z;
  std::vector<double> row(kFeatures);
  for (int r = 0; r < 20000; ++r) {
    for (double& x : row) x = z(rng);
    b.add_row(row, z(rng));
  }
  return std::make_shared<const ReferenceProfile>(b.build());
}

const ReferenceProfile& profile(BinningRule rule) {
  static auto evidently = make_profile(BinningRule::kEvidently);
  static auto quantile = make_profile(BinningRule::kQuantile);
  return rule == BinningRule::kQuantile ? *quantile : *evidently;
}

std::vector<double> row_pool(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z;
  std::vector<double> rows(kRowPool * kFeatures);
  for (double& x : rows) x = z(rng);
  return rows;
}

// One monitor per benchmark run, shared by its threads. The manual clock never moves, so every
// row lands in one long window (steady state: the sample stride has grown, as in a busy window).
struct Shared {
  ManualClock clock;
  std::unique_ptr<DriftMonitor> monitor;
};
Shared* shared = nullptr;

void observe(benchmark::State& state, BinningRule rule, bool system_time) {
  if (state.thread_index() == 0) {
    shared = new Shared();
    DriftMonitor::Options o;
    o.model = "bench";
    o.profile = std::shared_ptr<const ReferenceProfile>(&profile(rule), [](auto*) {});
    o.clock = system_time ? &system_clock() : static_cast<const Clock*>(&shared->clock);
    o.window = std::chrono::hours(1);
    shared->monitor = std::make_unique<DriftMonitor>(o);
  }
  const std::vector<double> rows = row_pool(100 + static_cast<std::uint64_t>(state.thread_index()));
  std::size_t i = 0;
  for (auto _ : state) {
    const double* row = rows.data() + (i++ % kRowPool) * kFeatures;
    benchmark::DoNotOptimize(shared->monitor->observe(std::span<const double>(row, kFeatures), 0.5));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["ns_per_feature"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kFeatures),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  if (state.thread_index() == 0) {
    delete shared;
    shared = nullptr;
  }
}

void BM_DriftMonitor_Observe(benchmark::State& state) {
  observe(state, BinningRule::kEvidently, false);
}
BENCHMARK(BM_DriftMonitor_Observe)->Threads(1)->Threads(2)->UseRealTime();

void BM_DriftMonitor_ObserveQuantileBins(benchmark::State& state) {
  observe(state, BinningRule::kQuantile, false);
}
BENCHMARK(BM_DriftMonitor_ObserveQuantileBins)->Threads(1)->Threads(2)->UseRealTime();

void BM_DriftMonitor_ObserveSystemClock(benchmark::State& state) {
  observe(state, BinningRule::kEvidently, true);
}
BENCHMARK(BM_DriftMonitor_ObserveSystemClock)->Threads(1)->UseRealTime();

// Baselines: touching every value once, and the profile's own slot_of() into plain counters.
void BM_Baseline_ReadRow(benchmark::State& state) {
  const std::vector<double> rows = row_pool(100);
  std::size_t i = 0;
  for (auto _ : state) {
    const double* row = rows.data() + (i++ % kRowPool) * kFeatures;
    double s = 0.0;
    for (std::size_t f = 0; f < kFeatures; ++f) s += row[f];
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Baseline_ReadRow);

void BM_Baseline_ProfileSlotOf(benchmark::State& state) {
  const ReferenceProfile& p = profile(BinningRule::kEvidently);
  const std::vector<double> rows = row_pool(100);
  std::vector<std::vector<std::uint64_t>> counts;
  for (const auto& f : p.features) counts.emplace_back(f.slots() + 1, 0);
  std::size_t i = 0;
  for (auto _ : state) {
    const double* row = rows.data() + (i++ % kRowPool) * kFeatures;
    for (std::size_t f = 0; f < kFeatures; ++f) {
      const double x = row[f];
      ++counts[f][std::isfinite(x) ? p.features[f].slot_of(x) : p.features[f].slots()];
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Baseline_ProfileSlotOf);

// The full A/A simulation: 1,000 windows of 10,000 rows x 100 N(0, 1) features against a profile
// of 20,000 rows of the same distribution, at default settings (Evidently's DataDriftPreset:
// Wasserstein normed at 0.1 per feature, dataset drift at a share of 0.5). Rows come from a pool
// of 2^22 normal values at random offsets, so the run is dominated by the monitor, not the RNG.
void BM_DriftMonitor_AAFalseAlarms(benchmark::State& state) {
  const auto windows = static_cast<int>(state.range(0));
  std::mt19937_64 rng(4242);
  std::normal_distribution<double> z;
  std::vector<double> pool(std::size_t{1} << 22);
  for (double& x : pool) x = z(rng);
  for (auto _ : state) {
    ManualClock clock;
    DriftMonitor::Options o;
    o.model = "bench";
    o.profile = std::shared_ptr<const ReferenceProfile>(&profile(BinningRule::kEvidently),
                                                        [](auto*) {});
    o.clock = &clock;
    o.window = std::chrono::seconds(10);
    DriftMonitor monitor(o);
    std::size_t alarms = 0, evaluated = 0, feature_flags = 0;
    for (int w = 0; w < windows; ++w) {
      for (int r = 0; r < 10000; ++r) {
        const std::size_t at = rng() % (pool.size() - kFeatures);
        monitor.observe(std::span<const double>(pool.data() + at, kFeatures), pool[(at * 7) % pool.size()]);
      }
      clock.advance(std::chrono::seconds(10));
      for (const auto& e : monitor.poll()) {
        ++evaluated;
        alarms += e.drift.dataset_drift;
        feature_flags += e.drift.features_drifted;
      }
    }
    state.counters["windows"] = static_cast<double>(evaluated);
    state.counters["dataset_drift_alarms"] = static_cast<double>(alarms);
    state.counters["alarm_rate"] = evaluated ? static_cast<double>(alarms) / evaluated : 0.0;
    state.counters["feature_flag_rate"] =
        evaluated ? static_cast<double>(feature_flags) / (evaluated * kFeatures) : 0.0;
  }
}
BENCHMARK(BM_DriftMonitor_AAFalseAlarms)->Arg(1000)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
