// SPDX-License-Identifier: Apache-2.0
// CanaryMetrics: per-version request, error, latency, accuracy and host-metric figures per window.
#pragma once

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/request_observer.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/detail/thread_slot.hpp>
#include <switchyard/monitoring/latency_histogram.hpp>
#include <switchyard/rollout/pending_join_table.hpp>

namespace switchyard {

/// Count, sum and sum of squares of a host-defined metric (record()). Windows are taken by
/// subtraction, so the sums are kept raw; mean() and variance() derive from them (fine for
/// metrics whose spread is not tiny against their mean). Thread-safety: a value type.
struct MetricMoments {
  std::string name;
  std::uint64_t count = 0;
  double sum = 0.0;
  double sum_squares = 0.0;

  double mean() const noexcept { return count ? sum / static_cast<double>(count) : 0.0; }
  /// Sample variance (n - 1); 0 with fewer than two values.
  double variance() const noexcept {
    if (count < 2) return 0.0;
    const double n = static_cast<double>(count);
    const double v = (sum_squares - sum * sum / n) / (n - 1.0);
    return v > 0.0 ? v : 0.0;
  }
};

/// One version's figures over a window (or since construction).
/// Thread-safety: a value type.
struct CanaryVersionFigures {
  std::int64_t version = 0;
  /// Requests routed to this version: answered, or failed by its model (a fallback answer counts
  /// as a failed request of the version that failed, not as a request of the one that answered).
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;     ///< requests on which this version's model failed
  std::uint64_t fallbacks = 0;  ///< answers this version gave for another version that failed
  /// Nanoseconds per answered request (log-linear buckets: quantiles within 0.8%).
  LatencyHistogram latency;
  /// A uniform random sample of this window's answered-request latencies, in nanoseconds, at most
  /// Options::latency_sample values (for rank tests such as Mann-Whitney). Empty in cumulative
  /// figures. Approximately aligned with the window: a request racing roll_window() may be in
  /// one window's counts and the neighbouring window's sample.
  std::vector<double> latency_sample_ns;
  std::uint64_t labelled = 0;  ///< labels joined (record_label) or recorded (record_labels)
  std::uint64_t correct = 0;
  /// Host-defined metrics in Options::metrics order (always all of them, count 0 when unseen).
  std::vector<MetricMoments> metrics;

  double error_rate() const noexcept {
    return requests ? static_cast<double>(errors) / static_cast<double>(requests) : 0.0;
  }
  /// The 99th percentile latency in nanoseconds; 0 when nothing was answered.
  double p99_ns() const noexcept { return latency.quantile(0.99); }
  /// Fraction of labelled predictions that were correct; 0 when none is labelled.
  double accuracy() const noexcept {
    return labelled ? static_cast<double>(correct) / static_cast<double>(labelled) : 0.0;
  }
  /// The host metric `name`, or null when it is not one of Options::metrics.
  const MetricMoments* metric(std::string_view name) const noexcept {
    for (const auto& m : metrics) {
      if (m.name == name) return &m;
    }
    return nullptr;
  }
};

/// What CanaryMetrics::snapshot() and roll_window() return: every watched version's figures over
/// one window and since construction, in Options::versions order. Thread-safety: a value type.
struct CanaryWindow {
  std::uint64_t index = 0;  ///< 1 for the first window; roll_window() starts the next one
  TimePoint start{};        ///< when this window started (Options::clock)
  TimePoint end{};          ///< when it was read (snapshot) or closed (roll_window)
  std::vector<CanaryVersionFigures> window;      ///< since `start`
  std::vector<CanaryVersionFigures> cumulative;  ///< since construction (no latency sample)
  /// Requests observed for versions not in Options::versions, or rejected before any model ran
  /// (unknown pinned version, invalid input, no active model); since construction.
  std::uint64_t ignored_requests = 0;
  std::uint64_t labels_unmatched = 0;  ///< record_label ids not (or no longer) pending; cumulative
  std::uint64_t labels_duplicate = 0;  ///< record_label for an id already labelled; cumulative
  /// Where merged figures came from (ClusterCanaryMetrics: the replicas merged, and those
  /// missing); empty for one CanaryMetrics' own window. A judge adds it to its evaluation's
  /// summary so that a verdict says whose data it saw.
  std::string sources{};

  /// Window figures of `version`, or null when it is not watched.
  const CanaryVersionFigures* find(std::int64_t version) const noexcept {
    for (const auto& v : window) {
      if (v.version == version) return &v;
    }
    return nullptr;
  }
  /// Cumulative figures of `version`, or null when it is not watched.
  const CanaryVersionFigures* find_cumulative(std::int64_t version) const noexcept {
    for (const auto& v : cumulative) {
      if (v.version == version) return &v;
    }
    return nullptr;
  }
};

/// Adds `other` to `into`: counts, labels and host-metric moments add (metrics matched by name,
/// new names appended), the latency histograms merge bucket-wise, so every quantile equals the
/// one of a histogram fed both sides' values. The latency samples are concatenated and, beyond
/// `sample_cap` values, subsampled: each side keeps a hypergeometric share of the cap in
/// proportion to the answered requests it stands for (latency.count()), chosen with a generator
/// seeded by `seed`, so a merge is deterministic and a uniform sample of uniform samples stays
/// uniform. `into.version` is kept. Thread-safety: a function on values.
SWITCHYARD_API void merge_figures(CanaryVersionFigures& into, const CanaryVersionFigures& other,
                                  std::size_t sample_cap = 2000, std::uint64_t seed = 0);

/// Adds `other` to `into`, version by version (merge_figures; a version only `other` has is
/// appended), for both the window and the cumulative figures; start becomes the earlier, end
/// the later, and the request and label counters add. `into.index` and `into.sources` are kept.
/// What a fleet's leader judges: the merge of every replica's window (ClusterCanaryMetrics).
/// Thread-safety: a function on values.
SWITCHYARD_API void merge_window(CanaryWindow& into, const CanaryWindow& other,
                                 std::size_t sample_cap = 2000, std::uint64_t seed = 0);

/// Requests a host (or the RolloutSimulator) recorded in bulk: `requests` routed to a version of
/// which `errors` failed; `latency` holds the answered ones' latencies; `latency_sample` is a
/// random sample of them (at most Options::latency_sample values are used), standing for all
/// `latency.count()` answered requests in the window's sample.
struct CanaryBatch {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  const LatencyHistogram* latency = nullptr;  ///< may be null (no latency figures)
  std::span<const std::uint64_t> latency_sample{};
};

namespace detail::canary {
struct Shard;
}  // namespace detail::canary

/// The figures a canary guardrail reads, per watched version, over the current evaluation window
/// and since construction: requests, errors, latency (a histogram precise enough for p99 and a
/// bounded uniform sample per window for rank tests), accuracy from labels joined by request id,
/// and host-defined metrics.
///
/// Attach it to a Deployment (add_observer) and it sees every request; or call
/// record_request() / record_batch() directly (the RolloutSimulator does).
///
/// Request path (on_request, record_request, record, record_label): each thread writes its own
/// lazily allocated shard with relaxed single-writer stores; no lock is shared between threads and
/// nothing is allocated once a thread's shard exists. Threads beyond detail::kMaxThreadSlots (or
/// when a shard cannot be allocated) share one mutex-guarded shard. Labels: each request with an
/// id is remembered in its thread's bounded table (Options::label_capacity slots in sets of 8; a
/// new request takes an empty or labelled slot of its set, else the set's oldest entry's);
/// record_label() looks the id up in every thread's table.
///
/// Control path (snapshot, roll_window): serialised among themselves; they sum the shards
/// without stopping recorders. Windows of counters are exact: every request lands in exactly one
/// window, so the windows add up to the cumulative figures.
///
/// Thread-safe: every member may be called concurrently. Neither copyable nor movable.
///
/// @code
/// auto metrics = std::make_shared<switchyard::CanaryMetrics>(
///     switchyard::CanaryMetrics::Options{.versions = {3, 4}});
/// deployment.add_observer(metrics);
/// // ... on each evaluation:
/// switchyard::CanaryWindow w = metrics->roll_window();
/// if (w.find(4)->error_rate() > 2 * w.find(3)->error_rate()) roll_back();
/// @endcode
class CanaryMetrics final : public RequestObserver {
 public:
  struct Options {
    /// The versions to watch (stable first, then candidates): distinct and > 0, at least one.
    std::vector<std::int64_t> versions{};
    /// Names of host-defined metrics accepted by record(): distinct and non-empty.
    std::vector<std::string> metrics{};
    /// Latencies kept per version per window for rank tests (a uniform reservoir). Default 2000;
    /// at most 1,000,000; 0 keeps none.
    std::size_t latency_sample = 2000;
    /// Requests remembered per request thread for record_label(), rounded up to a power of two
    /// (at least 8); 0 disables label joining (record_labels still works). Default 16384
    /// (256 KiB per thread). Size it at about 4x the requests a thread serves within the label
    /// delay (sets filled by hash overflow before the table is full; at 1.5x about 1% of labels
    /// were lost): a label whose request was pushed out is counted unmatched.
    std::size_t label_capacity = 16384;
    /// Stamps window starts and ends. Default: the system clock. Must outlive the metrics.
    const Clock* clock = nullptr;
    /// Seeds the reservoirs' random choices (per thread, mixed with the thread's index).
    std::uint64_t seed = 0x5eed'cafe'f00d'0001ull;
  };

  /// Throws InvalidArgument naming the field: no versions, a version <= 0 or repeated, an empty or
  /// repeated metric name, latency_sample or label_capacity too large.
  SWITCHYARD_API explicit CanaryMetrics(Options options);
  SWITCHYARD_API ~CanaryMetrics() override;
  CanaryMetrics(const CanaryMetrics&) = delete;
  CanaryMetrics& operator=(const CanaryMetrics&) = delete;

  /// RequestObserver: counts `request` for the version that routed it (see CanaryVersionFigures
  /// for fallbacks) and remembers its id for labels. Never throws.
  SWITCHYARD_API void on_request(const ObservedRequest& request) noexcept override;

  /// Records one request directly: `version` answered it in `latency_ns` (ok) or its model failed
  /// (!ok). `request_id`, when not empty, is remembered for record_label(). Returns false (and
  /// counts it ignored) when `version` is not watched. Request path; never throws.
  SWITCHYARD_API bool record_request(std::int64_t version, bool ok, std::uint64_t latency_ns,
                                     std::string_view request_id = {}) noexcept;
  /// Records requests in bulk (see CanaryBatch). Returns false when `version` is not watched or
  /// the batch is inconsistent (errors > requests, or more answered latencies than answers).
  SWITCHYARD_API bool record_batch(std::int64_t version, const CanaryBatch& batch) noexcept;

  /// The ground truth of a request: whether the version that answered it was right. Joined by
  /// request id with the version remembered by on_request/record_request; counted in the window
  /// in which the label arrives. Returns kJoined, kUnknownRequest (never seen, no id, or its slot
  /// reused since), or kDuplicate (already labelled). Never throws.
  SWITCHYARD_API JoinResult record_label(std::string_view request_id, bool correct) noexcept;
  /// Labels recorded in bulk for `version`: `labelled` of which `correct` were right. Returns
  /// false when `version` is not watched or correct > labelled.
  SWITCHYARD_API bool record_labels(std::int64_t version, std::uint64_t labelled,
                                    std::uint64_t correct) noexcept;

  /// A host-defined metric value for `version` (business metric, score, cost). Returns false
  /// when the version is not watched, `metric` is not in Options::metrics or `value` is not
  /// finite. Request path; never throws.
  SWITCHYARD_API bool record(std::int64_t version, std::string_view metric, double value) noexcept;

  /// The current window so far and the cumulative figures; the window keeps running.
  SWITCHYARD_API CanaryWindow snapshot() const;
  /// Closes the current window and returns it (with the cumulative figures); the next window
  /// starts now.
  SWITCHYARD_API CanaryWindow roll_window();

  /// The watched versions, in Options order.
  std::span<const std::int64_t> versions() const noexcept { return versions_; }
  /// The host metric names, in Options order.
  std::span<const std::string> metric_names() const noexcept { return metric_names_; }

 private:
  using Shard = detail::canary::Shard;
  // Position of `version` in versions_, or -1.
  int version_index(std::int64_t version) const noexcept {
    for (std::size_t i = 0; i < versions_.size(); ++i) {
      if (versions_[i] == version) return static_cast<int>(i);
    }
    return -1;
  }
  Shard* shard_for_writing() noexcept;  // this thread's shard, or null: use the overflow shard
  Shard* allocate_shard(std::size_t index) noexcept;
  template <class Write>
  void write(Write&& w) noexcept;
  // Every shard summed at one moment (cumulative); windows subtract an earlier Totals.
  struct Totals {
    struct Version {
      std::uint64_t requests = 0, errors = 0, fallbacks = 0, labelled = 0, correct = 0;
      LatencyHistogram latency;
      std::vector<MetricMoments> metrics;
    };
    std::vector<Version> versions;
    std::uint64_t ignored = 0, labels_unmatched = 0, labels_duplicate = 0;
  };
  Totals zero_totals() const;
  Totals read_totals() const;
  // Reads the current window; with `roll`, also closes it and starts the next.
  CanaryWindow build(bool roll) const;
  static void figures(CanaryVersionFigures& out, std::int64_t version,
                      const Totals::Version& totals);

  std::vector<std::int64_t> versions_;
  std::vector<std::string> metric_names_;
  std::size_t sample_capacity_;
  std::size_t label_capacity_;  // power of two, or 0
  const Clock* clock_;
  std::uint64_t seed_;

  mutable std::atomic<std::uint64_t> window_{1};  // current window's number; tags reservoirs
  std::array<std::atomic<Shard*>, detail::kMaxThreadSlots> shards_{};
  mutable detail::Mutex overflow_mu_;
  std::unique_ptr<Shard> overflow_;  // written under overflow_mu_

  mutable detail::Mutex control_mu_;  // serialises snapshot() and roll_window()
  // The cumulative figures when the current window started, and when that was.
  mutable std::unique_ptr<Totals> baseline_ SWITCHYARD_GUARDED_BY(control_mu_);
  mutable TimePoint window_start_ SWITCHYARD_GUARDED_BY(control_mu_){};
  mutable std::uint64_t merge_state_ SWITCHYARD_GUARDED_BY(control_mu_) = 0;  // sample merge RNG
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/rollout/canary_metrics-inl.hpp>
#endif
