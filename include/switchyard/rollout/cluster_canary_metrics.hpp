// SPDX-License-Identifier: Apache-2.0
// ClusterCanaryMetrics: a fleet's canary figures, flushed per window by every replica and merged
// for the rollout's leader.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/registry/registry_store.hpp>
#include <switchyard/rollout/canary_metrics.hpp>

namespace switchyard {

/// The merged figures of a range of windows, and whose they are. Thread-safety: a value type.
struct ClusterWindow {
  CanaryWindow figures;               ///< every merged replica's window figures added up
  std::int64_t first_window = 0;      ///< the range merged (inclusive)
  std::int64_t last_window = -1;
  std::vector<std::string> merged;    ///< replicas whose figures are in, sorted
  std::vector<std::string> missing;   ///< replicas expected but without figures, sorted
};

/// Cluster-wide canary figures for a fleet whose replicas each serve part of a rollout's traffic
/// and each count it in their own CanaryMetrics. Every replica runs one: at each window boundary
/// it rolls its CanaryMetrics' window and writes the figures (encode_canary_window()) to the
/// shared store under (rollout, window, replica). The replica holding the rollout's lease judges
/// the merge of every replica's figures (merge_window()), never its own view alone: give
/// `[&] { return cluster.next_window(); }` to CanaryController::Options::window_source.
///
/// Windows are aligned on the injected clock: window i covers
/// [origin + i * interval, origin + (i + 1) * interval), so replicas agree on the index without
/// talking to each other (their clocks must agree to well within the grace). A replica flushes
/// on its first flush() call after a boundary; the figures it rolled then are stored as the
/// window that just ended. A replica that missed several boundaries (stalled) stores one row, for
/// the last window that ended, holding everything since its previous flush, and none for the
/// windows it skipped.
///
/// Missing and dead replicas: the leader expects itself, the replicas named in
/// Options::replicas, and every replica that wrote figures for the judged window or any of the
/// `forget_after` windows before it. A window is judged once every
/// expected replica wrote it, or `grace` after its end, whichever comes first; until then
/// next_window() returns empty figures (the controller holds the step: no samples). When the
/// grace runs out the window is judged with the figures present, and `sources` of the returned
/// window names the replicas merged and those missing, so the evaluation's summary (and a
/// rollback's evidence) records them; figures a late replica writes afterwards for a judged
/// window are not judged. A discovered replica that wrote nothing for `forget_after` windows is
/// taken as gone (its traffic went to the others) and no longer awaited or reported; one named
/// in Options::replicas is awaited and reported until the option changes.
///
/// Storage: one row per replica per window, pruned by each replica's flush to the last
/// `keep_windows` windows. A write that fails (store down) keeps the figures and retries on the
/// next flush(); the leader's read that fails throws StorageError out of next_window(), so the
/// controller's evaluate() throws and judges nothing. A damaged row throws CorruptStore naming
/// the rollout, window and replica.
///
/// Thread-safety: every member may be called concurrently (one mutex; store I/O under it).
/// Neither copyable nor movable.
///
/// @code
/// switchyard::ClusterCanaryMetrics cluster({.store = &store, .metrics = metrics.get(),
///                                           .rollout = "fraud-detection", .replica = "scorer-2",
///                                           .origin = plan_start, .interval = plan.interval});
/// every(plan.interval / 10, [&] { cluster.flush(); });          // every replica
/// switchyard::CanaryController canary({..., .metrics = metrics.get(),
///     .window_source = [&] { return cluster.next_window(); }});  // judges the fleet's merge
/// @endcode
class ClusterCanaryMetrics {
 public:
  struct Options {
    /// Required: the store every replica shares (PostgreSQL for a fleet). Must outlive this.
    RegistryStore* store = nullptr;
    /// Required: this replica's figures. Only this object rolls its windows from now on.
    CanaryMetrics* metrics = nullptr;
    /// Required: the rollout's key (CanaryController::rollout_name(), the same on every replica).
    std::string rollout{};
    /// Required: this replica's name, unique in the fleet and stable across restarts.
    std::string replica{};
    /// Null: the system clock. Must outlive this.
    const Clock* clock = nullptr;
    /// Where window 0 begins; the same on every replica (the rollout's start, or any fixed time).
    /// Times before it count in window 0.
    TimePoint origin{};
    /// Window length (the plan's evaluation interval). Must be positive.
    Duration interval = std::chrono::minutes(1);
    /// How long after a window's end the leader waits for replicas that have not written it.
    Duration grace = std::chrono::seconds(10);
    /// Replicas always expected, from the first window on (a fleet of known membership). Others
    /// are discovered from the figures they write. Empty: discovery only.
    std::vector<std::string> replicas{};
    /// Windows without figures after which a discovered replica is taken as gone (>= 1).
    std::int64_t forget_after = 3;
    /// Windows of rows kept per rollout; older ones are deleted by each flush (>= forget_after).
    std::int64_t keep_windows = 32;
    /// Latency sample values kept in merged figures (merge_figures()).
    std::size_t latency_sample = 2000;
  };

  /// Throws InvalidArgument naming a missing or impossible option.
  SWITCHYARD_API explicit ClusterCanaryMetrics(Options options);
  ClusterCanaryMetrics(const ClusterCanaryMetrics&) = delete;
  ClusterCanaryMetrics& operator=(const ClusterCanaryMetrics&) = delete;

  /// The window `t` falls in (0 before the origin).
  SWITCHYARD_API std::int64_t window_index(TimePoint t) const noexcept;
  /// When window `index` ends.
  SWITCHYARD_API TimePoint window_end(std::int64_t index) const noexcept;

  /// Every replica, often (a timer a few times per interval): when a window boundary passed since
  /// the last flush, rolls the local CanaryMetrics and writes its figures for the window that
  /// just ended (with any earlier write that failed), and prunes old rows. Returns the window
  /// written, or nullopt when no boundary passed. Throws StorageError when the write fails (the
  /// figures are kept and written by the next call).
  SWITCHYARD_API std::optional<std::int64_t> flush();

  /// The leader, on each evaluation: flush(), then the merge of every window that ended since
  /// the last call and is ready (every expected replica wrote it, or its grace is over), as one
  /// CanaryWindow with `sources` naming the replicas merged and missing. Empty figures (the
  /// watched versions at zero) when no window is ready yet. The first call starts with the
  /// window this object was constructed in.
  SWITCHYARD_API CanaryWindow next_window();

  /// The merge of the stored figures of windows [first, last] (no flush, no waiting), with the
  /// replicas merged and those expected but missing (see the class comment).
  SWITCHYARD_API ClusterWindow merged(std::int64_t first, std::int64_t last);

  const Options& options() const noexcept { return options_; }

 private:
  struct Pending {
    std::int64_t window;
    std::string figures;
  };
  void write_pending(TimePoint now) SWITCHYARD_REQUIRES(mu_);
  std::optional<std::int64_t> flush_locked(TimePoint now) SWITCHYARD_REQUIRES(mu_);
  ClusterWindow merge_rows(std::int64_t first, std::int64_t last,
                           const std::vector<WindowFigures>& rows) const;
  CanaryWindow empty_window(TimePoint now, std::string sources) const;

  Options options_;
  const Clock* clock_;
  mutable detail::Mutex mu_;
  std::int64_t local_window_ SWITCHYARD_GUARDED_BY(mu_);     // window of the last roll (or start)
  std::int64_t judged_ SWITCHYARD_GUARDED_BY(mu_);           // last window next_window() merged
  std::vector<Pending> pending_ SWITCHYARD_GUARDED_BY(mu_);  // rolled, not yet written
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/rollout/cluster_canary_metrics-inl.hpp>
#endif
