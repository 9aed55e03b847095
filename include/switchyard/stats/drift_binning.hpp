// SPDX-License-Identifier: Apache-2.0
// Evidently's binning of a feature for drift statistics: Sturges histogram bins over reference and
// current, one bin per value for discrete features, and its empty-bin replacement.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <switchyard/core/error.hpp>
#include <switchyard/stats/result.hpp>
#include <vector>

namespace switchyard::stats {

/// A numeric reference sample with at most this many distinct finite values is binned one bin per
/// distinct value, as a category (Evidently's get_binned_data: `nunique() > 20` selects the
/// histogram).
inline constexpr std::size_t kEvidentlyMaxDiscreteValues = 20;

/// The proportion an empty bin takes before PSI or KL divergence, unless the smallest non-empty
/// proportion is at most this value; then an empty bin takes that proportion / 10^6 (Evidently's
/// get_binned_data, `feel_zeroes`).
inline constexpr double kEvidentlyEmptyBinProportion = 1e-4;

/// Proportions of the reference and the current sample in the same bins, as Evidently's
/// get_binned_data forms them, *before* its empty-bin replacement: proportion = count in the bin /
/// number of finite values in the sample (each side sums to 1).
///
/// Non-finite values (NaN, +-inf) are dropped first and counted, as Evidently's data-drift
/// calculation drops them (inf is replaced by NaN, then dropna()).
/// When status is not kOk every vector is empty and `reason` says why.
/// Thread-safe: a value type.
struct BinnedProportions {
  StatStatus status = StatStatus::kNotEnoughData;
  std::string reason;  ///< empty when ok
  /// True when the reference has at most kEvidentlyMaxDiscreteValues distinct values: one bin per
  /// value seen in either sample, listed in `values`. False: histogram bins with `edges`.
  bool discrete = false;
  std::vector<double> edges;      ///< histogram edges (bins + 1 of them); empty when discrete
  std::vector<double> values;     ///< the distinct values, ascending; empty unless discrete
  std::vector<double> reference;  ///< reference proportion per bin
  std::vector<double> current;    ///< current proportion per bin
  std::size_t reference_size = 0;     ///< finite reference values binned
  std::size_t current_size = 0;       ///< finite current values binned
  std::size_t reference_dropped = 0;  ///< non-finite reference values dropped
  std::size_t current_dropped = 0;    ///< non-finite current values dropped
  /// Discrete bins that hold current values but no reference value (a value the reference never
  /// had). Histogram bins always have reference coverage of their range, so this is 0 for them.
  std::size_t unexpected_values = 0;

  bool ok() const noexcept { return status == StatStatus::kOk; }
  std::size_t bins() const noexcept { return reference.size(); }
};

/// Histogram bin edges of numpy.histogram_bin_edges(values, bins="sturges") (numpy 1.24), which
/// Evidently applies to reference and current concatenated: width = (max - min) / (log2(n) + 1),
/// ceil((max - min) / width) equal bins, edges min + i * step with the last edge exactly max; a
/// constant sample gets one bin [v - 0.5, v + 0.5].
/// Throws InvalidArgument when `values` is empty or holds a non-finite value.
inline std::vector<double> sturges_bin_edges(std::span<const double> values) {
  if (values.empty()) throw InvalidArgument("sturges_bin_edges: values is empty");
  if (!detail::all_finite(values.data(), values.size())) {
    throw InvalidArgument("sturges_bin_edges: values holds a NaN or infinite value");
  }
  const auto [lo_it, hi_it] = std::minmax_element(values.begin(), values.end());
  double first = *lo_it;
  double last = *hi_it;
  std::size_t bins = 1;
  if (first == last) {
    first -= 0.5;
    last += 0.5;
  } else {
    const double width = (last - first) / (std::log2(static_cast<double>(values.size())) + 1.0);
    bins = static_cast<std::size_t>(std::ceil((last - first) / width));
  }
  // numpy.linspace(first, last, bins + 1): start + i * step, the endpoint set exactly.
  std::vector<double> edges(bins + 1);
  const double step = (last - first) / static_cast<double>(bins);
  for (std::size_t i = 0; i < bins; ++i) edges[i] = static_cast<double>(i) * step + first;
  edges[bins] = last;
  return edges;
}

/// Counts of numpy.histogram(values, edges): bin i holds edges[i] <= x < edges[i + 1], the last
/// bin also its right edge; values outside [edges.front(), edges.back()] and NaN are not counted.
/// Throws InvalidArgument when `edges` has fewer than 2 entries.
inline std::vector<std::size_t> histogram_counts(std::span<const double> values,
                                                 std::span<const double> edges) {
  if (edges.size() < 2) throw InvalidArgument("histogram_counts: edges needs at least 2 entries");
  std::vector<std::size_t> counts(edges.size() - 1, 0);
  for (double x : values) {
    if (!(x >= edges.front() && x <= edges.back())) continue;
    auto it = std::upper_bound(edges.begin(), edges.end(), x);
    std::size_t bin = static_cast<std::size_t>(it - edges.begin()) - 1;
    if (bin == counts.size()) --bin;  // x == last edge: the last bin is closed
    ++counts[bin];
  }
  return counts;
}

/// Evidently's empty-bin replacement, in place: every 0 becomes kEvidentlyEmptyBinProportion, or
/// min(non-zero) / 10^6 when the smallest non-zero proportion is at most that. A span without a
/// non-zero entry is left unchanged (Evidently fails there; the statistics report kNotEnoughData
/// before they get here).
inline void fill_empty_bins(std::span<double> proportions) noexcept {
  double smallest = detail::kInf;
  for (double p : proportions) {
    if (p != 0.0 && p < smallest) smallest = p;
  }
  if (smallest == detail::kInf) return;
  const double fill =
      smallest <= kEvidentlyEmptyBinProportion ? smallest / 1e6 : kEvidentlyEmptyBinProportion;
  for (double& p : proportions) {
    if (p == 0.0) p = fill;
  }
}

namespace detail {

inline std::vector<double> finite_values(std::span<const double> xs, std::size_t& dropped) {
  std::vector<double> out;
  out.reserve(xs.size());
  for (double x : xs) {
    if (std::isfinite(x)) out.push_back(x);
  }
  dropped = xs.size() - out.size();
  return out;
}

inline std::size_t count_distinct_sorted(const std::vector<double>& sorted) {
  if (sorted.empty()) return 0;
  std::size_t n = 1;
  for (std::size_t i = 1; i < sorted.size(); ++i) n += sorted[i] != sorted[i - 1];
  return n;
}

inline void bin_discrete(BinnedProportions& b, const std::vector<double>& ref,
                         const std::vector<double>& cur) {
  b.discrete = true;
  b.values = ref;
  b.values.insert(b.values.end(), cur.begin(), cur.end());
  std::sort(b.values.begin(), b.values.end());
  b.values.erase(std::unique(b.values.begin(), b.values.end()), b.values.end());
  b.reference.assign(b.values.size(), 0.0);
  b.current.assign(b.values.size(), 0.0);
  auto index = [&](double x) {
    return static_cast<std::size_t>(std::lower_bound(b.values.begin(), b.values.end(), x) -
                                    b.values.begin());
  };
  for (double x : ref) b.reference[index(x)] += 1.0;
  for (double x : cur) b.current[index(x)] += 1.0;
  for (std::size_t i = 0; i < b.values.size(); ++i) {
    b.unexpected_values += b.reference[i] == 0.0 && b.current[i] > 0.0;
  }
}

inline void bin_histogram(BinnedProportions& b, const std::vector<double>& ref,
                          const std::vector<double>& cur) {
  std::vector<double> combined = ref;
  combined.insert(combined.end(), cur.begin(), cur.end());
  b.edges = sturges_bin_edges(combined);
  const auto rc = histogram_counts(ref, b.edges);
  const auto cc = histogram_counts(cur, b.edges);
  b.reference.assign(rc.begin(), rc.end());
  b.current.assign(cc.begin(), cc.end());
}

}  // namespace detail

/// Bins a numeric feature's reference and current samples as Evidently's get_binned_data does for
/// PSI, KL divergence and Jensen-Shannon distance (Evidently 0.7, legacy stattests/utils.py):
/// non-finite values dropped; a reference with more than kEvidentlyMaxDiscreteValues distinct
/// values is binned by numpy's Sturges histogram over both samples together, otherwise one bin per
/// distinct value of either sample. Proportions are counts / sample size, without the empty-bin
/// replacement (the statistics apply it as Evidently does: PSI and KL yes, Jensen-Shannon no).
///
/// Degenerate input: no finite reference or no finite current value -> kNotEnoughData (an
/// all-NaN column lands here). A single-valued reference is a discrete feature with one value.
/// Never throws.
inline BinnedProportions evidently_bin(std::span<const double> reference,
                                       std::span<const double> current) {
  BinnedProportions b;
  std::vector<double> ref = detail::finite_values(reference, b.reference_dropped);
  std::vector<double> cur = detail::finite_values(current, b.current_dropped);
  if (ref.empty() || cur.empty()) {
    b.status = StatStatus::kNotEnoughData;
    b.reason = ref.empty() ? "reference has no finite value" : "current has no finite value";
    return b;
  }
  b.reference_size = ref.size();
  b.current_size = cur.size();
  std::vector<double> sorted_ref = ref;
  std::sort(sorted_ref.begin(), sorted_ref.end());
  if (detail::count_distinct_sorted(sorted_ref) > kEvidentlyMaxDiscreteValues) {
    detail::bin_histogram(b, ref, cur);
  } else {
    detail::bin_discrete(b, ref, cur);
  }
  for (double& p : b.reference) p /= static_cast<double>(ref.size());
  for (double& p : b.current) p /= static_cast<double>(cur.size());
  b.status = StatStatus::kOk;
  return b;
}

}  // namespace switchyard::stats
