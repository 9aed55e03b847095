// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of registry_follower.hpp.
#pragma once

#include <algorithm>
#include <exception>
#include <utility>

#include <switchyard/core/config.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/monitoring/detail/prometheus_format.hpp>
#include <switchyard/serving/registry_follower.hpp>

namespace switchyard {

SWITCHYARD_INLINE std::chrono::milliseconds follower_backoff(
    std::uint64_t consecutive_failures, std::chrono::milliseconds initial,
    std::chrono::milliseconds max) noexcept {
  if (consecutive_failures == 0) return std::chrono::milliseconds(0);
  auto wait = initial;
  for (std::uint64_t i = 1; i < consecutive_failures && wait < max; ++i) wait *= 2;
  return std::min(wait, max);
}

SWITCHYARD_INLINE RegistryFollower::RegistryFollower(Options options)
    : registry_(options.registry), options_(std::move(options)) {
  if (registry_ == nullptr)
    throw InvalidArgument("registry follower: Options::registry is required");
  using std::chrono::milliseconds;
  if (options_.wait_slice <= milliseconds(0) || options_.backoff_initial <= milliseconds(0) ||
      options_.backoff_max < options_.backoff_initial) {
    throw InvalidArgument(
        "registry follower of " + registry_->store().describe() +
        ": wait_slice and backoff_initial must be positive and backoff_max at least "
        "backoff_initial");
  }
  clock_ = options_.clock ? options_.clock : &registry_->clock();
  store_label_ = registry_->store().describe();
  status_.last_success = clock_->now();  // the registry loaded its snapshot when it was built
  thread_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
}

SWITCHYARD_INLINE RegistryFollower::~RegistryFollower() {
  thread_.request_stop();
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

SWITCHYARD_INLINE void RegistryFollower::run(std::stop_token stop) {
  attempt();  // catch up with whatever was committed since the registry loaded
  while (!stop.stop_requested()) {
    wait_for_next(stop);
    if (stop.stop_requested()) break;
    attempt();
  }
}

SWITCHYARD_INLINE void RegistryFollower::wait_for_next(const std::stop_token& stop) {
  std::unique_lock lk(mu_);
  const auto wake = [&] { return stopping_ || retry_now_ || stop.stop_requested(); };
  if (status_.consecutive_failures > 0) {
    // Backing off: the store's wait would return at once (it is down), so wait here.
    changed_.wait_for(lk, status_.retry_in, wake);
  } else if (options_.wait_for_change) {
    lk.unlock();
    try {
      (void)options_.wait_for_change(options_.wait_slice);
    } catch (...) {
      // A wait that throws is a store in trouble; the refresh that follows reports it.
    }
    lk.lock();
  } else {
    changed_.wait_for(lk, options_.wait_slice, wake);
  }
  retry_now_ = false;
}

SWITCHYARD_INLINE void RegistryFollower::attempt() {
  bool was_failing = false;
  {
    std::lock_guard lk(mu_);
    was_failing = status_.consecutive_failures > 0;
  }
  bool changed = false;
  std::string error;
  try {
    if (was_failing) {
      // A failed refresh may have consumed the store's change signal before its read failed:
      // re-read everything rather than trust it.
      registry_->reload();
      changed = true;
    } else {
      changed = registry_->refresh();
    }
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "refresh failed";
  } catch (...) {
    error = "refresh failed with a non-standard exception";
  }
  {
    std::lock_guard lk(mu_);
    ++status_.attempts;
    if (error.empty()) {
      status_.reachable = true;
      status_.last_success = clock_->now();
      status_.consecutive_failures = 0;
      status_.retry_in = std::chrono::milliseconds(0);
      status_.error.clear();
      if (changed) ++status_.changes;
    } else {
      status_.reachable = false;
      ++status_.failures;
      ++status_.consecutive_failures;
      status_.retry_in = follower_backoff(status_.consecutive_failures, options_.backoff_initial,
                                          options_.backoff_max);
      status_.error = std::move(error);
    }
  }
  changed_.notify_all();
}

SWITCHYARD_INLINE FollowerStatus RegistryFollower::status_locked() const {
  FollowerStatus out = status_;
  const auto age = clock_->now() - status_.last_success;
  out.staleness_seconds = std::max(0.0, std::chrono::duration<double>(age).count());
  return out;
}

SWITCHYARD_INLINE FollowerStatus RegistryFollower::status() const {
  std::lock_guard lk(mu_);
  return status_locked();
}

SWITCHYARD_INLINE bool RegistryFollower::wait_until(
    const std::function<bool(const FollowerStatus&)>& done,
    std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return changed_.wait_for(lk, timeout, [&] { return done(status_locked()); });
}

SWITCHYARD_INLINE void RegistryFollower::retry_now() {
  {
    std::lock_guard lk(mu_);
    retry_now_ = true;
  }
  changed_.notify_all();
}

SWITCHYARD_INLINE std::string RegistryFollower::to_prometheus() const {
  using namespace detail::exposition;
  const FollowerStatus s = status();
  const std::string labels = "store=\"" + label_value(store_label_) + "\"";
  std::string out;
  append_family(out, "switchyard_registry_staleness_seconds", "gauge",
                "Seconds since this replica last refreshed its registry from the shared store.");
  append_sample(out, "switchyard_registry_staleness_seconds", labels, s.staleness_seconds);
  append_family(out, "switchyard_registry_reachable", "gauge",
                "1 when the last refresh reached the shared store, 0 when it failed.");
  append_sample(out, "switchyard_registry_reachable", labels, s.reachable ? 1.0 : 0.0);
  append_family(out, "switchyard_registry_refresh_attempts_total", "counter",
                "Refreshes of the registry from the shared store attempted by the follower.");
  append_sample(out, "switchyard_registry_refresh_attempts_total", labels, double(s.attempts));
  append_family(out, "switchyard_registry_refresh_failures_total", "counter",
                "Refreshes of the registry from the shared store that failed.");
  append_sample(out, "switchyard_registry_refresh_failures_total", labels, double(s.failures));
  return out;
}

}  // namespace switchyard
