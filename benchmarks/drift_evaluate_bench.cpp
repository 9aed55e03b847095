// SPDX-License-Identifier: Apache-2.0
// Drift evaluation of a whole window: 1,000 numeric features x 32 bins, PSI plus Evidently's
// default test per feature, from the profile's bins and the window's counts (what a DriftMonitor
// hands evaluate_drift at the end of a window).
//
// Target (issue "DriftMonitor"): <= 1 ms for the window. Run with repetitions and compare medians:
//   drift_evaluate_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// scripts/drift_bench_python.py computes the same statistics with numpy/scipy on the identical
// data (same SplitMix64 stream) and prints its medians and the sums the counters here report
// (psi_sum, test_sum), so the ratio can be stated.
//
// Data: feature f has 32 equal bins on [0, 1]; reference count of bin b = 100 + floor(200 u)
// (u = uniform(9,000,000 + 32 f + b)), so each reference has > 1,000 rows and the default test is
// the Wasserstein distance (normed); window count = 20 + floor(100 u') (u' = uniform(10,000,000 +
// 32 f + b)), except bin f % 32 which is empty so Evidently's empty-bin replacement runs. The
// "SmallReference" case divides reference counts to 5 + floor(20 u) (< 1,000 rows): the default
// test is then Kolmogorov-Smirnov (binned; asymptotic p-value).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include <switchyard/drift/drift_evaluation.hpp>

#include "bench_random.hpp"

namespace {

using namespace switchyard;
using switchyard::bench::uniform;

constexpr std::size_t kFeatures = 1000;
constexpr std::size_t kBins = 32;

struct Case {
  ReferenceProfile profile;
  CurrentWindow window;
};

Case make_case(bool small_reference) {
  Case c;
  std::vector<double> edges(kBins + 1);
  for (std::size_t b = 0; b <= kBins; ++b) edges[b] = static_cast<double>(b) / kBins;
  for (std::size_t f = 0; f < kFeatures; ++f) {
    FeatureProfile p;
    p.name = "f" + std::to_string(f);
    p.binning = BinningRule::kFixed;
    p.edges = edges;
    p.index_edges();
    p.counts.assign(kBins + 2, 0);
    double n = 0, sum = 0, sum_sq = 0;
    for (std::size_t b = 0; b < kBins; ++b) {
      const double u = uniform(9'000'000 + f * kBins + b);
      const auto count = small_reference ? 5 + static_cast<std::uint64_t>(20 * u)
                                         : 100 + static_cast<std::uint64_t>(200 * u);
      p.counts[b + 1] = count;
      p.count += count;
      const double center = (edges[b] + edges[b + 1]) / 2;
      n += static_cast<double>(count);
      sum += static_cast<double>(count) * center;
      sum_sq += static_cast<double>(count) * center * center;
    }
    p.mean = sum / n;
    p.std_dev = std::sqrt(std::max(0.0, sum_sq / n - p.mean * p.mean));
    p.min = 0.0;
    p.max = 1.0;
    c.profile.features.push_back(std::move(p));
  }
  c.profile.rows = c.profile.features.front().count;
  c.window = CurrentWindow::for_profile(c.profile);
  for (std::size_t f = 0; f < kFeatures; ++f) {
    for (std::size_t b = 0; b < kBins; ++b) {
      const double u = uniform(10'000'000 + f * kBins + b);
      c.window.features[f].counts[b + 1] =
          b == f % kBins ? 0 : 20 + static_cast<std::uint64_t>(100 * u);
    }
  }
  return c;
}

void run(benchmark::State& state, const Case& c) {
  double psi_sum = 0.0, test_sum = 0.0;
  for (auto _ : state) {
    DriftReport r = evaluate_drift(c.profile, c.window);
    benchmark::DoNotOptimize(r);
    psi_sum = test_sum = 0.0;
    for (const FeatureDrift& f : r.features) {
      psi_sum += f.find(DriftTest::kPsi)->value;
      test_sum += f.score;
    }
  }
  state.counters["psi_sum"] = psi_sum;
  state.counters["test_sum"] = test_sum;
  state.counters["per_feature"] = benchmark::Counter(
      static_cast<double>(kFeatures),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_Drift_Evaluate1000Features32Bins(benchmark::State& state) {
  static const Case c = make_case(false);
  run(state, c);
}
BENCHMARK(BM_Drift_Evaluate1000Features32Bins)->Unit(benchmark::kMicrosecond);

void BM_Drift_Evaluate1000Features32BinsSmallReference(benchmark::State& state) {
  static const Case c = make_case(true);
  run(state, c);
}
BENCHMARK(BM_Drift_Evaluate1000Features32BinsSmallReference)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
