// SPDX-License-Identifier: Apache-2.0
// Serving-path benchmarks: routing, Deployment::predict overhead, metrics recording, swaps under
// load. Each target is measured beside a baseline in the same run; compare medians of
// --benchmark_repetitions (scripts/run-benchmarks.sh prints the ratios).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <switchyard/serving/deployment.hpp>

namespace {

using namespace switchyard;

// A model that does nothing, so a benchmark of predict() measures the library around it.
class TrivialModel final : public Model {
 public:
  const Signature& signature() const noexcept override { return sig_; }
  std::string_view format() const noexcept override { return "bench.trivial"; }
  Prediction predict(const ModelInput&) const override { return {}; }

 private:
  Signature sig_;
};

const std::vector<std::string>& keys() {
  static const std::vector<std::string> k = [] {
    std::vector<std::string> v;
    for (int i = 0; i < 4096; ++i) v.push_back("user-" + std::to_string(i * 7919));
    return v;
  }();
  return k;
}

struct Setup {
  StaticModelSource source;
  std::unique_ptr<Deployment> deployment;
  Setup() {
    source.add("fraud-detection", 1, std::make_shared<TrivialModel>());
    source.add("fraud-detection", 2, std::make_shared<TrivialModel>());
    deployment = std::make_unique<Deployment>(
        Deployment::Options{.model = "fraud-detection", .source = &source});
    RoutingPolicy p;
    p.variants = {{"control", 1, 70}, {"treatment", 2, 30}};
    p.weight_style = WeightStyle::kPercent;
    deployment->router().set_policy(p);
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

// Route one key: snapshot acquire (per-thread cached pointer), hash, variant pick.
void BM_Router_RouteSticky(benchmark::State& state) {
  const TrafficRouter& router = setup().deployment->router();
  const auto& k = keys();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 997;
  for (auto _ : state) {
    auto table = router.read();
    auto d = table->route(k[i++ & 4095]);
    benchmark::DoNotOptimize(d.variant);
  }
}
BENCHMARK(BM_Router_RouteSticky)->Threads(1)->Threads(2)->UseRealTime();

// Baseline: the same pick through std::atomic<std::shared_ptr>, the obvious lock-free design.
void BM_Router_RouteAtomicSharedPtrBaseline(benchmark::State& state) {
  static std::atomic<std::shared_ptr<const RoutingTable>> cell{setup().deployment->router().table()};
  const auto& k = keys();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 997;
  for (auto _ : state) {
    auto table = cell.load(std::memory_order_acquire);
    auto d = table->route(k[i++ & 4095]);
    benchmark::DoNotOptimize(d.variant);
  }
}
BENCHMARK(BM_Router_RouteAtomicSharedPtrBaseline)->Threads(1)->Threads(2)->UseRealTime();

// The model call alone: what predict() costs without the library.
void BM_Deployment_ModelCallBaseline(benchmark::State& state) {
  ModelPtr m = setup().source.load("fraud-detection", 1);
  const double row[8] = {};
  ModelInput in(TensorView(row, Shape{1, 8}));
  for (auto _ : state) {
    auto p = m->predict(in);
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_Deployment_ModelCallBaseline)->Threads(1)->Threads(2)->UseRealTime();

// Deployment::predict around the trivial model: route, signature check, call, latency clock
// reads and per-version counters. Overhead = this minus ModelCallBaseline.
void BM_Deployment_Predict(benchmark::State& state) {
  Deployment& d = *setup().deployment;
  const auto& k = keys();
  const double row[8] = {};
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 997;
  for (auto _ : state) {
    auto r = d.predict({.key = k[i++ & 4095], .input = TensorView(row, Shape{1, 8})});
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Deployment_Predict)->Threads(1)->Threads(2)->UseRealTime();

void BM_Metrics_RecordSuccess(benchmark::State& state) {
  static VersionStats stats;
  std::uint64_t ns = 1000;
  for (auto _ : state) {
    stats.record_success(ns, 1, 0.75);
    ns = (ns * 13 + 7) & 0xFFFFF;
  }
  benchmark::ClobberMemory();
}
BENCHMARK(BM_Metrics_RecordSuccess)->Threads(1)->Threads(2)->UseRealTime();

// Two request threads predict while a third republishes the weights `swaps` times, one every
// `interval` microseconds (0: back to back, about 100,000 a second here). Reports the p99 and
// p99.9 latency of a request with swaps running and without, their ratios, and failed requests.
// Each swap makes every request thread take the slow path once (refresh its cached table: the
// cell's mutex, a reference count, and cache misses on the new table, about 0.5 us here); back to
// back, that is about 1% of requests, right at the p99.
void BM_Deployment_SwapUnderLoad(benchmark::State& state) {
  const int swaps = static_cast<int>(state.range(0));
  const auto interval = std::chrono::microseconds(state.range(1));
  for (auto _ : state) {
    Setup s;
    Deployment& d = *s.deployment;
    auto run = [&](bool swapping) {
      std::atomic<bool> stop{false};
      std::atomic<std::uint64_t> failures{0};
      LatencyHistogram h[2];
      auto worker = [&](int t) {
        const auto& k = keys();
        const double row[8] = {};
        std::size_t i = static_cast<std::size_t>(t) * 997;
        std::uint64_t n = 0;
        while (!stop.load(std::memory_order_relaxed) || n < 100000) {
          auto t0 = std::chrono::steady_clock::now();
          auto r = d.predict({.key = k[i++ & 4095], .input = TensorView(row, Shape{1, 8})});
          auto t1 = std::chrono::steady_clock::now();
          if (!r.ok()) failures.fetch_add(1);
          h[t].record(static_cast<std::uint64_t>((t1 - t0).count()));
          ++n;
        }
      };
      std::thread a(worker, 0), b(worker, 1);
      if (swapping) {
        auto next = std::chrono::steady_clock::now();
        for (int j = 0; j < swaps; ++j) {
          d.router().set_weights({{"control", 50.0 + j % 50}, {"treatment", 50.0 - j % 50}});
          if (interval.count() > 0) std::this_thread::sleep_until(next += interval);
        }
      } else {
        // Same wall time budget without swaps: the workers' minimum of 100,000 requests.
      }
      stop = true;
      a.join();
      b.join();
      h[0].merge(h[1]);
      return std::tuple{h[0].quantile(0.99), h[0].quantile(0.999), failures.load()};
    };
    auto [steady_p99, steady_p999, steady_failures] = run(false);
    auto [swap_p99, swap_p999, swap_failures] = run(true);
    state.counters["p99_steady_ns"] = steady_p99;
    state.counters["p99_swapping_ns"] = swap_p99;
    state.counters["p99_ratio"] = swap_p99 / steady_p99;
    state.counters["p999_steady_ns"] = steady_p999;
    state.counters["p999_swapping_ns"] = swap_p999;
    state.counters["p999_ratio"] = swap_p999 / steady_p999;
    state.counters["failed_requests"] = static_cast<double>(steady_failures + swap_failures);
  }
}
BENCHMARK(BM_Deployment_SwapUnderLoad)
    ->Args({10000, 0})
    ->Args({10000, 100})
    ->Args({10000, 1000})
    ->Iterations(1)
    ->UseRealTime();

// The seed's ABTester.split_traffic is hash(user_id) % 100 against split_ratio * 100; this is the
// same assignment through the router (scripts/run-benchmarks.sh times the Python one).
void BM_Seed_SplitTraffic(benchmark::State& state) {
  BM_Router_RouteSticky(state);
}
BENCHMARK(BM_Seed_SplitTraffic)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
