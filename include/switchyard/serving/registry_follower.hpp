// SPDX-License-Identifier: Apache-2.0
// RegistryFollower: one thread per replica that keeps its ModelRegistry in step with a shared
// store.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/registry/model_registry.hpp>

namespace switchyard {

/// How far behind the shared store a replica may be, as its follower last saw it.
/// Thread-safety: a value type.
struct FollowerStatus {
  /// Seconds (on the follower's clock) since the last successful refresh: at most about one
  /// Options::wait_slice while the store is reachable, growing while it is not.
  double staleness_seconds = 0.0;
  bool reachable = true;                   ///< the last attempt reached the store
  TimePoint last_success{};                ///< when the last successful refresh finished
  std::uint64_t attempts = 0;              ///< refresh attempts (each one at least a round trip)
  std::uint64_t changes = 0;               ///< attempts that picked up another replica's commits
  std::uint64_t failures = 0;              ///< failed attempts, in total
  std::uint64_t consecutive_failures = 0;  ///< failed attempts since the last success
  std::chrono::milliseconds retry_in{0};   ///< the backoff before the next attempt (0: none)
  std::string error;                       ///< the last failure's message (empty when reachable)
};

/// The wait before retry number `consecutive_failures` (1 for the first retry): `initial`
/// doubled per further failure, capped at `max`. Pure; exposed so it can be checked.
SWITCHYARD_API std::chrono::milliseconds follower_backoff(std::uint64_t consecutive_failures,
                                                          std::chrono::milliseconds initial,
                                                          std::chrono::milliseconds max) noexcept;

/// Pushes other replicas' commits into this replica's serving: a thread that waits for a change
/// to the registry's store (the store's notification when Options::wait_for_change is given,
/// PostgresRegistryStore::wait_for_change on a fleet; otherwise a poll every wait_slice) and calls
/// ModelRegistry::refresh(), so every RegistryBinding on that registry republishes its
/// Deployment's table before the refresh returns. A rollback committed on any replica is served
/// by this one within one notification round trip.
///
/// Availability first: when a refresh fails (the database is down or unreachable) the registry
/// keeps its last snapshot and every deployment keeps serving; the follower counts the failure,
/// reports staleness (status(), to_prometheus()) and retries after follower_backoff(). The first
/// success after a failure reloads the whole snapshot (ModelRegistry::reload()), so nothing a
/// lost notification or a half-done refresh skipped stays missing. While the store is reachable
/// the follower checks it at least once per wait_slice even when nothing was notified (one round
/// trip on PostgreSQL), so staleness and reachability stay honest on an idle fleet.
///
/// Thread-safe: every member may be called concurrently. Neither copyable nor movable. The
/// destructor stops the thread and joins it (within about one wait_slice: a store's wait is not
/// interrupted). The registry, whatever wait_for_change uses and the clock must outlive it; create
/// it after the bindings it should drive and destroy it before them.
///
/// @code
/// switchyard::PostgresRegistryStore store({});  // SWITCHYARD_PG_URL
/// switchyard::ModelRegistry registry({.store = &store, .artifacts = &artifacts});
/// switchyard::Deployment fraud({.model = "fraud-detection", .source = &registry});
/// switchyard::RegistryBinding binding({.registry = &registry, .deployment = &fraud});
/// switchyard::RegistryFollower follower(
///     {.registry = &registry,
///      .wait_for_change = [&](std::chrono::milliseconds t) { return store.wait_for_change(t); }});
/// // a rollback on any replica now switches `fraud` here too; scrape follower.to_prometheus()
/// @endcode
class RegistryFollower {
 public:
  struct Options {
    ModelRegistry* registry = nullptr;  ///< required
    /// Blocks until the store may have changed or the timeout passes; true when it may have.
    /// Empty: poll (a refresh every wait_slice; cheap on SQLite, one data_version check).
    std::function<bool(std::chrono::milliseconds)> wait_for_change{};
    /// The longest single wait: the poll interval without push, and with push the longest an
    /// idle replica goes without checking the store (and roughly how long destruction takes).
    /// Default 100 ms.
    std::chrono::milliseconds wait_slice{100};
    /// Backoff after a failed refresh: first wait, doubled per further failure up to the cap.
    /// Defaults 50 ms and 5 s.
    std::chrono::milliseconds backoff_initial{50};
    std::chrono::milliseconds backoff_max{5000};
    /// Staleness is measured on this clock. Null: the registry's clock.
    const Clock* clock = nullptr;
  };

  /// Starts the thread; it refreshes once at once. Throws InvalidArgument for a null registry or
  /// a non-positive wait_slice or backoff.
  SWITCHYARD_API explicit RegistryFollower(Options options);
  SWITCHYARD_API ~RegistryFollower();
  RegistryFollower(const RegistryFollower&) = delete;
  RegistryFollower& operator=(const RegistryFollower&) = delete;

  /// The current state, staleness computed now.
  SWITCHYARD_API FollowerStatus status() const;
  /// Blocks until `done(status())` holds after an attempt (or at once if it holds now) or
  /// `timeout` passes; returns whether it held. For startup (wait until caught up) and tests.
  SWITCHYARD_API bool wait_until(const std::function<bool(const FollowerStatus&)>& done,
                                 std::chrono::milliseconds timeout) const;
  /// Ends a backoff wait now: the next attempt starts at once (say, when the host knows the
  /// database is back).
  SWITCHYARD_API void retry_now();
  /// Prometheus text format 0.0.4, labelled {store="<describe()>"} (never a credential):
  /// switchyard_registry_staleness_seconds and switchyard_registry_reachable (gauges),
  /// switchyard_registry_refresh_attempts_total and switchyard_registry_refresh_failures_total
  /// (counters).
  SWITCHYARD_API std::string to_prometheus() const;

 private:
  void run(std::stop_token stop);
  void wait_for_next(const std::stop_token& stop);
  void attempt();
  FollowerStatus status_locked() const;  // requires mu_

  ModelRegistry* registry_;
  Options options_;
  const Clock* clock_;
  std::string store_label_;
  // std::mutex rather than detail::Mutex: the condition variable needs a unique_lock.
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // an attempt finished, or stop / retry_now
  FollowerStatus status_;                    // guarded by mu_ (staleness filled in on read)
  bool retry_now_ = false;                   // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::jthread thread_;                      // last: starts after everything above exists
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/serving/registry_follower-inl.hpp>
#endif
