// SPDX-License-Identifier: Apache-2.0
// Benchmarks of the statistics library: accumulator updates, AUC with DeLong, Welch's t-test (the
// Experiment built on them is timed in rollout_bench.cpp).
//
// Run with repetitions and compare medians, e.g.
//   stats_bench --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
// scripts/stats_bench_python.py times scikit-learn's roc_auc_score and scipy's ttest_ind on the
// identical data (same SplitMix64 generator and seed), so the ratio can be reported.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <span>
#include <string>
#include <switchyard/stats/drift_statistics.hpp>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/roc_auc.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <switchyard/stats/sharded_accumulator.hpp>
#include <switchyard/stats/t_test.hpp>
#include <thread>
#include <vector>

#include "bench_random.hpp"

namespace {

using namespace switchyard::stats;

using switchyard::bench::splitmix64;
using switchyard::bench::uniform;

constexpr std::size_t kScored = 1'000'000;

/// 1,000,000 scored examples: label = 1 when uniform(2i) < 0.3; score = uniform(2i+1) + 0.25 label,
/// rounded to 1/4096 so that scores tie (as real model scores do).
struct ScoredData {
  std::vector<int> labels;
  std::vector<double> scores_a, scores_b;
  ScoredData() : labels(kScored), scores_a(kScored), scores_b(kScored) {
    for (std::size_t i = 0; i < kScored; ++i) {
      labels[i] = uniform(2 * i) < 0.3 ? 1 : 0;
      const double s = uniform(2 * i + 1) + 0.25 * labels[i];
      scores_a[i] = static_cast<double>(static_cast<std::int64_t>(s * 4096.0)) / 4096.0;
      scores_b[i] = 0.5 * scores_a[i] + 0.5 * uniform(3 * kScored + i);
    }
  }
};
const ScoredData& scored() {
  static const ScoredData d;
  return d;
}

/// Welch's t-test input: two arms of 500,000 uniforms, treatment shifted by 0.001.
struct Arms {
  std::vector<double> treatment, control;
  Arms() : treatment(kScored / 2), control(kScored / 2) {
    for (std::size_t i = 0; i < kScored / 2; ++i) {
      treatment[i] = uniform(5 * kScored + i) + 0.001;
      control[i] = uniform(6 * kScored + i);
    }
  }
};
const Arms& arms() {
  static const Arms a;
  return a;
}

// One RunningMoments::add (Welford, shifted) per iteration; the sample rotates through a small
// buffer so the loop is bound by the update, not by memory.
void BM_Stats_AccumulatorUpdate(benchmark::State& state) {
  std::vector<double> xs(1024);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = 1e6 + uniform(i);
  RunningMoments m;
  std::size_t i = 0;
  for (auto _ : state) {
    double x = xs[i++ & 1023];
    benchmark::DoNotOptimize(x);  // opaque input; the result is consumed after the loop
    m.add(x);
  }
  benchmark::DoNotOptimize(m.variance());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Stats_AccumulatorUpdate);

// Baseline in the same binary: the textbook running sum and sum of squares (fast, numerically
// unsound for large means), to put the Welford update's cost in proportion.
void BM_Stats_NaiveSumsUpdate(benchmark::State& state) {
  std::vector<double> xs(1024);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = 1e6 + uniform(i);
  double s = 0.0, s2 = 0.0;
  std::uint64_t n = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    double x = xs[i++ & 1023];
    benchmark::DoNotOptimize(x);
    ++n;
    s += x;
    s2 += x * x;
  }
  benchmark::DoNotOptimize(n);
  benchmark::DoNotOptimize(s);
  benchmark::DoNotOptimize(s2);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Stats_NaiveSumsUpdate);

void BM_Stats_ProportionUpdate(benchmark::State& state) {
  ProportionCounter p;
  std::uint64_t i = 0;
  for (auto _ : state) {
    p.add((++i & 7) == 0);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Stats_ProportionUpdate);

// The request-path form: each thread adds to its own shard of one shared accumulator.
void BM_Stats_ShardedAccumulatorUpdate(benchmark::State& state) {
  static ShardedAccumulator<RunningMoments>* shared = nullptr;
  if (state.thread_index() == 0) shared = new ShardedAccumulator<RunningMoments>();
  // Google Benchmark starts the timed region of all threads together after setup.
  double x = 1e6 + state.thread_index();
  for (auto _ : state) {
    shared->add(x);
    x += 0.5;
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    benchmark::DoNotOptimize(shared->snapshot().count());
    delete shared;
    shared = nullptr;
  }
}
BENCHMARK(BM_Stats_ShardedAccumulatorUpdate)->Threads(1)->Threads(2);

// ROC AUC with DeLong's variance on 1,000,000 scored examples (sklearn: roc_auc_score alone).
void BM_Stats_RocAucDeLong1M(benchmark::State& state) {
  const ScoredData& d = scored();
  double auc = 0.0;
  for (auto _ : state) {
    const AucResult r = roc_auc(d.labels, d.scores_a);
    auc = r.auc;
    benchmark::DoNotOptimize(r);
  }
  state.counters["auc"] = auc;
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kScored));
}
BENCHMARK(BM_Stats_RocAucDeLong1M)->Unit(benchmark::kMillisecond);

// Paired DeLong test of two models on the same 1,000,000 examples.
void BM_Stats_DeLongPaired1M(benchmark::State& state) {
  const ScoredData& d = scored();
  for (auto _ : state) {
    const DeLongResult r = delong_test(d.labels, d.scores_a, d.scores_b);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kScored));
}
BENCHMARK(BM_Stats_DeLongPaired1M)->Unit(benchmark::kMillisecond);

// Welch's t-test from samples, 2 x 500,000 values (scipy: ttest_ind(t, c, equal_var=False)).
void BM_Stats_WelchTTestSamples(benchmark::State& state) {
  const Arms& a = arms();
  double t = 0.0;
  for (auto _ : state) {
    const TTestResult r = welch_t_test(a.control, a.treatment);
    t = r.statistic;
    benchmark::DoNotOptimize(r);
  }
  state.counters["t"] = t;
}
BENCHMARK(BM_Stats_WelchTTestSamples)->Unit(benchmark::kMillisecond);

// Welch's t-test from accumulated summaries: the per-refresh cost of an experiment report.
void BM_Stats_WelchTTestSummary(benchmark::State& state) {
  const SampleSummary t{500000, 0.501, 0.0833, 0}, c{500000, 0.5, 0.0834, 0};
  for (auto _ : state) {
    const TTestResult r = welch_t_test(c, t);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Stats_WelchTTestSummary);

// Drift evaluation: PSI of 1,000 features x 32 bins from their reference and current proportions
// (the window's bins already counted), one empty current bin per feature so that Evidently's
// empty-bin replacement runs. scripts/stats_bench_python.py --drift times numpy on the same data;
// the `psi_sum` counter equals the sum it prints. `per_feature` is the time per feature.
constexpr std::size_t kDriftFeatures = 1000;
constexpr std::size_t kDriftBins = 32;

struct DriftBins {
  std::vector<double> reference, current;  // feature-major, kDriftBins per feature
  DriftBins() : reference(kDriftFeatures * kDriftBins), current(kDriftFeatures * kDriftBins) {
    for (std::size_t f = 0; f < kDriftFeatures; ++f) {
      double rs = 0.0, cs = 0.0;
      for (std::size_t b = 0; b < kDriftBins; ++b) {
        const std::size_t i = f * kDriftBins + b;
        reference[i] = 0.5 + uniform(7'000'000 + i);
        current[i] = b == f % kDriftBins ? 0.0 : 0.5 + uniform(8'000'000 + i);
        rs += reference[i];
        cs += current[i];
      }
      for (std::size_t b = 0; b < kDriftBins; ++b) {
        reference[f * kDriftBins + b] /= rs;
        current[f * kDriftBins + b] /= cs;
      }
    }
  }
};

const DriftBins& drift_bins() {
  static const DriftBins d;
  return d;
}

void BM_Stats_DriftPsi1000Features32Bins(benchmark::State& state) {
  const DriftBins& d = drift_bins();
  double sum = 0.0;
  for (auto _ : state) {
    sum = 0.0;
    for (std::size_t f = 0; f < kDriftFeatures; ++f) {
      const std::span<const double> ref(d.reference.data() + f * kDriftBins, kDriftBins);
      const std::span<const double> cur(d.current.data() + f * kDriftBins, kDriftBins);
      const DriftResult r = population_stability_index(ref, cur);
      sum += r.value;
      benchmark::DoNotOptimize(r);
    }
  }
  state.counters["psi_sum"] = sum;
  state.counters["per_feature"] =
      benchmark::Counter(static_cast<double>(kDriftFeatures),
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kDriftFeatures));
}
BENCHMARK(BM_Stats_DriftPsi1000Features32Bins)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
