// SPDX-License-Identifier: Apache-2.0
// Rollout leases: taking, checking (fencing) and releasing the right to drive one deployment.
#pragma once

#include <string>
#include <string_view>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/registry/registry_store.hpp>
#include <switchyard/registry/rollout_record.hpp>

namespace switchyard {

namespace detail::registry {
inline std::string lease_text(const RolloutLease& l) {
  return "'" + l.owner + "' (token " + std::to_string(l.token) + ", until " +
         std::to_string(to_unix_nanos(l.expires_at)) + " ns)";
}
}  // namespace detail::registry

/// Inside `tx`: takes or renews the lease on `deployment` for `owner` until `now + ttl`. A lease
/// of another owner that has not expired at `now` throws LeaseHeld naming its holder. A new
/// holder gets the previous token + 1 (1 for the first), so tokens only grow; the same owner
/// renewing keeps its token. Thread-safety: as RegistryTransaction (the caller's thread).
inline RolloutLease acquire_rollout_lease(RegistryTransaction& tx, std::string_view deployment,
                                          std::string_view owner, TimePoint now, Duration ttl) {
  if (owner.empty()) throw InvalidArgument("rollout lease of '" + std::string(deployment) +
                                           "': the owner is empty");
  if (ttl <= Duration::zero()) {
    throw InvalidArgument("rollout lease of '" + std::string(deployment) +
                          "': the time to live must be positive");
  }
  RolloutLease next{std::string(deployment), std::string(owner), now + ttl, 1};
  if (auto held = tx.find_lease(deployment)) {
    if (held->owner != owner && held->expires_at > now) {
      throw LeaseHeld("deployment '" + std::string(deployment) + "' is driven by controller " +
                          detail::registry::lease_text(*held) + "; '" + std::string(owner) +
                          "' cannot take it before the lease expires or is released",
                      held->owner, held->expires_at);
    }
    next.token = held->owner == owner ? held->token : held->token + 1;
  }
  tx.put_lease(next);
  return next;
}

/// acquire_rollout_lease() in a transaction of its own, committed before it returns.
inline RolloutLease acquire_rollout_lease(RegistryStore& store, std::string_view deployment,
                                          std::string_view owner, TimePoint now, Duration ttl) {
  auto tx = store.begin();
  RolloutLease lease = acquire_rollout_lease(*tx, deployment, owner, now, ttl);
  tx->commit();
  return lease;
}

/// Inside `tx`, before a controller writes: throws LeaseHeld unless `lease` is still the stored
/// lease (same owner and token) and has not expired at `now`. Writing only after this check, in
/// the same transaction, is what makes the token a fence: a controller that lost its lease
/// (expired, taken over) writes nothing.
inline void require_rollout_lease(RegistryTransaction& tx, const RolloutLease& lease,
                                  TimePoint now) {
  const auto held = tx.find_lease(lease.deployment);
  if (!held) {
    throw LeaseHeld("deployment '" + lease.deployment + "': controller '" + lease.owner +
                        "' no longer holds a lease (it was released)",
                    "", TimePoint{});
  }
  if (held->owner != lease.owner || held->token != lease.token) {
    throw LeaseHeld("deployment '" + lease.deployment + "' is now driven by controller " +
                        detail::registry::lease_text(*held) + "; '" + lease.owner +
                        "' (token " + std::to_string(lease.token) + ") lost its lease",
                    held->owner, held->expires_at);
  }
  if (held->expires_at <= now) {
    throw LeaseHeld("deployment '" + lease.deployment + "': the lease of controller " +
                        detail::registry::lease_text(*held) + " has expired",
                    held->owner, held->expires_at);
  }
}

/// Inside `tx`, before a controller writes: throws LeaseHeld unless `lease` is still the stored
/// lease (same owner and token; one that expired while nobody took it over is still its
/// holder's), then extends it to `now + ttl` and returns it. What a controller calls on every
/// write, so that a controller whose lease was taken over writes nothing.
inline RolloutLease renew_rollout_lease(RegistryTransaction& tx, const RolloutLease& lease,
                                        TimePoint now, Duration ttl) {
  const auto held = tx.find_lease(lease.deployment);
  if (!held) {
    throw LeaseHeld("deployment '" + lease.deployment + "': controller '" + lease.owner +
                        "' no longer holds a lease (it was released)",
                    "", TimePoint{});
  }
  if (held->owner != lease.owner || held->token != lease.token) {
    throw LeaseHeld("deployment '" + lease.deployment + "' is now driven by controller " +
                        detail::registry::lease_text(*held) + "; '" + lease.owner +
                        "' (token " + std::to_string(lease.token) + ") lost its lease",
                    held->owner, held->expires_at);
  }
  return acquire_rollout_lease(tx, lease.deployment, lease.owner, now, ttl);
}

/// Releases `lease` if it is still the stored one (same owner and token), in a transaction of its
/// own. Returns whether it released anything.
inline bool release_rollout_lease(RegistryStore& store, const RolloutLease& lease) {
  auto tx = store.begin();
  const auto held = tx->find_lease(lease.deployment);
  if (!held || held->owner != lease.owner || held->token != lease.token) return false;
  tx->remove_lease(lease.deployment);
  tx->commit();
  return true;
}

}  // namespace switchyard
