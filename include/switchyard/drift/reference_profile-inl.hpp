// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of reference_profile.hpp: profiling a column, the binary format, the registry.
#pragma once

#include <switchyard/drift/reference_profile.hpp>

#include <array>
#include <cereal/archives/portable_binary.hpp>
#include <cmath>
#include <cstring>
#include <istream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <streambuf>
#include <utility>

#include <switchyard/detail/sha256.hpp>
#include <switchyard/detail/view_streambuf.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/registry_store.hpp>
#include <switchyard/stats/drift_binning.hpp>
#include <switchyard/stats/running_moments.hpp>

namespace switchyard {

SWITCHYARD_INLINE const char* to_string(FeatureKind kind) noexcept {
  switch (kind) {
    case FeatureKind::kNumeric: return "numeric";
    case FeatureKind::kCategorical: return "categorical";
    case FeatureKind::kBinary: return "binary";
  }
  return "unknown";
}

SWITCHYARD_INLINE const char* to_string(BinningRule rule) noexcept {
  switch (rule) {
    case BinningRule::kEvidently: return "evidently";
    case BinningRule::kQuantile: return "quantile";
    case BinningRule::kFixed: return "fixed";
  }
  return "unknown";
}

namespace detail::drift_profile {

inline std::string feature_ref(std::string_view name) {
  return "feature '" + std::string(name) + "'";
}

inline bool strictly_increasing_finite(std::span<const double> xs) noexcept {
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!std::isfinite(xs[i])) return false;
    if (i > 0 && !(xs[i] > xs[i - 1])) return false;
  }
  return true;
}

inline void check_spec(const FeatureSpec& spec) {
  if (spec.name.empty() || spec.name.size() > kMaxProfileNameLength) {
    throw InvalidArgument("feature name must have 1 to " + std::to_string(kMaxProfileNameLength) +
                          " bytes, got " + std::to_string(spec.name.size()));
  }
  if (static_cast<std::uint8_t>(spec.kind) > 2) {
    throw InvalidArgument(feature_ref(spec.name) + ": unknown kind " +
                          std::to_string(static_cast<int>(spec.kind)));
  }
  if (spec.kind != FeatureKind::kNumeric) return;
  switch (spec.binning) {
    case BinningRule::kEvidently:
      return;
    case BinningRule::kQuantile:
      if (spec.bins < 1 || spec.bins > 4096) {
        throw InvalidArgument(feature_ref(spec.name) + ": quantile bins must be 1..4096, got " +
                              std::to_string(spec.bins));
      }
      return;
    case BinningRule::kFixed:
      if (spec.edges.size() < 2 || spec.edges.size() + 1 > kMaxProfileSlots ||
          !strictly_increasing_finite(spec.edges)) {
        throw InvalidArgument(feature_ref(spec.name) +
                              ": fixed edges must be 2 or more strictly increasing finite values "
                              "(at most " + std::to_string(kMaxProfileSlots - 1) + ")");
      }
      return;
  }
  throw InvalidArgument(feature_ref(spec.name) + ": unknown binning rule " +
                        std::to_string(static_cast<int>(spec.binning)));
}

inline void check_options(const ReferenceProfileBuilder::Options& o) {
  if (o.max_categories < 1 || o.max_categories + 1 > kMaxProfileSlots) {
    throw InvalidArgument("max_categories must be 1.." + std::to_string(kMaxProfileSlots - 1) +
                          ", got " + std::to_string(o.max_categories));
  }
  if (o.quantiles < 2 || o.quantiles > 4096) {
    throw InvalidArgument("quantiles must be 2..4096, got " + std::to_string(o.quantiles));
  }
  if (o.sample_capacity > (std::size_t{1} << 20)) {
    throw InvalidArgument("sample_capacity must be at most 1048576, got " +
                          std::to_string(o.sample_capacity));
  }
}

/// numpy.quantile(sorted, p, method='linear') on an ascending, non-empty array: virtual index
/// p * (n - 1), then numpy's _lerp (which interpolates from the upper neighbour when t >= 0.5).
inline double numpy_quantile(const std::vector<double>& sorted, double p) noexcept {
  const std::size_t n = sorted.size();
  if (n == 1) return sorted[0];
  const double index = p * static_cast<double>(n - 1);
  double lo_f = std::floor(index);
  if (lo_f >= static_cast<double>(n - 1)) return sorted[n - 1];
  const auto lo = static_cast<std::size_t>(lo_f);
  const double t = index - lo_f;
  const double a = sorted[lo], b = sorted[lo + 1];
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

/// splitmix64: a small, portable generator so a reservoir is the same on every platform.
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n); the modulo bias is below n / 2^64.
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }
};

/// Algorithm R over the finite values, then sorted; every value when they fit.
inline std::vector<double> reservoir(const std::vector<double>& finite, std::size_t capacity,
                                     std::uint64_t seed) {
  if (finite.size() <= capacity) {
    std::vector<double> all = finite;
    std::sort(all.begin(), all.end());
    return all;
  }
  std::vector<double> keep(finite.begin(), finite.begin() + static_cast<std::ptrdiff_t>(capacity));
  SplitMix64 rng{seed};
  for (std::size_t i = capacity; i < finite.size(); ++i) {
    const std::uint64_t j = rng.below(i + 1);
    if (j < capacity) keep[j] = finite[i];
  }
  std::sort(keep.begin(), keep.end());
  return keep;
}

/// The distinct values of an ascending array and how often each occurs.
inline std::vector<std::pair<double, std::uint64_t>> value_counts(const std::vector<double>& s) {
  std::vector<std::pair<double, std::uint64_t>> out;
  for (double x : s) {
    if (out.empty() || out.back().first != x) out.emplace_back(x, 0);
    ++out.back().second;
  }
  return out;
}

inline void fill_value_layout(FeatureProfile& f,
                              std::vector<std::pair<double, std::uint64_t>> counted,
                              std::size_t cap) {
  if (counted.size() > cap) {
    // Keep the most frequent, ties to the smaller value, then restore value order.
    std::stable_sort(counted.begin(), counted.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    for (std::size_t i = cap; i < counted.size(); ++i) f.other += counted[i].second;
    counted.resize(cap);
    std::sort(counted.begin(), counted.end());
  }
  f.values.clear();
  f.counts.clear();
  for (const auto& [v, c] : counted) {
    f.values.push_back(v);
    f.counts.push_back(c);
  }
  f.counts.push_back(f.other);
}

inline std::vector<double> quantile_edges(const std::vector<double>& sorted, std::size_t bins) {
  std::vector<double> edges;
  for (std::size_t i = 0; i <= bins; ++i) {
    const double q = numpy_quantile(sorted, static_cast<double>(i) / static_cast<double>(bins));
    if (edges.empty() || q > edges.back()) edges.push_back(q);
  }
  if (edges.size() < 2) edges = {sorted.front() - 0.5, sorted.front() + 0.5};
  return edges;
}

}  // namespace detail::drift_profile

SWITCHYARD_INLINE FeatureProfile profile_feature(const FeatureSpec& spec,
                                                 std::span<const double> values,
                                                 const ReferenceProfileBuilder::Options& options) {
  namespace dp = detail::drift_profile;
  dp::check_spec(spec);
  dp::check_options(options);
  FeatureProfile f;
  f.name = spec.name;
  f.kind = spec.kind;
  f.binning = spec.kind == FeatureKind::kNumeric ? spec.binning : BinningRule::kEvidently;
  std::vector<double> finite;
  finite.reserve(values.size());
  for (double x : values) {
    if (std::isfinite(x)) finite.push_back(x);
  }
  f.missing = values.size() - finite.size();
  f.count = finite.size();
  std::vector<double> sorted = finite;
  std::sort(sorted.begin(), sorted.end());
  if (!sorted.empty()) {
    const stats::RunningMoments m = stats::RunningMoments::of(finite);
    f.mean = m.mean();
    f.std_dev = std::sqrt(m.population_variance());
    f.min = sorted.front();
    f.max = sorted.back();
  }
  auto counted = dp::value_counts(sorted);
  if (spec.kind == FeatureKind::kBinary && counted.size() > 2) {
    throw InvalidArgument(dp::feature_ref(spec.name) + ": a binary feature has " +
                          std::to_string(counted.size()) + " distinct values in the reference");
  }
  const bool value_layout =
      spec.kind != FeatureKind::kNumeric ||
      (spec.binning == BinningRule::kEvidently &&
       counted.size() <= stats::kEvidentlyMaxDiscreteValues);
  if (value_layout) {
    const std::size_t cap = spec.kind == FeatureKind::kCategorical
                                ? options.max_categories
                                : std::max<std::size_t>(counted.size(), 1);
    dp::fill_value_layout(f, std::move(counted), cap);
  } else {
    switch (spec.binning) {
      case BinningRule::kQuantile:
        f.edges = sorted.empty() ? std::vector<double>{0.0, 1.0}
                                 : dp::quantile_edges(sorted, spec.bins);
        break;
      case BinningRule::kFixed:
        f.edges = spec.edges;
        break;
      default:
        f.edges = stats::sturges_bin_edges(sorted);
        break;
    }
    if (f.edges.size() + 1 > kMaxProfileSlots) {
      throw InvalidArgument(dp::feature_ref(spec.name) + ": " + std::to_string(f.edges.size() - 1) +
                            " bins exceed the cap of " + std::to_string(kMaxProfileSlots - 2));
    }
    f.index_edges();
    f.counts.assign(f.slots(), 0);
    for (double x : finite) ++f.counts[f.slot_of(x)];
  }
  if (spec.kind == FeatureKind::kNumeric && !sorted.empty()) {
    f.quantiles.resize(options.quantiles);
    for (std::size_t i = 0; i < options.quantiles; ++i) {
      f.quantiles[i] = dp::numpy_quantile(
          sorted, static_cast<double>(i) / static_cast<double>(options.quantiles - 1));
    }
    f.sample = dp::reservoir(finite, options.sample_capacity,
                             options.seed ^ std::hash<std::string>{}(spec.name));
  }
  return f;
}

// ---- builder ----------------------------------------------------------------------------------

SWITCHYARD_INLINE ReferenceProfileBuilder::ReferenceProfileBuilder(std::vector<FeatureSpec> features)
    : ReferenceProfileBuilder(std::move(features), Options{}) {}

SWITCHYARD_INLINE ReferenceProfileBuilder::ReferenceProfileBuilder(std::vector<FeatureSpec> features,
                                                                   Options options)
    : specs_(std::move(features)), options_(std::move(options)) {
  namespace dp = detail::drift_profile;
  dp::check_options(options_);
  if (specs_.size() > kMaxProfileFeatures) {
    throw InvalidArgument("a profile holds at most " + std::to_string(kMaxProfileFeatures) +
                          " features, got " + std::to_string(specs_.size()));
  }
  std::set<std::string, std::less<>> names;
  for (const auto& s : specs_) {
    dp::check_spec(s);
    if (!names.insert(s.name).second) {
      throw InvalidArgument(dp::feature_ref(s.name) + " is listed twice");
    }
  }
  if (options_.with_prediction) {
    if (options_.prediction_spec.name.empty()) options_.prediction_spec.name = "prediction";
    dp::check_spec(options_.prediction_spec);
  }
  columns_.resize(specs_.size());
}

SWITCHYARD_INLINE void ReferenceProfileBuilder::add_row(std::span<const double> features) {
  if (features.size() != specs_.size()) {
    throw InvalidArgument("row has " + std::to_string(features.size()) + " values, the profile " +
                          std::to_string(specs_.size()) + " features");
  }
  for (std::size_t i = 0; i < features.size(); ++i) columns_[i].push_back(features[i]);
  ++rows_;
}

SWITCHYARD_INLINE void ReferenceProfileBuilder::add_row(std::span<const double> features,
                                                        double prediction) {
  add_row(features);
  if (options_.with_prediction) predictions_.push_back(prediction);
}

SWITCHYARD_INLINE ReferenceProfile ReferenceProfileBuilder::build() const {
  ReferenceProfile p;
  p.rows = rows_;
  p.features.reserve(specs_.size());
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    p.features.push_back(profile_feature(specs_[i], columns_[i], options_));
  }
  if (options_.with_prediction && !predictions_.empty()) {
    p.prediction = profile_feature(options_.prediction_spec, predictions_, options_);
  }
  (void)p.to_bytes();  // the size check: a profile that cannot be stored is refused here
  return p;
}

SWITCHYARD_INLINE std::size_t ReferenceProfile::index_of(std::string_view name) const {
  for (std::size_t i = 0; i < features.size(); ++i) {
    if (features[i].name == name) return i;
  }
  throw NotFound("reference profile has no feature '" + std::string(name) + "'");
}

// ---- binary format ------------------------------------------------------------------------------
//
// "switchyard.drift.profile", version 1:
//   8 bytes   magic 0x89 'S' 'Y' 'P' '\r' '\n' 0x1a '\n'
//   cereal portable binary archive, little-endian:
//     u8      cereal's byte-order flag (1)
//     string  format name (u64 length, bytes)      u32 format version
//     u64     rows    u64 feature count    u8 has prediction (0/1)
//     feature (each, then the prediction's):
//       string name   u8 kind   u8 binning
//       u64 n, f64[n] edges     u64 n, f64[n] values     u64 n, u64[n] counts
//       u64 other  u64 missing  u64 count   f64 mean  f64 std_dev  f64 min  f64 max
//       u64 n, f64[n] quantiles u64 n, f64[n] sample
//   32 bytes  SHA-256 of everything before it
namespace detail::drift_profile {

inline constexpr std::array<char, 8> kMagic = {'\x89', 'S', 'Y', 'P', '\r', '\n', '\x1a', '\n'};
inline constexpr std::size_t kChecksumSize = 32;
inline constexpr std::size_t kMaxQuantiles = 4096;
inline constexpr std::size_t kMaxSample = std::size_t{1} << 20;
inline constexpr std::uint64_t kMaxCount = std::uint64_t{1} << 53;

inline void save_string(cereal::PortableBinaryOutputArchive& ar, const std::string& s) {
  ar(static_cast<std::uint64_t>(s.size()));
  ar(cereal::binary_data(s.data(), s.size()));
}

template <class T>
void save_vector(cereal::PortableBinaryOutputArchive& ar, const std::vector<T>& v) {
  ar(static_cast<std::uint64_t>(v.size()));
  if (!v.empty()) ar(cereal::binary_data(v.data(), v.size() * sizeof(T)));
}

inline void save_feature(cereal::PortableBinaryOutputArchive& ar, const FeatureProfile& f) {
  save_string(ar, f.name);
  ar(static_cast<std::uint8_t>(f.kind), static_cast<std::uint8_t>(f.binning));
  save_vector(ar, f.edges);
  save_vector(ar, f.values);
  save_vector(ar, f.counts);
  ar(f.other, f.missing, f.count, f.mean, f.std_dev, f.min, f.max);
  save_vector(ar, f.quantiles);
  save_vector(ar, f.sample);
}

using switchyard::detail::ViewStreamBuf;

inline LoadError corrupt(const std::string& what) {
  return LoadError("reference profile is corrupted: " + what);
}

// Bounded reads: every length is checked against its cap and the bytes left before allocating.
// Not thread-safe: one per from_bytes() call, on its thread.
class ProfileReader {
 public:
  explicit ProfileReader(std::string_view payload)
      : buf_(payload), stream_(&buf_), archive_(stream_) {}

  std::size_t remaining() const noexcept { return buf_.remaining(); }

  void need(std::uint64_t bytes, const std::string& what) const {
    if (bytes > remaining()) {
      throw LoadError("reference profile is truncated: " + what + " needs " +
                      std::to_string(bytes) + " bytes but only " + std::to_string(remaining()) +
                      " remain");
    }
  }

  template <class T>
  T scalar(const std::string& what) {
    need(sizeof(T), what);
    T value{};
    archive_(value);
    return value;
  }

  std::string string(const std::string& what, std::size_t cap) {
    const auto length = scalar<std::uint64_t>(what);
    if (length > cap) {
      throw corrupt(what + " claims " + std::to_string(length) + " bytes (at most " +
                    std::to_string(cap) + ")");
    }
    need(length, what);
    std::string s(static_cast<std::size_t>(length), '\0');
    if (length) archive_(cereal::binary_data(s.data(), s.size()));
    return s;
  }

  template <class T>
  std::vector<T> vector(const std::string& what, std::size_t cap) {
    const auto n = scalar<std::uint64_t>(what + " length");
    if (n > cap) {
      throw corrupt(what + " claims " + std::to_string(n) + " entries (at most " +
                    std::to_string(cap) + ")");
    }
    need(n * sizeof(T), what);
    std::vector<T> v(static_cast<std::size_t>(n));
    if (n) archive_(cereal::binary_data(v.data(), v.size() * sizeof(T)));
    return v;
  }

 private:
  ViewStreamBuf buf_;
  std::istream stream_;
  cereal::PortableBinaryInputArchive archive_;
};

inline bool ascending_finite(const std::vector<double>& xs) noexcept {
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!std::isfinite(xs[i])) return false;
    if (i > 0 && xs[i] < xs[i - 1]) return false;
  }
  return true;
}

/// Everything a FeatureProfile must satisfy for slot_of() and the evaluation to be sound.
inline void check_feature(const FeatureProfile& f) {
  const std::string who = feature_ref(f.name);
  if (f.name.empty()) throw corrupt("a feature has an empty name");
  if (!f.edges.empty() && !f.values.empty()) {
    throw corrupt(who + " has both histogram edges and values");
  }
  if (!f.edges.empty() && (f.edges.size() < 2 || !strictly_increasing_finite(f.edges))) {
    throw corrupt(who + " has edges that are not 2 or more strictly increasing finite values");
  }
  if (!strictly_increasing_finite(f.values)) {
    throw corrupt(who + " has values that are not strictly increasing and finite");
  }
  if (f.kind != FeatureKind::kNumeric && !f.edges.empty()) {
    throw corrupt(who + " is " + to_string(f.kind) + " but has histogram edges");
  }
  if (f.counts.size() != f.slots()) {
    throw corrupt(who + " has " + std::to_string(f.counts.size()) + " counts for " +
                  std::to_string(f.slots()) + " slots");
  }
  if (f.count > kMaxCount || f.missing > kMaxCount) {
    throw corrupt(who + " has a count above 2^53 (counts must stay exact as doubles)");
  }
  std::uint64_t total = 0;
  for (auto c : f.counts) {
    if (c > f.count || total > f.count - c) throw corrupt(who + " has counts above its total");
    total += c;
  }
  if (total != f.count) {
    throw corrupt(who + " has counts summing to " + std::to_string(total) + ", not " +
                  std::to_string(f.count));
  }
  if (!f.histogram() && f.counts.back() != f.other) {
    throw corrupt(who + " has an other-slot count different from its other count");
  }
  if (f.histogram() && f.other != 0) throw corrupt(who + " has an other count with histogram bins");
  if (!std::isfinite(f.mean) || !(f.std_dev >= 0.0) || !std::isfinite(f.std_dev) ||
      !std::isfinite(f.min) || !std::isfinite(f.max) || f.min > f.max) {
    throw corrupt(who + " has non-finite or inconsistent moments");
  }
  if (!ascending_finite(f.quantiles) || !ascending_finite(f.sample)) {
    throw corrupt(who + " has quantiles or a sample that are not ascending finite values");
  }
  if (f.sample.size() > f.count) throw corrupt(who + " has a sample larger than its count");
}

inline FeatureProfile read_feature(ProfileReader& r) {
  FeatureProfile f;
  f.name = r.string("a feature name", kMaxProfileNameLength);
  const std::string who = feature_ref(f.name);
  const auto kind = r.scalar<std::uint8_t>(who + " kind");
  const auto binning = r.scalar<std::uint8_t>(who + " binning");
  if (kind > 2) throw corrupt(who + " has unknown kind " + std::to_string(kind));
  if (binning > 2) throw corrupt(who + " has unknown binning rule " + std::to_string(binning));
  f.kind = static_cast<FeatureKind>(kind);
  f.binning = static_cast<BinningRule>(binning);
  f.edges = r.vector<double>(who + " edges", kMaxProfileSlots - 1);
  f.values = r.vector<double>(who + " values", kMaxProfileSlots - 1);
  f.counts = r.vector<std::uint64_t>(who + " counts", kMaxProfileSlots);
  f.other = r.scalar<std::uint64_t>(who + " other count");
  f.missing = r.scalar<std::uint64_t>(who + " missing count");
  f.count = r.scalar<std::uint64_t>(who + " count");
  f.mean = r.scalar<double>(who + " mean");
  f.std_dev = r.scalar<double>(who + " standard deviation");
  f.min = r.scalar<double>(who + " min");
  f.max = r.scalar<double>(who + " max");
  f.quantiles = r.vector<double>(who + " quantiles", kMaxQuantiles);
  f.sample = r.vector<double>(who + " sample", kMaxSample);
  check_feature(f);
  f.index_edges();
  return f;
}

inline void read_header(ProfileReader& r) {
  const auto name = r.string("the format name", 64);
  if (name != kReferenceProfileFormat) {
    throw LoadError("not a reference profile: format '" + name + "', expected '" +
                    std::string(kReferenceProfileFormat) + "'");
  }
  const auto version = r.scalar<std::uint32_t>("the format version");
  if (version == 0 || version > kReferenceProfileFormatVersion) {
    throw LoadError("reference profile has format version " + std::to_string(version) +
                    "; this build reads versions 1 to " +
                    std::to_string(kReferenceProfileFormatVersion));
  }
}

inline void check_flag(std::string_view payload) {
  if (payload.empty()) throw LoadError("reference profile is truncated: it ends after the magic");
  if (static_cast<unsigned char>(payload.front()) > 1) {
    throw corrupt("invalid byte-order flag " +
                  std::to_string(static_cast<unsigned char>(payload.front())));
  }
}

}  // namespace detail::drift_profile

SWITCHYARD_INLINE std::string ReferenceProfile::to_bytes() const {
  namespace dp = detail::drift_profile;
  std::ostringstream os(std::ios::binary);
  os.write(dp::kMagic.data(), dp::kMagic.size());
  {
    cereal::PortableBinaryOutputArchive ar(
        os, cereal::PortableBinaryOutputArchive::Options::LittleEndian());
    dp::save_string(ar, std::string(kReferenceProfileFormat));
    ar(kReferenceProfileFormatVersion);
    ar(rows, static_cast<std::uint64_t>(features.size()),
       static_cast<std::uint8_t>(prediction.has_value()));
    for (const auto& f : features) dp::save_feature(ar, f);
    if (prediction) dp::save_feature(ar, *prediction);
  }
  std::string bytes = std::move(os).str();
  if (bytes.size() + dp::kChecksumSize > kMaxReferenceProfileBytes) {
    throw InvalidArgument("reference profile needs " +
                          std::to_string(bytes.size() + dp::kChecksumSize) +
                          " bytes, over the limit of " +
                          std::to_string(kMaxReferenceProfileBytes) +
                          " (lower sample_capacity or max_categories)");
  }
  bytes += detail::sha256_raw(bytes);
  return bytes;
}

SWITCHYARD_INLINE ReferenceProfile ReferenceProfile::from_bytes(std::string_view bytes) {
  namespace dp = detail::drift_profile;
  const std::string_view magic(dp::kMagic.data(), dp::kMagic.size());
  if (bytes.size() < magic.size() || bytes.substr(0, magic.size()) != magic) {
    if (bytes.size() < magic.size() && magic.substr(0, bytes.size()) == bytes) {
      throw LoadError("reference profile is truncated: " + std::to_string(bytes.size()) +
                      " bytes, shorter than the header");
    }
    throw LoadError("not a reference profile: the first bytes are not its magic number");
  }
  if (bytes.size() > kMaxReferenceProfileBytes) {
    throw LoadError("reference profile has " + std::to_string(bytes.size()) +
                    " bytes, over the limit of " + std::to_string(kMaxReferenceProfileBytes));
  }
  try {
    std::string_view payload = bytes.substr(magic.size());
    dp::check_flag(payload);
    {
      dp::ProfileReader header(payload);
      dp::read_header(header);
    }
    if (bytes.size() < magic.size() + dp::kChecksumSize + 1) {
      throw LoadError("reference profile is truncated: no room for its checksum");
    }
    const std::string_view body = bytes.substr(0, bytes.size() - dp::kChecksumSize);
    if (detail::sha256_raw(body) != bytes.substr(body.size())) {
      throw IntegrityError("reference profile checksum mismatch: the bytes are corrupted or "
                           "truncated");
    }
    payload = body.substr(magic.size());
    dp::check_flag(payload);
    dp::ProfileReader r(payload);
    dp::read_header(r);
    ReferenceProfile p;
    p.rows = r.scalar<std::uint64_t>("the row count");
    const auto n = r.scalar<std::uint64_t>("the feature count");
    const auto has_prediction = r.scalar<std::uint8_t>("the prediction flag");
    if (n > kMaxProfileFeatures) {
      throw dp::corrupt(std::to_string(n) + " features (at most " +
                        std::to_string(kMaxProfileFeatures) + ")");
    }
    if (has_prediction > 1) {
      throw dp::corrupt("prediction flag " + std::to_string(has_prediction));
    }
    // Each feature takes at least 12 length and count fields of 8 bytes: a bound before reserve.
    r.need(n * 96, "the features");
    p.features.reserve(static_cast<std::size_t>(n));
    std::set<std::string, std::less<>> names;
    for (std::uint64_t i = 0; i < n; ++i) {
      p.features.push_back(dp::read_feature(r));
      if (!names.insert(p.features.back().name).second) {
        throw dp::corrupt(dp::feature_ref(p.features.back().name) + " appears twice");
      }
    }
    if (has_prediction) p.prediction = dp::read_feature(r);
    if (r.remaining() != 0) {
      throw dp::corrupt(std::to_string(r.remaining()) + " unexpected bytes after the profile");
    }
    return p;
  } catch (const cereal::Exception& e) {
    // Unreachable while the bounds above hold; kept so a parsing slip reports, not crashes.
    throw LoadError(std::string("reference profile could not be parsed: ") + e.what());
  }
}

// ---- registry ------------------------------------------------------------------------------------

SWITCHYARD_INLINE ArtifactRef put_reference_profile(RegistryStore& store,
                                                    const ReferenceProfile& profile) {
  const std::string bytes = profile.to_bytes();
  ArtifactRef ref;
  ref.format = std::string(kReferenceProfileFormat);
  ref.sha256 = detail::sha256_hex(bytes);
  ref.size = bytes.size();
  ref.uri = ArtifactRef::store_uri(ref.sha256);
  auto tx = store.begin();
  tx->put_artifact(ref.sha256, bytes);
  tx->commit();
  return ref;
}

SWITCHYARD_INLINE void attach_reference_profile(std::map<std::string, std::string>& tags,
                                                const ArtifactRef& ref) {
  if (!ref.in_store() || !detail::is_sha256_hex(ref.sha256) ||
      ref.uri != ArtifactRef::store_uri(ref.sha256)) {
    throw InvalidArgument("attach_reference_profile: '" + ref.uri +
                          "' is not a registry-store reference (use put_reference_profile)");
  }
  tags[std::string(kReferenceProfileTag)] = ref.uri;
}

SWITCHYARD_INLINE ReferenceProfile load_reference_profile(ModelRegistry& registry,
                                                          std::string_view model,
                                                          std::int64_t version) {
  const VersionRef v = registry.get(model, version);
  const std::string who = std::string(model) + " v" + std::to_string(version);
  const auto it = v->tags.find(std::string(kReferenceProfileTag));
  if (it == v->tags.end()) {
    throw NotFound(who + " has no reference profile (tag " + std::string(kReferenceProfileTag) +
                   ")");
  }
  const std::string prefix = ArtifactRef::store_uri("");
  const std::string_view uri = it->second;
  if (!uri.starts_with(prefix) || !detail::is_sha256_hex(uri.substr(prefix.size()))) {
    throw InvalidArgument(who + ": reference profile tag '" + std::string(uri) +
                          "' is not a store:sha256/<64 hex> reference");
  }
  const std::string sha(uri.substr(prefix.size()));
  std::optional<std::string> bytes = registry.store().read_artifact(sha);
  if (!bytes) {
    throw NotFound(who + ": reference profile " + sha + " is not in " +
                   registry.store().describe());
  }
  if (detail::sha256_hex(*bytes) != sha) {
    throw IntegrityError(who + ": reference profile " + sha + " in " +
                         registry.store().describe() + " does not match its SHA-256");
  }
  try {
    return ReferenceProfile::from_bytes(*bytes);
  } catch (const LoadError& e) {
    throw LoadError(who + ": " + e.what());
  }
}

}  // namespace switchyard
