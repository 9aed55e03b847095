// SPDX-License-Identifier: Apache-2.0
// Bucketing hashes for the traffic router: Switchyard's default scheme, GrowthBook's and Unleash's.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <switchyard/core/error.hpp>

// xxHash (Debian: libxxhash-dev; vcpkg: xxhash; Conan: xxhash/0.8.x), compiled into each user as
// static inline functions: nothing to link, and the calls inline into the routing hot path.
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#define SWITCHYARD_DEFINED_XXH_INLINE_ALL
#endif
#include <xxhash.h>
#ifdef SWITCHYARD_DEFINED_XXH_INLINE_ALL
#undef XXH_INLINE_ALL
#undef SWITCHYARD_DEFINED_XXH_INLINE_ALL
#endif

/// Pure functions that turn a caller's key (user id, session id) into a position, and a position
/// into a variant. These schemes, each stable across platforms, compilers and Switchyard releases:
///
/// - Switchyard's default: XXH64 (the published xxHash 64-bit algorithm, seeded with the XXH64 of
///   a salt string) mapped to [0, 1) or to a bucket. Fast (a few ns for a 16-byte key) and well
///   mixed; use it unless assignments must agree with another tool.
/// - Switchyard's XXH3 variant: XXH3-64 seeded with the XXH3-64 of the salt. About twice as fast
///   as XXH64 on short keys (benchmarks/serving_bench.cpp), but it assigns keys differently, so
///   it is a separate, opt-in scheme and never replaces the default under a running experiment.
/// - GrowthBook: hash versions 1 and 2, bucket ranges, variation choice and namespaces, exactly as
///   GrowthBook's JavaScript SDK computes them, so a service can take over an experiment that
///   GrowthBook assigned without moving any user.
/// - Unleash: murmur3 x86 32-bit normalised values for gradual rollouts and the weighted variant
///   choice, as the Unleash client specification defines them. Unleash's SDKs disagree on keys
///   that are not ASCII; UnleashSdk names the two behaviours (UTF-8 bytes as Unleash's Rust core
///   hashes them, or what unleash-client-node hashes).
///
/// Both xxHash schemes call libxxhash (XXH64, XXH3_64bits_withSeed), inlined. Keys are UTF-8.
/// Nothing on the request path allocates; only the functions returning vectors do.
/// Thread-safety: every function is pure and may be called concurrently from any thread.
///
/// @code
///   using namespace switchyard::bucketing;
///   const HashSalt salt("fraud-detection/canary-7");   // once, when the routing table is built
///   const double u = unit_interval(hash64(salt, user_id));  // per request, no allocation
///   const bool to_canary = u < 0.05;                      // 5% of keys, the same ones every time
/// @endcode
namespace switchyard::bucketing {

// ---------------------------------------------------------------------------------------------
// Switchyard's default hash: XXH64.

/// XXH64 of `data` with a 64-bit seed: libxxhash's XXH64(), the algorithm xxHash specifies in
/// doc/xxhash_spec.md. The same value on every platform. Never throws.
inline std::uint64_t xxh64(std::string_view data, std::uint64_t seed = 0) noexcept {
  return XXH64(data.data(), data.size(), seed);
}

/// XXH3-64 of `data` with a 64-bit seed: libxxhash's XXH3_64bits_withSeed() (stable output since
/// xxHash 0.8.0). The same value on every platform. Never throws.
inline std::uint64_t xxh3_64(std::string_view data, std::uint64_t seed = 0) noexcept {
  return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

/// A salt string reduced once to the 64-bit seed used by hash64: the XXH64 (seed 0) of its bytes.
/// Build it when a routing table is built, then hash each request's key with it. Two different
/// salts give independent assignments. Thread-safe: an immutable value type.
class HashSalt {
 public:
  constexpr HashSalt() noexcept = default;  ///< the empty salt ""
  explicit HashSalt(std::string_view salt) noexcept : seed_(xxh64(salt, 0)) {}
  /// The 64-bit XXH64 seed this salt stands for.
  constexpr std::uint64_t seed() const noexcept { return seed_; }
  friend constexpr bool operator==(const HashSalt&, const HashSalt&) = default;

 private:
  std::uint64_t seed_ = 0xEF46DB3751D8E999ULL;  // xxh64("", 0)
};

/// Switchyard's default 64-bit bucketing hash: XXH64(key, seed = XXH64(salt, 0)). Documented here
/// so it can be reproduced anywhere (e.g. Python's `xxhash.xxh64(key,
/// seed=xxh64(salt).intdigest())`) and never changes between releases. No allocation, never throws.
inline std::uint64_t hash64(const HashSalt& salt, std::string_view key) noexcept {
  return xxh64(key, salt.seed());
}

/// hash64 with the salt given as a string; equal to hash64(HashSalt(salt), key). Costs one more
/// short hash than the HashSalt form, which hot paths should prefer.
inline std::uint64_t hash64(std::string_view salt, std::string_view key) noexcept {
  return xxh64(key, xxh64(salt, 0));
}

/// The seed hash64_xxh3 derives from a salt: XXH3-64 (seed 0) of its bytes. Compute it once,
/// when a routing table is built.
inline std::uint64_t xxh3_salt_seed(std::string_view salt) noexcept { return xxh3_64(salt, 0); }

/// Switchyard's opt-in XXH3 bucketing hash (HashScheme::kXxh3): XXH3-64(key, seed =
/// XXH3-64(salt, 0)), reproducible e.g. with Python's `xxhash.xxh3_64_intdigest(key,
/// seed=xxhash.xxh3_64_intdigest(salt))`. Faster than hash64 on short keys but a different
/// assignment: switching a running experiment between the two moves about half of its keys.
/// No allocation, never throws.
inline std::uint64_t hash64_xxh3(std::string_view salt, std::string_view key) noexcept {
  return xxh3_64(key, xxh3_salt_seed(salt));
}

/// The top 53 bits of `hash` as a double uniform in [0, 1): multiples of 2^-53, 0 included, 1
/// excluded. Exact (no rounding), so comparisons against weights are reproducible.
constexpr double unit_interval(std::uint64_t hash) noexcept {
  return static_cast<double>(hash >> 11) * 0x1.0p-53;
}

/// The top 32 bits of `hash`, a bucket uniform in [0, 2^32).
constexpr std::uint32_t bucket32(std::uint64_t hash) noexcept {
  return static_cast<std::uint32_t>(hash >> 32);
}

/// A bucket in [0, num_buckets) from the top 32 bits of `hash` by multiply-shift (no modulo):
/// bucket b holds the hashes whose top bits lie in [b, b + 1) * 2^32 / num_buckets, so neighbouring
/// buckets are neighbouring ranges. Returns 0 when num_buckets is 0.
constexpr std::uint32_t bucket_index(std::uint64_t hash, std::uint32_t num_buckets) noexcept {
  return static_cast<std::uint32_t>((hash >> 32) * num_buckets >> 32);
}

// ---------------------------------------------------------------------------------------------
// GrowthBook (JavaScript SDK, packages/sdk-js/src/util.ts).

/// A half-open interval [start, end) of the unit line that assigns a variation; GrowthBook's
/// VariationRange. A range with end <= start holds nothing. Thread-safe: a value type.
struct BucketRange {
  double start = 0.0;
  double end = 0.0;

  /// True when start <= n < end (false for NaN).
  constexpr bool contains(double n) const noexcept { return n >= start && n < end; }
  friend constexpr bool operator==(const BucketRange&, const BucketRange&) = default;
};

/// 32-bit FNV-1a (offset basis 0x811c9dc5, prime 16777619) over the UTF-16 code units of a UTF-8
/// string, as GrowthBook's hashFnv32a does over a JavaScript string: characters outside the BMP
/// count as their two surrogates. Ill-formed UTF-8 is decoded as the WHATWG Encoding Standard's
/// TextDecoder does (each maximal ill-formed subsequence becomes U+FFFD), which is what a
/// JavaScript host would have hashed had it received the same bytes. No allocation.
constexpr std::uint32_t growthbook_fnv1a32(std::string_view utf8) noexcept;

/// GrowthBook's hash(seed, value, version): a number in [0, 1) that places `value` (the hash
/// attribute, e.g. a user id) for an experiment whose seed (usually its key) is `seed`.
/// - version 2: (fnv(str(fnv(seed + value))) % 10000) / 10000, the unbiased default of new
///   experiments;
/// - version 1: (fnv(value + seed) % 1000) / 1000, kept by GrowthBook for old experiments.
/// Returns nullopt for any other version, where GrowthBook returns null. No allocation; never
/// throws.
constexpr std::optional<double> growthbook_hash(std::string_view seed, std::string_view value,
                                                int version) noexcept;

/// GrowthBook's getEqualWeights(n): n copies of 1/n; empty when n <= 0. Throws std::bad_alloc only.
inline std::vector<double> growthbook_equal_weights(int num_variations);

/// GrowthBook's getBucketRanges(numVariations, coverage, weights): one BucketRange per variation,
/// variation i starting at the sum of the weights before it and covering coverage * weight_i.
/// As GrowthBook does: coverage is clamped to [0, 1]; weights that are empty, of another length
/// than num_variations, or whose sum lies outside [0.99, 1.01] are replaced by equal weights;
/// num_variations <= 0 gives no ranges. Each product coverage * weight is rounded before it is
/// added, as in JavaScript, so the bounds are bit-identical to the SDK's.
/// Throws InvalidArgument where GrowthBook would silently produce NaN bounds: a NaN coverage, or
/// a NaN or infinite weight.
inline std::vector<BucketRange> growthbook_bucket_ranges(int num_variations, double coverage = 1.0,
                                                         std::span<const double> weights = {});

/// GrowthBook's chooseVariation(n, ranges): the index of the first range containing n, or -1 when
/// none does (the key is outside the experiment's coverage). Never throws.
constexpr int growthbook_choose_variation(double n, std::span<const BucketRange> ranges) noexcept {
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].contains(n)) return static_cast<int>(i);
  }
  return -1;
}

/// GrowthBook's inNamespace(hashValue, [namespace_id, start, end]): whether the version-1 hash of
/// `hash_value` with seed "__" + namespace_id lies in [start, end). Mutually exclusive
/// experiments share a namespace id and take disjoint [start, end) slices of it. No allocation.
constexpr bool growthbook_in_namespace(std::string_view hash_value, std::string_view namespace_id,
                                       double start, double end) noexcept;

// ---------------------------------------------------------------------------------------------
// Unleash (client specification; unleash-client-node src/strategy/util.ts and src/variant.ts).

/// Which Unleash SDK's hashing to reproduce. Unleash's SDKs agree on keys and group ids that are
/// ASCII and disagree on any other character; pick the SDK whose assignments must be kept.
/// Thread-safety: a value type.
enum class UnleashSdk : std::uint8_t {
  /// The UTF-8 bytes of "group:id", as Unleash's Rust evaluation core, Yggdrasil, hashes them
  /// (unleash-yggdrasil src/strategy_parsing.rs, normalized_hash) for the SDKs built on it.
  kCore,
  /// unleash-client-node (src/strategy/util.ts, through murmurhash3js 3.0.1): the JavaScript
  /// string's UTF-16 code units, each cut to its low 8 bits, with the number of code units as the
  /// length. "ø" (U+00F8) hashes as the byte 0xF8, "你" (U+4F60) as 0x60, "😊" (two surrogates,
  /// U+D83D U+DE0A) as 0x3D 0x0A; different characters can therefore collide.
  kNode,
};

/// MurmurHash3 x86 32-bit (Austin Appleby's MurmurHash3_x86_32) of the bytes of `data`, as
/// UnleashSdk::kCore hashes. No allocation; never throws.
constexpr std::uint32_t murmur3_32(std::string_view data, std::uint32_t seed = 0) noexcept;

/// murmurhash3js's x86.hash32 of the JavaScript string a UTF-8 key decodes to, as
/// UnleashSdk::kNode hashes: MurmurHash3_x86_32 over the low byte of each UTF-16 code unit.
/// Ill-formed UTF-8 decodes as TextDecoder does (see growthbook_fnv1a32). Equal to murmur3_32 for
/// ASCII input. No allocation; never throws.
constexpr std::uint32_t murmur3_32_js(std::string_view utf8, std::uint32_t seed = 0) noexcept;

/// The seed of Unleash's rollout strategies (gradualRolloutUserId, gradualRolloutSessionId,
/// flexibleRollout).
inline constexpr std::uint32_t kUnleashStrategySeed = 0;
/// The seed of Unleash's variant choice, different from the strategy seed so that the variant a
/// key gets does not correlate with whether it is in the rollout.
inline constexpr std::uint32_t kUnleashVariantSeed = 86028157;
/// The modulus of Unleash's rollout percentages: normalised values run from 1 to 100.
inline constexpr std::uint32_t kUnleashRolloutModulus = 100;

/// Unleash's normalizedValue(id, groupId, normalizer, seed): murmur3_32(group + ":" + id, seed)
/// % modulus + 1, a number in [1, modulus], hashed the way `sdk` hashes (murmur3_32_js for
/// kNode). For a rollout the group is the strategy's groupId (by default the feature name). No
/// allocation. Throws InvalidArgument when modulus is 0.
inline std::uint32_t unleash_normalized_value(std::string_view id, std::string_view group,
                                              std::uint32_t modulus = kUnleashRolloutModulus,
                                              std::uint32_t seed = kUnleashStrategySeed,
                                              UnleashSdk sdk = UnleashSdk::kCore);

/// Unleash's rollout test: true when percentage > 0 and unleash_normalized_value(id, group, 100,
/// kUnleashStrategySeed, sdk) <= percentage, so a rollout of p% enables the same keys at every
/// evaluation and keeps them when p grows. A NaN percentage enables nobody, as in Unleash. No
/// allocation; never throws.
constexpr bool unleash_in_rollout(std::string_view id, std::string_view group, double percentage,
                                  UnleashSdk sdk = UnleashSdk::kCore) noexcept;

/// Unleash's default stickiness: the first non-empty of user_id, session_id and remote_address.
/// Unleash's variant choice looks at all three; its flexibleRollout strategy only at the first two
/// (pass an empty remote_address). The result views one of the arguments, so it must not outlive
/// them. nullopt means Unleash would fall back to a random value, i.e. the key is not sticky.
/// Never throws.
constexpr std::optional<std::string_view> unleash_default_stickiness(
    std::string_view user_id, std::string_view session_id,
    std::string_view remote_address = {}) noexcept {
  if (!user_id.empty()) return user_id;
  if (!session_id.empty()) return session_id;
  if (!remote_address.empty()) return remote_address;
  return std::nullopt;
}

/// Unleash's weighted variant choice (selectVariantDefinition without overrides): with total the
/// sum of `weights`, target = murmur3_32(group + ":" + stickiness_value, kUnleashVariantSeed) %
/// total + 1 (hashed the way `sdk` hashes), and the chosen variant is the first with a non-zero
/// weight whose running sum of weights reaches target. Returns nullopt when the weights sum to 0
/// (Unleash's "disabled" variant). `group` is the feature name for feature variants and the
/// strategy's groupId for strategy variants; `stickiness_value` is the context value named by the
/// variants' stickiness (see unleash_default_stickiness). Overrides that pin a context value to a
/// variant are matched by the caller before this is called. No allocation; never throws.
constexpr std::optional<std::size_t> unleash_select_variant(
    std::string_view stickiness_value, std::string_view group,
    std::span<const std::uint32_t> weights, UnleashSdk sdk = UnleashSdk::kCore) noexcept;

}  // namespace switchyard::bucketing

// ---------------------------------------------------------------------------------------------
// Implementation.

namespace switchyard::detail {

constexpr std::uint32_t rotl32(std::uint32_t x, int r) noexcept {
  return (x << r) | (x >> (32 - r));
}

constexpr std::uint32_t byte_at(std::string_view s, std::size_t i) noexcept {
  return static_cast<unsigned char>(s[i]);
}

// Little-endian load for murmur3's blocks. Constant evaluation and big-endian hosts assemble the
// bytes with shifts; little-endian hosts use memcpy, which compiles to one load.
constexpr std::uint32_t load_le32(std::string_view s, std::size_t i) noexcept {
  if (!std::is_constant_evaluated() && std::endian::native == std::endian::little) {
    std::uint32_t v = 0;
    std::memcpy(&v, s.data() + i, sizeof v);
    return v;
  }
  return byte_at(s, i) | byte_at(s, i + 1) << 8 | byte_at(s, i + 2) << 16 | byte_at(s, i + 3) << 24;
}
// Calls sink(unit) for each UTF-16 code unit of a UTF-8 string. Ill-formed input follows the
// WHATWG UTF-8 decoder: a lead byte with its valid continuations so far, cut short, or a stray
// byte becomes one U+FFFD, and the byte that broke the sequence starts the next one.
template <class Sink>
constexpr void for_each_utf16_unit(std::string_view s, Sink&& sink) {
  constexpr std::uint32_t kReplacement = 0xFFFD;
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const std::uint32_t b0 = byte_at(s, i);
    if (b0 < 0x80) {
      sink(b0);
      ++i;
      continue;
    }
    int needed = 0;
    std::uint32_t cp = 0;
    std::uint32_t lower = 0x80;
    std::uint32_t upper = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      needed = 1;
      cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      needed = 2;
      cp = b0 & 0x0F;
      if (b0 == 0xE0) lower = 0xA0;  // no overlong forms
      if (b0 == 0xED) upper = 0x9F;  // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      needed = 3;
      cp = b0 & 0x07;
      if (b0 == 0xF0) lower = 0x90;  // no overlong forms
      if (b0 == 0xF4) upper = 0x8F;  // nothing above U+10FFFF
    } else {
      sink(kReplacement);
      ++i;
      continue;
    }
    ++i;
    bool complete = true;
    for (int k = 0; k < needed; ++k) {
      if (i >= n || byte_at(s, i) < lower || byte_at(s, i) > upper) {
        complete = false;
        break;
      }
      cp = (cp << 6) | (byte_at(s, i) & 0x3F);
      ++i;
      lower = 0x80;
      upper = 0xBF;
    }
    if (!complete) {
      sink(kReplacement);
      continue;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      sink(0xD800 + (cp >> 10));
      sink(0xDC00 + (cp & 0x3FF));
    } else {
      sink(cp);
    }
  }
}

// FNV-1a over UTF-16 code units, resumable so that concatenations need no buffer.
struct Fnv1a32Utf16 {
  std::uint32_t state = 0x811C9DC5U;

  constexpr Fnv1a32Utf16& update(std::string_view utf8) noexcept {
    for_each_utf16_unit(utf8, [this](std::uint32_t unit) {
      state ^= unit;
      state *= 16777619U;  // JavaScript's shift-and-add form of the same product modulo 2^32
    });
    return *this;
  }
};

// MurmurHash3_x86_32, resumable so that "group:id" needs no buffer.
class Murmur3x86_32 {
 public:
  constexpr explicit Murmur3x86_32(std::uint32_t seed) noexcept : h_(seed) {}

  constexpr Murmur3x86_32& update(std::string_view data) noexcept {
    std::size_t i = 0;
    const std::size_t n = data.size();
    length_ += n;
    while (pending_bytes_ != 0 && i < n) push_byte(byte_at(data, i++));
    for (; i + 4 <= n; i += 4) mix_block(load_le32(data, i));
    while (i < n) push_byte(byte_at(data, i++));
    return *this;
  }

  // Feeds the low byte of each UTF-16 code unit of a UTF-8 string, as murmurhash3js reads a
  // JavaScript string: the length counts code units.
  constexpr Murmur3x86_32& update_js(std::string_view utf8) noexcept {
    for_each_utf16_unit(utf8, [this](std::uint32_t unit) {
      ++length_;
      push_byte(unit & 0xFFU);
    });
    return *this;
  }

  constexpr std::uint32_t finish() const noexcept {
    std::uint32_t h = h_;
    if (pending_bytes_ != 0) h ^= scramble(pending_);
    h ^= static_cast<std::uint32_t>(length_);
    h ^= h >> 16;
    h *= 0x85EBCA6BU;
    h ^= h >> 13;
    h *= 0xC2B2AE35U;
    h ^= h >> 16;
    return h;
  }

 private:
  static constexpr std::uint32_t scramble(std::uint32_t k) noexcept {
    k *= 0xCC9E2D51U;
    k = rotl32(k, 15);
    return k * 0x1B873593U;
  }
  constexpr void mix_block(std::uint32_t k) noexcept {
    h_ ^= scramble(k);
    h_ = rotl32(h_, 13);
    h_ = h_ * 5 + 0xE6546B64U;
  }
  constexpr void push_byte(std::uint32_t b) noexcept {
    pending_ |= b << (8 * pending_bytes_);
    if (++pending_bytes_ == 4) {
      mix_block(pending_);
      pending_ = 0;
      pending_bytes_ = 0;
    }
  }

  std::uint32_t h_;
  std::uint32_t pending_ = 0;
  int pending_bytes_ = 0;
  std::uint64_t length_ = 0;
};

// The decimal form of a 32-bit number, as JavaScript's String(n) writes it; no allocation.
class DecimalDigits {
 public:
  constexpr explicit DecimalDigits(std::uint32_t value) noexcept {
    std::size_t begin = sizeof digits_;
    do {
      digits_[--begin] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    begin_ = begin;
  }
  constexpr std::string_view view() const noexcept {
    return std::string_view(digits_ + begin_, sizeof digits_ - begin_);
  }

 private:
  char digits_[10] = {};  // 4294967295 has ten
  std::size_t begin_ = 0;
};

constexpr std::uint32_t unleash_group_hash(std::string_view id, std::string_view group,
                                           std::uint32_t seed, bucketing::UnleashSdk sdk) noexcept {
  if (sdk == bucketing::UnleashSdk::kNode) {
    return Murmur3x86_32(seed).update_js(group).update_js(":").update_js(id).finish();
  }
  return Murmur3x86_32(seed).update(group).update(":").update(id).finish();
}

}  // namespace switchyard::detail

namespace switchyard::bucketing {

constexpr std::uint32_t growthbook_fnv1a32(std::string_view utf8) noexcept {
  return detail::Fnv1a32Utf16{}.update(utf8).state;
}

constexpr std::optional<double> growthbook_hash(std::string_view seed, std::string_view value,
                                                int version) noexcept {
  if (version == 2) {
    const std::uint32_t inner = detail::Fnv1a32Utf16{}.update(seed).update(value).state;
    return static_cast<double>(growthbook_fnv1a32(detail::DecimalDigits(inner).view()) % 10000U) /
           10000.0;
  }
  if (version == 1) {
    const std::uint32_t h = detail::Fnv1a32Utf16{}.update(value).update(seed).state;
    return static_cast<double>(h % 1000U) / 1000.0;
  }
  return std::nullopt;
}

inline std::vector<double> growthbook_equal_weights(int num_variations) {
  if (num_variations <= 0) return {};
  return std::vector<double>(static_cast<std::size_t>(num_variations),
                             1.0 / static_cast<double>(num_variations));
}

inline std::vector<BucketRange> growthbook_bucket_ranges(int num_variations, double coverage,
                                                         std::span<const double> weights) {
  if (std::isnan(coverage)) {
    throw InvalidArgument("growthbook_bucket_ranges: coverage is NaN");
  }
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i])) {
      throw InvalidArgument("growthbook_bucket_ranges: weights[" + std::to_string(i) + "] is " +
                            std::to_string(weights[i]) + ", not a finite number");
    }
  }
  coverage = coverage < 0.0 ? 0.0 : (coverage > 1.0 ? 1.0 : coverage);

  const std::vector<double> equal = growthbook_equal_weights(num_variations);
  std::span<const double> used = weights;
  if (used.empty() || static_cast<long long>(used.size()) != num_variations) used = equal;
  double total = 0.0;
  for (const double w : used) total += w;  // left to right, as Array.reduce
  if (total < 0.99 || total > 1.01) used = equal;

  std::vector<BucketRange> ranges;
  ranges.reserve(used.size());
  double cumulative = 0.0;
  for (const double w : used) {
    const double start = cumulative;
    cumulative += w;
    // Rounded on its own before the addition, as JavaScript does: a fused multiply-add (which
    // compilers may emit for `start + coverage * w` on FMA hardware) could change the last bit.
    const volatile double scaled = coverage * w;
    ranges.push_back(BucketRange{start, start + scaled});
  }
  return ranges;
}

constexpr bool growthbook_in_namespace(std::string_view hash_value, std::string_view namespace_id,
                                       double start, double end) noexcept {
  const std::uint32_t h =
      detail::Fnv1a32Utf16{}.update(hash_value).update("__").update(namespace_id).state;
  const double n = static_cast<double>(h % 1000U) / 1000.0;
  return n >= start && n < end;
}

constexpr std::uint32_t murmur3_32(std::string_view data, std::uint32_t seed) noexcept {
  return detail::Murmur3x86_32(seed).update(data).finish();
}

constexpr std::uint32_t murmur3_32_js(std::string_view utf8, std::uint32_t seed) noexcept {
  return detail::Murmur3x86_32(seed).update_js(utf8).finish();
}

inline std::uint32_t unleash_normalized_value(std::string_view id, std::string_view group,
                                              std::uint32_t modulus, std::uint32_t seed,
                                              UnleashSdk sdk) {
  if (modulus == 0) {
    throw InvalidArgument("unleash_normalized_value: modulus is 0 for group '" +
                          std::string(group) + "'");
  }
  return detail::unleash_group_hash(id, group, seed, sdk) % modulus + 1;
}

constexpr bool unleash_in_rollout(std::string_view id, std::string_view group, double percentage,
                                  UnleashSdk sdk) noexcept {
  if (!(percentage > 0.0)) return false;
  const std::uint32_t value =
      detail::unleash_group_hash(id, group, kUnleashStrategySeed, sdk) % kUnleashRolloutModulus + 1;
  return static_cast<double>(value) <= percentage;
}

constexpr std::optional<std::size_t> unleash_select_variant(
    std::string_view stickiness_value, std::string_view group,
    std::span<const std::uint32_t> weights, UnleashSdk sdk) noexcept {
  std::uint64_t total = 0;  // 64 bits: a sum of 32-bit weights cannot wrap
  for (const std::uint32_t w : weights) total += w;
  if (total == 0) return std::nullopt;
  const std::uint64_t target =
      detail::unleash_group_hash(stickiness_value, group, kUnleashVariantSeed, sdk) % total + 1;
  std::uint64_t counter = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] == 0) continue;
    counter += weights[i];
    if (counter >= target) return i;
  }
  return std::nullopt;  // unreachable: the running sum ends at total >= target
}

}  // namespace switchyard::bucketing
