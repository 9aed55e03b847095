// SPDX-License-Identifier: Apache-2.0
// RegistryBinding: a Deployment that follows the registry (Production, champion, challenger).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/signals2/connection.hpp>

#include <switchyard/core/config.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/core/model.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/routing_policy.hpp>

namespace switchyard {

/// What a binding serves now, and how its last attempt to follow the registry went.
/// Thread-safety: a value type.
struct BindingStatus {
  std::int64_t stable_version = 0;     ///< 0: nothing serves (the stable selector matched nothing)
  std::int64_t candidate_version = 0;  ///< 0: no candidate arm
  double candidate_percent = 0.0;      ///< the candidate's share of the weighted split, percent
  bool ok = true;                      ///< the last sync() published what the registry says
  std::string error;                   ///< why not, naming the model, version and cause
  std::uint64_t publishes = 0;         ///< tables published by this binding
  std::uint64_t failures = 0;          ///< syncs that kept the previous table
};

/// A change a binding published, or one it could not (ok = false, the old table still serves).
struct BindingEvent {
  std::string_view model;
  BindingStatus status;
};

/// Makes a Deployment follow a ModelRegistry, so the registry is the one truth about what serves:
/// the stable arm follows a selector (the Production stage by default, or an alias such as
/// "champion"), the optional candidate arm another (an alias such as "challenger") with a share
/// of traffic. A transition, alias move, rollback, or a ModelRegistry::refresh() that picks up
/// another process's commit republishes the deployment's table before that registry call returns,
/// so `registry.rollback()` is one call that also switches serving.
///
/// Availability first: a new version is loaded before it serves; if its load fails, the previous
/// table keeps serving, status() says why, `sync_failed` fires, and no request is dropped. The
/// last `keep_loaded` stable versions stay loaded, so a rollback to one of them publishes at once
/// instead of reading and verifying its artifact again.
///
/// Thread-safe: every member may be called concurrently; syncs are serialised. Neither copyable
/// nor movable. The registry and the deployment must outlive the binding; destroy the binding
/// first (it disconnects from the registry's signals).
///
/// @code
/// switchyard::Deployment fraud({.model = "fraud-detection", .source = &registry});
/// switchyard::RegistryBinding follow({.registry = &registry, .deployment = &fraud,
///                                     .candidate = "@challenger", .candidate_percent = 10});
/// registry.rollback("fraud-detection", {.actor = "oncall", .reason = "p99 over SLA"});
/// // every request thread now serves the restored version
/// @endcode
class RegistryBinding {
 public:
  struct Options {
    ModelRegistry* registry = nullptr;  ///< required
    Deployment* deployment = nullptr;   ///< required; its model name is the registered name
    /// The stable arm: a ModelRegistry::find() selector ("Production", "@champion", "latest", a
    /// number). When it matches nothing, nothing new is published (an empty deployment stays
    /// empty; a serving one keeps its table and reports it in status()).
    std::string stable = "Production";
    /// The candidate arm's selector (e.g. "@challenger"); empty, or matching nothing or the
    /// stable version: no candidate arm.
    std::string candidate{};
    /// The candidate's share of the weighted split, in percent [0, 100].
    double candidate_percent = 0.0;
    /// Routing settings (mode, hash, seed, overrides, segments, pinnable versions). Its variants
    /// are replaced by the binding's arms; overrides and segments may name them.
    RoutingPolicy base{};
    std::string stable_arm = "stable";       ///< arm names in the table and in statistics
    std::string candidate_arm = "candidate";
    /// Previous stable versions kept loaded (their models held), for an instant rollback.
    std::size_t keep_loaded = 1;
  };

  /// Connects to the registry's signals and publishes what the registry says now. Throws
  /// InvalidArgument for bad options (null pointers, a percent outside [0, 100], arm names), and
  /// what the first load throws (NotFound, LoadError, IntegrityError): nothing is published then.
  SWITCHYARD_API explicit RegistryBinding(Options options);
  SWITCHYARD_API ~RegistryBinding();
  RegistryBinding(const RegistryBinding&) = delete;
  RegistryBinding& operator=(const RegistryBinding&) = delete;

  /// Re-resolves the selectors against the registry's snapshot and republishes if the versions
  /// changed. Never throws: a failure keeps the previous table and is reported in the status.
  SWITCHYARD_API BindingStatus sync() noexcept;
  /// Changes the candidate's share (a canary step) and republishes. Throws InvalidArgument for a
  /// percent outside [0, 100]; LoadError etc. when a load fails (the previous table stays).
  SWITCHYARD_API void set_candidate_percent(double percent);
  /// The current state.
  SWITCHYARD_API BindingStatus status() const;

  /// Fires after each publish of a changed table. Slots of both signals often run on the thread
  /// of a registry write (inside rollback(), transition(), ...), so they must not write to the
  /// registry themselves (its writes are serialised: that would wait on itself).
  EventHub::Signal<BindingEvent> published;
  /// Fires when a sync could not publish what the registry says (the old table still serves).
  EventHub::Signal<BindingEvent> sync_failed;

 private:
  struct Target {
    std::int64_t stable = 0;
    std::int64_t candidate = 0;
    double percent = 0.0;
    bool operator==(const Target&) const = default;
  };
  Target resolve(double percent) const;
  void publish_locked(const Target& t) SWITCHYARD_REQUIRES(mu_);
  void on_registry_event(const RegistryEvent& e);

  ModelRegistry* registry_;
  Deployment* deployment_;
  Options options_;
  mutable detail::Mutex mu_;
  BindingStatus status_ SWITCHYARD_GUARDED_BY(mu_);
  Target current_ SWITCHYARD_GUARDED_BY(mu_);
  double percent_ SWITCHYARD_GUARDED_BY(mu_) = 0.0;
  std::vector<ModelPtr> kept_ SWITCHYARD_GUARDED_BY(mu_);  // recent stable models, newest last
  std::shared_ptr<void> alive_ = std::make_shared<int>(0);  // held by slots while they run
  std::vector<boost::signals2::scoped_connection> connections_;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/serving/registry_binding-inl.hpp>
#endif
