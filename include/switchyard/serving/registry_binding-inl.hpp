// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of registry_binding.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <exception>
#include <memory>
#include <thread>
#include <utility>

#include <switchyard/core/config.hpp>
#include <switchyard/serving/registry_binding.hpp>

namespace switchyard {

namespace detail::binding {
inline void check_percent(double percent, std::string_view model) {
  if (!std::isfinite(percent) || percent < 0.0 || percent > 100.0) {
    throw InvalidArgument("registry binding of model '" + std::string(model) +
                          "': candidate_percent must be in [0, 100], got " +
                          std::to_string(percent));
  }
}
}  // namespace detail::binding

SWITCHYARD_INLINE RegistryBinding::RegistryBinding(Options options)
    : published{detail::GuardedSlots{options.registry ? &options.registry->events() : nullptr,
                                      "binding.published"}},
      sync_failed{detail::GuardedSlots{options.registry ? &options.registry->events() : nullptr,
                                        "binding.sync_failed"}},
      registry_(options.registry),
      deployment_(options.deployment),
      options_(std::move(options)) {
  if (registry_ == nullptr || deployment_ == nullptr) {
    throw InvalidArgument("registry binding: Options::registry and Options::deployment are required");
  }
  const std::string_view model = deployment_->model();
  detail::binding::check_percent(options_.candidate_percent, model);
  if (options_.stable.empty()) {
    throw InvalidArgument("registry binding of model '" + std::string(model) +
                          "': the stable selector is empty");
  }
  if (options_.stable_arm == options_.candidate_arm) {
    throw InvalidArgument("registry binding of model '" + std::string(model) +
                          "': stable and candidate arms are both named '" + options_.stable_arm +
                          "'");
  }
  // Connected before the first publish, so no change can slip between the two. Each slot holds
  // the alive token while it runs; the destructor waits for it.
  auto slot = [this, alive = std::weak_ptr<void>(alive_)](const RegistryEvent& e) {
    if (auto guard = alive.lock()) on_registry_event(e);
  };
  EventHub& hub = registry_->events();
  for (auto* signal : {&hub.stage_changed, &hub.alias_moved, &hub.rolled_back, &hub.refreshed,
                       &hub.version_registered}) {
    connections_.emplace_back(signal->connect(slot));
  }
  detail::MutexLock lk(mu_);
  percent_ = options_.candidate_percent;
  const Target t = resolve(percent_);
  if (t.stable != 0) publish_locked(t);  // throws: nothing published, the binding not made
}

SWITCHYARD_INLINE RegistryBinding::~RegistryBinding() {
  for (auto& c : connections_) c.disconnect();
  // A slot already running on a registry writer's thread holds the token; wait until it is done.
  std::weak_ptr<void> last = alive_;
  alive_.reset();
  while (!last.expired()) std::this_thread::yield();
}

SWITCHYARD_INLINE RegistryBinding::Target RegistryBinding::resolve(double percent) const {
  const std::string model(deployment_->model());
  auto find = [&](const std::string& selector) -> std::int64_t {
    if (selector.empty()) return 0;
    try {
      return registry_->find(model, selector)->version;
    } catch (const NotFound&) {
      return 0;
    }
  };
  Target t;
  t.stable = find(options_.stable);
  t.candidate = find(options_.candidate);
  if (t.candidate == t.stable) t.candidate = 0;
  t.percent = t.candidate != 0 ? percent : 0.0;
  return t;
}

SWITCHYARD_INLINE void RegistryBinding::publish_locked(const Target& t) {
  RoutingPolicy p = options_.base;
  p.weight_style = WeightStyle::kPercent;
  p.normalize = false;
  p.variants = {{options_.stable_arm, t.stable, 100.0 - t.percent}};
  if (t.candidate != 0) p.variants.push_back({options_.candidate_arm, t.candidate, t.percent});
  if (p.fallback_variant.empty()) p.fallback_variant = options_.stable_arm;
  // Availability first: set_policy loads every version before it publishes, and throws (keeping
  // the old table) when a load fails.
  deployment_->router().set_policy(std::move(p));
  current_ = t;
  status_.stable_version = t.stable;
  status_.candidate_version = t.candidate;
  status_.candidate_percent = t.percent;
  status_.ok = true;
  status_.error.clear();
  ++status_.publishes;
  // Keep the newest stable models loaded so a rollback to one of them needs no artifact read.
  if (auto table = deployment_->router().table()) {
    if (const RoutedVariant* arm = table->find_version(t.stable)) {
      const bool kept = std::any_of(kept_.begin(), kept_.end(),
                                    [&](const ModelPtr& m) { return m == arm->model; });
      if (!kept) kept_.push_back(arm->model);
    }
  }
  while (kept_.size() > options_.keep_loaded + 1) kept_.erase(kept_.begin());
}

SWITCHYARD_INLINE BindingStatus RegistryBinding::sync() noexcept {
  BindingStatus out;
  bool changed = false;
  bool failed = false;
  try {
    detail::MutexLock lk(mu_);
    const Target t = resolve(percent_);
    if (t.stable == 0) {
      // Nothing matches the stable selector: keep serving whatever serves now.
      if (current_.stable != 0) {
        status_.ok = false;
        status_.error = "model '" + std::string(deployment_->model()) + "': stable selector '" +
                        options_.stable + "' matches no version; version " +
                        std::to_string(current_.stable) + " keeps serving";
        ++status_.failures;
        failed = true;
      }
    } else if (!(t == current_) || !status_.ok) {
      try {
        publish_locked(t);
        changed = true;
      } catch (const std::exception& e) {
        status_.ok = false;
        status_.error = e.what();
        ++status_.failures;
        failed = true;
      }
    }
    out = status_;
  } catch (...) {
    // Only allocation can fail here; report what we have.
    out.ok = false;
    return out;
  }
  // Emitted outside the lock, so a slot may call status() or sync().
  try {
    if (changed) published(BindingEvent{deployment_->model(), out});
    if (failed) sync_failed(BindingEvent{deployment_->model(), out});
  } catch (...) {
  }
  return out;
}

SWITCHYARD_INLINE void RegistryBinding::set_candidate_percent(double percent) {
  detail::binding::check_percent(percent, deployment_->model());
  BindingStatus out;
  {
    detail::MutexLock lk(mu_);
    const Target t = resolve(percent);
    if (t.stable != 0) publish_locked(t);
    percent_ = percent;
    out = status_;
  }
  published(BindingEvent{deployment_->model(), out});
}

SWITCHYARD_INLINE BindingStatus RegistryBinding::status() const {
  detail::MutexLock lk(mu_);
  return status_;
}

SWITCHYARD_INLINE void RegistryBinding::on_registry_event(const RegistryEvent& e) {
  if (e.kind == RegistryEvent::Kind::kRefreshed || e.model == deployment_->model()) (void)sync();
}

}  // namespace switchyard
