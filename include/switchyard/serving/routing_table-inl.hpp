// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of routing_table.hpp.
#pragma once

#include <cmath>
#include <limits>
#include <random>

#include <switchyard/core/config.hpp>
#include <switchyard/serving/bucketing.hpp>
#include <switchyard/serving/routing_table.hpp>

namespace switchyard {

namespace detail::routing {
// Per-thread generator for kRandom mode: xorshift64*, seeded once per thread.
inline std::uint64_t next_random() noexcept {
  thread_local std::uint64_t state = [] {
    std::random_device rd;
    std::uint64_t s = (std::uint64_t{rd()} << 32) ^ rd();
    return s ? s : 0x9E3779B97F4A7C15ull;
  }();
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}

// Largest-remainder rounding of shares to integers summing to `total`.
inline std::vector<std::uint32_t> apportion(const std::vector<double>& shares, std::uint32_t total) {
  std::vector<std::uint32_t> out(shares.size());
  std::vector<std::pair<double, std::size_t>> rem;
  std::uint32_t used = 0;
  for (std::size_t i = 0; i < shares.size(); ++i) {
    double exact = shares[i] * total;
    out[i] = static_cast<std::uint32_t>(std::floor(exact));
    used += out[i];
    rem.emplace_back(exact - std::floor(exact), i);
  }
  std::stable_sort(rem.begin(), rem.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; used < total && k < rem.size(); ++k, ++used) ++out[rem[k].second];
  return out;
}
}  // namespace detail::routing

SWITCHYARD_INLINE RoutingTable::RoutingTable(std::string_view model_name, RoutingPolicy policy,
                                             std::vector<RoutedVariant> variants,
                                             std::uint64_t generation)
    : model_name_(model_name),
      policy_(std::move(policy)),
      variants_(std::move(variants)),
      generation_(generation),
      seed_(policy_.seed.empty() ? std::string(model_name) : policy_.seed),
      salt_seed_(policy_.hash == HashScheme::kXxh3 ? bucketing::xxh3_salt_seed(seed_)
                                                   : bucketing::HashSalt(seed_).seed()) {
  std::vector<double> shares;
  for (std::size_t i = 0; i < variants_.size(); ++i) {
    if (!variants_[i].in_split) continue;
    split_index_.push_back(static_cast<int>(i));
    shares.push_back(variants_[i].share);
  }
  // Thresholds over the full 64-bit hash range.
  // The last arm with a positive share closes the range, so zero-weight arms after it get nothing.
  std::size_t last_positive = 0;
  for (std::size_t j = 0; j < shares.size(); ++j) {
    if (shares[j] > 0.0) last_positive = j;
  }
  long double cumulative = 0.0L;
  constexpr long double kRange = 18446744073709551616.0L;  // 2^64
  for (std::size_t j = 0; j < shares.size(); ++j) {
    cumulative += shares[j];
    long double t = cumulative * kRange;
    std::uint64_t v = (j >= last_positive || t >= kRange)
                          ? std::numeric_limits<std::uint64_t>::max()
                          : static_cast<std::uint64_t>(t);
    thresholds_.push_back(v);
  }
  if (policy_.hash == HashScheme::kGrowthBookV1 || policy_.hash == HashScheme::kGrowthBookV2) {
    gb_ranges_ = bucketing::growthbook_bucket_ranges(static_cast<int>(shares.size()),
                                                     policy_.coverage, shares);
  }
  if (policy_.hash == HashScheme::kUnleash || policy_.hash == HashScheme::kUnleashNode) {
    // Unleash stores variant weights as integers out of 1000.
    unleash_weights_ = detail::routing::apportion(shares, 1000);
  }
  for (const auto& [key, name] : policy_.overrides) {
    if (const RoutedVariant* v = find_variant(name)) {
      overrides_.emplace(key, static_cast<int>(v - variants_.data()));
    }
  }
  for (const auto& rule : policy_.segments) {
    if (const RoutedVariant* v = find_variant(rule.variant)) {
      segments_.push_back({rule.attribute, rule.values, static_cast<int>(v - variants_.data())});
    }
  }
  if (policy_.fallback_on_error || !policy_.fallback_variant.empty()) {
    const RoutedVariant* fb = policy_.fallback_variant.empty()
                                  ? (variants_.empty() ? nullptr : &variants_.front())
                                  : find_variant(policy_.fallback_variant);
    fallback_ = fb ? static_cast<int>(fb - variants_.data()) : -1;
  }
  plain_sticky_ = (policy_.hash == HashScheme::kDefault || policy_.hash == HashScheme::kXxh3) &&
                  policy_.mode == RoutingMode::kSticky && !split_index_.empty() &&
                  overrides_.empty() && segments_.empty();
}

SWITCHYARD_INLINE const RoutedVariant* RoutingTable::find_version(
    std::int64_t version) const noexcept {
  for (const auto& v : variants_) {
    if (v.version == version) return &v;
  }
  return nullptr;
}

SWITCHYARD_INLINE const RoutedVariant* RoutingTable::find_variant(
    std::string_view name) const noexcept {
  for (const auto& v : variants_) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

SWITCHYARD_INLINE const RoutedVariant* RoutingTable::split(std::string_view key,
                                                           RouteReason& reason) const noexcept {
  reason = RouteReason::kWeighted;
  if (split_index_.empty()) return nullptr;
  switch (policy_.hash) {
    case HashScheme::kGrowthBookV1:
    case HashScheme::kGrowthBookV2: {
      if (policy_.mode == RoutingMode::kSticky) {
        auto n = bucketing::growthbook_hash(seed_, key,
                                            policy_.hash == HashScheme::kGrowthBookV1 ? 1 : 2);
        const int chosen = n ? bucketing::growthbook_choose_variation(*n, gb_ranges_) : -1;
        if (chosen < 0) {
          reason = RouteReason::kOutsideCoverage;
          return fallback();
        }
        return &variants_[static_cast<std::size_t>(split_index_[static_cast<std::size_t>(chosen)])];
      }
      break;
    }
    case HashScheme::kUnleash:
    case HashScheme::kUnleashNode: {
      if (policy_.mode == RoutingMode::kSticky) {
        const auto sdk = policy_.hash == HashScheme::kUnleashNode ? bucketing::UnleashSdk::kNode
                                                                  : bucketing::UnleashSdk::kCore;
        if (auto j = bucketing::unleash_select_variant(key, seed_, unleash_weights_, sdk)) {
          return &variants_[static_cast<std::size_t>(split_index_[*j])];
        }
        return &variants_[static_cast<std::size_t>(split_index_.back())];
      }
      break;
    }
    case HashScheme::kXxh3:
      if (policy_.mode == RoutingMode::kSticky) return pick(bucketing::xxh3_64(key, salt_seed_));
      break;
    case HashScheme::kDefault:
      break;
  }
  const std::uint64_t h = policy_.mode == RoutingMode::kRandom ? detail::routing::next_random()
                                                                : bucketing::xxh64(key, salt_seed_);
  return pick(h);
}

SWITCHYARD_INLINE RouteDecision RoutingTable::route_in_full(
    std::string_view key, std::span<const Attribute> attributes,
    std::optional<std::int64_t> pinned_version) const noexcept {
  RouteDecision d;
  if (pinned_version) {
    d.reason = RouteReason::kPinned;
    d.variant = find_version(*pinned_version);
    if (d.variant == nullptr) d.error = ErrorCode::kNotFound;
    return d;
  }
  if (!overrides_.empty()) {
    if (auto it = overrides_.find(key); it != overrides_.end()) {
      d.reason = RouteReason::kOverride;
      d.variant = &variants_[static_cast<std::size_t>(it->second)];
      return d;
    }
  }
  for (const auto& seg : segments_) {
    for (const auto& a : attributes) {
      if (a.name != seg.attribute) continue;
      for (const auto& v : seg.values) {
        if (a.value == v) {
          d.reason = RouteReason::kSegment;
          d.variant = &variants_[static_cast<std::size_t>(seg.variant)];
          return d;
        }
      }
    }
  }
  d.variant = split(key, d.reason);
  return d;
}

}  // namespace switchyard
