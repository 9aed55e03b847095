// SPDX-License-Identifier: Apache-2.0
// RoutingTable: an immutable, precomputed form of a RoutingPolicy that routes a key in O(1).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <switchyard/core/attribute.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/model.hpp>
#include <switchyard/core/status.hpp>
#include <switchyard/detail/string_hash.hpp>
#include <switchyard/monitoring/version_stats.hpp>
#include <switchyard/serving/bucketing.hpp>
#include <switchyard/serving/routing_policy.hpp>

namespace switchyard {

/// Why a request went where it went.
enum class RouteReason : std::uint8_t {
  kPinned,           ///< the caller asked for this version
  kOverride,         ///< the key is in the policy's overrides
  kSegment,          ///< a segment rule matched the request's attributes
  kWeighted,         ///< the weighted (sticky or random) split
  kOutsideCoverage,  ///< GrowthBook coverage excluded the key; the fallback arm serves it
};

constexpr std::string_view to_string(RouteReason r) noexcept {
  switch (r) {
    case RouteReason::kPinned: return "pinned";
    case RouteReason::kOverride: return "override";
    case RouteReason::kSegment: return "segment";
    case RouteReason::kWeighted: return "weighted";
    case RouteReason::kOutsideCoverage: return "outside_coverage";
  }
  return "unknown";
}

/// One loaded arm of a table. Names are interned by the router and outlive every table.
struct RoutedVariant {
  std::string_view name;
  std::int64_t version = 0;
  ModelPtr model;
  /// Shared by the router and every table holding this arm: alive while either holds it.
  std::shared_ptr<VersionStats> stats;
  double share = 0.0;             ///< fraction of the weighted split, 0 for pinnable-only arms
  bool in_split = false;
};

/// The outcome of routing one request: the arm, or why there is none (kNotFound for an unknown
/// pinned version, kNoActiveModel when nothing serves).
struct RouteDecision {
  const RoutedVariant* variant = nullptr;
  RouteReason reason = RouteReason::kWeighted;
  ErrorCode error = ErrorCode::kNoActiveModel;  ///< meaningful when variant is null
};

/// An immutable routing table, built by TrafficRouter from a validated policy and published
/// atomically. Routing reads only this object: no lock, no allocation.
/// Thread-safe: immutable after construction; all members are const.
class SWITCHYARD_API RoutingTable {
 public:
  /// Builds from a validated policy and the arms' loaded models (same order as policy.variants,
  /// then pinnable-only versions). `model_name` is the interned name of the model.
  RoutingTable(std::string_view model_name, RoutingPolicy policy,
               std::vector<RoutedVariant> variants, std::uint64_t generation);

  /// Routes one request; see RoutingPolicy for precedence. Hot path: no allocation. The common
  /// case (default or XXH3 hash, sticky, no overrides or segments, nothing pinned) is inline.
  RouteDecision route(std::string_view key, std::span<const Attribute> attributes = {},
                      std::optional<std::int64_t> pinned_version = std::nullopt) const noexcept {
    if (plain_sticky_ && !pinned_version) [[likely]] {
      const std::uint64_t h = policy_.hash == HashScheme::kXxh3
                                  ? bucketing::xxh3_64(key, salt_seed_)
                                  : bucketing::xxh64(key, salt_seed_);
      return {pick(h), RouteReason::kWeighted};
    }
    return route_in_full(key, attributes, pinned_version);
  }

  /// The arm the weighted split gives `key` (ignores pins, overrides and segments).
  const RoutedVariant* split(std::string_view key, RouteReason& reason) const noexcept;

  std::span<const RoutedVariant> variants() const noexcept { return variants_; }
  const RoutedVariant* find_version(std::int64_t version) const noexcept;
  const RoutedVariant* find_variant(std::string_view name) const noexcept;
  /// The arm that answers when the routed one fails; null when fallback is disabled.
  const RoutedVariant* fallback() const noexcept {
    return fallback_ < 0 ? nullptr : &variants_[static_cast<std::size_t>(fallback_)];
  }
  const RoutingPolicy& policy() const noexcept { return policy_; }
  std::string_view model_name() const noexcept { return model_name_; }
  /// Increases with every publish of the router that built it.
  std::uint64_t generation() const noexcept { return generation_; }

 private:
  struct Segment {
    std::string attribute;
    std::vector<std::string> values;
    int variant = -1;
  };

  RouteDecision route_in_full(std::string_view key, std::span<const Attribute> attributes,
                              std::optional<std::int64_t> pinned_version) const noexcept;

  // The split arm whose threshold range holds `h`.
  const RoutedVariant* pick(std::uint64_t h) const noexcept {
    std::size_t j = 0;
    const std::size_t n = thresholds_.size();
    while (j + 1 < n && h >= thresholds_[j] && thresholds_[j] != ~std::uint64_t{0}) ++j;
    return &variants_[static_cast<std::size_t>(split_index_[j])];
  }

  std::string_view model_name_;
  RoutingPolicy policy_;
  std::vector<RoutedVariant> variants_;
  std::uint64_t generation_;
  std::string seed_;
  std::uint64_t salt_seed_ = 0;  // XXH64 (kXxh3: XXH3) of seed_, precomputed: hash the key only
  // Weighted split, kDefault/kXxh3/kRandom: arm i takes hashes below thresholds_[i] (cumulative
  // shares scaled to 2^64), in policy order, so moving weight between neighbouring arms moves only
  // the keys between them.
  std::vector<std::uint64_t> thresholds_;
  std::vector<int> split_index_;  // position in thresholds_ -> index in variants_
  // GrowthBook: [start, end) ranges per split arm.
  std::vector<bucketing::BucketRange> gb_ranges_;
  // Unleash: integer weights per split arm, out of 1000 as Unleash stores them.
  std::vector<std::uint32_t> unleash_weights_;
  std::unordered_map<std::string, int, detail::StringHash, std::equal_to<>> overrides_;
  std::vector<Segment> segments_;
  int fallback_ = -1;
  // route() can take its inline path: default or XXH3 hash, sticky, a split, no overrides or
  // segments.
  bool plain_sticky_ = false;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/serving/routing_table-inl.hpp>
#endif
