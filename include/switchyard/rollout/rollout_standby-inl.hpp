// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of rollout_standby.hpp.
#pragma once

#include <exception>
#include <utility>

#include <switchyard/core/config.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/rollout/detail/rollout_routing.hpp>
#include <switchyard/rollout/rollout_standby.hpp>

namespace switchyard {

SWITCHYARD_INLINE std::string_view to_string(StandbyAction a) noexcept {
  switch (a) {
    case StandbyAction::kIdle: return "idle";
    case StandbyAction::kLed: return "led";
    case StandbyAction::kWaiting: return "waiting";
    case StandbyAction::kTookOver: return "took_over";
    case StandbyAction::kLostLease: return "lost_lease";
    case StandbyAction::kFailed: return "failed";
  }
  return "unknown";
}

namespace detail::rollout_routing {
/// Whether a rollout still needs a driver: live, or promoted with its previous version kept
/// until keep_previous_for ends (evaluate() releases it then).
inline bool needs_driver(const RolloutRecord& r, const std::optional<CanaryPlan>& plan) {
  if (!is_final(r.status)) return true;
  return r.status == RolloutStatus::kPromoted && plan && plan->keep_previous_for &&
         previous_kept_by_record(r);
}
}  // namespace detail::rollout_routing

SWITCHYARD_INLINE RolloutStandby::RolloutStandby(Options options) : options_(std::move(options)) {
  if (options_.controller == nullptr || options_.registry == nullptr) {
    throw InvalidArgument("rollout standby: Options::controller and Options::registry are required");
  }
  const std::string& name = options_.controller->rollout_name();
  if (options_.heartbeat <= Duration::zero() || options_.retry_every <= Duration::zero() ||
      (options_.evaluate_every && *options_.evaluate_every <= Duration::zero()) ||
      options_.tick_interval <= std::chrono::milliseconds(0)) {
    throw InvalidArgument("rollout standby of '" + name +
                          "': heartbeat, retry_every, evaluate_every and tick_interval must be "
                          "positive");
  }
  clock_ = options_.clock ? options_.clock : &options_.registry->clock();
  if (options_.background) {
    thread_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
  }
}

SWITCHYARD_INLINE RolloutStandby::~RolloutStandby() {
  if (thread_.joinable()) {
    thread_.request_stop();
    changed_.notify_all();
    thread_.join();
  }
}

SWITCHYARD_INLINE void RolloutStandby::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    (void)tick();
    std::unique_lock lk(mu_);
    changed_.wait_for(lk, options_.tick_interval, [&] { return stop.stop_requested(); });
  }
}

SWITCHYARD_INLINE RolloutAction RolloutStandby::start(const CanaryPlan& plan) {
  std::lock_guard tick_lock(tick_mu_);
  RolloutAction action = RolloutAction::kNone;
  auto go = [&] { action = options_.controller->start(plan); };
  if (options_.follower) {
    options_.follower->exclusive(go);
  } else {
    go();
  }
  last_renewal_ = last_evaluation_ = clock_->now();
  return action;
}

SWITCHYARD_INLINE StandbyAction RolloutStandby::lead(TimePoint now, const RolloutRecord& record) {
  CanaryController& c = *options_.controller;
  if (!detail::rollout_routing::needs_driver(record, c.plan())) return StandbyAction::kIdle;
  try {
    if (now - last_renewal_ >= options_.heartbeat) {
      (void)c.renew_lease();
      last_renewal_ = now;
      ++work_.renewals;
    }
    Duration every = options_.evaluate_every.value_or(Duration::zero());
    if (!options_.evaluate_every) {
      const auto plan = c.plan();
      every = plan ? plan->interval : options_.heartbeat;
    }
    if (now - last_evaluation_ >= every) {
      (void)c.evaluate();
      last_evaluation_ = now;
      ++work_.evaluations;
    }
  } catch (const LeaseHeld& e) {
    // Taken over while this replica was not looking: its controller forgot the rollout.
    work_.holder = e.holder();
    work_.next_attempt_at = e.expires_at() > now ? e.expires_at() : now + options_.retry_every;
    work_.error = e.what();
    return StandbyAction::kLostLease;
  }
  return StandbyAction::kLed;
}

SWITCHYARD_INLINE StandbyAction RolloutStandby::follow(TimePoint now) {
  if (now < work_.next_attempt_at) return StandbyAction::kWaiting;
  CanaryController& c = *options_.controller;
  const auto stored = options_.registry->store().load_rollout(c.rollout_name());
  if (!stored || is_final(stored->status)) {
    work_.next_attempt_at = now + options_.retry_every;
    return StandbyAction::kIdle;
  }
  ++work_.attempts;
  try {
    auto resume = [&] { (void)c.resume_from_store(); };
    if (options_.follower) {
      options_.follower->exclusive(resume);
    } else {
      resume();
    }
  } catch (const LeaseHeld& e) {
    work_.holder = e.holder();
    work_.next_attempt_at = e.expires_at() > now ? e.expires_at() : now + options_.retry_every;
    return StandbyAction::kWaiting;
  }
  ++work_.takeovers;
  work_.last_takeover_at = now;
  work_.holder.clear();
  last_renewal_ = last_evaluation_ = now;
  return StandbyAction::kTookOver;
}

SWITCHYARD_INLINE StandbyAction RolloutStandby::tick() noexcept {
  std::lock_guard tick_lock(tick_mu_);
  StandbyAction action = StandbyAction::kIdle;
  try {
    const TimePoint now = clock_->now();
    const auto lease = options_.controller->lease();
    const auto record = lease ? options_.controller->record() : std::nullopt;
    if (lease && record) {
      action = lead(now, *record);
    } else {
      action = follow(now);
    }
    if (action != StandbyAction::kLostLease) work_.error.clear();
  } catch (const std::exception& e) {
    action = StandbyAction::kFailed;
    work_.error = e.what();
    work_.next_attempt_at = clock_->now() + options_.retry_every;
  } catch (...) {
    action = StandbyAction::kFailed;
    work_.error = "a non-standard exception";
  }
  const auto lease = options_.controller->lease();
  work_.leading = lease.has_value();
  work_.lease_token = lease ? lease->token : 0;
  work_.lease_expires_at = lease ? lease->expires_at : TimePoint{};
  work_.last_action = action;
  {
    std::lock_guard lk(mu_);
    status_ = work_;
  }
  changed_.notify_all();
  return action;
}

SWITCHYARD_INLINE RolloutStandbyStatus RolloutStandby::status() const {
  std::lock_guard lk(mu_);
  return status_;
}

SWITCHYARD_INLINE bool RolloutStandby::wait_until(
    const std::function<bool(const RolloutStandbyStatus&)>& done,
    std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return changed_.wait_for(lk, timeout, [&] { return done(status_); });
}

}  // namespace switchyard
