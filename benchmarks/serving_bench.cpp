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
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
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

// ---- Republishing under load, and rollback --------------------------------------------------
// Two request threads predict on a Deployment while a third thread, the publisher, calls
// set_weights back to back. Three threads share the machine's cores, so the steady baseline keeps
// the publisher just as busy with the same set_weights calls on a second, unread Deployment: the
// ratio then isolates what a republish costs the request threads (picking up the new table) from
// what sharing cores with a busy third thread costs them. The baseline without any publisher is
// reported beside it.

// One request thread's loop: predicts until `stop` (and at least `min_requests`), recording each
// request's latency and counting failures. A timed request also reads the table's generation
// first (a few ns, in every run alike), so the requests that picked up a newly published table are
// known and their latencies kept apart as well: how much one table change costs a request thread,
// whatever the publish rate.
struct RequestLoop {
  Deployment* d;
  std::atomic<bool>* stop;
  std::uint64_t min_requests;
  LatencyHistogram latency{};
  LatencyHistogram refreshing{};  // requests that were first to read a new table on their thread
  std::uint64_t failures = 0;
  void operator()(int t) {
    const auto& k = keys();
    const double row[8] = {};
    std::size_t i = static_cast<std::size_t>(t) * 997;
    std::uint64_t last_generation = d->router().read()->generation();
    for (std::uint64_t n = 0; !stop->load(std::memory_order_relaxed) || n < min_requests; ++n) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::uint64_t g = d->router().read()->generation();
      auto r = d->predict({.key = k[i++ & 4095], .input = TensorView(row, Shape{1, 8})});
      const auto t1 = std::chrono::steady_clock::now();
      failures += !r.ok();
      const auto ns = static_cast<std::uint64_t>((t1 - t0).count());
      latency.record(ns);
      if (g != last_generation) refreshing.record(ns);
      last_generation = g;
    }
  }
};

enum class Publisher { kNone, kElsewhere, kServed };

struct LoadResult {
  double p99 = 0, p999 = 0;
  double refresh_p50 = 0, refresh_p99 = 0;  // requests that picked up a new table
  std::uint64_t refreshes = 0, requests = 0, failures = 0, publishes = 0;
};

// Runs two request threads for `requests` each (at least) beside a publisher doing `swaps`
// set_weights calls, `interval` apart (0: back to back), on `target`.
LoadResult run_load(Deployment& served, Deployment& other, Publisher who, int swaps,
                    std::chrono::microseconds interval, std::uint64_t requests) {
  std::atomic<bool> stop{false};
  RequestLoop loops[2] = {{&served, &stop, requests}, {&served, &stop, requests}};
  std::thread a(std::ref(loops[0]), 0), b(std::ref(loops[1]), 1);
  LoadResult out;
  if (who != Publisher::kNone) {
    Deployment& target = who == Publisher::kServed ? served : other;
    auto next = std::chrono::steady_clock::now();
    for (int j = 0; j < swaps; ++j) {
      target.router().set_weights({{"control", 50.0 + j % 50}, {"treatment", 50.0 - j % 50}});
      ++out.publishes;
      if (interval.count() > 0) std::this_thread::sleep_until(next += interval);
    }
  }
  stop = true;
  a.join();
  b.join();
  loops[0].latency.merge(loops[1].latency);
  loops[0].refreshing.merge(loops[1].refreshing);
  out.requests = loops[0].latency.count();
  out.refreshes = loops[0].refreshing.count();
  out.refresh_p50 = loops[0].refreshing.quantile(0.5);
  out.refresh_p99 = loops[0].refreshing.quantile(0.99);
  out.p99 = loops[0].latency.quantile(0.99);
  out.p999 = loops[0].latency.quantile(0.999);
  out.failures = loops[0].failures + loops[1].failures;
  return out;
}

// p99 and p99.9 request latency while the served Deployment is republished `swaps` times, one
// every `interval` microseconds (0: back to back), against the steady baseline with the publisher
// equally busy elsewhere (p99_ratio, the target figure) and with no publisher (p99_ratio_idle).
void BM_Deployment_SwapUnderLoad(benchmark::State& state) {
  const int swaps = static_cast<int>(state.range(0));
  const auto interval = std::chrono::microseconds(state.range(1));
  constexpr std::uint64_t kRequests = 100000;
  for (auto _ : state) {
    Setup served, other;
    const auto idle = run_load(*served.deployment, *other.deployment, Publisher::kNone, swaps,
                               interval, kRequests);
    const auto steady = run_load(*served.deployment, *other.deployment, Publisher::kElsewhere,
                                 swaps, interval, kRequests);
    const auto swapping = run_load(*served.deployment, *other.deployment, Publisher::kServed,
                                   swaps, interval, kRequests);
    state.counters["p99_idle_ns"] = idle.p99;
    state.counters["p99_steady_ns"] = steady.p99;
    state.counters["p99_swapping_ns"] = swapping.p99;
    state.counters["p99_ratio"] = swapping.p99 / steady.p99;
    state.counters["p99_ratio_idle"] = swapping.p99 / idle.p99;
    state.counters["p999_steady_ns"] = steady.p999;
    state.counters["p999_swapping_ns"] = swapping.p999;
    state.counters["p999_ratio"] = swapping.p999 / steady.p999;
    // The rate-independent view: what picking up one new table costs the request that does it.
    // The p99 under republishing stays within this ratio of steady at any publish rate.
    state.counters["refresh_p50_ns"] = swapping.refresh_p50;
    state.counters["refresh_p99_ns"] = swapping.refresh_p99;
    state.counters["refresh_p99_ratio"] = swapping.refresh_p99 / steady.p99;
    state.counters["refreshing_share_pct"] =
        100.0 * static_cast<double>(swapping.refreshes) / static_cast<double>(swapping.requests);
    state.counters["failed_requests"] =
        static_cast<double>(idle.failures + steady.failures + swapping.failures);
  }
}
BENCHMARK(BM_Deployment_SwapUnderLoad)
    ->Args({10000, 0})
    ->Args({10000, 100})
    ->Args({10000, 1000})
    ->Iterations(1)
    ->UseRealTime();

// ---- The table cell alone: what picking up a new table costs a request thread -----------------
// Baseline: the cell as it was before the hazard-pointer scheme, kept here only to be measured
// against. A reading thread kept a counted reference in its slot and, after a publish, refreshed
// it under the cell's mutex: a lock the publisher also takes, a reference-count increment on the
// new table's control block (which the other readers increment too), and the release of the old
// table, whose destructor (policy, arms, their models' and statistics' reference counts) ran on
// whichever request thread let it go last.
namespace baseline {
template <class T>
class MutexRefreshCell {
 public:
  explicit MutexRefreshCell(std::shared_ptr<const T> initial)
      : slots_(new Slot[detail::kMaxThreadSlots]), current_(std::move(initial)) {}
  void publish(std::shared_ptr<const T> next) {
    std::lock_guard lk(mu_);
    std::swap(current_, next);
    generation_.fetch_add(1, std::memory_order_release);
  }
  const T* read() {
    Slot& slot = slots_[detail::thread_index()];
    if (slot.generation != generation_.load(std::memory_order_acquire)) {
      std::shared_ptr<const T> old;
      std::lock_guard lk(mu_);
      old = std::exchange(slot.ptr, current_);
      slot.generation = generation_.load(std::memory_order_relaxed);
    }
    return slot.ptr.get();
  }

 private:
  struct alignas(64) Slot {
    std::uint64_t generation = 0;
    std::shared_ptr<const T> ptr;
  };
  std::unique_ptr<Slot[]> slots_;
  alignas(64) std::atomic<std::uint64_t> generation_{1};
  std::mutex mu_;
  std::shared_ptr<const T> current_;
};
}  // namespace baseline

// The cell the router uses, with the same read() shape as the baseline.
struct HazardCell {
  explicit HazardCell(std::shared_ptr<const RoutingTable> initial)
      : cell(std::move(initial), detail::SnapshotCell<RoutingTable>::Release::kByPublisher) {}
  void publish(std::shared_ptr<const RoutingTable> next) { cell.publish(std::move(next)); }
  const RoutingTable* read() { return cell.read().get(); }
  detail::SnapshotCell<RoutingTable> cell;
};

// Two reader threads route a key and call the arm's model (what predict() does with the table)
// while a publisher builds a fresh two-arm table back to back; with `publish` false it builds and
// drops them (the steady baseline: same work on the third thread, nothing published). Returns
// (p99 of all reads, p99 of the reads that picked up a new table, share of such reads).
template <class Cell>
std::tuple<double, double, double> cell_under_republish(bool publish) {
  Setup& s = setup();
  const auto current = s.deployment->router().table();
  std::vector<RoutedVariant> arms(current->variants().begin(), current->variants().end());
  auto build = [&](std::uint64_t generation) {
    return std::make_shared<const RoutingTable>(current->model_name(), current->policy(), arms,
                                                generation);
  };
  Cell cell(build(1));
  std::atomic<bool> stop{false};
  LatencyHistogram all[2], refreshing[2];
  auto reader = [&](int t) {
    const auto& k = keys();
    const double row[8] = {};
    const ModelInput in(TensorView(row, Shape{1, 8}));
    std::size_t i = static_cast<std::size_t>(t) * 997;
    std::uint64_t last = 0;
    for (std::uint64_t n = 0; !stop.load(std::memory_order_relaxed) || n < 200000; ++n) {
      const auto t0 = std::chrono::steady_clock::now();
      const RoutingTable* table = cell.read();
      const RouteDecision d = table->route(k[i++ & 4095]);
      auto p = d.variant->model->predict(in);
      benchmark::DoNotOptimize(p);
      const auto t1 = std::chrono::steady_clock::now();
      const auto ns = static_cast<std::uint64_t>((t1 - t0).count());
      all[t].record(ns);
      if (table->generation() != last) refreshing[t].record(ns);
      last = table->generation();
    }
  };
  std::thread a(reader, 0), b(reader, 1);
  for (std::uint64_t g = 2; g < 20000; ++g) {
    auto next = build(g);
    if (publish) cell.publish(std::move(next));
  }
  stop = true;
  a.join();
  b.join();
  all[0].merge(all[1]);
  refreshing[0].merge(refreshing[1]);
  return {all[0].quantile(0.99), refreshing[0].quantile(0.99),
          100.0 * static_cast<double>(refreshing[0].count()) /
              static_cast<double>(all[0].count())};
}

// Per cell: p99 of reads while the table is republished back to back against the steady p99
// (same publisher work, nothing published), and the p99 of the reads that picked up a new table.
template <class Cell>
void BM_Cell_ReadUnderRepublish(benchmark::State& state) {
  for (auto _ : state) {
    auto [steady_p99, unused_refresh, unused_share] = cell_under_republish<Cell>(false);
    auto [p99, refresh_p99, share] = cell_under_republish<Cell>(true);
    state.counters["p99_steady_ns"] = steady_p99;
    state.counters["p99_republishing_ns"] = p99;
    state.counters["p99_ratio"] = p99 / steady_p99;
    state.counters["refresh_p99_ns"] = refresh_p99;
    state.counters["refresh_p99_ratio"] = refresh_p99 / steady_p99;
    state.counters["refreshing_share_pct"] = share;
  }
}
BENCHMARK(BM_Cell_ReadUnderRepublish<baseline::MutexRefreshCell<RoutingTable>>)
    ->Name("BM_Cell_ReadUnderRepublish_MutexRefreshBaseline")
    ->Iterations(1)
    ->UseRealTime();
BENCHMARK(BM_Cell_ReadUnderRepublish<HazardCell>)
    ->Name("BM_Cell_ReadUnderRepublish_SnapshotCell")
    ->Iterations(1)
    ->UseRealTime();

// What one table change costs the request that picks it up, on one thread so the scheduler and
// the other cores stay out of it: each iteration times one read, route and model call (manual
// time); with `publish` a fresh table was published just before, outside the timed part, so every
// timed read picks up a new table; without, the table is built and dropped the same way. The
// difference between the two is the refresh's cost on the request thread: for the baseline cell,
// its mutex, a reference count and the release of the old table (its destructor runs in the
// request); for SnapshotCell, one announcing store and a reload.
template <class Cell>
void BM_Cell_RefreshCost(benchmark::State& state) {
  const bool publish = state.range(0) != 0;
  Setup& s = setup();
  const auto current = s.deployment->router().table();
  std::vector<RoutedVariant> arms(current->variants().begin(), current->variants().end());
  auto build = [&](std::uint64_t generation) {
    return std::make_shared<const RoutingTable>(current->model_name(), current->policy(), arms,
                                                generation);
  };
  Cell cell(build(1));
  const auto& k = keys();
  const double row[8] = {};
  const ModelInput in(TensorView(row, Shape{1, 8}));
  std::size_t i = 0;
  std::uint64_t g = 2;
  for (auto _ : state) {
    auto next = build(g++);
    if (publish) cell.publish(std::move(next));
    next.reset();
    const auto t0 = std::chrono::steady_clock::now();
    const RoutingTable* table = cell.read();
    const RouteDecision d = table->route(k[i++ & 4095]);
    auto p = d.variant->model->predict(in);
    benchmark::DoNotOptimize(p);
    const auto t1 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
}
BENCHMARK(BM_Cell_RefreshCost<baseline::MutexRefreshCell<RoutingTable>>)
    ->Name("BM_Cell_RefreshCost_MutexRefreshBaseline")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime();
BENCHMARK(BM_Cell_RefreshCost<HazardCell>)
    ->Name("BM_Cell_RefreshCost_SnapshotCell")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime();

// Rollback: two request threads predict on a 90/10 canary; the controller sets the canary's
// weight to 0 (one set_weights, one atomic publish). Per rollback, with `state.range(0)` of them:
// - rollback_*_us: from the set_weights call until each request thread has read the new table (a
//   thread reads the table's generation before each request and stamps the first time it sees
//   the rollback's). The controller blocks meanwhile (no spinning, so the request threads keep the
//   cores); a request thread the OS has descheduled stamps late, so on a loaded machine the tail
//   is the scheduler's.
// - candidate_window_*_us: from the call until the start of the last request the canary served:
//   how long the canary still got traffic, whatever the scheduler did.
// - stale_after_return: requests started after set_weights returned that read an older table;
//   canary_after_rollback: requests the canary served on the rollback's table; failed_requests.
//   All three must be 0.
// Between rollbacks the canary gets 10% again and each thread serves 2,000 requests on it.
void BM_Deployment_RollbackLatency(benchmark::State& state) {
  const int rollbacks = static_cast<int>(state.range(0));
  auto now_ns = [] {
    return static_cast<std::int64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  };
  constexpr std::uint64_t kNone = ~std::uint64_t{0};
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  for (auto _ : state) {
    StaticModelSource source;
    source.add("fraud-detection", 1, std::make_shared<TrivialModel>());
    source.add("fraud-detection", 2, std::make_shared<TrivialModel>());
    Deployment d({.model = "fraud-detection", .source = &source});
    RoutingPolicy p;
    p.variants = {{"stable", 1, 90}, {"canary", 2, 10}};
    p.weight_style = WeightStyle::kPercent;
    d.router().set_policy(p);

    struct alignas(64) Worker {
      std::atomic<std::uint64_t> served{0};
      std::atomic<std::int64_t> seen_ns{0};         // when this round's rollback was first read
      std::atomic<std::int64_t> last_canary_ns{0};  // start of the last request the canary served
      std::uint64_t failures = 0, canary_after = 0, stale = 0;
    };
    Worker workers[2];
    std::atomic<std::uint64_t> target{kNone};  // the rollback's table generation
    std::atomic<std::int64_t> returned_ns{kNever};  // when set_weights returned
    std::atomic<int> seen{0};
    std::atomic<bool> stop{false};
    auto loop = [&](int t) {
      Worker& w = workers[t];
      const auto& k = keys();
      const double row[8] = {};
      std::size_t i = static_cast<std::size_t>(t) * 997;
      std::uint64_t stamped_for = kNone;
      while (!stop.load(std::memory_order_relaxed)) {
        const std::int64_t start = now_ns();
        // Target first: the controller clears returned_ns before it sets the next target.
        const std::uint64_t want = target.load(std::memory_order_acquire);
        const std::int64_t returned = returned_ns.load(std::memory_order_acquire);
        const std::uint64_t g = d.router().read()->generation();
        if (g >= want && stamped_for != want) {
          stamped_for = want;
          w.seen_ns.store(now_ns(), std::memory_order_relaxed);
          if (seen.fetch_add(1, std::memory_order_acq_rel) + 1 == 2) seen.notify_one();
        }
        if (start > returned && g < want) ++w.stale;
        auto r = d.predict({.key = k[i++ & 4095], .input = TensorView(row, Shape{1, 8})});
        // Reads on one thread never go back, so equal generations around predict() mean it
        // routed on exactly that table.
        const bool on_rollback_table = g == want && d.router().read()->generation() == want;
        if (!r.ok()) {
          ++w.failures;
        } else if (r->version == 2) {
          w.last_canary_ns.store(start, std::memory_order_relaxed);
          w.canary_after += on_rollback_table;
        }
        w.served.fetch_add(1, std::memory_order_relaxed);
      }
    };
    std::thread a(loop, 0), b(loop, 1);
    std::vector<double> latency_us, window_us, call_us;
    for (int j = 0; j < rollbacks; ++j) {
      d.router().set_weights({{"stable", 90}, {"canary", 10}});
      std::uint64_t from[2] = {workers[0].served.load(), workers[1].served.load()};
      for (int t = 0; t < 2; ++t) {
        while (workers[t].served.load() < from[t] + 2000) std::this_thread::yield();
      }
      seen.store(0);
      // The next publish's generation: control-plane calls are serialised, and only we make them.
      target.store(d.router().table()->generation() + 1, std::memory_order_release);
      const std::int64_t t0 = now_ns();
      d.router().set_weights({{"stable", 100}, {"canary", 0}});
      const std::int64_t t1 = now_ns();
      returned_ns.store(t1, std::memory_order_release);
      for (int s = seen.load(); s < 2; s = seen.load()) seen.wait(s);
      const std::int64_t last_seen = std::max(workers[0].seen_ns.load(), workers[1].seen_ns.load());
      const std::int64_t last_canary =
          std::max(workers[0].last_canary_ns.load(), workers[1].last_canary_ns.load());
      latency_us.push_back(static_cast<double>(last_seen - t0) / 1e3);
      window_us.push_back(static_cast<double>(std::max<std::int64_t>(last_canary - t0, 0)) / 1e3);
      call_us.push_back(static_cast<double>(t1 - t0) / 1e3);
      returned_ns.store(kNever, std::memory_order_release);
      target.store(kNone, std::memory_order_release);
    }
    stop = true;
    a.join();
    b.join();
    auto quantile = [](std::vector<double> v, double q) {
      std::sort(v.begin(), v.end());
      return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
    };
    state.counters["rollback_median_us"] = quantile(latency_us, 0.5);
    state.counters["rollback_p99_us"] = quantile(latency_us, 0.99);
    state.counters["rollback_max_us"] = quantile(latency_us, 1.0);
    state.counters["candidate_window_median_us"] = quantile(window_us, 0.5);
    state.counters["candidate_window_max_us"] = quantile(window_us, 1.0);
    state.counters["set_weights_median_us"] = quantile(call_us, 0.5);
    state.counters["failed_requests"] =
        static_cast<double>(workers[0].failures + workers[1].failures);
    state.counters["canary_after_rollback"] =
        static_cast<double>(workers[0].canary_after + workers[1].canary_after);
    state.counters["stale_after_return"] = static_cast<double>(workers[0].stale + workers[1].stale);
  }
}
BENCHMARK(BM_Deployment_RollbackLatency)->Arg(200)->Iterations(1)->UseRealTime();

// The seed's ABTester.split_traffic is hash(user_id) % 100 against split_ratio * 100; this is the
// same assignment through the router (scripts/run-benchmarks.sh times the Python one).
void BM_Seed_SplitTraffic(benchmark::State& state) {
  BM_Router_RouteSticky(state);
}
BENCHMARK(BM_Seed_SplitTraffic)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
