// SPDX-License-Identifier: Apache-2.0
// RolloutStandby: one per replica; drives the rollout while it leads, takes over when the leader
// dies.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/rollout/canary_controller.hpp>
#include <switchyard/rollout/rollout_follower.hpp>

namespace switchyard {

/// What one RolloutStandby::tick() did.
enum class StandbyAction : std::uint8_t {
  kIdle,        ///< nothing to do: no live rollout, or not yet time
  kLed,         ///< this replica leads: heartbeat and/or evaluation done (or not yet due)
  kWaiting,     ///< another controller holds a live lease; retried when it expires
  kTookOver,    ///< this replica resumed the rollout from the store at its persisted step
  kLostLease,   ///< this replica's controller found its lease taken over; it follows now
  kFailed,      ///< the store or the controller failed; status() says why, retried later
};
/// "idle", "led", "waiting", "took_over", "lost_lease", "failed".
SWITCHYARD_API std::string_view to_string(StandbyAction a) noexcept;

/// Where a replica's standby stands. Thread-safety: a value type.
struct RolloutStandbyStatus {
  bool leading = false;            ///< this replica's controller holds the lease
  std::int64_t lease_token = 0;    ///< its fencing token (while leading)
  TimePoint lease_expires_at{};    ///< until when (while leading)
  std::string holder;              ///< the other controller last seen holding the lease
  TimePoint next_attempt_at{};     ///< when a follower tries to take over next
  std::uint64_t takeovers = 0;     ///< successful resume_from_store() by this standby
  std::uint64_t renewals = 0;      ///< heartbeats written
  std::uint64_t evaluations = 0;   ///< evaluate() calls while leading
  std::uint64_t attempts = 0;      ///< takeover attempts (each one store transaction)
  std::optional<TimePoint> last_takeover_at{};
  StandbyAction last_action = StandbyAction::kIdle;
  std::string error;               ///< the last failure (empty after a success)
};

/// Exactly one controller drives a rollout across a fleet, and another takes over when it dies.
/// Each replica runs one standby around its own CanaryController (all with distinct owners on the
/// same store). tick():
///
/// - **Leading** (its controller holds the lease): writes a heartbeat every `heartbeat`
///   (CanaryController::renew_lease(): the lease row only, the record's revision unchanged) and
///   calls evaluate() every `evaluate_every` (the plan's interval by default). While the rollout
///   is live, or promoted with its previous version still kept for a switch-back.
/// - **Following**: when the store holds a live rollout and the lease it last saw has expired on
///   its clock, it calls resume_from_store() (inside RolloutFollower::exclusive() when a follower
///   is given). LeaseHeld is the normal answer while the leader lives: the standby then waits
///   until that lease's expiry (one store transaction per expiry, not per tick). A resumed
///   controller continues at the persisted step, so no step is replayed or skipped; fencing
///   tokens make a paused old leader's next write fail instead of overwriting the new one's.
///
/// With a lease_ttl of 1 s and a heartbeat of 250 ms, a dead leader's lease expires at most 1 s
/// after its last heartbeat, and a standby ticking every 50 ms resumes within about 1.05 s of
/// that. Leases compare times on the replicas' clocks: keep them synchronised (NTP); a skew adds
/// to the takeover time, and fencing keeps it safe either way.
///
/// Time: every decision reads Options::clock (the registry's by default, which should be the
/// controller's), so tests drive tick() with a ManualClock and no thread.
///
/// Thread-safe: every member may be called concurrently; ticks are serialised. Neither copyable
/// nor movable. The controller, registry and follower must outlive it.
///
/// @code
/// switchyard::RolloutStandby standby({.controller = &canary, .registry = &registry,
///                                     .follower = &rollout, .background = true});
/// standby.start(plan);  // on the replica that starts the rollout; any replica may finish it
/// @endcode
class RolloutStandby {
 public:
  struct Options {
    CanaryController* controller = nullptr;  ///< required; this replica's controller
    ModelRegistry* registry = nullptr;       ///< required; the controller's registry
    /// This replica's follower, if any: takeovers and start() run inside its exclusive().
    RolloutFollower* follower = nullptr;
    const Clock* clock = nullptr;  ///< null: the registry's clock
    /// How often a leader renews its lease; keep it well under the controller's lease_ttl (a
    /// quarter of it). Default 250 ms.
    Duration heartbeat = std::chrono::milliseconds(250);
    /// How often a leader evaluates. nullopt: the plan's interval.
    std::optional<Duration> evaluate_every{};
    /// How often a follower looks for a live rollout when it knows of no lease to wait for.
    /// Default 250 ms.
    Duration retry_every = std::chrono::milliseconds(250);
    /// Run a background thread that ticks every tick_interval. False: the host calls tick().
    bool background = false;
    std::chrono::milliseconds tick_interval{20};
  };

  /// Throws InvalidArgument for a missing controller or registry or non-positive durations.
  SWITCHYARD_API explicit RolloutStandby(Options options);
  SWITCHYARD_API ~RolloutStandby();
  RolloutStandby(const RolloutStandby&) = delete;
  RolloutStandby& operator=(const RolloutStandby&) = delete;

  /// Starts `plan` on this replica's controller (inside the follower's exclusive()); throws what
  /// CanaryController::start() throws.
  SWITCHYARD_API RolloutAction start(const CanaryPlan& plan);
  /// One round, as described above. Never throws: failures are counted and retried.
  SWITCHYARD_API StandbyAction tick() noexcept;
  SWITCHYARD_API RolloutStandbyStatus status() const;
  /// Blocks until `done(status())` holds after a tick (or holds now) or `timeout` passes.
  SWITCHYARD_API bool wait_until(const std::function<bool(const RolloutStandbyStatus&)>& done,
                                 std::chrono::milliseconds timeout) const;

 private:
  StandbyAction lead(TimePoint now, const RolloutRecord& record);
  StandbyAction follow(TimePoint now);
  void run(std::stop_token stop);

  Options options_;
  const Clock* clock_;
  std::mutex tick_mu_;            // serialises ticks and start()
  TimePoint last_renewal_{};      // guarded by tick_mu_
  TimePoint last_evaluation_{};   // guarded by tick_mu_
  RolloutStandbyStatus work_;     // guarded by tick_mu_; copied to status_ after each tick
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  RolloutStandbyStatus status_;  // guarded by mu_
  std::jthread thread_;          // last: starts after everything above exists
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/rollout/rollout_standby-inl.hpp>
#endif
