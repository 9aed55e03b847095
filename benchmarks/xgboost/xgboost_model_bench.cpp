// SPDX-License-Identifier: Apache-2.0
// Adapter overhead: XgboostModel::predict against XGBoosterPredictFromDense called directly, on
// the same model file (the 20-tree fraud classifier of scripts/make_xgboost_models.py), the same
// rows and one XGBoost thread, batch 1 and 64. And serving: Deployment::predict of one row on the
// 100-tree classifier from one and from two request threads, with each request's median and p99
// latency. And the shadow's cost to a real primary (issue "ShadowPredictor"): the 100-tree model's
// p99 with a shadow taking 1 ms per call behind a full queue, and its throughput with every
// request mirrored to a trivial shadow, each against no shadow. Compare in one run (ratios,
// medians):
//   xgboost_model_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <switchyard/core/model_source.hpp>
#include <switchyard/models/xgboost_model.hpp>
#include <switchyard/monitoring/latency_histogram.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/shadow/shadow_predictor.hpp>
#include <thread>
#include <vector>

namespace {

constexpr std::int64_t kFeatures = 5;

std::string model_bytes(const char* path = SWITCHYARD_XGBOOST_MODEL) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> rows(std::int64_t batch) {
  std::mt19937 gen(42);
  std::uniform_real_distribution<float> u(0.0f, 100.0f);
  std::vector<float> x(static_cast<std::size_t>(batch * kFeatures));
  for (auto& v : x) v = u(gen);
  return x;
}

// A plain caller of the C API: the array interface over the rows, the same config as the
// adapter, the result read from XGBoost's buffer. Without a proxy DMatrix XGBoost makes one per
// call; `reuse_proxy` makes one once (the C API then skips making one per call), as the adapter
// does with one proxy per thread: the baseline for the adapter's own overhead.
void direct_c_api(benchmark::State& state, bool reuse_proxy) {
  const std::string bytes = model_bytes();
  BoosterHandle h = nullptr;
  DMatrixHandle proxy = nullptr;
  if (XGBoosterCreate(nullptr, 0, &h) != 0 ||
      XGBoosterLoadModelFromBuffer(h, bytes.data(), bytes.size()) != 0 ||
      XGBoosterSetParam(h, "nthread", "1") != 0 ||
      (reuse_proxy && XGProxyDMatrixCreate(&proxy) != 0)) {
    state.SkipWithError(XGBGetLastError());
    if (h != nullptr) XGBoosterFree(h);
    return;
  }
  const std::int64_t batch = state.range(0);
  const std::vector<float> x = rows(batch);
  const char* config =
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
      R"("strict_shape": false, "missing": NaN, "cache_id": 0})";
  for (auto _ : state) {
    char interface[160];
    std::snprintf(interface, sizeof interface,
                  R"({"data": [%)" PRIuPTR R"(, true], "shape": [%lld, %lld], "typestr": "<f4", )"
                  R"("version": 3})",
                  reinterpret_cast<std::uintptr_t>(x.data()), static_cast<long long>(batch),
                  static_cast<long long>(kFeatures));
    const bst_ulong* shape = nullptr;
    bst_ulong dims = 0;
    const float* out = nullptr;
    if (XGBoosterPredictFromDense(h, interface, config, proxy, &shape, &dims, &out) != 0) {
      state.SkipWithError(XGBGetLastError());
      break;
    }
    benchmark::DoNotOptimize(out[0]);
  }
  if (proxy != nullptr) XGDMatrixFree(proxy);
  XGBoosterFree(h);
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_Xgboost_DirectCApi(benchmark::State& state) { direct_c_api(state, false); }
void BM_Xgboost_DirectCApiReusedProxy(benchmark::State& state) { direct_c_api(state, true); }

// The adapter: the same prediction plus the Prediction it returns (values as float64, labels
// and confidence per row).
void BM_Xgboost_Adapter(benchmark::State& state) {
  const auto model =
      switchyard::XgboostModel::from_bytes(model_bytes(), switchyard::kXgboostUbjsonFormat);
  const std::int64_t batch = state.range(0);
  const std::vector<float> x = rows(batch);
  const switchyard::TensorView view(x.data(), {batch, kFeatures});
  for (auto _ : state) {
    switchyard::Prediction p = model->predict(view);
    benchmark::DoNotOptimize(p.values.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

// Deployment::predict of one row (routing, signature check, the model, the response) on the
// 100-tree classifier, from state.range(0) request threads at once, each timing every request.
// One iteration is 20,000 requests per thread; the counters are the requests' median and p99
// latency in nanoseconds over all threads, and requests per second in total.
void BM_Xgboost_DeploymentPredict100Trees(benchmark::State& state) {
  switchyard::StaticModelSource source;
  source.add("payments-fraud", 1,
             switchyard::XgboostModel::from_bytes(model_bytes(SWITCHYARD_XGBOOST_MODEL_100),
                                                  switchyard::kXgboostUbjsonFormat));
  switchyard::Deployment deployment({.model = "payments-fraud", .source = &source});
  switchyard::RoutingPolicy policy;
  policy.variants = {{"stable", 1, 100}};
  policy.weight_style = switchyard::WeightStyle::kPercent;
  deployment.router().set_policy(policy);

  const int n_threads = static_cast<int>(state.range(0));
  constexpr int kRequests = 20000;
  const std::vector<float> x = rows(256);
  std::atomic<std::uint64_t> failures{0};
  switchyard::LatencyHistogram all;
  double seconds = 0;
  for (auto _ : state) {
    std::vector<switchyard::LatencyHistogram> latency(static_cast<std::size_t>(n_threads));
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < n_threads; ++t) {
      threads.emplace_back([&, t] {
        auto& h = latency[static_cast<std::size_t>(t)];
        for (int i = 0; i < kRequests; ++i) {
          const std::size_t r = static_cast<std::size_t>(i * 7 + t) % 256;
          const auto t0 = std::chrono::steady_clock::now();
          auto answer = deployment.predict(
              {.key = "user",
               .input = switchyard::TensorView(x.data() + r * kFeatures, {1, kFeatures})});
          const auto t1 = std::chrono::steady_clock::now();
          if (!answer.ok()) failures.fetch_add(1, std::memory_order_relaxed);
          h.record(static_cast<std::uint64_t>((t1 - t0).count()));
        }
      });
    }
    for (auto& th : threads) th.join();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const auto& h : latency) all.merge(h);
  }
  if (failures.load() != 0) state.SkipWithError("a request failed");
  state.counters["p50_ns"] = all.quantile(0.5);
  state.counters["p99_ns"] = all.quantile(0.99);
  state.counters["requests_per_s"] = static_cast<double>(all.count()) / seconds;
}

/// A shadow candidate that answers at once, or after `busy` (a slow model; it sleeps, so it takes
/// no CPU from the primary).
class TrivialShadow final : public switchyard::Model {
 public:
  explicit TrivialShadow(std::chrono::microseconds busy = {}) : busy_(busy) {}
  const switchyard::Signature& signature() const noexcept override { return sig_; }
  std::string_view format() const noexcept override { return "bench.trivial"; }
  switchyard::Prediction predict(const switchyard::ModelInput&) const override {
    if (busy_.count() > 0) std::this_thread::sleep_for(busy_);  // a slow model, not a sync
    switchyard::Prediction p;
    p.labels = {1};
    p.confidence = {0.9};
    return p;
  }

 private:
  std::chrono::microseconds busy_;
  switchyard::Signature sig_;
};

/// The 100-tree model served by a Deployment, optionally observed by a ShadowPredictor (one
/// worker) mirroring every request to a TrivialShadow(`shadow_busy`) through a queue of
/// `capacity` requests.
struct ShadowedXgboost {
  switchyard::StaticModelSource source;
  std::unique_ptr<switchyard::Deployment> deployment;
  std::shared_ptr<switchyard::ShadowPredictor> shadow;
  ShadowedXgboost(bool with_shadow, std::chrono::microseconds shadow_busy, std::size_t capacity) {
    source.add("payments-fraud", 1,
               switchyard::XgboostModel::from_bytes(model_bytes(SWITCHYARD_XGBOOST_MODEL_100),
                                                    switchyard::kXgboostUbjsonFormat));
    deployment = std::make_unique<switchyard::Deployment>(
        switchyard::Deployment::Options{.model = "payments-fraud", .source = &source});
    switchyard::RoutingPolicy policy;
    policy.variants = {{"stable", 1, 1}};
    deployment->router().set_policy(policy);
    if (!with_shadow) return;
    switchyard::ShadowPredictor::Options o;
    o.queue_capacity = capacity;
    shadow = std::make_shared<switchyard::ShadowPredictor>(o);
    shadow->add_shadow({.model = "payments-fraud", .version = 2},
                       std::make_shared<TrivialShadow>(shadow_busy));
    shadow->start();
    deployment->add_observer(shadow);
  }
  ~ShadowedXgboost() {
    if (shadow) shadow->stop();
  }
  switchyard::PredictResponse predict(const float* row) {
    auto r = deployment->predict(
        {.key = "user", .input = switchyard::TensorView(row, {1, kFeatures})});
    if (!r.ok()) throw std::runtime_error("a request failed");
    return std::move(r).value();
  }
};

// The primary's p50 and p99 over 20,000 requests of the 100-tree model, with a shadow taking 1 ms
// per call behind a full queue of 64 (arg 1) and with no shadow (arg 0). Target: p99 within 1.1x.
void BM_Xgboost_ShadowPrimaryP99(benchmark::State& state) {
  ShadowedXgboost s(state.range(0) != 0, std::chrono::microseconds(1000), 64);
  const std::vector<float> x = rows(256);
  std::vector<std::int64_t> ns;
  ns.reserve(20000);
  for (auto _ : state) {
    ns.clear();
    for (int i = 0; i < 20000; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = s.predict(x.data() + static_cast<std::size_t>(i % 256) * kFeatures);
      benchmark::DoNotOptimize(r);
      ns.push_back((std::chrono::steady_clock::now() - t0).count());
    }
  }
  std::sort(ns.begin(), ns.end());
  state.counters["p50_ns"] = static_cast<double>(ns[ns.size() / 2]);
  state.counters["p99_ns"] = static_cast<double>(ns[ns.size() * 99 / 100]);
}

// One primary thread's throughput on the 100-tree model with every request mirrored to a trivial
// shadow on one worker (arg 1) and with no shadow (arg 0); items_per_second is the figure. Target:
// at most 10 % fewer requests per second with the shadow.
void BM_Xgboost_ShadowPrimaryThroughput(benchmark::State& state) {
  ShadowedXgboost s(state.range(0) != 0, {}, 4096);
  const std::vector<float> x = rows(256);
  std::size_t i = 0;
  for (auto _ : state) {
    auto r = s.predict(x.data() + (i++ % 256) * kFeatures);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  if (s.shadow) {
    const auto v = s.shadow->report().versions.at(0);
    state.counters["mirrored_fraction"] = static_cast<double>(v.mirrored) /
                                          static_cast<double>(std::max<std::uint64_t>(v.sampled, 1));
  }
}

BENCHMARK(BM_Xgboost_DirectCApi)->Arg(1)->Arg(64);
BENCHMARK(BM_Xgboost_DirectCApiReusedProxy)->Arg(1)->Arg(64);
BENCHMARK(BM_Xgboost_Adapter)->Arg(1)->Arg(64);
BENCHMARK(BM_Xgboost_DeploymentPredict100Trees)
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Xgboost_ShadowPrimaryP99)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Xgboost_ShadowPrimaryThroughput)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
