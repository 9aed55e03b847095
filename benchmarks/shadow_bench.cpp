// SPDX-License-Identifier: Apache-2.0
// Shadow benchmarks: the shadow queue's offer against a mutex + condition variable deque with two
// producing threads, ShadowPredictor::on_request, and the primary's p99 with a slow shadow whose
// queue is full against no shadow. Compare medians of --benchmark_repetitions.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <switchyard/serving/deployment.hpp>
#include <switchyard/shadow/shadow_predictor.hpp>

namespace {

using namespace switchyard;

// The obvious baseline: a mutex-protected deque, bounded, with a condition variable for the
// consumer.
class MutexQueue {
 public:
  explicit MutexQueue(std::size_t capacity) : capacity_(capacity) {}
  bool try_push(void* v) {
    {
      std::lock_guard lk(mu_);
      if (q_.size() >= capacity_) return false;
      q_.push_back(v);
    }
    cv_.notify_one();
    return true;
  }
  bool try_pop(void*& out) {
    std::lock_guard lk(mu_);
    if (q_.empty()) return false;
    out = q_.front();
    q_.pop_front();
    return true;
  }
  bool pop_wait(void*& out, const std::atomic<bool>& quit) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !q_.empty() || quit.load(); });
    if (q_.empty()) return false;
    out = q_.front();
    q_.pop_front();
    return true;
  }
  void wake_all() {
    std::lock_guard lk(mu_);
    cv_.notify_all();
  }

 private:
  std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<void*> q_;
};

constexpr std::size_t kCapacity = 4096;

struct RingBench {
  detail::shadow::BoundedRing<void*> ring{kCapacity};
  std::atomic<bool> quit{false};
  std::thread consumer;
  void start() {
    quit = false;
    consumer = std::thread([this] {
      void* v;
      while (!quit.load(std::memory_order_relaxed)) {
        if (!ring.try_pop(v)) std::this_thread::yield();
      }
    });
  }
  void stop() {
    quit = true;
    consumer.join();
  }
};
RingBench* g_ring = nullptr;

// One offer onto the lock-free ring (what ShadowPredictor::on_request does after its copy) and one
// take, per iteration, from each of two threads while a consumer thread also takes.
void BM_ShadowQueue_Offer(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_ring = new RingBench;
    g_ring->start();
  }
  static int token;
  std::uint64_t dropped = 0;
  void* out = nullptr;
  for (auto _ : state) {
    if (!g_ring->ring.try_push(&token)) ++dropped;
    // Take one back too, so the queue is never full and the push measured is a real one (the
    // consumer thread alone cannot keep up with two producers on two cores).
    g_ring->ring.try_pop(out);
    benchmark::DoNotOptimize(out);
  }
  state.counters["dropped"] = benchmark::Counter(static_cast<double>(dropped),
                                                 benchmark::Counter::kAvgIterations);
  if (state.thread_index() == 0) {
    g_ring->stop();
    delete g_ring;
    g_ring = nullptr;
  }
}
BENCHMARK(BM_ShadowQueue_Offer)->Threads(2)->UseRealTime();

struct MutexBench {
  MutexQueue queue{kCapacity};
  std::atomic<bool> quit{false};
  std::thread consumer;
  void start() {
    consumer = std::thread([this] {
      void* v;
      while (queue.pop_wait(v, quit)) {
      }
    });
  }
  void stop() {
    quit = true;
    queue.wake_all();
    consumer.join();
  }
};
MutexBench* g_mutex = nullptr;

// The baseline: the same offer and take on a mutex + condition variable deque.
void BM_ShadowQueue_OfferMutexBaseline(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_mutex = new MutexBench;
    g_mutex->start();
  }
  static int token;
  std::uint64_t dropped = 0;
  void* out = nullptr;
  for (auto _ : state) {
    if (!g_mutex->queue.try_push(&token)) ++dropped;
    g_mutex->queue.try_pop(out);
    benchmark::DoNotOptimize(out);
  }
  state.counters["dropped"] = benchmark::Counter(static_cast<double>(dropped),
                                                 benchmark::Counter::kAvgIterations);
  if (state.thread_index() == 0) {
    g_mutex->stop();
    delete g_mutex;
    g_mutex = nullptr;
  }
}
BENCHMARK(BM_ShadowQueue_OfferMutexBaseline)->Threads(2)->UseRealTime();

class TrivialModel final : public Model {
 public:
  explicit TrivialModel(std::chrono::microseconds busy = {}) : busy_(busy) {}
  const Signature& signature() const noexcept override { return sig_; }
  std::string_view format() const noexcept override { return "bench.trivial"; }
  Prediction predict(const ModelInput&) const override {
    if (busy_.count() > 0) std::this_thread::sleep_for(busy_);  // a slow model, not a sync
    Prediction p;
    p.labels = {1};
    p.confidence = {0.9};
    return p;
  }

 private:
  std::chrono::microseconds busy_;
  Signature sig_;
};

std::shared_ptr<ShadowPredictor> g_shadow;
TrivialModel g_primary;

// ShadowPredictor::on_request at 100 % mirroring of a 4-feature request, 2 request threads, one
// worker running a trivial shadow (includes sampling, the copy, and drops when the worker lags).
void BM_Shadow_OnRequest(benchmark::State& state) {
  if (state.thread_index() == 0) {
    ShadowPredictor::Options o;
    o.queue_capacity = kCapacity;
    g_shadow = std::make_shared<ShadowPredictor>(o);
    g_shadow->add_shadow({.model = "m", .version = 2}, std::make_shared<TrivialModel>());
    g_shadow->start();
  }
  const double row[4] = {1, 2, 3, 4};
  ModelInput input(TensorView(row, Shape{1, 4}));
  Prediction primary = g_primary.predict(input);
  const std::string key = "user-" + std::to_string(state.thread_index());
  ObservedRequest seen;
  seen.model = "m";
  seen.key = key;
  seen.input = &input;
  seen.prediction = &primary;
  for (auto _ : state) g_shadow->on_request(seen);
  if (state.thread_index() == 0) {
    const auto v = g_shadow->report().versions.at(0);
    state.counters["mirrored_fraction"] =
        static_cast<double>(v.mirrored) / static_cast<double>(std::max<std::uint64_t>(v.sampled, 1));
    g_shadow->stop();
    g_shadow.reset();
  }
}
BENCHMARK(BM_Shadow_OnRequest)->Threads(2)->UseRealTime();

// The primary's p99 over 20000 requests with a shadow taking 1 ms per call behind a full queue
// (arg 1) and with no shadow attached (arg 0). The ratio of the two medians is the bound.
void BM_Shadow_PrimaryP99(benchmark::State& state) {
  const bool with_shadow = state.range(0) != 0;
  StaticModelSource source;
  source.add("m", 1, std::make_shared<TrivialModel>());
  Deployment d{{.model = "m", .source = &source}};
  RoutingPolicy policy;
  policy.variants = {{"stable", 1, 1}};
  d.router().set_policy(policy);
  std::shared_ptr<ShadowPredictor> shadow;
  if (with_shadow) {
    ShadowPredictor::Options o;
    o.queue_capacity = 64;
    shadow = std::make_shared<ShadowPredictor>(o);
    shadow->add_shadow({.model = "m", .version = 2},
                       std::make_shared<TrivialModel>(std::chrono::microseconds(1000)));
    shadow->start();
    d.add_observer(shadow);
  }
  const double row[4] = {1, 2, 3, 4};
  std::vector<std::int64_t> ns;
  ns.reserve(20000);
  for (auto _ : state) {
    ns.clear();
    for (int i = 0; i < 20000; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = d.predict({.key = "k", .input = TensorView(row, Shape{1, 4})});
      benchmark::DoNotOptimize(r);
      ns.push_back((std::chrono::steady_clock::now() - t0).count());
    }
  }
  std::sort(ns.begin(), ns.end());
  state.counters["p50_ns"] = static_cast<double>(ns[ns.size() / 2]);
  state.counters["p99_ns"] = static_cast<double>(ns[ns.size() * 99 / 100]);
  if (shadow) shadow->stop();
}
BENCHMARK(BM_Shadow_PrimaryP99)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
