// SPDX-License-Identifier: Apache-2.0
// VersionStats: per-version request counters and latency histogram, recorded with no shared write.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

#include <switchyard/detail/mutex.hpp>
#include <switchyard/detail/thread_slot.hpp>
#include <switchyard/monitoring/latency_histogram.hpp>

namespace switchyard {

/// A point-in-time copy of one version's statistics (cumulative or for a window).
struct VersionStatsSnapshot {
  static constexpr std::size_t kMaxClasses = 16;  ///< labels >= this are counted as "other"
  std::uint64_t requests = 0;   ///< requests routed to this version (served or failed)
  std::uint64_t errors = 0;     ///< requests on which this version's model threw or was rejected
  std::uint64_t fallbacks = 0;  ///< requests this version answered for another that failed
  LatencyHistogram latency;     ///< nanoseconds per successful model call
  std::uint64_t confidence_count = 0;
  double confidence_sum = 0.0;
  double confidence_sum_squares = 0.0;
  std::array<std::uint64_t, kMaxClasses + 1> class_counts{};  ///< last entry: "other"
  std::uint64_t labeled = 0;  ///< outcomes reported with record_outcome()
  std::uint64_t correct = 0;

  double error_rate() const noexcept {
    return requests ? static_cast<double>(errors) / static_cast<double>(requests) : 0.0;
  }
  double mean_confidence() const noexcept {
    return confidence_count ? confidence_sum / static_cast<double>(confidence_count) : 0.0;
  }
  /// Fraction correct among labeled outcomes; 0 when none is labeled.
  double accuracy() const noexcept {
    return labeled ? static_cast<double>(correct) / static_cast<double>(labeled) : 0.0;
  }
  void merge(const VersionStatsSnapshot& o) noexcept;
  void subtract(const VersionStatsSnapshot& base) noexcept;
};

/// Concurrent statistics of one model version in one deployment.
///
/// Recording is the request path: each thread writes only its own lazily allocated shard (selected
/// by detail::thread_index()), with relaxed stores and no read-modify-write, so two request threads
/// never write the same cache line. Threads beyond kMaxThreadSlots share one shard updated with
/// atomic adds. snapshot() sums the shards; windows are taken by subtracting a baseline, so reading
/// and resetting never stop recorders.
///
/// Thread-safe: every member may be called concurrently.
class VersionStats {
 public:
  VersionStats() = default;
  ~VersionStats();
  VersionStats(const VersionStats&) = delete;
  VersionStats& operator=(const VersionStats&) = delete;

  /// A successful model call that took `latency_ns`; `label` < 0 and `confidence` NaN when absent.
  void record_success(std::uint64_t latency_ns, std::int32_t label, double confidence) noexcept {
    Shard& s = shard();
    bump(s, s.requests);
    bump(s, s.latency_counts[LatencyBuckets::index(latency_ns)]);
    add(s, s.latency_sum, latency_ns);
    if (latency_ns > s.latency_max.load(std::memory_order_relaxed)) {
      update_max(s.latency_max, latency_ns);
    }
    if (latency_ns < s.latency_min.load(std::memory_order_relaxed)) {
      update_min(s.latency_min, latency_ns);
    }
    if (label >= 0) {
      bump(s, s.class_counts[static_cast<std::size_t>(label) < VersionStatsSnapshot::kMaxClasses
                              ? static_cast<std::size_t>(label)
                              : VersionStatsSnapshot::kMaxClasses]);
    }
    if (confidence == confidence) {  // not NaN
      bump(s, s.confidence_count);
      add_double(s, s.confidence_sum, confidence);
      add_double(s, s.confidence_sum_squares, confidence * confidence);
    }
  }
  /// A request on which this version failed (the model threw or rejected the input).
  void record_error() noexcept {
    Shard& s = shard();
    bump(s, s.requests);
    bump(s, s.errors);
  }
  /// This version answered for another version that failed.
  void record_fallback() noexcept {
    Shard& s = shard();
    bump(s, s.fallbacks);
  }
  /// A ground-truth outcome for a prediction this version made.
  void record_outcome(bool correct) noexcept {
    Shard& s = shard();
    bump(s, s.labeled);
    if (correct) bump(s, s.correct);
  }

  /// Everything recorded since construction.
  VersionStatsSnapshot snapshot() const;
  /// What was recorded since the last reset_window() (or construction).
  VersionStatsSnapshot window() const;
  /// Starts a new window; returns the window that just ended.
  VersionStatsSnapshot reset_window();

 private:
  struct Shard {
    explicit Shard(bool is_shared = false) : shared(is_shared) {}
    const bool shared;  // the overflow shard, written by several threads with atomic adds
    std::atomic<std::uint64_t> requests{0}, errors{0}, fallbacks{0}, labeled{0}, correct{0};
    std::atomic<std::uint64_t> confidence_count{0};
    std::atomic<double> confidence_sum{0.0}, confidence_sum_squares{0.0};
    std::atomic<std::uint64_t> latency_sum{0}, latency_max{0};
    std::atomic<std::uint64_t> latency_min{~std::uint64_t{0}};
    std::array<std::atomic<std::uint64_t>, VersionStatsSnapshot::kMaxClasses + 1> class_counts{};
    std::array<std::atomic<std::uint64_t>, LatencyBuckets::kCount> latency_counts{};
  };

  Shard& shard() noexcept {
    std::size_t i = detail::thread_index();
    if (i >= detail::kMaxThreadSlots) return overflow_;
    Shard* s = shards_[i].load(std::memory_order_acquire);
    return s ? *s : allocate(i);
  }
  Shard& allocate(std::size_t i) noexcept;

  // The owning thread is the only writer of a private shard: a plain load and store is enough,
  // and cheaper than an atomic read-modify-write. The overflow shard needs real atomic adds.
  static void bump(Shard& s, std::atomic<std::uint64_t>& c) noexcept { add(s, c, 1); }
  static void add(Shard& s, std::atomic<std::uint64_t>& c, std::uint64_t v) noexcept {
    if (s.shared) {
      c.fetch_add(v, std::memory_order_relaxed);
    } else {
      c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
    }
  }
  static void add_double(Shard& s, std::atomic<double>& c, double v) noexcept {
    if (s.shared) {
      double cur = c.load(std::memory_order_relaxed);
      while (!c.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
      }
    } else {
      c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
    }
  }
  static void update_max(std::atomic<std::uint64_t>& m, std::uint64_t v) noexcept {
    std::uint64_t cur = m.load(std::memory_order_relaxed);
    while (v > cur && !m.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
  }
  static void update_min(std::atomic<std::uint64_t>& m, std::uint64_t v) noexcept {
    std::uint64_t cur = m.load(std::memory_order_relaxed);
    while (v < cur && !m.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
  }
  static void read_shard(const Shard& s, VersionStatsSnapshot& out) noexcept;

  std::array<std::atomic<Shard*>, detail::kMaxThreadSlots> shards_{};
  Shard overflow_{true};
  mutable detail::Mutex mu_;
  VersionStatsSnapshot baseline_ SWITCHYARD_GUARDED_BY(mu_);
};

inline void VersionStatsSnapshot::merge(const VersionStatsSnapshot& o) noexcept {
  requests += o.requests;
  errors += o.errors;
  fallbacks += o.fallbacks;
  latency.merge(o.latency);
  confidence_count += o.confidence_count;
  confidence_sum += o.confidence_sum;
  confidence_sum_squares += o.confidence_sum_squares;
  for (std::size_t i = 0; i < class_counts.size(); ++i) class_counts[i] += o.class_counts[i];
  labeled += o.labeled;
  correct += o.correct;
}

inline void VersionStatsSnapshot::subtract(const VersionStatsSnapshot& b) noexcept {
  requests -= b.requests;
  errors -= b.errors;
  fallbacks -= b.fallbacks;
  latency.subtract(b.latency);
  confidence_count -= b.confidence_count;
  confidence_sum -= b.confidence_sum;
  confidence_sum_squares -= b.confidence_sum_squares;
  for (std::size_t i = 0; i < class_counts.size(); ++i) class_counts[i] -= b.class_counts[i];
  labeled -= b.labeled;
  correct -= b.correct;
}

inline VersionStats::~VersionStats() {
  for (auto& p : shards_) delete p.load(std::memory_order_acquire);
}

inline VersionStats::Shard& VersionStats::allocate(std::size_t i) noexcept {
  // Only thread i allocates slot i, so no race on installing it; readers see it via acquire.
  auto* s = new (std::nothrow) Shard();
  if (s == nullptr) return overflow_;
  shards_[i].store(s, std::memory_order_release);
  return *s;
}

inline void VersionStats::read_shard(const Shard& s, VersionStatsSnapshot& out) noexcept {
  constexpr auto r = std::memory_order_relaxed;
  VersionStatsSnapshot one;
  one.requests = s.requests.load(r);
  one.errors = s.errors.load(r);
  one.fallbacks = s.fallbacks.load(r);
  one.labeled = s.labeled.load(r);
  one.correct = s.correct.load(r);
  one.confidence_count = s.confidence_count.load(r);
  one.confidence_sum = s.confidence_sum.load(r);
  one.confidence_sum_squares = s.confidence_sum_squares.load(r);
  for (std::size_t i = 0; i < one.class_counts.size(); ++i) one.class_counts[i] = s.class_counts[i].load(r);
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < LatencyBuckets::kCount; ++i) {
    std::uint64_t c = s.latency_counts[i].load(r);
    if (c) one.latency.add_bucket(i, c);
    n += c;
  }
  one.latency.set_totals(n, s.latency_sum.load(r), n ? s.latency_min.load(r) : ~std::uint64_t{0},
                         s.latency_max.load(r));
  out.merge(one);
}

inline VersionStatsSnapshot VersionStats::snapshot() const {
  VersionStatsSnapshot out;
  for (const auto& p : shards_) {
    if (const Shard* s = p.load(std::memory_order_acquire)) read_shard(*s, out);
  }
  read_shard(overflow_, out);
  return out;
}

inline VersionStatsSnapshot VersionStats::window() const {
  VersionStatsSnapshot now = snapshot();
  detail::MutexLock lk(mu_);
  now.subtract(baseline_);
  return now;
}

inline VersionStatsSnapshot VersionStats::reset_window() {
  VersionStatsSnapshot now = snapshot();
  detail::MutexLock lk(mu_);
  VersionStatsSnapshot ended = now;
  ended.subtract(baseline_);
  baseline_ = std::move(now);
  return ended;
}

}  // namespace switchyard
