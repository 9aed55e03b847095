// SPDX-License-Identifier: Apache-2.0
// RolloutFollower: every replica serves the routing table of the rollout its leader drives.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/signals2/connection.hpp>

#include <switchyard/core/config.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/rollout_record.hpp>
#include <switchyard/rollout/canary_controller.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/registry_binding.hpp>

namespace switchyard {

/// What a replica's RolloutFollower serves, as of its last sync. Thread-safety: a value type.
struct RolloutFollowerStatus {
  bool has_rollout = false;  ///< the store holds a rollout for this deployment
  RolloutStatus status = RolloutStatus::kRunning;  ///< the stored rollout's (when has_rollout)
  std::int64_t stored_revision = 0;  ///< the record's revision (its routing generation) last read
  /// The generation this replica serves: the revision of the record whose table its Deployment
  /// holds (0: none yet). Equal on every replica once they have caught up.
  std::int64_t applied_revision = 0;
  std::map<std::string, double> weights;  ///< the applied record's arms, in percent
  /// This replica's own controller holds the lease and publishes itself; the follower only reads.
  bool driven_here = false;
  /// The rollout is final and the registry has moved on since (its outcome version is no longer
  /// in Production): the RegistryBinding's table serves, the record's is not applied.
  bool superseded = false;
  std::uint64_t syncs = 0;      ///< records read
  std::uint64_t publishes = 0;  ///< tables published by this follower
  std::uint64_t failures = 0;   ///< syncs that failed (read or publish); the old table serves
  std::string error;            ///< the last failure (empty after a success)
};

/// Makes a replica serve the routing of the rollout that one controller somewhere in the fleet
/// drives: it reads the deployment's RolloutRecord from the shared store and, when this
/// replica's Deployment does not already hold the table that record calls for, publishes it,
/// built by the same code the CanaryController publishes with (detail/rollout_routing.hpp): the
/// same arms ("stable", "canary"; "previous" after a promotion), versions, percentages and
/// fallback, with the routing mode, hash and seed the deployment already had. Replicas whose
/// deployments were configured alike (a RegistryBinding with the same base policy) therefore give
/// every key the same variant.
///
/// Generations: the record's `revision` grows with every write; applied_revision() is the one
/// this replica serves. A sync is level-triggered (it compares the table with the record), so a
/// publish by someone else in between (a RegistryBinding following a promotion before the
/// record's table) is corrected by the next sync: a promoted or rolled-back rollout ends with
/// the leader's table on every replica. A final record whose outcome the registry no longer shows
/// in Production (a later manual rollback) is `superseded`: the follower leaves serving to the
/// binding.
///
/// The leader: while Options::controller (this replica's own controller) holds the lease, it
/// publishes and the follower only reports its generation. Start or resume the local controller
/// inside exclusive() (RolloutStandby does), so no follower publish can interleave with it.
///
/// Timing: the background thread syncs every poll_interval (one read of one row; on PostgreSQL
/// one round trip) and at once after each registry refresh, transition or binding publish; a
/// step on the leader is served here within about one poll_interval.
///
/// Thread-safe: every member may be called concurrently; syncs are serialised. Neither copyable
/// nor movable. The registry, deployment, controller and binding must outlive it; destroy it
/// first (it joins its thread within about one poll_interval).
///
/// @code
/// switchyard::RolloutFollower rollout({.registry = &registry, .deployment = &fraud,
///                                      .controller = &canary, .binding = &binding});
/// rollout.status().applied_revision;  // the routing generation this replica serves
/// @endcode
class RolloutFollower {
 public:
  struct Options {
    ModelRegistry* registry = nullptr;  ///< required; its store holds the rollout record
    Deployment* deployment = nullptr;   ///< required; its router gets the rollout's table
    /// The rollout's key in the store. Empty: the deployment's model name (as the controller's).
    std::string rollout_name{};
    /// This replica's controller, if it has one: while it holds the lease, it publishes.
    const CanaryController* controller = nullptr;
    /// The deployment's RegistryBinding, if any: a sync follows each of its publishes at once.
    RegistryBinding* binding = nullptr;
    /// How often the background thread reads the record. Default 50 ms.
    std::chrono::milliseconds poll_interval{50};
    /// Run the background thread. False: the host calls sync() (tests do).
    bool background = true;
  };

  /// Throws InvalidArgument for a missing registry or deployment or a non-positive interval.
  SWITCHYARD_API explicit RolloutFollower(Options options);
  SWITCHYARD_API ~RolloutFollower();
  RolloutFollower(const RolloutFollower&) = delete;
  RolloutFollower& operator=(const RolloutFollower&) = delete;

  /// Reads the record and publishes its table if this replica does not serve it yet. Never
  /// throws: a failure keeps the old table and is counted in the status.
  SWITCHYARD_API RolloutFollowerStatus sync() noexcept;
  /// The routing generation (record revision) this replica serves; 0 before any.
  SWITCHYARD_API std::int64_t applied_revision() const;
  SWITCHYARD_API RolloutFollowerStatus status() const;
  /// Blocks until `done(status())` holds after a sync (or holds now) or `timeout` passes.
  SWITCHYARD_API bool wait_until(const std::function<bool(const RolloutFollowerStatus&)>& done,
                                 std::chrono::milliseconds timeout) const;
  /// Runs `fn` while no sync can publish (for starting or resuming the local controller), then
  /// syncs. What `fn` throws propagates.
  SWITCHYARD_API void exclusive(const std::function<void()>& fn);
  /// The key the follower reads.
  const std::string& rollout_name() const noexcept { return name_; }

 private:
  RolloutFollowerStatus sync_locked() noexcept;  // requires sync_mu_
  void poke();
  void run(std::stop_token stop);

  Options options_;
  std::string name_;
  std::mutex sync_mu_;  // serialises syncs and exclusive()
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // a sync finished, or a poke / stop
  RolloutFollowerStatus status_;             // guarded by mu_
  bool poked_ = false;                       // guarded by mu_
  std::shared_ptr<void> alive_ = std::make_shared<int>(0);  // held by slots while they run
  std::vector<boost::signals2::scoped_connection> connections_;
  std::jthread thread_;  // last: starts after everything above exists
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/rollout/rollout_follower-inl.hpp>
#endif
