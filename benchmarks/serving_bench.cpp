// SPDX-License-Identifier: Apache-2.0
// Serving-path benchmarks: bucketing hashes, routing, Deployment::predict overhead, metrics
// recording, swaps under load. Each target is measured beside a baseline in the same run; compare
// medians of --benchmark_repetitions (scripts/run-benchmarks.sh prints the ratios).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
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

// ---- Bucketing hashes on short keys ("user-<n>", 6 to 13 bytes) --------------------------------
// XXH64 as bucketing.hpp computed it by hand before it called libxxhash, kept here only as the
// baseline of BM_Bucketing_Xxh64Library (same values: tests/serving/bucketing_test.cpp).
namespace handwritten {
constexpr std::uint64_t kP1 = 0x9E3779B185EBCA87ULL, kP2 = 0xC2B2AE3D27D4EB4FULL,
                        kP3 = 0x165667B19E3779F9ULL, kP4 = 0x85EBCA77C2B2AE63ULL,
                        kP5 = 0x27D4EB2F165667C5ULL;
std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
std::uint64_t le64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
std::uint32_t le32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
std::uint64_t round(std::uint64_t acc, std::uint64_t lane) {
  return rotl(acc + lane * kP2, 31) * kP1;
}
std::uint64_t merge(std::uint64_t h, std::uint64_t v) { return (h ^ round(0, v)) * kP1 + kP4; }
std::uint64_t xxh64(std::string_view s, std::uint64_t seed) {
  const char* p = s.data();
  const std::size_t n = s.size();
  std::size_t i = 0;
  std::uint64_t h;
  if (n >= 32) {
    std::uint64_t v1 = seed + kP1 + kP2, v2 = seed + kP2, v3 = seed, v4 = seed - kP1;
    for (; i + 32 <= n; i += 32) {
      v1 = round(v1, le64(p + i));
      v2 = round(v2, le64(p + i + 8));
      v3 = round(v3, le64(p + i + 16));
      v4 = round(v4, le64(p + i + 24));
    }
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = seed + kP5;
  }
  h += n;
  for (; i + 8 <= n; i += 8) h = rotl(h ^ round(0, le64(p + i)), 27) * kP1 + kP4;
  if (i + 4 <= n) {
    h = rotl(h ^ (le32(p + i) * kP1), 23) * kP2 + kP3;
    i += 4;
  }
  for (; i < n; ++i) h = rotl(h ^ (static_cast<unsigned char>(p[i]) * kP5), 11) * kP1;
  h = (h ^ (h >> 33)) * kP2;
  h = (h ^ (h >> 29)) * kP3;
  return h ^ (h >> 32);
}
}  // namespace handwritten

const std::uint64_t kSaltSeed = bucketing::HashSalt("fraud-detection/canary-7").seed();

void BM_Bucketing_Xxh64HandWrittenBaseline(benchmark::State& state) {
  const auto& k = keys();
  for (const auto& key : k) {
    if (handwritten::xxh64(key, kSaltSeed) != bucketing::xxh64(key, kSaltSeed)) {
      state.SkipWithError("the baseline computes another hash than libxxhash");
      return;
    }
  }
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(handwritten::xxh64(k[i++ & 4095], kSaltSeed));
}
BENCHMARK(BM_Bucketing_Xxh64HandWrittenBaseline);

// What HashScheme::kDefault computes per request: libxxhash's XXH64, inlined.
void BM_Bucketing_Xxh64Library(benchmark::State& state) {
  const auto& k = keys();
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(bucketing::xxh64(k[i++ & 4095], kSaltSeed));
}
BENCHMARK(BM_Bucketing_Xxh64Library);

// What HashScheme::kXxh3 computes per request: libxxhash's XXH3_64bits_withSeed, inlined.
void BM_Bucketing_Xxh3Library(benchmark::State& state) {
  const auto& k = keys();
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(bucketing::xxh3_64(k[i++ & 4095], kSaltSeed));
}
BENCHMARK(BM_Bucketing_Xxh3Library);

// The same route as BM_Router_RouteSticky with HashScheme::kXxh3 (both take the inline path).
void BM_Router_RouteStickyXxh3(benchmark::State& state) {
  struct Xxh3Setup : Setup {
    Xxh3Setup() {
      RoutingPolicy p;
      p.variants = {{"control", 1, 70}, {"treatment", 2, 30}};
      p.weight_style = WeightStyle::kPercent;
      p.hash = HashScheme::kXxh3;
      deployment->router().set_policy(p);
    }
  };
  static Xxh3Setup s;
  const TrafficRouter& router = s.deployment->router();
  const auto& k = keys();
  std::size_t i = 0;
  for (auto _ : state) {
    auto table = router.read();
    auto d = table->route(k[i++ & 4095]);
    benchmark::DoNotOptimize(d.variant);
  }
}
BENCHMARK(BM_Router_RouteStickyXxh3)->UseRealTime();

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
