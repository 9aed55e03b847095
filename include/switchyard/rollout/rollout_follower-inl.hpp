// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of rollout_follower.hpp.
#pragma once

#include <exception>
#include <utility>

#include <switchyard/core/config.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/rollout/detail/rollout_routing.hpp>
#include <switchyard/rollout/rollout_follower.hpp>

namespace switchyard {

namespace detail::rollout_routing {
/// Whether the registry still shows a final rollout's outcome in Production (the promoted
/// candidate, or the stable version a rollback or abort kept): only then does its table serve.
inline bool outcome_in_production(const ModelRegistry& registry, const RolloutRecord& r) {
  const std::int64_t outcome =
      r.status == RolloutStatus::kPromoted ? r.candidate_version : r.stable_version;
  for (const VersionRef& v : registry.versions(r.model, Stage::kProduction)) {
    if (v->version == outcome) return true;
  }
  return false;
}
}  // namespace detail::rollout_routing

SWITCHYARD_INLINE RolloutFollower::RolloutFollower(Options options) : options_(std::move(options)) {
  if (options_.registry == nullptr || options_.deployment == nullptr) {
    throw InvalidArgument("rollout follower: Options::registry and Options::deployment are required");
  }
  name_ = options_.rollout_name.empty() ? std::string(options_.deployment->model())
                                        : options_.rollout_name;
  if (options_.poll_interval <= std::chrono::milliseconds(0)) {
    throw InvalidArgument("rollout follower of '" + name_ + "': poll_interval must be positive");
  }
  // Each slot holds the alive token while it runs; the destructor waits for it. A slot only wakes
  // the thread: it may run on a registry writer's thread, under the controller's lock.
  auto slot = [this, alive = std::weak_ptr<void>(alive_)](const auto&) {
    if (auto guard = alive.lock()) poke();
  };
  EventHub& hub = options_.registry->events();
  for (auto* signal : {&hub.stage_changed, &hub.rolled_back, &hub.refreshed}) {
    connections_.emplace_back(signal->connect(slot));
  }
  if (options_.binding) connections_.emplace_back(options_.binding->published.connect(slot));
  if (options_.background) {
    thread_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
  }
}

SWITCHYARD_INLINE RolloutFollower::~RolloutFollower() {
  for (auto& c : connections_) c.disconnect();
  std::weak_ptr<void> last = alive_;
  alive_.reset();
  while (!last.expired()) std::this_thread::yield();
  if (thread_.joinable()) {
    thread_.request_stop();
    changed_.notify_all();
    thread_.join();
  }
}

SWITCHYARD_INLINE void RolloutFollower::poke() {
  {
    std::lock_guard lk(mu_);
    poked_ = true;
  }
  changed_.notify_all();
}

SWITCHYARD_INLINE void RolloutFollower::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    (void)sync();
    std::unique_lock lk(mu_);
    changed_.wait_for(lk, options_.poll_interval,
                      [&] { return poked_ || stop.stop_requested(); });
    poked_ = false;
  }
}

SWITCHYARD_INLINE RolloutFollowerStatus RolloutFollower::sync() noexcept {
  std::lock_guard sync_lock(sync_mu_);
  return sync_locked();
}

SWITCHYARD_INLINE RolloutFollowerStatus RolloutFollower::sync_locked() noexcept {
  namespace rr = detail::rollout_routing;
  RolloutFollowerStatus next;
  {
    std::lock_guard lk(mu_);
    next = status_;
  }
  ++next.syncs;
  try {
    std::optional<RolloutRecord> local;
    if (options_.controller && options_.controller->lease()) local = options_.controller->record();
    std::optional<RolloutRecord> stored = options_.registry->store().load_rollout(name_);
    next.has_rollout = stored.has_value();
    next.driven_here = local.has_value();
    next.superseded = false;
    if (stored) {
      next.status = stored->status;
      next.stored_revision = stored->revision;
    }
    if (local) {
      // The local controller publishes (before it writes): its record is what serves here.
      next.applied_revision = local->revision;
      next.weights = local->weights;
    } else if (stored) {
      if (is_final(stored->status) && !rr::outcome_in_production(*options_.registry, *stored)) {
        next.superseded = true;
      } else {
        TrafficRouter& router = options_.deployment->router();
        if (!rr::serves_record(router.policy(), *stored)) {
          rr::publish_record(router, *stored);
          ++next.publishes;
        }
        next.applied_revision = stored->revision;
        next.weights = stored->weights;
      }
    }
    next.error.clear();
  } catch (const std::exception& e) {
    ++next.failures;
    next.error = "rollout follower of '" + name_ + "': " + e.what();
  } catch (...) {
    ++next.failures;
    next.error = "rollout follower of '" + name_ + "': a non-standard exception";
  }
  {
    std::lock_guard lk(mu_);
    status_ = next;
  }
  changed_.notify_all();
  return next;
}

SWITCHYARD_INLINE void RolloutFollower::exclusive(const std::function<void()>& fn) {
  std::lock_guard sync_lock(sync_mu_);
  try {
    fn();
  } catch (...) {
    (void)sync_locked();
    throw;
  }
  (void)sync_locked();
}

SWITCHYARD_INLINE std::int64_t RolloutFollower::applied_revision() const {
  std::lock_guard lk(mu_);
  return status_.applied_revision;
}

SWITCHYARD_INLINE RolloutFollowerStatus RolloutFollower::status() const {
  std::lock_guard lk(mu_);
  return status_;
}

SWITCHYARD_INLINE bool RolloutFollower::wait_until(
    const std::function<bool(const RolloutFollowerStatus&)>& done,
    std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return changed_.wait_for(lk, timeout, [&] { return done(status_); });
}

}  // namespace switchyard
