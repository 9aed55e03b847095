// SPDX-License-Identifier: Apache-2.0
// RoutingPolicy: how a deployment splits requests between versions of one model.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/error.hpp>

namespace switchyard {

/// One arm of a deployment: a registered version and its share of traffic.
struct VariantSpec {
  std::string name;           ///< "control", "canary", "blue"... unique within a policy
  std::int64_t version = 0;   ///< registry version number
  double weight = 0.0;        ///< relative share, or percent (see RoutingPolicy::weight_style)
};

/// A named weight, as validate_weights() reads it.
struct NamedWeight {
  std::string_view name;
  double weight = 0.0;
};

/// The one weight validation of Switchyard (routing policies, experiments, canary steps): every
/// weight finite and non-negative, their sum positive and finite. `where` prefixes each message
/// ("routing policy of model 'x': "). Throws InvalidArgument naming the arm; returns the sum.
inline double validate_weights(std::span<const NamedWeight> weights, std::string_view where) {
  double sum = 0.0;
  for (const auto& w : weights) {
    if (!std::isfinite(w.weight)) {
      throw InvalidArgument(std::string(where) + "variant '" + std::string(w.name) +
                            "' weight is not a finite number");
    }
    if (w.weight < 0) {
      throw InvalidArgument(std::string(where) + "variant '" + std::string(w.name) + "' weight " +
                            std::to_string(w.weight) + " is negative");
    }
    sum += w.weight;
  }
  if (!(sum > 0)) throw InvalidArgument(std::string(where) + "weights add up to 0");
  if (!std::isfinite(sum)) {
    throw InvalidArgument(std::string(where) +
                          "weights add up to more than the largest double; scale them down");
  }
  return sum;
}

/// Sends requests whose attribute `attribute` equals one of `values` to `variant` (e.g.
/// country == "DE" goes to "treatment"). Rules are tried in order; the first match wins.
struct SegmentRule {
  std::string attribute;
  std::vector<std::string> values;
  std::string variant;
};

/// How a request's key picks an arm.
enum class RoutingMode : std::uint8_t {
  kSticky,  ///< hash of the caller's key: the same key gets the same arm while weights hold
  kRandom,  ///< weighted random per request (no stickiness; the key is ignored)
};

/// Which hash turns a key into a position in [0, 1) (see bucketing.hpp for each definition).
/// Changing the scheme of a running policy moves keys between arms; values are stable across
/// releases (a stored policy keeps its meaning).
enum class HashScheme : std::uint8_t {
  kDefault,       ///< Switchyard's stable 64-bit hash of (seed, key): XXH64 (bucketing::hash64)
  kGrowthBookV1,  ///< GrowthBook hash version 1 with its bucket ranges (and coverage)
  kGrowthBookV2,  ///< GrowthBook hash version 2 with its bucket ranges (and coverage)
  /// Unleash's variant hash (murmur3, seed 86028157) over the UTF-8 bytes of groupId:key, as
  /// Unleash's Rust core (Yggdrasil) computes it; agrees with kUnleashNode on ASCII keys.
  kUnleash,
  /// Unleash's variant hash as unleash-client-node computes it: murmur3 over the low byte of each
  /// UTF-16 code unit of groupId:key (bucketing::UnleashSdk::kNode). Differs from kUnleash only on
  /// non-ASCII keys or group ids; choose it to keep assignments made by the Node SDK.
  kUnleashNode,
  /// XXH3-64 of (seed, key) (bucketing::hash64_xxh3): about twice as fast as kDefault on short
  /// keys, with the same threshold split, but every key gets a new position, so switching an
  /// existing policy to or from it reassigns about half of the keys of a two-arm split.
  kXxh3,
};

/// How weights are read.
enum class WeightStyle : std::uint8_t {
  kRelative,  ///< any non-negative weights with a positive sum, used in proportion
  kPercent,   ///< percentages that must add up to 100 (within 1e-9), unless normalize is set
};

/// A deployment's routing configuration. Precedence for one request: an explicitly pinned
/// version, then a per-key override, then the first matching segment rule, then the weighted split.
/// Validated as a whole by TrafficRouter::set_policy (InvalidArgument naming the field).
/// Thread-safety: a value type; the router copies it into an immutable table, so the caller may
/// change or destroy its own copy at once.
struct RoutingPolicy {
  std::vector<VariantSpec> variants;
  RoutingMode mode = RoutingMode::kSticky;
  HashScheme hash = HashScheme::kDefault;
  WeightStyle weight_style = WeightStyle::kRelative;
  /// With kPercent: scale weights that do not add up to 100 instead of rejecting them.
  bool normalize = false;
  /// Salt of the sticky hash (GrowthBook's experiment seed, Unleash's groupId). Empty: the model
  /// name. Changing it reshuffles every key.
  std::string seed;
  /// GrowthBook schemes only: fraction of keys in the experiment; the rest get the fallback arm.
  double coverage = 1.0;
  /// Key -> variant name: allow lists, QA users, feature flags for model selection.
  std::map<std::string, std::string, std::less<>> overrides;
  std::vector<SegmentRule> segments;
  /// Arm that answers when the routed arm's model fails, and for keys outside coverage. Empty:
  /// the first variant. Set it to "" and disable with fallback_on_error = false to fail instead.
  std::string fallback_variant;
  bool fallback_on_error = true;
  /// Versions loaded only so callers can pin them (seed 002's "force a specific version").
  std::vector<std::int64_t> pinnable_versions;

  /// Blue/green: two arms named "blue" and "green", all traffic on `active` ("blue" or "green");
  /// both stay loaded, so switching back is one publish.
  static RoutingPolicy blue_green(std::int64_t blue_version, std::int64_t green_version,
                                  std::string_view active = "blue");
  /// A single arm taking all traffic.
  static RoutingPolicy single(std::int64_t version, std::string name = "primary");
};

inline RoutingPolicy RoutingPolicy::blue_green(std::int64_t blue_version,
                                               std::int64_t green_version,
                                               std::string_view active) {
  RoutingPolicy p;
  p.variants = {{"blue", blue_version, active == "blue" ? 1.0 : 0.0},
                {"green", green_version, active == "green" ? 1.0 : 0.0}};
  p.fallback_variant = std::string(active == "green" ? "blue" : "green");
  return p;
}

inline RoutingPolicy RoutingPolicy::single(std::int64_t version, std::string name) {
  RoutingPolicy p;
  p.variants = {{std::move(name), version, 1.0}};
  return p;
}

}  // namespace switchyard
