// SPDX-License-Identifier: Apache-2.0
// Shadow benchmarks (issue targets; compare medians of --benchmark_repetitions in one run):
//   - offer: ShadowPredictor::on_request on a minimal request (one feature: the copy excluded as
//     far as a request allows) from two producing threads, timed in bursts of 256 with the
//     consumer's work done between bursts (untimed; the predictor on an executor), against the
//     obvious baseline (a mutex-protected deque with a condition variable, each request copied
//     into a freshly allocated job) and against the same deque with pooled jobs;
//   - the primary's p99 with a shadow taking 1 ms per call behind a full queue, against none
//     (a trivial primary, and a 32-feature logistic one);
//   - the primary's throughput at 100 % mirroring to a trivial shadow, against none (same two);
//   - resident memory over 10 million requests mirrored to a 1 ms shadow, against the budget.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <switchyard/models/linear_model.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/shadow/shadow_predictor.hpp>

namespace {

using namespace switchyard;
using Clock = std::chrono::steady_clock;

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

constexpr std::size_t kCapacity = 4096;
constexpr int kBurst = 256;  // offers per thread between two drains (both threads: 512 < capacity)

/// The obvious shadow: copy the sampled request into a new job, push it onto a mutex-protected
/// deque, notify a condition variable; one worker pops, runs the shadow, frees the job.
/// `pooled` recycles jobs through a free list under the same mutex instead of allocating.
class MutexShadow {
 public:
  MutexShadow(std::size_t capacity, bool pooled) : capacity_(capacity), pooled_(pooled) {}
  ~MutexShadow() = default;
  void on_request(const ObservedRequest& r) {
    std::unique_ptr<CopiedRequest> job;
    if (pooled_) {
      std::lock_guard lk(mu_);
      if (!free_.empty()) {
        job = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!job) job = std::make_unique<CopiedRequest>();
    fill(*job, r);
    {
      std::lock_guard lk(mu_);
      if (q_.size() >= capacity_) {
        ++dropped_;
        return;
      }
      q_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  /// Runs every queued job on the calling thread (the consumer's work, done between bursts).
  void drain() {
    std::unique_lock lk(mu_);
    while (!q_.empty()) {
      auto job = std::move(q_.front());
      q_.pop_front();
      lk.unlock();
      ModelInput in(TensorView(job->dtype, job->features.data(), job->shape));
      benchmark::DoNotOptimize(model_.predict(in));
      lk.lock();
      if (pooled_) free_.push_back(std::move(job));
    }
  }

 private:
  /// What the obvious shadow keeps of a request: the same things ShadowPredictor copies.
  struct CopiedRequest {
    std::string key, request_id;
    DType dtype = DType::kFloat64;
    Shape shape;
    std::vector<std::byte> features;
    std::vector<std::int32_t> labels;
  };
  static void fill(CopiedRequest& job, const ObservedRequest& r) {
    job.key.assign(r.key);
    job.request_id.assign(r.request_id);
    const NamedTensor& from = (*r.input)[0];
    job.dtype = from.tensor.dtype();
    job.shape = from.tensor.shape();
    const std::size_t n = from.tensor.size() * dtype_size(job.dtype);
    job.features.resize(n);
    std::memcpy(job.features.data(), from.tensor.data(), n);
    job.labels.assign(r.prediction->labels.begin(), r.prediction->labels.end());
  }
  const std::size_t capacity_;
  const bool pooled_;
  TrivialModel model_;
  std::mutex mu_;
  std::condition_variable cv_;  // what a consumer thread would wait on
  std::deque<std::unique_ptr<CopiedRequest>> q_;
  std::vector<std::unique_ptr<CopiedRequest>> free_;
  std::uint64_t dropped_ = 0;
};

/// One request as a Deployment hands it to observers: one feature, a short key, no request id.
struct MinimalRequest {
  double feature = 1.0;
  ModelInput input{TensorView(&feature, Shape{1, 1})};
  Prediction primary;
  std::string key;
  ObservedRequest seen;
  explicit MinimalRequest(int thread) : key("user-" + std::to_string(thread)) {
    primary.labels = {1};
    primary.confidence = {0.9};
    seen.model = "m";
    seen.version = 1;
    seen.key = key;
    seen.input = &input;
    seen.prediction = &primary;
  }
};

/// Times bursts of kBurst offers per thread with the wall clock; after each burst (untimed) the
/// thread runs the consumer's work until the queue is drained, so every timed offer is a real
/// push onto a queue with room (two bursts in flight at most: 512 requests, against 4096), and
/// no third thread competes for the two cores while offers are timed.
template <class Offer, class Drain>
void timed_bursts(benchmark::State& state, Offer&& offer, Drain&& drain) {
  std::vector<double> burst_ns;
  burst_ns.reserve(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    const auto t0 = Clock::now();
    for (int i = 0; i < kBurst; ++i) offer();
    const auto t1 = Clock::now();
    const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
    state.SetIterationTime(ns * 1e-9);
    burst_ns.push_back(ns);
    drain();
  }
  // The median burst over kBurst is one offer, robust to a burst the scheduler interrupted (the
  // mean in Time is not: a 2-core machine preempts some bursts by milliseconds).
  std::sort(burst_ns.begin(), burst_ns.end());
  state.counters["offer_ns_median"] = benchmark::Counter(
      burst_ns.empty() ? 0.0 : burst_ns[burst_ns.size() / 2] / kBurst,
      benchmark::Counter::kAvgThreads);
}

std::shared_ptr<ShadowPredictor> g_predictor;
std::unique_ptr<MutexShadow> g_mutex;
std::mutex g_task_mu;
std::function<void()> g_task;  // the executor's one pending task

/// Runs the predictor's pending executor task (if any) until the queue is drained.
void drain_predictor() {
  for (;;) {
    std::function<void()> task;
    {
      std::lock_guard lk(g_task_mu);
      task.swap(g_task);
    }
    if (task) task();
    if (g_predictor->drain(std::chrono::nanoseconds(0))) return;
    std::this_thread::yield();  // the other thread's task is running: look again
  }
}

// ShadowPredictor::on_request: sampling (100 %), a pooled job, the copy of one feature, the push.
void BM_ShadowOffer(benchmark::State& state) {
  if (state.thread_index() == 0) {
    ShadowPredictor::Options o;
    o.queue_capacity = kCapacity;
    o.workers = 0;
    o.executor = [](std::function<void()> task) {
      std::lock_guard lk(g_task_mu);
      g_task = std::move(task);
    };
    g_predictor = std::make_shared<ShadowPredictor>(o);
    g_predictor->add_shadow({.model = "m", .version = 2}, std::make_shared<TrivialModel>());
    g_predictor->start();
  }
  MinimalRequest r(state.thread_index());
  timed_bursts(
      state, [&] { g_predictor->on_request(r.seen); },
      drain_predictor);
  if (state.thread_index() == 0) {
    const auto v = g_predictor->report().versions.at(0);
    state.counters["dropped"] = static_cast<double>(v.sampled - v.mirrored);
    g_predictor->stop();
    g_predictor.reset();
  }
}
BENCHMARK(BM_ShadowOffer)->Threads(1)->Threads(2)->UseManualTime()->Iterations(4000);

// The obvious baseline (arg 0: a new job per request; arg 1: pooled jobs) on the same requests.
void BM_ShadowOfferMutexBaseline(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_mutex = std::make_unique<MutexShadow>(kCapacity, state.range(0) != 0);
  }
  MinimalRequest r(state.thread_index());
  timed_bursts(
      state, [&] { g_mutex->on_request(r.seen); }, [] { g_mutex->drain(); });
  if (state.thread_index() == 0) g_mutex.reset();
}
BENCHMARK(BM_ShadowOfferMutexBaseline)->Arg(0)->Arg(1)->Threads(1)->Threads(2)->UseManualTime()->Iterations(4000);

/// A 32-feature logistic fraud model: a small but real primary (one Eigen dot product, a sigmoid).
ModelPtr logistic_primary() {
  Eigen::VectorXd w = Eigen::VectorXd::LinSpaced(32, -1.0, 1.0);
  return std::make_shared<LogisticModel>(w, -0.5, std::vector<std::string>{"legit", "fraud"});
}

/// A deployment of `primary` (default: a trivial model), optionally observed by a shadow
/// predictor whose shadow takes `shadow_busy` per call.
struct Served {
  StaticModelSource source;
  std::unique_ptr<Deployment> deployment;
  std::shared_ptr<ShadowPredictor> shadow;
  Served(bool with_shadow, std::chrono::microseconds shadow_busy, std::size_t capacity,
         std::size_t byte_budget = std::size_t{16} << 20, ModelPtr primary = nullptr) {
    source.add("m", 1, primary ? std::move(primary) : std::make_shared<TrivialModel>());
    deployment = std::make_unique<Deployment>(Deployment::Options{.model = "m", .source = &source});
    RoutingPolicy policy;
    policy.variants = {{"stable", 1, 1}};
    deployment->router().set_policy(policy);
    if (with_shadow) {
      ShadowPredictor::Options o;
      o.queue_capacity = capacity;
      o.byte_budget = byte_budget;
      shadow = std::make_shared<ShadowPredictor>(o);
      shadow->add_shadow({.model = "m", .version = 2},
                         std::make_shared<TrivialModel>(shadow_busy));
      shadow->start();
      deployment->add_observer(shadow);
    }
  }
  ~Served() {
    if (shadow) shadow->stop();
  }
};

/// The primary's latency percentiles over 20,000 requests of `features` features.
void primary_percentiles(benchmark::State& state, Served& s, std::size_t features) {
  const std::vector<double> row(features, 0.25);
  const auto cols = static_cast<std::int64_t>(features);
  std::vector<std::int64_t> ns;
  ns.reserve(20000);
  for (auto _ : state) {
    ns.clear();
    for (int i = 0; i < 20000; ++i) {
      const auto t0 = Clock::now();
      auto r = s.deployment->predict({.key = "k", .input = TensorView(row.data(), Shape{1, cols})});
      benchmark::DoNotOptimize(r);
      ns.push_back((Clock::now() - t0).count());
    }
  }
  std::sort(ns.begin(), ns.end());
  state.counters["p50_ns"] = static_cast<double>(ns[ns.size() / 2]);
  state.counters["p99_ns"] = static_cast<double>(ns[ns.size() * 99 / 100]);
}

// The primary's p99 over 20,000 requests with a shadow taking 1 ms per call behind a full queue
// (arg 1) and with no shadow attached (arg 0), for a trivial primary (the worst case: the shadow's
// per-request cost against a request that costs almost nothing) and for a 32-feature logistic
// model. The ratio of the two medians is the bound.
void BM_Shadow_PrimaryP99(benchmark::State& state) {
  Served s(state.range(0) != 0, std::chrono::microseconds(1000), 64);
  primary_percentiles(state, s, 4);
}
BENCHMARK(BM_Shadow_PrimaryP99)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_Shadow_PrimaryP99Logistic(benchmark::State& state) {
  Served s(state.range(0) != 0, std::chrono::microseconds(1000), 64, std::size_t{16} << 20,
           logistic_primary());
  primary_percentiles(state, s, 32);
}
BENCHMARK(BM_Shadow_PrimaryP99Logistic)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

// One primary thread's throughput with every request mirrored to a trivial shadow on one worker
// (arg 1) and with no shadow (arg 0); items_per_second is the figure. The Logistic variant serves
// the 32-feature logistic model.
void primary_throughput(benchmark::State& state, Served& s, std::size_t features) {
  const std::vector<double> row(features, 0.25);
  const auto cols = static_cast<std::int64_t>(features);
  for (auto _ : state) {
    auto r = s.deployment->predict({.key = "k", .input = TensorView(row.data(), Shape{1, cols})});
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  if (s.shadow) {
    const auto v = s.shadow->report().versions.at(0);
    state.counters["mirrored_fraction"] =
        static_cast<double>(v.mirrored) / static_cast<double>(std::max<std::uint64_t>(v.sampled, 1));
  }
}
void BM_Shadow_PrimaryThroughput(benchmark::State& state) {
  Served s(state.range(0) != 0, {}, 4096);
  primary_throughput(state, s, 4);
}
BENCHMARK(BM_Shadow_PrimaryThroughput)->Arg(0)->Arg(1);
void BM_Shadow_PrimaryThroughputLogistic(benchmark::State& state) {
  Served s(state.range(0) != 0, {}, 4096, std::size_t{16} << 20, logistic_primary());
  primary_throughput(state, s, 32);
}
BENCHMARK(BM_Shadow_PrimaryThroughputLogistic)->Arg(0)->Arg(1);

std::size_t resident_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<std::size_t>(resident) * 4096;
}

// Resident memory while 10 million requests of 64 features are mirrored at 100 % to a shadow
// taking 1 ms per call: growth over the run against the 4 MiB byte budget.
void BM_Shadow_MemoryOverTenMillionRequests(benchmark::State& state) {
  constexpr std::size_t kBudget = std::size_t{4} << 20;
  std::size_t peak_growth = 0;
  for (auto _ : state) {
    const std::size_t before = resident_bytes();
    Served s(true, std::chrono::microseconds(1000), 4096, kBudget);
    std::vector<double> row(64, 1.0);
    for (int i = 0; i < 10'000'000; ++i) {
      auto r = s.deployment->predict({.key = "k", .input = TensorView(row, Shape{1, 64})});
      benchmark::DoNotOptimize(r);
      if ((i & 0xFFFF) == 0) peak_growth = std::max(peak_growth, resident_bytes() - before);
    }
    peak_growth = std::max(peak_growth, resident_bytes() - before);
  }
  state.counters["budget_MiB"] = static_cast<double>(kBudget) / (1 << 20);
  state.counters["rss_growth_MiB"] = static_cast<double>(peak_growth) / (1 << 20);
}
BENCHMARK(BM_Shadow_MemoryOverTenMillionRequests)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
