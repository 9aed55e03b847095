// SPDX-License-Identifier: Apache-2.0
// The routing tables a rollout publishes, built in one place for the controller that drives it and
// for every replica that follows it (RolloutFollower): same record, same table, same buckets.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <switchyard/registry/rollout_record.hpp>
#include <switchyard/serving/routing_policy.hpp>
#include <switchyard/serving/traffic_router.hpp>

namespace switchyard {

namespace detail::canary_controller {

inline constexpr const char* kStableArm = "stable";
inline constexpr const char* kCanaryArm = "canary";
inline constexpr const char* kPreviousArm = "previous";

// A new percent-weighted policy that keeps how `current` routes (mode, hash, seed).
inline RoutingPolicy percent_policy_like(const RoutingPolicy& current) {
  RoutingPolicy p;
  p.mode = current.mode;
  p.hash = current.hash;
  p.seed = current.seed;
  p.weight_style = WeightStyle::kPercent;
  return p;
}

}  // namespace detail::canary_controller

namespace detail::rollout_routing {

namespace cc = detail::canary_controller;

/// The shapes of table a rollout publishes.
enum class Shape : std::uint8_t {
  kSplit,     ///< "stable" (fallback) and "canary" at the record's weights
  kPromoted,  ///< the candidate as "stable" at 100 %, the previous version as fallback at 0 %
  kReleased,  ///< the candidate as "stable" alone
};

/// "stable" -> stable version at 100 - `candidate_percent`, "canary" -> candidate. When the router
/// already holds exactly these two arms only the weights change (nothing to load); otherwise a
/// whole policy that keeps the current mode, hash and seed is published (loading first).
inline void publish_split(TrafficRouter& router, std::int64_t stable, std::int64_t candidate,
                          double candidate_percent) {
  const RoutingPolicy current = router.policy();
  bool same_arms = current.variants.size() == 2 && current.weight_style == WeightStyle::kPercent &&
                   current.fallback_variant == cc::kStableArm;
  for (const auto& v : current.variants) {
    same_arms = same_arms && ((v.name == cc::kStableArm && v.version == stable) ||
                              (v.name == cc::kCanaryArm && v.version == candidate));
  }
  if (same_arms) {
    router.set_weights(
        {{cc::kStableArm, 100.0 - candidate_percent}, {cc::kCanaryArm, candidate_percent}});
    return;
  }
  RoutingPolicy p = cc::percent_policy_like(current);
  p.variants = {{cc::kStableArm, stable, 100.0 - candidate_percent},
                {cc::kCanaryArm, candidate, candidate_percent}};
  // A candidate that throws is answered by stable (seed 004).
  p.fallback_variant = cc::kStableArm;
  p.fallback_on_error = true;
  router.set_policy(std::move(p));
}

/// The promoted version serves everything; the previous one stays loaded as the fallback, so
/// switching back is one publish.
inline void publish_promoted(TrafficRouter& router, std::int64_t promoted, std::int64_t previous) {
  RoutingPolicy p = cc::percent_policy_like(router.policy());
  p.variants = {{cc::kStableArm, promoted, 100.0}, {cc::kPreviousArm, previous, 0.0}};
  p.fallback_variant = cc::kPreviousArm;
  p.fallback_on_error = true;
  router.set_policy(std::move(p));
}

/// The previous version leaves the table; the router unloads it once its last request is done.
inline void publish_released(TrafficRouter& router, std::int64_t promoted) {
  RoutingPolicy p = cc::percent_policy_like(router.policy());
  p.variants = {{cc::kStableArm, promoted, 100.0}};
  router.set_policy(std::move(p));
}

/// The candidate's percentage a record's weights give (0 when it names none).
inline double candidate_percent(const RolloutRecord& r) {
  const auto it = r.weights.find(cc::kCanaryArm);
  return it == r.weights.end() ? 0.0 : it->second;
}

/// Whether a promoted record still keeps the previous version for a switch-back, as far as the
/// record tells: until a "release_previous" decision after the promotion.
inline bool previous_kept_by_record(const RolloutRecord& r) {
  for (auto it = r.decisions.rbegin(); it != r.decisions.rend(); ++it) {
    if (it->action == "release_previous") return false;
    if (it->action == "promote") return true;
  }
  return true;
}

/// The shape of table `r` calls for.
inline Shape shape_of(const RolloutRecord& r) {
  if (r.status != RolloutStatus::kPromoted) return Shape::kSplit;
  return previous_kept_by_record(r) ? Shape::kPromoted : Shape::kReleased;
}

/// Whether `current` is already the table `r` calls for (arms, versions, weights, fallback).
inline bool serves_record(const RoutingPolicy& current, const RolloutRecord& r) {
  struct Arm {
    const char* name;
    std::int64_t version;
    double weight;
  };
  std::vector<Arm> want;
  std::string fallback;
  switch (shape_of(r)) {
    case Shape::kSplit: {
      const double c = r.status == RolloutStatus::kRunning || r.status == RolloutStatus::kPaused
                           ? candidate_percent(r)
                           : 0.0;
      want = {{cc::kStableArm, r.stable_version, 100.0 - c},
              {cc::kCanaryArm, r.candidate_version, c}};
      fallback = cc::kStableArm;
      break;
    }
    case Shape::kPromoted:
      want = {{cc::kStableArm, r.candidate_version, 100.0},
              {cc::kPreviousArm, r.stable_version, 0.0}};
      fallback = cc::kPreviousArm;
      break;
    case Shape::kReleased:
      want = {{cc::kStableArm, r.candidate_version, 100.0}};
      break;
  }
  if (current.weight_style != WeightStyle::kPercent || current.fallback_variant != fallback ||
      current.variants.size() != want.size()) {
    return false;
  }
  for (std::size_t i = 0; i < want.size(); ++i) {
    const VariantSpec& v = current.variants[i];
    if (v.name != want[i].name || v.version != want[i].version || v.weight != want[i].weight) {
      return false;
    }
  }
  return true;
}

/// Publishes the table `r` calls for, as the controller that wrote it published it.
inline void publish_record(TrafficRouter& router, const RolloutRecord& r) {
  switch (shape_of(r)) {
    case Shape::kSplit:
      publish_split(router, r.stable_version, r.candidate_version,
                    r.status == RolloutStatus::kRunning || r.status == RolloutStatus::kPaused
                        ? candidate_percent(r)
                        : 0.0);
      break;
    case Shape::kPromoted:
      publish_promoted(router, r.candidate_version, r.stable_version);
      break;
    case Shape::kReleased:
      publish_released(router, r.candidate_version);
      break;
  }
}

}  // namespace detail::rollout_routing

}  // namespace switchyard
