// SPDX-License-Identifier: Apache-2.0
// CanaryJudge::evaluate() with five metrics (latency samples, two error-like rates, a host mean,
// accuracy), against the fixed-horizon Kayenta-equivalent Mann-Whitney with its Hodges-Lehmann
// interval on the same latency window (stats::mann_whitney_u_test) as the baseline.
//
// Run: canary_judge_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Measured (medians of 5, CPU time, a 2-core machine at load average 9 shared with other builds,
// so absolute figures are inflated): sorted windows 15.3 us per evaluate(), with the
// Hodges-Lehmann ratio interval 146 us, unsorted 42.2 us / 180 us; the baseline one Mann-Whitney
// with its shift interval 664 us (43x the sorted evaluate() that judges five metrics).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <switchyard/rollout/canary_judge.hpp>
#include <switchyard/stats/mann_whitney.hpp>
#include <vector>

#include "bench_random.hpp"

namespace {

using namespace switchyard;

// Lognormal latencies (median `median` ms, sigma 0.5) from the shared SplitMix64 stream.
std::vector<double> latencies(std::size_t n, double median, std::uint64_t offset) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double u1 = std::max(bench::uniform(offset + 2 * i), 1e-300);
    const double u2 = bench::uniform(offset + 2 * i + 1);
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    v[i] = median * std::exp(0.5 * z);
  }
  return v;
}

struct Window {
  std::vector<double> stable, candidate, stable_sorted, candidate_sorted;
  explicit Window(std::size_t n)
      : stable(latencies(n, 20.0, 0)), candidate(latencies(n, 20.4, 1u << 24)) {
    stable_sorted = stable;
    candidate_sorted = candidate;
    std::sort(stable_sorted.begin(), stable_sorted.end());
    std::sort(candidate_sorted.begin(), candidate_sorted.end());
  }
};

JudgeConfig five_metrics(bool intervals, std::uint64_t window) {
  JudgeConfig c;
  JudgeMetric latency;
  latency.name = "latency_ms";
  latency.kind = JudgeMetricKind::kSamples;
  latency.tolerance = 0.10;
  latency.group = "latency";
  latency.min_samples = 200;
  JudgeMetric errors;
  errors.name = "error_rate";
  errors.kind = JudgeMetricKind::kProportion;
  errors.tolerance = 0.005;
  errors.tolerance_scale = ToleranceScale::kAbsolute;
  errors.group = "errors";
  errors.critical = true;
  JudgeMetric timeouts = errors;
  timeouts.name = "timeout_rate";
  timeouts.critical = false;
  JudgeMetric cpu;
  cpu.name = "cpu_ms";
  cpu.kind = JudgeMetricKind::kMean;
  cpu.tolerance = 0.2;
  cpu.group = "host";
  JudgeMetric accuracy;
  accuracy.name = "accuracy";
  accuracy.kind = JudgeMetricKind::kProportion;
  accuracy.bad_direction = BadDirection::kDecrease;
  accuracy.tolerance = 0.03;
  accuracy.tolerance_scale = ToleranceScale::kAbsolute;
  accuracy.group = "quality";
  c.metrics = {latency, errors, timeouts, cpu, accuracy};
  c.group_weights = {{"latency", 30}, {"errors", 30}, {"host", 10}, {"quality", 30}};
  c.sample_intervals = intervals;
  c.tuning_parameter = 2.0 * static_cast<double>(window);
  return c;
}

void run_judge(benchmark::State& state, bool sorted, bool intervals) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const Window w(n);
  CanaryJudge judge(five_metrics(intervals, n));
  const MetricObservation obs[] = {
      sorted ? MetricObservation::samples(w.stable_sorted, w.candidate_sorted, true)
             : MetricObservation::samples(w.stable, w.candidate, false),
      MetricObservation::proportion({2, n}, {3, n}), MetricObservation::proportion({1, n}, {1, n}),
      MetricObservation::moments(stats::SampleSummary::from_mean_std(4.0, 1.0, n),
                                 stats::SampleSummary::from_mean_std(4.1, 1.1, n)),
      MetricObservation::proportion({n * 9 / 10, n}, {n * 9 / 10 - 5, n})};
  Judgement j;
  for (auto _ : state) {
    judge.reset();  // the same cumulative counts at every look
    judge.evaluate({obs}, j);
    benchmark::DoNotOptimize(j.score);
  }
  state.counters["verdict_pass"] = j.verdict == JudgeVerdict::kPass ? 1 : 0;
}

// The target configuration: the controller keeps its latency window sorted (or sorts it once per
// look for every metric that uses it), decisions only.
void BM_CanaryJudge_Evaluate5_Sorted(benchmark::State& s) { run_judge(s, true, false); }
// As above, with the Hodges-Lehmann ratio estimate and always-valid interval for the report.
void BM_CanaryJudge_Evaluate5_SortedIntervals(benchmark::State& s) { run_judge(s, true, true); }
// Unsorted windows: evaluate() copies and sorts both sides.
void BM_CanaryJudge_Evaluate5_Unsorted(benchmark::State& s) { run_judge(s, false, false); }
void BM_CanaryJudge_Evaluate5_UnsortedIntervals(benchmark::State& s) { run_judge(s, false, true); }

// Baseline: one fixed-horizon Mann-Whitney test with the Hodges-Lehmann interval (Kayenta's
// classifier's statistics) on the same latency window.
void BM_Baseline_MannWhitneyWithShiftInterval(benchmark::State& state) {
  const Window w(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    const auto r = stats::mann_whitney_u_test(w.stable, w.candidate);
    benchmark::DoNotOptimize(r.interval.lower);
  }
}

BENCHMARK(BM_CanaryJudge_Evaluate5_Sorted)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CanaryJudge_Evaluate5_SortedIntervals)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CanaryJudge_Evaluate5_Unsorted)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CanaryJudge_Evaluate5_UnsortedIntervals)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Baseline_MannWhitneyWithShiftInterval)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
