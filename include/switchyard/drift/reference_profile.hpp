// SPDX-License-Identifier: Apache-2.0
// ReferenceProfile: what a model's training data looked like, per feature, so live traffic can be
// binned in the same bins and compared with it; built from rows, serialized, kept with the version.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/config.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/registry/model_version.hpp>

namespace switchyard {

class ModelRegistry;
class RegistryStore;

/// What a feature holds, as Evidently's column types: numbers on a scale, category codes (any
/// double, compared exactly), or a two-valued flag.
enum class FeatureKind : std::uint8_t {
  kNumeric = 0,
  kCategorical = 1,
  kBinary = 2,
};

/// "numeric" / "categorical" / "binary".
SWITCHYARD_API const char* to_string(FeatureKind kind) noexcept;

/// How a numeric feature's histogram edges are chosen from the reference.
enum class BinningRule : std::uint8_t {
  /// Evidently's rule applied to the reference alone: numpy's Sturges edges
  /// (stats::sturges_bin_edges), or one bin per value when the reference has at most
  /// stats::kEvidentlyMaxDiscreteValues distinct values.
  kEvidently = 0,
  /// FeatureSpec::bins bins holding equal shares of the reference (numpy.quantile, linear),
  /// duplicate edges merged.
  kQuantile = 1,
  /// FeatureSpec::edges as given (strictly increasing, finite, at least 2).
  kFixed = 2,
};

/// "evidently" / "quantile" / "fixed".
SWITCHYARD_API const char* to_string(BinningRule rule) noexcept;

/// How to profile one column. Thread-safe: a value type.
struct FeatureSpec {
  std::string name;  ///< unique within a profile, 1..256 bytes
  FeatureKind kind = FeatureKind::kNumeric;
  BinningRule binning = BinningRule::kEvidently;  ///< numeric features only
  std::size_t bins = 32;                          ///< kQuantile only, 1..4096
  std::vector<double> edges{};                    ///< kFixed only
};

/// One feature of a reference profile: its bins and reference counts, moments, quantiles and a
/// bounded sample.
///
/// Slots: live values are counted into `slots()` counters, `slot_of(x)` picks one.
/// - Histogram layout (numeric, `edges` not empty): slot 0 holds values below edges.front(),
///   slots 1..B the B bins (numpy's rule: [e_i, e_{i+1}), the last closed), slot B + 1 values above
///   edges.back().
/// - Value layout (categorical, binary, and numeric with at most 20 distinct reference values):
///   slot i < values.size() holds values[i]; the last slot, values.size(), holds every other value.
///   Its reference count is `other` (categories beyond the profile's cap); when that is 0, anything
///   landing there is a value the reference never had.
/// Non-finite values (NaN, +-inf) are never in a slot: they are missing, counted apart (as
/// Evidently replaces infinities by NaN and drops them).
/// Thread-safe: a value type; const members may be called from many threads.
struct FeatureProfile {
  std::string name;
  FeatureKind kind = FeatureKind::kNumeric;
  BinningRule binning = BinningRule::kEvidently;
  std::vector<double> edges;           ///< histogram edges, ascending; empty in the value layout
  std::vector<double> values;          ///< distinct values, ascending; empty in histogram layout
  std::vector<std::uint64_t> counts;   ///< reference count per slot (slots() of them)
  std::uint64_t other = 0;             ///< value layout: reference values beyond the category cap
  std::uint64_t missing = 0;           ///< reference values that were NaN or infinite
  std::uint64_t count = 0;             ///< finite reference values
  double mean = 0.0;                   ///< of the finite reference values; 0 when none
  double std_dev = 0.0;                ///< population standard deviation (numpy's np.std)
  double min = 0.0;                    ///< 0 when no finite value
  double max = 0.0;
  /// Reference quantiles at probabilities i / (quantiles.size() - 1) (numpy.quantile, linear):
  /// 101 of them (every percent) by default; computed from every finite value.
  std::vector<double> quantiles;
  /// Finite reference values for the tests that need samples (Kolmogorov-Smirnov, Wasserstein),
  /// ascending: every value when count <= the builder's sample_capacity, else a uniform sample
  /// of that size (see sample_is_complete()).
  std::vector<double> sample;

  bool histogram() const noexcept { return !edges.empty(); }
  /// Number of live counters this feature needs (see the layouts above).
  std::size_t slots() const noexcept {
    return histogram() ? edges.size() + 1 : values.size() + 1;
  }
  /// True when `sample` holds every finite reference value, so sample-based tests are exact.
  bool sample_is_complete() const noexcept { return sample.size() == count; }
  /// The slot of value layout for values the reference had not kept (see `other`).
  std::size_t other_slot() const noexcept { return values.size(); }
  /// True when a value landing in slot `s` is one the reference never had (a new category).
  bool unseen_slot(std::size_t s) const noexcept {
    return !histogram() && s == values.size() && other == 0;
  }

  /// The slot a finite value falls in; non-finite values are the caller's to count as missing
  /// (their slot is unspecified). No allocation, no lock; a binary search over the edges or
  /// values, or an arithmetic guess checked against the edges when they are equally spaced.
  std::size_t slot_of(double x) const noexcept {
    if (!edges.empty()) {
      const std::size_t n = edges.size();
      if (!(x >= edges.front())) return 0;
      if (x > edges.back()) return n;
      if (x == edges.back()) return n - 1;  // numpy: the last bin is closed
      const double* e = edges.data();
      if (uniform_step_ > 0.0) {
        auto i = static_cast<std::size_t>((x - e[0]) / uniform_step_);
        if (i > n - 2) i = n - 2;
        // Rounding can put x one bin off; the edges decide.
        if (x < e[i]) --i;
        else if (x >= e[i + 1]) ++i;
        return i + 1;
      }
      return static_cast<std::size_t>(std::upper_bound(e, e + n, x) - e);
    }
    const auto it = std::lower_bound(values.begin(), values.end(), x);
    if (it != values.end() && *it == x) return static_cast<std::size_t>(it - values.begin());
    return values.size();
  }

  /// Recomputes the cached bin width slot_of() uses; called by the builder and the reader.
  /// Call it after changing `edges` by hand.
  void index_edges() noexcept {
    uniform_step_ = 0.0;
    if (edges.size() < 3) return;
    const double step = (edges.back() - edges.front()) / static_cast<double>(edges.size() - 1);
    if (!(step > 0.0) || !std::isfinite(step)) return;
    for (std::size_t i = 0; i + 1 < edges.size(); ++i) {
      const double guess = edges.front() + static_cast<double>(i) * step;
      if (std::fabs(guess - edges[i]) > step * 1e-9) return;
    }
    uniform_step_ = step;
  }

  friend bool operator==(const FeatureProfile& a, const FeatureProfile& b) {
    return a.name == b.name && a.kind == b.kind && a.binning == b.binning && a.edges == b.edges &&
           a.values == b.values && a.counts == b.counts && a.other == b.other &&
           a.missing == b.missing && a.count == b.count && a.mean == b.mean &&
           a.std_dev == b.std_dev && a.min == b.min && a.max == b.max &&
           a.quantiles == b.quantiles && a.sample == b.sample;
  }

 private:
  double uniform_step_ = 0.0;  // > 0 when the edges are equally spaced
};

/// The reference a drift evaluation compares live traffic with: one FeatureProfile per input
/// feature, in the model's input order, and optionally the model's prediction.
///
/// Build it with ReferenceProfileBuilder (streamed rows) or profile_from_xtensor / profile_from_eigen
/// (drift/reference_profile_matrix.hpp), serialize it with to_bytes(), keep it with the version
/// it describes (put_reference_profile + attach_reference_profile) and read it back in any process
/// (load_reference_profile).
/// Thread-safe: a value type; const members may be called from many threads.
struct ReferenceProfile {
  std::vector<FeatureProfile> features;
  std::optional<FeatureProfile> prediction;  ///< the model's output (first value per row)
  std::uint64_t rows = 0;                    ///< rows the profile was built from

  /// Index of the feature named `name`. Throws NotFound naming it.
  SWITCHYARD_API std::size_t index_of(std::string_view name) const;

  /// The profile in Switchyard's versioned binary format (see docs/monitoring.md): magic, a
  /// cereal portable-binary body, a SHA-256 trailer. Throws InvalidArgument when the result would
  /// exceed kMaxReferenceProfileBytes.
  SWITCHYARD_API std::string to_bytes() const;
  /// Reads to_bytes() output. Throws LoadError naming what is wrong (not a profile, truncated, an
  /// unknown format version, a count or length beyond its cap, unsorted edges, counts that do not
  /// add up) and IntegrityError when the SHA-256 trailer does not match. Never reads past `bytes`
  /// and never allocates more than the bytes can hold.
  SWITCHYARD_API static ReferenceProfile from_bytes(std::string_view bytes);

  friend bool operator==(const ReferenceProfile&, const ReferenceProfile&) = default;
};

/// Largest serialized profile (the registry store's artifact limit, kMaxStoreArtifactBytes).
inline constexpr std::size_t kMaxReferenceProfileBytes = std::size_t{16} << 20;
/// Caps the reader enforces, and the builder too.
inline constexpr std::size_t kMaxProfileFeatures = 100000;
inline constexpr std::size_t kMaxProfileSlots = 1u << 16;       ///< per feature
inline constexpr std::size_t kMaxProfileNameLength = 256;
/// The format name and version written by to_bytes().
inline constexpr std::string_view kReferenceProfileFormat = "switchyard.drift.profile";
inline constexpr std::uint32_t kReferenceProfileFormatVersion = 1;

/// Builds a ReferenceProfile from rows of training data (one double per feature, in spec order).
///
/// Every finite value is kept until build() (8 bytes each), because Evidently's edges depend on
/// the whole column; for data that does not fit, pass a sample or use kFixed edges.
/// Thread-safe: no; one thread builds.
///
/// @code
///   ReferenceProfileBuilder b({{.name = "age"}, {.name = "country", .kind = FeatureKind::kCategorical}});
///   for (const auto& row : training_rows) b.add_row(row.features, row.prediction);
///   ReferenceProfile profile = b.build();
/// @endcode
class ReferenceProfileBuilder {
 public:
  struct Options {
    /// Categories kept per categorical feature (the most frequent; ties by smaller value); the
    /// rest are counted in FeatureProfile::other. 1..kMaxProfileSlots - 1. Default 256.
    std::size_t max_categories = 256;
    /// Reference values kept per feature in FeatureProfile::sample. Default 5,000 (Evidently's
    /// default test uses the whole reference up to 1,000 rows, so those stay exact).
    std::size_t sample_capacity = 5000;
    /// Quantiles stored per numeric feature (>= 2). Default 101 (every percent).
    std::size_t quantiles = 101;
    /// Profile the prediction passed to add_row(features, prediction). Default true.
    bool with_prediction = true;
    /// How to profile the prediction (kind and binning; its name is "prediction").
    FeatureSpec prediction_spec{.name = "prediction"};
    /// Seed of the reservoir sampling, so a build is reproducible. Default 1.
    std::uint64_t seed = 1;
  };

  /// Throws InvalidArgument naming the feature when a spec is invalid (empty or duplicate name,
  /// fixed edges not strictly increasing and finite, bins out of range) or an option is.
  SWITCHYARD_API explicit ReferenceProfileBuilder(std::vector<FeatureSpec> features);
  SWITCHYARD_API ReferenceProfileBuilder(std::vector<FeatureSpec> features, Options options);

  /// Adds one row. Throws InvalidArgument when features.size() differs from the spec count.
  SWITCHYARD_API void add_row(std::span<const double> features);
  /// Adds one row and its prediction (profiled when Options::with_prediction).
  SWITCHYARD_API void add_row(std::span<const double> features, double prediction);

  std::uint64_t rows() const noexcept { return rows_; }
  /// The profile of every row added so far. May be called again after more rows.
  /// Throws InvalidArgument when the profile would exceed kMaxReferenceProfileBytes.
  SWITCHYARD_API ReferenceProfile build() const;

 private:
  std::vector<FeatureSpec> specs_;
  Options options_;
  std::vector<std::vector<double>> columns_;  // every value, NaN included, per feature
  std::vector<double> predictions_;
  std::uint64_t rows_ = 0;
};

/// Profiles one column by itself (what the builder does per feature). `values` may hold NaN and
/// infinities (counted as missing). Throws InvalidArgument as the builder does.
SWITCHYARD_API FeatureProfile profile_feature(const FeatureSpec& spec,
                                              std::span<const double> values,
                                              const ReferenceProfileBuilder::Options& options = {});

// ---- Keeping a profile with its version in the registry ----------------------------------------

/// The tag a version carries to name its reference profile: "store:sha256/<64 hex>".
inline constexpr std::string_view kReferenceProfileTag = "switchyard.drift.reference_profile";

/// Writes the profile's bytes into the registry store (in a transaction of their own, durable on
/// return; content-addressed, so writing it twice is harmless) and returns their reference.
/// Do this before registering the version, then attach_reference_profile() the result to its
/// metadata, so the version names a profile that is already durable.
/// Throws InvalidArgument (too large) or StorageError.
SWITCHYARD_API ArtifactRef put_reference_profile(RegistryStore& store,
                                                 const ReferenceProfile& profile);

/// Records `ref` in a version's tags (kReferenceProfileTag), to be passed to register_version().
/// Throws InvalidArgument when ref is not a store reference.
SWITCHYARD_API void attach_reference_profile(std::map<std::string, std::string>& tags,
                                             const ArtifactRef& ref);

/// The reference profile of a registered version, read from the registry's store and verified
/// against its SHA-256. Throws NotFound when the version or its tag or the stored bytes are
/// missing, IntegrityError when the bytes do not match, LoadError when they are not a profile.
SWITCHYARD_API ReferenceProfile load_reference_profile(ModelRegistry& registry,
                                                       std::string_view model,
                                                       std::int64_t version);

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/drift/reference_profile-inl.hpp>
#endif
